/**
 * The indexer's tables: every ComputeRegistry and StreamPay event projected into queryable state.
 * snake_case table names, `bigint` (numeric(78)) amounts in the asset's smallest unit, unix-second
 * timestamps, lower-case hex addresses. GraphQL exposes each table by its TypeScript name (`stream`,
 * `streams`, ...) with camelCase fields; SQL over HTTP sees the snake_case names.
 *
 * Time-dependent state (a stream past its stop time is "depleted", past stopTime + grace "abandoned", a
 * cancel past its challenge window is waiting to be finalised, how much has streamed) is answered by the
 * `stream_view` view, which is evaluated at query time.
 */
import {
  bigint,
  boolean,
  hex,
  index,
  integer,
  onchainTable,
  onchainView,
  primaryKey,
  relations,
  sql,
  text,
} from "ponder";
import { StreamStatusCode } from "@clawcompute/sdk";

/** A provider's current terms and stats, as the registry holds them. */
export const provider = onchainTable(
  "provider",
  (t) => ({
    id: t.bigint().primaryKey(),
    wallet: t.hex().notNull(),
    model: t.text().notNull(),
    modelHash: t.hex().notNull(),
    /** 0x000…0 = native coin, else the ERC-20 the provider is paid in (fixed at registration). */
    asset: t.hex().notNull(),
    pricePerSecond: t.bigint().notNull(),
    endpoint: t.text().notNull(),
    serviceType: t.text().notNull(),
    active: t.boolean().notNull(),
    /** Native-coin stake currently locked, in wei. */
    stake: t.bigint().notNull(),
    registeredAt: t.bigint().notNull(),
    registeredBlock: t.bigint().notNull(),
    /** Unix seconds of the last deactivation (null if never deactivated). */
    deactivatedAt: t.bigint(),
    unstakeAvailableAt: t.bigint(),
    /** Closed streams that paid this provider anything (the registry's counter). */
    requestsServed: t.bigint().notNull(),
    /** Sum of what closed streams paid this provider (the registry's counter), asset units. */
    totalEarned: t.bigint().notNull(),
    ratingCount: t.integer().notNull(),
    ratingSum: t.integer().notNull(),
    /** ratingSum / ratingCount, null before the first rating. */
    ratingAverage: t.doublePrecision(),
    /** Streams ever opened to this provider. */
    streamCount: t.integer().notNull(),
    /** Deposits and top-ups ever escrowed for this provider, asset units. */
    totalDeposited: t.bigint().notNull(),
    updatedAt: t.bigint().notNull(),
  }),
  (table) => ({
    modelIdx: index().on(table.model),
    walletIdx: index().on(table.wallet),
  }),
);

/**
 * A payment stream as its events left it. `status` is the stored lifecycle: open | cancelling | settled |
 * cancelled | closed_by_receipt | closed_by_recipient. What depends on the time of the query (depleted,
 * abandoned, a challenge window that ran out, how much has streamed) is answered by `stream_view`.
 */
