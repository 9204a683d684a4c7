/** Starts one anvil chain and deploys the contracts with the project's deploy command, for all test files. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { type DevChain, deployContracts, startChain } from "@clawcompute/scripts/lib/devchain.ts";

let chain: DevChain | undefined;
let dir: string | undefined;

export async function setup(project: TestProject) {
  // Development shortcut: reuse a chain you started and deployed to (PROVIDER_TEST_RPC_URL + PROVIDER_TEST_DEPLOYMENTS_DIR).
  if (process.env.PROVIDER_TEST_RPC_URL && process.env.PROVIDER_TEST_DEPLOYMENTS_DIR) {
    project.provide("rpcUrl", process.env.PROVIDER_TEST_RPC_URL);
    project.provide("deploymentsDir", process.env.PROVIDER_TEST_DEPLOYMENTS_DIR);
    return;
  }
  chain = await startChain();
  dir = mkdtempSync(join(tmpdir(), "claw-provider-deployments-"));
  await deployContracts({ rpcUrl: chain.rpcUrl, deploymentsDir: dir, ignitionDir: "scratch" });
  project.provide("rpcUrl", chain.rpcUrl);
  project.provide("deploymentsDir", dir);
}

export async function teardown() {
  await chain?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}

declare module "vitest" {
  export interface ProvidedContext {
    rpcUrl: string;
    deploymentsDir: string;
  }
}
