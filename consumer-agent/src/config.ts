/**
 * Configuration of the consumer agent, declared once: every option has an env variable (`CONSUMER_…`),
 * a flag (except secrets), a description, a default and a validator (the SDK's shared loader). The key
 * comes from CONSUMER_PRIVATE_KEY or an encrypted keystore, never from a flag.
 */
import { resolve } from "node:path";
import {
  ConfigError,
  MAX_UINT256,
  type OptionSpec,
  checkKeySource,
  envExampleOf,
  keyOptions,
  keySecretFlags,
  loadOptions,
  optionsHelp,
  optionsTable,
  parsers,
} from "@clawcompute/sdk/node";
import type { KeySource } from "@clawcompute/sdk/node";

const { nonEmpty, int, num, uint, oneOf, url, asset } = parsers;

export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";

export type ConsumerConfig = {
  rpcUrl: string;
  chainId: number;
  deploymentsDir: string | undefined;
  indexerUrl: string;
  model: string;
  asset: string;
  budget: bigint;
  maxPricePerSecond: bigint | undefined;
  minRating: number;
  expectedSeconds: number;
  maxTokens: number | undefined;
  requestTimeoutMs: number;
  healthTimeoutMs: number;
  indexerTimeoutMs: number;
  maxAttempts: number;
  receiptToleranceBps: number;
  receiptSlackMs: number;
  closeWaitMs: number;
  cancelAnswerWaitMs: number;
  sessionIdleSeconds: number;
  rateServed: number;
  dataDir: string;
  output: "text" | "json";
  logLevel: LogLevel;
  keystore: string | undefined;
  keystorePasswordFile: string | undefined;
};

export type ConsumerSecrets = { privateKey: string | undefined; keystorePassword: string | undefined };

