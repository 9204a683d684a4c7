/**
 * StreamPay events → stream rows, keeper batches, claimable balances and the aggregates.
 * Amount semantics follow IStreamPay: `withdrawn` is everything that left a stream on the recipient's
 * side (withdrawals, keeper settlements including the keeper's reward, the close's credit).
 */
import { ponder } from "ponder:registry";
import { keeper, keeperBatch, provider, stream } from "ponder:schema";
import { addProtocol, addProviderDay, closedStatus, logAction, moveBalance } from "./lib/store.ts";

ponder.on("StreamPay:StreamCreated", async ({ event, context }) => {
  const { db } = context;
  const a = event.args;
  const ts = event.block.timestamp;
  await db.insert(stream).values({
    id: a.streamId,
    sender: a.sender,
    recipient: a.recipient,
    providerId: a.providerId,
    asset: a.asset,
    ratePerSecond: a.ratePerSecond,
    startTime: a.startTime,
    stopTime: a.stopTime,
    initialDeposit: a.depositAmount,
    toppedUp: 0n,
    topUpCount: 0,
    deposited: a.depositAmount,
    withdrawn: 0n,
    keeperRewards: 0n,
    refunded: 0n,
    status: "open",
    statusCode: 1,
    createdAt: ts,
    createdBlock: event.block.number,
    createdTxHash: event.transaction.hash,
    updatedAt: ts,
  });
  await db.update(provider, { id: a.providerId }).set((row) => ({
    streamCount: row.streamCount + 1,
    totalDeposited: row.totalDeposited + a.depositAmount,
  }));
  await addProviderDay(db, a.providerId, a.asset, ts, { streamsOpened: 1, deposited: a.depositAmount });
  await addProtocol(db, a.asset, ts, { streamsCreated: 1, deposited: a.depositAmount });
  await logAction(db, event, {
    kind: "stream_created",
    contract: "StreamPay",
    streamId: a.streamId,
    providerId: a.providerId,
    account: a.recipient,
    actor: a.sender,
    asset: a.asset,
    amount: a.depositAmount,
    dustReturned: a.dustReturned,
  });
});

ponder.on("StreamPay:StreamToppedUp", async ({ event, context }) => {
  const { db } = context;
  const a = event.args;
  const ts = event.block.timestamp;
  const s = await db.update(stream, { id: a.streamId }).set((row) => ({
    toppedUp: row.toppedUp + a.amount,
    topUpCount: row.topUpCount + 1,
    deposited: row.deposited + a.amount,
    stopTime: a.newStopTime,
    updatedAt: ts,
  }));
  await db.update(provider, { id: s.providerId }).set((row) => ({ totalDeposited: row.totalDeposited + a.amount }));
  await addProviderDay(db, s.providerId, s.asset, ts, { deposited: a.amount });
  await addProtocol(db, s.asset, ts, { deposited: a.amount });
  await logAction(db, event, {
    kind: "stream_topped_up",
    contract: "StreamPay",
    streamId: a.streamId,
    providerId: s.providerId,
    account: s.recipient,
    actor: a.sender,
    asset: s.asset,
    amount: a.amount,
    dustReturned: a.dustReturned,
  });
});

ponder.on("StreamPay:StreamWithdrawn", async ({ event, context }) => {
  const { db } = context;
  const a = event.args;
  const ts = event.block.timestamp;
  const s = await db.update(stream, { id: a.streamId }).set((row) => ({ withdrawn: row.withdrawn + a.amount, updatedAt: ts }));
  await addProviderDay(db, s.providerId, s.asset, ts, { withdrawn: a.amount });
  await addProtocol(db, s.asset, ts, { withdrawn: a.amount });
  await logAction(db, event, {
    kind: "stream_withdrawn",
    contract: "StreamPay",
    streamId: a.streamId,
    providerId: s.providerId,
    account: a.recipient,
    actor: a.caller,
    asset: s.asset,
    amount: a.amount,
  });
});

