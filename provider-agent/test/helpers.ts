/**
 * Test helpers: the shared dev chain, funded throwaway wallets, the provider agent as a real child process
 * (own process group, stopped exactly), and a consumer that opens streams and signs requests with the SDK.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { inject } from "vitest";
import {
  type Address,
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
import {
  type Deployment,
  type PaymentDomainParameters,
  type SessionAuthorization,
  computeRegistryAbi,
  createPaymentHeaders,
  localChain,
  streamPayAbi,
  testTokenAbi,
} from "@clawcompute/sdk";
import { loadDeployment } from "@clawcompute/sdk/node";
import { type ManagedProcess, freePort, startProcess, waitFor } from "@clawcompute/scripts/lib/processes.ts";

export const agentDir = fileURLToPath(new URL("../", import.meta.url));

/** The shared dev chain of every test file, or (tests that move chain time) a chain of their own. */
export function chainContext(own?: { rpcUrl: string; deploymentsDir: string }) {
  const rpcUrl = own?.rpcUrl ?? inject("rpcUrl");
  const deploymentsDir = own?.deploymentsDir ?? inject("deploymentsDir");
  const deployment: Deployment = loadDeployment(31337, deploymentsDir);
  const chain = { ...localChain, rpcUrls: { default: { http: [rpcUrl] } } };
  const publicClient = createPublicClient({ chain, transport: http(rpcUrl) });
  const domain: PaymentDomainParameters = { chainId: 31337, streamPay: deployment.contracts.StreamPay.address };
  return { rpcUrl, deploymentsDir, deployment, chain, publicClient, domain };
}
export type ChainContext = ReturnType<typeof chainContext>;

/** A new wallet holding `eth` of native coin (anvil_setBalance). */
export async function fundedWallet(ctx: ChainContext, eth = 100n): Promise<{ key: Hex; account: PrivateKeyAccount }> {
  const key = generatePrivateKey();
  const account = privateKeyToAccount(key);
  await ctx.publicClient.request({ method: "anvil_setBalance" as never, params: [account.address, toHex(eth * 10n ** 18n)] as never });
  return { key, account };
}

export function walletClient(ctx: ChainContext, account: PrivateKeyAccount) {
  return createWalletClient({ chain: ctx.chain, transport: http(ctx.rpcUrl), account });
}

export type AgentHandle = {
  url: string;
  port: number;
  dataDir: string;
  process: ManagedProcess;
  env: Record<string, string>;
  logs: () => Array<Record<string, unknown>>;
  stop: (signal?: NodeJS.Signals) => Promise<number | null>;
};

/** Starts the agent (`tsx src/main.ts`) with PROVIDER_* env, and waits until /healthz says ok. */
export async function startAgent(ctx: ChainContext, env: Record<string, string>, options: { dataDir?: string; port?: number; waitReady?: boolean } = {}): Promise<AgentHandle> {
  const port = options.port ?? (await freePort());
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), "claw-provider-data-"));
  const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("PROVIDER_")));
  const fullEnv: Record<string, string> = {
    PROVIDER_RPC_URL: ctx.rpcUrl,
    PROVIDER_CHAIN_ID: "31337",
    PROVIDER_DEPLOYMENTS_DIR: ctx.deploymentsDir,
    PROVIDER_HOST: "127.0.0.1",
    PROVIDER_PORT: String(port),
    PROVIDER_DATA_DIR: dataDir,
    PROVIDER_POLL_INTERVAL_MS: "100",
    PROVIDER_ECHO_TOKENS_PER_SECOND: "0",
    PROVIDER_PAYOUT_INTERVAL_MS: "600000",
    PROVIDER_MIN_DEPOSIT_SECONDS: "10",
    PROVIDER_LOG_LEVEL: "info",
    PROVIDER_ENV_FILE: "/dev/null",
    ...env,
  };
  const proc = startProcess(`provider:${port}`, process.execPath, ["--import", "tsx", "src/main.ts"], {
    cwd: agentDir,
    env: { ...cleanEnv, ...fullEnv },
    echo: process.env.ECHO_AGENT === "1",
  });
  const url = `http://127.0.0.1:${port}`;
  const handle: AgentHandle = {
    url,
    port,
    dataDir,
    process: proc,
    env: fullEnv,
    logs: () =>
      proc
        .output()
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => {
          try {
            return JSON.parse(l) as Record<string, unknown>;
          } catch {
            return {};
          }
        }),
    stop: async (signal: NodeJS.Signals = "SIGTERM") => {
      await proc.stop({ signal, graceMs: 30_000 });
      return proc.exited;
    },
  };
  if (options.waitReady !== false) {
    await waitFor(`provider agent on ${url}`, async () => {
      if (proc.child.exitCode !== null) throw new Error(`agent exited ${proc.child.exitCode}:\n${proc.output()}`);
      const r = await fetch(`${url}/healthz`).catch(() => undefined);
      return r?.status === 200;
    }, 60_000, 100).catch(async (error) => {
      await proc.stop({ signal: "SIGKILL" }); // never leave it running
      throw new Error(`${(error as Error).message}\n--- agent output ---\n${proc.output()}`);
    });
  }
  return handle;
}

