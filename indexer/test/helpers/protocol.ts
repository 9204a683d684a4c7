/**
 * Drives the real contracts on a test chain with the well-known anvil dev keys (local chains only; the
 * keys are never printed). Every call waits for its receipt and throws if the transaction reverted.
 */
import {
  type Abi,
  type Address,
  type Hex,
  type PublicClient,
  type TransactionReceipt,
  createPublicClient,
  createWalletClient,
  http,
  maxUint256,
  parseEventLogs,
  zeroAddress,
} from "viem";
import { type PrivateKeyAccount, privateKeyToAccount } from "viem/accounts";
import { type Deployment, computeRegistryAbi, localChain, signReceipt, streamPayAbi, testTokenAbi } from "@clawcompute/sdk";
import { DEV_PRIVATE_KEYS } from "@clawcompute/scripts/lib/devchain.ts";

export const NATIVE: Address = zeroAddress;

type Call = { address: Address; abi: Abi; functionName: string; args?: readonly unknown[]; value?: bigint };

export class Protocol {
  readonly client: PublicClient;
  readonly streamPay: Address;
  readonly registry: Address;
  readonly testUsd: Address;
  readonly accounts: PrivateKeyAccount[];
  private readonly approved = new Set<number>();

  constructor(
    readonly rpcUrl: string,
    readonly deployment: Deployment,
  ) {
    this.client = createPublicClient({ chain: localChain, transport: http(rpcUrl), pollingInterval: 50 }) as PublicClient;
    this.streamPay = deployment.contracts.StreamPay.address;
    this.registry = deployment.contracts.ComputeRegistry.address;
    if (!deployment.contracts.TestUSD) throw new Error("the test deployment has no TestUSD");
    this.testUsd = deployment.contracts.TestUSD.address;
    this.accounts = DEV_PRIVATE_KEYS.map((key) => privateKeyToAccount(key));
  }

  address(i: number): Address {
    return this.accounts[i]!.address;
  }

  wallet(i: number) {
    return createWalletClient({ account: this.accounts[i]!, chain: localChain, transport: http(this.rpcUrl), pollingInterval: 50 });
  }

  async write(i: number, call: Call): Promise<TransactionReceipt> {
    const hash = await this.wallet(i).writeContract({
      address: call.address,
      abi: call.abi,
      functionName: call.functionName,
      args: call.args ?? [],
      value: call.value,
    } as never);
    const receipt = await this.client.waitForTransactionReceipt({ hash, pollingInterval: 50 });
    if (receipt.status !== "success") throw new Error(`${call.functionName} reverted (${hash})`);
    return receipt;
  }

  async registerProvider(
    i: number,
    p: { model: string; pricePerSecond: bigint; asset: Address; endpoint?: string; serviceType?: string; stake?: bigint },
  ): Promise<bigint> {
    const receipt = await this.write(i, {
      address: this.registry,
      abi: computeRegistryAbi,
      functionName: "registerProvider",
      args: [p.model, p.pricePerSecond, p.endpoint ?? `http://127.0.0.1:1/${p.model}`, p.serviceType ?? "llm", p.asset],
      value: p.stake ?? 0n,
    });
    const [event] = parseEventLogs({ abi: computeRegistryAbi, logs: receipt.logs, eventName: "ProviderRegistered" });
    return event!.args.providerId;
  }

  async updateProvider(i: number, providerId: bigint, pricePerSecond: bigint, endpoint: string, active: boolean) {
    return this.write(i, { address: this.registry, abi: computeRegistryAbi, functionName: "updateProvider", args: [providerId, pricePerSecond, endpoint, active] });
  }

  async addStake(i: number, providerId: bigint, value: bigint) {
    return this.write(i, { address: this.registry, abi: computeRegistryAbi, functionName: "addStake", args: [providerId], value });
  }

  async withdrawStake(i: number, providerId: bigint) {
    return this.write(i, { address: this.registry, abi: computeRegistryAbi, functionName: "withdrawStake", args: [providerId] });
  }

