/**
 * The core assertion of the suite: what the indexer serves over GraphQL equals what the contracts report
 * by eth_call and what their logs say — amounts to the wei, statuses, counts, one action row per event.
 */
import { expect } from "vitest";
import { type Address, erc20Abi, getAddress } from "viem";
import { StreamStatusCode, computeRegistryAbi, streamPayAbi, streamedAt } from "@clawcompute/sdk";
import { NATIVE, type Protocol } from "./protocol.ts";
import type { RunningIndexer } from "./indexer.ts";

const lc = (a: string) => a.toLowerCase();
const big = (v: unknown) => (v === null || v === undefined ? null : BigInt(v as string));

const PROVIDER_FIELDS = `id wallet model modelHash asset pricePerSecond endpoint serviceType active stake registeredAt deactivatedAt
  unstakeAvailableAt requestsServed totalEarned ratingCount ratingSum ratingAverage streamCount totalDeposited`;
const STREAM_FIELDS = `id sender recipient providerId asset ratePerSecond startTime stopTime initialDeposit toppedUp topUpCount deposited
  withdrawn keeperRewards refunded status statusCode closedBy rating`;
const VIEW_FIELDS = `id status statusCode depleted streamed withdrawable refundable secondsLeft deposited withdrawn refunded asOf stopTime startTime ratePerSecond`;

export type ChainSnapshot = { streams: number; providers: number; logs: number };

