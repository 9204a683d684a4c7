/**
 * The keeper with the real indexer (indexer/, started as operators start it): the query the keeper sends is
 * one the indexer's GraphQL schema answers, it nominates only streams that are due, and what it nominates
 * is re-read on-chain — a stream the indexer has not yet seen closed costs a read, not a transaction.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PrivateKeyAccount } from "viem";
import { StreamStatusCode, streamPayAbi } from "@clawcompute/sdk";
import { type Keeper, queryDueStreams } from "../src/index.ts";
import {
  CHALLENGE_WINDOW,
  type Ctx,
  type Provider,
  balance,
  fundedWallet,
  mineAt,
  mineBlocks,
  openStream,
  registerProvider,
  send,
  startDevChain,
  startIndexer,
  startKeeper,
  streamView,
  withdrawByVoucher,
} from "./helpers.ts";

const PRICE = 10n ** 17n; // 0.1 ETH per second

describe("keeper with the real indexer", () => {
  let ctx: Ctx;
  let indexer: Awaited<ReturnType<typeof startIndexer>>;
  let keeperAccount: PrivateKeyAccount;
  let sender: PrivateKeyAccount;
  let provider: Provider;
  const keepers: Keeper[] = [];
  const keeper = async (over: Parameters<typeof startKeeper>[2] = {}) => {
    const k = await startKeeper(ctx, keeperAccount, { indexerUrl: indexer.url, ...over });
    keepers.push(k);
    return k;
  };

  beforeAll(async () => {
    ctx = await startDevChain();
    indexer = await startIndexer(ctx);
    keeperAccount = (await fundedWallet(ctx)).account;
    sender = (await fundedWallet(ctx, 1000n)).account;
    provider = await registerProvider(ctx, { model: "keeper-indexed", pricePerSecond: PRICE });
  });

  afterAll(async () => {
    for (const k of keepers) await k.stop();
    await indexer?.stop();
    await ctx?.stop();
  });

  it("settles what it nominates as abandoned, finalises expired cancels when told to, reads nothing else", async () => {
    const abandoned = await openStream(ctx, sender, provider, 10n);
    const cancelled = await openStream(ctx, sender, provider, 100n);
    const inUse = await openStream(ctx, sender, provider, 1000n);
    const start = (await streamView(ctx, cancelled)).startTime;
    await mineAt(ctx, start + 5n);
    await withdrawByVoucher(ctx, sender, provider, cancelled, PRICE * 2n);
    await send(ctx, sender, { address: ctx.streamPay, abi: streamPayAbi, functionName: "cancelStream",
      args: [cancelled] } as never);
    const c = await streamView(ctx, cancelled);
    expect(c.challengeEndsAt).toBe(c.endTime + CHALLENGE_WINDOW);
    const a = await streamView(ctx, abandoned);
    await mineAt(ctx, a.abandonedAt > c.challengeEndsAt ? a.abandonedAt : c.challengeEndsAt);
    await mineBlocks(ctx, 31);
    await indexer.indexed();

    const nominated = await queryDueStreams({ indexerUrl: indexer.url, states: ["abandoned", "challenge_expired"],
      timeoutMs: 5000, challengeWindow: CHALLENGE_WINDOW });
    expect(nominated).toEqual([
      { id: abandoned, state: "abandoned", dueAt: a.abandonedAt },
      { id: cancelled, state: "challenge_expired", dueAt: c.challengeEndsAt },
    ]);

    // By default only the abandoned stream: the open one is not nominated, so it is not even read.
    const paid = await (await keeper()).tick();
    expect(paid).toMatchObject({ source: "indexer", candidates: 1, rejected: [] });
    expect(paid.batches)
      .toEqual([expect.objectContaining({ kind: "abandoned", action: "sent", streamIds: [abandoned] })]);
    expect((await streamView(ctx, abandoned)).status).toBe(StreamStatusCode.Settled);

    // Told to finalise cancels; the indexer may not have seen the settlement yet: that costs a read only.
    const senderBefore = await balance(ctx, sender.address);
    const unpaid = await (await keeper({ finalizeCancels: true })).tick();
    expect(unpaid.source).toBe("indexer");
    expect(unpaid.batches)
      .toEqual([expect.objectContaining({ kind: "cancel", action: "sent", streamIds: [cancelled] })]);
    for (const r of unpaid.rejected) expect(r).toEqual({ id: abandoned, reason: "already Settled" });
    expect((await balance(ctx, sender.address)) - senderBefore).toBe(c.streamed - c.withdrawn);
    expect((await streamView(ctx, cancelled)).status).toBe(StreamStatusCode.Cancelled);
    expect((await streamView(ctx, inUse)).status).toBe(StreamStatusCode.Open);
  });
});
