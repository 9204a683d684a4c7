/**
 * Shared writes of the event handlers: the action log and the running aggregates (provider per day,
 * protocol totals per asset, claimable balances). Every write goes through Ponder's store, so a reorg
 * rolls it back with the rows it belongs to.
 */
import { replaceBigInts } from "ponder";
import type { Context } from "ponder:registry";
import { accountBalance, actionLog, keeper, keeperBatch, protocolTotal, providerDay } from "ponder:schema";
import type { Address, Hex } from "viem";
import { streamStatusName } from "@clawcompute/sdk";

/** The fields of a Ponder log event the helpers read (common to every event type). */
export type LogEvent = {
  id: string;
  args: Record<string, unknown> | readonly unknown[];
  block: { number: bigint; timestamp: bigint; hash: Hex };
  log: { logIndex: number };
  transaction: { hash: Hex; from: Address };
};

export type Db = Context["db"];

export type ActionFields = {
  kind: string;
  contract: "StreamPay" | "ComputeRegistry";
  streamId?: bigint | null;
  providerId?: bigint | null;
  account?: Address | null;
  actor?: Address;
  asset?: Address | null;
  amount?: bigint | null;
  recipientAmount?: bigint | null;
  senderAmount?: bigint | null;
  cumulative?: bigint | null;
  keeperReward?: bigint | null;
  dustReturned?: bigint | null;
  status?: string | null;
};

export async function logAction(db: Db, event: LogEvent, fields: ActionFields): Promise<void> {
  await db.insert(actionLog).values({
    id: event.id,
    kind: fields.kind,
    contract: fields.contract,
    streamId: fields.streamId ?? null,
    providerId: fields.providerId ?? null,
    account: fields.account ?? null,
    actor: fields.actor ?? event.transaction.from,
    asset: fields.asset ?? null,
    amount: fields.amount ?? null,
    recipientAmount: fields.recipientAmount ?? null,
    senderAmount: fields.senderAmount ?? null,
    cumulative: fields.cumulative ?? null,
    keeperReward: fields.keeperReward ?? null,
    dustReturned: fields.dustReturned ?? null,
    status: fields.status ?? null,
    args: replaceBigInts(event.args as Record<string, unknown>, (v) => v.toString()),
    txHash: event.transaction.hash,
    txFrom: event.transaction.from,
    blockNumber: event.block.number,
    blockHash: event.block.hash,
    logIndex: event.log.logIndex,
    timestamp: event.block.timestamp,
  });
}

const SECONDS_PER_DAY = 86_400n;

/** The UTC day of a unix timestamp: `{ day: "YYYY-MM-DD", dayStart }`. */
export function dayOf(timestamp: bigint): { day: string; dayStart: bigint } {
  const dayStart = (timestamp / SECONDS_PER_DAY) * SECONDS_PER_DAY;
  return { day: new Date(Number(dayStart) * 1000).toISOString().slice(0, 10), dayStart };
}

export type ProviderDayDelta = Partial<{
  earned: bigint;
  requests: number;
  streamsOpened: number;
  deposited: bigint;
  withdrawn: bigint;
}>;

export async function addProviderDay(
  db: Db,
  providerId: bigint,
  asset: Address,
  timestamp: bigint,
  d: ProviderDayDelta,
): Promise<void> {
  const { day, dayStart } = dayOf(timestamp);
  await db
    .insert(providerDay)
    .values({
      providerId,
      day,
      dayStart,
      asset,
      earned: d.earned ?? 0n,
      requests: d.requests ?? 0,
      streamsOpened: d.streamsOpened ?? 0,
      deposited: d.deposited ?? 0n,
      withdrawn: d.withdrawn ?? 0n,
    })
    .onConflictDoUpdate((row) => ({
      earned: row.earned + (d.earned ?? 0n),
      requests: row.requests + (d.requests ?? 0),
      streamsOpened: row.streamsOpened + (d.streamsOpened ?? 0),
      deposited: row.deposited + (d.deposited ?? 0n),
      withdrawn: row.withdrawn + (d.withdrawn ?? 0n),
    }));
}

export type ProtocolDelta = Partial<{
  streamsCreated: number;
  streamsClosed: number;
  cancellingStreams: number;
  deposited: bigint;
  withdrawn: bigint;
  keeperRewards: bigint;
  refunded: bigint;
  earned: bigint;
  pendingBalances: bigint;
  providers: number;
}>;

export async function addProtocol(db: Db, asset: Address, timestamp: bigint, d: ProtocolDelta): Promise<void> {
  const created = d.streamsCreated ?? 0;
  const closed = d.streamsClosed ?? 0;
  const deposited = d.deposited ?? 0n;
  const withdrawn = d.withdrawn ?? 0n;
  const refunded = d.refunded ?? 0n;
  await db
    .insert(protocolTotal)
    .values({
      asset,
      streamsCreated: created,
      streamsClosed: closed,
      openStreams: created - closed,
      cancellingStreams: d.cancellingStreams ?? 0,
      deposited,
      withdrawn,
      keeperRewards: d.keeperRewards ?? 0n,
      refunded,
      escrowed: deposited - withdrawn - refunded,
      earned: d.earned ?? 0n,
      pendingBalances: d.pendingBalances ?? 0n,
      providers: d.providers ?? 0,
      updatedAt: timestamp,
    })
    .onConflictDoUpdate((row) => ({
      streamsCreated: row.streamsCreated + created,
      streamsClosed: row.streamsClosed + closed,
      openStreams: row.openStreams + created - closed,
      cancellingStreams: row.cancellingStreams + (d.cancellingStreams ?? 0),
      deposited: row.deposited + deposited,
      withdrawn: row.withdrawn + withdrawn,
      keeperRewards: row.keeperRewards + (d.keeperRewards ?? 0n),
      refunded: row.refunded + refunded,
      escrowed: row.escrowed + deposited - withdrawn - refunded,
      earned: row.earned + (d.earned ?? 0n),
      pendingBalances: row.pendingBalances + (d.pendingBalances ?? 0n),
      providers: row.providers + (d.providers ?? 0),
      updatedAt: timestamp,
    }));
}