/** Every option, in the order --help and .env.example show them. */
export const OPTIONS: OptionSpec<keyof ConsumerConfig | keyof ConsumerSecrets>[] = [
  ...keyOptions("CONSUMER", "Consumer wallet's"),
  // Chain and discovery
  { key: "rpcUrl", env: "CONSUMER_RPC_URL", flag: "--rpc-url", default: "http://127.0.0.1:8545", parse: url(["http:", "https:", "ws:", "wss:"]),
    description: "JSON-RPC URL of the chain." },
  { key: "chainId", env: "CONSUMER_CHAIN_ID", flag: "--chain-id", default: "31337", parse: int(1, 2 ** 48),
    description: "Chain id; the contracts are read from deployments/<chainId>.json. 31337 = local dev chain; 97 BSC testnet; 5611 opBNB testnet; 84532 Base Sepolia." },
  { key: "deploymentsDir", env: "CONSUMER_DEPLOYMENTS_DIR", flag: "--deployments-dir", derived: "$DEPLOYMENTS_DIR or the repository's deployments/", parse: nonEmpty(),
    description: "Folder holding deployments/<chainId>.json." },
  { key: "indexerUrl", env: "CONSUMER_INDEXER_URL", flag: "--indexer-url", default: "http://127.0.0.1:42069", parse: (raw) => (raw.trim() === "none" ? "none" : url(["http:", "https:"])(raw)),
    description: 'Base URL of the ClawCompute indexer (GraphQL at /graphql), asked first for providers and streams; when it does not answer, the registry on-chain is read instead. "none" = always the registry.' },
  // What to buy
  { key: "model", env: "CONSUMER_MODEL", flag: "--model", default: "echo-1", parse: nonEmpty(64),
    description: "Model to buy inference for (as registered on-chain)." },
  { key: "asset", env: "CONSUMER_ASSET", flag: "--asset", default: "native", parse: asset,
    description: 'Payment asset: "native" (the chain\'s coin), a contract name of the deployment file (e.g. "TestUSD"), or an ERC-20 address. Only providers priced in it are used.' },
  { key: "budget", env: "CONSUMER_BUDGET", flag: "--budget", default: "1000000000000000", parse: uint(1n, MAX_UINT256),
    description: "Most one ask or chat session may have at stake, in the asset's smallest unit: deposits still escrowed plus what closed streams paid never exceed it (1000000000000000 wei = 0.001 ETH)." },
  { key: "maxPricePerSecond", env: "CONSUMER_MAX_PRICE_PER_SECOND", flag: "--max-price-per-second", parse: uint(1n, MAX_UINT256),
    description: "Ignore providers priced above this, in asset units per second (and never accept a higher rate on a stream)." },
  { key: "minRating", env: "CONSUMER_MIN_RATING", flag: "--min-rating", default: "0", parse: num(0, 5),
    description: "Ignore rated providers whose average rating (1–5) is below this; unrated providers pass." },
  { key: "expectedSeconds", env: "CONSUMER_EXPECTED_SECONDS", flag: "--expected-seconds", default: "60", parse: int(1, 86_400),
    description: "Serving time one answer is expected to take, in seconds: a stream's deposit buys this much (or the provider's minimum deposit if larger, within the budget); a chat session tops up when less than half of it is left." },
  { key: "maxTokens", env: "CONSUMER_MAX_TOKENS", flag: "--max-tokens", parse: int(1, 1_000_000),
    description: "max_tokens sent with each request (optional; the provider's own limit applies otherwise)." },
  // Time limits
  { key: "requestTimeoutMs", env: "CONSUMER_REQUEST_TIMEOUT_MS", flag: "--request-timeout-ms", default: "30000", parse: int(100, 3_600_000),
    description: "Longest wait for a provider's first byte, or between two chunks of an answer (ms); then the provider counts as failed and the next one is tried." },
  { key: "healthTimeoutMs", env: "CONSUMER_HEALTH_TIMEOUT_MS", flag: "--health-timeout-ms", default: "1500", parse: int(50, 60_000),
    description: "Timeout of the liveness probe (GET /healthz) of each provider (ms)." },
  { key: "indexerTimeoutMs", env: "CONSUMER_INDEXER_TIMEOUT_MS", flag: "--indexer-timeout-ms", default: "3000", parse: int(50, 60_000),
    description: "Timeout of an indexer query (ms); then the registry is read instead." },
  { key: "maxAttempts", env: "CONSUMER_MAX_ATTEMPTS", flag: "--max-attempts", default: "3", parse: int(1, 100),
    description: "Providers tried for one prompt before giving up (each failed one has its stream cancelled and refunded)." },
  // Billing checks
  { key: "receiptToleranceBps", env: "CONSUMER_RECEIPT_TOLERANCE_BPS", flag: "--receipt-tolerance-bps", default: "100", parse: int(0, 10_000),
    description: "A provider's receipt may exceed price × the serving time the consumer measured itself by this many basis points (100 = 1%) plus CONSUMER_RECEIPT_SLACK_MS per request; above that it is refused as inflated." },
  { key: "receiptSlackMs", env: "CONSUMER_RECEIPT_SLACK_MS", flag: "--receipt-slack-ms", default: "50", parse: int(0, 60_000),
    description: "Milliseconds per request added to the measured serving time before a receipt counts as inflated (timer granularity)." },
  { key: "closeWaitMs", env: "CONSUMER_CLOSE_WAIT_MS", flag: "--close-wait-ms", default: "15000", parse: int(0, 600_000),
    description: "Before closing with a receipt, how long to wait for the chain to have streamed the receipt amount (so the provider is not underpaid) (ms)." },
  { key: "cancelAnswerWaitMs", env: "CONSUMER_CANCEL_ANSWER_WAIT_MS", flag: "--cancel-answer-wait-ms", default: "10000", parse: int(0, 600_000),
    description: "After cancelling a stream, how long to wait for the provider to answer with its voucher, which ends the cancel at once; otherwise the rest comes back after the challenge window (`finalize`) (ms)." },
  { key: "sessionIdleSeconds", env: "CONSUMER_SESSION_IDLE_SECONDS", flag: "--session-idle-seconds", default: "120", parse: int(1, 86_400),
    description: "chat: close the session's stream (final receipt, refund) after this many idle seconds; the next prompt opens a new one. It is also closed before its stop time + grace period, after which anyone could settle it by time." },
  { key: "rateServed", env: "CONSUMER_RATE_SERVED", flag: "--rate-served", default: "0", parse: int(0, 5),
    description: "Rate providers that billed honestly this score (1–5) on-chain after each closed stream (costs gas); 0 = do not rate. Inflated receipts are always rated 1." },
  // Output and state
  { key: "dataDir", env: "CONSUMER_DATA_DIR", flag: "--data-dir", default: "./data", parse: nonEmpty(),
    description: "Folder where the agent records its own measured serving time per stream, so `close <id>` can check a receipt later." },
  { key: "output", env: "CONSUMER_OUTPUT", flag: "--output", default: "text", parse: oneOf("text", "json"),
    description: 'CLI output: "text" for people, "json" for programs and AI agents (one JSON document on stdout).' },
  { key: "logLevel", env: "CONSUMER_LOG_LEVEL", flag: "--log-level", default: "warn", parse: oneOf<LogLevel>("fatal", "error", "warn", "info", "debug", "trace", "silent"),
    description: "pino log level (JSON logs on stderr)." },
];

