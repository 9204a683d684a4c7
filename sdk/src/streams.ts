/** The stream formulas of StreamPay (contracts/src/libraries/StreamMath.sol), in TypeScript. */

/** On-chain status codes of `StreamStatus` (DataTypes.sol). */
export const StreamStatusCode = { None: 0, Open: 1, Settled: 2, Cancelled: 3, Closed: 4, Cancelling: 5 } as const;
export type StreamStatusName = keyof typeof StreamStatusCode;

/** The status name of an on-chain status code; throws on a code this SDK does not know. */
export function streamStatusName(code: number): StreamStatusName {
  const name = (Object.keys(StreamStatusCode) as StreamStatusName[]).find((k) => StreamStatusCode[k] === code);
  if (!name) throw new RangeError(`Unknown stream status code ${code}`);
  return name;
}

/**
 * A stream's status as people read it. An open stream past its stop time is "depleted" (either party may
 * still close it); past stop time + grace period it is "abandoned" (anyone may settle it by time).
 */
export type StreamState = "open" | "depleted" | "abandoned" | "cancelling" | "settled" | "cancelled" | "closed";

export const KEEPER_FEE_BPS = 10n;

/**
 * What time allows: streamed(t) = rate x (min(t, stop, end) - start) for t > start, else 0, where `end` is
 * when a cancel or close stopped the stream (0 while open). A cap, not what the recipient was paid.
 */
export function streamedAt(ratePerSecond: bigint, startTime: bigint, stopTime: bigint, now: bigint, endTime = 0n): bigint {
  if (now <= startTime) return 0n;
  let end = now < stopTime ? now : stopTime;
  if (endTime !== 0n && endTime < end) end = endTime;
  return ratePerSecond * (end - startTime);
}

export function depositedOf(ratePerSecond: bigint, startTime: bigint, stopTime: bigint): bigint {
  return ratePerSecond * (stopTime - startTime);
}

/** What a voucher for `cumulative` pays the recipient now: min(cumulative, streamed) - withdrawn, or 0. */
export function withdrawableWith(cumulative: bigint, streamed: bigint, withdrawn: bigint): bigint {
  const total = cumulative < streamed ? cumulative : streamed;
  return total > withdrawn ? total - withdrawn : 0n;
}

export function keeperReward(settledAmount: bigint): bigint {
  return (settledAmount * KEEPER_FEE_BPS) / 10_000n;
}

/** From this time on an open stream is abandoned: anyone may settle it by time. */
export function abandonedAt(stopTime: bigint, gracePeriod: bigint): bigint {
  return stopTime + gracePeriod;
}

/** Until this time the recipient may answer a cancel (made at `endTime`) with its best voucher. */
export function challengeEndsAt(endTime: bigint, challengeWindow: bigint): bigint {
  return endTime + challengeWindow;
}

/**
 * The status of a stream as of `now` (unix seconds), from its stored status code and stop time. Without
 * `gracePeriod` an open stream is never reported abandoned.
 */
export function streamStateAt(statusCode: number, stopTime: bigint, now: bigint, gracePeriod?: bigint): StreamState {
  switch (streamStatusName(statusCode)) {
    case "Open":
      if (gracePeriod !== undefined && now >= stopTime + gracePeriod) return "abandoned";
      return now >= stopTime ? "depleted" : "open";
    case "Cancelling":
      return "cancelling";
    case "Settled":
      return "settled";
    case "Cancelled":
      return "cancelled";
    case "Closed":
      return "closed";
    default:
      throw new RangeError(`Unknown stream status code ${statusCode}`);
  }
}