export const stream = onchainTable(
  "stream",
  (t) => ({
    id: t.bigint().primaryKey(),
    sender: t.hex().notNull(),
    recipient: t.hex().notNull(),
    providerId: t.bigint().notNull(),
    asset: t.hex().notNull(),
    ratePerSecond: t.bigint().notNull(),
    startTime: t.bigint().notNull(),
    stopTime: t.bigint().notNull(),
    /**
     * When it was cancelled or closed (the contract's endTime; streaming stops there, or at stopTime); null
     * while open.
     */
    endTime: t.bigint(),
    /** stopTime + StreamPay's grace period: from then on an open stream is abandoned, settled by anyone. */
    abandonedAt: t.bigint().notNull(),
    /** The session key named at creation (signs vouchers for the sender on this stream), or null. */
    sessionKey: t.hex(),
    /** The deposit at creation (dust already returned). */
    initialDeposit: t.bigint().notNull(),
    /** Sum of top-ups (dust already returned). */
    toppedUp: t.bigint().notNull(),
    topUpCount: t.integer().notNull(),
    /** initialDeposit + toppedUp = ratePerSecond × (stopTime − startTime). */
    deposited: t.bigint().notNull(),
    /**
     * Everything paid on the recipient's side: voucher withdrawals, a keeper's settlement of an abandoned
     * stream (the keeper's reward included) and the close's credit. The contract's `withdrawn`.
     */
    withdrawn: t.bigint().notNull(),
    /** Part of `withdrawn` paid to keepers as their reward. */
    keeperRewards: t.bigint().notNull(),
    /** Everything that went back to the sender: the part refunded at once by a cancel, then the close's. */
    refunded: t.bigint().notNull(),
    /** StreamWithdrawn events: withdrawals by voucher (anyone may send one; the recipient is paid). */
    voucherWithdrawals: t.integer().notNull(),
    /** Sum of those withdrawals (part of `withdrawn`). */
    withdrawnByVoucher: t.bigint().notNull(),
    /** The cumulative amount of the voucher of the latest withdrawal, null before the first. */
    lastVoucherCumulative: t.bigint(),
    lastWithdrawnAt: t.bigint(),
    status: t.text().notNull(),
    /** On-chain StreamStatus code: 1 Open, 2 Settled, 3 Cancelled, 4 Closed, 5 Cancelling. */
    statusCode: t.integer().notNull(),
    /** Unix seconds of the sender's cancel, null if it never cancelled. */
    cancelledAt: t.bigint(),
    cancelTxHash: t.hex(),
    /** What the cancel returned to the sender at once (the part not streamed yet). */
    cancelRefund: t.bigint(),
    /**
     * Until when the recipient may answer the cancel with its best voucher (the contract's challengeEndsAt;
     * for a cancel that was final at once, when that window would have ended). Null without a cancel.
     */
    challengeEndsAt: t.bigint(),
    /**
     * How a cancel ended: `immediate` (everything streamed was already paid, nothing to answer),
     * `answered` (the recipient closed it with a voucher), `finalised` (nobody answered; someone finalised
     * it after the window: `closedBy`). Null while cancelling or without a cancel.
     */
    cancelOutcome: t.text(),
    /** Who closed it: the sender (receipt, or an immediate cancel), the recipient, or the keeper/finaliser. */
    closedBy: t.hex(),
    closedAt: t.bigint(),
    closeTxHash: t.hex(),
    /**
     * The close's own payment to the recipient side and refund to the sender (StreamClosed amounts; for a
     * settled stream, StreamSettled's amount, the keeper's reward included, and 0).
     */
    closeRecipientAmount: t.bigint(),
    closeSenderAmount: t.bigint(),
    /** The sender's 1–5 rating of the provider, once given. */
    rating: t.integer(),
    createdAt: t.bigint().notNull(),
    createdBlock: t.bigint().notNull(),
    createdTxHash: t.hex().notNull(),
    updatedAt: t.bigint().notNull(),
  }),
  (table) => ({
    senderIdx: index().on(table.sender),
    recipientIdx: index().on(table.recipient),
    providerIdx: index().on(table.providerId),
    statusIdx: index().on(table.status),
    abandonedIdx: index().on(table.abandonedAt),
    challengeIdx: index().on(table.challengeEndsAt),
  }),
);

