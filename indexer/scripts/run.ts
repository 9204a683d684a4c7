/**
 * Launches Ponder (`npm run start -w indexer`, `npm run dev -w indexer`) with the local-chain pitfalls
 * handled in code:
 * - telemetry off (PONDER_TELEMETRY_DISABLED=1), listens on INDEXER_HOST (127.0.0.1) and PORT (42069);
 * - checks the RPC is the deployment's chain and StreamPay is deployed there;
 * - detects a reset chain (genesis / deploy-block hashes changed, or a recorded finalized block is gone)
 *   and removes Ponder's stale RPC cache for it, which Ponder would otherwise serve even with
 *   `disableCache`;
 * - `start` uses a schema named after the build (`claw_<hash>`): a restart of the same build resumes
 *   (crash recovery), a changed build starts fresh and the previous build's schema is dropped;
 * - turns SIGINT, SIGTERM and SIGHUP into one SIGINT to Ponder (SIGTERM leaves Ponder's schema lock
 *   set), and kills it only if it has not stopped after a grace period.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { loadDeployment } from "@clawcompute/sdk/node";
import { type ChainFingerprint, anchorHolds, chainFingerprint, currentAnchor, rpcClient, sameFingerprint } from "../lib/chain.ts";
import { buildHash, ponderDir, schemaNameFor } from "../lib/build.ts";
import { loadEnvFiles, readSettings } from "../lib/settings.ts";
import { type LauncherState, lockDataDir, openStateStore } from "../lib/state.ts";
import { indexerRoot } from "../lib/settings.ts";

const mode = process.argv[2] === "dev" ? "dev" : "start";
const logFormat = (process.env.LOG_FORMAT || (mode === "dev" ? "pretty" : "json")) === "pretty" ? "pretty" : "json";

function log(level: "info" | "warn" | "error", msg: string, fields: Record<string, unknown> = {}): void {
  if (logFormat === "json") {
    const code = { info: 30, warn: 40, error: 50 }[level];
    process.stderr.write(`${JSON.stringify({ level: code, time: Date.now(), service: "indexer-launcher", msg, ...fields })}\n`);
  } else {
    const extra = Object.entries(fields).map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`).join(" ");
    process.stderr.write(`[indexer] ${level.toUpperCase()} ${msg}${extra ? ` ${extra}` : ""}\n`);
  }
}

/** RPC URLs often carry an API key in the path or query: log only scheme, host and port. */
function redactUrl(raw: string): string {
  try {
    const url = new URL(raw);
    return `${url.protocol}//${url.host}${url.pathname.length > 1 || url.search ? "/…" : ""}`;
  } catch {
    return "(invalid URL)";
  }
}

const ANCHOR_INTERVAL_MS = 15_000;
const STOP_GRACE_MS = 15_000;

async function main(): Promise<number> {
  loadEnvFiles();
  process.env.PONDER_TELEMETRY_DISABLED = "1";
  const settings = readSettings();
  const host = process.env.INDEXER_HOST || "127.0.0.1";
  const port = process.env.PORT || "42069";
  if (!/^\d+$/.test(port)) throw new Error(`PORT must be a port number, got "${port}".`);
  process.env.PORT = port;

  const deployment = loadDeployment(settings.chainId);
  const rpcUrl = settings.rpcUrls[0]!;
  const client = rpcClient(rpcUrl);
  const fingerprint: ChainFingerprint = await chainFingerprint(client, deployment, rpcUrl);

  const releaseLock = settings.databaseUrl ? () => {} : lockDataDir(settings);
  const store = await openStateStore(settings);
  try {
    const previous = await store.read();
    let stale: string | undefined;
    if (previous) {
      if (!sameFingerprint(previous.fingerprint, fingerprint)) {
        stale = "the chain's genesis or deployment block changed (chain reset or redeployed)";
      } else if (previous.anchor && !(await anchorHolds(client, previous.anchor))) {
        stale = `block ${previous.anchor.number} is no longer ${previous.anchor.hash} (chain reset or reloaded)`;
      }
    }
    let kept: LauncherState | undefined = previous;
    if (stale && previous) {
      const what = await store.purgeChainCache(previous);
      log("warn", "Removed the stale cache of a reset chain", { reason: stale, removed: what, store: store.kind });
      kept = undefined;
    }

    const build = buildHash(deployment);
    const schema = mode === "dev" ? process.env.DATABASE_SCHEMA || "claw_dev" : process.env.DATABASE_SCHEMA || schemaNameFor(build);
    if (kept?.schema && (kept.schema !== schema || kept.buildHash !== build) && mode === "start") {
      const dropped = await store.dropSchemaIfIdle(kept.schema);
      if (dropped) log("info", "Dropped the previous build's schema", { schema: kept.schema });
      else if (kept.schema !== schema) log("warn", "Kept the previous build's schema: a running indexer holds it", { schema: kept.schema });
    }
    const state: LauncherState = { fingerprint, anchor: kept?.anchor, schema, buildHash: build };
    await store.write(state);

    const ponderBin = join(ponderDir(), "dist", "esm", "bin", "ponder.js");
    const args =
      mode === "dev"
        ? ["dev", "--schema", schema, "--hostname", host, "--port", port, ...(process.stdout.isTTY ? [] : ["--disable-ui"])]
        : ["start", "--schema", schema, "--log-format", logFormat, "--hostname", host, "--port", port];
    log("info", "Starting Ponder", {
      mode,
      schema,
      chain_id: settings.chainId,
      rpc: settings.rpcUrls.map(redactUrl),
      rpc_fanout: settings.rpcFanout,
      polling_interval_ms: settings.pollingIntervalMs,
      database: settings.databaseUrl ? "postgres" : `pglite:${settings.pgliteDir}`,
      url: `http://${host}:${port}`,
    });
    const child: ChildProcess = spawn(process.execPath, [ponderBin, ...args], { cwd: indexerRoot, stdio: "inherit", env: process.env });

    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      log("info", "Stopping Ponder", { signal });
      child.kill("SIGINT");
      setTimeout(() => {
        if (child.exitCode === null && child.signalCode === null) {
          log("warn", "Ponder did not stop in time: killing it", { grace_ms: STOP_GRACE_MS });
          child.kill("SIGKILL");
        }
      }, STOP_GRACE_MS).unref();
    };
    for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, () => stop(signal));

    // Record how far the chain is final, so the next start can tell whether the cache still fits it.
    const recordAnchor = async () => {
      try {
        const anchor = await currentAnchor(client);
        if (anchor) {
          state.anchor = anchor;
          await store.write(state);
        }
      } catch {
        /* the chain may be gone; the next tick or start tries again */
      }
    };
    const timer = setInterval(recordAnchor, ANCHOR_INTERVAL_MS);

    const code = await new Promise<number>((resolve) => {
      child.once("exit", (exitCode, signal) => resolve(exitCode ?? (signal ? 1 : 0)));
      child.once("error", (error) => {
        log("error", "Could not start Ponder", { error: error.message });
        resolve(1);
      });
    });
    clearInterval(timer);
    await recordAnchor();
    log(code === 0 ? "info" : "error", "Ponder exited", { code });
    return code;
  } finally {
    await store.close().catch(() => {});
    releaseLock();
  }
}

main().then(
  (code) => process.exit(code),
  (error: Error) => {
    log("error", error.message);
    process.exit(1);
  },
);
