/**
 * Starts one anvil chain, deploys the contracts with the project's deploy command, and starts one indexer
 * the way operators do (`indexer/scripts/run.ts start`, own port and data folder) — for all test files.
 * Stops exactly what it started.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { TestProject } from "vitest/node";
import { createPublicClient, http } from "viem";
import { type DevChain, deployContracts, startChain } from "@clawcompute/scripts/lib/devchain.ts";
import { type ManagedProcess, freePort, startProcess, waitFor } from "@clawcompute/scripts/lib/processes.ts";

/** StreamPay's challenge window on the test chain (seconds). */
export const CHALLENGE_WINDOW = 6n;

let chain: DevChain | undefined;
let indexer: ManagedProcess | undefined;
const dirs: string[] = [];

const indexerRoot = fileURLToPath(new URL("../../indexer/", import.meta.url));

export async function setup(project: TestProject) {
  chain = await startChain();
  const deploymentsDir = mkdtempSync(join(tmpdir(), "claw-consumer-deployments-"));
  dirs.push(deploymentsDir);
  // A short challenge window, so cancels finish within a test without moving the shared chain's clock
  // (other test files run on the same chain at the same time).
  await deployContracts({ rpcUrl: chain.rpcUrl, deploymentsDir, ignitionDir: "scratch", gracePeriod: 120n, challengeWindow: CHALLENGE_WINDOW });

  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), "claw-consumer-indexer-"));
  dirs.push(dataDir);
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.DATABASE_URL;
  delete env.DATABASE_SCHEMA;
  indexer = startProcess(`indexer:${port}`, process.execPath, ["--import", "tsx", "scripts/run.ts", "start"], {
    cwd: indexerRoot,
    env: { ...env, CHAIN_ID: "31337", RPC_URL: chain.rpcUrl, DEPLOYMENTS_DIR: deploymentsDir, INDEXER_DATA_DIR: dataDir, INDEXER_HOST: "127.0.0.1", PORT: String(port), INDEXER_SKIP_ENV_FILES: "1" },
    echo: process.env.CONSUMER_TEST_ECHO === "1",
  });
  const indexerUrl = `http://127.0.0.1:${port}`;
  const client = createPublicClient({ transport: http(chain.rpcUrl) });
  await waitFor("the indexer to be ready", async () => {
    if (indexer!.child.exitCode !== null) throw new Error(`indexer exited:\n${indexer!.output().slice(-3000)}`);
    const ready = await fetch(`${indexerUrl}/ready`).then((r) => r.status === 200, () => false);
    if (!ready) return false;
    const status = (await fetch(`${indexerUrl}/status`).then((r) => r.json())) as { local?: { block?: { number?: number } } };
    return (status.local?.block?.number ?? -1) >= Number(await client.getBlockNumber());
  }, 150_000, 250).catch(async (error) => {
    const output = indexer!.output().slice(-3000);
    await teardown();
    throw new Error(`${(error as Error).message}\n${output}`);
  });
  project.provide("rpcUrl", chain.rpcUrl);
  project.provide("deploymentsDir", deploymentsDir);
  project.provide("indexerUrl", indexerUrl);
}

export async function teardown() {
  await indexer?.stop({ signal: "SIGINT", graceMs: 30_000 });
  await chain?.stop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
}

declare module "vitest" {
  export interface ProvidedContext {
    rpcUrl: string;
    deploymentsDir: string;
    indexerUrl: string;
  }
}
