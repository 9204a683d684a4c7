/**
 * Test helpers: a dev chain of the test file's own (anvil + the contracts deployed from
 * contracts/artifacts, short grace period and challenge window), chain time moved with anvil, funded
 * throwaway wallets, providers registered directly, streams, vouchers, a fake indexer that answers what a
 * test tells it to, and exact balances.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { type Server, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
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
import {
  type Deployment,
  computeRegistryAbi,
  localChain,
  signVoucher,
  streamPayAbi,
  voucherArgs,
} from "@clawcompute/sdk";
import { type DevChain, deployContracts, startChain } from "@clawcompute/scripts/lib/devchain.ts";
import { freePort, startProcess, waitFor } from "@clawcompute/scripts/lib/processes.ts";
import { Keeper, type KeeperConfig } from "../src/index.ts";

export const keeperDir = fileURLToPath(new URL("../", import.meta.url));

/** StreamPay's parameters on the test chains: short, so tests move time by a minute, not an hour. */
export const GRACE_PERIOD = 60n;
export const CHALLENGE_WINDOW = 30n;

export type Ctx = Awaited<ReturnType<typeof startDevChain>>;

/** Starts anvil, deploys the contracts (grace 60 s, window 30 s) and returns clients; `stop()` undoes it all. */
export async function startDevChain() {
  const chain: DevChain = await startChain();
  const deploymentsDir = mkdtempSync(join(tmpdir(), "claw-keeper-deployments-"));
  let deployment: Deployment;
  try {
    deployment = await deployContracts({ rpcUrl: chain.rpcUrl, deploymentsDir, ignitionDir: "scratch",
      gracePeriod: GRACE_PERIOD, challengeWindow: CHALLENGE_WINDOW });
  } catch (error) {
    await chain.stop();
    rmSync(deploymentsDir, { recursive: true, force: true });
    throw error;
  }
  const viemChain = { ...localChain, rpcUrls: { default: { http: [chain.rpcUrl] } } };
  const publicClient = createPublicClient({ chain: viemChain, transport: http(chain.rpcUrl) });
  return {
    rpcUrl: chain.rpcUrl,
    deploymentsDir,
    deployment,
    chain: viemChain,
    publicClient,
    streamPay: deployment.contracts.StreamPay.address,
    registry: deployment.contracts.ComputeRegistry.address,
    stop: async () => {
      await chain.stop();
      rmSync(deploymentsDir, { recursive: true, force: true });
    },
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A new wallet holding `eth` of native coin (anvil_setBalance). */
export async function fundedWallet(ctx: Ctx, eth = 100n): Promise<{ key: Hex; account: PrivateKeyAccount }> {
  const key = generatePrivateKey();
  const account = privateKeyToAccount(key);
  await ctx.publicClient.request({ method: "anvil_setBalance" as never,
    params: [account.address, toHex(eth * 10n ** 18n)] as never });
  return { key, account };
}

export function walletClient(ctx: Ctx, account: PrivateKeyAccount) {
  return createWalletClient({ chain: ctx.chain, transport: http(ctx.rpcUrl), account });
}

/** Sends a contract write and waits for it; returns the receipt (throws if it reverted). */
export async function send(
  ctx: Ctx,
  account: PrivateKeyAccount,
  request: Parameters<ReturnType<typeof walletClient>["writeContract"]>[0],
) {
  const hash = await walletClient(ctx, account).writeContract(request as never);
  const receipt = await ctx.publicClient.waitForTransactionReceipt({ hash });
  if (receipt.status !== "success") throw new Error(`transaction ${hash} reverted`);
  return receipt;
}

/** Registers a provider directly (no agent) priced in the native coin. */
export async function registerProvider(ctx: Ctx, p: { model: string; pricePerSecond: bigint }) {
  const { account } = await fundedWallet(ctx);
  await send(ctx, account, { address: ctx.registry, abi: computeRegistryAbi, functionName: "registerProvider",
    args: [p.model, p.pricePerSecond, "http://127.0.0.1:9/unused", "llm", zeroAddress],
    value: BigInt(ctx.deployment.parameters.minStake) } as never);
  const providerId = await ctx.publicClient.readContract({ address: ctx.registry, abi: computeRegistryAbi,
    functionName: "providerIdOf", args: [account.address, p.model] });
  return { providerId, account, pricePerSecond: p.pricePerSecond };
}
export type Provider = Awaited<ReturnType<typeof registerProvider>>;

/** Opens a native-coin stream of `seconds` at the provider's price; returns its id. */
export async function openStream(ctx: Ctx, sender: PrivateKeyAccount, provider: Provider, seconds: bigint) {
  const deposit = provider.pricePerSecond * seconds;
  const receipt = await send(ctx, sender, { address: ctx.streamPay, abi: streamPayAbi, functionName: "createStream",
    args: [provider.providerId, provider.pricePerSecond, deposit, zeroAddress], value: deposit } as never);
  return parseEventLogs({ abi: streamPayAbi, logs: receipt.logs, eventName: "StreamCreated" })[0].args.streamId;
}

/** The recipient withdraws with the sender's voucher for `cumulative` (signed by the sender itself). */
export async function withdrawByVoucher(ctx: Ctx, sender: PrivateKeyAccount, provider: Provider, streamId: bigint,
  cumulative: bigint) {
  const voucher = await signVoucher({ signer: sender, domain: { chainId: ctx.chain.id, streamPay: ctx.streamPay },
    streamId, cumulative });
  return send(ctx, provider.account, { address: ctx.streamPay, abi: streamPayAbi, functionName: "withdrawFromStream",
    args: [streamId, voucherArgs(voucher)] } as never);
}

/** Mines one block at exactly `timestamp` (unix seconds): the chain's time from then on. */
export async function mineAt(ctx: Ctx, timestamp: bigint) {
  await ctx.publicClient.request({ method: "evm_setNextBlockTimestamp" as never, params: [toHex(timestamp)] as never });
  await ctx.publicClient.request({ method: "evm_mine" as never, params: [] as never });
}

/** Moves the chain's time forward by `seconds` (anvil's evm_increaseTime) and mines a block. */
export async function increaseTime(ctx: Ctx, seconds: bigint) {
  await ctx.publicClient.request({ method: "evm_increaseTime" as never, params: [toHex(seconds)] as never });
  await ctx.publicClient.request({ method: "evm_mine" as never, params: [] as never });
}

export const latestTime = async (ctx: Ctx) => (await ctx.publicClient.getBlock({ blockTag: "latest" })).timestamp;

export const balance = (ctx: Ctx, address: Address) => ctx.publicClient.getBalance({ address });

/** StreamPay's claimable balance (the recipient side's credit) of `address` in `asset`. */
export const claimable = (ctx: Ctx, address: Address, asset: Address = zeroAddress) =>
  ctx.publicClient.readContract({ address: ctx.streamPay, abi: streamPayAbi, functionName: "balanceOf",
    args: [address, asset] });

export const streamView = (ctx: Ctx, id: bigint) =>
  ctx.publicClient.readContract({ address: ctx.streamPay, abi: streamPayAbi, functionName: "getStreamView",
    args: [id] });

export const nonceOf = (ctx: Ctx, address: Address) =>
  ctx.publicClient.getTransactionCount({ address, blockTag: "pending" });

/** Gas paid by a transaction (L2 gas × effective price). */
export async function gasPaidBy(ctx: Ctx, hash: Hash): Promise<bigint> {
  const r = await ctx.publicClient.getTransactionReceipt({ hash });
  return r.gasUsed * r.effectiveGasPrice;
}

/** A keeper configuration for tests: fast, quiet, the test chain; `over` changes what a test needs. */
export function keeperConfig(ctx: Ctx, over: Partial<KeeperConfig> = {}): KeeperConfig {
  return {
    rpcUrl: ctx.rpcUrl,
    chainId: 31337,
    deploymentsDir: ctx.deploymentsDir,
    indexerUrl: undefined,
    indexerTimeoutMs: 2000,
    intervalMs: 200,
    batchSize: 50,
    maxBatchesPerTick: 10,
    maxReadsPerTick: 2000,
    gasMargin: 1.5,
    maxFeePerGas: undefined,
    l1Fee: "off",
    finalizeCancels: false,
    tokenPrices: new Map(),
    httpHost: "127.0.0.1",
    httpPort: 0,
    logLevel: "silent",
    keystore: undefined,
    keystorePasswordFile: undefined,
    ...over,
  };
}

/** A started keeper (stop it at the end of the test). */
export async function startKeeper(ctx: Ctx, account: PrivateKeyAccount, over: Partial<KeeperConfig> = {}) {
  const keeper = new Keeper({ config: keeperConfig(ctx, over), account,
    log: pino({ level: process.env.KEEPER_TEST_ECHO === "1" ? "debug" : "silent" }) });
  await keeper.init();
  return keeper;
}

export type FakeStream = { id: bigint; state: string; abandonedAt?: bigint | null; challengeEndsAt?: bigint | null;
  endTime?: bigint | null };

/**
 * A stand-in for the indexer's GraphQL endpoint: answers `streamViews` with the streams a test sets (it can
 * lie, lag or fail on purpose), filtered by the `status_in` and `id_gt` the keeper asks for, and records
 * every query.
 */
export async function startFakeIndexer() {
  let streams: FakeStream[] = [];
  let failure: { status: number; body: unknown } | undefined;
  const queries: Array<{ query: string; variables: Record<string, unknown> }> = [];
  const server: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      const reply = (status: number, json: unknown) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(json));
      };
      if (req.method !== "POST" || req.url !== "/graphql") return reply(404, { error: "not found" });
      const q = JSON.parse(body) as { query: string; variables: Record<string, unknown> };
      queries.push(q);
      if (failure) return reply(failure.status, failure.body);
      const list = /status_in:\s*\[([^\]]*)\]/.exec(q.query)?.[1] ?? "";
      const states = [...list.matchAll(/"([^"]+)"/g)].map((m) => m[1]);
      const after = BigInt(String(q.variables.after ?? "0"));
      const str = (v: bigint | null | undefined) => (v === undefined ? undefined : v === null ? null : String(v));
      const items = streams.filter((s) => states.includes(s.state) && s.id > after)
        .sort((a, b) => (a.id < b.id ? -1 : 1))
        .map((s) => ({ id: String(s.id), status: s.state, abandonedAt: str(s.abandonedAt),
          challengeEndsAt: str(s.challengeEndsAt), endTime: str(s.endTime) }));
      reply(200, { data: { streamViews: { items } } });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    queries,
    /** What the indexer says is due from now on. */
    set: (list: FakeStream[]) => {
      streams = list;
      failure = undefined;
    },
    /** Answer every query with this HTTP status and body (e.g. a GraphQL error of an older indexer). */
    fail: (status: number, body: unknown) => {
      failure = { status, body };
    },
    stop: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

