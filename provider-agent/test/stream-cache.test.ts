/**
 * StreamCache against a scripted RPC (the outside world): a stream created while a sync is already
 * reading the chain must still be found by the request that names it; the metered-stream events (the
 * named session key, a sender's cancel and its challenge window, voucher withdrawals) are followed.
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
const sessionKey = "0x90F79bf6EB2c4f870365E785982E1f101E93b906" as const;

function log(block: bigint, logIndex: number, topics: unknown, data: `0x${string}`): Log {
  return {
    address: streamPay,
    topics: topics as Log["topics"],
    data,
    blockNumber: block,
    logIndex,
    blockHash: `0x${"11".repeat(32)}`,
    transactionHash: `0x${"22".repeat(32)}`,
    transactionIndex: 0,
    removed: false,
  } as Log;
}

/** Stream 7: rate 1000/s from 100 to 200 (deposit 100,000), the session key named at creation. */
function streamCreatedLog(block: bigint): Log {
  const topics = encodeEventTopics({ abi: streamPayAbi, eventName: "StreamCreated", args: { streamId: 7n, sender, recipient } });
  const data = encodeAbiParameters(
    ["uint256", "address", "uint256", "uint256", "uint256", "uint256", "uint256", "address"].map((type) => ({ type })),
    [1n, zeroAddress, 1000n, 100n, 200n, 100_000n, 0n, sessionKey],
  );
  return log(block, 0, topics, data);
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

describe("StreamCache events of metered streams", () => {
  it("keeps the named session key, voucher withdrawals, and a cancel's end time and challenge window", async () => {
    const withdrawn = log(
      12n,
      0,
      encodeEventTopics({
        abi: streamPayAbi,
        eventName: "StreamWithdrawn",
        args: { streamId: 7n, recipient, caller: recipient },
      }),
      encodeAbiParameters([{ type: "uint256" }, { type: "uint256" }], [30_000n, 45_000n]),
    );
    // Cancelled at 150: 50 s streamed (50,000), so 50,000 went back to the sender; the window ends at 270.
    const cancelling = log(
      13n,
      0,
      encodeEventTopics({ abi: streamPayAbi, eventName: "StreamCancelling", args: { streamId: 7n, sender } }),
      encodeAbiParameters([{ type: "uint256" }, { type: "uint256" }], [50_000n, 270n]),
    );
    const events: string[] = [];
    const client = {
      getBlockNumber: async () => 13n,
      getBlock: async () => ({ timestamp: BigInt(Math.floor(Date.now() / 1000)) }),
      getLogs: async () => [streamCreatedLog(11n), withdrawn, cancelling],
    };
    const cache = new StreamCache({
      client: client as never,
      streamPay,
      registry,
      fromBlock: 11n,
      providerId: 1n,
      pollIntervalMs: 60_000,
      blockRange: 1000,
      log: pino({ level: "silent" }),
      onStreamEvent: (_s, event) => events.push(event),
    });
    await cache.sync();
    const cancelled = { status: "cancelling", endTime: 150n, challengeEndsAt: 270n, deposited: 100_000n };
    expect(cache.get(7n)).toMatchObject({ sessionKey, withdrawn: 30_000n, ...cancelled });
    expect(events).toEqual(["created", "cancelling"]);
    cache.stop();
  });
});
