/**
 * Failover: a provider that dies, errors or hangs has its stream cancelled (the unstreamed rest comes back at
 * once; the provider may claim the vouchers it holds — none here — until its challenge window ends, then
 * `finalize` returns the rest) and the prompt goes to the next provider. Accounting is exact to the wei.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StreamStatusCode } from "@clawcompute/sdk";
import { startFakeProvider, type FakeProvider } from "./fake-provider.ts";
import { CHALLENGE_WINDOW } from "./global-setup.ts";
import { type Ctx, type ProviderHandle, balance, chainContext, claimable, consumer, fundedWallet, gasOf, registerProvider, sleep, startProvider, streamView, transactionsFrom } from "./helpers.ts";

const PRICE = 10_000_000_000_000n;

describe("failover", () => {
  let ctx: Ctx;
  let a: ProviderHandle;
  let b: ProviderHandle;
  let c: ProviderHandle;
  const fakes: FakeProvider[] = [];

  beforeAll(async () => {
    ctx = chainContext();
    [a, b, c] = await Promise.all([
      startProvider(ctx, { PROVIDER_MODEL: "failover-1", PROVIDER_PRICE_PER_SECOND: PRICE.toString() }),
      startProvider(ctx, { PROVIDER_MODEL: "failover-1", PROVIDER_PRICE_PER_SECOND: (PRICE * 2n).toString() }),
      startProvider(ctx, { PROVIDER_MODEL: "failover-2", PROVIDER_PRICE_PER_SECOND: (PRICE * 3n).toString() }),
    ]);
    const domain = { chainId: 31337, streamPay: ctx.streamPay };
    for (const [mode, price] of [["broken", PRICE], ["hang", PRICE * 2n]] as const) {
      const { account } = await fundedWallet(ctx);
      const fake = await startFakeProvider({ mode, account, pricePerSecond: price, domain });
      const { providerId } = await registerProvider(ctx, { model: "failover-2", pricePerSecond: price, endpoint: fake.url, account });
      fake.setRegistration(providerId);
      fakes.push(fake);
    }
  });
  afterAll(async () => {
    await Promise.all([a?.stop("SIGKILL"), b?.stop(), c?.stop(), ...fakes.map((f) => f.close())]);
  });

  it("the first provider dies after its stream was opened: the stream is cancelled and refunded, the next one answers", async () => {
    const { account } = await fundedWallet(ctx);
    // The outside world: provider A crashes the moment our request reaches it.
    // (A second later, so the cancel comes after something has streamed: then A gets a window to answer.)
    const killingFetch: typeof fetch = async (input, init) => {
      if (String(input).startsWith(a.url) && String(input).endsWith("/v1/chat/completions")) {
        await sleep(1100);
        await a.process.stop({ signal: "SIGKILL" });
      }
      return fetch(input, init);
    };
    const cons = await consumer(ctx, account, { model: "failover-1", maxTokens: 5, fetch: killingFetch, cancelAnswerWaitMs: 300 });
    const found = await cons.providers();
    expect(found.providers.map((p) => p.id)).toEqual([a.providerId, b.providerId]); // A is cheaper, both live
    const startBlock = await ctx.publicClient.getBlockNumber({ cacheTime: 0 });
    const before = await balance(ctx, account.address);
    const bBefore = await claimable(ctx, b.wallet);
    const aBefore = await claimable(ctx, a.wallet);

    const result = await cons.ask({ prompt: "are you there?" });
    expect(result.providerId).toBe(b.providerId);
    expect(result.text).toContain("are you there?");
    expect(result.summary.failovers).toHaveLength(1);
    expect(result.summary.failovers[0].providerId).toBe(a.providerId);
    const [onA, onB] = result.summary.streams;
    expect(onA.providerId).toBe(a.providerId);
    expect(onA.closedWith).toBe("cancel");
    expect(onB.closedWith).toBe("receipt");
    // A is dead and holds no voucher above 0: it cannot answer, and what streamed is held for its window.
    const viewA = await streamView(ctx, onA.streamId);
    expect(viewA.status).toBe(StreamStatusCode.Cancelling);
    expect(viewA.withdrawn).toBe(0n);
    expect(viewA.refunded).toBe(viewA.deposited - viewA.streamed);
    expect(onA.pendingRefund).toBe(viewA.streamed);

    const gas = await gasOf(ctx, await transactionsFrom(ctx, account.address, startBlock));
    expect(result.summary.gasCost).toBe(gas);
    expect(before - (await balance(ctx, account.address))).toBe(viewA.streamed + onB.receiptAmount! + gas);
    expect((await claimable(ctx, b.wallet)) - bBefore).toBe(onB.receiptAmount);

    // After the window, finalising returns the rest: A was paid nothing for a request it never served.
    await sleep(Number(CHALLENGE_WINDOW) * 1000 + 1500);
    const done = await cons.finalize([onA.streamId]);
    expect(done.finalized).toEqual([{ streamId: onA.streamId, refunded: viewA.streamed, rated: false }]);
    const gasAll = await gasOf(ctx, await transactionsFrom(ctx, account.address, startBlock));
    expect(before - (await balance(ctx, account.address))).toBe(onB.receiptAmount! + gasAll);
    expect((await claimable(ctx, a.wallet)) - aBefore).toBe(0n);
  });

  it("a provider that is down at discovery is ranked not live and never paid", async () => {
    const { account } = await fundedWallet(ctx);
    const cons = await consumer(ctx, account, { model: "failover-1", maxTokens: 5 });
    const found = await cons.providers();
    const deadA = found.providers.find((p) => p.id === a.providerId)!;
    expect(deadA.live).toBe(false);
    expect(found.providers[0].id).toBe(b.providerId); // live first, though pricier
    const result = await cons.ask({ prompt: "hello" });
    expect(result.providerId).toBe(b.providerId);
    expect(result.summary.streams).toHaveLength(1);
    expect(result.summary.failovers).toHaveLength(0);
  });

  it("a provider error (HTTP 500) and a timeout each cancel their stream; the third provider answers", async () => {
    const { account } = await fundedWallet(ctx);
    const cons = await consumer(ctx, account, { model: "failover-2", maxTokens: 5, requestTimeoutMs: 1500, cancelAnswerWaitMs: 300 });
    const startBlock = await ctx.publicClient.getBlockNumber({ cacheTime: 0 });
    const before = await balance(ctx, account.address);
    const result = await cons.ask({ prompt: "third time lucky" });
    expect(result.providerId).toBe(c.providerId);
    expect(result.summary.failovers.map((f) => f.error)).toEqual([expect.stringContaining("HTTP 500"), expect.stringContaining("no answer within 1500 ms")]);
    const closedWith = result.summary.streams.map((s) => s.closedWith);
    expect(closedWith).toEqual(["cancel", "cancel", "receipt"]);
    let paid = 0n;
    let held = 0n;
    for (const s of result.summary.streams) {
      const v = await streamView(ctx, s.streamId);
      expect(v.withdrawn).toBe(s.paid);
      paid += v.withdrawn;
      held += s.pendingRefund ?? 0n;
    }
    expect(result.summary.streams.slice(0, 2).map((s) => s.paid)).toEqual([0n, 0n]); // they served nothing
    const gas = await gasOf(ctx, await transactionsFrom(ctx, account.address, startBlock));
    expect(before - (await balance(ctx, account.address))).toBe(paid + held + gas);
    expect(result.summary.paid).toBe(paid);
  });
});
