/**
 * The consumer agent as a library: `ClawConsumer.create(...)`, then `providers()`, `ask()`, `session()`
 * (chat), `streams()`, `close()`, `cancel()`, `topUp()`, `finalize()`. The CLI (cli.ts) only calls these.
 */
import { type Address, type LocalAccount, getAddress } from "viem";
import pino, { type Logger } from "pino";
import {
  type Deployment,
  StreamStatusCode,
  computeRegistryAbi,
  streamPayAbi,
  streamStateAt,
  streamStatusName,
} from "@clawcompute/sdk";
import { loadDeployment } from "@clawcompute/sdk/node";
import { Budget } from "./budget.ts";
import { type AssetInfo, GasMeter, assetInfo, makeClients, resolveAsset, sendContract } from "./chain.ts";
import { type ConsumerContext, type ConsumerSettings, DEFAULT_SETTINGS } from "./context.ts";
import { type DiscoverProvidersReturnType, type ProviderInfo, discoverProviders } from "./discovery.ts";
import { StreamJournal } from "./journal.ts";
import { ProviderClient } from "./provider-client.ts";
import { checkReceipt, receiptAllowance } from "./receipts.ts";
import { Session, type SessionParameters, type SessionSummary } from "./session.ts";
import { PaidStream, type StreamOutcome } from "./stream.ts";

export type ClawConsumerParameters = Partial<ConsumerSettings> & {
  /** The consumer's wallet (e.g. `privateKeyToAccount(key)`, or the CLI's key loaded from env/keystore). */
  account: LocalAccount;
  rpcUrl: string;
  chainId?: number;
  /** The deployment, or where to read deployments/<chainId>.json from. */
  deployment?: Deployment;
  deploymentsDir?: string;
  /** Budget of one ask or session, in the asset's smallest unit. */
  budget: bigint;
  /** "native" (default), a deployment contract name such as "TestUSD", or an ERC-20 address. */
  asset?: string;
  /** Folder for the journal of measured serving times (default: memory only). */
  dataDir?: string;
  log?: Logger;
  fetch?: typeof fetch;
};

export type AskParameters = {
  prompt: string;
  model?: string;
  /** Called with each piece of the answer as it arrives. */
  onToken?: (text: string) => void;
  budget?: bigint;
  expectedSeconds?: number;
  providers?: ProviderInfo[];
  system?: string;
};

export type AskResult = {
  text: string;
  providerId: bigint;
  streamId: bigint;
  measuredMs: number;
  dispute?: StreamOutcome["dispute"];
  summary: SessionSummary;
};

export type ProvidersParameters = { model?: string; maxPricePerSecond?: bigint; minRating?: number; checkLiveness?: boolean };

export type MyStream = {
  id: bigint;
  providerId: bigint;
  recipient: Address;
  asset: Address;
  status: string;
  ratePerSecond: bigint;
  deposited: bigint;
  streamed: bigint;
  withdrawn: bigint;
  refundable: bigint;
  refunded: bigint;
  startTime: bigint;
  stopTime: bigint;
  /** Cancelling: when the provider's window to answer ends (unix seconds). */
  challengeEndsAt?: bigint;
};

export type StreamsReturnType = { streams: MyStream[]; source: "indexer" | "chain"; indexerError?: string };

export type StreamActionResult = { outcome: StreamOutcome; gasUsed: bigint; gasCost: bigint; asset: AssetInfo };

export type FinalizeResult = {
  /** Cancels finalised now, with what came back to this wallet from each. */
  finalized: Array<{ streamId: bigint; refunded: bigint; rated: boolean }>;
  /** Cancels still inside the provider's challenge window, with when it ends (unix seconds). */
  waiting: Array<{ streamId: bigint; challengeEndsAt: bigint; pendingRefund: bigint }>;
  gasUsed: bigint;
  gasCost: bigint;
  asset: AssetInfo;
};

