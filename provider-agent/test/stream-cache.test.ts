/**
 * StreamCache against a scripted RPC (the outside world): a stream created while a sync is already
 * reading the chain must still be found by the request that names it.
 */
import { describe, expect, it } from "vitest";
import { encodeAbiParameters, encodeEventTopics, type Log, zeroAddress } from "viem";
import pino from "pino";
import { streamPayAbi } from "@clawcompute/sdk";
import { StreamCache } from "../src/chain.ts";

const streamPay = "0x5FbDB2315678afecb367f032d93F642f64180aa3" as const;
const registry = "0xa16E02E87b7454126E5E10d957A927A7F5B5d2be" as const;
const sender = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC" as const;
const recipient = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8" as const;

function streamCreatedLog(block: bigint): Log {
  const topics = encodeEventTopics({ abi: streamPayAbi, eventName: "StreamCreated", args: { streamId: 7n, sender, recipient } });
  const data = encodeAbiParameters(
    [{ type: "uint256" }, { type: "address" }, { type: "uint256" }, { type: "uint256" }, { type: "uint256" }, { type: "uint256" }, { type: "uint256" }],
    [1n, zeroAddress, 1000n, 100n, 200n, 100_000n, 0n],
  );
  return { address: streamPay, topics: topics as Log["topics"], data, blockNumber: block, logIndex: 0, blockHash: `0x${"11".repeat(32)}`, transactionHash: `0x${"22".repeat(32)}`, transactionIndex: 0, removed: false } as Log;
}

describe("StreamCache.lookup", () => {
  it("catches up again when it joined a sync that started before the stream's block", async () => {
    let head = 9n;
    let releaseFirstSync: () => void = () => {};
    let getLogsCalls = 0;
    const client = {
      getBlockNumber: async () => head,
      getBlock: async () => ({ timestamp: BigInt(Math.floor(Date.now() / 1000)) }),
      getLogs: async ({ toBlock }: { toBlock: bigint }) => {
        getLogsCalls++;
        if (getLogsCalls === 2) await new Promise<void>((r) => (releaseFirstSync = r)); // a slow poll, in flight
        return toBlock >= 11n ? [streamCreatedLog(11n)] : [];
      },
    };
    const cache = new StreamCache({ client: client as never, streamPay, registry, fromBlock: 1n, providerId: 1n, pollIntervalMs: 60_000, blockRange: 1000, log: pino({ level: "silent" }) });
    await cache.sync(); // caught up to block 9
    head = 10n;
    const poll = cache.sync(); // a poll that read head 10 and is still fetching block 10's logs
    await new Promise((r) => setTimeout(r, 10));
    head = 11n; // the stream is created in block 11 meanwhile
    const found = cache.lookup(7n);
    await new Promise((r) => setTimeout(r, 10));
    releaseFirstSync();
    await poll;
    const stream = await found;
    expect(stream?.id).toBe(7n);
    expect(stream?.sender).toBe(sender);
    cache.stop();
  });
});