const SECRET_FLAGS = keySecretFlags("CONSUMER");

export type Command =
  | "ask" | "chat" | "providers" | "streams" | "close" | "cancel" | "finalize" | "top-up" | "help" | "env-example";
const COMMANDS: Command[] = ["ask", "chat", "providers", "streams", "close", "cancel", "finalize", "top-up"];
/** Commands that only read: they need no key. */
const READ_ONLY: Command[] = ["providers", "help", "env-example"];

export type LoadedConsumerConfig = {
  config: ConsumerConfig;
  secrets: ConsumerSecrets;
  keySource: KeySource;
  warnings: string[];
  envFile: string | undefined;
  command: Command;
  /** The command's operands (prompt, stream id, amount). */
  operands: string[];
};

export type LoadConsumerConfigParameters = { argv?: string[]; env?: NodeJS.ProcessEnv; cwd?: string; requireKey?: boolean };

/** Reads and validates the configuration and the command line. Throws {@link ConfigError} listing every problem. */
export function loadConsumerConfig({ argv = process.argv.slice(2), env = process.env, cwd = process.cwd(), requireKey }: LoadConsumerConfigParameters = {}): LoadedConsumerConfig {
  const loaded = loadOptions({
    prefix: "CONSUMER",
    options: OPTIONS,
    secretFlags: SECRET_FLAGS,
    commandFlags: { "--help": "help", "-h": "help", "--print-env-example": "env-example" },
    positionals: true,
    argv,
    env,
    cwd,
  });
  const { values, problems, warnings } = loaded;
  let [first, ...operands] = loaded.positionals;
  let command: Command = (loaded.command as Command | undefined) ?? "help";
  if (loaded.command === undefined && first !== undefined) {
    if ((COMMANDS as string[]).includes(first)) command = first as Command;
    else if (loaded.positionals.length === 1 && !/^[a-z-]+$/.test(first)) {
      // DESIGN §5's short form: `npm run consumer -- "a prompt" --model M` is `ask` (a bare word is
      // taken for a mistyped command rather than paid for).
      command = "ask";
      operands = [first];
      first = "ask";
    } else problems.push(`unknown command "${first.slice(0, 40)}": use one of ${COMMANDS.join(", ")} (or --help)`);
  }
  const config = Object.fromEntries(OPTIONS.filter((o) => !o.secret).map((o) => [o.key, values[o.key]])) as ConsumerConfig;
  const secrets: ConsumerSecrets = { privateKey: values.privateKey as string | undefined, keystorePassword: values.keystorePassword as string | undefined };

  // Operands.
  const need = (n: number, usage: string) => {
    if (operands.length !== n) problems.push(`${command} takes ${usage}`);
  };
  if (command === "ask") {
    if (operands.length !== 1 || operands[0].trim() === "") problems.push('ask takes one prompt: ask "your question" (quote it)');
  } else if (command === "close" || command === "cancel") {
    need(1, "a stream id: " + command + " <id>");
    if (operands[0] !== undefined && !/^\d+$/.test(operands[0])) problems.push(`${command}: the stream id must be a number, got "${operands[0].slice(0, 40)}"`);
  } else if (command === "top-up") {
    need(2, "a stream id and an amount: top-up <id> <amount in the asset's smallest unit>");
    if (operands[0] !== undefined && !/^\d+$/.test(operands[0])) problems.push(`top-up: the stream id must be a number, got "${operands[0].slice(0, 40)}"`);
    if (operands[1] !== undefined && !/^\d+$/.test(operands[1])) problems.push(`top-up: the amount must be a whole number of the asset's smallest unit, got "${operands[1].slice(0, 40)}"`);
  } else if (command === "finalize") {
    for (const id of operands) {
      if (!/^\d+$/.test(id)) problems.push(`finalize: stream ids must be numbers, got "${id.slice(0, 40)}"`);
    }
  } else if (["chat", "providers", "streams"].includes(command)) {
    if (operands.length) problems.push(`${command} takes no operands (got "${operands[0].slice(0, 40)}")`);
  }

  const keys = checkKeySource({
    prefix: "CONSUMER",
    hasKey: loaded.raw("privateKey") !== undefined,
    source: { privateKey: secrets.privateKey, keystore: config.keystore, keystorePassword: secrets.keystorePassword, keystorePasswordFile: config.keystorePasswordFile },
    cwd,
    required: requireKey ?? !READ_ONLY.includes(command),
  });
  problems.push(...keys.problems);
  warnings.push(...keys.warnings);
  config.keystore = keys.source.keystore;
  config.keystorePasswordFile = keys.source.keystorePasswordFile;
  if (config.dataDir) config.dataDir = resolve(cwd, config.dataDir);
  if (config.deploymentsDir) config.deploymentsDir = resolve(cwd, config.deploymentsDir);

  if (problems.length) throw new ConfigError(problems, "Run `npm run consumer -- --help` for every command and option.");
  return { config, secrets, keySource: keys.source, warnings, envFile: loaded.envFile, command, operands };
}

