/**
 * The keeper (DESIGN §6): finds streams worth settling in the indexer, and calls StreamPay's
 * `batchUpdateStreams` for them in bounded batches — only when the batch's reward (10 bps of what it
 * settles) covers its gas times a margin. `init()` once, `tick()` on a schedule, `stop()` waits for the
 * tick in flight. Configuration is declared once (KEEPER_…, the SDK's shared loader); the key comes from
 * KEEPER_PRIVATE_KEY or an encrypted keystore, never a flag.
 *
 * Which streams (the trust model of contracts/TECHNICAL-DOC.md: settling pays by time, so a keeper must
 * not settle streams that are in use and will be closed by receipt):
 *   - depleted streams (open, past their stop time) with something withdrawable: always;
 *   - streams idle past KEEPER_IDLE_GRACE_SECONDS (no on-chain activity — creation, top-up, withdrawal —
 *     for that long) with at least KEEPER_MIN_WITHDRAWABLE withdrawable.
 *
 * Profitability: every candidate's reward = floor(withdrawable × 10 / 10 000), read on-chain at the
 * pending block (the indexer only nominates). Native-coin rewards are counted against native gas as they
 * are. An ERC-20 reward is worth nothing against gas unless KEEPER_TOKEN_PRICES gives its value in native
 * wei per token unit; unpriced ERC-20 streams are left alone (their providers settle them when they close
 * or withdraw). Candidates are sorted by value, cut into batches of KEEPER_BATCH_SIZE, and each batch is
 * simulated (`eth_call` + gas estimate at the pending block) and sent only if
 *   value ≥ estimated gas × maxFeePerGas × KEEPER_GAS_MARGIN
 * (the worst-case fee, so a sent batch never loses money). Once a batch does not pay, smaller ones will
 * not either: the tick stops there.
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
  getAddress,
  parseEventLogs,
  zeroAddress,
} from "viem";
import pino, { type Logger } from "pino";
import { type Deployment, makeClients, streamPayAbi } from "@clawcompute/sdk";
import {
  ConfigError,
  type KeySource,
  type OptionSpec,
  checkKeySource,
  envExampleOf,
  fail,
  keyOptions,
  keySecretFlags,
  loadDeployment,
  loadOptions,
  optionsHelp,
  optionsTable,
  parsers,
} from "@clawcompute/sdk/node";

// ------------------------------------------------------------------------------------------- config

export type KeeperConfig = {
  rpcUrl: string;
  chainId: number;
  deploymentsDir: string | undefined;
  indexerUrl: string;
  intervalMs: number;
  idleGraceSeconds: number;
  minWithdrawable: bigint;
  batchSize: number;
  maxBatchesPerTick: number;
  gasMargin: number;
  maxFeePerGas: bigint | undefined;
  tokenPrices: Map<string, number>;
  indexerTimeoutMs: number;
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  keystore: string | undefined;
  keystorePasswordFile: string | undefined;
};

const { int, num, uint, url, oneOf, nonEmpty } = parsers;

const tokenPrices = (raw: string): Map<string, number> => {
  const map = new Map<string, number>();
  for (const part of raw.split(",").map((s) => s.trim()).filter(Boolean)) {
    const [address, price] = part.split(/[:=]/);
    if (!address || !/^0x[0-9a-fA-F]{40}$/.test(address) || price === undefined || !Number.isFinite(Number(price)) || Number(price) < 0) {
      fail('must be a comma-separated list of TOKEN_ADDRESS:NATIVE_WEI_PER_TOKEN_UNIT, e.g. "0xAbc…:400000000"');
    }
    map.set(address.toLowerCase(), Number(price));
  }
  return map;
};

export const KEEPER_OPTIONS: OptionSpec[] = [
  ...keyOptions("KEEPER", "Keeper wallet's"),
  { key: "rpcUrl", env: "KEEPER_RPC_URL", flag: "--rpc-url", default: "http://127.0.0.1:8545", parse: url(["http:", "https:"]),
    description: "JSON-RPC URL of the chain." },
  { key: "chainId", env: "KEEPER_CHAIN_ID", flag: "--chain-id", default: "31337", parse: int(1, 2 ** 48),
    description: "Chain id; the contracts are read from deployments/<chainId>.json." },
  { key: "deploymentsDir", env: "KEEPER_DEPLOYMENTS_DIR", flag: "--deployments-dir", derived: "$DEPLOYMENTS_DIR or the repository's deployments/", parse: nonEmpty(),
    description: "Folder holding deployments/<chainId>.json." },
  { key: "indexerUrl", env: "KEEPER_INDEXER_URL", flag: "--indexer-url", default: "http://127.0.0.1:42069", parse: url(["http:", "https:"]),
    description: "Base URL of the ClawCompute indexer (GraphQL at /graphql), where streams worth settling are found." },
  { key: "intervalMs", env: "KEEPER_INTERVAL_MS", flag: "--interval-ms", default: "15000", parse: int(100, 86_400_000),
    description: "Time between two rounds (ms)." },
  { key: "idleGraceSeconds", env: "KEEPER_IDLE_GRACE_SECONDS", flag: "--idle-grace-seconds", default: "3600", parse: int(0, 365 * 86400),
    description: "A stream that is not depleted is settled only after this many seconds without on-chain activity (consumers close active streams with exact receipts; settling pays by time)." },
  { key: "minWithdrawable", env: "KEEPER_MIN_WITHDRAWABLE", flag: "--min-withdrawable", default: "0", parse: uint(0n, (1n << 256n) - 1n),
    description: "An idle (not depleted) stream is settled only when at least this much (asset units) is withdrawable." },
  { key: "batchSize", env: "KEEPER_BATCH_SIZE", flag: "--batch-size", default: "50", parse: int(1, 500),
    description: "Most streams per batchUpdateStreams transaction." },
  { key: "maxBatchesPerTick", env: "KEEPER_MAX_BATCHES_PER_TICK", flag: "--max-batches-per-tick", default: "10", parse: int(1, 1000),
    description: "Most transactions sent per round." },
  { key: "gasMargin", env: "KEEPER_GAS_MARGIN", flag: "--gas-margin", default: "1.5", parse: num(1, 1000),
    description: "A batch is sent only when its reward ≥ estimated gas × maxFeePerGas × this margin." },
  { key: "maxFeePerGas", env: "KEEPER_MAX_FEE_PER_GAS", flag: "--max-fee-per-gas", parse: uint(1n, (1n << 128n) - 1n),
    description: "Never pay more than this per gas (wei); rounds wait while the network asks more." },
  { key: "tokenPrices", env: "KEEPER_TOKEN_PRICES", flag: "--token-prices", default: "", parse: tokenPrices,
    description: "Value of ERC-20 rewards against gas: TOKEN_ADDRESS:NATIVE_WEI_PER_TOKEN_UNIT, comma-separated. Unlisted ERC-20 rewards count as 0, so their streams are not settled by this keeper." },
  { key: "indexerTimeoutMs", env: "KEEPER_INDEXER_TIMEOUT_MS", flag: "--indexer-timeout-ms", default: "5000", parse: int(100, 120_000),
    description: "Timeout of an indexer query (ms)." },
  { key: "logLevel", env: "KEEPER_LOG_LEVEL", flag: "--log-level", default: "info", parse: oneOf("fatal", "error", "warn", "info", "debug", "trace", "silent"),
    description: "pino log level (JSON logs on stdout)." },
];

export type LoadedKeeperConfig = { config: KeeperConfig; keySource: KeySource; warnings: string[]; command: "run" | "once" | "help" | "env-example" };

export function loadKeeperConfig({ argv = process.argv.slice(2), env = process.env, cwd = process.cwd() }: { argv?: string[]; env?: NodeJS.ProcessEnv; cwd?: string } = {}): LoadedKeeperConfig {
  const loaded = loadOptions({
    prefix: "KEEPER",
    options: KEEPER_OPTIONS,
    secretFlags: keySecretFlags("KEEPER"),
    commandFlags: { "--help": "help", "-h": "help", "--once": "once", "--print-env-example": "env-example" },
    argv,
    env,
    cwd,
  });
  const { values, problems, warnings } = loaded;
  const command = (loaded.command ?? "run") as LoadedKeeperConfig["command"];
  const config = Object.fromEntries(KEEPER_OPTIONS.filter((o) => !o.secret).map((o) => [o.key, values[o.key]])) as unknown as KeeperConfig;
  config.tokenPrices ??= new Map();
  let keySource: KeySource = {};
  if (command === "run" || command === "once") {
    const keys = checkKeySource({
      prefix: "KEEPER",
      hasKey: loaded.raw("privateKey") !== undefined,
      source: { privateKey: values.privateKey as string | undefined, keystore: config.keystore, keystorePassword: values.keystorePassword as string | undefined, keystorePasswordFile: config.keystorePasswordFile },
      cwd,
    });
    problems.push(...keys.problems);
    warnings.push(...keys.warnings);
    keySource = keys.source;
  }
  if (problems.length) throw new ConfigError(problems, "Run `npm run keeper -- --help` for every option.");
  return { config, keySource, warnings, command };
}

export function keeperHelp(): string {
  return [
    "ClawCompute keeper: settles depleted and long-idle streams with StreamPay.batchUpdateStreams for its 0.1% reward,",
    "only when the reward covers the gas × a margin.",
    "",
    "Usage: npm run keeper -- [--option value ...] [--once] [--env-file PATH] [--help]",
    "  --once                one round, then exit",
    "  --print-env-example   print a .env template",
    "",
    "Options (env variable / flag / default):",
    optionsHelp(KEEPER_OPTIONS),
  ].join("\n");
}

export function keeperEnvExample(): string {
  return envExampleOf(KEEPER_OPTIONS, [
    "# ClawCompute keeper configuration. Copy to scripts/.env and `chmod 600 .env`.",
    "# Every option is also a flag (see `npm run keeper -- --help`), except secrets, which are env-only.",
  ]);
}

export function keeperOptionsMarkdown(): string {
  return optionsTable(KEEPER_OPTIONS);
}

// ------------------------------------------------------------------------------------------- keeper

export type Candidate = {
  id: bigint;
  asset: Address;
  reason: "depleted" | "idle";
  /** Withdrawable now (pending block), asset units. */
  withdrawable: bigint;
  /** floor(withdrawable × 10 / 10 000), asset units. */
  reward: bigint;
  /** The reward's worth against gas, native wei (0 for an unpriced ERC-20). */
  value: bigint;
};