const STREAMS_QUERY = `query MyStreams($sender: String!) {
  streamViews(where: { sender: $sender }, orderBy: "id", orderDirection: "desc", limit: 1000) {
    items {
      id providerId recipient asset status ratePerSecond deposited streamed withdrawn refundable refunded
      startTime stopTime challengeEndsAt
    }
  }
}`;

export class ClawConsumer {
  private constructor(readonly ctx: ConsumerContext) {}

  /** Connects: loads the deployment, checks the RPC's chain id, reads the payment asset. */
  static async create(p: ClawConsumerParameters): Promise<ClawConsumer> {
    const chainId = p.chainId ?? 31337;
    const deployment = p.deployment ?? loadDeployment(chainId, p.deploymentsDir);
    const clients = makeClients(chainId, p.rpcUrl, p.account);
    const rpcChainId = await clients.public.getChainId().catch((error: Error) => {
      throw new Error(`cannot reach the chain at ${p.rpcUrl}: ${error.message.split("\n")[0]}`);
    });
    if (rpcChainId !== chainId) throw new Error(`${p.rpcUrl} serves chain ${rpcChainId}, not ${chainId}.`);
    const assetAddress = resolveAsset(p.asset ?? "native", deployment, "CONSUMER_ASSET");
    const asset = await assetInfo(clients, assetAddress);
    const streamPay = deployment.contracts.StreamPay.address;
    const [gracePeriod, challengeWindow] = await Promise.all([
      clients.public.readContract({ address: streamPay, abi: streamPayAbi, functionName: "gracePeriod" }),
      clients.public.readContract({ address: streamPay, abi: streamPayAbi, functionName: "challengeWindow" }),
    ]).catch((error: Error) => {
      throw new Error(`StreamPay at ${streamPay} does not answer as expected (${error.message.split("\n")[0]}): is the deployment current? Re-run \`npm run deploy\`.`);
    });
    const settings: ConsumerSettings = { ...DEFAULT_SETTINGS, ...Object.fromEntries(Object.entries(p).filter(([k, v]) => k in DEFAULT_SETTINGS && v !== undefined)), budget: p.budget };
    return new ClawConsumer({
      clients,
      account: p.account,
      deployment,
      streamPay,
      registry: deployment.contracts.ComputeRegistry.address,
      domain: { chainId, streamPay },
      asset,
      settings,
      gracePeriod,
      challengeWindow,
      log: p.log ?? pino({ level: "silent" }),
      journal: new StreamJournal(p.dataDir, chainId, streamPay),
      fetch: p.fetch ?? fetch,
    });
  }

  get address(): Address {
    return this.ctx.account.address;
  }

  get asset(): AssetInfo {
    return this.ctx.asset;
  }

  /** Providers of a model, filtered and ranked (indexer first, registry when it does not answer). */
  providers(p: ProvidersParameters = {}): Promise<DiscoverProvidersReturnType> {
    const s = this.ctx.settings;
    return discoverProviders({
      clients: this.ctx.clients,
      registry: this.ctx.registry,
      indexerUrl: s.indexerUrl,
      model: p.model ?? s.model,
      asset: this.ctx.asset.address,
      maxPricePerSecond: p.maxPricePerSecond ?? s.maxPricePerSecond,
      minRating: p.minRating ?? s.minRating,
      checkLiveness: p.checkLiveness,
      healthTimeoutMs: s.healthTimeoutMs,
      indexerTimeoutMs: s.indexerTimeoutMs,
      fetch: this.ctx.fetch,
    });
  }

  /** A chat session: one stream for many prompts; call `close()` at the end. */
  session(p: SessionParameters = {}): Session {
    return new Session(this.ctx, { idleCloseSeconds: this.ctx.settings.sessionIdleSeconds, ...p });
  }

  /** One answer: opens a stream, streams the answer, closes with the final receipt; failover on errors. */
  async ask(p: AskParameters): Promise<AskResult> {
    const session = new Session(this.ctx, { model: p.model, budget: p.budget, expectedSeconds: p.expectedSeconds, providers: p.providers, system: p.system });
    let result;
    try {
      result = await session.send(p.prompt, { onToken: p.onToken });
    } catch (error) {
      await session.close().catch(() => undefined);
      throw error;
    }
    const summary = await session.close();
    return { text: result.text, providerId: result.providerId, streamId: result.streamId, measuredMs: result.measuredMs, dispute: result.dispute, summary };
  }

