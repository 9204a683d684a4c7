/** Chains ClawCompute runs on: the local dev chain first, then the configured testnets. */
import type { Chain } from "viem";
import { baseSepolia, bscTestnet, foundry, opBNBTestnet } from "viem/chains";

/** The local dev chain (anvil or `hardhat node`), chain id 31337. */
export const localChain: Chain = { ...foundry, name: "ClawCompute Local" };

export const supportedChains: Readonly<Record<number, Chain>> = {
  [localChain.id]: localChain,
  [bscTestnet.id]: bscTestnet, // 97: the original system's chain
  [opBNBTestnet.id]: opBNBTestnet, // 5611
  [baseSepolia.id]: baseSepolia, // 84532
};

/** The chain with id `chainId`, its RPC URL replaced by `rpcUrl` when given. */
export function chainById(chainId: number, rpcUrl?: string): Chain {
  const chain = supportedChains[chainId];
  if (!chain) {
    const known = Object.values(supportedChains).map((c) => `${c.id} (${c.name})`).join(", ");
    throw new Error(`Chain ${chainId} is not supported. Supported chains: ${known}.`);
  }
  if (!rpcUrl) return chain;
  return { ...chain, rpcUrls: { ...chain.rpcUrls, default: { http: [rpcUrl] } } };
}

export function isLocalChain(chainId: number): boolean {
  return chainId === localChain.id;
}