export function helpText(): string {
  return [
    "ClawCompute consumer agent: finds inference providers, pays them per second through StreamPay, and",
    "closes every stream with the provider's signed final receipt (exact billing). Every request carries a",
    "spend voucher for exactly the receipts it accepted, so a provider can never take more than that.",
    "",
    "Usage: npm run consumer -- <command> [operands] [--option value ...] [--env-file PATH]",
    '       npm run consumer -- "a prompt" [--model M ...]      (short for ask)',
    "",
    "Commands:",
    '  ask "prompt"          one answer: open a stream, stream the answer, close with the final receipt',
    "  chat                  a session: one stream for many prompts (read from stdin), closed at the end",
    "  providers             providers of --model: price per second and per hour, asset, rating, requests, live",
    "  streams               your streams: status, deposited, streamed, refundable",
    "  close <id>            close your stream with the provider's final receipt (exact billing)",
    "  cancel <id>           cancel your stream without the provider: the unstreamed part comes back now; the",
    "                        provider may claim your vouchers within its challenge window, the rest comes back",
    "  finalize [id ...]     collect what comes back from your cancels whose challenge window has ended",
    "  top-up <id> <amount>  add <amount> (asset's smallest unit) to your open stream, within --budget",
    "",
    "  --env-file PATH       read KEY=VALUE lines from PATH (default: ./.env if present); the process env wins",
    "  --print-env-example   print a .env template",
    "",
    "The key is read from CONSUMER_PRIVATE_KEY or an encrypted keystore (CONSUMER_KEYSTORE), never from a flag.",
    "",
    "Options (env variable / flag / default):",
    optionsHelp(OPTIONS),
  ].join("\n");
}

export function envExample(): string {
  return envExampleOf(OPTIONS, [
    "# ClawCompute consumer agent configuration. Copy to consumer-agent/.env and `chmod 600 .env`.",
    "# Every option is also a flag (see `npm run consumer -- --help`), except secrets, which are env-only.",
    "# Values here never override variables already set in the environment.",
  ]);
}

export function optionsMarkdown(): string {
  return optionsTable(OPTIONS);
}
