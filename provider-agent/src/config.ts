/**
 * Configuration of the provider agent, declared once: every option has a name, an env variable
 * (`PROVIDER_…`), a command-line flag (except secrets), a description, a default and a validator.
 * `loadConfig` reads env, an optional env file and flags, validates everything and reports every wrong
 * or missing value at once. Secrets (the signing key, keystore password, backend API key) are read from
 * the environment or files only: a secret passed as a command-line argument is refused.
 * The loader, validators and key options are the SDK's (`@clawcompute/sdk/node`), shared with the
 * consumer agent and the keeper.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { Address } from "viem";
import {
  ConfigError,
  type OptionSpec as SharedOptionSpec,
  MAX_UINT256,
  checkKeySource,
  envExampleOf,
  keyOptions,
  keySecretFlags,
  loadOptions,
  optionsHelp,
  parseEnvFile,
  parsers,
} from "@clawcompute/sdk/node";

export { ConfigError, parseEnvFile, readableByOthers } from "@clawcompute/sdk/node";

export type Backend = "echo" | "openai";
export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";

export type ProviderConfig = {
  rpcUrl: string;
  chainId: number;
  deploymentsDir: string | undefined;
  model: string;
  pricePerSecond: bigint;
  /** "native", a deployment contract name (e.g. "TestUSD"), or an ERC-20 address. */
  asset: string;
  serviceType: string;
  stake: bigint | undefined;
  host: string;
  port: number;
  publicUrl: string | undefined;
  backend: Backend;
  echoTokensPerSecond: number;
  echoMaxTokens: number;
  openaiBaseUrl: string | undefined;
  backendModel: string | undefined;
  backendTimeoutMs: number;
  withdrawThreshold: bigint | undefined;
  payoutAddress: Address | undefined;
  payoutIntervalMs: number;
  withdrawOnShutdown: boolean;
  dataDir: string;
  maxBodyBytes: number;
  corsOrigin: string;
  maxConcurrent: number;
  maxConcurrentPerStream: number;
  maxExpirySeconds: number;
  maxRequestSeconds: number;
  maxTokens: number;
  minRunwayMs: number;
  minDepositSeconds: number;
  pollIntervalMs: number;
  logBlockRange: number;
  logLevel: LogLevel;
  drainTimeoutMs: number;
  pidFile: string | undefined;
  keystore: string | undefined;
  keystorePasswordFile: string | undefined;
};

/** Values that never appear in flags, logs or `ProviderConfig`. */
export type ProviderSecrets = {
  privateKey: string | undefined;
  keystorePassword: string | undefined;
  openaiApiKey: string | undefined;
};

export type OptionSpec = SharedOptionSpec<keyof ProviderConfig | keyof ProviderSecrets>;

const { str, nonEmpty, int, num, uint, bool, oneOf, url, address, asset } = parsers;

const MAX_PRICE = (1n << 96n) - 1n;

