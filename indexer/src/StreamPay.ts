/**
 * StreamPay events → stream rows, keeper batches, claimable balances and the aggregates.
 * Amount semantics follow IStreamPay: `withdrawn` is everything paid on a stream's recipient side (voucher
 * withdrawals, a keeper's settlement of an abandoned stream including the keeper's reward, the close's
 * credit); `refunded` is everything that went back to the sender (at a cancel, then at the close).
 */
import { and, eq, isNull } from "ponder";
import { ponder } from "ponder:registry";
import { provider, stream } from "ponder:schema";
import { zeroAddress } from "viem";
import { StreamStatusCode } from "@clawcompute/sdk";
import { streamPayParameters } from "./lib/parameters.ts";
import { addKeeperBatch, addProtocol, addProviderDay, closedStatus, logAction, moveBalance } from "./lib/store.ts";

/**
 * How a pending cancel ended: the recipient may answer (closeByRecipient) only before the challenge window
 * ends, and anyone may finalise it (batchUpdateStreams) only from then on, so the time of the close tells
 * them apart, whoever sent it and however (directly or through another contract).
 */
function cancelEnding(at: bigint, challengeEndsAt: bigint | null): "answered" | "finalised" {
  if (challengeEndsAt === null) throw new Error("a cancelling stream without its challenge window's end");
  return at < challengeEndsAt ? "answered" : "finalised";
}

