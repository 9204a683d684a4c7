/**
 * Every bad input gets its documented status and error code, and nothing is served or charged:
 * the answer has no completion, and the stream's cumulative receipt does not move.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { PAYMENT_HEADERS, authorizeSessionKey, computeRegistryAbi, streamPayAbi } from "@clawcompute/sdk";
import { type AgentHandle, type ChainContext, Consumer, chainContext, chatBody, fundedWallet, providerIdOf, removeDir, startAgent, walletClient } from "./helpers.ts";

const MODEL = "gate-test-model";
const PRICE = 1_000_000_000n;
const MIN_DEPOSIT_SECONDS = 2n;

describe("the payment gate refuses every bad input", () => {
  let ctx: ChainContext;
  let agent: AgentHandle;
  let other: AgentHandle;
  let consumer: Consumer;
  let providerId: bigint;
  let providerKey: `0x${string}`;
  let streamId: bigint; // the stream every refused request targets: it must end up charged nothing
  let chat: string;

  const now = () => BigInt(Math.floor(Date.now() / 1000));

  /** Posts and checks status, error code, and that no completion came back. */
  async function expectRefused(res: Response, status: number, code: string) {
    const text = await res.text();
    expect(res.status, text).toBe(status);
    const json = JSON.parse(text);
    expect(json.error.code).toBe(code);
    expect(typeof json.error.message).toBe("string");
    expect(json.choices).toBeUndefined();
    expect(json.output).toBeUndefined();
    return json;
  }

  beforeAll(async () => {
    ctx = chainContext();
    const provider = await fundedWallet(ctx);
    providerKey = provider.key;
    consumer = new Consumer(ctx, (await fundedWallet(ctx)).account);
    const otherProvider = await fundedWallet(ctx);
    [agent, other] = await Promise.all([
      startAgent(ctx, {
        PROVIDER_PRIVATE_KEY: provider.key,
        PROVIDER_MODEL: MODEL,
        PROVIDER_PRICE_PER_SECOND: PRICE.toString(),
        PROVIDER_MAX_BODY_BYTES: "2048",
        PROVIDER_MIN_DEPOSIT_SECONDS: MIN_DEPOSIT_SECONDS.toString(),
        PROVIDER_MAX_CONCURRENT_PER_STREAM: "1",
        PROVIDER_ECHO_TOKENS_PER_SECOND: "20",
        PROVIDER_ECHO_MAX_TOKENS: "6",
      }),
      startAgent(ctx, { PROVIDER_PRIVATE_KEY: otherProvider.key, PROVIDER_MODEL: "gate-other-model", PROVIDER_PRICE_PER_SECOND: PRICE.toString() }),
    ]);
    providerId = await providerIdOf(ctx, provider.account.address, MODEL);
    streamId = await consumer.openStream(providerId, PRICE * 3600n);
    chat = `${agent.url}/v1/chat/completions`;
  });

  afterAll(async () => {
    await Promise.all([agent?.stop(), other?.stop()]);
    for (const a of [agent, other]) if (a) removeDir(a.dataDir);
  });

  it("malformed JSON → 400 invalid_json", async () => {
    await expectRefused(await consumer.post(chat, streamId, "{not json"), 400, "invalid_json");
  });

  it("a body over the limit → 413 body_too_large", async () => {
    await expectRefused(await consumer.post(chat, streamId, chatBody(MODEL, "x".repeat(5000))), 413, "body_too_large");
  });

  it("an unknown model → 404 model_not_found", async () => {
    await expectRefused(await consumer.post(chat, streamId, chatBody("no-such-model")), 404, "model_not_found");
  });

  it("invalid request fields → 400 invalid_request", async () => {
    await expectRefused(await consumer.post(chat, streamId, { model: MODEL, messages: [] }), 400, "invalid_request");
    await expectRefused(await consumer.post(`${agent.url}/inference`, streamId, { model: MODEL }), 400, "invalid_request");
  });

  it("no payment → 402 with how to pay", async () => {
    const json = await expectRefused(await consumer.post(chat, undefined, chatBody(MODEL)), 402, "payment_required");
    expect(json.payment).toEqual({
      chainId: 31337,
      streamPay: ctx.deployment.contracts.StreamPay.address,
      providerId: providerId.toString(),
      recipient: privateKeyToAccount(providerKey).address,
      asset: "0x0000000000000000000000000000000000000000",
      pricePerSecond: PRICE.toString(),
      minDeposit: (PRICE * MIN_DEPOSIT_SECONDS).toString(),
      headers: PAYMENT_HEADERS,
    });
  });

  it("a malformed payment header → 402 invalid_payment_header", async () => {
    const body = JSON.stringify(chatBody(MODEL));
    const headers = { ...(await consumer.headers(streamId, body)), [PAYMENT_HEADERS.nonce]: "abc", "content-type": "application/json" };
    const json = await expectRefused(await fetch(chat, { method: "POST", headers, body }), 402, "invalid_payment_header");
    expect(json.error.message).toContain(PAYMENT_HEADERS.nonce);
  });

  it("an unknown stream → 402 unknown_stream", async () => {
    await expectRefused(await consumer.post(chat, 987654321n, chatBody(MODEL)), 402, "unknown_stream");
  });

  it("a stream that pays another provider → 402 wrong_recipient", async () => {
    const otherId = BigInt((await (await fetch(`${other.url}/healthz`)).json()).providerId);
    const foreign = await consumer.openStream(otherId, PRICE * 60n);
    const json = await expectRefused(await consumer.post(chat, foreign, chatBody(MODEL)), 402, "wrong_recipient");
    expect(json.payment.providerId).toBe(providerId.toString());
  });

  it("a forged signature (another key) → 402 invalid_signature", async () => {
    const thief = privateKeyToAccount(generatePrivateKey());
    await expectRefused(await consumer.post(chat, streamId, chatBody(MODEL), { signer: thief }), 402, "invalid_signature");
  });

  it("a signature over a different body → 402 invalid_signature", async () => {
    const headers = { ...(await consumer.headers(streamId, JSON.stringify(chatBody(MODEL, "cheap")))), "content-type": "application/json" };
    await expectRefused(await fetch(chat, { method: "POST", headers, body: JSON.stringify(chatBody(MODEL, "expensive")) }), 402, "invalid_signature");
  });

  it("an expired signature → 402 signature_expired; one expiring too far ahead → 402 expiry_too_far", async () => {
    await expectRefused(await consumer.post(chat, streamId, chatBody(MODEL), { expiry: now() - 5n }), 402, "signature_expired");
    await expectRefused(await consumer.post(chat, streamId, chatBody(MODEL), { expiry: now() + 100_000n }), 402, "expiry_too_far");
  });

  it("a replayed nonce → 409 nonce_replayed (the first use is served)", async () => {
    const body = JSON.stringify(chatBody(MODEL, "once"));
    const replayStream = await consumer.openStream(providerId, PRICE * 60n);
    const headers = { ...(await consumer.headers(replayStream, body)), "content-type": "application/json" };
    const first = await fetch(chat, { method: "POST", headers, body });
    expect(first.status).toBe(200);
    const charged = (await first.json()).claw_receipt.amount;
    await expectRefused(await fetch(chat, { method: "POST", headers, body }), 409, "nonce_replayed");
    const latest = await fetch(`${agent.url}/v1/receipts/latest`, { headers: await consumer.headers(replayStream, "") });
    expect((await latest.json()).receipt.amount).toBe(charged); // the replay added nothing
  });

  it("an unauthorised session key → 402 session_key_unauthorized; an expired one → 402 session_key_expired", async () => {
    const key = privateKeyToAccount(generatePrivateKey());
    const stranger = privateKeyToAccount(generatePrivateKey());
    const bogus = await authorizeSessionKey(stranger, ctx.domain, streamId, key.address, now() + 3600n);
    await expectRefused(await consumer.post(chat, streamId, chatBody(MODEL), { signer: key, session: bogus }), 402, "session_key_unauthorized");
    // Authorised for another stream: not valid here either.
    const elsewhere = await authorizeSessionKey(consumer.account, ctx.domain, streamId + 1000n, key.address, now() + 3600n);
    await expectRefused(await consumer.post(chat, streamId, chatBody(MODEL), { signer: key, session: { ...elsewhere } }), 402, "session_key_unauthorized");
    const expired = await authorizeSessionKey(consumer.account, ctx.domain, streamId, key.address, now() - 1n);
    await expectRefused(await consumer.post(chat, streamId, chatBody(MODEL), { signer: key, session: expired }), 402, "session_key_expired");
    // A valid authorisation, but the request signed by someone else than the key.
    const good = await authorizeSessionKey(consumer.account, ctx.domain, streamId, key.address, now() + 3600n);
    await expectRefused(await consumer.post(chat, streamId, chatBody(MODEL), { signer: stranger, session: good }), 402, "invalid_signature");
  });

  it("a deposit below the minimum → 402 deposit_too_small", async () => {
    const small = await consumer.openStream(providerId, PRICE * (MIN_DEPOSIT_SECONDS - 1n));
    await expectRefused(await consumer.post(chat, small, chatBody(MODEL)), 402, "deposit_too_small");
  });

  it("a stream past its stop time → 402 no_runway", async () => {
    const short = await consumer.openStream(providerId, PRICE * MIN_DEPOSIT_SECONDS); // stops 2 s after it starts
    await new Promise((r) => setTimeout(r, 2100));
    const json = await expectRefused(await consumer.post(chat, short, chatBody(MODEL)), 402, "no_runway");
    expect(json.payment.providerId).toBe(providerId.toString());
  });

  it("a stream its sender cancelled (cancelling on-chain) → 402 stream_closed", async () => {
    const doomed = await consumer.openStream(providerId, PRICE * 60n);
    const hash = await consumer.wallet.writeContract({ address: ctx.deployment.contracts.StreamPay.address, abi: streamPayAbi, functionName: "cancelStream", args: [doomed] });
    await ctx.publicClient.waitForTransactionReceipt({ hash });
    await new Promise((r) => setTimeout(r, 400)); // the agent sees the event within its poll interval
    await expectRefused(await consumer.post(chat, doomed, chatBody(MODEL)), 402, "stream_closed");
  });

  it("too many concurrent requests on one stream → 429", async () => {
    const busy = await consumer.openStream(providerId, PRICE * 60n);
    const slow = consumer.post(chat, busy, chatBody(MODEL, "a slow answer please", { stream: true })); // 6 tokens at 20/s
    await new Promise((r) => setTimeout(r, 100));
    await expectRefused(await consumer.post(chat, busy, chatBody(MODEL)), 429, "too_many_concurrent_requests");
    const first = await slow;
    expect(first.status).toBe(200);
    expect(await first.text()).toContain("[DONE]");
  });

  it("wrong method and unknown route → 405 / 404", async () => {
    await expectRefused(await fetch(chat), 405, "method_not_allowed");
    await expectRefused(await fetch(`${agent.url}/v2/nothing`), 404, "not_found");
  });

  it("none of the refused requests was charged", async () => {
    const latest = await fetch(`${agent.url}/v1/receipts/latest`, { headers: await consumer.headers(streamId, "") });
    expect(latest.status).toBe(200);
    expect((await latest.json()).receipt.amount).toBe("0");
  });

  it("a stream paying less than the current price → 402 rate_too_low (after a price rise on-chain)", async () => {
    const cheap = await consumer.openStream(providerId, PRICE * 60n);
    const owner = walletClient(ctx, privateKeyToAccount(providerKey));
    const registry = ctx.deployment.contracts.ComputeRegistry.address;
    const current = await ctx.publicClient.readContract({ address: registry, abi: computeRegistryAbi, functionName: "getProvider", args: [providerId] });
    const hash = await owner.writeContract({ address: registry, abi: computeRegistryAbi, functionName: "updateProvider", args: [providerId, PRICE * 2n, current.endpoint, true] });
    await ctx.publicClient.waitForTransactionReceipt({ hash });
    await new Promise((r) => setTimeout(r, 400));
    const json = await expectRefused(await consumer.post(chat, cheap, chatBody(MODEL)), 402, "rate_too_low");
    expect(json.payment.pricePerSecond).toBe((PRICE * 2n).toString()); // the 402 tells the new price
  });
});
