/**
 * Configuration of the provider agent, declared once: every option has a name, an env variable
 * (`PROVIDER_…`), a command-line flag (except secrets), a description, a default and a validator.
 * `loadConfig` reads env, an optional env file and flags, validates everything and reports every wrong
 * or missing value at once. Secrets (the signing key, keystore password, backend API key) are read from
 * the environment or files only: a secret passed as a command-line argument is refused.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { type Address, getAddress, isAddress } from "viem";

export type Backend = "echo" | "openai";
export type DepletedSettlement = "charged" | "none";
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
  settleGraceSeconds: number;
  depletedSettlement: DepletedSettlement;
  dataDir: string;
  maxBodyBytes: number;
  corsOrigin: string;
  maxConcurrent: number;
  maxConcurrentPerStream: number;
  maxExpirySeconds: number;
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

type Parser<T> = (raw: string) => T;

export type OptionSpec = {
  key: keyof ProviderConfig | keyof ProviderSecrets;
  env: string;
  /** Command-line flag; absent for secrets. */
  flag?: string;
  description: string;
  /** Default as text (what .env.example and --help show); undefined = no default (optional or derived). */
  default?: string;
  /** How the default is derived when it depends on other values. */
  derived?: string;
  secret?: boolean;
  parse: Parser<unknown>;
};

class InvalidValue extends Error {}
const fail = (message: string): never => {
  throw new InvalidValue(message);
};

const str = (raw: string) => raw;
const nonEmpty = (max = 1024) => (raw: string) => {
  if (raw.length === 0) fail("must not be empty");
  if (Buffer.byteLength(raw) > max) fail(`must be at most ${max} bytes`);
  return raw;
};
const int = (min: number, max: number) => (raw: string) => {
  if (!/^-?\d+$/.test(raw.trim())) fail(`must be an integer between ${min} and ${max}`);
  const n = Number(raw.trim());
  if (!Number.isSafeInteger(n) || n < min || n > max) fail(`must be an integer between ${min} and ${max}`);
  return n;
};
const num = (min: number, max: number) => (raw: string) => {
  const n = Number(raw.trim());
  if (raw.trim() === "" || !Number.isFinite(n) || n < min || n > max) fail(`must be a number between ${min} and ${max}`);
  return n;
};
const uint = (min: bigint, max: bigint) => (raw: string) => {
  if (!/^\d+$/.test(raw.trim())) fail("must be a whole number of the asset's smallest unit (digits only, e.g. 1000000)");
  const n = BigInt(raw.trim());
  if (n < min || n > max) fail(`must be between ${min} and ${max}`);
  return n;
};
const bool = (raw: string) => {
  const v = raw.trim().toLowerCase();
  if (["1", "true", "yes", "on"].includes(v)) return true;
  if (["0", "false", "no", "off"].includes(v)) return false;
  return fail("must be true or false");
};
const oneOf = <T extends string>(...values: T[]) => (raw: string) => {
  if (!(values as string[]).includes(raw.trim())) fail(`must be one of ${values.join(", ")}`);
  return raw.trim() as T;
};
const url = (protocols: string[]) => (raw: string) => {
  let u: URL;
  try {
    u = new URL(raw.trim());
  } catch {
    return fail(`must be a URL (e.g. ${protocols[0]}//127.0.0.1:8545)`);
  }
  if (!protocols.includes(u.protocol)) fail(`must be a ${protocols.join(" or ")} URL`);
  return raw.trim().replace(/\/+$/, "");
};
const address = (raw: string) => {
  if (!isAddress(raw.trim(), { strict: false })) fail("must be a 0x-prefixed 20-byte address");
  return getAddress(raw.trim());
};
const asset = (raw: string) => {
  const v = raw.trim();
  if (v === "native" || /^[A-Za-z][A-Za-z0-9_]*$/.test(v)) return v;
  if (isAddress(v, { strict: false })) return getAddress(v);
  return fail('must be "native", a contract name from the deployment file (e.g. TestUSD), or an ERC-20 address');
};
const privateKey = (raw: string) => {
  const v = raw.trim();
  if (!/^(0x)?[0-9a-fA-F]{64}$/.test(v)) fail("must be a 32-byte hex private key (0x followed by 64 hex digits)");
  return v.startsWith("0x") ? v : `0x${v}`;
};

const MAX_PRICE = (1n << 96n) - 1n;
const MAX_UINT256 = (1n << 256n) - 1n;