/** Every option of the agent, in the order --help and .env.example show them. */
export const OPTIONS: OptionSpec[] = [
  // Signing key (secrets: env or files only; the SDK's shared key options)
  ...keyOptions("PROVIDER", "Provider wallet's"),
  // Chain
  { key: "rpcUrl", env: "PROVIDER_RPC_URL", flag: "--rpc-url", default: "http://127.0.0.1:8545", parse: url(["http:", "https:", "ws:", "wss:"]),
    description: "JSON-RPC URL of the chain." },
  { key: "chainId", env: "PROVIDER_CHAIN_ID", flag: "--chain-id", default: "31337", parse: int(1, 2 ** 48),
    description: "Chain id; the contracts are read from deployments/<chainId>.json. 31337 = local dev chain; 97 BSC testnet; 5611 opBNB testnet; 84532 Base Sepolia." },
  { key: "deploymentsDir", env: "PROVIDER_DEPLOYMENTS_DIR", flag: "--deployments-dir", derived: "$DEPLOYMENTS_DIR or the repository's deployments/", parse: nonEmpty(),
    description: "Folder holding deployments/<chainId>.json." },
  // What is sold
  { key: "model", env: "PROVIDER_MODEL", flag: "--model", default: "echo-1", parse: nonEmpty(64),
    description: "Model name registered on-chain and served (1..64 bytes). One registration per (wallet, model)." },
  { key: "pricePerSecond", env: "PROVIDER_PRICE_PER_SECOND", flag: "--price-per-second", default: "1000000000000", parse: uint(1n, MAX_PRICE),
    description: "Price per second of serving time, in the asset's smallest unit (wei for the native coin; 1e-6 USD for 6-decimal TestUSD). 1000000000000 wei/s = 0.0036 ETH per hour." },
  { key: "asset", env: "PROVIDER_ASSET", flag: "--asset", default: "native", parse: asset,
    description: 'Payment asset, fixed at registration: "native" (the chain\'s coin), a contract name of the deployment file (e.g. "TestUSD"), or an ERC-20 address.' },
  { key: "serviceType", env: "PROVIDER_SERVICE_TYPE", flag: "--service-type", default: "llm", parse: nonEmpty(32),
    description: "Service type registered on-chain (1..32 bytes)." },
  { key: "stake", env: "PROVIDER_STAKE", flag: "--stake", derived: "the registry's minimum stake", parse: uint(0n, MAX_UINT256),
    description: "Native-coin stake (wei) locked at registration." },
  // HTTP
  { key: "host", env: "PROVIDER_HOST", flag: "--host", default: "127.0.0.1", parse: nonEmpty(255),
    description: "Interface to listen on (0.0.0.0 for all)." },
  { key: "port", env: "PROVIDER_PORT", flag: "--port", default: "8080", parse: int(0, 65535),
    description: "Port to listen on (0 = any free port; the log says which)." },
  { key: "publicUrl", env: "PROVIDER_PUBLIC_URL", flag: "--public-url", derived: "http://<host>:<port>", parse: url(["http:", "https:"]),
    description: "Public base URL registered on-chain as the endpoint consumers call." },
  { key: "maxBodyBytes", env: "PROVIDER_MAX_BODY_BYTES", flag: "--max-body-bytes", default: "1048576", parse: int(256, 64 * 1024 * 1024),
    description: "Largest request body accepted (bytes); larger ones get 413." },
  { key: "corsOrigin", env: "PROVIDER_CORS_ORIGIN", flag: "--cors-origin", default: "*", parse: nonEmpty(1024),
    description: "Access-Control-Allow-Origin sent to browsers (the dashboard calls the agent from the page); \"*\" allows any origin." },
  { key: "maxConcurrent", env: "PROVIDER_MAX_CONCURRENT", flag: "--max-concurrent", default: "64", parse: int(1, 100000),
    description: "Requests served at once across all streams; more get 503." },
  { key: "maxConcurrentPerStream", env: "PROVIDER_MAX_CONCURRENT_PER_STREAM", flag: "--max-concurrent-per-stream", default: "4", parse: int(1, 1000),
    description: "Requests served at once on one stream; more get 429." },
  // Backend
  { key: "backend", env: "PROVIDER_BACKEND", flag: "--backend", default: "echo", parse: oneOf<Backend>("echo", "openai"),
    description: 'Inference backend: "echo" (GPU-free simulator) or "openai" (any OpenAI-compatible server: Ollama, vLLM, llama.cpp, LM Studio, Groq, OpenAI).' },
  { key: "echoTokensPerSecond", env: "PROVIDER_ECHO_TOKENS_PER_SECOND", flag: "--echo-tokens-per-second", default: "50", parse: num(0, 1e6),
    description: "echo backend: tokens streamed per second (0 = as fast as possible)." },
  { key: "echoMaxTokens", env: "PROVIDER_ECHO_MAX_TOKENS", flag: "--echo-max-tokens", default: "256", parse: int(1, 100000),
    description: "echo backend: longest answer in tokens (a request's max_tokens may lower it)." },
  { key: "openaiBaseUrl", env: "PROVIDER_OPENAI_BASE_URL", flag: "--openai-base-url", parse: url(["http:", "https:"]),
    description: "openai backend: base URL including /v1, e.g. http://127.0.0.1:11434/v1 (Ollama), http://127.0.0.1:8000/v1 (vLLM), https://api.groq.com/openai/v1." },
  { key: "openaiApiKey", env: "PROVIDER_OPENAI_API_KEY", secret: true, parse: str,
    description: "openai backend: API key sent as a bearer token (optional; env only)." },
  { key: "backendModel", env: "PROVIDER_BACKEND_MODEL", flag: "--backend-model", derived: "PROVIDER_MODEL", parse: nonEmpty(256),
    description: "openai backend: model name the backend knows, when it differs from the registered one." },
  { key: "backendTimeoutMs", env: "PROVIDER_BACKEND_TIMEOUT_MS", flag: "--backend-timeout-ms", default: "120000", parse: int(100, 3_600_000),
    description: "Longest wait for the backend to answer or send its next token (ms); then 502." },
  // Payment gate
  { key: "maxExpirySeconds", env: "PROVIDER_MAX_EXPIRY_SECONDS", flag: "--max-expiry-seconds", default: "600", parse: int(1, 86400),
    description: "Request signatures may expire at most this far in the future; longer-lived ones are refused." },
  { key: "maxRequestSeconds", env: "PROVIDER_MAX_REQUEST_SECONDS", flag: "--max-request-seconds", default: "60",
    parse: int(1, 86400),
    description:
      "The longest a request may run; it is cut off then. Also the credit extended per stream: price x this is " +
      "how far a consumer's voucher may lag what was billed, and the most one request may be billed beyond what " +
      "the provider can collect on-chain." },
  { key: "maxTokens", env: "PROVIDER_MAX_TOKENS", flag: "--max-tokens", default: "4096", parse: int(1, 10_000_000),
    description:
      "The most tokens one answer may have; a request's max_tokens above it is lowered to it " +
      '(the answer then ends with finish_reason "length").' },
  { key: "minRunwayMs", env: "PROVIDER_MIN_RUNWAY_MS", flag: "--min-runway-ms", default: "1000", parse: int(0, 3_600_000),
    description:
      "A request is served only if its stream can pay for at least this much serving time " +
      "(by its deposit, its stop time, and its best voucher plus the credit)." },
  { key: "minDepositSeconds", env: "PROVIDER_MIN_DEPOSIT_SECONDS", flag: "--min-deposit-seconds", default: "60", parse: int(1, 10_000_000),
    description: "Smallest stream accepted, in seconds of the price: minimum deposit = price x this (told in every 402)." },
  // Payouts
  { key: "withdrawThreshold", env: "PROVIDER_WITHDRAW_THRESHOLD", flag: "--withdraw-threshold", derived: "price x 3600 (one hour of serving)", parse: uint(0n, MAX_UINT256),
    description:
      "Withdraw from a stream with its best voucher once that voucher pays this many asset units more than was " +
      "withdrawn, and withdraw the credited balance once it reaches this much. " +
      "0 = whatever there is, at every payout tick." },
  { key: "payoutAddress", env: "PROVIDER_PAYOUT_ADDRESS", flag: "--payout-address", derived: "the provider wallet", parse: address,
    description:
      "Where withdrawBalance sends the credited balance (closes credit it). " +
      "Voucher withdrawals are paid by StreamPay to the provider wallet itself." },
  { key: "payoutIntervalMs", env: "PROVIDER_PAYOUT_INTERVAL_MS", flag: "--payout-interval-ms", default: "60000", parse: int(100, 86_400_000),
    description:
      "How often earnings are checked against the threshold (ms). " +
      "Cancels to answer and session keys about to expire are checked every second regardless." },
  { key: "withdrawOnShutdown", env: "PROVIDER_WITHDRAW_ON_SHUTDOWN", flag: "--withdraw-on-shutdown", default: "true", parse: bool,
    description:
      "On shutdown, withdraw with the best voucher of every stream that pays more than was withdrawn, " +
      "and withdraw the credited balance, whatever the threshold." },
  // Operations
  { key: "dataDir", env: "PROVIDER_DATA_DIR", flag: "--data-dir", default: "./data", parse: nonEmpty(),
    description: "Folder for the agent's state (charges, nonces, receipts, payouts); keep it across restarts." },
  { key: "pollIntervalMs", env: "PROVIDER_POLL_INTERVAL_MS", flag: "--poll-interval-ms", default: "1000", parse: int(10, 600_000),
    description: "How often new chain events are fetched (ms)." },
  { key: "logBlockRange", env: "PROVIDER_LOG_BLOCK_RANGE", flag: "--log-block-range", default: "5000", parse: int(1, 10_000_000),
    description: "Most blocks per eth_getLogs call when catching up (lower it for RPCs with a range limit)." },
  { key: "drainTimeoutMs", env: "PROVIDER_DRAIN_TIMEOUT_MS", flag: "--drain-timeout-ms", default: "30000", parse: int(0, 3_600_000),
    description: "On SIGINT/SIGTERM, how long in-flight requests may finish before they are cut (and billed for what was served)." },
  { key: "pidFile", env: "PROVIDER_PID_FILE", flag: "--pid-file", parse: nonEmpty(),
    description: "Write the agent's process id here while it runs (signal that pid to stop it: npm does not pass on a SIGTERM sent to npm alone)." },
  { key: "logLevel", env: "PROVIDER_LOG_LEVEL", flag: "--log-level", default: "info", parse: oneOf<LogLevel>("fatal", "error", "warn", "info", "debug", "trace", "silent"),
    description: "pino log level." },
];