/** Moves an account's claimable StreamPay balance by `credit` in and `debit` out (and the asset's total). */
export async function moveBalance(
  db: Db,
  account: Address,
  asset: Address,
  timestamp: bigint,
  { credit = 0n, debit = 0n }: { credit?: bigint; debit?: bigint },
): Promise<void> {
  if (credit === 0n && debit === 0n) return;
  await db
    .insert(accountBalance)
    .values({ account, asset, balance: credit - debit, credited: credit, withdrawn: debit, updatedAt: timestamp })
    .onConflictDoUpdate((row) => ({
      balance: row.balance + credit - debit,
      credited: row.credited + credit,
      withdrawn: row.withdrawn + debit,
      updatedAt: timestamp,
    }));
  await addProtocol(db, asset, timestamp, { pendingBalances: credit - debit });
}

/**
 * Stored status of a stream from the status code its StreamClosed reports and who closed it. A `Closed`
 * stream was closed either by its sender with the provider's final receipt or by its recipient with a
 * voucher (only they may), so `closedBy` tells which. An abandoned stream's close is its StreamSettled,
 * never a StreamClosed: one reporting `Settled` would be counted twice, so it stops the indexer instead.
 */
export function closedStatus(statusCode: number, closedBy: Address, sender: Address): string {
  switch (streamStatusName(statusCode)) {
    case "Cancelled":
      return "cancelled";
    case "Closed":
      return closedBy.toLowerCase() === sender.toLowerCase() ? "closed_by_receipt" : "closed_by_recipient";
    default:
      throw new Error(
        `StreamClosed with status ${statusCode} (${streamStatusName(statusCode)}), which StreamPay never reports ` +
          "(only Cancelled or Closed): the indexer and the contract disagree. Check that the SDK's ABIs and " +
          "the deployment come from the same build of the contracts (npm run build).",
      );
  }
}

export type KeeperBatchDelta = Partial<{
  settledCount: number;
  settledAmount: bigint;
  reward: bigint;
  finalisedCount: number;
  finalisedRefunded: bigint;
}>;

/**
 * Adds to the keeper batch of one batchUpdateStreams transaction in one asset (`<txHash>:<asset>`), and to
 * the keeper's running totals; the batch's first event creates both rows. A batch that only finalises
 * cancels emits no BatchSettled, so its StreamClosed events create the row.
 */
export async function addKeeperBatch(
  db: Db,
  event: LogEvent,
  keeperAddress: Address,
  asset: Address,
  d: KeeperBatchDelta,
): Promise<void> {
  const id = `${event.transaction.hash}:${asset.toLowerCase()}`;
  const settledCount = d.settledCount ?? 0;
  const finalisedCount = d.finalisedCount ?? 0;
  const settledAmount = d.settledAmount ?? 0n;
  const reward = d.reward ?? 0n;
  const finalisedRefunded = d.finalisedRefunded ?? 0n;
  const ts = event.block.timestamp;
  const existing = await db.find(keeperBatch, { id });
  if (existing) {
    await db.update(keeperBatch, { id }).set((row) => ({
      streamCount: row.streamCount + settledCount + finalisedCount,
      settledCount: row.settledCount + settledCount,
      settledAmount: row.settledAmount + settledAmount,
      reward: row.reward + reward,
      finalisedCount: row.finalisedCount + finalisedCount,
      finalisedRefunded: row.finalisedRefunded + finalisedRefunded,
    }));
  } else {
    await db.insert(keeperBatch).values({
      id,
      keeper: keeperAddress,
      asset,
      streamCount: settledCount + finalisedCount,
      settledCount,
      settledAmount,
      reward,
      finalisedCount,
      finalisedRefunded,
      txHash: event.transaction.hash,
      blockNumber: event.block.number,
      logIndex: event.log.logIndex,
      timestamp: ts,
    });
  }
  const batches = existing ? 0 : 1;
  await db
    .insert(keeper)
    .values({
      keeper: keeperAddress,
      asset,
      batches,
      streamsSettled: settledCount,
      settledAmount,
      rewards: reward,
      cancelsFinalised: finalisedCount,
      finalisedRefunded,
      firstBatchAt: ts,
      lastBatchAt: ts,
    })
    .onConflictDoUpdate((row) => ({
      batches: row.batches + batches,
      streamsSettled: row.streamsSettled + settledCount,
      settledAmount: row.settledAmount + settledAmount,
      rewards: row.rewards + reward,
      cancelsFinalised: row.cancelsFinalised + finalisedCount,
      finalisedRefunded: row.finalisedRefunded + finalisedRefunded,
      lastBatchAt: ts,
    }));
}
