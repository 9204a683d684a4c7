/**
 * StreamPay's deploy-time durations, read from the contract itself (immutables, so one read per process):
 * the grace period after a stream's stop time (then an open stream is abandoned) and the challenge window
 * a recipient has to answer a cancel.
 */
import type { Context } from "ponder:registry";
import { streamPayAbi } from "@clawcompute/sdk";

export type StreamPayParameters = { gracePeriod: bigint; challengeWindow: bigint };

let cached: Promise<StreamPayParameters> | undefined;

export function streamPayParameters(context: Context): Promise<StreamPayParameters> {
  cached ??= (async () => {
    const address = context.contracts.StreamPay.address;
    const [gracePeriod, challengeWindow] = await Promise.all([
      context.client.readContract({ abi: streamPayAbi, address, functionName: "gracePeriod" }),
      context.client.readContract({ abi: streamPayAbi, address, functionName: "challengeWindow" }),
    ]);
    return { gracePeriod, challengeWindow };
  })().catch((error: unknown) => {
    cached = undefined; // a failed read (RPC hiccup) is retried by the next event, never remembered
    throw error;
  });
  return cached;
}