export type BatchReport = {
  streamIds: bigint[];
  expectedReward: bigint;
  gasEstimate: bigint;
  maxFeePerGas: bigint;
  /** Sent, or why not. */
  action: "sent" | "unprofitable" | "fee_too_high" | "simulation_failed" | "reverted";
  hash?: Hash;
  gasUsed?: bigint;
  gasCost?: bigint;
  /** BatchSettled per asset: settled (gross) and reward. */
  settled?: Array<{ asset: Address; streams: bigint; settledAmount: bigint; reward: bigint }>;
  error?: string;
};

export type TickReport = { candidates: number; skippedUnpriced: number; batches: BatchReport[]; error?: string };

export type KeeperParameters = {
  config: KeeperConfig;
  account: LocalAccount;
  log?: Logger;
  deployment?: Deployment;
  fetch?: typeof fetch;
};

// Paged by id (views have no cursors): each page asks for ids above the last one seen.
const STREAMS_QUERY = `query Open($after: BigInt!) {
  streamViews(where: { statusCode: 1, id_gt: $after }, orderBy: "id", limit: 1000) {
    items { id asset depleted withdrawable startTime asOf }
  }
}`;
const ACTIVITY_QUERY = `query Activity($after: BigInt!) {
  streams(where: { statusCode: 1, id_gt: $after }, orderBy: "id", limit: 1000) {
    items { id updatedAt }
  }
}`;

