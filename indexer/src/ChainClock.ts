/**
 * The chain's clock: every block from the indexer's start on (not only blocks with StreamPay events)
 * records its number and timestamp, so `stream_view` answers "as of now" at the chain's time even when
 * that time runs ahead of the wall clock (a local chain after a time warp) and no event has happened since.
 */
import { ponder } from "ponder:registry";
import { chainClock } from "ponder:schema";

ponder.on("ChainClock:block", async ({ event, context }) => {
  const values = { blockNumber: event.block.number, timestamp: event.block.timestamp };
  await context.db
    .insert(chainClock)
    .values({ chainId: context.chain.id, ...values })
    .onConflictDoUpdate(values);
});
