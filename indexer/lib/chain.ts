/**
 * What the launcher asks the chain: that it is the configured chain with the contracts deployed, a
 * fingerprint that changes when the chain is reset, and "anchors" (a finalized block's number and hash)
 * that prove Ponder's cached RPC data still belongs to this chain.
 */
import { type Hex, createPublicClient, http } from "viem";
import type { Deployment } from "@clawcompute/sdk";

/** Blocks Ponder treats as unfinalised on every chain this project supports (its default). */
export const FINALITY_BLOCKS = 30;

export type ChainFingerprint = {
  chainId: number;
  genesisHash: Hex;
  /** Hash of the block that deployed StreamPay: differs after a chain reset + redeploy. */
  deployBlockHash: Hex;
  streamPay: Hex;
};

export type Anchor = { number: number; hash: Hex };

export function rpcClient(rpcUrl: string) {
  return createPublicClient({ transport: http(rpcUrl, { retryCount: 2, timeout: 10_000 }) });
}

export type RpcClient = ReturnType<typeof rpcClient>;

/** Checks chain id and deployed code; returns the fingerprint. Throws a message that says what to do. */
export async function chainFingerprint(client: RpcClient, deployment: Deployment, rpcUrl: string): Promise<ChainFingerprint> {
  let chainId: number;
  try {
    chainId = await client.getChainId();
  } catch (error) {
    throw new Error(`Cannot reach the RPC at ${new URL(rpcUrl).host} (${(error as Error).message.split("\n")[0]}). Start the chain or set RPC_URL.`);
  }
  if (chainId !== deployment.chainId) {
    throw new Error(`The RPC at ${new URL(rpcUrl).host} is chain ${chainId}, but the deployment is for chain ${deployment.chainId}. Set CHAIN_ID/RPC_URL to match.`);
  }
  const { StreamPay } = deployment.contracts;
  const code = await client.getCode({ address: StreamPay.address });
  if (!code || code === "0x") {
    throw new Error(
      `No StreamPay contract at ${StreamPay.address} on chain ${chainId} (${new URL(rpcUrl).host}): the deployment file is stale. Deploy again (\`npm run deploy\`).`,
    );
  }
  const [genesis, deployBlock] = await Promise.all([
    client.getBlock({ blockNumber: 0n }),
    client.getBlock({ blockNumber: BigInt(StreamPay.blockNumber) }),
  ]);
  return { chainId, genesisHash: genesis.hash, deployBlockHash: deployBlock.hash, streamPay: StreamPay.address };
}

export function sameFingerprint(a: ChainFingerprint, b: ChainFingerprint): boolean {
  return (
    a.chainId === b.chainId &&
    a.genesisHash === b.genesisHash &&
    a.deployBlockHash === b.deployBlockHash &&
    a.streamPay.toLowerCase() === b.streamPay.toLowerCase()
  );
}

/** The newest block Ponder may have cached as final right now: head − finality. */
export async function currentAnchor(client: RpcClient): Promise<Anchor | undefined> {
  const head = Number(await client.getBlockNumber());
  const number = head - FINALITY_BLOCKS;
  if (number <= 0) return undefined;
  const block = await client.getBlock({ blockNumber: BigInt(number) });
  return { number, hash: block.hash };
}

/** Whether the chain still has `anchor` (same number, same hash). */
export async function anchorHolds(client: RpcClient, anchor: Anchor): Promise<boolean> {
  const head = Number(await client.getBlockNumber());
  if (head < anchor.number) return false;
  const block = await client.getBlock({ blockNumber: BigInt(anchor.number) });
  return block.hash === anchor.hash;
}
