/**
 * The keeper: calls StreamPay's `batchUpdateStreams` for streams that are due, in bounded batches, and only
 * when that pays. `init()` once, `tick()` on a schedule (`start()`), `stop()` waits for the round in flight.
 *
 * What is due. With metered streams a provider is paid by the payer's signatures, and time is only a cap:
 * settling an open stream by time before its stop time + grace period would charge the consumer for time
 * it did not use, so the contract refuses it and the keeper never asks. Two kinds of stream are due:
 *   - abandoned: status Open and now ≥ stopTime + gracePeriod. Settling it credits the recipient side with
 *     everything not yet withdrawn (deposited − withdrawn) and pays the keeper 10 bps of that;
 *   - an expired cancel: status Cancelling and now ≥ endTime + challengeWindow. Finalising it sends the
 *     sender streamed − withdrawn and pays the keeper nothing, so the keeper does it only when
 *     KEEPER_FINALIZE_CANCELS is on (the sender, who wants its refund, finalises its own; anyone may).
 *
 * Where candidates come from. The indexer nominates streams whose query-time state is `abandoned` (or
 * `challenge_expired`); when it cannot be reached, the keeper scans StreamPay's stream ids itself. Either
 * way every candidate is re-read on-chain (`getStreamView` at the pending block) and classified against
 * the chain's own time, so a stale or wrong indexer can cost a read, never a transaction. What a read
 * shows is remembered: a closed stream is never read again, and an open one not before it can be due
 * (a top-up only moves that time later).
 *
 * When to send. Abandoned candidates are sorted by the worth of their reward, cut into batches of
 * KEEPER_BATCH_SIZE, and each batch is simulated; if the simulation closes fewer streams than the batch
 * holds (someone closed one since it was read), the batch is re-read and trimmed to what is still due. A
 * batch is sent only if
 *     reward worth ≥ (estimated gas × maxFeePerGas + L1 data fee) × KEEPER_GAS_MARGIN,
 * the worst case it can cost, so a sent batch never loses money. Once a batch does not pay, the rest (worth
 * less) would not either, and the round stops there.
 */
import {
  type Account,
  type Address,
  type Chain,
  type Hash,
  type LocalAccount,
  type PublicClient,
  type Transport,
  type WalletClient,
  encodeFunctionData,
  getAddress,
  parseEventLogs,
  zeroAddress,
} from "viem";
import type { Logger } from "pino";
import {
  type Deployment,
  StreamStatusCode,
  describeError,
  keeperReward,
  makeClients,
  revertName,
  streamPayAbi,
  streamStatusName,
} from "@clawcompute/sdk";
import { loadDeployment } from "@clawcompute/sdk/node";
import type { KeeperConfig } from "./config.ts";
import { countsL1Fee, gasCostOf } from "./gas.ts";
import { DUE_STATES, type Nomination, queryDueStreams } from "./indexer.ts";
import { createKeeperLogger } from "./log.ts";
import { type KeeperMetrics, createKeeperMetrics } from "./metrics.ts";
import { type Health, type HttpServer, startHttpServer } from "./server.ts";

/** abandoned = settled by time (paid); cancel = an expired cancel finalised (unpaid). */
export type DueKind = "abandoned" | "cancel";

export type Candidate = {
  id: bigint;
  kind: DueKind;
  asset: Address;
  /**
   * Abandoned: deposited − withdrawn, what settling credits to the recipient side (reward included).
   * Cancel: streamed − withdrawn, what finalising sends back to the sender.
   */
  amount: bigint;
  /** The keeper's reward, asset units: keeperReward(amount) when abandoned, 0 for a cancel. */
  reward: bigint;
  /** The reward's worth against gas, native wei (0 for an unpriced ERC-20, and for a cancel). */
  value: bigint;
  /** Since when it is due: abandonedAt, or challengeEndsAt. */
  dueAt: bigint;
};

