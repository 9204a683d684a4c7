/**
 * The paid path end to end against a real chain, contracts and agent process: the official `openai`
 * client gets a streamed and a non-streamed answer with the SDK's payment headers; receipts are signed by
 * the provider, cumulative, and a final one closes the stream on-chain paying exactly its amount.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import OpenAI from "openai";
import { type Hex, zeroAddress } from "viem";
import { RECEIPT_HEADER, type WireReceipt, chargeForMs, paymentFetch, recoverReceiptSigner } from "@clawcompute/sdk";
import { type AgentHandle, type ChainContext, Consumer, chainContext, chatBody, claimable, fundedWallet, providerIdOf, removeDir, startAgent, streamView } from "./helpers.ts";

const MODEL = "serve-test-model";
const PRICE = 1_000_000_000n; // wei per second

describe("serving paid inference", () => {
  let ctx: ChainContext;
  let agent: AgentHandle;
  let consumer: Consumer;
  let providerId: bigint;
  let providerAddress: `0x${string}`;

  beforeAll(async () => {
    ctx = chainContext();
    const provider = await fundedWallet(ctx);
    providerAddress = provider.account.address;
    consumer = new Consumer(ctx, (await fundedWallet(ctx)).account);
    agent = await startAgent(ctx, {
      PROVIDER_PRIVATE_KEY: provider.key,
      PROVIDER_MODEL: MODEL,
      PROVIDER_PRICE_PER_SECOND: PRICE.toString(),
      PROVIDER_ECHO_TOKENS_PER_SECOND: "200",
    });
    providerId = await providerIdOf(ctx, providerAddress, MODEL);
  });

  afterAll(async () => {
    await agent?.stop();
    if (agent) removeDir(agent.dataDir);
  });

  it("registers on start and answers /healthz, /v1/models and /v1/payment", async () => {
    expect(providerId).toBeGreaterThan(0n);
    const health = await (await fetch(`${agent.url}/healthz`)).json();
    expect(health).toMatchObject({ status: "ok", providerId: providerId.toString(), model: MODEL, backend: "echo" });
    const models = await (await fetch(`${agent.url}/v1/models`)).json();
    expect(models.data.map((m: { id: string }) => m.id)).toEqual([MODEL]);
    const { payment } = await (await fetch(`${agent.url}/v1/payment`)).json();
    expect(payment).toMatchObject({ chainId: 31337, streamPay: ctx.deployment.contracts.StreamPay.address, providerId: providerId.toString(), recipient: providerAddress, asset: zeroAddress, pricePerSecond: PRICE.toString(), minDeposit: (PRICE * 10n).toString() });
  });

  it("the official openai client streams an answer, with a signed cumulative receipt on the last chunk", async () => {
    const streamId = await consumer.openStream(providerId, PRICE * 600n);
    // The SDK's paymentFetch signs the exact body the client sends, per request, with a voucher for what
    // was accepted so far.
    const client = new OpenAI({
      baseURL: `${agent.url}/v1`,
      apiKey: "unused",
      fetch: paymentFetch({
        signer: consumer.account,
        domain: ctx.domain,
        streamId,
        cumulative: () => consumer.acceptedOn(streamId),
      }),
    });
    const stream = await client.chat.completions.create({ model: MODEL, stream: true, messages: [{ role: "user", content: "Say something nice" }] });
    let text = "";
    let last: (typeof stream extends AsyncIterable<infer C> ? C : never) | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? "";
      last = chunk;
    }
    expect(text).toContain("Echo: Say something nice");
    expect(last!.choices[0].finish_reason).toBe("stop");
    const receipt = (last as unknown as { claw_receipt: WireReceipt }).claw_receipt;
    expect(receipt.streamId).toBe(streamId.toString());
    expect(receipt.final).toBe(false);
    expect(BigInt(receipt.amount)).toBeGreaterThan(0n);
    expect(await recoverReceiptSigner(ctx.domain, { streamId, amount: BigInt(receipt.amount), final: false }, receipt.signature)).toBe(providerAddress);
    consumer.accept(streamId, receipt.amount);

    // Non-streamed, with per-request headers: the client sends JSON.stringify(params), so sign exactly that.
    const params = { model: MODEL, messages: [{ role: "user" as const, content: "second question" }] };
    const plain = new OpenAI({ baseURL: `${agent.url}/v1`, apiKey: "unused" });
    const { data, response } = await plain.chat.completions
      .create(params, { headers: await consumer.headers(streamId, JSON.stringify(params)) })
      .withResponse();
    expect(data.choices[0].message.content).toContain("Echo: second question");
    const header = JSON.parse(response.headers.get(RECEIPT_HEADER)!) as WireReceipt;
    expect(BigInt(header.amount)).toBeGreaterThanOrEqual(BigInt(receipt.amount)); // cumulative
  });

  it("POST /inference {prompt, model} answers with output, billing and a receipt", async () => {
    const streamId = await consumer.openStream(providerId, PRICE * 600n);
    const res = await consumer.post(`${agent.url}/inference`, streamId, { prompt: "original api", model: MODEL });
    expect(res.status).toBe(200);
    const json = await res.json();
    expect(json.output).toContain("Echo: original api");
    expect(json.finish_reason).toBe("stop");
    const header = JSON.parse(res.headers.get(RECEIPT_HEADER)!) as WireReceipt;
    expect(header).toEqual(json.claw_receipt);
    // amount = price x measured serving time (ms precision)
    expect(BigInt(json.claw_billing.charged)).toBe(chargeForMs(PRICE, Math.floor(json.claw_billing.served_ms)));
    expect(header.amount).toBe(json.claw_billing.cumulative);
  });

  it("a final receipt ends the stream; closing with it on-chain pays exactly its amount", async () => {
    const deposit = PRICE * 600n;
    const streamId = await consumer.openStream(providerId, deposit);
    const opened = Date.now();
    let cumulative = 0n;
    for (const prompt of ["one", "two", "three"]) {
      const res = await consumer.post(`${agent.url}/v1/chat/completions`, streamId, chatBody(MODEL, prompt));
      expect(res.status).toBe(200);
      const json = await res.json();
      expect(BigInt(json.claw_receipt.amount)).toBe(cumulative + BigInt(json.claw_billing.charged));
      cumulative = BigInt(json.claw_receipt.amount);
      consumer.accept(streamId, cumulative); // the next request's voucher is this receipt
    }
    // The latest receipt (payment headers over an empty body).
    const latest = await fetch(`${agent.url}/v1/receipts/latest`, { headers: await consumer.headers(streamId, "") });
    expect(latest.status).toBe(200);
    expect((await latest.json()).receipt).toMatchObject({ amount: cumulative.toString(), final: false });

    const finalRes = await consumer.post(`${agent.url}/v1/receipts/final`, streamId, "");
    expect(finalRes.status).toBe(200);
    const { receipt } = (await finalRes.json()) as { receipt: WireReceipt };
    expect(receipt).toMatchObject({ streamId: streamId.toString(), amount: cumulative.toString(), final: true });
    expect(await recoverReceiptSigner(ctx.domain, { streamId, amount: cumulative, final: true }, receipt.signature)).toBe(providerAddress);
    // Asking again returns the same final receipt; serving is refused from now on.
    const again = await consumer.post(`${agent.url}/v1/receipts/final`, streamId, "");
    expect((await again.json()).receipt).toEqual(receipt);
    const refused = await consumer.post(`${agent.url}/v1/chat/completions`, streamId, chatBody(MODEL, "more?"));
    expect(refused.status).toBe(402);
    const refusedBody = await refused.json();
    expect(refusedBody.error.code).toBe("stream_finalized");
    expect(refusedBody.choices).toBeUndefined();

    // Let at least the receipt's amount stream by time, then close on-chain with it.
    const wait = Number((cumulative * 1000n) / PRICE) + 1100 - (Date.now() - opened);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const before = await claimable(ctx, providerAddress);
    const tx = await consumer.closeWithReceipt(streamId, cumulative, receipt.signature as Hex);
    expect(tx.status).toBe("success");
    const view = await streamView(ctx, streamId);
    expect(view.status).toBe(4); // Closed
    expect(view.withdrawn).toBe(cumulative); // the provider got exactly the receipt
    expect(view.refunded).toBe(deposit - cumulative); // the consumer got the rest back
    expect((await claimable(ctx, providerAddress)) - before).toBe(cumulative);
  });

  it("serves requests signed by an authorised session key", async () => {
    const { authorizeSessionKey } = await import("@clawcompute/sdk");
    const { privateKeyToAccount, generatePrivateKey } = await import("viem/accounts");
    const streamId = await consumer.openStream(providerId, PRICE * 600n);
    const sessionKey = privateKeyToAccount(generatePrivateKey());
    const session = await authorizeSessionKey(consumer.account, ctx.domain, streamId, sessionKey.address, BigInt(Math.floor(Date.now() / 1000) + 3600));
    for (const prompt of ["from the browser", "and again"]) {
      const res = await consumer.post(`${agent.url}/v1/chat/completions`, streamId, chatBody(MODEL, prompt), { signer: sessionKey, session });
      expect(res.status).toBe(200);
      expect((await res.json()).choices[0].message.content).toContain(prompt);
    }
  });

  it("exposes Prometheus metrics and answers CORS preflights for the browser dApp", async () => {
    const metrics = await (await fetch(`${agent.url}/metrics`)).text();
    expect(Number(/claw_provider_charged_units_total (\d+)/.exec(metrics)?.[1])).toBeGreaterThan(0);
    expect(metrics).toMatch(/claw_provider_http_requests_total\{route="chat",status="200"\} \d+/);
    expect(metrics).toMatch(/claw_provider_gate_refusals_total\{code="stream_finalized"\} 1/);
    const preflight = await fetch(`${agent.url}/v1/chat/completions`, { method: "OPTIONS", headers: { origin: "http://localhost:3000", "access-control-request-method": "POST" } });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe("*");
    expect(preflight.headers.get("access-control-allow-headers")).toContain("x-claw-signature");
    expect(preflight.headers.get("access-control-allow-headers")).toContain("x-claw-session-signature");
  });
});

