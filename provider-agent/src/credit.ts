/**
 * How much a stream can pay for the next request: the gate's credit rule.
 *
 * On-chain the provider can collect, without the consumer's help, min(best voucher, streamed by time)
 * (plus anything already paid out). Beyond that it extends one request of credit: price x the longest a
 * request may run. So at every moment
 *
 *     billed + inFlight <= max(withdrawn, min(streamed, best)) + credit      (and <= deposited)
 *
 * where `billed` is the cumulative amount of the receipts issued and `inFlight` the reservations of the
 * running requests. A request is admitted only if what is left, `available`, covers the minimum runway,
 * and it reserves min(available, credit): it is stopped when its charge reaches that reservation (or when
 * the stream stops streaming, whichever comes first). Parallel
 * requests therefore cannot buy faster than the stream streams and the consumer signs; runway that streamed
 * while the consumer was idle funds a later burst once a voucher covers it.
 */
import { streamedAt } from "@clawcompute/sdk";

export type CreditInput = {
  ratePerSecond: bigint;
  startTime: bigint;
  stopTime: bigint;
  deposited: bigint;
  /** What the recipient side was already paid on-chain. */
  withdrawn: bigint;
  /** Cumulative amount of the receipts issued on the stream. */
  billed: bigint;
  /** Sum of the reservations of the stream's running requests. */
  inFlight: bigint;
  /** Cumulative amount of the best voucher that StreamPay would still accept (0 if none). */
  best: bigint;
  /** Chain time now, in ms. */
  nowMs: number;
  /** The credit the provider extends: price x the longest a request may run. */
  credit: bigint;
  /** The least a request must be able to use (the minimum runway, in asset units; > 0). */
  needed: bigint;
  /** The minimum runway in ms (a stream stopping sooner than this serves no more). */
  minRunwayMs: number;
};

export type CreditDecision = {
  /** Streamed by time as of now (whole chain seconds, as StreamPay computes it). */
  streamed: bigint;
  /** What the provider could collect on-chain now: max(withdrawn, min(streamed, best)). */
  secured: bigint;
  /**
   * What the next request may use: min(secured + credit, deposited) - billed - inFlight, and no more than
   * the serving time left before the stream's stop time (may be < 0).
   */
  available: bigint;
} & (
  | { ok: true; reservation: bigint }
  | {
      ok: false;
      /**
       * stop_time: the stream stops streaming within the minimum runway;
       * deposit: billed + inFlight leave too little of the deposit;
       * chain_time: the voucher would cover it, but not enough has streamed by time yet (retry later);
       * credit: the voucher plus the credit, minus billed and in flight, leave too little.
       */
      reason: "stop_time" | "deposit" | "chain_time" | "credit";
      /** chain_time: seconds until enough will have streamed. */
      retryAfterSeconds?: number;
    }
);

const min = (a: bigint, b: bigint) => (a < b ? a : b);

/** rate x ms / 1000, rounded down; 0 for ms <= 0. */
const forMs = (rate: bigint, ms: number) => (ms > 0 ? (rate * BigInt(Math.floor(ms))) / 1000n : 0n);

export function assessCredit(i: CreditInput): CreditDecision {
  const nowS = BigInt(Math.floor(i.nowMs / 1000));
  const streamed = streamedAt(i.ratePerSecond, i.startTime, i.stopTime, nowS);
  const fromVoucher = min(streamed, i.best);
  const secured = fromVoucher > i.withdrawn ? fromVoucher : i.withdrawn;
  const committed = i.billed + i.inFlight;
  const byVoucher = secured + i.credit - committed;
  const byDeposit = i.deposited - committed;
  const byStopTime = forMs(i.ratePerSecond, Number(i.stopTime) * 1000 - i.nowMs);
  const available = min(min(byVoucher, byDeposit), byStopTime);
  const base = { streamed, secured, available };

  if (Number(i.stopTime) * 1000 - i.nowMs < i.minRunwayMs) return { ...base, ok: false, reason: "stop_time" };
  if (byDeposit < i.needed) return { ...base, ok: false, reason: "deposit" };
  if (byVoucher < i.needed) {
    // Would the best voucher cover it once enough has streamed? Then only chain time is short: enough
    // will have streamed when streamed >= committed + needed - credit.
    const target = committed + i.needed - i.credit;
    if (target <= i.best) {
      const at = i.startTime + (target + i.ratePerSecond - 1n) / i.ratePerSecond;
      const wait = Number(at - nowS);
      return { ...base, ok: false, reason: "chain_time", retryAfterSeconds: wait > 1 ? wait : 1 };
    }
    return { ...base, ok: false, reason: "credit" };
  }
  return { ...base, ok: true, reservation: min(available, i.credit) };
}
