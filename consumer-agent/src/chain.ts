/**
 * The consumer's side of the chain: clients, the deployment, asset metadata, and transactions whose gas is
 * counted from their receipts (gasUsed × effectiveGasPrice, plus the L1 data fee on OP-stack chains).
 */
import {
  type Account,
  type Address,
  BaseError,
  type Chain,
  ContractFunctionRevertedError,
  type Hash,
  type PublicClient,
  type TransactionReceipt,
  type Transport,
  type WalletClient,
  createPublicClient,
  createWalletClient,
  http,
  webSocket,
  zeroAddress,
} from "viem";
import { type Deployment, chainById, isNativeAsset, testTokenAbi } from "@clawcompute/sdk";

export type Clients = {
  chain: Chain;
  public: PublicClient<Transport, Chain>;
  wallet: WalletClient<Transport, Chain, Account>;
};

export function makeClients(chainId: number, rpcUrl: string, account: Account): Clients {
  let chain: Chain;
  try {
    chain = chainById(chainId, rpcUrl);
  } catch {
    chain = { id: chainId, name: `chain-${chainId}`, nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 }, rpcUrls: { default: { http: [rpcUrl] } } };
  }
  const transport = rpcUrl.startsWith("ws") ? webSocket(rpcUrl) : http(rpcUrl, { retryCount: 2, timeout: 20_000 });
  return {
    chain,
    public: createPublicClient({ chain, transport }) as PublicClient<Transport, Chain>,
    wallet: createWalletClient({ chain, transport, account }),
  };
}

/** "native" → address(0); a deployment contract name → its address; an address → itself. */
export function resolveAsset(asset: string, deployment: Deployment, optionName = "CONSUMER_ASSET"): Address {
  if (asset === "native") return zeroAddress;
  if (asset.startsWith("0x")) return asset as Address;
  const contract = (deployment.contracts as Record<string, { address: Address } | undefined>)[asset];
  if (!contract) {
    throw new Error(`${optionName}=${asset}: no contract named ${asset} in deployments/${deployment.chainId}.json (known: ${Object.keys(deployment.contracts).join(", ")}). Use "native", a known name, or an ERC-20 address.`);
  }
  return contract.address;
}

export type AssetInfo = { address: Address; symbol: string; decimals: number; native: boolean };

export async function assetInfo(clients: Clients, asset: Address): Promise<AssetInfo> {
  if (isNativeAsset(asset)) {
    return { address: zeroAddress, symbol: clients.chain.nativeCurrency.symbol, decimals: clients.chain.nativeCurrency.decimals, native: true };
  }
  const [symbol, decimals] = await Promise.all([
    clients.public.readContract({ address: asset, abi: testTokenAbi, functionName: "symbol" }).catch(() => "TOKEN"),
    clients.public.readContract({ address: asset, abi: testTokenAbi, functionName: "decimals" }).catch(() => 18),
  ]);
  return { address: asset, symbol: String(symbol), decimals: Number(decimals), native: false };
}

/** A short, human reason from a viem error (the custom error name and args when the contract reverted). */
export function describeError(error: unknown): string {
  if (error instanceof BaseError) {
    const revert = error.walk((e) => e instanceof ContractFunctionRevertedError);
    if (revert instanceof ContractFunctionRevertedError && revert.data?.errorName) {
      const args = (revert.data.args ?? []).map((a) => String(a)).join(", ");
      return `${revert.data.errorName}(${args})`;
    }
    return error.shortMessage;
  }
  return error instanceof Error ? error.message : String(error);
}

export function revertName(error: unknown): string | undefined {
  if (!(error instanceof BaseError)) return undefined;
  const revert = error.walk((e) => e instanceof ContractFunctionRevertedError);
  return revert instanceof ContractFunctionRevertedError ? revert.data?.errorName : undefined;
}

/** Gas paid by one transaction, in native-coin wei: execution plus the L1 data fee where the chain has one. */
export function gasCostOf(receipt: TransactionReceipt): bigint {
  const l1Fee = (receipt as TransactionReceipt & { l1Fee?: bigint | null }).l1Fee ?? 0n;
  return receipt.gasUsed * receipt.effectiveGasPrice + l1Fee;
}

/** Running gas total of everything one consumer operation sent. */
export class GasMeter {
  gasUsed = 0n;
  cost = 0n;
  readonly transactions: Array<{ what: string; hash: Hash; gasUsed: bigint; cost: bigint }> = [];

  add(what: string, receipt: TransactionReceipt): void {
    const cost = gasCostOf(receipt);
    this.gasUsed += receipt.gasUsed;
    this.cost += cost;
    this.transactions.push({ what, hash: receipt.transactionHash, gasUsed: receipt.gasUsed, cost });
  }
}

/**
 * Sends a contract call (simulated first, so a revert is reported with its reason before anything is
 * sent), waits for the receipt, and counts its gas. Throws when it reverts.
 */
export async function sendContract(
  clients: Clients,
  gas: GasMeter,
  what: string,
  call: { address: Address; abi: readonly unknown[]; functionName: string; args?: readonly unknown[]; value?: bigint },
): Promise<{ receipt: TransactionReceipt; result: unknown }> {
  const { request, result } = await clients.public.simulateContract({ account: clients.wallet.account, ...(call as object) } as never);
  const hash = await clients.wallet.writeContract(request as never);
  const receipt = await clients.public.waitForTransactionReceipt({ hash });
  gas.add(what, receipt);
  if (receipt.status !== "success") throw new Error(`${what} transaction ${hash} reverted`);
  return { receipt, result };
}
