/**
 * Receipts are checked before they are paid: a final receipt above price × the consumer's own measured
 * serving time (+ tolerance), or a receipt not signed by the stream's recipient, is refused; the stream is
 * cancelled instead, so the provider can take only the vouchers the consumer signed (the receipts it
 * accepted), and the provider is reported (a warning log) and rated 1 on-chain once it has been paid.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StreamStatusCode, chargeForMs } from "@clawcompute/sdk";
import { startFakeProvider, type FakeProvider, type FakeMode } from "./fake-provider.ts";
import { CHALLENGE_WINDOW } from "./global-setup.ts";
import { type Ctx, type ProviderHandle, balance, chainContext, claimable, consumer, fundedWallet, gasOf, ratingsOf, registerProvider, sleep, startProvider, streamView, transactionsFrom } from "./helpers.ts";

const PRICE = 10_000_000_000_000n;

describe("inflated and forged receipts", () => {
  let ctx: Ctx;
  let honest: ProviderHandle;
  const fakes: Record<string, { fake: FakeProvider; providerId: bigint; wallet: `0x${string}` }> = {};

  beforeAll(async () => {
    ctx = chainContext();
    const domain = { chainId: 31337, streamPay: ctx.streamPay };
    for (const mode of ["inflate-final", "forged", "inflate-cumulative"] as FakeMode[]) {
      const { account } = await fundedWallet(ctx);
      // Answers of 1.2 s: the cancel then comes at least one chain second after the stream opened, so
      // something has streamed and the provider has a window to answer (a cancel with nothing streamed is
      // final at once).
      const fake = await startFakeProvider({ mode, account, pricePerSecond: PRICE, domain, tokens: 10, tokenMs: 120 });
      const { providerId } = await registerProvider(ctx, { model: `inflated-${mode}`, pricePerSecond: PRICE, endpoint: fake.url, account });
      fake.setRegistration(providerId);
      fakes[mode] = { fake, providerId, wallet: account.address };
    }
    // An honest provider of the same model as the cumulative cheat, pricier.
    honest = await startProvider(ctx, { PROVIDER_MODEL: "inflated-inflate-cumulative", PROVIDER_PRICE_PER_SECOND: (PRICE * 5n).toString() });
  });
  afterAll(async () => {
    await Promise.all([honest?.stop(), ...Object.values(fakes).map((f) => f.fake.close())]);
  });

  it("an inflated final receipt is refused: cancel, the provider takes only the voucher, report, rate 1 — exact", async () => {
    const { fake, providerId, wallet } = fakes["inflate-final"];
    fake.answerCancels(ctx.rpcUrl); // it claims the best voucher it holds as soon as the consumer cancels
    const { account } = await fundedWallet(ctx);
    const logs: Array<Record<string, unknown>> = [];
    const pino = (await import("pino")).default;
    const log = pino({ level: "warn" }, { write: (line: string) => logs.push(JSON.parse(line)) });
    const c = await consumer(ctx, account, { model: "inflated-inflate-final", log });
    const startBlock = await ctx.publicClient.getBlockNumber({ cacheTime: 0 });
    const before = await balance(ctx, account.address);
    const providerBefore = await claimable(ctx, wallet);
    const result = await c.ask({ prompt: "overcharge me" });
    expect(result.text).toContain("tok9");
    const [o] = result.summary.streams;
    expect(o.closedWith).toBe("cancel");
    expect(o.dispute).toMatchObject({ reason: "inflated", rated: true });
    expect(o.dispute!.amount!).toBeGreaterThan(o.dispute!.allowance!);
    expect(o.dispute!.allowance).toBe(chargeForMs(PRICE, Math.ceil(o.measuredMs * 1.01 + 50)));

    // The final-receipt request carried the voucher for the accepted (honest) receipt: exactly that is paid.
    const voucher = fake.vouchers.get(o.streamId.toString())!;
    expect(voucher.cumulative).toBeGreaterThan(0n);
    expect(voucher.cumulative).toBeLessThanOrEqual(o.dispute!.allowance!);
    const view = await streamView(ctx, o.streamId);
    expect(view.status).toBe(StreamStatusCode.Cancelled);
    expect(view.withdrawn).toBe(voucher.cumulative);
    expect(o.pendingRefund).toBeUndefined();
    const ratings = await ratingsOf(ctx, providerId);
    expect(ratings).toEqual([expect.objectContaining({ streamId: o.streamId, rater: account.address, score: 1 })]);
    expect(logs.some((l) => l.report === "provider_refused_receipt" && l.providerId === providerId.toString() && l.reason === "inflated")).toBe(true);

    const hashes = await transactionsFrom(ctx, account.address, startBlock);
    expect(hashes).toHaveLength(3); // createStream, cancelStream, rateProvider
    const gas = await gasOf(ctx, hashes);
    expect(result.summary.gasCost).toBe(gas);
    expect(before - (await balance(ctx, account.address))).toBe(view.withdrawn + gas);
    expect((await claimable(ctx, wallet)) - providerBefore).toBe(view.withdrawn);
  });

  it("a receipt not signed by the stream's recipient is refused at once; the provider is paid nothing", async () => {
    const { account } = await fundedWallet(ctx);
    const c = await consumer(ctx, account, { model: "inflated-forged", cancelAnswerWaitMs: 500 });
    const startBlock = await ctx.publicClient.getBlockNumber({ cacheTime: 0 });
    const before = await balance(ctx, account.address);
    const result = await c.ask({ prompt: "sign this" });
    // No receipt was ever accepted, so the only voucher it holds is 0: the cancel waits out its window.
    expect(result.dispute).toMatchObject({ reason: "bad_signature", rated: false });
    const [o] = result.summary.streams;
    const view = await streamView(ctx, result.streamId);
    expect(view.status).toBe(StreamStatusCode.Cancelling);
    expect(o.pendingRefund).toBe(view.streamed);
    expect(o.challengeEndsAt).toBe(view.challengeEndsAt);
    expect(view.challengeEndsAt).toBe(view.endTime + CHALLENGE_WINDOW);

    await expect(c.finalize()).resolves.toMatchObject({ finalized: [], waiting: [{ streamId: result.streamId }] });
    await sleep(Number(CHALLENGE_WINDOW) * 1000 + 1500);
    const done = await c.finalize();
    expect(done.finalized).toEqual([{ streamId: result.streamId, refunded: view.streamed, rated: false }]);
    const after = await streamView(ctx, result.streamId);
    expect(after.status).toBe(StreamStatusCode.Cancelled);
    expect(after.withdrawn).toBe(0n);
    expect(after.refunded).toBe(after.deposited);
    const gas = await gasOf(ctx, await transactionsFrom(ctx, account.address, startBlock));
    expect(before - (await balance(ctx, account.address))).toBe(gas); // everything came back
    expect(await ratingsOf(ctx, fakes.forged.providerId)).toEqual([]); // a stream that paid nothing cannot rate
  });

  it("chat: an inflated cumulative receipt ends that provider's stream; the session goes on with an honest one", async () => {
    const { providerId, wallet } = fakes["inflate-cumulative"];
    const { account } = await fundedWallet(ctx);
    const c = await consumer(ctx, account, { model: "inflated-inflate-cumulative", maxTokens: 5, cancelAnswerWaitMs: 500 });
    const found = await c.providers();
    expect(found.providers[0].id).toBe(providerId); // cheapest, still unrated
    const cheatBefore = await claimable(ctx, wallet);
    const session = c.session({ idleCloseSeconds: 600 });
    const first = await session.send("first");
    expect(first.providerId).toBe(providerId);
    expect(first.dispute?.reason).toBe("inflated");
    const second = await session.send("second");
    expect(second.providerId).toBe(honest.providerId);
    expect(second.dispute).toBeUndefined();
    const summary = await session.close();
    expect(summary.streams.map((s) => s.closedWith)).toEqual(["cancel", "receipt"]);
    // The cheat never got a voucher above 0: after its window the whole deposit comes back.
    expect(summary.streams[0].pendingRefund).toBeGreaterThan(0n);
    await sleep(Number(CHALLENGE_WINDOW) * 1000 + 1500);
    const done = await c.finalize();
    expect(done.finalized.map((f) => f.streamId)).toEqual([first.streamId]);
    const view = await streamView(ctx, first.streamId);
    expect([view.status, view.withdrawn, view.refunded]).toEqual([StreamStatusCode.Cancelled, 0n, view.deposited]);
    expect((await claimable(ctx, wallet)) - cheatBefore).toBe(0n);
  });
});
