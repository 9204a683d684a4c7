/**
 * ask, chat and close flows against a real provider agent (echo backend), with exact on-chain accounting:
 * the consumer's native balance moves by exactly what its streams paid plus the gas of its transactions
 * (from their receipts), and the provider's claimable balance by exactly the final receipt's amount.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StreamStatusCode, chargeForMs, streamPayAbi } from "@clawcompute/sdk";
import { NoProviderError } from "../src/index.ts";
import { type Ctx, type ProviderHandle, balance, chainContext, claimable, closedEvent, consumer, fundedWallet, gasOf, sleep, startProvider, streamView, transactionsFrom } from "./helpers.ts";

const MODEL = "flows-echo";
const PRICE = 10_000_000_000_000n; // 1e13 wei per second

describe("ask, chat and close", () => {
  let ctx: Ctx;
  let provider: ProviderHandle;

  beforeAll(async () => {
    ctx = chainContext();
    provider = await startProvider(ctx, { PROVIDER_MODEL: MODEL, PROVIDER_PRICE_PER_SECOND: PRICE.toString(), PROVIDER_ECHO_TOKENS_PER_SECOND: "50" });
  });
  afterAll(async () => {
    await provider?.stop();
  });

  it("ask: streams the answer, closes with the verified final receipt, and pays exactly the receipt", async () => {
    const { account } = await fundedWallet(ctx);
    const c = await consumer(ctx, account, { model: MODEL, maxTokens: 12, budget: PRICE * 30n });
    const startBlock = await ctx.publicClient.getBlockNumber({ cacheTime: 0 });
    const consumerBefore = await balance(ctx, account.address);
    const providerBefore = await claimable(ctx, provider.wallet);
    const tokens: string[] = [];
    const result = await c.ask({ prompt: "what is a payment stream?", onToken: (t) => tokens.push(t) });

    expect(result.text).toContain("what is a payment stream?");
    expect(tokens.length).toBeGreaterThan(3); // streamed piece by piece
    expect(tokens.join("")).toBe(result.text);
    expect(result.providerId).toBe(provider.providerId);
    const [outcome] = result.summary.streams;
    expect(outcome.closedWith).toBe("receipt");
    expect(outcome.dispute).toBeUndefined();

    // On-chain: closed by receipt, paid exactly the receipt, refunded the rest.
    const view = await streamView(ctx, result.streamId);
    expect(view.status).toBe(StreamStatusCode.Closed);
    expect(view.withdrawn).toBe(outcome.receiptAmount);
    expect(view.withdrawn + view.refunded).toBe(view.deposited);
    expect(view.deposited).toBeLessThanOrEqual(PRICE * 30n);
    const closed = await closedEvent(ctx, result.streamId);
    expect(closed?.recipientAmount).toBe(outcome.receiptAmount);
    expect(closed?.senderAmount).toBe(view.refunded);

    // Exact billing: the receipt is the provider's measured time, within price × the consumer's own.
    expect(outcome.receiptAmount!).toBeGreaterThan(0n);
    expect(outcome.receiptAmount!).toBeLessThanOrEqual(chargeForMs(PRICE, Math.ceil(result.measuredMs)));

    // Balances to the wei: gas from the receipts of every transaction the consumer sent.
    const hashes = await transactionsFrom(ctx, account.address, startBlock);
    expect(hashes.length).toBe(2); // createStream + closeWithReceipt
    const gas = await gasOf(ctx, hashes);
    expect(result.summary.gasCost).toBe(gas);
    const consumerAfter = await balance(ctx, account.address);
    expect(consumerBefore - consumerAfter).toBe(outcome.receiptAmount! + gas);
    expect(result.summary.paid).toBe(outcome.receiptAmount);
    expect(result.summary.deposited - result.summary.refunded).toBe(result.summary.paid);
    expect((await claimable(ctx, provider.wallet)) - providerBefore).toBe(outcome.receiptAmount);
  });

  it("chat: one stream for many prompts, the conversation carried along, closed once at the end", async () => {
    const { account } = await fundedWallet(ctx);
    const c = await consumer(ctx, account, { model: MODEL, maxTokens: 8, budget: PRICE * 100n });
    const startBlock = await ctx.publicClient.getBlockNumber({ cacheTime: 0 });
    const before = await balance(ctx, account.address);
    const providerBefore = await claimable(ctx, provider.wallet);
    const session = c.session({ idleCloseSeconds: 600 });
    const answers = [];
    for (const prompt of ["first question", "second question", "third question"]) answers.push(await session.send(prompt));
    expect(new Set(answers.map((a) => a.streamId)).size).toBe(1);
    expect(answers[2].text).toContain("third question");
    expect(session.messages.filter((m) => m.role === "user").length).toBe(3);
    expect(session.messages.filter((m) => m.role === "assistant").length).toBe(3);
    // Cumulative receipts grow with each answer.
    expect(answers[1].receiptAmount!).toBeGreaterThan(answers[0].receiptAmount!);
    expect(answers[2].receiptAmount!).toBeGreaterThan(answers[1].receiptAmount!);

    const summary = await session.close();
    expect(summary.streams).toHaveLength(1);
    const [o] = summary.streams;
    expect(o.requests).toBe(3);
    expect(o.closedWith).toBe("receipt");
    expect(o.receiptAmount).toBe(answers[2].receiptAmount); // no serving after the last answer
    const gas = await gasOf(ctx, await transactionsFrom(ctx, account.address, startBlock));
    expect(summary.gasCost).toBe(gas);
    expect(before - (await balance(ctx, account.address))).toBe(o.receiptAmount! + gas);
    expect((await claimable(ctx, provider.wallet)) - providerBefore).toBe(o.receiptAmount);
    await expect(session.send("after close")).rejects.toThrow(/closed/);
  });

  it("chat: an idle session closes its stream with the final receipt; the next prompt opens a new one", async () => {
    const { account } = await fundedWallet(ctx);
    const c = await consumer(ctx, account, { model: MODEL, maxTokens: 5, budget: PRICE * 100n });
    const session = c.session({ idleCloseSeconds: 1 });
    const first = await session.send("before the pause");
    await new Promise((r) => setTimeout(r, 3500));
    expect((await streamView(ctx, first.streamId)).status).toBe(StreamStatusCode.Closed);
    const second = await session.send("after the pause");
    expect(second.streamId).not.toBe(first.streamId);
    const summary = await session.close();
    expect(summary.streams.map((s) => s.closedWith)).toEqual(["receipt", "receipt"]);
  });

  it("budget: never deposits more than it; a provider whose minimum deposit does not fit is not paid at all", async () => {
    const { account } = await fundedWallet(ctx);
    // The provider's minimum deposit is 10 s of its price: a budget of 9 s cannot open a stream.
    const poor = await consumer(ctx, account, { model: MODEL, budget: PRICE * 9n, maxTokens: 3 });
    const nonce = await ctx.publicClient.getTransactionCount({ address: account.address });
    await expect(poor.ask({ prompt: "hello" })).rejects.toBeInstanceOf(NoProviderError);
    expect(await ctx.publicClient.getTransactionCount({ address: account.address })).toBe(nonce); // nothing sent

    // A 12-second budget with 20 s expected: the deposit is cut to the budget (12 s), not 20 s.
    const tight = await consumer(ctx, account, { model: MODEL, budget: PRICE * 12n, maxTokens: 3 });
    const r = await tight.ask({ prompt: "hello" });
    expect(r.summary.streams[0].deposited).toBe(PRICE * 12n);

    // A session that needs top-ups: every stream and the session as a whole stay within the budget.
    const budget = PRICE * 26n;
    const s = (await consumer(ctx, account, { model: MODEL, budget, maxTokens: 3, expectedSeconds: 12 })).session({ idleCloseSeconds: 600 });
    for (let i = 0; i < 4; i++) {
      await s.send(`prompt ${i}`);
      expect(s.budget.atStake).toBeLessThanOrEqual(budget);
      await new Promise((r) => setTimeout(r, 2500)); // time passes: the stream runs down and needs top-ups
    }
    const summary = await s.close();
    expect(summary.transactions.some((t) => t.what === "topUp") || summary.streams.length > 1).toBe(true);
    expect(s.budget.atStake).toBeLessThanOrEqual(budget);
    for (const o of summary.streams) {
      const v = await streamView(ctx, o.streamId);
      expect(v.deposited).toBeLessThanOrEqual(budget);
    }
    expect(summary.paid).toBeLessThanOrEqual(budget);
  });

  it("chat with idle time and a provider that withdraws with its best voucher at every chance: the consumer still pays exactly the final receipt", async () => {
    // The provider agent withdraws whenever anything is withdrawable (threshold 1 wei, every 100 ms).
    const greedy = await startProvider(ctx, {
      PROVIDER_MODEL: `${MODEL}-greedy`,
      PROVIDER_PRICE_PER_SECOND: PRICE.toString(),
      PROVIDER_WITHDRAW_THRESHOLD: "1",
      PROVIDER_PAYOUT_INTERVAL_MS: "100",
    });
    try {
      const { account } = await fundedWallet(ctx);
      const c = await consumer(ctx, account, { model: `${MODEL}-greedy`, maxTokens: 6, budget: PRICE * 100n });
      const startBlock = await ctx.publicClient.getBlockNumber({ cacheTime: 0 });
      const before = await balance(ctx, account.address);
      const session = c.session({ idleCloseSeconds: 600 });
      const answers = [];
      for (const prompt of ["one", "two", "three"]) {
        answers.push(await session.send(prompt));
        await sleep(2500); // the reader's idle time: by wall clock the stream streams on, but nobody may take it
      }
      const streamId = answers[0].streamId;
      const summary = await session.close();
      const [o] = summary.streams;
      expect(o.closedWith).toBe("receipt");

      // The provider did withdraw mid-session, each time with a voucher the consumer had signed: the amount
      // of a receipt it accepted (the voucher of the final-receipt request covers the third answer).
      const withdrawals = await ctx.publicClient.getContractEvents({ address: ctx.streamPay, abi: streamPayAbi, eventName: "StreamWithdrawn", args: { streamId }, fromBlock: startBlock });
      expect(withdrawals.length).toBeGreaterThan(0);
      const accepted = answers.map((a) => a.receiptAmount);
      for (const w of withdrawals) expect(accepted).toContain(w.args.cumulative);
      const view = await streamView(ctx, streamId);
      // Idle minutes streamed by time, yet the provider's side is exactly the final receipt.
      expect(view.streamed).toBeGreaterThan(o.receiptAmount!);
      expect(view.withdrawn).toBe(o.receiptAmount);
      const gas = await gasOf(ctx, await transactionsFrom(ctx, account.address, startBlock));
      expect(before - (await balance(ctx, account.address))).toBe(o.receiptAmount! + gas);
    } finally {
      await greedy.stop();
    }
  });
});
