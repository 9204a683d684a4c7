/**
 * The indexer's settings, read from the environment in one place (ponder.config.ts and the scripts
 * share them). Every variable is documented in indexer/.env.example.
 */
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseEnv } from "node:util";

export const indexerRoot = fileURLToPath(new URL("../", import.meta.url));

/**
 * Loads indexer/.env.local, then indexer/.env, into process.env without overriding what is set (the
 * process environment wins, then .env.local). INDEXER_SKIP_ENV_FILES=1 skips them (the tests do).
 */
export function loadEnvFiles(): void {
  if (process.env.INDEXER_SKIP_ENV_FILES === "1") return;
  for (const name of [".env.local", ".env"]) {
    const path = resolve(indexerRoot, name);
    if (!existsSync(path)) continue;
    for (const [key, value] of Object.entries(parseEnv(readFileSync(path, "utf8")))) {
      if (process.env[key] === undefined) process.env[key] = value;
    }
  }
}

/** Ponder's name for each supported chain (the key in /status and `_meta`). */
const CHAIN_NAMES: Record<number, string> = {
  31337: "local",
  97: "bscTestnet",
  5611: "opBNBTestnet",
  84532: "baseSepolia",
};

export type IndexerSettings = {
  chainId: number;
  chainName: string;
  /** RPC URLs as given (comma-separated in RPC_URL). */
  rpcUrls: string[];
  /** Each URL listed this many times: Ponder rate-limits per listed URL, so a local node goes faster. */
  rpcFanout: number;
  pollingIntervalMs: number;
  ethGetLogsBlockRange: number | undefined;
  databaseUrl: string | undefined;
  /** Where PGlite keeps its files and the launcher its state (`.ponder/chain-<id>` by default). */
  dataDir: string;
  pgliteDir: string;
};

function positiveInt(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer, got "${raw}".`);
  return value;
}

export function readSettings(env: NodeJS.ProcessEnv = process.env): IndexerSettings {
  const chainId = positiveInt(env, "CHAIN_ID", 31337);
  const chainName = CHAIN_NAMES[chainId] ?? `chain${chainId}`;
  const rpcUrls = (env.RPC_URL || "http://127.0.0.1:8545").split(",").map((u) => u.trim()).filter(Boolean);
  for (const url of rpcUrls) {
    if (!/^https?:\/\//.test(url)) throw new Error(`RPC_URL must be http(s) URL(s), got "${url}".`);
  }
  const local = chainId === 31337;
  const dataDir = resolve(indexerRoot, env.INDEXER_DATA_DIR || `.ponder/chain-${chainId}`);
  const blockRange = env.ETH_GETLOGS_BLOCK_RANGE ? positiveInt(env, "ETH_GETLOGS_BLOCK_RANGE", 1) : undefined;
  return {
    chainId,
    chainName,
    rpcUrls,
    rpcFanout: positiveInt(env, "RPC_FANOUT", local ? 8 : 1),
    pollingIntervalMs: positiveInt(env, "POLLING_INTERVAL_MS", local ? 100 : 1000),
    ethGetLogsBlockRange: blockRange,
    databaseUrl: env.DATABASE_URL || undefined,
    dataDir,
    pgliteDir: resolve(dataDir, "pglite"),
  };
}

/** The RPC list Ponder gets: each URL repeated `rpcFanout` times. */
export function ponderRpcList(settings: IndexerSettings): string[] {
  return settings.rpcUrls.flatMap((url) => Array.from({ length: settings.rpcFanout }, () => url));
}