/** One row per event, in chain order (`id` = Ponder's event id, which sorts chronologically). */
export const actionLog = onchainTable(
  "action_log",
  (t) => ({
    id: t.text().primaryKey(),
    /** Event name in snake_case, e.g. stream_created, stream_closed, provider_rated. */
    kind: t.text().notNull(),
    contract: t.text().notNull(),
    streamId: t.bigint(),
    providerId: t.bigint(),
    /** Who the event is about: sender, recipient, provider wallet, rater, keeper, or account. */
    account: t.hex(),
    /** Who caused it: the event's caller/closedBy where the contract records one, else the tx sender. */
    actor: t.hex().notNull(),
    asset: t.hex(),
    /** The event's main amount: deposit, top-up, withdrawal, refund, settled amount, stake, earned, score... */
    amount: t.bigint(),
    /** StreamClosed: credited to the recipient by the close; StreamSettled: credited net of the reward. */
    recipientAmount: t.bigint(),
    /** StreamClosed: returned to the sender by the close; StreamCancelling: returned at once by the cancel. */
    senderAmount: t.bigint(),
    /** StreamWithdrawn: the voucher's cumulative amount (everything the payer agreed to pay on the stream). */
    cumulative: t.bigint(),
    /** StreamSettled / BatchSettled: the keeper's reward. */
    keeperReward: t.bigint(),
    /** Dust returned at create / top-up. */
    dustReturned: t.bigint(),
    /** StreamClosed: the stored status it closed with (settled, cancelled, closed_by_receipt, ...). */
    status: t.text(),
    /** Every event argument (amounts as decimal strings). */
    args: t.json().notNull(),
    txHash: t.hex().notNull(),
    txFrom: t.hex().notNull(),
    blockNumber: t.bigint().notNull(),
    blockHash: t.hex().notNull(),
    logIndex: t.integer().notNull(),
    timestamp: t.bigint().notNull(),
  }),
  (table) => ({
    streamIdx: index().on(table.streamId),
    providerIdx: index().on(table.providerId),
    kindIdx: index().on(table.kind),
    actorIdx: index().on(table.actor),
    txIdx: index().on(table.txHash),
    timestampIdx: index().on(table.timestamp),
  }),
);

/** A sender's rating of the provider of one closed stream (one per stream). */
export const rating = onchainTable(
  "rating",
  (t) => ({
    streamId: t.bigint().primaryKey(),
    providerId: t.bigint().notNull(),
    rater: t.hex().notNull(),
    score: t.integer().notNull(),
    txHash: t.hex().notNull(),
    blockNumber: t.bigint().notNull(),
    timestamp: t.bigint().notNull(),
  }),
  (table) => ({ providerIdx: index().on(table.providerId) }),
);

/**
 * One batchUpdateStreams call (per transaction and asset) that closed something: abandoned streams it
 * settled by time (with the BatchSettled totals) and cancels it finalised after their challenge window.
 */
export const keeperBatch = onchainTable(
  "keeper_batch",
  (t) => ({
    /** `<txHash>:<asset>` */
    id: t.text().primaryKey(),
    keeper: t.hex().notNull(),
    asset: t.hex().notNull(),
    /** Streams this batch closed in this asset: settledCount + finalisedCount. */
    streamCount: t.integer().notNull(),
    /** Abandoned streams settled by time (BatchSettled.streamCount). */
    settledCount: t.integer().notNull(),
    /** Gross amount settled to recipients (reward included). */
    settledAmount: t.bigint().notNull(),
    reward: t.bigint().notNull(),
    /** Cancels finalised unanswered, and what they returned to their senders. */
    finalisedCount: t.integer().notNull(),
    finalisedRefunded: t.bigint().notNull(),
    txHash: t.hex().notNull(),
    blockNumber: t.bigint().notNull(),
    /** Log index of the batch's first event in this asset. */
    logIndex: t.integer().notNull(),
    timestamp: t.bigint().notNull(),
  }),
  (table) => ({ keeperIdx: index().on(table.keeper), timestampIdx: index().on(table.timestamp) }),
);

/** A keeper's running totals per asset. */
export const keeper = onchainTable(
  "keeper",
  (t) => ({
    keeper: t.hex().notNull(),
    asset: t.hex().notNull(),
    batches: t.integer().notNull(),
    streamsSettled: t.integer().notNull(),
    settledAmount: t.bigint().notNull(),
    rewards: t.bigint().notNull(),
    cancelsFinalised: t.integer().notNull(),
    finalisedRefunded: t.bigint().notNull(),
    firstBatchAt: t.bigint().notNull(),
    lastBatchAt: t.bigint().notNull(),
  }),
  (table) => ({ pk: primaryKey({ columns: [table.keeper, table.asset] }) }),
);