export function createKeeperLogger(level: KeeperConfig["logLevel"]): Logger {
  return pino({ level, base: { service: "keeper", pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime, redact: { paths: ["privateKey", "*.privateKey", "password", "*.password"], censor: "[redacted]" } });
}

export class Keeper {
  readonly log: Logger;
  readonly config: KeeperConfig;
  private publicClient!: PublicClient<Transport, Chain>;
  private walletClient!: WalletClient<Transport, Chain, Account>;
  private deployment!: Deployment;
  private streamPay!: Address;
  private timer: NodeJS.Timeout | undefined;
  private inflight: Promise<TickReport> | undefined;
  private stopped = false;
  private readonly doFetch: typeof fetch;
  /** Totals since start, for the logs. */
  readonly totals = { ticks: 0, batches: 0, streams: 0, rewards: 0n, gasCost: 0n, errors: 0 };

  constructor(private readonly p: KeeperParameters) {
    this.config = p.config;
    this.log = p.log ?? createKeeperLogger(p.config.logLevel);
    this.doFetch = p.fetch ?? fetch;
  }

  get address(): Address {
    return this.p.account.address;
  }

  async init(): Promise<void> {
    const c = this.config;
    this.deployment = this.p.deployment ?? loadDeployment(c.chainId, c.deploymentsDir);
    const clients = makeClients(c.chainId, c.rpcUrl, this.p.account, { retryCount: 2 });
    this.publicClient = clients.public;
    this.walletClient = clients.wallet;
    const rpcChainId = await this.publicClient.getChainId().catch((error: Error) => {
      throw new Error(`cannot reach the chain at KEEPER_RPC_URL=${c.rpcUrl}: ${error.message.split("\n")[0]}`);
    });
    if (rpcChainId !== c.chainId) throw new Error(`KEEPER_RPC_URL=${c.rpcUrl} serves chain ${rpcChainId}, but KEEPER_CHAIN_ID is ${c.chainId}.`);
    this.streamPay = this.deployment.contracts.StreamPay.address;
    this.log.info({ keeper: this.address, chainId: c.chainId, streamPay: this.streamPay, indexer: c.indexerUrl, idleGraceSeconds: c.idleGraceSeconds, batchSize: c.batchSize, gasMargin: c.gasMargin }, "keeper started");
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

  /** Stops scheduling and waits for the round in flight (its transaction included). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.inflight?.catch(() => undefined);
    this.log.info({ ...this.totals, rewards: this.totals.rewards.toString(), gasCost: this.totals.gasCost.toString() }, "keeper stopped");
  }

  /** One round: find, value, batch, simulate, send the batches that pay. Never throws (errors are counted). */
  tick(): Promise<TickReport> {
    if (this.inflight) return this.inflight;
    this.inflight = this.round().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private async gql<T>(query: string, variables: Record<string, unknown>): Promise<T> {
    const response = await this.doFetch(`${this.config.indexerUrl}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query, variables }),
      signal: AbortSignal.timeout(this.config.indexerTimeoutMs),
    });
    if (!response.ok) throw new Error(`indexer answered HTTP ${response.status}`);
    const json = (await response.json()) as { data?: T; errors?: Array<{ message: string }> };
    if (json.errors?.length || !json.data) throw new Error(`indexer GraphQL: ${json.errors?.map((e) => e.message).join("; ") ?? "no data"}`);
    return json.data;
  }

  private async pages<T extends { id: string }>(query: string, field: string): Promise<T[]> {
    const all: T[] = [];
    let after = "0";
    for (;;) {
      const data = await this.gql<Record<string, { items: T[] }>>(query, { after });
      const items = data[field].items;
      all.push(...items);
      if (items.length < 1000) return all;
      after = items[items.length - 1].id;
    }
  }

  /** Streams the indexer nominates (depleted, or idle past the grace period), valued on-chain at the pending block. */
  async findCandidates(): Promise<{ candidates: Candidate[]; skippedUnpriced: number }> {
    const c = this.config;
    const [views, activity] = await Promise.all([
      this.pages<{ id: string; asset: string; depleted: boolean; withdrawable: string; startTime: string; asOf: string }>(STREAMS_QUERY, "streamViews"),
      this.pages<{ id: string; updatedAt: string }>(ACTIVITY_QUERY, "streams"),
    ]);
    const lastActivity = new Map(activity.map((a) => [a.id, BigInt(a.updatedAt)]));
    const nominated = views.filter((v) => {
      if (BigInt(v.withdrawable) <= 0n) return false;
      if (v.depleted) return true;
      const last = lastActivity.get(v.id) ?? BigInt(v.startTime);
      return BigInt(v.asOf) - last >= BigInt(c.idleGraceSeconds) && BigInt(v.withdrawable) >= c.minWithdrawable;
    });
    let skippedUnpriced = 0;
    const candidates: Candidate[] = [];
    // The indexer nominates; the chain decides (it may lag, and amounts grow by the second).
    for (let i = 0; i < nominated.length; i += 20) {
      const chunk = nominated.slice(i, i + 20);
      const chain = await Promise.all(chunk.map((v) => this.publicClient.readContract({ address: this.streamPay, abi: streamPayAbi, functionName: "getStreamView", args: [BigInt(v.id)], blockTag: "pending" })));
      chain.forEach((s, j) => {
        if (s.status !== 1) return;
        const withdrawable = s.streamed - s.withdrawn;
        if (withdrawable <= 0n) return;
        const reward = (withdrawable * 10n) / 10_000n;
        const asset = getAddress(s.asset);
        let value: bigint;
        if (asset === zeroAddress) value = reward;
        else {
          const price = c.tokenPrices.get(asset.toLowerCase());
          if (price === undefined) {
            skippedUnpriced++;
            return;
          }
          value = BigInt(Math.floor(Number(reward) * price));
        }
        candidates.push({ id: s.id, asset, reason: chunk[j].depleted || s.depleted ? "depleted" : "idle", withdrawable, reward, value });
      });
    }
    candidates.sort((a, b) => (b.value > a.value ? 1 : b.value < a.value ? -1 : a.id < b.id ? -1 : 1));
    return { candidates, skippedUnpriced };
  }

  private async round(): Promise<TickReport> {
    const c = this.config;
    this.totals.ticks++;
    const report: TickReport = { candidates: 0, skippedUnpriced: 0, batches: [] };
    try {
      const { candidates, skippedUnpriced } = await this.findCandidates();
      report.candidates = candidates.length;
      report.skippedUnpriced = skippedUnpriced;
      if (skippedUnpriced) this.log.info({ streams: skippedUnpriced }, "ERC-20 streams without a KEEPER_TOKEN_PRICES entry left alone (their reward cannot be set against gas)");
      if (!candidates.length) {
        this.log.debug("nothing to settle");
        return report;
      }
      for (let i = 0; i < candidates.length && report.batches.length < c.maxBatchesPerTick && !this.stopped; i += c.batchSize) {
        const batch = candidates.slice(i, i + c.batchSize);
        const result = await this.settle(batch);
        report.batches.push(result);
        if (result.action !== "sent") break; // later batches are worth less: they would not pay either
      }
    } catch (error) {
      this.totals.errors++;
      report.error = (error as Error).message;
      this.log.error({ err: report.error }, "round failed; retrying next round");
    }
    return report;
  }

  private async settle(batch: Candidate[]): Promise<BatchReport> {
    const c = this.config;
    const streamIds = batch.map((b) => b.id);
    const expectedReward = batch.reduce((acc, b) => acc + b.value, 0n);
    const base = { streamIds, expectedReward, gasEstimate: 0n, maxFeePerGas: 0n };
    const log = this.log.child({ streams: streamIds.length, ids: streamIds.slice(0, 20).map(String) });
    let gasEstimate: bigint;
    try {
      await this.publicClient.simulateContract({ account: this.p.account, address: this.streamPay, abi: streamPayAbi, functionName: "batchUpdateStreams", args: [streamIds], blockTag: "pending" });
      gasEstimate = await this.publicClient.estimateContractGas({ account: this.p.account, address: this.streamPay, abi: streamPayAbi, functionName: "batchUpdateStreams", args: [streamIds], blockTag: "pending" } as never);
    } catch (error) {
      this.totals.errors++;
      log.warn({ err: (error as Error).message.split("\n")[0] }, "simulation failed: batch not sent");
      return { ...base, action: "simulation_failed", error: (error as Error).message.split("\n")[0] };
    }
    const fees = await this.publicClient.estimateFeesPerGas();
    const maxFeePerGas = fees.maxFeePerGas;
    const worstCost = gasEstimate * maxFeePerGas;
    const needed = (worstCost * BigInt(Math.round(c.gasMargin * 10_000))) / 10_000n;
    const decision = { expectedReward: expectedReward.toString(), gasEstimate: gasEstimate.toString(), maxFeePerGas: maxFeePerGas.toString(), worstGasCost: worstCost.toString(), needed: needed.toString() };
    if (c.maxFeePerGas !== undefined && maxFeePerGas > c.maxFeePerGas) {
      log.info({ ...decision, cap: c.maxFeePerGas.toString() }, "skipped: the network's fee is above KEEPER_MAX_FEE_PER_GAS");
      return { ...base, gasEstimate, maxFeePerGas, action: "fee_too_high" };
    }
    if (expectedReward < needed) {
      log.info(decision, "skipped: the reward does not cover gas × margin");
      return { ...base, gasEstimate, maxFeePerGas, action: "unprofitable" };
    }
    const hash = await this.walletClient.writeContract({
      address: this.streamPay,
      abi: streamPayAbi,
      functionName: "batchUpdateStreams",
      args: [streamIds],
      gas: (gasEstimate * 12n) / 10n,
      maxFeePerGas,
      maxPriorityFeePerGas: fees.maxPriorityFeePerGas,
    });
    const receipt = await this.publicClient.waitForTransactionReceipt({ hash });
    const gasCost = receipt.gasUsed * receipt.effectiveGasPrice;
    this.totals.gasCost += gasCost;
    if (receipt.status !== "success") {
      this.totals.errors++;
      log.error({ hash, gasUsed: receipt.gasUsed.toString() }, "batch reverted");
      return { ...base, gasEstimate, maxFeePerGas, action: "reverted", hash, gasUsed: receipt.gasUsed, gasCost };
    }
    const settled = parseEventLogs({ abi: streamPayAbi, logs: receipt.logs, eventName: "BatchSettled" }).map((e) => ({ asset: e.args.asset, streams: e.args.streamCount, settledAmount: e.args.settledAmount, reward: e.args.reward }));
    const nativeReward = settled.filter((s) => s.asset === zeroAddress).reduce((acc, s) => acc + s.reward, 0n);
    this.totals.batches++;
    this.totals.streams += streamIds.length;
    this.totals.rewards += nativeReward;
    log.info(
      { hash, block: receipt.blockNumber.toString(), gasUsed: receipt.gasUsed.toString(), gasCost: gasCost.toString(), nativeReward: nativeReward.toString(), profit: (nativeReward - gasCost).toString(), settled: settled.map((s) => ({ asset: s.asset, streams: s.streams.toString(), settledAmount: s.settledAmount.toString(), reward: s.reward.toString() })) },
      "batch settled",
    );
    return { ...base, gasEstimate, maxFeePerGas, action: "sent", hash, gasUsed: receipt.gasUsed, gasCost, settled };
  }
}
