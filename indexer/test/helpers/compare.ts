/**
 * The core assertion of the suite: what the indexer serves over GraphQL equals what the contracts report
 * by eth_call and what their logs say — amounts to the wei, statuses, counts, one action row per event.
 * The query-time view is checked against the contract evaluated at the view's own "now" (eth_call with
 * the block's time overridden), so every time-dependent figure is compared exactly too.
 */
import { expect } from "vitest";
import {
  type Address,
  type Hex,
  erc20Abi,
  getAbiItem,
  getAddress,
  maxUint256,
  toFunctionSelector,
  zeroAddress,
} from "viem";
import { StreamStatusCode, computeRegistryAbi, streamPayAbi, streamStateAt } from "@clawcompute/sdk";
import { NATIVE, type Protocol } from "./protocol.ts";
import type { RunningIndexer } from "./indexer.ts";

const lc = (a: string) => a.toLowerCase();
const big = (v: unknown) => (v === null || v === undefined ? null : BigInt(v as string));
const snake = (name: string) => name.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toLowerCase();
const BATCH_SELECTOR = toFunctionSelector(getAbiItem({ abi: streamPayAbi, name: "batchUpdateStreams" }));

const PROVIDER_FIELDS = `id wallet model modelHash asset pricePerSecond endpoint serviceType active stake registeredAt
  deactivatedAt unstakeAvailableAt requestsServed totalEarned ratingCount ratingSum ratingAverage streamCount
  totalDeposited`;
const STREAM_FIELDS = `id sender recipient providerId asset ratePerSecond startTime stopTime endTime abandonedAt
  sessionKey initialDeposit toppedUp topUpCount deposited withdrawn keeperRewards refunded voucherWithdrawals
  withdrawnByVoucher lastVoucherCumulative lastWithdrawnAt status statusCode cancelledAt cancelTxHash cancelRefund
  challengeEndsAt cancelOutcome closedBy closedAt closeTxHash closeRecipientAmount closeSenderAmount rating`;
const VIEW_FIELDS = `id status storedStatus statusCode depleted abandoned streamed withdrawable refundable secondsLeft
  deposited withdrawn refunded keeperRewards asOf startTime stopTime endTime abandonedAt sessionKey challengeEndsAt
  challengeSecondsLeft cancelledAt cancelRefund cancelOutcome voucherWithdrawals withdrawnByVoucher
  lastVoucherCumulative ratePerSecond`;

export type ChainSnapshot = { streams: number; providers: number; logs: number };

/** The view's status as of `now`, from the contract's stored status (the SDK's states plus the window's end). */
export function expectedViewStatus(
  c: { status: number; stopTime: bigint; challengeEndsAt: bigint },
  now: bigint,
  gracePeriod: bigint,
): string {
  const state = streamStateAt(c.status, c.stopTime, now, gracePeriod);
  return state === "cancelling" && now >= c.challengeEndsAt ? "challenge_expired" : state;
}

