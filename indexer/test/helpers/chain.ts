/**
 * Test chains: an anvil on a free port loaded with the state the global setup deployed (real contracts,
 * real deploy), plus a temporary deployments folder holding that deployment.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inject } from "vitest";
import type { Deployment } from "@clawcompute/sdk";
import { writeDeployment } from "@clawcompute/sdk/node";
import { type DevChain, startChain } from "@clawcompute/scripts/lib/devchain.ts";

export type TestChain = DevChain & { deployment: Deployment; deploymentsDir: string; rpc: (method: string, params?: unknown[]) => Promise<unknown> };

export function rpcCaller(rpcUrl: string) {
  return async (method: string, params: unknown[] = []): Promise<unknown> => {
    const response = await fetch(rpcUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
    });
    const json = (await response.json()) as { result?: unknown; error?: { message: string } };
    if (json.error) throw new Error(`${method}: ${json.error.message}`);
    return json.result;
  };
}

/** Starts anvil with the deployed contracts. `deploymentsDir` is reused when given (same deployment). */
export async function startDeployedChain(options: { deploymentsDir?: string } = {}): Promise<TestChain> {
  const chain = await startChain();
  const rpc = rpcCaller(chain.rpcUrl);
  await rpc("anvil_loadState", [inject("chainState")]);
  const deployment = inject("deployment");
  const deploymentsDir = options.deploymentsDir ?? mkdtempSync(join(tmpdir(), "claw-indexer-deployments-"));
  writeDeployment(deployment, deploymentsDir);
  return { ...chain, deployment, deploymentsDir, rpc };
}

export function removeDir(dir: string | undefined): void {
  if (dir) rmSync(dir, { recursive: true, force: true });
}
