/**
 * Receipts are checked before they are paid: a final receipt above price × the consumer's own measured
 * serving time (+ tolerance), or a receipt not signed by the stream's recipient, is refused; the stream is
 * cancelled by time instead and the provider is reported (a warning log) and rated 1 on-chain.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StreamStatusCode, chargeForMs } from "@clawcompute/sdk";
import { startFakeProvider, type FakeProvider, type FakeMode } from "./fake-provider.ts";
import { type Ctx, type ProviderHandle, balance, chainContext, claimable, consumer, fundedWallet, gasOf, ratingsOf, registerProvider, startProvider, streamView, transactionsFrom } from "./helpers.ts";

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
      const fake = await startFakeProvider({ mode, account, pricePerSecond: PRICE, domain, tokens: 10, tokenMs: 20 });
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

  it("an inflated final receipt is refused: cancel by time, report, rate 1 — and the accounting is exact", async () => {
    const { fake, providerId, wallet } = fakes["inflate-final"];
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

    const view = await streamView(ctx, o.streamId);
    expect(view.status).toBe(StreamStatusCode.Cancelled);
    expect(view.withdrawn).toBeLessThan(o.dispute!.amount!); // far less than it claimed
    expect(view.withdrawn).toBeLessThanOrEqual(o.dispute!.allowance! + PRICE * 2n); // what it served, rounded up to the chain's seconds
    const ratings = await ratingsOf(ctx, providerId);
    expect(ratings).toEqual([expect.objectContaining({ streamId: o.streamId, rater: account.address, score: 1 })]);
    expect(logs.some((l) => l.report === "provider_refused_receipt" && l.providerId === providerId.toString() && l.reason === "inflated")).toBe(true);

    const hashes = await transactionsFrom(ctx, account.address, startBlock);
    expect(hashes).toHaveLength(3); // createStream, cancelStream, rateProvider
    const gas = await gasOf(ctx, hashes);
    expect(result.summary.gasCost).toBe(gas);
    expect(before - (await balance(ctx, account.address))).toBe(view.withdrawn + gas);
    expect((await claimable(ctx, wallet)) - providerBefore).toBe(view.withdrawn);
    void fake;
  });

  it("a receipt not signed by the stream's recipient is refused at once", async () => {
    const { providerId } = fakes.forged;
    const { account } = await fundedWallet(ctx);
    const c = await consumer(ctx, account, { model: "inflated-forged" });
    const result = await c.ask({ prompt: "sign this" });
    expect(result.dispute).toMatchObject({ reason: "bad_signature", rated: true });
    expect((await streamView(ctx, result.streamId)).status).toBe(StreamStatusCode.Cancelled);
    expect((await ratingsOf(ctx, providerId)).map((r) => r.score)).toEqual([1]);
  });

  it("chat: an inflated cumulative receipt ends that provider's stream; the session goes on with an honest one", async () => {
    const { providerId } = fakes["inflate-cumulative"];
    const { account } = await fundedWallet(ctx);
    const c = await consumer(ctx, account, { model: "inflated-inflate-cumulative", maxTokens: 5 });
    const found = await c.providers();
    expect(found.providers[0].id).toBe(providerId); // cheapest, still unrated
    const session = c.session({ idleCloseSeconds: 600 });
    const first = await session.send("first");
    expect(first.providerId).toBe(providerId);
    expect(first.dispute?.reason).toBe("inflated");
    const second = await session.send("second");
    expect(second.providerId).toBe(honest.providerId);
    expect(second.dispute).toBeUndefined();
    const summary = await session.close();
    expect(summary.streams.map((s) => s.closedWith)).toEqual(["cancel", "receipt"]);
    // Rated 1 on-chain, the cheat now ranks below the honest provider although it is 5× cheaper.
    const after = await (await consumer(ctx, account, { model: "inflated-inflate-cumulative", indexerUrl: undefined })).providers();
    expect(after.providers.find((p) => p.id === providerId)!.ratingAverage).toBe(1);
    expect(after.providers[0].id).toBe(providerId); // price still dominates at 5×: one rating of 1 costs it a 1.25× rank price
  });
});
