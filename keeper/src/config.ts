/**
 * The keeper's configuration, declared once: every option's env variable (KEEPER_…), flag, default,
 * description and validator. `--help`, `.env.example` and the README's table are generated from it, and a
 * wrong or missing value stops start-up with a message naming it. The key comes from KEEPER_PRIVATE_KEY or
 * an encrypted keystore (the SDK's shared key options), never from a flag.
 */
import {
  ConfigError,
  type KeySource,
  type OptionSpec,
  checkKeySource,
  envExampleOf,
  fail,
  keyOptions,
  keySecretFlags,
  loadOptions,
  optionsHelp,
  optionsTable,
  parsers,
} from "@clawcompute/sdk/node";

export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
/** Whether the L1 data fee of an OP-stack chain is counted in a batch's cost. */
export type L1FeeMode = "auto" | "on" | "off";

export type KeeperConfig = {
  rpcUrl: string;
  chainId: number;
  deploymentsDir: string | undefined;
  /** Base URL of the indexer, or undefined to find streams by scanning the chain only. */
  indexerUrl: string | undefined;
  indexerTimeoutMs: number;
  intervalMs: number;
  batchSize: number;
  maxBatchesPerTick: number;
  maxReadsPerTick: number;
  gasMargin: number;
  maxFeePerGas: bigint | undefined;
  l1Fee: L1FeeMode;
  finalizeCancels: boolean;
  tokenPrices: Map<string, number>;
  httpHost: string;
  /** 0 = no HTTP server. */
  httpPort: number;
  logLevel: LogLevel;
  keystore: string | undefined;
  keystorePasswordFile: string | undefined;
};

const { bool, int, num, uint, url, oneOf, nonEmpty } = parsers;

const tokenPrices = (raw: string): Map<string, number> => {
  const map = new Map<string, number>();
  for (const part of raw.split(",").map((s) => s.trim()).filter(Boolean)) {
    const [address, price] = part.split(/[:=]/);
    const ok = address && /^0x[0-9a-fA-F]{40}$/.test(address) && price !== undefined && price.trim() !== "";
    if (!ok || !Number.isFinite(Number(price)) || Number(price) < 0) {
      fail('must be a comma-separated list of TOKEN_ADDRESS:NATIVE_WEI_PER_TOKEN_UNIT, e.g. "0xAbc…:400000000"');
    }
    map.set(address.toLowerCase(), Number(price));
  }
  return map;
};

/** An http(s) URL, or "none" (no indexer: streams are found by scanning the chain). */
const indexerUrl = (raw: string): string | undefined =>
  raw.trim() === "none" ? undefined : url(["http:", "https:"])(raw);

const host = (raw: string): string => {
  const v = raw.trim();
  if (!/^[A-Za-z0-9.:\-[\]]+$/.test(v)) fail("must be a host name or IP address to listen on, e.g. 127.0.0.1");
  return v;
};