  async rate(i: number, streamId: bigint, score: number) {
    return this.write(i, { address: this.registry, abi: computeRegistryAbi, functionName: "rateProvider", args: [streamId, score] });
  }

  /** Mints TestUSD to account i and approves StreamPay once. */
  async fundUsd(i: number, amount: bigint) {
    await this.write(0, { address: this.testUsd, abi: testTokenAbi, functionName: "mint", args: [this.address(i), amount] });
    if (!this.approved.has(i)) {
      await this.write(i, { address: this.testUsd, abi: testTokenAbi, functionName: "approve", args: [this.streamPay, maxUint256] });
      this.approved.add(i);
    }
  }

  async providerAsset(providerId: bigint): Promise<Address> {
    const [, asset] = await this.client.readContract({ address: this.registry, abi: computeRegistryAbi, functionName: "payoutOf", args: [providerId] });
    return asset;
  }

  async createStream(i: number, providerId: bigint, deposit: bigint): Promise<bigint> {
    const asset = await this.providerAsset(providerId);
    const receipt = await this.write(i, {
      address: this.streamPay,
      abi: streamPayAbi,
      functionName: "createStream",
      args: [providerId, maxUint256 >> 1n, deposit],
      value: asset === NATIVE ? deposit : 0n,
    });
    const [event] = parseEventLogs({ abi: streamPayAbi, logs: receipt.logs, eventName: "StreamCreated" });
    return event!.args.streamId;
  }

  async topUp(i: number, streamId: bigint, amount: bigint) {
    const s = await this.client.readContract({ address: this.streamPay, abi: streamPayAbi, functionName: "getStreamView", args: [streamId] });
    return this.write(i, {
      address: this.streamPay,
      abi: streamPayAbi,
      functionName: "topUp",
      args: [streamId, amount],
      value: s.asset === NATIVE ? amount : 0n,
    });
  }

  async withdraw(i: number, streamId: bigint) {
    return this.write(i, { address: this.streamPay, abi: streamPayAbi, functionName: "withdrawFromStream", args: [streamId] });
  }

  async cancel(i: number, streamId: bigint) {
    return this.write(i, { address: this.streamPay, abi: streamPayAbi, functionName: "cancelStream", args: [streamId] });
  }

  /** The sender (account `sender`) closes with a final receipt signed by the provider (account `provider`). */
  async closeWithReceipt(sender: number, provider: number, streamId: bigint, amount: bigint) {
    const signature: Hex = await signReceipt(this.accounts[provider]!, { chainId: this.deployment.chainId, streamPay: this.streamPay }, {
      streamId,
      amount,
      final: true,
    });
    return this.write(sender, { address: this.streamPay, abi: streamPayAbi, functionName: "closeWithReceipt", args: [streamId, amount, signature] });
  }

  async closeByRecipient(i: number, streamId: bigint, amount: bigint) {
    return this.write(i, { address: this.streamPay, abi: streamPayAbi, functionName: "closeByRecipient", args: [streamId, amount] });
  }

  async batchUpdate(i: number, streamIds: bigint[]) {
    return this.write(i, { address: this.streamPay, abi: streamPayAbi, functionName: "batchUpdateStreams", args: [streamIds] });
  }

  async withdrawBalance(i: number, asset: Address) {
    return this.write(i, { address: this.streamPay, abi: streamPayAbi, functionName: "withdrawBalance", args: [asset, this.address(i)] });
  }

  async mine(blocks = 1) {
    await this.client.request({ method: "anvil_mine" as never, params: [`0x${blocks.toString(16)}`] as never });
  }

  async blockTimestamp(): Promise<bigint> {
    return (await this.client.getBlock()).timestamp;
  }

  /** Resolves once the chain's latest block is at or past `timestamp` (mining a block when it is time). */
  async waitUntilChainTime(timestamp: bigint) {
    for (;;) {
      const now = BigInt(Math.floor(Date.now() / 1000));
      if (now >= timestamp) break;
      await new Promise((r) => setTimeout(r, Number(timestamp - now) * 1000 - (Date.now() % 1000) + 20));
    }
    await this.mine(1);
  }
}
