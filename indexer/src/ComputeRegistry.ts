/**
 * ComputeRegistry events → provider rows (current terms, stake, stats, rating), ratings and the
 * provider-day / protocol aggregates of completions.
 */
import { ponder } from "ponder:registry";
import { provider, rating, stream } from "ponder:schema";
import { addProtocol, addProviderDay, logAction } from "./lib/store.ts";

ponder.on("ComputeRegistry:ProviderRegistered", async ({ event, context }) => {
  const { db } = context;
  const a = event.args;
  const ts = event.block.timestamp;
  await db.insert(provider).values({
    id: a.providerId,
    wallet: a.wallet,
    model: a.model,
    modelHash: a.modelHash,
    asset: a.asset,
    pricePerSecond: a.pricePerSecond,
    endpoint: a.endpoint,
    serviceType: a.serviceType,
    active: true,
    stake: 0n,
    registeredAt: ts,
    registeredBlock: event.block.number,
    requestsServed: 0n,
    totalEarned: 0n,
    ratingCount: 0,
    ratingSum: 0,
    streamCount: 0,
    totalDeposited: 0n,
    updatedAt: ts,
  });
  await addProtocol(db, a.asset, ts, { providers: 1 });
  await logAction(db, event, {
    kind: "provider_registered",
    contract: "ComputeRegistry",
    providerId: a.providerId,
    account: a.wallet,
    actor: a.wallet,
    asset: a.asset,
    amount: a.pricePerSecond,
  });
});

ponder.on("ComputeRegistry:ProviderUpdated", async ({ event, context }) => {
  const { db } = context;
  const a = event.args;
  const p = await db.update(provider, { id: a.providerId }).set({
    pricePerSecond: a.pricePerSecond,
    endpoint: a.endpoint,
    active: a.active,
    updatedAt: event.block.timestamp,
  });
  await logAction(db, event, {
    kind: "provider_updated",
    contract: "ComputeRegistry",
    providerId: a.providerId,
    account: p.wallet,
    actor: p.wallet,
    asset: p.asset,
    amount: a.pricePerSecond,
  });
});

ponder.on("ComputeRegistry:ProviderDeactivated", async ({ event, context }) => {
  const { db } = context;
  const a = event.args;
  const p = await db.update(provider, { id: a.providerId }).set({
    active: false,
    deactivatedAt: event.block.timestamp,
    unstakeAvailableAt: a.unstakeAvailableAt,
    updatedAt: event.block.timestamp,
  });
  await logAction(db, event, {
    kind: "provider_deactivated",
    contract: "ComputeRegistry",
    providerId: a.providerId,
    account: p.wallet,
    actor: p.wallet,
    asset: p.asset,
  });
});

ponder.on("ComputeRegistry:ProviderReactivated", async ({ event, context }) => {
  const { db } = context;
  const a = event.args;
  const p = await db.update(provider, { id: a.providerId }).set({ active: true, updatedAt: event.block.timestamp });
  await logAction(db, event, {
    kind: "provider_reactivated",
    contract: "ComputeRegistry",
    providerId: a.providerId,
    account: p.wallet,
    actor: p.wallet,
    asset: p.asset,
  });
});

ponder.on("ComputeRegistry:Staked", async ({ event, context }) => {
  const { db } = context;
  const a = event.args;
  await db.update(provider, { id: a.providerId }).set({ stake: a.totalStake, updatedAt: event.block.timestamp });
  await logAction(db, event, {
    kind: "staked",
    contract: "ComputeRegistry",
    providerId: a.providerId,
    account: a.wallet,
    actor: a.wallet,
    asset: "0x0000000000000000000000000000000000000000", // stakes are native coin
    amount: a.amount,
  });
});

ponder.on("ComputeRegistry:Unstaked", async ({ event, context }) => {
  const { db } = context;
  const a = event.args;
  await db.update(provider, { id: a.providerId }).set((row) => ({ stake: row.stake - a.amount, updatedAt: event.block.timestamp }));
  await logAction(db, event, {
    kind: "unstaked",
    contract: "ComputeRegistry",
    providerId: a.providerId,
    account: a.wallet,
    actor: a.wallet,
    asset: "0x0000000000000000000000000000000000000000",
    amount: a.amount,
  });
});

ponder.on("ComputeRegistry:CompletionRecorded", async ({ event, context }) => {
  const { db } = context;
  const a = event.args;
  const ts = event.block.timestamp;
  // The registry reports its own running totals: take them as they are.
  const p = await db.update(provider, { id: a.providerId }).set({
    requestsServed: a.requestsServed,
    totalEarned: a.totalEarned,
    updatedAt: ts,
  });
  // One event per closed stream, or per provider of a keeper batch (`streams` of them).
  await addProviderDay(db, a.providerId, p.asset, ts, { earned: a.earned, requests: Number(a.streams) });
  await addProtocol(db, p.asset, ts, { earned: a.earned });
  await logAction(db, event, {
    kind: "completion_recorded",
    contract: "ComputeRegistry",
    providerId: a.providerId,
    account: p.wallet,
    asset: p.asset,
    amount: a.earned,
  });
});

ponder.on("ComputeRegistry:ProviderRated", async ({ event, context }) => {
  const { db } = context;
  const a = event.args;
  const ts = event.block.timestamp;
  await db.insert(rating).values({
    streamId: a.streamId,
    providerId: a.providerId,
    rater: a.rater,
    score: a.score,
    txHash: event.transaction.hash,
    blockNumber: event.block.number,
    timestamp: ts,
  });
  const count = Number(a.ratingCount);
  const sum = Number(a.ratingSum);
  const p = await db.update(provider, { id: a.providerId }).set({
    ratingCount: count,
    ratingSum: sum,
    ratingAverage: sum / count,
    updatedAt: ts,
  });
  await db.update(stream, { id: a.streamId }).set({ rating: a.score, updatedAt: ts });
  await logAction(db, event, {
    kind: "provider_rated",
    contract: "ComputeRegistry",
    streamId: a.streamId,
    providerId: a.providerId,
    account: p.wallet,
    actor: a.rater,
    asset: p.asset,
    amount: BigInt(a.score),
  });
});