/** Flags that name a secret: always refused, with a pointer to the env variable. */
const SECRET_FLAGS: Record<string, string> = {
  ...keySecretFlags("PROVIDER"),
  "--openai-api-key": "PROVIDER_OPENAI_API_KEY",
  "--api-key": "PROVIDER_OPENAI_API_KEY",
};

export type LoadConfigParameters = {
  argv?: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
};

export type LoadedConfig = {
  config: ProviderConfig;
  secrets: ProviderSecrets;
  /** Things to tell the operator (e.g. a key file readable by others), never containing secrets. */
  warnings: string[];
  /** The env file that was read, if any. */
  envFile: string | undefined;
  /** --help / --check / --print-env-example asked for. */
  command: "run" | "help" | "check" | "env-example";
};

/**
 * Reads and validates the configuration. Precedence: flag > process env > env file > default.
 * Throws {@link ConfigError} listing every problem.
 */
export function loadConfig({ argv = process.argv.slice(2), env = process.env, cwd = process.cwd() }: LoadConfigParameters = {}): LoadedConfig {
  const loaded = loadOptions({
    prefix: "PROVIDER",
    options: OPTIONS,
    secretFlags: SECRET_FLAGS,
    commandFlags: { "--help": "help", "-h": "help", "--check": "check", "--print-env-example": "env-example" },
    argv,
    env,
    cwd,
  });
  const { values, problems, warnings } = loaded;
  const command = (loaded.command ?? "run") as LoadedConfig["command"];
  const config = Object.fromEntries(OPTIONS.filter((o) => !o.secret).map((o) => [o.key, values[o.key]])) as ProviderConfig;
  const secrets: ProviderSecrets = {
    privateKey: values.privateKey as string | undefined,
    keystorePassword: values.keystorePassword as string | undefined,
    openaiApiKey: values.openaiApiKey as string | undefined,
  };

  // Cross-field rules.
  if (command === "run" || command === "check") {
    const keys = checkKeySource({
      prefix: "PROVIDER",
      hasKey: loaded.raw("privateKey") !== undefined,
      source: { privateKey: secrets.privateKey, keystore: config.keystore, keystorePassword: secrets.keystorePassword, keystorePasswordFile: config.keystorePasswordFile },
      cwd,
    });
    problems.push(...keys.problems);
    warnings.push(...keys.warnings);
    config.keystore = keys.source.keystore;
    config.keystorePasswordFile = keys.source.keystorePasswordFile;
    if (config.backend === "openai" && !config.openaiBaseUrl) {
      problems.push("PROVIDER_BACKEND=openai needs PROVIDER_OPENAI_BASE_URL (--openai-base-url), e.g. http://127.0.0.1:11434/v1");
    }
  }
  warnings.push(...removedOptionWarnings(env, loaded.envFile));
  if (config.dataDir) config.dataDir = resolve(cwd, config.dataDir);
  if (config.pidFile) config.pidFile = resolve(cwd, config.pidFile);
  if (config.deploymentsDir) config.deploymentsDir = resolve(cwd, config.deploymentsDir);

  if (problems.length) throw new ConfigError(problems);
  return { config, secrets, warnings, envFile: loaded.envFile, command };
}

