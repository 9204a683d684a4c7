/**
 * The local dev chain: anvil (from npm) on a free port, and the contracts deployed to it with the
 * project's one deploy command. Used by the local stack and by every integration test.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createPublicClient, http } from "viem";
import type { Deployment } from "@clawcompute/sdk";
import { loadDeployment } from "@clawcompute/sdk/node";
import { type ManagedProcess, freePort, isPortFree, startProcess, waitFor } from "./processes.ts";

const require = createRequire(import.meta.url);
export const repoRoot = fileURLToPath(new URL("../../", import.meta.url));

/** The anvil binary shipped in the npm platform package (spawned directly: no wrapper process). */
export function anvilBinary(): string {
  return require.resolve("@foundry-rs/anvil-linux-amd64/bin/anvil");
}

/** The well-known anvil/Hardhat dev accounts (mnemonic "test test ... junk"): for local chains only. */
export const DEV_PRIVATE_KEYS = [
  "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
  "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
  "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
  "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
  "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
  "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
  "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
  "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",
  "0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97",
  "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
] as const;

export type DevChain = { rpcUrl: string; port: number; process: ManagedProcess; stop: () => Promise<void> };

export type StartChainOptions = {
  port?: number;
  /** Seconds between blocks; default: mine a block per transaction (automine). */
  blockTime?: number;
  echo?: boolean;
};

/** Starts anvil (chain id 31337) on a free port and waits until it answers. */
export async function startChain(options: StartChainOptions = {}): Promise<DevChain> {
  const port = options.port ?? (await freePort());
  // Never attach to somebody else's chain: the port must be free before we start ours.
  if (!(await isPortFree(port))) throw new Error(`Port ${port} is already in use; pick another (or omit it for a free one).`);
  const args = ["--host", "127.0.0.1", "--port", String(port), "--chain-id", "31337", "--silent"];
  if (options.blockTime) args.push("--block-time", String(options.blockTime));
  const proc = startProcess(`anvil:${port}`, anvilBinary(), args, { echo: options.echo });
  const rpcUrl = `http://127.0.0.1:${port}`;
  const client = createPublicClient({ transport: http(rpcUrl, { retryCount: 0 }) });
  await waitFor(`anvil on port ${port}`, async () => {
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) {
      throw new Error(`anvil exited: ${proc.output()}`);
    }
    return (await client.getChainId()) === 31337;
  }, 15_000, 50);
  if (proc.child.exitCode !== null) throw new Error(`anvil exited: ${proc.output()}`);
  return { rpcUrl, port, process: proc, stop: () => proc.stop({ signal: "SIGTERM" }) };
}

export type DeployOptions = {
  rpcUrl: string;
  /** Where deployments/<chainId>.json goes (default: the repository's deployments/). */
  deploymentsDir?: string;
  /**
   * Ignition's journal folder (default: contracts/ignition). Tests on throwaway chains pass a temporary
   * folder, or "scratch" for one that is deleted after the deploy.
   */
  ignitionDir?: string | "scratch";
  minStake?: bigint;
  stakeCooldown?: bigint;
  /** StreamPay's grace period after a stream's stop time, seconds (deploy default: 300 on the local chain). */
  gracePeriod?: bigint;
  /** StreamPay's challenge window for answering a cancel, seconds (deploy default: 120 on the local chain). */
  challengeWindow?: bigint;
  echo?: boolean;
};

/**
 * Runs the project's deploy script (what `npm run deploy` runs) against `rpcUrl` and returns the
 * deployment. It does not compile: build once first (`npm run build`, which `npm test` and `npm start` do).
 */
export async function deployContracts(options: DeployOptions): Promise<Deployment> {
  const scratch = options.ignitionDir === "scratch" ? mkdtempSync(join(tmpdir(), "claw-ignition-")) : undefined;
  const journal = scratch ?? options.ignitionDir;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    RPC_URL: options.rpcUrl,
    NETWORK: "localhost",
    HARDHAT_DISABLE_TELEMETRY: "true",
    ...(options.deploymentsDir ? { DEPLOYMENTS_DIR: options.deploymentsDir } : {}),
    ...(journal ? { IGNITION_DIR: journal } : {}),
    ...(options.minStake !== undefined ? { MIN_STAKE: options.minStake.toString() } : {}),
    ...(options.stakeCooldown !== undefined ? { STAKE_COOLDOWN: options.stakeCooldown.toString() } : {}),
    ...(options.gracePeriod !== undefined ? { GRACE_PERIOD: options.gracePeriod.toString() } : {}),
    ...(options.challengeWindow !== undefined ? { CHALLENGE_WINDOW: options.challengeWindow.toString() } : {}),
  };
  const deploy = startProcess(
    "deploy",
    "npx",
    ["hardhat", "run", "--no-compile", "--network", "localhost", "scripts/deploy.ts"],
    { cwd: join(repoRoot, "contracts"), env, echo: options.echo },
  );
  const code = await deploy.exited;
  if (scratch) rmSync(scratch, { recursive: true, force: true });
  if (code !== 0) throw new Error(`npm run deploy failed (exit ${code}):\n${deploy.output()}`);
  return loadDeployment(31337, options.deploymentsDir);
}