export const KEEPER_OPTIONS: OptionSpec[] = [
  ...keyOptions("KEEPER", "Keeper wallet's"),
  { key: "rpcUrl", env: "KEEPER_RPC_URL", flag: "--rpc-url", default: "http://127.0.0.1:8545",
    parse: url(["http:", "https:", "ws:", "wss:"]), description: "JSON-RPC URL of the chain." },
  { key: "chainId", env: "KEEPER_CHAIN_ID", flag: "--chain-id", default: "31337", parse: int(1, 2 ** 48),
    description: "Chain id; the contracts are read from deployments/<chainId>.json." },
  { key: "deploymentsDir", env: "KEEPER_DEPLOYMENTS_DIR", flag: "--deployments-dir",
    derived: "$DEPLOYMENTS_DIR or the repository's deployments/", parse: nonEmpty(),
    description: "Folder holding deployments/<chainId>.json." },
  { key: "indexerUrl", env: "KEEPER_INDEXER_URL", flag: "--indexer-url", default: "http://127.0.0.1:42069",
    parse: indexerUrl,
    description: "Indexer base URL (GraphQL at /graphql) that nominates due streams; \"none\" = scan the chain's "
      + "stream ids instead." },
  { key: "indexerTimeoutMs", env: "KEEPER_INDEXER_TIMEOUT_MS", flag: "--indexer-timeout-ms", default: "5000",
    parse: int(100, 120_000), description: "Timeout of one indexer query (ms)." },
  { key: "intervalMs", env: "KEEPER_INTERVAL_MS", flag: "--interval-ms", default: "15000", parse: int(100, 86_400_000),
    description: "Time between the end of one round and the start of the next (ms)." },
  { key: "batchSize", env: "KEEPER_BATCH_SIZE", flag: "--batch-size", default: "50", parse: int(1, 500),
    description: "Most streams per batchUpdateStreams transaction." },
  { key: "maxBatchesPerTick", env: "KEEPER_MAX_BATCHES_PER_TICK", flag: "--max-batches-per-tick", default: "10",
    parse: int(1, 1000), description: "Most transactions sent per round." },
  { key: "maxReadsPerTick", env: "KEEPER_MAX_READS_PER_TICK", flag: "--max-reads-per-tick", default: "2000",
    parse: int(1, 1_000_000),
    description: "Most streams read on-chain (getStreamView) per round; the next round goes on where this one "
      + "stopped." },
  { key: "gasMargin", env: "KEEPER_GAS_MARGIN", flag: "--gas-margin", default: "1.5", parse: num(1, 1000),
    description: "A batch is sent only when its reward ≥ (estimated gas × maxFeePerGas + L1 data fee) × this "
      + "margin." },
  { key: "maxFeePerGas", env: "KEEPER_MAX_FEE_PER_GAS", flag: "--max-fee-per-gas", parse: uint(1n, (1n << 128n) - 1n),
    description: "Never pay more than this per gas (wei); rounds wait while the network asks more." },
  { key: "l1Fee", env: "KEEPER_L1_FEE", flag: "--l1-fee", default: "auto", parse: oneOf("auto", "on", "off"),
    description: "Count the L1 data fee in a batch's cost: auto = on OP-stack chains viem knows (Base, opBNB), "
      + "on = always, off = never." },
  { key: "finalizeCancels", env: "KEEPER_FINALIZE_CANCELS", flag: "--finalize-cancels", default: "false", parse: bool,
    description: "Also finalise cancels past their challenge window: unpaid, the keeper pays their gas (senders "
      + "finalise their own)." },
  { key: "tokenPrices", env: "KEEPER_TOKEN_PRICES", flag: "--token-prices", default: "", parse: tokenPrices,
    description: "Worth of ERC-20 rewards against gas: TOKEN_ADDRESS:NATIVE_WEI_PER_TOKEN_UNIT, comma-separated; "
      + "unlisted = not settled." },
  { key: "httpHost", env: "KEEPER_HTTP_HOST", flag: "--http-host", default: "127.0.0.1", parse: host,
    description: "Address the /healthz and /metrics server listens on." },
  { key: "httpPort", env: "KEEPER_HTTP_PORT", flag: "--http-port", default: "0", parse: int(0, 65_535),
    description: "Port of the /healthz and Prometheus /metrics server; 0 = no server." },
  { key: "logLevel", env: "KEEPER_LOG_LEVEL", flag: "--log-level", default: "info",
    parse: oneOf("fatal", "error", "warn", "info", "debug", "trace", "silent"),
    description: "pino log level (JSON logs on stdout)." },
];

export type KeeperCommand = "run" | "once" | "help" | "env-example";
export type LoadedKeeperConfig = {
  config: KeeperConfig;
  keySource: KeySource;
  warnings: string[];
  command: KeeperCommand;
};
export type LoadKeeperConfigParameters = { argv?: string[]; env?: NodeJS.ProcessEnv; cwd?: string };

/** Reads flags, env and the env file; throws {@link ConfigError} listing every wrong or missing value. */
export function loadKeeperConfig(p: LoadKeeperConfigParameters = {}): LoadedKeeperConfig {
  const { argv = process.argv.slice(2), env = process.env, cwd = process.cwd() } = p;
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
  const command = (loaded.command ?? "run") as KeeperCommand;
  const entries = KEEPER_OPTIONS.filter((o) => !o.secret).map((o) => [o.key, values[o.key]]);
  const config = Object.fromEntries(entries) as unknown as KeeperConfig;
  config.tokenPrices ??= new Map();
  let keySource: KeySource = {};
  if (command === "run" || command === "once") {
    const keys = checkKeySource({
      prefix: "KEEPER",
      hasKey: loaded.raw("privateKey") !== undefined,
      source: {
        privateKey: values.privateKey as string | undefined,
        keystore: config.keystore,
        keystorePassword: values.keystorePassword as string | undefined,
        keystorePasswordFile: config.keystorePasswordFile,
      },
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
    "ClawCompute keeper: settles abandoned streams (open past stop time + grace period) with",
    "StreamPay.batchUpdateStreams for its 0.1% reward, only when the reward covers the gas × a margin;",
    "with KEEPER_FINALIZE_CANCELS=true it also finalises cancels whose challenge window has passed (unpaid).",
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
    "# ClawCompute keeper configuration. Copy to keeper/.env and `chmod 600 .env`.",
    "# Every option is also a flag (see `npm run keeper -- --help`), except secrets, which are env-only.",
  ]);
}

export function keeperOptionsMarkdown(): string {
  return optionsTable(KEEPER_OPTIONS);
}

export { ConfigError };