/**
 * Per provider and UTC day: `earned` and `requests` from the registry's completions (a stream counts on
 * the day it closed; Σ earned over days = provider.totalEarned), streams opened and deposits made that
 * day, and `withdrawn` = what left its streams on the recipient side that day (cash basis).
 */
export const providerDay = onchainTable(
  "provider_day",
  (t) => ({
    providerId: t.bigint().notNull(),
    /** UTC date, YYYY-MM-DD. */
    day: t.text().notNull(),
    /** Unix seconds of the day's 00:00 UTC. */
    dayStart: t.bigint().notNull(),
    asset: t.hex().notNull(),
    earned: t.bigint().notNull(),
    requests: t.integer().notNull(),
    streamsOpened: t.integer().notNull(),
    deposited: t.bigint().notNull(),
    withdrawn: t.bigint().notNull(),
  }),
  (table) => ({
    pk: primaryKey({ columns: [table.providerId, table.day] }),
    dayIdx: index().on(table.dayStart),
  }),
);

/**
 * Protocol totals per asset. escrowed = deposited − withdrawn − refunded is what open streams still
 * hold; StreamPay's balance of the asset = escrowed + Σ account_balance + nothing else.
 */
export const protocolTotal = onchainTable("protocol_total", (t) => ({
  asset: t.hex().primaryKey(),
  streamsCreated: t.integer().notNull(),
  streamsClosed: t.integer().notNull(),
  /** Created − closed: streams still holding escrow (depleted, abandoned and cancelling ones included). */
  openStreams: t.integer().notNull(),
  /** Of those, streams cancelled by their sender and waiting for the recipient's answer or finalisation. */
  cancellingStreams: t.integer().notNull(),
  deposited: t.bigint().notNull(),
  withdrawn: t.bigint().notNull(),
  keeperRewards: t.bigint().notNull(),
  refunded: t.bigint().notNull(),
  escrowed: t.bigint().notNull(),
  /** Σ of completions (the registry's totalEarned over this asset's providers). */
  earned: t.bigint().notNull(),
  /** Σ claimable balances held in StreamPay (balanceOf) in this asset. */
  pendingBalances: t.bigint().notNull(),
  providers: t.integer().notNull(),
  updatedAt: t.bigint().notNull(),
}));

/** StreamPay's claimable balance of an account in an asset (`balanceOf(account, asset)`). */
export const accountBalance = onchainTable(
  "account_balance",
  (t) => ({
    account: t.hex().notNull(),
    asset: t.hex().notNull(),
    balance: t.bigint().notNull(),
    credited: t.bigint().notNull(),
    withdrawn: t.bigint().notNull(),
    updatedAt: t.bigint().notNull(),
  }),
  (table) => ({ pk: primaryKey({ columns: [table.account, table.asset] }) }),
);

/**
 * The chain's clock as the indexer last saw it: the newest block it indexed (every block from its start
 * on, not only blocks with events). `stream_view` reads it, so a chain whose time runs ahead of the wall
 * clock (a local chain after a time warp) is answered at the chain's time.
 */
export const chainClock = onchainTable("chain_clock", (t) => ({
  chainId: t.integer().primaryKey(),
  blockNumber: t.bigint().notNull(),
  timestamp: t.bigint().notNull(),
}));

// The SDK's status codes, written into the view's SQL (never a copy of the numbers).
const OPEN = sql.raw(String(StreamStatusCode.Open));
const CANCELLING = sql.raw(String(StreamStatusCode.Cancelling));
const SETTLED = sql.raw(String(StreamStatusCode.Settled));
const CANCELLED = sql.raw(String(StreamStatusCode.Cancelled));