/**
 * The real indexer, started the way operators do (`indexer/scripts/run.ts start`) on a free port with its
 * own data folder, once it has indexed the chain's head. `stop()` stops it (SIGINT) and removes the folder.
 */
export async function startIndexer(ctx: Ctx) {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), "claw-keeper-indexer-"));
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.DATABASE_URL;
  delete env.DATABASE_SCHEMA;
  const proc = startProcess(`indexer:${port}`, process.execPath, ["--import", "tsx", "scripts/run.ts", "start"], {
    cwd: fileURLToPath(new URL("../../indexer/", import.meta.url)),
    env: { ...env, CHAIN_ID: "31337", RPC_URL: ctx.rpcUrl, DEPLOYMENTS_DIR: ctx.deploymentsDir,
      INDEXER_DATA_DIR: dataDir, INDEXER_HOST: "127.0.0.1", PORT: String(port), INDEXER_SKIP_ENV_FILES: "1" },
    echo: process.env.KEEPER_TEST_ECHO === "1",
  });
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    await proc.stop({ signal: "SIGINT", graceMs: 30_000 });
    rmSync(dataDir, { recursive: true, force: true });
  };
  const indexed = async (timeoutMs = 150_000) => {
    const head = Number(await ctx.publicClient.getBlockNumber({ cacheTime: 0 }));
    await waitFor("the indexer to reach the chain's head", async () => {
      if (proc.child.exitCode !== null) throw new Error(`indexer exited:\n${proc.output().slice(-3000)}`);
      if (!(await fetch(`${url}/ready`).then((r) => r.status === 200, () => false))) return false;
      type Status = { local?: { block?: { number?: number } } };
      const status = (await fetch(`${url}/status`).then((r) => r.json())) as Status;
      return (status.local?.block?.number ?? -1) >= head;
    }, timeoutMs, 250);
  };
  try {
    await indexed();
  } catch (error) {
    const output = proc.output().slice(-3000);
    await stop();
    throw new Error(`${(error as Error).message}\n${output}`);
  }
  return { url, stop, indexed };
}

/**
 * Mines `n` empty blocks: the indexer treats the newest 30 blocks as unfinalised and may answer before it
 * has them, so tests mine past them before they rely on what it says.
 */
export async function mineBlocks(ctx: Ctx, n: number) {
  await ctx.publicClient.request({ method: "anvil_mine" as never, params: [toHex(n)] as never });
}

/** A contract that answers every call with the 32-byte word `value`: a stand-in GasPriceOracle. */
export function constantReturnCode(value: bigint): Hex {
  // PUSH32 value, PUSH1 0, MSTORE, PUSH1 32, PUSH1 0, RETURN
  return `0x7f${value.toString(16).padStart(64, "0")}60005260206000f3`;
}

export { parseEventLogs };
