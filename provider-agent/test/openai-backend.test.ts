/**
 * The `openai` backend against a local server speaking the OpenAI protocol: answers stream through the
 * gate with the API key, backend model name and the provider's bound on tokens; a backend that fails
 * (at once or mid-stream) gets the client a 502 (or an SSE error event once streaming began) and is not
 * charged.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import OpenAI from "openai";
import { type AgentHandle, type ChainContext, Consumer, chainContext, chatBody, fundedWallet, providerIdOf, removeDir, startAgent } from "./helpers.ts";
import { type FakeOpenAI, startFakeOpenAI } from "./fake-openai.ts";

const MODEL = "openai-backed-model";
const PRICE = 1_000_000_000n;

describe("openai-compatible backend", () => {
  let ctx: ChainContext;
  let fake: FakeOpenAI;
  let agent: AgentHandle;
  let consumer: Consumer;
  let streamId: bigint;

  const latest = async () => {
    const res = await fetch(`${agent.url}/v1/receipts/latest`, { headers: await consumer.headers(streamId, "") });
    return BigInt((await res.json()).receipt.amount);
  };

  beforeAll(async () => {
    ctx = chainContext();
    fake = await startFakeOpenAI({ delayMs: 20 });
    const provider = await fundedWallet(ctx);
    consumer = new Consumer(ctx, (await fundedWallet(ctx)).account);
    agent = await startAgent(ctx, {
      PROVIDER_PRIVATE_KEY: provider.key,
      PROVIDER_MODEL: MODEL,
      PROVIDER_PRICE_PER_SECOND: PRICE.toString(),
      PROVIDER_BACKEND: "openai",
      PROVIDER_OPENAI_BASE_URL: fake.url,
      PROVIDER_OPENAI_API_KEY: "sk-test-secret-123",
      PROVIDER_BACKEND_MODEL: "backend-model",
    });
    const providerId = await providerIdOf(ctx, provider.account.address, MODEL);
    streamId = await consumer.openStream(providerId, PRICE * 600n);
  });

  afterAll(async () => {
    await agent?.stop();
    await fake?.close();
    if (agent) {
      // The API key never reaches the logs.
      expect(agent.process.output()).not.toContain("sk-test-secret-123");
      removeDir(agent.dataDir);
    }
  });

  it("streams the backend's answer to the official client, with key and backend model passed on", async () => {
    const params = { model: MODEL, stream: true as const, temperature: 0.2, messages: [{ role: "user" as const, content: "hi" }] };
    const client = new OpenAI({ baseURL: `${agent.url}/v1`, apiKey: "unused" });
    const stream = await client.chat.completions.create(params, { headers: await consumer.headers(streamId, JSON.stringify(params)) });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
    expect(text).toBe("Hello from the fake backend.");
    const seen = fake.requests.at(-1)!;
    expect(seen.headers.authorization).toBe("Bearer sk-test-secret-123");
    // No max_tokens asked: the provider's bound (PROVIDER_MAX_TOKENS, default 4096) is sent.
    expect(seen.body).toMatchObject({ model: "backend-model", stream: true, temperature: 0.2, max_tokens: 4096 });
    expect(await latest()).toBeGreaterThan(0n);
  });

  it("a request's max_tokens is passed on, lowered to PROVIDER_MAX_TOKENS when above it", async () => {
    for (const [asked, sent] of [[7, 7], [1_000_000, 4096]]) {
      const body = chatBody(MODEL, "bounded", { max_tokens: asked });
      const res = await consumer.post(`${agent.url}/v1/chat/completions`, streamId, body);
      expect(res.status).toBe(200);
      expect(fake.requests.at(-1)!.body.max_tokens).toBe(sent);
    }
  });

  it("non-streamed answers are collected from the backend stream", async () => {
    const res = await consumer.post(`${agent.url}/v1/chat/completions`, streamId, chatBody(MODEL, "hello"));
    expect(res.status).toBe(200);
    const json = await res.json();
    expect(json.choices[0].message.content).toBe("Hello from the fake backend.");
    expect(json.choices[0].finish_reason).toBe("stop");
  });

  it("a backend that fails at once → 502 backend_error, nothing charged", async () => {
    const before = await latest();
    const res = await consumer.post(`${agent.url}/v1/chat/completions`, streamId, chatBody(MODEL, "FAIL_NOW"));
    expect(res.status).toBe(502);
    const json = await res.json();
    expect(json.error.code).toBe("backend_error");
    expect(json.error.message).toContain("500");
    expect(await latest()).toBe(before);
  });

  it("a backend that fails mid-stream → 502 (non-streamed) and nothing charged", async () => {
    const before = await latest();
    const res = await consumer.post(`${agent.url}/v1/chat/completions`, streamId, chatBody(MODEL, "FAIL_MID"));
    expect(res.status).toBe(502);
    expect((await res.json()).error.code).toBe("backend_error");
    expect(await latest()).toBe(before);
  });

  it("a backend that fails mid-stream while streaming → an SSE error event the client raises, nothing charged", async () => {
    const before = await latest();
    const params = { model: MODEL, stream: true as const, messages: [{ role: "user" as const, content: "FAIL_MID please" }] };
    const client = new OpenAI({ baseURL: `${agent.url}/v1`, apiKey: "unused", maxRetries: 0 });
    const stream = await client.chat.completions.create(params, { headers: await consumer.headers(streamId, JSON.stringify(params)) });
    let text = "";
    await expect(
      (async () => {
        for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
      })(),
    ).rejects.toThrow(/backend/);
    expect(text).toBe("Hello from"); // what arrived before the failure
    expect(await latest()).toBe(before);
  });
});
