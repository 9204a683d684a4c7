/**
 * Test helpers: the shared chain and indexer, funded throwaway wallets, provider agents as real child
 * processes (own process group, stopped exactly), providers registered directly, and exact accounting.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { inject } from "vitest";
import {
  type Address,
  type Hash,
  type Hex,
  type PrivateKeyAccount,
  createPublicClient,
  createWalletClient,
  http,
  parseEventLogs,
  toHex,
  zeroAddress,
} from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import pino from "pino";
import { type Deployment, computeRegistryAbi, localChain, streamPayAbi } from "@clawcompute/sdk";
import { loadDeployment } from "@clawcompute/sdk/node";
import { type ManagedProcess, freePort, startProcess, waitFor } from "@clawcompute/scripts/lib/processes.ts";
import { ClawConsumer, type ClawConsumerParameters } from "../src/index.ts";

export const consumerDir = fileURLToPath(new URL("../", import.meta.url));
export const providerAgentDir = fileURLToPath(new URL("../../provider-agent/", import.meta.url));
export const scriptsDir = fileURLToPath(new URL("../../scripts/", import.meta.url));

export function chainContext() {
  const rpcUrl = inject("rpcUrl");
  const deploymentsDir = inject("deploymentsDir");
  const indexerUrl = inject("indexerUrl");
  const deployment: Deployment = loadDeployment(31337, deploymentsDir);
  const chain = { ...localChain, rpcUrls: { default: { http: [rpcUrl] } } };
  const publicClient = createPublicClient({ chain, transport: http(rpcUrl) });
  return { rpcUrl, deploymentsDir, indexerUrl, deployment, chain, publicClient, streamPay: deployment.contracts.StreamPay.address, registry: deployment.contracts.ComputeRegistry.address };
}
export type Ctx = ReturnType<typeof chainContext>;

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A new wallet holding `eth` of native coin (anvil_setBalance). */
export async function fundedWallet(ctx: Ctx, eth = 100n): Promise<{ key: Hex; account: PrivateKeyAccount }> {
  const key = generatePrivateKey();
  const account = privateKeyToAccount(key);
  await ctx.publicClient.request({ method: "anvil_setBalance" as never, params: [account.address, toHex(eth * 10n ** 18n)] as never });
  return { key, account };
}

export function walletClient(ctx: Ctx, account: PrivateKeyAccount) {
  return createWalletClient({ chain: ctx.chain, transport: http(ctx.rpcUrl), account });
}

export type ProviderHandle = { url: string; providerId: bigint; wallet: Address; key: Hex; process: ManagedProcess; stop: (signal?: NodeJS.Signals) => Promise<void>; dataDir: string };