ponder.on("StreamPay:StreamCreated", async ({ event, context }) => {
  const { db } = context;
  const a = event.args;
  const ts = event.block.timestamp;
  const { gracePeriod } = await streamPayParameters(context);
  await db.insert(stream).values({
    id: a.streamId,
    sender: a.sender,
    recipient: a.recipient,
    providerId: a.providerId,
    asset: a.asset,
    ratePerSecond: a.ratePerSecond,
    startTime: a.startTime,
    stopTime: a.stopTime,
    endTime: null,
    abandonedAt: a.stopTime + gracePeriod,
    sessionKey: a.sessionKey === zeroAddress ? null : a.sessionKey,
    initialDeposit: a.depositAmount,
    toppedUp: 0n,
    topUpCount: 0,
    deposited: a.depositAmount,
    withdrawn: 0n,
    keeperRewards: 0n,
    refunded: 0n,
    voucherWithdrawals: 0,
    withdrawnByVoucher: 0n,
    status: "open",
    statusCode: StreamStatusCode.Open,
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
  const { gracePeriod } = await streamPayParameters(context);
  const s = await db.update(stream, { id: a.streamId }).set((row) => ({
    toppedUp: row.toppedUp + a.amount,
    topUpCount: row.topUpCount + 1,
    deposited: row.deposited + a.amount,
    stopTime: a.newStopTime,
    abandonedAt: a.newStopTime + gracePeriod,
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
  // Paid by a voucher: pushed to the recipient (a failed push shows up as PaymentDeferred).
  const s = await db.update(stream, { id: a.streamId }).set((row) => ({
    withdrawn: row.withdrawn + a.amount,
    voucherWithdrawals: row.voucherWithdrawals + 1,
    withdrawnByVoucher: row.withdrawnByVoucher + a.amount,
    lastVoucherCumulative: a.cumulative,
    lastWithdrawnAt: ts,
    updatedAt: ts,
  }));
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
    cumulative: a.cumulative,
  });
});

ponder.on("StreamPay:StreamCancelling", async ({ event, context }) => {
  const { db } = context;
  const a = event.args;
  const ts = event.block.timestamp;
  // Streaming stopped (now, or at the stop time), the part not streamed went back to the sender at once, and
  // the recipient's window to answer runs from the cancel's recorded end time.
  const { challengeWindow } = await streamPayParameters(context);
  const s = await db.update(stream, { id: a.streamId }).set((row) => ({
    status: "cancelling",
    statusCode: StreamStatusCode.Cancelling,
    endTime: a.challengeEndsAt - challengeWindow,
    cancelledAt: ts,
    cancelTxHash: event.transaction.hash,
    cancelRefund: a.senderAmount,
    challengeEndsAt: a.challengeEndsAt,
    refunded: row.refunded + a.senderAmount,
    updatedAt: ts,
  }));
  await addProtocol(db, s.asset, ts, { refunded: a.senderAmount, cancellingStreams: 1 });
  await logAction(db, event, {
    kind: "stream_cancelling",
    contract: "StreamPay",
    streamId: a.streamId,
    providerId: s.providerId,
    account: s.recipient,
    actor: a.sender,
    asset: s.asset,
    amount: a.senderAmount,
    senderAmount: a.senderAmount,
    status: "cancelling",
  });
});

ponder.on("StreamPay:StreamSettled", async ({ event, context }) => {
  const { db } = context;
  const a = event.args;
  const ts = event.block.timestamp;
  // An abandoned stream settled by time in a keeper's batch, and closed: this is its only close event. The
  // keeper is the batch's caller; BatchSettled names it later in the transaction, so a batch sent through
  // another contract gets its keeper there.
  const streamPay = context.contracts.StreamPay.address;
  const direct = event.transaction.to?.toLowerCase() === streamPay.toLowerCase();
  const before = await db.find(stream, { id: a.streamId });
  if (!before) throw new Error(`StreamSettled for unknown stream ${a.streamId}`);
  const s = await db.update(stream, { id: a.streamId }).set((row) => ({
    withdrawn: row.withdrawn + a.amount,
    keeperRewards: row.keeperRewards + a.keeperReward,
    status: "settled",
    statusCode: StreamStatusCode.Settled,
    endTime: ts, // when it was closed; everything had streamed by then
    closedBy: direct ? event.transaction.from : null,
    closedAt: ts,
    closeTxHash: event.transaction.hash,
    closeRecipientAmount: a.amount,
    closeSenderAmount: 0n,
    updatedAt: ts,
  }));
  const credit = a.amount - a.keeperReward;
  if (a.amount > 0n) await addProviderDay(db, s.providerId, s.asset, ts, { withdrawn: a.amount });
  await addProtocol(db, s.asset, ts, { streamsClosed: 1, withdrawn: a.amount, keeperRewards: a.keeperReward });
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
    status: "settled",
  });
});

ponder.on("StreamPay:StreamClosed", async ({ event, context }) => {
  const { db } = context;
  const a = event.args;
  const ts = event.block.timestamp;
  const before = await db.find(stream, { id: a.streamId });
  if (!before) throw new Error(`StreamClosed for unknown stream ${a.streamId}`);
  const status = closedStatus(a.status, a.closedBy, before.sender);
  const wasCancelling = before.statusCode === StreamStatusCode.Cancelling;
  let ending: Partial<typeof stream.$inferInsert>;
  if (a.status === StreamStatusCode.Cancelled && !wasCancelling) {
    // The sender cancelled a stream whose streamed part was all paid already: final at once.
    const { challengeWindow } = await streamPayParameters(context);
    ending = {
      endTime: ts,
      cancelledAt: ts,
      cancelTxHash: event.transaction.hash,
      cancelRefund: a.senderAmount,
      challengeEndsAt: ts + challengeWindow,
      cancelOutcome: "immediate",
    };
  } else if (wasCancelling) {
    const outcome = cancelEnding(ts, before.challengeEndsAt);
    ending = { cancelOutcome: outcome };
    if (outcome === "finalised") {
      const finalised = { finalisedCount: 1, finalisedRefunded: a.senderAmount };
      await addKeeperBatch(db, event, a.closedBy, before.asset, finalised);
    }
  } else {
    ending = { endTime: ts }; // closed with a receipt or a voucher
  }
  const s = await db.update(stream, { id: a.streamId }).set((row) => ({
    withdrawn: row.withdrawn + a.recipientAmount,
    refunded: row.refunded + a.senderAmount,
    status,
    statusCode: a.status,
    ...ending,
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
  await addProtocol(db, s.asset, ts, {
    streamsClosed: 1,
    cancellingStreams: wasCancelling ? -1 : 0,
    withdrawn: a.recipientAmount,
    refunded: a.senderAmount,
  });
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
  const streamPay = context.contracts.StreamPay.address;
  if (event.transaction.to?.toLowerCase() !== streamPay.toLowerCase()) {
    // Sent through another contract: the streams this batch settled learn their keeper now.
    await db.sql
      .update(stream)
      .set({ closedBy: a.keeper })
      .where(and(eq(stream.closeTxHash, event.transaction.hash), eq(stream.asset, a.asset), isNull(stream.closedBy)));
  }
  // Per asset, the abandoned streams this batch settled (cancels it finalised were counted at their close).
  await addKeeperBatch(db, event, a.keeper, a.asset, {
    settledCount: Number(a.streamCount),
    settledAmount: a.settledAmount,
    reward: a.reward,
  });
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