/** Every option of the agent, in the order --help and .env.example show them. */
export const OPTIONS: OptionSpec[] = [
  // Signing key (secrets: env or files only)
  { key: "privateKey", env: "PROVIDER_PRIVATE_KEY", secret: true, parse: privateKey,
    description: "Provider wallet's private key (0x + 64 hex). Env only, never a flag. Or use PROVIDER_KEYSTORE." },
  { key: "keystore", env: "PROVIDER_KEYSTORE", flag: "--keystore", parse: nonEmpty(),
    description: "Path to an encrypted Ethereum v3 keystore JSON holding the key (instead of PROVIDER_PRIVATE_KEY)." },
  { key: "keystorePassword", env: "PROVIDER_KEYSTORE_PASSWORD", secret: true, parse: str,
    description: "Password of the keystore. Env only; or PROVIDER_KEYSTORE_PASSWORD_FILE." },
  { key: "keystorePasswordFile", env: "PROVIDER_KEYSTORE_PASSWORD_FILE", flag: "--keystore-password-file", parse: nonEmpty(),
    description: "File holding the keystore password (first line)." },
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
  { key: "minRunwayMs", env: "PROVIDER_MIN_RUNWAY_MS", flag: "--min-runway-ms", default: "1000", parse: int(0, 3_600_000),
    description: "A request is served only if its stream has at least this much serving time left (by money and by its stop time)." },
  { key: "minDepositSeconds", env: "PROVIDER_MIN_DEPOSIT_SECONDS", flag: "--min-deposit-seconds", default: "60", parse: int(1, 10_000_000),
    description: "Smallest stream accepted, in seconds of the price: minimum deposit = price x this (told in every 402)." },
  // Payouts
  { key: "withdrawThreshold", env: "PROVIDER_WITHDRAW_THRESHOLD", flag: "--withdraw-threshold", derived: "price x 3600 (one hour of serving)", parse: uint(0n, MAX_UINT256),
    description: "Withdraw (and settle finished streams) once collectable earnings reach this many asset units. 0 = at every payout tick." },
  { key: "payoutAddress", env: "PROVIDER_PAYOUT_ADDRESS", flag: "--payout-address", derived: "the provider wallet", parse: address,
    description: "Where withdrawals are sent." },
  { key: "payoutIntervalMs", env: "PROVIDER_PAYOUT_INTERVAL_MS", flag: "--payout-interval-ms", default: "60000", parse: int(100, 86_400_000),
    description: "How often earnings are checked against the threshold (ms)." },
  { key: "withdrawOnShutdown", env: "PROVIDER_WITHDRAW_ON_SHUTDOWN", flag: "--withdraw-on-shutdown", default: "true", parse: bool,
    description: "Settle finished streams and withdraw everything on shutdown, whatever the threshold." },
  { key: "settleGraceSeconds", env: "PROVIDER_SETTLE_GRACE_SECONDS", flag: "--settle-grace-seconds", default: "300", parse: int(0, 30 * 86400),
    description: "After a final receipt, how long the consumer has to close the stream itself before the agent closes it at the receipt amount." },
  { key: "depletedSettlement", env: "PROVIDER_DEPLETED_SETTLEMENT", flag: "--depleted-settlement", default: "charged", parse: oneOf<DepletedSettlement>("charged", "none"),
    description: '"charged": a stream that ran past its stop time unclosed is closed at what the agent charged on it (the sender gets the rest back); "none": leave it (to the sender or a keeper).' },
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
  "--private-key": "PROVIDER_PRIVATE_KEY",
  "--privatekey": "PROVIDER_PRIVATE_KEY",
  "--key": "PROVIDER_PRIVATE_KEY",
  "--mnemonic": "PROVIDER_KEYSTORE",
  "--keystore-password": "PROVIDER_KEYSTORE_PASSWORD or --keystore-password-file",
  "--password": "PROVIDER_KEYSTORE_PASSWORD or --keystore-password-file",
  "--openai-api-key": "PROVIDER_OPENAI_API_KEY",
  "--api-key": "PROVIDER_OPENAI_API_KEY",
};

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}\nRun with --help for every option.`);
  }
}

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

/** Whether a file's mode lets group or others read it. */
export function readableByOthers(path: string): boolean {
  try {
    return (statSync(path).mode & 0o077) !== 0;
  } catch {
    return false;
  }
}

/** Minimal dotenv: KEY=VALUE lines, `#` comments, optional `export `, single or double quotes. */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (!line || line.startsWith("#")) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    let value = m[2];
    if ((value.startsWith('"') && value.endsWith('"')) || (value.startsWith("'") && value.endsWith("'"))) {
      value = value.slice(1, -1);
    } else {
      value = value.replace(/\s+#.*$/, "");
    }
    out[m[1]] = value;
  }
  return out;
}

