/**
 * "Indexed up to the chain head": Ponder's /ready turns 200 when the backfill is done, but on a local
 * chain the last 30 blocks are indexed afterwards, block by block. So readiness also needs /status
 * (the newest block Ponder has indexed) to have reached the RPC's head as it was when we asked.
 */
import { rpcClient } from "./chain.ts";

export type Readiness = { ready: boolean; backfilled: boolean; indexedBlock: number | undefined; head: number };

export async function checkReadiness({ indexerUrl, rpcUrl, chainName }: { indexerUrl: string; rpcUrl: string; chainName: string }): Promise<Readiness> {
  const head = Number(await rpcClient(rpcUrl).getBlockNumber());
  let backfilled = false;
  let indexedBlock: number | undefined;
  try {
    backfilled = (await fetch(`${indexerUrl}/ready`)).status === 200;
    const response = await fetch(`${indexerUrl}/status`);
    if (response.ok) {
      const status = (await response.json()) as Record<string, { block?: { number?: number } } | undefined>;
      indexedBlock = status[chainName]?.block?.number;
    }
  } catch {
    /* not listening yet */
  }
  return { ready: backfilled && indexedBlock !== undefined && indexedBlock >= head, backfilled, indexedBlock, head };
}

/** Polls until the indexer has indexed the head the RPC reported at the time of each poll. */
export async function waitUntilIndexed(
  options: { indexerUrl: string; rpcUrl: string; chainName: string; timeoutMs?: number; intervalMs?: number },
  onProgress?: (r: Readiness) => void,
): Promise<Readiness> {
  const deadline = Date.now() + (options.timeoutMs ?? 300_000);
  let last: Readiness | undefined;
  for (;;) {
    try {
      last = await checkReadiness(options);
      if (last.ready) return last;
      onProgress?.(last);
    } catch (error) {
      onProgress?.({ ready: false, backfilled: false, indexedBlock: undefined, head: -1 });
      if (Date.now() > deadline) throw error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `Indexer at ${options.indexerUrl} not ready after ${options.timeoutMs ?? 300_000} ms (ready=${last?.backfilled}, indexed block ${last?.indexedBlock ?? "none"}, head ${last?.head}).`,
      );
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 250));
  }
}