export function removeDir(dir: string) {
  rmSync(dir, { recursive: true, force: true });
}

export async function providerIdOf(ctx: ChainContext, wallet: Address, model: string): Promise<bigint> {
  return ctx.publicClient.readContract({ address: ctx.deployment.contracts.ComputeRegistry.address, abi: computeRegistryAbi, functionName: "providerIdOf", args: [wallet, model] });
}

export type SignExtras = {
  session?: SessionAuthorization;
  signer?: PrivateKeyAccount;
  nonce?: bigint;
  expiry?: bigint;
  /** The voucher to send (default: the last receipt accepted on the stream, see {@link Consumer.accept}). */
  cumulative?: bigint;
};

/**
 * A consumer: opens streams and signs requests exactly as a client of the SDK does. Every request carries
 * a voucher for what it accepted so far on the stream: the amount of the last receipt it accepted.
 */
export class Consumer {
  readonly wallet;
  private readonly accepted = new Map<bigint, bigint>();
  /** Unix seconds "now" for signatures (default: the wall clock; tests that move chain time pass its clock). */
  clock: () => number = () => Math.floor(Date.now() / 1000);

  constructor(readonly ctx: ChainContext, readonly account: PrivateKeyAccount) {
    this.wallet = walletClient(ctx, account);
  }

  /** Records a receipt as accepted: later requests on the stream carry a voucher for its amount. */
  accept(streamId: bigint, amount: bigint | string): void {
    const value = BigInt(amount);
    if (value > (this.accepted.get(streamId) ?? 0n)) this.accepted.set(streamId, value);
  }

  acceptedOn(streamId: bigint): bigint {
    return this.accepted.get(streamId) ?? 0n;
  }

  async openStream(providerId: bigint, deposit: bigint, maxRate = deposit, sessionKey: Address = zeroAddress) {
    const hash = await this.wallet.writeContract({
      address: this.ctx.deployment.contracts.StreamPay.address,
      abi: streamPayAbi,
      functionName: "createStream",
      args: [providerId, maxRate, deposit, sessionKey],
      value: deposit,
    });
    const receipt = await this.ctx.publicClient.waitForTransactionReceipt({ hash });
    const [created] = parseEventLogs({ abi: streamPayAbi, logs: receipt.logs, eventName: "StreamCreated" });
    return created.args.streamId;
  }

  /** Opens a TestUSD stream (mints and approves first). */
  async openTokenStream(providerId: bigint, deposit: bigint): Promise<bigint> {
    const token = this.ctx.deployment.contracts.TestUSD!.address;
    const sp = this.ctx.deployment.contracts.StreamPay.address;
    for (const [functionName, args] of [["mint", [this.account.address, deposit]], ["approve", [sp, deposit]]] as const) {
      const h = await this.wallet.writeContract({ address: token, abi: testTokenAbi, functionName, args: args as never });
      await this.ctx.publicClient.waitForTransactionReceipt({ hash: h });
    }
    const hash = await this.wallet.writeContract({
      address: sp,
      abi: streamPayAbi,
      functionName: "createStream",
      args: [providerId, deposit, deposit, zeroAddress],
    });
    const receipt = await this.ctx.publicClient.waitForTransactionReceipt({ hash });
    const [created] = parseEventLogs({ abi: streamPayAbi, logs: receipt.logs, eventName: "StreamCreated" });
    return created.args.streamId;
  }

  headers(streamId: bigint, body: string, extra: SignExtras = {}) {
    return createPaymentHeaders({
      signer: extra.signer ?? this.account,
      domain: this.ctx.domain,
      streamId,
      cumulative: extra.cumulative ?? this.acceptedOn(streamId),
      body,
      session: extra.session,
      nonce: extra.nonce,
      expiry: extra.expiry,
      now: this.clock(),
    });
  }

  async post(url: string, streamId: bigint | undefined, bodyObj: unknown, extra: SignExtras = {}) {
    const body = typeof bodyObj === "string" ? bodyObj : JSON.stringify(bodyObj);
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (streamId !== undefined) Object.assign(headers, await this.headers(streamId, body, extra));
    return fetch(url, { method: "POST", headers, body });
  }