const SECRET_ENVS = new Set(OPTIONS.filter((o) => o.secret).map((o) => o.env));

/**
 * Reads and validates the configuration. Precedence: flag > process env > env file > default.
 * Throws {@link ConfigError} listing every problem.
 */
export function loadConfig({ argv = process.argv.slice(2), env = process.env, cwd = process.cwd() }: LoadConfigParameters = {}): LoadedConfig {
  const problems: string[] = [];
  const warnings: string[] = [];
  let command: LoadedConfig["command"] = "run";

  // 1. Flags. A secret is never accepted here: refuse, without echoing it.
  const flagValues = new Map<string, string>();
  let envFileFlag: string | undefined;
  const keyLike = (a: string) => /^(0x)?[0-9a-fA-F]{64}$/.test(a.replace(/^--?[\w-]+=/, ""));
  argv.forEach((arg, i) => {
    if (keyLike(arg)) {
      problems.push(`argument #${i + 1} looks like a private key: refusing it. Command-line arguments are visible to every user of this machine (ps, shell history). Put the key in PROVIDER_PRIVATE_KEY (env or an env file readable only by you) or in an encrypted keystore (PROVIDER_KEYSTORE).`);
    }
  });
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (keyLike(arg)) continue;
    if (arg === "--help" || arg === "-h") { command = "help"; continue; }
    if (arg === "--check") { command = "check"; continue; }
    if (arg === "--print-env-example") { command = "env-example"; continue; }
    if (!arg.startsWith("--")) {
      problems.push(`unexpected argument "${arg.slice(0, 40)}" (options are --name value or --name=value)`);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = (eq >= 0 ? arg.slice(0, eq) : arg).toLowerCase();
    const hasInline = eq >= 0;
    const takeValue = (): string | undefined => {
      if (hasInline) return arg.slice(eq + 1);
      const next = argv[i + 1];
      if (next === undefined || next.startsWith("--")) return undefined;
      i++;
      return next;
    };
    if (SECRET_FLAGS[name]) {
      if (!hasInline && argv[i + 1] !== undefined && !argv[i + 1].startsWith("--")) i++; // skip the secret, never print it
      problems.push(`${name} is refused: secrets are never read from the command line (visible in ps and shell history). Use ${SECRET_FLAGS[name]}.`);
      continue;
    }
    if (name === "--env-file") {
      const v = takeValue();
      if (v === undefined) problems.push("--env-file needs a path");
      else envFileFlag = v;
      continue;
    }
    const spec = OPTIONS.find((o) => o.flag === name);
    if (!spec) {
      problems.push(`unknown option ${name}`);
      continue;
    }
    const v = takeValue();
    if (v === undefined) problems.push(`${name} needs a value`);
    else flagValues.set(spec.env, v);
  }

  // 2. Env file: --env-file, PROVIDER_ENV_FILE, or ./.env when present. It never overrides the process env.
  const envFilePath = envFileFlag ?? env.PROVIDER_ENV_FILE ?? (existsSync(resolve(cwd, ".env")) ? ".env" : undefined);
  let fileValues: Record<string, string> = {};
  let envFile: string | undefined;
  if (envFilePath) {
    envFile = resolve(cwd, envFilePath);
    try {
      fileValues = parseEnvFile(readFileSync(envFile, "utf8"));
      const holdsSecret = Object.keys(fileValues).some((k) => SECRET_ENVS.has(k) && fileValues[k] !== "");
      if (holdsSecret && readableByOthers(envFile)) {
        warnings.push(`${envFile} holds a secret and is readable by group/others: run \`chmod 600 ${envFile}\`.`);
      }
    } catch (error) {
      problems.push(`env file ${envFile} cannot be read: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    }
  }

  const raw = (spec: OptionSpec): string | undefined => {
    const v = flagValues.get(spec.env) ?? env[spec.env] ?? fileValues[spec.env];
    return v === undefined || v === "" ? undefined : v;
  };

  const values: Record<string, unknown> = {};
  for (const spec of OPTIONS) {
    const text = raw(spec) ?? spec.default;
    if (text === undefined) {
      values[spec.key] = undefined;
      continue;
    }
    try {
      values[spec.key] = spec.parse(text);
    } catch (error) {
      if (!(error instanceof InvalidValue)) throw error;
      const where = spec.flag ? `${spec.env} (${spec.flag})` : spec.env;
      // Secrets are never echoed; other values are, truncated.
      const shown = spec.secret ? "" : `, got "${text.length > 80 ? `${text.slice(0, 80)}…` : text}"`;
      problems.push(`${where}: ${error.message}${shown}`);
    }
  }

  const config = Object.fromEntries(OPTIONS.filter((o) => !o.secret).map((o) => [o.key, values[o.key]])) as ProviderConfig;
  const secrets: ProviderSecrets = {
    privateKey: values.privateKey as string | undefined,
    keystorePassword: values.keystorePassword as string | undefined,
    openaiApiKey: values.openaiApiKey as string | undefined,
  };

  // 3. Cross-field rules.
  if (command === "run" || command === "check") {
    const hasKey = raw(OPTIONS.find((o) => o.key === "privateKey")!) !== undefined;
    if (hasKey && config.keystore) problems.push("PROVIDER_PRIVATE_KEY and PROVIDER_KEYSTORE are both set: use one.");
    if (!hasKey && !config.keystore) {
      problems.push("no signing key: set PROVIDER_PRIVATE_KEY (env, or an env file only you can read) or PROVIDER_KEYSTORE (an encrypted v3 keystore) with PROVIDER_KEYSTORE_PASSWORD or PROVIDER_KEYSTORE_PASSWORD_FILE.");
    }
    if (config.keystore) {
      config.keystore = resolve(cwd, config.keystore);
      if (!existsSync(config.keystore)) problems.push(`PROVIDER_KEYSTORE (--keystore): file ${config.keystore} does not exist`);
      else if (readableByOthers(config.keystore)) warnings.push(`keystore ${config.keystore} is readable by group/others: run \`chmod 600 ${config.keystore}\`.`);
      if (secrets.keystorePassword === undefined && !config.keystorePasswordFile) {
        problems.push("PROVIDER_KEYSTORE is set but no password: set PROVIDER_KEYSTORE_PASSWORD or PROVIDER_KEYSTORE_PASSWORD_FILE.");
      }
    }
    if (config.keystorePasswordFile) {
      config.keystorePasswordFile = resolve(cwd, config.keystorePasswordFile);
      if (!existsSync(config.keystorePasswordFile)) problems.push(`PROVIDER_KEYSTORE_PASSWORD_FILE: file ${config.keystorePasswordFile} does not exist`);
      else if (readableByOthers(config.keystorePasswordFile)) warnings.push(`password file ${config.keystorePasswordFile} is readable by group/others: run \`chmod 600 ${config.keystorePasswordFile}\`.`);
    }
    if (config.backend === "openai" && !config.openaiBaseUrl) {
      problems.push("PROVIDER_BACKEND=openai needs PROVIDER_OPENAI_BASE_URL (--openai-base-url), e.g. http://127.0.0.1:11434/v1");
    }
  }
  if (config.dataDir) config.dataDir = resolve(cwd, config.dataDir);
  if (config.pidFile) config.pidFile = resolve(cwd, config.pidFile);
  if (config.deploymentsDir) config.deploymentsDir = resolve(cwd, config.deploymentsDir);

  if (problems.length) throw new ConfigError(problems);
  return { config, secrets, warnings, envFile, command };
}

