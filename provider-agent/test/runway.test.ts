/**
 * The trustless stop: generation ends when the stream's runway ends (billed no more than the deposit),
 * the stream is then refused, and the agent collects exactly what the consumer's voucher signs for.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chargeForMs } from "@clawcompute/sdk";
import { streamPayAbi } from "@clawcompute/sdk";
import {
  type AgentHandle,
  type ChainContext,
  Consumer,
  chainContext,
  chatBody,
  claimable,
  finalReceipt,
  fundedWallet,
  latestReceipt,
  providerIdOf,
  readSSE,
  removeDir,
  startAgent,
  streamView,
  withdrawals,
} from "./helpers.ts";
import { waitFor } from "@clawcompute/scripts/lib/processes.ts";

const MODEL = "runway-test-model";
const PRICE = 1_000_000_000n;

describe("runway", () => {
  let ctx: ChainContext;
  let agent: AgentHandle;
  let consumer: Consumer;
  let providerId: bigint;
  let wallet: `0x${string}`;

  beforeAll(async () => {
    ctx = chainContext();
    const provider = await fundedWallet(ctx);
    wallet = provider.account.address;
    consumer = new Consumer(ctx, (await fundedWallet(ctx)).account);
    agent = await startAgent(ctx, {
      PROVIDER_PRIVATE_KEY: provider.key,
      PROVIDER_MODEL: MODEL,
      PROVIDER_PRICE_PER_SECOND: PRICE.toString(),
      PROVIDER_ECHO_TOKENS_PER_SECOND: "20",
      PROVIDER_ECHO_MAX_TOKENS: "1000",
      PROVIDER_MIN_DEPOSIT_SECONDS: "2",
      PROVIDER_MIN_RUNWAY_MS: "500",
      PROVIDER_WITHDRAW_THRESHOLD: "0",
      PROVIDER_PAYOUT_INTERVAL_MS: "300",
      PROVIDER_WITHDRAW_ON_SHUTDOWN: "false",
    });
    providerId = await providerIdOf(ctx, wallet, MODEL);
  });

  afterAll(async () => {
    await agent?.stop();
    if (agent) removeDir(agent.dataDir);
  });

  it("stops generating when the stream runs dry, bills at most the deposit, then refuses the stream", async () => {
    const deposit = PRICE * 4n; // 4 seconds
    const streamId = await consumer.openStream(providerId, deposit);
    const started = Date.now();
    const longPrompt = Array.from({ length: 200 }, (_, i) => `w${i}`).join(" "); // ~10 s of tokens at 20/s
    const res = await consumer.post(`${agent.url}/v1/chat/completions`, streamId, chatBody(MODEL, longPrompt, { stream: true }));
    expect(res.status).toBe(200);
    const { text, last, done } = await readSSE(res);
    const elapsed = Date.now() - started;
    expect(done).toBe(true);
    expect(last.choices[0].finish_reason).toBe("length");
    expect(last.claw_billing.stop_reason).toBe("runway");
    expect(elapsed).toBeLessThan(5500); // cut near the stop time, not after the whole answer
    expect(text.split(" ").length).toBeLessThan(100);
    const charged = BigInt(last.claw_receipt.amount);
    expect(charged).toBeGreaterThan(0n);
    expect(charged).toBeLessThanOrEqual(deposit);
    // Price x measured time, stopped at the reservation made at admission (here the time left to the
    // stream's stop time): the cut may overrun by a token, the bill never does.
    const reserved = BigInt(last.claw_billing.reserved);
    expect(reserved).toBeLessThanOrEqual(deposit);
    const measured = chargeForMs(PRICE, Math.floor(last.claw_billing.served_ms));
    expect(charged).toBe(measured < reserved ? measured : reserved);

    const again = await consumer.post(`${agent.url}/v1/chat/completions`, streamId, chatBody(MODEL, "more"));
    expect(again.status).toBe(402);
    expect((await again.json()).error.code).toBe("no_runway");

    // The consumer accepts the receipt and asks for the final one: its voucher now covers everything
    // billed, and the agent withdraws exactly that by voucher (threshold 0) — nothing by time alone.
    consumer.accept(streamId, charged);
    expect((await finalReceipt(agent.url, consumer, streamId)).amount).toBe(charged.toString());
    const sp = ctx.deployment.contracts.StreamPay.address;
    const withdrawnEvents = () =>
      ctx.publicClient.getContractEvents({
        address: sp,
        abi: streamPayAbi,
        eventName: "StreamWithdrawn",
        args: { streamId },
        fromBlock: 0n,
      });
    await waitFor("the voucher withdrawal", async () => (await withdrawnEvents()).length === 1, 20_000, 200);
    const [event] = await withdrawnEvents();
    expect(event.args).toMatchObject({ recipient: wallet, caller: wallet, amount: charged, cumulative: charged });
    const view = await streamView(ctx, streamId);
    expect(view.status).toBe(1); // still open: the consumer closes it with the final receipt
    expect(view.withdrawn).toBe(charged);
    expect(view.refunded).toBe(0n);
    expect(await claimable(ctx, wallet)).toBe(0n); // paid straight to the wallet, nothing credited
    expect(await withdrawals(ctx, wallet)).toEqual([]);
    await new Promise((r) => setTimeout(r, 1000)); // more payout rounds: nothing is withdrawn twice
    expect(await withdrawnEvents()).toHaveLength(1);
    expect((await latestReceipt(agent.url, consumer, streamId)).amount).toBe(charged.toString());
  });
});