/** Every indexed table compared with the chain. Returns the sizes it checked. */
export async function expectIndexerMatchesChain(p: Protocol, indexer: RunningIndexer): Promise<ChainSnapshot> {
  const client = p.client;
  const head = await client.getBlock();
  const at = { blockNumber: head.number } as const;
  const [gracePeriod, challengeWindow] = await Promise.all([p.gracePeriod(), p.challengeWindow()]);
  const blockTime = new Map<bigint, bigint>();
  const timeOf = async (blockNumber: bigint) => {
    if (!blockTime.has(blockNumber)) blockTime.set(blockNumber, (await client.getBlock({ blockNumber })).timestamp);
    return blockTime.get(blockNumber)!;
  };

  // ---------------------------------------------------------------- providers
  const providerCount = Number(
    await client.readContract({ address: p.registry, abi: computeRegistryAbi, functionName: "providerCount", ...at }),
  );
  const gqlProviders = await indexer.graphql<{ providers: { items: any[]; totalCount: number } }>(
    `{ providers(limit: 1000, orderBy: "id") { totalCount items { ${PROVIDER_FIELDS} } } }`,
  );
  expect(gqlProviders.providers.totalCount).toBe(providerCount);
  const byProvider = new Map(gqlProviders.providers.items.map((row) => [BigInt(row.id), row]));
  const chainProviders = [];
  for (let id = 1n; id <= BigInt(providerCount); id++) {
    const c = await client.readContract({
      address: p.registry,
      abi: computeRegistryAbi,
      functionName: "getProvider",
      args: [id],
      ...at,
    });
    chainProviders.push(c);
    const row = byProvider.get(id);
    expect(row, `provider ${id}`).toBeDefined();
    expect(
      {
        wallet: row.wallet,
        asset: row.asset,
        pricePerSecond: big(row.pricePerSecond),
        active: row.active,
        stake: big(row.stake),
        registeredAt: big(row.registeredAt),
        deactivatedAt: big(row.deactivatedAt) ?? 0n,
        requestsServed: big(row.requestsServed),
        totalEarned: big(row.totalEarned),
        ratingCount: BigInt(row.ratingCount),
        ratingSum: BigInt(row.ratingSum),
        model: row.model,
        endpoint: row.endpoint,
        serviceType: row.serviceType,
      },
      `provider ${id}`,
    ).toEqual({
      wallet: lc(c.wallet),
      asset: lc(c.asset),
      pricePerSecond: c.pricePerSecond,
      active: c.active,
      stake: c.stake,
      registeredAt: c.registeredAt,
      deactivatedAt: c.deactivatedAt,
      requestsServed: c.requestsServed,
      totalEarned: c.totalEarned,
      ratingCount: c.ratingCount,
      ratingSum: c.ratingSum,
      model: c.model,
      endpoint: c.endpoint,
      serviceType: c.serviceType,
    });
    if (c.ratingCount > 0n) expect(row.ratingAverage).toBeCloseTo(Number(c.ratingSum) / Number(c.ratingCount), 12);
    else expect(row.ratingAverage).toBeNull();
  }

  // ---------------------------------------------------------------- StreamPay's logs, per stream
  const range = { fromBlock: 0n, toBlock: head.number } as const;
  const events = await client.getContractEvents({ address: p.streamPay, abi: streamPayAbi, ...range });
  // Whether a transaction ran batchUpdateStreams, directly or through another contract: from anvil's call trace,
  // independently of how the indexer tells (it sees only the events and the transaction).
  type Frame = { to?: string; input?: string; calls?: Frame[] };
  const ranBatch = new Map<Hex, boolean>();
  const isBatch = async (hash: Hex) => {
    if (!ranBatch.has(hash)) {
      const trace = (await client.request({
        method: "debug_traceTransaction" as never,
        params: [hash, { tracer: "callTracer" }] as never,
      })) as Frame;
      const walk = (f: Frame): boolean =>
        (lc(f.to ?? "") === lc(p.streamPay) && (f.input ?? "").startsWith(BATCH_SELECTOR)) ||
        (f.calls ?? []).some(walk);
      ranBatch.set(hash, walk(trace));
    }
    return ranBatch.get(hash)!;
  };
  type StreamLogs = { withdrawals: (typeof events)[number][]; rewards: bigint; cancel?: (typeof events)[number] };
  const logsOf = new Map<bigint, StreamLogs>();
  const streamLogs = (id: bigint) => {
    if (!logsOf.has(id)) logsOf.set(id, { withdrawals: [], rewards: 0n });
    return logsOf.get(id)!;
  };
  for (const e of events) {
    if (e.eventName === "StreamWithdrawn") streamLogs(e.args.streamId!).withdrawals.push(e);
    if (e.eventName === "StreamSettled") streamLogs(e.args.streamId!).rewards += e.args.keeperReward!;
    if (e.eventName === "StreamCancelling") streamLogs(e.args.streamId!).cancel = e;
  }
  // A stream's close: its StreamClosed, or for an abandoned stream settled by a keeper its StreamSettled.
  const closing = events.filter((e) => e.eventName === "StreamClosed" || e.eventName === "StreamSettled");
  const closeOf = new Map(closing.map((e) => [(e.args as { streamId: bigint }).streamId, e]));
  const keeperOf = new Map<string, Address>(); // `${txHash}:${asset}` -> the batch's keeper
  for (const e of events) {
    if (e.eventName !== "BatchSettled") continue;
    const args = e.args as { keeper: Address; asset: Address };
    keeperOf.set(`${e.transactionHash}:${lc(args.asset)}`, args.keeper);
  }

  // ---------------------------------------------------------------- streams, stored and as of the view's now
  const read = { address: p.streamPay, abi: streamPayAbi } as const;
  const next = await client.readContract({ ...read, functionName: "nextStreamId", ...at });
  const streamCount = Number(next) - 1;
  type Page = { items: any[]; totalCount: number };
  const gql = await indexer.graphql<{ streams: Page; streamViews: Page }>(
    `{ streams(limit: 1000, orderBy: "id") { totalCount items { ${STREAM_FIELDS} } }
       streamViews(limit: 1000, orderBy: "id") { totalCount items { ${VIEW_FIELDS} } } }`,
  );
  expect(gql.streams.totalCount).toBe(streamCount);
  expect(gql.streamViews.totalCount).toBe(streamCount);
  const rows = new Map(gql.streams.items.map((r) => [BigInt(r.id), r]));
  const views = new Map(gql.streamViews.items.map((r) => [BigInt(r.id), r]));
  type AssetTotals = {
    created: number;
    open: number;
    cancelling: number;
    deposited: bigint;
    withdrawn: bigint;
    refunded: bigint;
  };
  const perAsset = new Map<string, AssetTotals>();
  const perProviderStreams = new Map<bigint, number>();
  const perProviderWithdrawn = new Map<bigint, bigint>();
  const assetOf = new Map<bigint, Address>();
  const wasCancelling = new Set<bigint>();
  const participants = new Set<string>();
  for (let id = 1n; id <= BigInt(streamCount); id++) {
    const c = await client.readContract({ ...read, functionName: "getStreamView", args: [id], ...at });
    const row = rows.get(id);
    const view = views.get(id);
    expect(row, `stream ${id}`).toBeDefined();
    expect(view, `stream_view ${id}`).toBeDefined();
    assetOf.set(id, c.asset);
    const logs = logsOf.get(id) ?? { withdrawals: [], rewards: 0n };
    const close = closeOf.get(id);
    if (logs.cancel) wasCancelling.add(id);

    // What the events left, against the contract at the head block (these figures do not move with time).
    expect(
      {
        sender: row.sender,
        recipient: row.recipient,
        asset: row.asset,
        providerId: big(row.providerId),
        ratePerSecond: big(row.ratePerSecond),
        startTime: big(row.startTime),
        stopTime: big(row.stopTime),
        endTime: big(row.endTime) ?? 0n,
        abandonedAt: big(row.abandonedAt),
        challengeEndsAt: big(row.challengeEndsAt) ?? 0n,
        sessionKey: row.sessionKey ?? zeroAddress,
        deposited: big(row.deposited),
        withdrawn: big(row.withdrawn),
        refunded: big(row.refunded),
        statusCode: row.statusCode,
      },
      `stream ${id}`,
    ).toEqual({
      sender: lc(c.sender),
      recipient: lc(c.recipient),
      asset: lc(c.asset),
      providerId: c.providerId,
      ratePerSecond: c.ratePerSecond,
      startTime: c.startTime,
      stopTime: c.stopTime,
      endTime: c.endTime,
      abandonedAt: c.abandonedAt,
      challengeEndsAt: c.challengeEndsAt,
      sessionKey: lc(c.sessionKey),
      deposited: c.deposited,
      withdrawn: c.withdrawn,
      refunded: c.refunded,
      statusCode: c.status,
    });
    expect(c.abandonedAt).toBe(c.stopTime + gracePeriod);
    expect(
      lc(await client.readContract({ ...read, functionName: "namedSessionKeyOf", args: [id], ...at })),
    ).toBe(row.sessionKey ?? zeroAddress);
    expect(big(row.initialDeposit)! + big(row.toppedUp)!).toBe(c.deposited);
    // Voucher withdrawals and keeper rewards, against the logs.
    const lastWithdrawal = logs.withdrawals.at(-1);
    expect(
      {
        voucherWithdrawals: row.voucherWithdrawals,
        withdrawnByVoucher: big(row.withdrawnByVoucher),
        lastVoucherCumulative: big(row.lastVoucherCumulative),
        lastWithdrawnAt: big(row.lastWithdrawnAt),
        keeperRewards: big(row.keeperRewards),
      },
      `stream ${id} withdrawals`,
    ).toEqual({
      voucherWithdrawals: logs.withdrawals.length,
      withdrawnByVoucher: logs.withdrawals.reduce((s, e) => s + (e.args as { amount: bigint }).amount, 0n),
      lastVoucherCumulative: lastWithdrawal ? (lastWithdrawal.args as { cumulative: bigint }).cumulative : null,
      lastWithdrawnAt: lastWithdrawal ? await timeOf(lastWithdrawal.blockNumber) : null,
      keeperRewards: logs.rewards,
    });
    // The stored status, with who closed it, and how a cancel went.
    const expectedStored =
      c.status === StreamStatusCode.Open
        ? "open"
        : c.status === StreamStatusCode.Cancelling
          ? "cancelling"
          : c.status === StreamStatusCode.Settled
            ? "settled"
            : c.status === StreamStatusCode.Cancelled
              ? "cancelled"
              : lc(row.closedBy) === lc(c.sender)
                ? "closed_by_receipt"
                : "closed_by_recipient";
    expect(row.status, `stream ${id} status`).toBe(expectedStored);
    if (c.status === StreamStatusCode.Closed) expect([lc(c.sender), lc(c.recipient)]).toContain(lc(row.closedBy));
    const immediateCancel = c.status === StreamStatusCode.Cancelled && !logs.cancel;
    const cancelTx = logs.cancel ?? (immediateCancel ? close : undefined);
    let outcome: string | null = null;
    if (immediateCancel) outcome = "immediate";
    else if (logs.cancel && close) {
      outcome = (await isBatch(close.transactionHash)) ? "finalised" : "answered";
    }
    let closeArgs: { closedBy: Address; recipientAmount: bigint; senderAmount: bigint } | undefined;
    if (close?.eventName === "StreamClosed") closeArgs = close.args as typeof closeArgs;
    if (close?.eventName === "StreamSettled") {
      const keeper = keeperOf.get(`${close.transactionHash}:${lc(c.asset)}`);
      expect(keeper, `stream ${id}: a StreamSettled without its batch's BatchSettled`).toBeDefined();
      const amount = (close.args as { amount: bigint }).amount;
      closeArgs = { closedBy: keeper!, recipientAmount: amount, senderAmount: 0n };
    }
    expect(
      {
        cancelledAt: big(row.cancelledAt),
        cancelTxHash: row.cancelTxHash,
        cancelRefund: big(row.cancelRefund),
        cancelOutcome: row.cancelOutcome,
        closedBy: row.closedBy,
        closedAt: big(row.closedAt),
        closeTxHash: row.closeTxHash,
        closeRecipientAmount: big(row.closeRecipientAmount),
        closeSenderAmount: big(row.closeSenderAmount),
      },
      `stream ${id} cancel and close`,
    ).toEqual({
      cancelledAt: cancelTx ? await timeOf(cancelTx.blockNumber) : null,
      cancelTxHash: cancelTx ? cancelTx.transactionHash : null,
      cancelRefund: logs.cancel
        ? (logs.cancel.args as { senderAmount: bigint }).senderAmount
        : immediateCancel
          ? closeArgs!.senderAmount
          : null,
      cancelOutcome: outcome,
      closedBy: closeArgs ? lc(closeArgs.closedBy) : null,
      closedAt: close ? await timeOf(close.blockNumber) : null,
      closeTxHash: close ? close.transactionHash : null,
      closeRecipientAmount: closeArgs ? closeArgs.recipientAmount : null,
      closeSenderAmount: closeArgs ? closeArgs.senderAmount : null,
    });

    // The view as of its own "now", against the contract evaluated at that time.
    const asOf = BigInt(view.asOf);
    expect(asOf).toBeGreaterThanOrEqual(head.timestamp);
    const then = { ...at, blockOverrides: { time: asOf } } as const;
    const cNow = await client.readContract({ ...read, functionName: "getStreamView", args: [id], ...then });
    const withdrawableNow = await client.readContract({
      ...read,
      functionName: "withdrawableAmountOf",
      args: [id, maxUint256],
      ...then,
    });
    const refundableNow = await client.readContract({
      ...read,
      functionName: "refundableAmountOf",
      args: [id],
      ...then,
    });
    const open = c.status === StreamStatusCode.Open;
    const pendingCancel = c.status === StreamStatusCode.Cancelling;
    expect(
      {
        status: view.status,
        storedStatus: view.storedStatus,
        depleted: view.depleted,
        abandoned: view.abandoned,
        streamed: big(view.streamed),
        withdrawable: big(view.withdrawable),
        refundable: big(view.refundable),
        secondsLeft: big(view.secondsLeft),
        challengeSecondsLeft: big(view.challengeSecondsLeft),
        withdrawn: big(view.withdrawn),
        refunded: big(view.refunded),
        endTime: big(view.endTime) ?? 0n,
        challengeEndsAt: big(view.challengeEndsAt) ?? 0n,
      },
      `stream_view ${id} as of ${asOf}`,
    ).toEqual({
      status: expectedViewStatus(cNow, asOf, gracePeriod),
      storedStatus: expectedStored,
      depleted: cNow.depleted,
      abandoned: open && asOf >= cNow.abandonedAt,
      streamed: cNow.streamed,
      withdrawable: withdrawableNow,
      refundable: refundableNow,
      secondsLeft: open && asOf < c.stopTime ? c.stopTime - (asOf > c.startTime ? asOf : c.startTime) : 0n,
      challengeSecondsLeft: pendingCancel && asOf < c.challengeEndsAt ? c.challengeEndsAt - asOf : 0n,
      withdrawn: cNow.withdrawn,
      refunded: cNow.refunded,
      endTime: cNow.endTime,
      challengeEndsAt: cNow.challengeEndsAt,
    });
    // The contract's own bookkeeping holds: every unit of the deposit on exactly one side, or still escrowed.
    const escrowed = c.deposited - c.withdrawn - c.refunded;
    if (open) expect(escrowed).toBe(c.deposited - c.withdrawn);
    else if (pendingCancel) expect(escrowed).toBe(c.streamed - c.withdrawn);
    else expect(escrowed).toBe(0n);
    if (c.status === StreamStatusCode.Cancelled) expect(c.challengeEndsAt).toBe(c.endTime + challengeWindow);

    const assetKey = lc(c.asset);
    const a: AssetTotals = perAsset.get(assetKey) ?? {
      created: 0,
      open: 0,
      cancelling: 0,
      deposited: 0n,
      withdrawn: 0n,
      refunded: 0n,
    };
    a.created += 1;
    a.open += open || pendingCancel ? 1 : 0;
    a.cancelling += pendingCancel ? 1 : 0;
    a.deposited += c.deposited;
    a.withdrawn += c.withdrawn;
    a.refunded += c.refunded;
    perAsset.set(assetKey, a);
    perProviderStreams.set(c.providerId, (perProviderStreams.get(c.providerId) ?? 0) + 1);
    perProviderWithdrawn.set(c.providerId, (perProviderWithdrawn.get(c.providerId) ?? 0n) + c.withdrawn);
    participants.add(lc(c.sender));
    participants.add(lc(c.recipient));
  }
  for (const [id, row] of byProvider) {
    expect(row.streamCount, `provider ${id} streams`).toBe(perProviderStreams.get(id) ?? 0);
  }

  // ---------------------------------------------------------------- every event, exactly once, of its kind
  const logs = await client.getLogs({ address: [p.streamPay, p.registry], ...range });
  const registryEvents = await client.getContractEvents({ address: p.registry, abi: computeRegistryAbi, ...range });
  const actions = await indexer.graphql<{ actionLogs: { totalCount: number; items: any[] } }>(
    `{ actionLogs(limit: 1000, orderBy: "id") {
        totalCount items { kind txHash logIndex blockNumber actor cumulative } } }`,
  );
  expect(actions.actionLogs.totalCount).toBe(logs.length);
  const key = (tx: string, index: number) => `${tx}:${index}`;
  expect(new Set(actions.actionLogs.items.map((a) => key(a.txHash, a.logIndex)))).toEqual(
    new Set(logs.map((l) => key(l.transactionHash, l.logIndex))),
  );
  const actionAt = new Map(actions.actionLogs.items.map((a) => [key(a.txHash, a.logIndex), a]));
  for (const e of [...events, ...registryEvents]) {
    const action = actionAt.get(key(e.transactionHash, e.logIndex))!;
    expect(action.kind, `${e.eventName} at ${key(e.transactionHash, e.logIndex)}`).toBe(snake(e.eventName));
    const cumulative = e.eventName === "StreamWithdrawn" ? (e.args as { cumulative: bigint }).cumulative : null;
    expect(big(action.cumulative)).toBe(cumulative);
  }
  for (const a of actions.actionLogs.items) participants.add(lc(a.actor));

  // ---------------------------------------------------------------- claimable balances, to the wei
  const gqlBalances = await indexer.graphql<{ accountBalances: { items: any[] } }>(
    `{ accountBalances(limit: 1000) { items { account asset balance } } }`,
  );
  const balances = new Map(
    gqlBalances.accountBalances.items.map((b) => [`${b.account}:${b.asset}`, BigInt(b.balance)]),
  );
  for (const account of participants) {
    for (const asset of [NATIVE, p.testUsd]) {
      const onChain = await client.readContract({
        address: p.streamPay,
        abi: streamPayAbi,
        functionName: "balanceOf",
        args: [getAddress(account), asset],
        ...at,
      });
      expect(balances.get(`${account}:${lc(asset)}`) ?? 0n, `balanceOf(${account}, ${asset})`).toBe(onChain);
    }
  }

  // ---------------------------------------------------------------- protocol totals per asset
  const totals = await indexer.graphql<{ protocolTotals: { items: any[] } }>(
    `{ protocolTotals { items { asset streamsCreated streamsClosed openStreams cancellingStreams deposited withdrawn
      refunded escrowed earned pendingBalances providers keeperRewards } } }`,
  );
  const totalByAsset = new Map(totals.protocolTotals.items.map((t) => [t.asset, t]));
  for (const asset of [NATIVE, p.testUsd] as Address[]) {
    const t = totalByAsset.get(lc(asset));
    const a = perAsset.get(lc(asset));
    const held =
      asset === NATIVE
        ? await client.getBalance({ address: p.streamPay, ...at })
        : await client.readContract({
            address: asset,
            abi: erc20Abi,
            functionName: "balanceOf",
            args: [p.streamPay],
            ...at,
          });
    const providersOfAsset = chainProviders.filter((c) => lc(c.asset) === lc(asset));
    if (!t) {
      expect(a, `no totals for ${asset} but streams exist`).toBeUndefined();
      expect(providersOfAsset.length).toBe(0);
      expect(held).toBe(0n);
      continue;
    }
    const rewards = [...logsOf.entries()]
      .filter(([id]) => lc(assetOf.get(id)!) === lc(asset))
      .reduce((s, [, l]) => s + l.rewards, 0n);
    expect(
      {
        streamsCreated: t.streamsCreated,
        openStreams: t.openStreams,
        cancellingStreams: t.cancellingStreams,
        deposited: big(t.deposited),
        withdrawn: big(t.withdrawn),
        refunded: big(t.refunded),
        keeperRewards: big(t.keeperRewards),
        earned: big(t.earned),
        providers: t.providers,
      },
      `totals of ${asset}`,
    ).toEqual({
      streamsCreated: a?.created ?? 0,
      openStreams: a?.open ?? 0,
      cancellingStreams: a?.cancelling ?? 0,
      deposited: a?.deposited ?? 0n,
      withdrawn: a?.withdrawn ?? 0n,
      refunded: a?.refunded ?? 0n,
      keeperRewards: rewards,
      earned: providersOfAsset.reduce((s, c) => s + c.totalEarned, 0n),
      providers: providersOfAsset.length,
    });
    expect(t.streamsCreated - t.streamsClosed).toBe(t.openStreams);
    // What StreamPay holds is exactly what unclosed streams escrow plus the claimable balances.
    expect(big(t.escrowed)! + big(t.pendingBalances)!, `StreamPay's ${asset} balance`).toBe(held);
  }

  // ---------------------------------------------------------------- daily aggregates add up
  const days = await indexer.graphql<{ providerDays: { items: any[] } }>(
    `{ providerDays(limit: 1000) { items { providerId earned requests streamsOpened withdrawn } } }`,
  );
  for (const [i, c] of chainProviders.entries()) {
    const id = BigInt(i + 1);
    const mine = days.providerDays.items.filter((d) => BigInt(d.providerId) === id);
    expect(mine.reduce((s, d) => s + BigInt(d.earned), 0n), `provider ${id} earned by day`).toBe(c.totalEarned);
    expect(BigInt(mine.reduce((s, d) => s + d.requests, 0)), `provider ${id} requests by day`).toBe(c.requestsServed);
    expect(mine.reduce((s, d) => s + d.streamsOpened, 0)).toBe(perProviderStreams.get(id) ?? 0);
    expect(mine.reduce((s, d) => s + BigInt(d.withdrawn), 0n), `provider ${id} withdrawn by day`).toBe(
      perProviderWithdrawn.get(id) ?? 0n,
    );
  }

  // ---------------------------------------------------------------- ratings, from the logs
  const ratingEvents = registryEvents.filter((e) => e.eventName === "ProviderRated");
  const ratings = await indexer.graphql<{ ratings: { items: any[] } }>(
    `{ ratings(limit: 1000) { items { streamId providerId rater score } } }`,
  );
  expect(ratings.ratings.items.length).toBe(ratingEvents.length);
  for (const e of ratingEvents) {
    const args = e.args as { streamId: bigint; providerId: bigint; rater: Address; score: number };
    const r = ratings.ratings.items.find((x) => BigInt(x.streamId) === args.streamId);
    expect(r).toMatchObject({ providerId: String(args.providerId), rater: lc(args.rater), score: args.score });
    const rated = await client.readContract({
      address: p.registry,
      abi: computeRegistryAbi,
      functionName: "isRated",
      args: [args.streamId],
    });
    expect(rated).toBe(true);
    expect(rows.get(args.streamId)!.rating).toBe(args.score);
  }

  // ---------------------------------------------------------------- keeper batches, from the logs
  // A batch: per transaction and asset, the abandoned streams it settled (BatchSettled) and the cancels it
  // finalised (StreamClosed of a cancelling stream, in a batchUpdateStreams transaction).
  type Batch = {
    keeper: string;
    streamCount: number;
    settledCount: number;
    settledAmount: bigint;
    reward: bigint;
    finalisedCount: number;
    finalisedRefunded: bigint;
  };
  const expectedBatches = new Map<string, Batch>();
  const batchOf = (tx: Hex, asset: string, keeper: string) => {
    const id = `${tx}:${lc(asset)}`;
    const empty = { keeper: lc(keeper), streamCount: 0, settledCount: 0, settledAmount: 0n, reward: 0n };
    if (!expectedBatches.has(id)) expectedBatches.set(id, { ...empty, finalisedCount: 0, finalisedRefunded: 0n });
    return expectedBatches.get(id)!;
  };
  for (const e of events) {
    if (e.eventName === "BatchSettled") {
      type BatchArgs = { keeper: Address; asset: Address; streamCount: bigint; settledAmount: bigint; reward: bigint };
      const args = e.args as BatchArgs;
      const b = batchOf(e.transactionHash, args.asset, args.keeper);
      b.settledCount += Number(args.streamCount);
      b.streamCount += Number(args.streamCount);
      b.settledAmount += args.settledAmount;
      b.reward += args.reward;
    }
    if (e.eventName === "StreamClosed") {
      const args = e.args as { streamId: bigint; closedBy: Address; senderAmount: bigint };
      if (!wasCancelling.has(args.streamId)) continue;
      if (!(await isBatch(e.transactionHash))) continue;
      const b = batchOf(e.transactionHash, assetOf.get(args.streamId)!, args.closedBy);
      b.finalisedCount += 1;
      b.streamCount += 1;
      b.finalisedRefunded += args.senderAmount;
    }
  }
  const keepers = await indexer.graphql<{ keeperBatchs: { items: any[] }; keepers: { items: any[] } }>(
    `{ keeperBatchs(limit: 1000) { items { id keeper asset streamCount settledCount settledAmount reward finalisedCount
        finalisedRefunded txHash } }
       keepers(limit: 1000) { items { keeper asset batches streamsSettled settledAmount rewards cancelsFinalised
        finalisedRefunded } } }`,
  );
  expect(keepers.keeperBatchs.items.length).toBe(expectedBatches.size);
  const keeperTotals = new Map<string, Record<string, unknown>>();
  for (const row of keepers.keeperBatchs.items) {
    const b = expectedBatches.get(row.id);
    expect(b, `keeper batch ${row.id}`).toBeDefined();
    expect({
      keeper: row.keeper,
      streamCount: row.streamCount,
      settledCount: row.settledCount,
      settledAmount: BigInt(row.settledAmount),
      reward: BigInt(row.reward),
      finalisedCount: row.finalisedCount,
      finalisedRefunded: BigInt(row.finalisedRefunded),
    }).toEqual(b);
    const k = `${row.keeper}:${row.asset}`;
    const t = (keeperTotals.get(k) ?? { batches: 0, streamsSettled: 0, settledAmount: 0n, rewards: 0n }) as any;
    t.batches += 1;
    t.streamsSettled += b!.settledCount;
    t.settledAmount += b!.settledAmount;
    t.rewards += b!.reward;
    t.cancelsFinalised = (t.cancelsFinalised ?? 0) + b!.finalisedCount;
    t.finalisedRefunded = (t.finalisedRefunded ?? 0n) + b!.finalisedRefunded;
    keeperTotals.set(k, t);
  }
  expect(keepers.keepers.items.length).toBe(keeperTotals.size);
  for (const k of keepers.keepers.items) {
    expect({
      batches: k.batches,
      streamsSettled: k.streamsSettled,
      settledAmount: BigInt(k.settledAmount),
      rewards: BigInt(k.rewards),
      cancelsFinalised: k.cancelsFinalised,
      finalisedRefunded: BigInt(k.finalisedRefunded),
    }).toEqual(keeperTotals.get(`${k.keeper}:${k.asset}`));
  }

  return { streams: streamCount, providers: providerCount, logs: logs.length };
}
