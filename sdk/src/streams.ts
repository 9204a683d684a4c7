/** The stream formulas of StreamPay (contracts/src/libraries/StreamMath.sol), in TypeScript. */

/** On-chain status codes of `StreamStatus` (DataTypes.sol). */
export const StreamStatusCode = { None: 0, Open: 1, Settled: 2, Cancelled: 3, Closed: 4 } as const;

/** A stream's status as people read it: an open stream past its stop time is "depleted". */
export type StreamState = "open" | "depleted" | "settled" | "cancelled" | "closed";

export const KEEPER_FEE_BPS = 10n;

/** streamed(t) = rate x (min(t, stop) - start) for t > start, else 0 (seconds, asset units). */
export function streamedAt(ratePerSecond: bigint, startTime: bigint, stopTime: bigint, now: bigint): bigint {
  if (now <= startTime) return 0n;
  const end = now < stopTime ? now : stopTime;
  return ratePerSecond * (end - startTime);
}

export function depositedOf(ratePerSecond: bigint, startTime: bigint, stopTime: bigint): bigint {
  return ratePerSecond * (stopTime - startTime);
}

export function keeperReward(settledAmount: bigint): bigint {
  return (settledAmount * KEEPER_FEE_BPS) / 10_000n;
}

/** The status of a stream as of `now` (unix seconds), from its stored status code and stop time. */
export function streamStateAt(statusCode: number, stopTime: bigint, now: bigint): StreamState {
  switch (statusCode) {
    case StreamStatusCode.Open:
      return now >= stopTime ? "depleted" : "open";
    case StreamStatusCode.Settled:
      return "settled";
    case StreamStatusCode.Cancelled:
      return "cancelled";
    case StreamStatusCode.Closed:
      return "closed";
    default:
      throw new RangeError(`Unknown stream status code ${statusCode}`);
  }
}