/**
 * Options that existed before metered streams. The recipient can no longer close a stream at what it
 * charged: it collects with the consumer's vouchers only, so these have no meaning any more. Setting one
 * is not an error (an old .env keeps working), but it is reported.
 */
const REMOVED_OPTIONS: Record<string, string> = {
  PROVIDER_DEPLETED_SETTLEMENT:
    "PROVIDER_DEPLETED_SETTLEMENT is no longer used: the agent collects only what the consumer's vouchers sign " +
    "for (withdrawFromStream); a stream left open past its stop time + grace period is settled by time by any keeper.",
  PROVIDER_SETTLE_GRACE_SECONDS:
    "PROVIDER_SETTLE_GRACE_SECONDS is no longer used: after a final receipt the agent withdraws with the " +
    "consumer's best voucher at the threshold or on shutdown; closing is the consumer's (with the final receipt).",
};

function removedOptionWarnings(env: NodeJS.ProcessEnv, envFile: string | undefined): string[] {
  let fromFile: Record<string, string> = {};
  if (envFile) {
    try {
      fromFile = parseEnvFile(readFileSync(envFile, "utf8"));
    } catch {
      // unreadable: the loader already reported it
    }
  }
  return Object.entries(REMOVED_OPTIONS)
    .filter(([name]) => (env[name] ?? fromFile[name] ?? "") !== "")
    .map(([, message]) => message);
}

/** --help text: every option with its env variable, flag, default and description. */
export function helpText(): string {
  return [
    "ClawCompute provider agent: sells OpenAI-compatible inference, paid per second through StreamPay.",
    "",
    "Usage: npm run provider -- [--option value ...] [--env-file PATH] [--check] [--help]",
    "  --check               validate the configuration, connect to the chain, show the registration, and exit",
    "  --env-file PATH       read KEY=VALUE lines from PATH (default: ./.env if present); the process env wins",
    "  --print-env-example   print a .env template",
    "",
    "Options (env variable / flag / default):",
    optionsHelp(OPTIONS),
  ].join("\n");
}

/** The .env.example text, generated from {@link OPTIONS} so it can never drift. */
export function envExample(): string {
  return envExampleOf(OPTIONS, [
    "# ClawCompute provider agent configuration. Copy to provider-agent/.env and `chmod 600 .env`.",
    "# Every option is also a flag (see `npm run provider -- --help`), except secrets, which are env-only.",
    "# Values here never override variables already set in the environment.",
  ]);
}
