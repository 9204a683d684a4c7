/**
 * Discovery: the indexer first, the registry when the indexer is down (and `ask` still works then);
 * filters, ranking, deposit sizing and the receipt allowance.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, waitFor } from "@clawcompute/scripts/lib/processes.ts";
import { Budget, BudgetExceeded, type ProviderInfo, rankPriceOf, rankProviders, receiptAllowance, sizeDeposit } from "../src/index.ts";
import { type Ctx, type ProviderHandle, balance, chainContext, consumer, fundedWallet, gasOf, startProvider, transactionsFrom } from "./helpers.ts";

const PRICE = 10_000_000_000_000n;

const info = (id: number, price: bigint, ratingSum: number, ratingCount: number, live: boolean | undefined, requests = 0n): ProviderInfo => {
  const p = { id: BigInt(id), pricePerSecond: price, ratingSum, ratingCount };
  return { ...p, wallet: "0x0000000000000000000000000000000000000001", model: "m", asset: "0x0000000000000000000000000000000000000000", pricePerHour: price * 3600n, endpoint: "", active: true, requestsServed: requests, ratingAverage: ratingCount ? ratingSum / ratingCount : null, live, rankPrice: rankPriceOf(p) };
};

describe("ranking, sizing and allowances", () => {
  it("ranks live first, then by rating-adjusted price, then by requests served", () => {
    const ranked = rankProviders([
      info(1, 100n, 0, 0, false), // dead, cheapest
      info(2, 120n, 0, 0, true), // unrated → ×1.125 = 135
      info(3, 110n, 25, 5, true), // 5 × 5 → smoothed 4.71 → ×1.036 = 114
      info(4, 100n, 2, 2, true), // 2 × 1 → smoothed 2.5 → ×1.31 = 131
      info(5, 110n, 25, 5, true, 10n), // same as 3, more requests
      info(6, 90n, 0, 0, undefined), // not probed
    ]);
    expect(ranked.map((p) => Number(p.id))).toEqual([5, 3, 4, 2, 6, 1]);
  });

  it("sizes deposits from price × expected time, at least the provider's minimum, within the budget, in whole seconds", () => {
    expect(sizeDeposit({ pricePerSecond: 10n, expectedSeconds: 30, minDeposit: 100n, available: 10_000n })).toBe(300n);
    expect(sizeDeposit({ pricePerSecond: 10n, expectedSeconds: 5, minDeposit: 100n, available: 10_000n })).toBe(100n);
    expect(sizeDeposit({ pricePerSecond: 10n, expectedSeconds: 30, minDeposit: 100n, available: 255n })).toBe(250n);
    expect(sizeDeposit({ pricePerSecond: 10n, expectedSeconds: 30, minDeposit: 100n, available: 99n })).toBeUndefined();
    expect(sizeDeposit({ pricePerSecond: 10n, expectedSeconds: 30, minDeposit: 95n, available: 1000n })).toBe(300n);
  });

  it("a budget books deposits, frees refunds, and refuses what does not fit", () => {
    const b = new Budget(1000n);
    b.reserve(600n);
    expect(() => b.reserve(401n)).toThrow(BudgetExceeded);
    b.settle(600n, 100n); // closed: paid 100, 500 refunded
    expect(b.available).toBe(900n);
    b.reserve(900n);
    expect(b.atStake).toBe(1000n);
  });

  it("allows price × measured time + tolerance + slack per request, rounded down", () => {
    expect(receiptAllowance(1000n, 1000, 1, { toleranceBps: 100, slackMs: 50 })).toBe(1060n);
    expect(receiptAllowance(1000n, 1000, 4, { toleranceBps: 0, slackMs: 0 })).toBe(1000n);
  });
});

describe("discovery against the indexer and the registry", () => {
  let ctx: Ctx;
  let cheap: ProviderHandle;
  let pricey: ProviderHandle;
  let deadIndexer: string;

  beforeAll(async () => {
    ctx = chainContext();
    [cheap, pricey] = await Promise.all([
      startProvider(ctx, { PROVIDER_MODEL: "discovery-echo", PROVIDER_PRICE_PER_SECOND: PRICE.toString() }),
      startProvider(ctx, { PROVIDER_MODEL: "discovery-echo", PROVIDER_PRICE_PER_SECOND: (PRICE * 4n).toString() }),
    ]);
    deadIndexer = `http://127.0.0.1:${await freePort()}`; // nothing listens there
  });
  afterAll(async () => {
    await Promise.all([cheap?.stop(), pricey?.stop()]);
  });

  it("lists providers from the indexer: price per second and per hour, rating, requests, liveness", async () => {
    const { account } = await fundedWallet(ctx);
    const c = await consumer(ctx, account, { model: "discovery-echo" });
    const found = await waitFor("the providers in the indexer", async () => {
      const r = await c.providers();
      return r.source === "indexer" && r.providers.length === 2 ? r : undefined;
    }, 30_000, 200);
    expect(found.providers.map((p) => p.id)).toEqual([cheap.providerId, pricey.providerId]);
    expect(found.providers[0]).toMatchObject({ pricePerSecond: PRICE, pricePerHour: PRICE * 3600n, live: true, ratingAverage: null, requestsServed: 0n, endpoint: cheap.url });
    // Filters.
    expect((await c.providers({ maxPricePerSecond: PRICE * 2n })).providers.map((p) => p.id)).toEqual([cheap.providerId]);
    const otherAsset = await consumer(ctx, account, { model: "discovery-echo", asset: "TestUSD" });
    expect((await otherAsset.providers()).providers).toEqual([]);
  });

  it("the indexer being down: providers come from the registry, and ask works", async () => {
    const { account } = await fundedWallet(ctx);
    const c = await consumer(ctx, account, { model: "discovery-echo", indexerUrl: deadIndexer, maxTokens: 5 });
    const found = await c.providers();
    expect(found.source).toBe("registry");
    expect(found.indexerError).toMatch(/ECONNREFUSED/);
    expect(found.providers.map((p) => p.id)).toEqual([cheap.providerId, pricey.providerId]);

    const startBlock = await ctx.publicClient.getBlockNumber({ cacheTime: 0 });
    const before = await balance(ctx, account.address);
    const result = await c.ask({ prompt: "no indexer today" });
    expect(result.text).toContain("no indexer today");
    expect(result.providerId).toBe(cheap.providerId);
    const gas = await gasOf(ctx, await transactionsFrom(ctx, account.address, startBlock));
    expect(before - (await balance(ctx, account.address))).toBe(result.summary.paid + gas);

    // My streams: from the chain's logs when the indexer is down, the same rows from the indexer when up.
    const fromChain = await c.streams();
    expect(fromChain.source).toBe("chain");
    expect(fromChain.streams.map((s) => [s.id, s.status, s.refunded])).toEqual([[result.streamId, "closed", result.summary.refunded]]);
    const up = await consumer(ctx, account, { model: "discovery-echo" });
    const fromIndexer = await waitFor("the stream in the indexer", async () => {
      const r = await up.streams();
      return r.streams.length === 1 && r.streams[0].status !== "open" ? r : undefined;
    }, 30_000, 200);
    expect(fromIndexer.source).toBe("indexer");
    expect(fromIndexer.streams[0]).toMatchObject({ id: result.streamId, status: "closed", deposited: fromChain.streams[0].deposited, streamed: fromChain.streams[0].streamed, refunded: fromChain.streams[0].refunded, refundable: 0n });
  });
});