export type Rejection = { id: bigint; reason: string };

export type Survey = {
  /** Where the ids came from. */
  source: "indexer" | "scan";
  /** The chain time the candidates were judged at (timestamp of the pending block). */
  now: bigint;
  candidates: Candidate[];
  /** Ids read on-chain and found not due (or not worth anything), with why. */
  rejected: Rejection[];
  /** Ids read on-chain this survey. */
  read: number;
  skippedUnpriced: number;
  indexerError?: string;
};

export type BatchOutcome =
  | "sent"
  | "unprofitable"
  | "fee_too_high"
  | "stale"
  | "simulation_failed"
  | "reverted"
  | "send_failed";

export type BatchReport = {
  kind: DueKind;
  streamIds: bigint[];
  /** Worth of the expected reward, native wei. */
  expectedReward: bigint;
  gasEstimate: bigint;
  maxFeePerGas: bigint;
  /** The L1 data fee counted (0 when not an OP-stack chain). */
  l1Fee: bigint;
  /** Worst-case cost: gasEstimate × maxFeePerGas + l1Fee. */
  cost: bigint;
  /** What the reward had to reach: cost × KEEPER_GAS_MARGIN (0 for unpaid cancels). */
  needed: bigint;
  action: BatchOutcome;
  /** Ids taken out of the batch because they were no longer due when simulated. */
  dropped: Rejection[];
  hash?: Hash;
  gasUsed?: bigint;
  /** gasUsed × effectiveGasPrice (L2 gas), wei. */
  gasPaid?: bigint;
  /** Streams the transaction closed. */
  closed?: number;
  /** BatchSettled per asset. */
  settled?: Array<{ asset: Address; streams: bigint; settledAmount: bigint; reward: bigint }>;
  error?: string;
};

export type TickReport = {
  source?: "indexer" | "scan";
  candidates: number;
  rejected: Rejection[];
  skippedUnpriced: number;
  batches: BatchReport[];
  error?: string;
};

export type KeeperParameters = {
  config: KeeperConfig;
  account: LocalAccount;
  log?: Logger;
  /** Default: deployments/<chainId>.json from KEEPER_DEPLOYMENTS_DIR. */
  deployment?: Deployment;
  /** For the indexer queries (tests). */
  fetch?: typeof fetch;
  metrics?: KeeperMetrics;
};

type StreamView = {
  id: bigint;
  asset: Address;
  status: number;
  deposited: bigint;
  streamed: bigint;
  withdrawn: bigint;
  abandonedAt: bigint;
  challengeEndsAt: bigint;
};

/** What a read showed, kept so the stream is not read again before it can change in a way that matters. */
type Known = { final: true; reason: string } | { final: false; notBefore: bigint };

const READ_CONCURRENCY = 20;
const FAILING_AFTER = 3;

export class Keeper {
  readonly log: Logger;
  readonly config: KeeperConfig;
  readonly metrics: KeeperMetrics;
  /** Totals since start (logs and /healthz). Rewards in native wei (ERC-20 rewards are in the metrics). */
  readonly totals = { rounds: 0, batches: 0, streams: 0, nativeRewards: 0n, gasPaid: 0n, errors: 0 };
  private publicClient!: PublicClient<Transport, Chain>;
  private walletClient!: WalletClient<Transport, Chain, Account>;
  private deployment!: Deployment;
  private streamPay!: Address;
  private l1Fee = false;
  private gracePeriod = 0n;
  private challengeWindow = 0n;
  private server: HttpServer | undefined;
  private timer: NodeJS.Timeout | undefined;
  private inflight: Promise<TickReport> | undefined;
  private stopped = false;
  private stopping: Promise<void> | undefined;
  private readonly doFetch: typeof fetch;
  private readonly known = new Map<bigint, Known>();
  private readonly cursors = { indexer: 0n, scan: 0n };
  private indexerDown = false;
  private failedRounds = 0;
  private lastRound: { at: string; ok: boolean; source?: string; error?: string } | undefined;

