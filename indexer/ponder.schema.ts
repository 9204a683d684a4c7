/**
 * The indexer's tables: every ComputeRegistry and StreamPay event projected into queryable state.
 * snake_case table names, `bigint` (numeric(78)) amounts in the asset's smallest unit, unix-second
 * timestamps, lower-case hex addresses. GraphQL exposes each table by its TypeScript name (`stream`,
 * `streams`, ...) with camelCase fields; SQL over HTTP sees the snake_case names.
 *
 * Time-dependent state (a stream that ran past its stop time is "depleted", and how much it has
 * streamed) is answered by the `stream_view` view, which is evaluated at query time.
 */
import { bigint, boolean, hex, index, integer, onchainTable, onchainView, primaryKey, relations, sql, text } from "ponder";

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
 * A payment stream. `status` is the stored lifecycle: open | settled | cancelled | closed_by_receipt |
 * closed_by_recipient. Whether an open stream is depleted depends on the time of the query: read
 * `stream_view` for that.
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
    /** The deposit at creation (dust already returned). */
    initialDeposit: t.bigint().notNull(),
    /** Sum of top-ups (dust already returned). */
    toppedUp: t.bigint().notNull(),
    topUpCount: t.integer().notNull(),
    /** initialDeposit + toppedUp = ratePerSecond × (stopTime − startTime). */
    deposited: t.bigint().notNull(),
    /**
     * Everything that left the stream on the recipient's side (withdrawals, keeper settlements incl. the
     * keeper's reward, and the close credit): the contract's `withdrawn`.
     */
    withdrawn: t.bigint().notNull(),
    /** Part of `withdrawn` paid to keepers as their reward. */
    keeperRewards: t.bigint().notNull(),
    /** What went back to the sender on close (0 while open). */
    refunded: t.bigint().notNull(),
    status: t.text().notNull(),
    /** On-chain StreamStatus code: 1 Open, 2 Settled, 3 Cancelled, 4 Closed. */
    statusCode: t.integer().notNull(),
    closedBy: t.hex(),
    closedAt: t.bigint(),
    closeTxHash: t.hex(),
    /** The close's own credit to the recipient and refund to the sender (StreamClosed amounts). */
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
    /** The event's main amount: deposit, top-up, withdrawal, settled amount, stake, earned, score... */
    amount: t.bigint(),
    /** StreamClosed: credited to the recipient by the close; StreamSettled: credited net of the reward. */
    recipientAmount: t.bigint(),
    /** StreamClosed: returned to the sender. */
    senderAmount: t.bigint(),
    /** StreamSettled / BatchSettled: the keeper's reward. */
    keeperReward: t.bigint(),
    /** Dust returned at create / top-up. */
    dustReturned: t.bigint(),
    /** StreamClosed: the on-chain status it closed with (settled, cancelled, closed_by_receipt, ...). */
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

/** One BatchSettled event: a keeper's batchUpdateStreams call, per asset. */
export const keeperBatch = onchainTable(
  "keeper_batch",
  (t) => ({
    id: t.text().primaryKey(),
    keeper: t.hex().notNull(),
    asset: t.hex().notNull(),
    streamCount: t.integer().notNull(),
    /** Gross amount settled (reward included). */
    settledAmount: t.bigint().notNull(),
    reward: t.bigint().notNull(),
    txHash: t.hex().notNull(),
    blockNumber: t.bigint().notNull(),
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
  /** Created − closed (depleted-but-unsettled streams count as open here). */
  openStreams: t.integer().notNull(),
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
 * Streams as of NOW, evaluated when queried (GraphQL `streamViews`, SQL `stream_view`):
 * - as_of = max(wall clock of the database, timestamp of the newest indexed event), so a chain whose
 *   time runs ahead of the wall clock (dev chains, time warps) is still answered correctly;
 * - status adds "depleted": open on-chain but past its stop time (no event marks this);
 * - streamed = rate × (min(as_of, stop) − start) while open, frozen at `withdrawn` once closed —
 *   the contract's `streamedAmountOf`; withdrawable and refundable likewise.
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
  initialDeposit: bigint("initial_deposit").notNull(),
  toppedUp: bigint("topped_up").notNull(),
  deposited: bigint("deposited").notNull(),
  withdrawn: bigint("withdrawn").notNull(),
  keeperRewards: bigint("keeper_rewards").notNull(),
  refunded: bigint("refunded").notNull(),
  /** open | depleted | settled | cancelled | closed_by_receipt | closed_by_recipient */
  status: text("status").notNull(),
  statusCode: integer("status_code").notNull(),
  depleted: boolean("depleted").notNull(),
  streamed: bigint("streamed").notNull(),
  withdrawable: bigint("withdrawable").notNull(),
  refundable: bigint("refundable").notNull(),
  /** Seconds of runway left (0 once depleted or closed). */
  secondsLeft: bigint("seconds_left").notNull(),
  closedBy: hex("closed_by"),
  closedAt: bigint("closed_at"),
  rating: integer("rating"),
  createdAt: bigint("created_at").notNull(),
  createdTxHash: hex("created_tx_hash").notNull(),
  asOf: bigint("as_of").notNull(),
}).as(sql`
  SELECT s.id, s.sender, s.recipient, s.provider_id, s.asset, s.rate_per_second, s.start_time, s.stop_time,
    s.initial_deposit, s.topped_up, s.deposited, s.withdrawn, s.keeper_rewards, s.refunded,
    CASE WHEN s.status_code = 1 AND c.now >= s.stop_time THEN 'depleted' ELSE s.status END AS status,
    s.status_code,
    (s.status_code = 1 AND c.now >= s.stop_time) AS depleted,
    CASE WHEN s.status_code <> 1 THEN s.withdrawn
         WHEN c.now <= s.start_time THEN 0
         ELSE s.rate_per_second * (LEAST(c.now, s.stop_time) - s.start_time) END AS streamed,
    CASE WHEN s.status_code <> 1 THEN 0
         WHEN c.now <= s.start_time THEN 0 - s.withdrawn
         ELSE s.rate_per_second * (LEAST(c.now, s.stop_time) - s.start_time) - s.withdrawn END AS withdrawable,
    CASE WHEN s.status_code <> 1 THEN 0
         WHEN c.now <= s.start_time THEN s.deposited
         ELSE s.deposited - s.rate_per_second * (LEAST(c.now, s.stop_time) - s.start_time) END AS refundable,
    CASE WHEN s.status_code = 1 AND c.now < s.stop_time THEN s.stop_time - GREATEST(c.now, s.start_time) ELSE 0 END AS seconds_left,
    s.closed_by, s.closed_at, s.rating, s.created_at, s.created_tx_hash,
    c.now AS as_of
  FROM ${stream} s
  CROSS JOIN (
    SELECT GREATEST(FLOOR(EXTRACT(EPOCH FROM NOW())), COALESCE(MAX(a.timestamp), 0))::numeric(78) AS now
    FROM ${actionLog} a
  ) c
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