/** --help text: every option with its env variable, flag, default and description. */
export function helpText(): string {
  const lines = [
    "ClawCompute provider agent: sells OpenAI-compatible inference, paid per second through StreamPay.",
    "",
    "Usage: npm run provider -- [--option value ...] [--env-file PATH] [--check] [--help]",
    "  --check               validate the configuration, connect to the chain, show the registration, and exit",
    "  --env-file PATH       read KEY=VALUE lines from PATH (default: ./.env if present); the process env wins",
    "  --print-env-example   print a .env template",
    "",
    "Options (env variable / flag / default):",
  ];
  for (const o of OPTIONS) {
    const def = o.default !== undefined ? `default ${o.default}` : o.derived ? `default: ${o.derived}` : "optional";
    lines.push(`  ${o.env}${o.flag ? ` / ${o.flag}` : " (env only)"}  [${def}]`);
    lines.push(`      ${o.description}`);
  }
  return lines.join("\n");
}

/** The .env.example text, generated from {@link OPTIONS} so it can never drift. */
export function envExample(): string {
  const lines = [
    "# ClawCompute provider agent configuration. Copy to provider-agent/.env and `chmod 600 .env`.",
    "# Every option is also a flag (see `npm run provider -- --help`), except secrets, which are env-only.",
    "# Values here never override variables already set in the environment.",
    "",
  ];
  for (const o of OPTIONS) {
    lines.push(`# ${o.description}`);
    if (o.derived) lines.push(`# Default: ${o.derived}.`);
    if (o.secret) lines.push("# SECRET: env only; never pass it as a flag, never commit this file.");
    lines.push(`${o.default !== undefined ? "" : "# "}${o.env}=${o.default ?? ""}`);
    lines.push("");
  }
  return lines.join("\n");
}