  constructor(private readonly p: KeeperParameters) {
    this.config = p.config;
    this.log = p.log ?? createKeeperLogger(p.config.logLevel);
    this.metrics = p.metrics ?? createKeeperMetrics();
    this.doFetch = p.fetch ?? fetch;
  }

  get address(): Address {
    return this.p.account.address;
  }

  /** The port of the /healthz and /metrics server (undefined when it is off). */
  get httpPort(): number | undefined {
    return this.server?.port;
  }

  /**
   * Connects, checks the chain id, reads StreamPay's grace period and challenge window, and starts the
   * HTTP server when KEEPER_HTTP_PORT is set. Throws a message that names what is wrong.
   */
  async init(): Promise<void> {
    const c = this.config;
    const clients = makeClients(c.chainId, c.rpcUrl, this.p.account, { retryCount: 2 });
    this.publicClient = clients.public;
    this.walletClient = clients.wallet;
    const rpcChainId = await this.publicClient.getChainId().catch((error: Error) => {
      throw new Error(`cannot reach the chain at KEEPER_RPC_URL=${c.rpcUrl}: ${error.message.split("\n")[0]}`);
    });
    if (rpcChainId !== c.chainId) {
      throw new Error(`KEEPER_RPC_URL=${c.rpcUrl} serves chain ${rpcChainId}, but KEEPER_CHAIN_ID is ${c.chainId}.`);
    }
    this.deployment = this.p.deployment ?? loadDeployment(c.chainId, c.deploymentsDir);
    this.streamPay = this.deployment.contracts.StreamPay.address;
    // The contract is the authority on its parameters; the deployment file only records them.
    const read = (functionName: "gracePeriod" | "challengeWindow") =>
      this.publicClient.readContract({ address: this.streamPay, abi: streamPayAbi, functionName });
    try {
      [this.gracePeriod, this.challengeWindow] = await Promise.all([read("gracePeriod"), read("challengeWindow")]);
    } catch (error) {
      throw new Error(`cannot read StreamPay at ${this.streamPay} on chain ${c.chainId} `
        + `(is deployments/${c.chainId}.json for this chain?): ${describeError(error)}`);
    }
    const recorded = this.deployment.parameters;
    const onChain = { gracePeriod: String(this.gracePeriod), challengeWindow: String(this.challengeWindow) };
    if (recorded.gracePeriod !== onChain.gracePeriod || recorded.challengeWindow !== onChain.challengeWindow) {
      this.log.warn({ recorded, onChain }, "the deployment file's parameters differ from the contract's: using the "
        + "contract's");
    }
    this.l1Fee = countsL1Fee(c.l1Fee, clients.chain);
    if (c.httpPort > 0) {
      this.server = await startHttpServer({ host: c.httpHost, port: c.httpPort, health: () => this.health(),
        metrics: this.metrics, log: this.log });
    }
    this.log.info({
      keeper: this.address, chainId: c.chainId, streamPay: this.streamPay, indexer: c.indexerUrl ?? "none (scan)",
      gracePeriod: String(this.gracePeriod), challengeWindow: String(this.challengeWindow),
      finalizeCancels: c.finalizeCancels, l1Fee: this.l1Fee, batchSize: c.batchSize, gasMargin: c.gasMargin,
    }, "keeper started");
  }

  /** Runs rounds every KEEPER_INTERVAL_MS until {@link stop}. */
  start(): void {
    const loop = async () => {
      if (this.stopped) return;
      await this.tick();
      if (!this.stopped) this.timer = setTimeout(loop, this.config.intervalMs);
    };
    void loop();
  }