/** Every indexed table compared with the chain. Returns the sizes it checked. */
export async function expectIndexerMatchesChain(p: Protocol, indexer: RunningIndexer): Promise<ChainSnapshot> {
  const client = p.client;
  const head = await client.getBlock();

  // ---------------------------------------------------------------- providers
  const providerCount = Number(await client.readContract({ address: p.registry, abi: computeRegistryAbi, functionName: "providerCount", blockNumber: head.number }));
  const gqlProviders = await indexer.graphql<{ providers: { items: any[]; totalCount: number } }>(
    `{ providers(limit: 1000, orderBy: "id") { totalCount items { ${PROVIDER_FIELDS} } } }`,
  );
  expect(gqlProviders.providers.totalCount).toBe(providerCount);
  const byProvider = new Map(gqlProviders.providers.items.map((row) => [BigInt(row.id), row]));
  const chainProviders = [];
  for (let id = 1n; id <= BigInt(providerCount); id++) {
    const c = await client.readContract({ address: p.registry, abi: computeRegistryAbi, functionName: "getProvider", args: [id], blockNumber: head.number });
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

  // ---------------------------------------------------------------- streams
  const streamCount = Number(await client.readContract({ address: p.streamPay, abi: streamPayAbi, functionName: "nextStreamId", blockNumber: head.number })) - 1;
  const gql = await indexer.graphql<{ streams: { items: any[]; totalCount: number }; streamViews: { items: any[]; totalCount: number } }>(
    `{ streams(limit: 1000, orderBy: "id") { totalCount items { ${STREAM_FIELDS} } }
       streamViews(limit: 1000, orderBy: "id") { totalCount items { ${VIEW_FIELDS} } } }`,
  );
  expect(gql.streams.totalCount).toBe(streamCount);
  expect(gql.streamViews.totalCount).toBe(streamCount);
  const rows = new Map(gql.streams.items.map((r) => [BigInt(r.id), r]));
  const views = new Map(gql.streamViews.items.map((r) => [BigInt(r.id), r]));
  const perAsset = new Map<string, { created: number; open: number; deposited: bigint; withdrawn: bigint; refunded: bigint }>();
  const perProviderStreams = new Map<bigint, number>();
  const participants = new Set<string>();
  for (let id = 1n; id <= BigInt(streamCount); id++) {
    const c = await client.readContract({ address: p.streamPay, abi: streamPayAbi, functionName: "getStreamView", args: [id], blockNumber: head.number });
    const row = rows.get(id);
    const view = views.get(id);
    expect(row, `stream ${id}`).toBeDefined();
    expect(view, `stream_view ${id}`).toBeDefined();
    expect(
      {
        sender: row.sender,
        recipient: row.recipient,
        asset: row.asset,
        providerId: big(row.providerId),
        ratePerSecond: big(row.ratePerSecond),
        startTime: big(row.startTime),
        stopTime: big(row.stopTime),
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
      deposited: c.deposited,
      withdrawn: c.withdrawn,
      refunded: c.refunded,
      statusCode: c.status,
    });
    expect(big(row.initialDeposit)! + big(row.toppedUp)!).toBe(c.deposited);
    // The stored status, with who closed it.
    const expectedStored =
      c.status === StreamStatusCode.Open
        ? "open"
        : c.status === StreamStatusCode.Settled
          ? "settled"
          : c.status === StreamStatusCode.Cancelled
            ? "cancelled"
            : lc(row.closedBy) === lc(c.sender)
              ? "closed_by_receipt"
              : "closed_by_recipient";
    expect(row.status, `stream ${id} status`).toBe(expectedStored);
    if (c.status === StreamStatusCode.Closed) expect([lc(c.sender), lc(c.recipient)]).toContain(lc(row.closedBy));
    // The view as of its own "now": streamed by the contract's formula, depleted past the stop time.
    const asOf = BigInt(view.asOf);
    expect(asOf).toBeGreaterThanOrEqual(head.timestamp);
    const open = c.status === StreamStatusCode.Open;
    const streamedNow = open ? streamedAt(c.ratePerSecond, c.startTime, c.stopTime, asOf) : c.withdrawn;
    expect(big(view.streamed), `stream ${id} streamed as of ${asOf}`).toBe(streamedNow);
    expect(big(view.withdrawable)).toBe(open ? streamedNow - c.withdrawn : 0n);
    expect(big(view.refundable)).toBe(open ? c.deposited - streamedNow : 0n);
    expect(view.depleted).toBe(open && asOf >= c.stopTime);
    expect(view.status).toBe(open && asOf >= c.stopTime ? "depleted" : expectedStored);
    // ...and the contract at the head block agrees with the same formula at the head's time.
    if (open) {
      expect(c.streamed).toBe(streamedAt(c.ratePerSecond, c.startTime, c.stopTime, head.timestamp));
      expect(c.depleted).toBe(head.timestamp >= c.stopTime);
    } else {
      expect(c.streamed).toBe(big(view.streamed));
    }

    const assetKey = lc(c.asset);
    const a = perAsset.get(assetKey) ?? { created: 0, open: 0, deposited: 0n, withdrawn: 0n, refunded: 0n };
    a.created += 1;
    a.open += open ? 1 : 0;
    a.deposited += c.deposited;
    a.withdrawn += c.withdrawn;
    a.refunded += c.refunded;
    perAsset.set(assetKey, a);
    perProviderStreams.set(c.providerId, (perProviderStreams.get(c.providerId) ?? 0) + 1);
    participants.add(lc(c.sender));
    participants.add(lc(c.recipient));
  }
  for (const [id, row] of byProvider) expect(row.streamCount, `provider ${id} streams`).toBe(perProviderStreams.get(id) ?? 0);

  // ---------------------------------------------------------------- every event, exactly once
  const logs = await client.getLogs({ address: [p.streamPay, p.registry], fromBlock: 0n, toBlock: head.number });
  const actions = await indexer.graphql<{ actionLogs: { totalCount: number; items: any[] } }>(
    `{ actionLogs(limit: 1000, orderBy: "id") { totalCount items { kind txHash logIndex blockNumber actor } } }`,
  );
  expect(actions.actionLogs.totalCount).toBe(logs.length);
  expect(new Set(actions.actionLogs.items.map((a) => `${a.txHash}:${a.logIndex}`))).toEqual(new Set(logs.map((l) => `${l.transactionHash}:${l.logIndex}`)));
  for (const a of actions.actionLogs.items) participants.add(lc(a.actor));

  // ---------------------------------------------------------------- claimable balances, to the wei
  const gqlBalances = await indexer.graphql<{ accountBalances: { items: any[] } }>(`{ accountBalances(limit: 1000) { items { account asset balance } } }`);
  const balances = new Map(gqlBalances.accountBalances.items.map((b) => [`${b.account}:${b.asset}`, BigInt(b.balance)]));
  for (const account of participants) {
    for (const asset of [NATIVE, p.testUsd]) {
      const onChain = await client.readContract({
        address: p.streamPay,
        abi: streamPayAbi,
        functionName: "balanceOf",
        args: [getAddress(account), asset],
        blockNumber: head.number,
      });
      expect(balances.get(`${account}:${lc(asset)}`) ?? 0n, `balanceOf(${account}, ${asset})`).toBe(onChain);
    }
  }

  // ---------------------------------------------------------------- protocol totals per asset
  const totals = await indexer.graphql<{ protocolTotals: { items: any[] } }>(
    `{ protocolTotals { items { asset streamsCreated streamsClosed openStreams deposited withdrawn refunded escrowed earned pendingBalances providers keeperRewards } } }`,
  );
  const totalByAsset = new Map(totals.protocolTotals.items.map((t) => [t.asset, t]));
  for (const asset of [NATIVE, p.testUsd] as Address[]) {
    const t = totalByAsset.get(lc(asset));
    const a = perAsset.get(lc(asset));
    const held =
      asset === NATIVE
        ? await client.getBalance({ address: p.streamPay, blockNumber: head.number })
        : await client.readContract({ address: asset, abi: erc20Abi, functionName: "balanceOf", args: [p.streamPay], blockNumber: head.number });
    const providersOfAsset = chainProviders.filter((c) => lc(c.asset) === lc(asset));
    if (!t) {
      expect(a, `no totals for ${asset} but streams exist`).toBeUndefined();
      expect(providersOfAsset.length).toBe(0);
      expect(held).toBe(0n);
      continue;
    }
    expect(
      {
        streamsCreated: t.streamsCreated,
        openStreams: t.openStreams,
        deposited: big(t.deposited),
        withdrawn: big(t.withdrawn),
        refunded: big(t.refunded),
        earned: big(t.earned),
        providers: t.providers,
      },
      `totals of ${asset}`,
    ).toEqual({
      streamsCreated: a?.created ?? 0,
      openStreams: a?.open ?? 0,
      deposited: a?.deposited ?? 0n,
      withdrawn: a?.withdrawn ?? 0n,
      refunded: a?.refunded ?? 0n,
      earned: providersOfAsset.reduce((s, c) => s + c.totalEarned, 0n),
      providers: providersOfAsset.length,
    });
    expect(t.streamsCreated - t.streamsClosed).toBe(t.openStreams);
    // What StreamPay holds is exactly what open streams escrow plus the claimable balances.
    expect(big(t.escrowed)! + big(t.pendingBalances)!, `StreamPay's ${asset} balance`).toBe(held);
  }

  // ---------------------------------------------------------------- daily aggregates add up to the registry
  const days = await indexer.graphql<{ providerDays: { items: any[] } }>(`{ providerDays(limit: 1000) { items { providerId earned requests streamsOpened } } }`);
  for (const [i, c] of chainProviders.entries()) {
    const id = BigInt(i + 1);
    const mine = days.providerDays.items.filter((d) => BigInt(d.providerId) === id);
    expect(mine.reduce((s, d) => s + BigInt(d.earned), 0n), `provider ${id} earned by day`).toBe(c.totalEarned);
    expect(BigInt(mine.reduce((s, d) => s + d.requests, 0)), `provider ${id} requests by day`).toBe(c.requestsServed);
    expect(mine.reduce((s, d) => s + d.streamsOpened, 0)).toBe(perProviderStreams.get(id) ?? 0);
  }

  // ---------------------------------------------------------------- ratings and keepers, from the logs
  const ratingEvents = await client.getContractEvents({ address: p.registry, abi: computeRegistryAbi, eventName: "ProviderRated", fromBlock: 0n, toBlock: head.number });
  const ratings = await indexer.graphql<{ ratings: { items: any[] } }>(`{ ratings(limit: 1000) { items { streamId providerId rater score } } }`);
  expect(ratings.ratings.items.length).toBe(ratingEvents.length);
  for (const e of ratingEvents) {
    const r = ratings.ratings.items.find((x) => BigInt(x.streamId) === e.args.streamId);
    expect(r).toMatchObject({ providerId: String(e.args.providerId), rater: lc(e.args.rater!), score: e.args.score });
    expect(await client.readContract({ address: p.registry, abi: computeRegistryAbi, functionName: "isRated", args: [e.args.streamId!] })).toBe(true);
    expect(rows.get(e.args.streamId!)!.rating).toBe(e.args.score);
  }
  const batchEvents = await client.getContractEvents({ address: p.streamPay, abi: streamPayAbi, eventName: "BatchSettled", fromBlock: 0n, toBlock: head.number });
  const keepers = await indexer.graphql<{ keeperBatchs: { items: any[] }; keepers: { items: any[] } }>(
    `{ keeperBatchs(limit: 1000) { items { keeper asset streamCount settledAmount reward txHash } } keepers(limit: 1000) { items { keeper asset batches streamsSettled settledAmount rewards } } }`,
  );
  expect(keepers.keeperBatchs.items.length).toBe(batchEvents.length);
  const keeperTotals = new Map<string, { batches: number; streams: number; settled: bigint; rewards: bigint }>();
  for (const e of batchEvents) {
    const key = `${lc(e.args.keeper!)}:${lc(e.args.asset!)}`;
    const k = keeperTotals.get(key) ?? { batches: 0, streams: 0, settled: 0n, rewards: 0n };
    k.batches += 1;
    k.streams += Number(e.args.streamCount);
    k.settled += e.args.settledAmount!;
    k.rewards += e.args.reward!;
    keeperTotals.set(key, k);
  }
  expect(keepers.keepers.items.length).toBe(keeperTotals.size);
  for (const k of keepers.keepers.items) {
    const t = keeperTotals.get(`${k.keeper}:${k.asset}`)!;
    expect({ batches: k.batches, streams: k.streamsSettled, settled: BigInt(k.settledAmount), rewards: BigInt(k.rewards) }).toEqual(t);
  }

  return { streams: streamCount, providers: providerCount, logs: logs.length };
}
