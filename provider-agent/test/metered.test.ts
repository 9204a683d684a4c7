/**
 * The gate never serves more than the stream can pay, end to end (real chain, contracts and agent):
 * - 50 parallel requests on one stream with a 10-second deposit: the first version served them all in a
 *   fraction of a second and billed the whole deposit, though closing at once paid it nothing (nothing had
 *   streamed by chain time). Now what is billed stays within what the provider can collect on-chain with
 *   its best voucher plus one request of credit, and the rest is refused with the numbers;
 * - sequential requests keep working when each carries a voucher for the last receipt;
 * - a voucher lagging by more than the credit is refused (voucher_behind), with the latest receipt;
 * - one request is cut off at its reservation (the credit: price x PROVIDER_MAX_REQUEST_SECONDS).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { zeroAddress } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { RECEIPT_HEADER, type WireReceipt, namedSessionKey, streamPayAbi } from "@clawcompute/sdk";
import {
  type AgentHandle,
  type ChainContext,
  Consumer,
  chainContext,
  chatBody,
  fundedWallet,
  providerIdOf,
  readSSE,
  removeDir,
  startAgent,
  streamView,
} from "./helpers.ts";

const MODEL = "metered-model";
const PRICE = 1_000_000_000n;
const MAX_REQUEST_SECONDS = 2n;
const CREDIT = PRICE * MAX_REQUEST_SECONDS;

describe("metered serving", () => {
  let ctx: ChainContext;
  let agent: AgentHandle;
  let consumer: Consumer;
  let providerId: bigint;
  let chat: string;

  beforeAll(async () => {
    ctx = chainContext();
    const provider = await fundedWallet(ctx);
    consumer = new Consumer(ctx, (await fundedWallet(ctx)).account);
    agent = await startAgent(ctx, {
      PROVIDER_PRIVATE_KEY: provider.key,
      PROVIDER_MODEL: MODEL,
      PROVIDER_PRICE_PER_SECOND: PRICE.toString(),
      PROVIDER_ECHO_TOKENS_PER_SECOND: "20", // 10 tokens = 0.5 s
      PROVIDER_ECHO_MAX_TOKENS: "1000",
      PROVIDER_MAX_REQUEST_SECONDS: MAX_REQUEST_SECONDS.toString(),
      PROVIDER_MIN_RUNWAY_MS: "200",
      PROVIDER_MIN_DEPOSIT_SECONDS: "1",
      PROVIDER_MAX_CONCURRENT: "128",
      PROVIDER_MAX_CONCURRENT_PER_STREAM: "64",
    });
    providerId = await providerIdOf(ctx, provider.account.address, MODEL);
    chat = `${agent.url}/v1/chat/completions`;
  });

  afterAll(async () => {
    await agent?.stop();
    if (agent) removeDir(agent.dataDir);
  });

  /**
   * What the provider could collect on-chain now with a voucher for `cumulative`, in all. Read at the
   * pending block: the latest one carries the time of the last transaction, not now.
   */
  const collectable = async (streamId: bigint, cumulative: bigint) => {
    const sp = ctx.deployment.contracts.StreamPay.address;
    const [withdrawable, view] = await Promise.all([
      ctx.publicClient.readContract({
        address: sp,
        abi: streamPayAbi,
        functionName: "withdrawableAmountOf",
        args: [streamId, cumulative],
        blockTag: "pending",
      }),
      streamView(ctx, streamId),
    ]);
    return withdrawable + view.withdrawn;
  };

  it("50 parallel requests on a 10-second stream: billed stays within the best voucher plus one credit", async () => {
    const deposit = PRICE * 10n;
    const streamId = await consumer.openStream(providerId, deposit);
    // The consumer has accepted nothing yet: every request carries a voucher for 0.
    const bodies = Array.from({ length: 50 }, (_, i) => JSON.stringify(chatBody(MODEL, `q${i}`, { max_tokens: 10 })));
    const signed = await Promise.all(bodies.map((body) => consumer.headers(streamId, body)));
    const answers = await Promise.all(
      bodies.map(async (body, i) => {
        const headers = { ...signed[i], "content-type": "application/json" };
        const res = await fetch(chat, { method: "POST", headers, body });
        return { status: res.status, json: await res.json() };
      }),
    );
    const served = answers.filter((a) => a.status === 200);
    const refused = answers.filter((a) => a.status !== 200);
    expect(served.length).toBeGreaterThan(0);
    expect(refused.length).toBeGreaterThan(0); // no longer all served
    for (const r of refused) {
      expect(r.status).toBe(402);
      expect(r.json.error.code).toBe("no_runway");
      expect(r.json.error.details.credit).toBe(CREDIT.toString());
      expect(r.json.choices).toBeUndefined();
    }
    const billed = served.map((a) => BigInt(a.json.claw_receipt.amount)).reduce((max, x) => (x > max ? x : max), 0n);
    const charged = served.reduce((sum, a) => sum + BigInt(a.json.claw_billing.charged), 0n);
    expect(billed).toBe(charged); // the last receipt covers every answer
    expect(billed).toBeGreaterThan(0n);
    // The acceptance bound: billed <= what the best voucher (0) collects on-chain + one request of credit.
    expect(billed).toBeLessThanOrEqual((await collectable(streamId, 0n)) + CREDIT);
    expect(billed).toBeLessThan(deposit);
  });

  it("sequential requests keep working with the consumer's voucher = last receipt", async () => {
    const streamId = await consumer.openStream(providerId, PRICE * 600n);
    let last = 0n;
    let voucher = 0n; // what the last request carried: the receipt before it
    for (let i = 0; i < 8; i++) {
      voucher = consumer.acceptedOn(streamId);
      const res = await consumer.post(chat, streamId, chatBody(MODEL, `question ${i}`, { max_tokens: 10 }));
      const json = await res.json();
      expect(res.status, JSON.stringify(json)).toBe(200);
      const amount = BigInt(json.claw_receipt.amount);
      expect(amount).toBe(last + BigInt(json.claw_billing.charged));
      last = amount;
      consumer.accept(streamId, amount); // checked against its own measurement by a real consumer
    }
    // 8 x 0.5 s billed: far more than one credit, all of it signed for but the last request.
    expect(last).toBeGreaterThan(CREDIT);
    expect(voucher).toBeGreaterThan(0n);
    expect(last).toBeLessThanOrEqual((await collectable(streamId, voucher)) + CREDIT);
  });

  it("a voucher lagging billed by more than the credit → 402 voucher_behind, numbers, latest receipt", async () => {
    const streamId = await consumer.openStream(providerId, PRICE * 600n);
    for (let i = 0; i < 5; i++) {
      const json = await (await consumer.post(chat, streamId, chatBody(MODEL, `warm ${i}`, { max_tokens: 10 }))).json();
      consumer.accept(streamId, json.claw_receipt.amount);
    }
    const billed = consumer.acceptedOn(streamId);
    expect(billed).toBeGreaterThan(CREDIT);
    const res = await consumer.post(chat, streamId, chatBody(MODEL, "stale voucher"), { cumulative: 0n });
    expect(res.status).toBe(402);
    const json = await res.json();
    expect(json.error.code).toBe("voucher_behind");
    const numbers = { billed: `${billed}`, cumulative: "0", lag: `${billed}`, credit: `${CREDIT}` };
    expect(json.error.details).toEqual(numbers);
    expect(json.choices).toBeUndefined();
    const receipt = JSON.parse(res.headers.get(RECEIPT_HEADER)!) as WireReceipt;
    expect(receipt).toMatchObject({ streamId: streamId.toString(), amount: billed.toString(), final: false });
    // Exactly one credit behind is accepted.
    const oneCredit = { cumulative: billed - CREDIT };
    const ok = await consumer.post(chat, streamId, chatBody(MODEL, "in time", { max_tokens: 2 }), oneCredit);
    expect(ok.status).toBe(200);
  });

  it("cuts a request off when its charge reaches its reservation (one credit), billing exactly that", async () => {
    const streamId = await consumer.openStream(providerId, PRICE * 600n);
    const started = Date.now();
    const long = Array.from({ length: 200 }, (_, i) => `w${i}`).join(" "); // 10 s of tokens at 20/s
    const res = await consumer.post(chat, streamId, chatBody(MODEL, long, { stream: true }));
    expect(res.status).toBe(200);
    const { last, done } = await readSSE(res);
    expect(done).toBe(true);
    expect(Date.now() - started).toBeLessThan(4000);
    expect(last.choices[0].finish_reason).toBe("length");
    expect(last.claw_billing.stop_reason).toBe("runway");
    expect(BigInt(last.claw_billing.charged)).toBe(CREDIT); // reserved min(credit, available) = the credit
    expect(last.claw_receipt.amount).toBe(CREDIT.toString());
  });

  it("serves a session key named in createStream, and refuses one that was not named", async () => {
    const key = privateKeyToAccount(generatePrivateKey());
    const streamId = await consumer.openStream(providerId, PRICE * 60n, PRICE * 60n, key.address);
    expect((await streamView(ctx, streamId)).sessionKey).toBe(key.address);
    const asKey = { signer: key, session: namedSessionKey(key.address) };
    const res = await consumer.post(chat, streamId, chatBody(MODEL, "signed in the browser", { max_tokens: 3 }), asKey);
    expect(res.status).toBe(200);
    const plain = await consumer.openStream(providerId, PRICE * 60n, PRICE * 60n, zeroAddress);
    const refused = await consumer.post(chat, plain, chatBody(MODEL, "not named here"), asKey);
    expect(refused.status).toBe(402);
    expect((await refused.json()).error.code).toBe("session_key_unauthorized");
  });
});