  /** Stops scheduling, waits for the round in flight (its transaction included), closes the HTTP server. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.stopped = true;
      clearTimeout(this.timer);
      await this.inflight?.catch(() => undefined);
      await this.server?.close();
      this.log.info(this.printableTotals(), "keeper stopped");
    })();
    return this.stopping;
  }

  /** One round: find, check, batch, simulate, send what pays. Never throws (errors are counted and logged). */
  tick(): Promise<TickReport> {
    if (this.inflight) return this.inflight;
    this.inflight = this.round().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  health(): Health {
    const status = this.stopped
      ? "stopping"
      : this.failedRounds >= FAILING_AFTER
        ? "failing"
        : this.lastRound && !this.lastRound.ok
          ? "degraded"
          : "ok";
    return {
      status,
      keeper: this.address,
      chainId: this.config.chainId,
      streamPay: this.streamPay,
      lastRound: this.lastRound,
      failedRoundsInARow: this.failedRounds,
      candidateSource: this.indexerDown || !this.config.indexerUrl ? "scan" : "indexer",
      totals: this.printableTotals(),
    };
  }

  private printableTotals() {
    return { ...this.totals, nativeRewards: String(this.totals.nativeRewards), gasPaid: String(this.totals.gasPaid) };
  }

  // ------------------------------------------------------------------------------------------ survey

  /** The chain's time as the next transaction will see it (the pending block; latest where that is unknown). */
  private async chainNow(): Promise<bigint> {
    const block = await this.publicClient.getBlock({ blockTag: "pending" }).catch(() => this.publicClient.getBlock());
    return block.timestamp;
  }

  /** Finds the streams due now: nominated by the indexer (or found by a scan), each checked on-chain. */
  async survey(): Promise<Survey> {
    const c = this.config;
    const now = await this.chainNow();
    let source: Survey["source"] = "scan";
    let ids: bigint[] | undefined;
    let indexerError: string | undefined;
    if (c.indexerUrl) {
      try {
        const states: string[] = [DUE_STATES.abandoned];
        if (c.finalizeCancels) states.push(DUE_STATES.cancel);
        const nominated = await queryDueStreams({ indexerUrl: c.indexerUrl, states, timeoutMs: c.indexerTimeoutMs,
          challengeWindow: this.challengeWindow, fetch: this.doFetch });
        ids = this.readable(nominated, now);
        source = "indexer";
        if (this.indexerDown) this.log.info("indexer reachable again: candidates come from it");
        this.indexerDown = false;
      } catch (error) {
        indexerError = (error as Error).message;
        this.metrics.errors.inc({ stage: "indexer" });
        this.totals.errors++;
        // Logged loudly once, then quietly while it stays down.
        const level = this.indexerDown ? "debug" : "warn";
        this.log[level]({ err: indexerError }, "indexer unavailable: scanning StreamPay's stream ids instead");
        this.indexerDown = true;
      }
    }
    if (!ids) ids = await this.scanIds(now);
    const cursor = source === "indexer" ? "indexer" : "scan";
    const picked = this.pick(ids, cursor);
    const { candidates, rejected, skippedUnpriced } = await this.check(picked, now);
    this.metrics.source.inc({ source });
    return { source, now, candidates, rejected, read: picked.length, skippedUnpriced, indexerError };
  }

  /** Nominated ids worth a read: not known to be closed or early, and not early by the indexer's own times either. */
  private readable(nominated: Nomination[], now: bigint): bigint[] {
    return nominated.filter((n) => !this.skip(n.id, now) && !(n.dueAt !== undefined && n.dueAt > now)).map((n) => n.id);
  }

  /** Every stream id StreamPay has issued that a read could still find due. */
  private async scanIds(now: bigint): Promise<bigint[]> {
    const next = await this.publicClient.readContract({ address: this.streamPay, abi: streamPayAbi,
      functionName: "nextStreamId", blockTag: "pending" });
    const ids: bigint[] = [];
    for (let id = 1n; id < next; id++) if (!this.skip(id, now)) ids.push(id);
    return ids;
  }

  private skip(id: bigint, now: bigint): boolean {
    const k = this.known.get(id);
    return k !== undefined && (k.final || k.notBefore > now);
  }

  /**
   * At most KEEPER_MAX_READS_PER_TICK ids, starting after where the last round stopped and wrapping around,
   * so that a long list is read a part per round and no id waits forever behind others.
   */
  private pick(ids: bigint[], cursor: "indexer" | "scan"): bigint[] {
    const max = this.config.maxReadsPerTick;
    if (ids.length <= max) {
      this.cursors[cursor] = 0n;
      return ids;
    }
    const sorted = [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const start = sorted.findIndex((id) => id > this.cursors[cursor]);
    const rotated = start <= 0 ? sorted : [...sorted.slice(start), ...sorted.slice(0, start)];
    const picked = rotated.slice(0, max);
    this.cursors[cursor] = picked[picked.length - 1];
    return picked;
  }

  /** Reads each id on-chain and sorts it into candidates and rejections (remembering what will not change). */
  async check(ids: bigint[], now: bigint): Promise<Pick<Survey, "candidates" | "rejected" | "skippedUnpriced">> {
    const candidates: Candidate[] = [];
    const rejected: Rejection[] = [];
    let skippedUnpriced = 0;
    for (let i = 0; i < ids.length; i += READ_CONCURRENCY) {
      const chunk = ids.slice(i, i + READ_CONCURRENCY);
      const views = await Promise.all(chunk.map((id) => this.readStream(id)));
      chunk.forEach((id, j) => {
        const result = this.classify(id, views[j], now);
        if ("kind" in result) candidates.push(result);
        else {
          rejected.push(result);
          if (result.reason.startsWith("unpriced")) skippedUnpriced++;
        }
      });
    }
    return { candidates, rejected, skippedUnpriced };
  }

  /** The stream as the pending block sees it; undefined for an id StreamPay never issued. */
  private async readStream(id: bigint): Promise<StreamView | undefined> {
    try {
      const v = await this.publicClient.readContract({ address: this.streamPay, abi: streamPayAbi,
        functionName: "getStreamView", args: [id], blockTag: "pending" });
      return { ...v, asset: getAddress(v.asset) };
    } catch (error) {
      if (revertName(error) === "StreamPay_UnknownStream") return undefined;
      this.metrics.errors.inc({ stage: "chain" });
      throw new Error(`reading stream ${id} failed: ${describeError(error)}`);
    }
  }

  private classify(id: bigint, s: StreamView | undefined, now: bigint): Candidate | Rejection {
    const reject = (reason: string, known?: Known): Rejection => {
      if (known) this.known.set(id, known);
      return { id, reason };
    };
    // Not remembered: an id not issued yet may be issued later.
    if (!s) return reject("unknown stream id");
    switch (s.status) {
      case StreamStatusCode.Open: {
        if (now < s.abandonedAt) {
          // Still the parties' to close; settling it by time now would charge the consumer for time it did not use.
          return reject(`open: abandoned only from ${s.abandonedAt} (stop time + grace period), chain time ${now}`,
            { final: false, notBefore: s.abandonedAt });
        }
        const amount = s.deposited - s.withdrawn;
        if (amount === 0n) {
          return reject("abandoned, but everything was already paid out: nothing to settle",
            { final: true, reason: "empty" });
        }
        const reward = keeperReward(amount);
        const value = this.worth(s.asset, reward);
        if (value === undefined) {
          return reject(`unpriced ERC-20 reward (${s.asset} is not in KEEPER_TOKEN_PRICES)`,
            { final: true, reason: "unpriced" });
        }
        return { id, kind: "abandoned", asset: s.asset, amount, reward, value, dueAt: s.abandonedAt };
      }
      case StreamStatusCode.Cancelling: {
        if (!this.config.finalizeCancels) {
          return reject("cancelling: finalising unpaid cancels is off (KEEPER_FINALIZE_CANCELS)",
            { final: true, reason: "cancel" });
        }
        if (now < s.challengeEndsAt) {
          return reject(`cancelling: the recipient may answer until ${s.challengeEndsAt}, chain time ${now}`,
            { final: false, notBefore: s.challengeEndsAt });
        }
        const amount = s.streamed - s.withdrawn;
        return { id, kind: "cancel", asset: s.asset, amount, reward: 0n, value: 0n, dueAt: s.challengeEndsAt };
      }
      default: {
        const name = (() => {
          try {
            return streamStatusName(s.status);
          } catch {
            return `status ${s.status}`;
          }
        })();
        return reject(`already ${name}`, { final: true, reason: name });
      }
    }
  }

  /** A reward's worth in native wei; undefined for an ERC-20 without a price. */
  private worth(asset: Address, reward: bigint): bigint | undefined {
    if (asset === zeroAddress) return reward;
    const price = this.config.tokenPrices.get(asset.toLowerCase());
    if (price === undefined) return undefined;
    return BigInt(Math.floor(Number(reward) * price));
  }

  // ------------------------------------------------------------------------------------------ rounds

  private async round(): Promise<TickReport> {
    const c = this.config;
    this.totals.rounds++;
    const report: TickReport = { candidates: 0, rejected: [], skippedUnpriced: 0, batches: [] };
    try {
      const survey = await this.survey();
      report.source = survey.source;
      report.candidates = survey.candidates.length;
      report.rejected = survey.rejected;
      report.skippedUnpriced = survey.skippedUnpriced;
      const abandoned = survey.candidates.filter((x) => x.kind === "abandoned")
        .sort((a, b) => (b.value > a.value ? 1 : b.value < a.value ? -1 : a.id < b.id ? -1 : 1));
      const cancels = survey.candidates.filter((x) => x.kind === "cancel").sort((a, b) => (a.dueAt < b.dueAt ? -1 : 1));
      this.metrics.candidates.set({ kind: "abandoned" }, abandoned.length);
      this.metrics.candidates.set({ kind: "cancel" }, cancels.length);
      if (survey.skippedUnpriced) {
        this.log.info({ streams: survey.skippedUnpriced },
          "abandoned ERC-20 streams without a KEEPER_TOKEN_PRICES entry left alone");
      }
      const lists: Array<[DueKind, Candidate[]]> = [["abandoned", abandoned], ["cancel", cancels]];
      for (const [kind, list] of lists) {
        for (let i = 0; i < list.length; i += c.batchSize) {
          if (report.batches.length >= c.maxBatchesPerTick || this.stopped) break;
          const result = await this.sendBatch(kind, list.slice(i, i + c.batchSize));
          report.batches.push(result);
          if (result.action !== "sent") break; // the rest is worth less: it would not pay either
        }
      }
      this.log[report.batches.length ? "info" : "debug"]({
        source: survey.source, chainTime: String(survey.now), read: survey.read, abandoned: abandoned.length,
        cancels: cancels.length, batches: report.batches.map((b) => b.action),
      }, "round done");
      this.failedRounds = 0;
      this.metrics.rounds.inc({ result: "ok" });
      this.lastRound = { at: new Date().toISOString(), ok: true, source: survey.source };
    } catch (error) {
      this.totals.errors++;
      this.failedRounds++;
      report.error = (error as Error).message;
      this.metrics.errors.inc({ stage: "round" });
      this.metrics.rounds.inc({ result: "error" });
      this.lastRound = { at: new Date().toISOString(), ok: false, error: report.error };
      this.log.error({ err: report.error }, "round failed; retrying next round");
    }
    this.metrics.lastRound.set(Date.now() / 1000);
    return report;
  }

  /** How many streams a batch would close now (simulated at the pending block). */
  private async simulate(ids: bigint[]): Promise<number> {
    const { result } = await this.publicClient.simulateContract({ account: this.p.account, address: this.streamPay,
      abi: streamPayAbi, functionName: "batchUpdateStreams", args: [ids], blockTag: "pending" });
    return Number(result);
  }

  /**
   * Simulates, prices and — when it pays (abandoned) or when finalising cancels is on (cancel) — sends one
   * batch. Ids that are no longer due by the time of the simulation are re-read and dropped first.
   */
  async sendBatch(kind: DueKind, batch: Candidate[]): Promise<BatchReport> {
    const c = this.config;
    let streams = batch;
    const report: BatchReport = { kind, streamIds: streams.map((s) => s.id), expectedReward: 0n, gasEstimate: 0n,
      maxFeePerGas: 0n, l1Fee: 0n, cost: 0n, needed: 0n, action: "simulation_failed", dropped: [] };
    const done = (action: BatchOutcome, extra: Partial<BatchReport> = {}): BatchReport => {
      Object.assign(report, extra, { action });
      this.metrics.batches.inc({ kind, result: action });
      return report;
    };
    const log = this.log.child({ kind, streams: streams.length, ids: report.streamIds.slice(0, 20).map(String) });
    try {
      let closes = await this.simulate(report.streamIds);
      if (closes < streams.length) {
        // Someone closed (or topped up) a stream since it was read: keep only what is still due.
        const fresh = await this.check(report.streamIds, await this.chainNow());
        const still = fresh.candidates.filter((x) => x.kind === kind);
        const why = new Map(fresh.rejected.map((r) => [r.id, r.reason]));
        report.dropped = streams.filter((s) => !still.some((x) => x.id === s.id))
          .map((s) => ({ id: s.id, reason: why.get(s.id) ?? "no longer due" }));
        streams = still;
        report.streamIds = streams.map((s) => s.id);
        const dropped = report.dropped.map((d) => ({ id: String(d.id), reason: d.reason }));
        log.info({ dropped }, "ids no longer due dropped from the batch");
        if (!streams.length) return done("stale");
        closes = await this.simulate(report.streamIds);
        if (closes < streams.length) return done("stale"); // still changing under us: next round
      }
    } catch (error) {
      this.totals.errors++;
      this.metrics.errors.inc({ stage: "simulation" });
      const message = describeError(error);
      log.warn({ err: message }, "simulation failed: batch not sent");
      return done("simulation_failed", { error: message });
    }

    report.expectedReward = streams.reduce((acc, s) => acc + s.value, 0n);
    const args = [report.streamIds] as const;
    const data = encodeFunctionData({ abi: streamPayAbi, functionName: "batchUpdateStreams", args });
    try {
      const call = { account: this.p.account, address: this.streamPay, abi: streamPayAbi,
        functionName: "batchUpdateStreams", args, blockTag: "pending" } as const;
      report.gasEstimate = await this.publicClient.estimateContractGas(call as never);
      const fees = await this.publicClient.estimateFeesPerGas();
      report.maxFeePerGas = fees.maxFeePerGas;
      if (c.maxFeePerGas !== undefined && fees.maxFeePerGas > c.maxFeePerGas) {
        log.info({ maxFeePerGas: String(fees.maxFeePerGas), cap: String(c.maxFeePerGas) },
          "skipped: the network's fee is above KEEPER_MAX_FEE_PER_GAS");
        return done("fee_too_high");
      }
      const transaction = { account: this.address, to: this.streamPay, data };
      const cost = await gasCostOf({ client: this.publicClient, gas: report.gasEstimate,
        maxFeePerGas: fees.maxFeePerGas, l1Fee: this.l1Fee, transaction });
      report.l1Fee = cost.l1;
      report.cost = cost.total;
      const decision = { expectedReward: String(report.expectedReward), gasEstimate: String(report.gasEstimate),
        maxFeePerGas: String(fees.maxFeePerGas), l1Fee: String(cost.l1), cost: String(cost.total) };
      if (kind === "abandoned") {
        report.needed = (cost.total * BigInt(Math.round(c.gasMargin * 10_000))) / 10_000n;
        if (report.expectedReward < report.needed) {
          log.info({ ...decision, needed: String(report.needed) }, "skipped: the reward does not cover gas × margin");
          return done("unprofitable");
        }
      } else {
        log.info(decision, "finalising expired cancels (unpaid: KEEPER_FINALIZE_CANCELS is on)");
      }
      report.hash = await this.walletClient.writeContract({ address: this.streamPay, abi: streamPayAbi,
        functionName: "batchUpdateStreams", args, gas: (report.gasEstimate * 12n) / 10n,
        maxFeePerGas: fees.maxFeePerGas, maxPriorityFeePerGas: fees.maxPriorityFeePerGas });
    } catch (error) {
      this.totals.errors++;
      this.metrics.errors.inc({ stage: "send" });
      const message = describeError(error);
      log.error({ err: message }, "batch could not be priced or sent");
      return done("send_failed", { error: message });
    }

    let receipt;
    try {
      receipt = await this.publicClient.waitForTransactionReceipt({ hash: report.hash });
    } catch (error) {
      this.totals.errors++;
      this.metrics.errors.inc({ stage: "send" });
      const message = describeError(error);
      log.error({ hash: report.hash, err: message },
        "sent, but no receipt came back; the next round re-reads its streams");
      return done("send_failed", { error: message });
    }
    const gasPaid = receipt.gasUsed * receipt.effectiveGasPrice;
    this.totals.gasPaid += gasPaid;
    this.metrics.gasSpent.inc(Number(gasPaid));
    Object.assign(report, { gasUsed: receipt.gasUsed, gasPaid });
    if (receipt.status !== "success") {
      this.totals.errors++;
      this.metrics.errors.inc({ stage: "send" });
      log.error({ hash: report.hash, gasUsed: String(receipt.gasUsed) }, "batch reverted");
      return done("reverted");
    }
    const settled = parseEventLogs({ abi: streamPayAbi, logs: receipt.logs, eventName: "BatchSettled" })
      .map(({ args: a }) => ({ asset: a.asset, streams: a.streamCount, settledAmount: a.settledAmount,
        reward: a.reward }));
    // An abandoned stream's close is its StreamSettled event; a finalised cancel's is StreamClosed.
    const closeEvents = ["StreamSettled", "StreamClosed"] as const;
    const closed = parseEventLogs({ abi: streamPayAbi, logs: receipt.logs, eventName: [...closeEvents] }).length;
    const nativeReward = settled.filter((s) => s.asset === zeroAddress).reduce((acc, s) => acc + s.reward, 0n);
    for (const s of settled) if (s.reward > 0n) this.metrics.rewards.inc({ asset: s.asset }, Number(s.reward));
    this.metrics.streamsSettled.inc({ kind }, closed);
    // All closed as simulated: never read them again. (Fewer means someone raced us; the next round re-reads.)
    if (closed === report.streamIds.length) {
      for (const id of report.streamIds) this.known.set(id, { final: true, reason: "closed by this keeper" });
    }
    this.totals.batches++;
    this.totals.streams += closed;
    this.totals.nativeRewards += nativeReward;
    log.info({
      hash: report.hash, block: String(receipt.blockNumber), closed, gasUsed: String(receipt.gasUsed),
      gasPaid: String(gasPaid),
      nativeReward: String(nativeReward), profit: String(nativeReward - gasPaid),
      settled: settled.map((s) => ({ asset: s.asset, streams: String(s.streams), settledAmount: String(s.settledAmount),
        reward: String(s.reward) })),
    }, kind === "abandoned" ? "abandoned streams settled" : "expired cancels finalised");
    return done("sent", { closed, settled });
  }
}