  async closeWithReceipt(streamId: bigint, amount: bigint, signature: Hex) {
    const hash = await this.wallet.writeContract({ address: this.ctx.deployment.contracts.StreamPay.address, abi: streamPayAbi, functionName: "closeWithReceipt", args: [streamId, amount, signature] });
    return this.ctx.publicClient.waitForTransactionReceipt({ hash });
  }

  /** The sender's unilateral cancel. */
  async cancel(streamId: bigint) {
    const hash = await this.wallet.writeContract({
      address: this.ctx.deployment.contracts.StreamPay.address,
      abi: streamPayAbi,
      functionName: "cancelStream",
      args: [streamId],
    });
    const receipt = await this.ctx.publicClient.waitForTransactionReceipt({ hash });
    if (receipt.status !== "success") throw new Error(`cancelStream(${streamId}) reverted`);
    return receipt;
  }
}

/**
 * Waits until `amount` has streamed by the next block's time: a consumer closing with a receipt right after
 * the answer would otherwise pay only what whole chain seconds allow (the receipt is measured in ms).
 */
export async function waitStreamed(ctx: ChainContext, streamId: bigint, amount: bigint): Promise<void> {
  const address = ctx.deployment.contracts.StreamPay.address;
  const streamed = () =>
    ctx.publicClient.readContract({
      address,
      abi: streamPayAbi,
      functionName: "streamedAmountOf",
      args: [streamId],
      blockTag: "pending",
    });
  await waitFor(`stream ${streamId} to stream ${amount}`, async () => (await streamed()) >= amount, 30_000, 100);
}

/** Moves the chain's clock forward and mines a block at the new time (anvil). */
export async function increaseTime(ctx: ChainContext, seconds: number): Promise<void> {
  await ctx.publicClient.request({ method: "evm_increaseTime" as never, params: [toHex(seconds)] as never });
  await ctx.publicClient.request({ method: "evm_mine" as never, params: [] as never });
}

/** The latest block's timestamp (unix seconds). */
export async function chainNow(ctx: ChainContext): Promise<number> {
  return Number((await ctx.publicClient.getBlock({ blockTag: "latest" })).timestamp);
}

export async function streamView(ctx: ChainContext, streamId: bigint) {
  return ctx.publicClient.readContract({ address: ctx.deployment.contracts.StreamPay.address, abi: streamPayAbi, functionName: "getStreamView", args: [streamId] });
}

export async function claimable(ctx: ChainContext, account: Address, asset: Address = "0x0000000000000000000000000000000000000000") {
  return ctx.publicClient.readContract({ address: ctx.deployment.contracts.StreamPay.address, abi: streamPayAbi, functionName: "balanceOf", args: [account, asset] });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function chatBody(model: string, content = "hello there", extra: Record<string, unknown> = {}) {
  return { model, messages: [{ role: "user", content }], ...extra };
}

/** Reads an SSE chat-completions answer: the text, the last JSON chunk, and whether [DONE] came. */
export async function readSSE(res: Response) {
  const raw = await res.text();
  const events = raw.split("\n\n").filter((e) => e.startsWith("data: ")).map((e) => e.slice(6));
  const done = events.at(-1) === "[DONE]";
  const chunks = events.filter((e) => e !== "[DONE]").map((e) => JSON.parse(e) as Record<string, any>);
  const text = chunks.map((c) => c.choices?.[0]?.delta?.content ?? "").join("");
  return { text, last: chunks.at(-1)!, done, chunks };
}

export async function latestReceipt(agentUrl: string, consumer: Consumer, streamId: bigint, extra: SignExtras = {}) {
  const res = await fetch(`${agentUrl}/v1/receipts/latest`, { headers: await consumer.headers(streamId, "", extra) });
  if (res.status !== 200) throw new Error(`latest receipt: ${res.status} ${await res.text()}`);
  return (await res.json()).receipt as { streamId: string; amount: string; final: boolean; signature: Hex };
}

export async function finalReceipt(agentUrl: string, consumer: Consumer, streamId: bigint, extra: SignExtras = {}) {
  const res = await consumer.post(`${agentUrl}/v1/receipts/final`, streamId, "", extra);
  if (res.status !== 200) throw new Error(`final receipt: ${res.status} ${await res.text()}`);
  return (await res.json()).receipt as { streamId: string; amount: string; final: boolean; signature: Hex };
}

/** BalanceWithdrawn events of `account` since the deployment. */
export async function withdrawals(ctx: ChainContext, account: Address) {
  const logs = await ctx.publicClient.getContractEvents({
    address: ctx.deployment.contracts.StreamPay.address,
    abi: streamPayAbi,
    eventName: "BalanceWithdrawn",
    args: { account },
    fromBlock: 0n,
  });
  return logs.map((l) => l.args);
}
