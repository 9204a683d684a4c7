/**
 * The consumer's side of the chain: clients, the deployment, asset metadata, and transactions whose gas is
 * counted from their receipts (gasUsed × effectiveGasPrice, plus the L1 data fee on OP-stack chains).
 */
import { type Address, type Hash, type TransactionReceipt, zeroAddress } from "viem";
import { type Clients, isNativeAsset, testTokenAbi } from "@clawcompute/sdk";

export { type Clients, describeError, makeClients, resolveAsset, revertName } from "@clawcompute/sdk";

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
  /** Block to simulate against: "pending" when the outcome depends on the time of the next block. */
  blockTag: "latest" | "pending" = "latest",
): Promise<{ receipt: TransactionReceipt; result: unknown }> {
  const { request, result } = await clients.public.simulateContract({ account: clients.wallet.account, blockTag, ...(call as object) } as never);
  const hash = await clients.wallet.writeContract(request as never);
  const receipt = await clients.public.waitForTransactionReceipt({ hash });
  gas.add(what, receipt);
  if (receipt.status !== "success") throw new Error(`${what} transaction ${hash} reverted`);
  return { receipt, result };
}
