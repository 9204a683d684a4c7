/** viem clients for a ClawCompute chain, and the small helpers every service needs around them. */
import {
  type Account,
  type Address,
  BaseError,
  type Chain,
  ContractFunctionRevertedError,
  type PublicClient,
  type Transport,
  type WalletClient,
  createPublicClient,
  createWalletClient,
  http,
  webSocket,
  zeroAddress,
} from "viem";
import { chainById } from "./chains.ts";
import type { Deployment } from "./deployments.ts";

export type Clients = {
  chain: Chain;
  public: PublicClient<Transport, Chain>;
  wallet: WalletClient<Transport, Chain, Account>;
};

/** A supported chain with `rpcUrl`, or, for an unlisted chain id, a minimal definition that works with it. */
export function chainFor(chainId: number, rpcUrl: string): Chain {
  try {
    return chainById(chainId, rpcUrl);
  } catch {
    return { id: chainId, name: `chain-${chainId}`, nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 }, rpcUrls: { default: { http: [rpcUrl] } } };
  }
}

/** Public and wallet clients on one transport (WebSocket for ws:// URLs; viem's transports retry). */
export function makeClients(chainId: number, rpcUrl: string, account: Account, options: { retryCount?: number } = {}): Clients {
  const chain = chainFor(chainId, rpcUrl);
  const transport = rpcUrl.startsWith("ws") ? webSocket(rpcUrl) : http(rpcUrl, { retryCount: options.retryCount ?? 3, timeout: 20_000 });
  return {
    chain,
    public: createPublicClient({ chain, transport }) as PublicClient<Transport, Chain>,
    wallet: createWalletClient({ chain, transport, account }),
  };
}

/**
 * A payment asset as configured: "native" → address(0); the name of a contract in the deployment file
 * (e.g. "TestUSD") → its address; an address → itself. `optionName` names the setting in the error.
 */
export function resolveAsset(asset: string, deployment: Deployment, optionName: string): Address {
  if (asset === "native") return zeroAddress;
  if (asset.startsWith("0x")) return asset as Address;
  const contract = (deployment.contracts as Record<string, { address: Address } | undefined>)[asset];
  if (!contract) {
    throw new Error(`${optionName}=${asset}: no contract named ${asset} in deployments/${deployment.chainId}.json (known: ${Object.keys(deployment.contracts).join(", ")}). Use "native", a known name, or an ERC-20 address.`);
  }
  return contract.address;
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

/** The custom error name of a contract revert, if that is what `error` is. */
export function revertName(error: unknown): string | undefined {
  if (!(error instanceof BaseError)) return undefined;
  const revert = error.walk((e) => e instanceof ContractFunctionRevertedError);
  return revert instanceof ContractFunctionRevertedError ? revert.data?.errorName : undefined;
}