  /** This wallet's streams (indexer first, the chain's logs when it does not answer). */
  async streams(): Promise<StreamsReturnType> {
    const s = this.ctx.settings;
    let indexerError: string | undefined;
    if (s.indexerUrl) {
      try {
        const response = await this.ctx.fetch(`${s.indexerUrl}/graphql`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ query: STREAMS_QUERY, variables: { sender: this.address.toLowerCase() } }),
          signal: AbortSignal.timeout(s.indexerTimeoutMs),
        });
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        const json = (await response.json()) as { data?: { streamViews?: { items: Array<Record<string, string>> } }; errors?: Array<{ message: string }> };
        if (json.errors?.length || !json.data?.streamViews) throw new Error(json.errors?.map((e) => e.message).join("; ") ?? "no data");
        const streams = json.data.streamViews.items.map((r) => ({
          id: BigInt(r.id),
          providerId: BigInt(r.providerId),
          recipient: getAddress(r.recipient),
          asset: getAddress(r.asset),
          status: r.status,
          ratePerSecond: BigInt(r.ratePerSecond),
          deposited: BigInt(r.deposited),
          streamed: BigInt(r.streamed),
          withdrawn: BigInt(r.withdrawn),
          refundable: BigInt(r.refundable),
          refunded: BigInt(r.refunded),
          startTime: BigInt(r.startTime),
          stopTime: BigInt(r.stopTime),
          ...(r.challengeEndsAt ? { challengeEndsAt: BigInt(r.challengeEndsAt) } : {}),
        }));
        return { streams, source: "indexer" };
      } catch (error) {
        const e = error as Error & { cause?: { code?: string } };
        indexerError = e.name === "TimeoutError" ? `no answer within ${s.indexerTimeoutMs} ms` : (e.cause?.code ?? e.message);
      }
    }
    const logs = await this.ctx.clients.public.getContractEvents({
      address: this.ctx.streamPay,
      abi: streamPayAbi,
      eventName: "StreamCreated",
      args: { sender: this.address },
      fromBlock: BigInt(this.ctx.deployment.contracts.StreamPay.blockNumber),
    });
    const block = await this.ctx.clients.public.getBlock({ blockTag: "pending" }).catch(() => this.ctx.clients.public.getBlock());
    const streams = await Promise.all(
      logs.map(async (l) => {
        const v = await this.ctx.clients.public.readContract({ address: this.ctx.streamPay, abi: streamPayAbi, functionName: "getStreamView", args: [l.args.streamId!], blockTag: "pending" });
        const state = streamStateAt(v.status, v.stopTime, block.timestamp, this.ctx.gracePeriod);
        const open = v.status === StreamStatusCode.Open;
        return {
          id: v.id, providerId: v.providerId, recipient: v.recipient, asset: v.asset, status: state,
          ratePerSecond: v.ratePerSecond, deposited: v.deposited, streamed: v.streamed, withdrawn: v.withdrawn,
          refundable: open ? v.deposited - v.streamed : 0n, refunded: v.refunded, startTime: v.startTime,
          stopTime: v.stopTime, ...(v.challengeEndsAt > 0n ? { challengeEndsAt: v.challengeEndsAt } : {}),
        };
      }),
    );
    streams.sort((a, b) => (a.id > b.id ? -1 : 1));
    return { streams, source: "chain", indexerError };
  }

  /** The provider and terms of one of this wallet's open streams (throws otherwise). */
  private async ownOpenStream(streamId: bigint) {
    const view = await this.ctx.clients.public.readContract({ address: this.ctx.streamPay, abi: streamPayAbi, functionName: "getStreamView", args: [streamId] }).catch(() => {
      throw new Error(`stream ${streamId} does not exist on chain ${this.ctx.domain.chainId}`);
    });
    if (view.sender.toLowerCase() !== this.address.toLowerCase()) throw new Error(`stream ${streamId} was opened by ${view.sender}, not by this wallet (${this.address})`);
    if (view.status !== StreamStatusCode.Open) {
      const name = streamStatusName(view.status).toLowerCase();
      const hint = view.status === StreamStatusCode.Cancelling ? ": run `finalize` after its challenge window ends" : "";
      throw new Error(`stream ${streamId} is already ${name}${hint}`);
    }
    const provider = await this.ctx.clients.public.readContract({ address: this.ctx.registry, abi: computeRegistryAbi, functionName: "getProvider", args: [view.providerId] });
    return { view, provider };
  }

  /**
   * Closes one of this wallet's streams with the provider's final receipt (exact billing), checked against
   * the serving time this agent measured on it (its journal) when it has a record; refused → cancel and
   * rate 1; no receipt → cancel.
   */
  async close(streamId: bigint): Promise<StreamActionResult> {
    const { view, provider } = await this.ownOpenStream(streamId);
    const gas = new GasMeter();
    const stream = await this.attach(streamId, view, provider, gas);
    const outcome = await stream.closeWithFinalReceipt();
    return { outcome, gasUsed: gas.gasUsed, gasCost: gas.cost, asset: this.ctx.asset };
  }

  /**
   * Cancels one of this wallet's streams: the unstreamed part comes back at once; the provider may claim
   * the vouchers this wallet signed until its challenge window ends, and the rest comes back after that.
   */
  async cancel(streamId: bigint): Promise<StreamActionResult> {
    const { view, provider } = await this.ownOpenStream(streamId);
    const gas = new GasMeter();
    const stream = await this.attach(streamId, view, provider, gas);
    const outcome = await stream.cancel("cancelled on request");
    return { outcome, gasUsed: gas.gasUsed, gasCost: gas.cost, asset: this.ctx.asset };
  }

  /** Adds `amount` to one of this wallet's open streams; the stream's total deposit stays within the budget. */
  async topUp(streamId: bigint, amount: bigint): Promise<{ deposited: bigint; stopTime: bigint; gasUsed: bigint; gasCost: bigint; asset: AssetInfo }> {
    const { view, provider } = await this.ownOpenStream(streamId);
    if (amount < view.ratePerSecond) throw new Error(`a top-up must buy at least one second: ${view.ratePerSecond} or more`);
    const gas = new GasMeter();
    const stream = await this.attach(streamId, view, provider, gas);
    await stream.topUp(amount);
    return { deposited: stream.deposited, stopTime: stream.stopTime, gasUsed: gas.gasUsed, gasCost: gas.cost, asset: this.ctx.asset };
  }

  /** A PaidStream handle for an existing stream, with the journal's measurements and a budget for its deposit. */
  private attach(streamId: bigint, view: { ratePerSecond: bigint; deposited: bigint; stopTime: bigint; recipient: Address }, provider: { id: bigint; wallet: Address; model: string; asset: Address; pricePerSecond: bigint; endpoint: string; active: boolean; requestsServed: bigint; ratingCount: bigint; ratingSum: bigint }, gas: GasMeter) {
    const info: ProviderInfo = {
      id: provider.id, wallet: view.recipient, model: provider.model, asset: provider.asset, pricePerSecond: provider.pricePerSecond, pricePerHour: provider.pricePerSecond * 3600n,
      endpoint: provider.endpoint, active: provider.active, requestsServed: provider.requestsServed, ratingCount: Number(provider.ratingCount), ratingSum: Number(provider.ratingSum),
      ratingAverage: provider.ratingCount > 0n ? Number(provider.ratingSum) / Number(provider.ratingCount) : null, live: undefined, rankPrice: 0,
    };
    // The stream's deposit counts against the budget: a top-up may only fill what is left of it.
    const limit = this.ctx.settings.budget;
    const budget = new Budget(limit > view.deposited ? limit : view.deposited);
    budget.reserve(view.deposited);
    const entry = this.ctx.journal.get(streamId);
    const client = new ProviderClient({ endpoint: provider.endpoint, signer: this.ctx.account, domain: this.ctx.domain, timeoutMs: this.ctx.settings.requestTimeoutMs, fetch: this.ctx.fetch });
    const stream = PaidStream.attach(this.ctx, info, client, budget, gas, streamId, view.ratePerSecond, view.deposited, view.stopTime);
    if (entry) {
      stream.measuredMs = entry.measuredMs;
      stream.requests = entry.requests;
      stream.accepted = BigInt(entry.accepted ?? "0");
    } else {
      stream.unmeasured = true;
    }
    return stream;
  }

  /**
   * Finishes this wallet's cancels whose challenge window has passed (one `batchUpdateStreams`): what no
   * voucher claimed comes back. Then gives the ratings that were waiting for those streams to close.
   * `streamIds` limits it to those streams; by default every cancel this agent's journal knows.
   */
  async finalize(streamIds?: bigint[]): Promise<FinalizeResult> {
    const ids = streamIds ?? this.ctx.journal.all().filter(([, e]) => !e.closed && e.challengeEndsAt).map(([id]) => id);
    const gas = new GasMeter();
    const result: FinalizeResult = { finalized: [], waiting: [], gasUsed: 0n, gasCost: 0n, asset: this.ctx.asset };
    // The pending block's time: on a quiet chain the latest block can be far behind the clock, and the
    // finalising transaction goes into the next block anyway.
    const block = await this.ctx.clients.public.getBlock({ blockTag: "pending" }).catch(() => this.ctx.clients.public.getBlock());
    const due: bigint[] = [];
    const before = new Map<bigint, bigint>();
    for (const id of ids) {
      const view = await this.ctx.clients.public.readContract({ address: this.ctx.streamPay, abi: streamPayAbi, functionName: "getStreamView", args: [id] }).catch(() => undefined);
      if (!view || view.sender.toLowerCase() !== this.address.toLowerCase()) continue;
      if (view.status !== StreamStatusCode.Cancelling) {
        if (view.status !== StreamStatusCode.Open) await this.closeEntry(id, view.withdrawn, result, gas);
        continue;
      }
      if (block.timestamp < view.challengeEndsAt) {
        result.waiting.push({ streamId: id, challengeEndsAt: view.challengeEndsAt, pendingRefund: view.streamed - view.withdrawn });
        continue;
      }
      due.push(id);
      before.set(id, view.refunded);
    }
    if (due.length) {
      await sendContract(this.ctx.clients, gas, "batchUpdateStreams", { address: this.ctx.streamPay, abi: streamPayAbi, functionName: "batchUpdateStreams", args: [due] }, "pending");
      for (const id of due) {
        const view = await this.ctx.clients.public.readContract({ address: this.ctx.streamPay, abi: streamPayAbi, functionName: "getStreamView", args: [id] });
        const entry = await this.closeEntry(id, view.withdrawn, result, gas);
        entry.refunded = view.refunded - (before.get(id) ?? 0n);
      }
    }
    result.gasUsed = gas.gasUsed;
    result.gasCost = gas.cost;
    return result;
  }

  /** Marks a stream closed in the journal and gives a rating that waited for it. */
  private async closeEntry(streamId: bigint, paid: bigint, result: FinalizeResult, gas: GasMeter) {
    const entry = this.ctx.journal.get(streamId);
    let rated = false;
    if (entry?.pendingRating && paid > 0n) {
      try {
        await sendContract(this.ctx.clients, gas, "rateProvider", { address: this.ctx.registry, abi: computeRegistryAbi, functionName: "rateProvider", args: [streamId, entry.pendingRating] });
        rated = true;
      } catch (error) {
        this.ctx.log.warn({ streamId: streamId.toString(), err: (error as Error).message }, "could not give the pending rating");
      }
    }
    this.ctx.journal.update(streamId, { closed: true, pendingRating: undefined });
    const record = { streamId, refunded: 0n, rated };
    result.finalized.push(record);
    return record;
  }
}

export { checkReceipt, receiptAllowance };