/**
 * Streams as of NOW, evaluated when queried (GraphQL `streamViews`, SQL `stream_view`):
 * - as_of = max(wall clock of the database, timestamp of the newest indexed block and event), so a chain
 *   whose time runs ahead of the wall clock (dev chains, time warps) is still answered correctly;
 * - status: open | depleted (past its stop time) | abandoned (past stopTime + grace: anyone may settle it)
 *   | cancelling | challenge_expired (cancelling past its window: only finalisation, by anyone, is left) |
 *   settled | cancelled | closed;
 * - streamed = rate × (min(as_of, stopTime, endTime) − startTime): the contract's `streamedAmountOf`, a cap
 *   by time that stops when a cancel or close stopped the stream; withdrawable and refundable likewise.
 */
export const streamView = onchainView("stream_view", {
  id: bigint("id").notNull(),
  sender: hex("sender").notNull(),
  recipient: hex("recipient").notNull(),
  providerId: bigint("provider_id").notNull(),
  asset: hex("asset").notNull(),
  ratePerSecond: bigint("rate_per_second").notNull(),
  startTime: bigint("start_time").notNull(),
  stopTime: bigint("stop_time").notNull(),
  endTime: bigint("end_time"),
  abandonedAt: bigint("abandoned_at").notNull(),
  sessionKey: hex("session_key"),
  initialDeposit: bigint("initial_deposit").notNull(),
  toppedUp: bigint("topped_up").notNull(),
  deposited: bigint("deposited").notNull(),
  withdrawn: bigint("withdrawn").notNull(),
  keeperRewards: bigint("keeper_rewards").notNull(),
  refunded: bigint("refunded").notNull(),
  voucherWithdrawals: integer("voucher_withdrawals").notNull(),
  withdrawnByVoucher: bigint("withdrawn_by_voucher").notNull(),
  lastVoucherCumulative: bigint("last_voucher_cumulative"),
  /** open | depleted | abandoned | cancelling | challenge_expired | settled | cancelled | closed */
  status: text("status").notNull(),
  /** The stored status (open | cancelling | settled | cancelled | closed_by_receipt | closed_by_recipient). */
  storedStatus: text("stored_status").notNull(),
  statusCode: integer("status_code").notNull(),
  /** Open and past its stop time (abandoned streams included), as the contract's `depleted`. */
  depleted: boolean("depleted").notNull(),
  /** Open and past stopTime + grace: anyone may settle it by time. */
  abandoned: boolean("abandoned").notNull(),
  streamed: bigint("streamed").notNull(),
  /**
   * The most the recipient could still take now: streamed − withdrawn while open, or cancelling inside the
   * challenge window (with a voucher for at least `streamed`; the contract's withdrawableAmountOf), else 0.
   */
  withdrawable: bigint("withdrawable").notNull(),
  /** What a cancel now would return to the sender at once: deposited − streamed while open, else 0. */
  refundable: bigint("refundable").notNull(),
  /** Seconds of runway left (0 once depleted, cancelled or closed). */
  secondsLeft: bigint("seconds_left").notNull(),
  cancelledAt: bigint("cancelled_at"),
  cancelRefund: bigint("cancel_refund"),
  challengeEndsAt: bigint("challenge_ends_at"),
  /** Seconds the recipient still has to answer a cancel (0 when it ran out or without a pending cancel). */
  challengeSecondsLeft: bigint("challenge_seconds_left").notNull(),
  cancelOutcome: text("cancel_outcome"),
  closedBy: hex("closed_by"),
  closedAt: bigint("closed_at"),
  rating: integer("rating"),
  createdAt: bigint("created_at").notNull(),
  createdTxHash: hex("created_tx_hash").notNull(),
  asOf: bigint("as_of").notNull(),
}).as(sql`
  SELECT s.id, s.sender, s.recipient, s.provider_id, s.asset, s.rate_per_second, s.start_time, s.stop_time,
    s.end_time, s.abandoned_at, s.session_key, s.initial_deposit, s.topped_up, s.deposited, s.withdrawn,
    s.keeper_rewards, s.refunded, s.voucher_withdrawals, s.withdrawn_by_voucher, s.last_voucher_cumulative,
    CASE
      WHEN s.status_code = ${OPEN} AND c.now >= s.abandoned_at THEN 'abandoned'
      WHEN s.status_code = ${OPEN} AND c.now >= s.stop_time THEN 'depleted'
      WHEN s.status_code = ${OPEN} THEN 'open'
      WHEN s.status_code = ${CANCELLING} AND c.now >= s.challenge_ends_at THEN 'challenge_expired'
      WHEN s.status_code = ${CANCELLING} THEN 'cancelling'
      WHEN s.status_code = ${SETTLED} THEN 'settled'
      WHEN s.status_code = ${CANCELLED} THEN 'cancelled'
      ELSE 'closed'
    END AS status,
    s.status AS stored_status,
    s.status_code,
    (s.status_code = ${OPEN} AND c.now >= s.stop_time) AS depleted,
    (s.status_code = ${OPEN} AND c.now >= s.abandoned_at) AS abandoned,
    x.streamed,
    CASE WHEN s.status_code = ${OPEN} OR (s.status_code = ${CANCELLING} AND c.now < s.challenge_ends_at)
      THEN GREATEST(x.streamed - s.withdrawn, 0) ELSE 0 END AS withdrawable,
    CASE WHEN s.status_code = ${OPEN} THEN s.deposited - x.streamed ELSE 0 END AS refundable,
    CASE WHEN s.status_code = ${OPEN} AND c.now < s.stop_time THEN s.stop_time - GREATEST(c.now, s.start_time)
      ELSE 0 END AS seconds_left,
    s.cancelled_at, s.cancel_refund, s.challenge_ends_at,
    CASE WHEN s.status_code = ${CANCELLING} AND c.now < s.challenge_ends_at THEN s.challenge_ends_at - c.now
      ELSE 0 END AS challenge_seconds_left,
    s.cancel_outcome, s.closed_by, s.closed_at, s.rating, s.created_at, s.created_tx_hash,
    c.now AS as_of
  FROM ${stream} s
  CROSS JOIN (
    SELECT GREATEST(FLOOR(EXTRACT(EPOCH FROM NOW())), COALESCE(MAX(k.timestamp), 0), COALESCE(MAX(e.newest), 0))
      ::numeric(78) AS now
    FROM (SELECT MAX(a.timestamp) AS newest FROM ${actionLog} a) e
    LEFT JOIN ${chainClock} k ON TRUE
  ) c
  CROSS JOIN LATERAL (
    SELECT s.rate_per_second
      * GREATEST(LEAST(c.now, s.stop_time, COALESCE(s.end_time, s.stop_time)) - s.start_time, 0) AS streamed
  ) x
`);

export const providerRelations = relations(provider, ({ many }) => ({
  streams: many(stream),
  days: many(providerDay),
  ratings: many(rating),
  actions: many(actionLog),
}));

export const streamRelations = relations(stream, ({ one, many }) => ({
  provider: one(provider, { fields: [stream.providerId], references: [provider.id] }),
  actions: many(actionLog),
}));

export const actionLogRelations = relations(actionLog, ({ one }) => ({
  stream: one(stream, { fields: [actionLog.streamId], references: [stream.id] }),
  provider: one(provider, { fields: [actionLog.providerId], references: [provider.id] }),
}));

export const ratingRelations = relations(rating, ({ one }) => ({
  provider: one(provider, { fields: [rating.providerId], references: [provider.id] }),
  stream: one(stream, { fields: [rating.streamId], references: [stream.id] }),
}));

export const providerDayRelations = relations(providerDay, ({ one }) => ({
  provider: one(provider, { fields: [providerDay.providerId], references: [provider.id] }),
}));