/** Starts a provider agent (echo backend) on a free port and waits until /healthz says ok. */
export async function startProvider(ctx: Ctx, env: Record<string, string>): Promise<ProviderHandle> {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), "claw-consumer-test-provider-"));
  const { key, account } = await fundedWallet(ctx);
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("PROVIDER_")));
  const proc = startProcess(`provider:${port}`, process.execPath, ["--import", "tsx", "src/main.ts"], {
    cwd: providerAgentDir,
    env: {
      ...clean,
      PROVIDER_PRIVATE_KEY: key,
      PROVIDER_RPC_URL: ctx.rpcUrl,
      PROVIDER_CHAIN_ID: "31337",
      PROVIDER_DEPLOYMENTS_DIR: ctx.deploymentsDir,
      PROVIDER_HOST: "127.0.0.1",
      PROVIDER_PORT: String(port),
      PROVIDER_DATA_DIR: dataDir,
      PROVIDER_POLL_INTERVAL_MS: "100",
      PROVIDER_ECHO_TOKENS_PER_SECOND: "100",
      PROVIDER_PAYOUT_INTERVAL_MS: "600000",
      PROVIDER_WITHDRAW_ON_SHUTDOWN: "false",
      PROVIDER_MIN_DEPOSIT_SECONDS: "10",
      PROVIDER_LOG_LEVEL: "warn",
      PROVIDER_ENV_FILE: "/dev/null",
      ...env,
    },
    echo: process.env.CONSUMER_TEST_ECHO === "1",
  });
  const url = `http://127.0.0.1:${port}`;
  const health = await waitFor(`provider agent on ${url}`, async () => {
    if (proc.child.exitCode !== null) throw new Error(`provider exited ${proc.child.exitCode}:\n${proc.output()}`);
    const r = await fetch(`${url}/healthz`).catch(() => undefined);
    return r?.status === 200 ? ((await r.json()) as { providerId: string }) : undefined;
  }, 60_000, 100).catch(async (error) => {
    await proc.stop({ signal: "SIGKILL" });
    throw new Error(`${(error as Error).message}\n${proc.output()}`);
  });
  return {
    url,
    providerId: BigInt(health.providerId),
    wallet: account.address,
    key,
    process: proc,
    dataDir,
    stop: async (signal: NodeJS.Signals = "SIGTERM") => {
      await proc.stop({ signal, graceMs: 20_000 });
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Registers a provider directly (no agent): for fake servers and keeper tests. */
export async function registerProvider(ctx: Ctx, p: { model: string; pricePerSecond: bigint; endpoint: string; account?: PrivateKeyAccount }) {
  const account = p.account ?? (await fundedWallet(ctx)).account;
  const wallet = walletClient(ctx, account);
  const hash = await wallet.writeContract({ address: ctx.registry, abi: computeRegistryAbi, functionName: "registerProvider", args: [p.model, p.pricePerSecond, p.endpoint, "llm", zeroAddress], value: BigInt(ctx.deployment.parameters.minStake) });
  await ctx.publicClient.waitForTransactionReceipt({ hash });
  const providerId = await ctx.publicClient.readContract({ address: ctx.registry, abi: computeRegistryAbi, functionName: "providerIdOf", args: [account.address, p.model] });
  return { providerId, account };
}

export function consumer(ctx: Ctx, account: PrivateKeyAccount, p: Partial<ClawConsumerParameters> = {}) {
  return ClawConsumer.create({
    account,
    rpcUrl: ctx.rpcUrl,
    chainId: 31337,
    deploymentsDir: ctx.deploymentsDir,
    indexerUrl: ctx.indexerUrl,
    budget: 10n ** 16n,
    expectedSeconds: 20,
    closeWaitMs: 10_000,
    healthTimeoutMs: 1000,
    requestTimeoutMs: 10_000,
    log: pino({ level: process.env.CONSUMER_TEST_ECHO === "1" ? "debug" : "silent" }),
    ...p,
  });
}

export const balance = (ctx: Ctx, address: Address) => ctx.publicClient.getBalance({ address });

export const claimable = (ctx: Ctx, address: Address, asset: Address = zeroAddress) =>
  ctx.publicClient.readContract({ address: ctx.streamPay, abi: streamPayAbi, functionName: "balanceOf", args: [address, asset] });

export const streamView = (ctx: Ctx, id: bigint) => ctx.publicClient.readContract({ address: ctx.streamPay, abi: streamPayAbi, functionName: "getStreamView", args: [id] });

/** Gas paid by transactions, from their receipts. */
export async function gasOf(ctx: Ctx, hashes: Hash[]): Promise<bigint> {
  let total = 0n;
  for (const hash of hashes) {
    const r = await ctx.publicClient.getTransactionReceipt({ hash });
    total += r.gasUsed * r.effectiveGasPrice;
  }
  return total;
}

/** Every transaction `from` sent in blocks after `fromBlock` (the chain is automining: one tx per block). */
export async function transactionsFrom(ctx: Ctx, from: Address, fromBlock: bigint): Promise<Hash[]> {
  const head = await ctx.publicClient.getBlockNumber({ cacheTime: 0 });
  const hashes: Hash[] = [];
  for (let n = fromBlock + 1n; n <= head; n++) {
    const block = await ctx.publicClient.getBlock({ blockNumber: n, includeTransactions: true });
    for (const tx of block.transactions) if (tx.from.toLowerCase() === from.toLowerCase()) hashes.push(tx.hash);
  }
  return hashes;
}

export async function closedEvent(ctx: Ctx, streamId: bigint) {
  const logs = await ctx.publicClient.getContractEvents({ address: ctx.streamPay, abi: streamPayAbi, eventName: "StreamClosed", args: { streamId }, fromBlock: 0n });
  return logs[0]?.args;
}

export async function ratingsOf(ctx: Ctx, providerId: bigint) {
  const logs = await ctx.publicClient.getContractEvents({ address: ctx.registry, abi: computeRegistryAbi, eventName: "ProviderRated", args: { providerId }, fromBlock: 0n });
  return logs.map((l) => l.args);
}

/** Waits until the indexer has indexed the chain's current head. */
export async function waitIndexed(ctx: Ctx, timeoutMs = 60_000) {
  const head = Number(await ctx.publicClient.getBlockNumber({ cacheTime: 0 }));
  await waitFor("the indexer to reach the head", async () => {
    const status = (await fetch(`${ctx.indexerUrl}/status`).then((r) => r.json())) as { local?: { block?: { number?: number } } };
    return (status.local?.block?.number ?? -1) >= head;
  }, timeoutMs, 100);
}

export { parseEventLogs };