ponder.on("StreamPay:StreamSettled", async ({ event, context }) => {
  const { db } = context;
  const a = event.args;
  const ts = event.block.timestamp;
  const s = await db.update(stream, { id: a.streamId }).set((row) => ({
    withdrawn: row.withdrawn + a.amount,
    keeperRewards: row.keeperRewards + a.keeperReward,
    updatedAt: ts,
  }));
  const credit = a.amount - a.keeperReward;
  await addProviderDay(db, s.providerId, s.asset, ts, { withdrawn: a.amount });
  await addProtocol(db, s.asset, ts, { withdrawn: a.amount, keeperRewards: a.keeperReward });
  // The recipient's share is credited to its StreamPay balance; the reward is pushed to the keeper.
  await moveBalance(db, s.recipient, s.asset, ts, { credit });
  await logAction(db, event, {
    kind: "stream_settled",
    contract: "StreamPay",
    streamId: a.streamId,
    providerId: s.providerId,
    account: s.recipient,
    asset: s.asset,
    amount: a.amount,
    recipientAmount: credit,
    keeperReward: a.keeperReward,
  });
});

ponder.on("StreamPay:StreamClosed", async ({ event, context }) => {
  const { db } = context;
  const a = event.args;
  const ts = event.block.timestamp;
  const before = await db.find(stream, { id: a.streamId });
  if (!before) throw new Error(`StreamClosed for unknown stream ${a.streamId}`);
  const status = closedStatus(a.status, a.closedBy, before.sender);
  const s = await db.update(stream, { id: a.streamId }).set((row) => ({
    withdrawn: row.withdrawn + a.recipientAmount,
    refunded: row.refunded + a.senderAmount,
    status,
    statusCode: a.status,
    closedBy: a.closedBy,
    closedAt: ts,
    closeTxHash: event.transaction.hash,
    closeRecipientAmount: a.recipientAmount,
    closeSenderAmount: a.senderAmount,
    updatedAt: ts,
  }));
  if (a.recipientAmount > 0n) {
    await addProviderDay(db, s.providerId, s.asset, ts, { withdrawn: a.recipientAmount });
    await moveBalance(db, s.recipient, s.asset, ts, { credit: a.recipientAmount });
  }
  await addProtocol(db, s.asset, ts, { streamsClosed: 1, withdrawn: a.recipientAmount, refunded: a.senderAmount });
  await logAction(db, event, {
    kind: "stream_closed",
    contract: "StreamPay",
    streamId: a.streamId,
    providerId: s.providerId,
    account: s.sender,
    actor: a.closedBy,
    asset: s.asset,
    amount: a.recipientAmount + a.senderAmount,
    recipientAmount: a.recipientAmount,
    senderAmount: a.senderAmount,
    status,
  });
});

ponder.on("StreamPay:BatchSettled", async ({ event, context }) => {
  const { db } = context;
  const a = event.args;
  const ts = event.block.timestamp;
  const streams = Number(a.streamCount);
  await db.insert(keeperBatch).values({
    id: event.id,
    keeper: a.keeper,
    asset: a.asset,
    streamCount: streams,
    settledAmount: a.settledAmount,
    reward: a.reward,
    txHash: event.transaction.hash,
    blockNumber: event.block.number,
    logIndex: event.log.logIndex,
    timestamp: ts,
  });
  await db
    .insert(keeper)
    .values({
      keeper: a.keeper,
      asset: a.asset,
      batches: 1,
      streamsSettled: streams,
      settledAmount: a.settledAmount,
      rewards: a.reward,
      firstBatchAt: ts,
      lastBatchAt: ts,
    })
    .onConflictDoUpdate((row) => ({
      batches: row.batches + 1,
      streamsSettled: row.streamsSettled + streams,
      settledAmount: row.settledAmount + a.settledAmount,
      rewards: row.rewards + a.reward,
      lastBatchAt: ts,
    }));
  await logAction(db, event, {
    kind: "batch_settled",
    contract: "StreamPay",
    account: a.keeper,
    actor: a.keeper,
    asset: a.asset,
    amount: a.settledAmount,
    keeperReward: a.reward,
  });
});

ponder.on("StreamPay:PaymentDeferred", async ({ event, context }) => {
  const { db } = context;
  const a = event.args;
  await moveBalance(db, a.account, a.asset, event.block.timestamp, { credit: a.amount });
  await logAction(db, event, {
    kind: "payment_deferred",
    contract: "StreamPay",
    account: a.account,
    asset: a.asset,
    amount: a.amount,
  });
});

ponder.on("StreamPay:BalanceWithdrawn", async ({ event, context }) => {
  const { db } = context;
  const a = event.args;
  await moveBalance(db, a.account, a.asset, event.block.timestamp, { debit: a.amount });
  await logAction(db, event, {
    kind: "balance_withdrawn",
    contract: "StreamPay",
    account: a.account,
    actor: a.account,
    asset: a.asset,
    amount: a.amount,
  });
});
