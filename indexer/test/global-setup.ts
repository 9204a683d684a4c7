/**
 * Runs once per `vitest run`: starts anvil on a free port, deploys the contracts with the project's real
 * deploy command into a temporary deployments folder, dumps the chain state and stops anvil. Every test
 * file then loads that state into its own anvil (same genesis, same deployment block and addresses) —
 * one deploy (~40 s) instead of one per file.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import type { Deployment } from "@clawcompute/sdk";
import { deployContracts, startChain } from "@clawcompute/scripts/lib/devchain.ts";
import {
  CHALLENGE_WINDOW_SECONDS,
  GRACE_PERIOD_SECONDS,
  MIN_STAKE_WEI,
  STAKE_COOLDOWN_SECONDS,
} from "./helpers/constants.ts";

declare module "vitest" {
  export interface ProvidedContext {
    chainState: string;
    deployment: Deployment;
  }
}

export default async function setup(project: TestProject) {
  const dir = mkdtempSync(join(tmpdir(), "claw-indexer-deploy-"));
  const chain = await startChain();
  try {
    const deployment = await deployContracts({
      rpcUrl: chain.rpcUrl,
      deploymentsDir: dir,
      ignitionDir: "scratch",
      minStake: MIN_STAKE_WEI,
      stakeCooldown: STAKE_COOLDOWN_SECONDS,
      gracePeriod: GRACE_PERIOD_SECONDS,
      challengeWindow: CHALLENGE_WINDOW_SECONDS,
    });
    const response = await fetch(chain.rpcUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "anvil_dumpState", params: [] }),
    });
    const { result } = (await response.json()) as { result: string };
    project.provide("chainState", result);
    project.provide("deployment", deployment);
  } finally {
    await chain.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
