/**
 * The gate's credit rule with exact numbers: what a request may reserve, and why one is refused.
 * Stream: 1000 units/s from t = 1000 to 1100 (deposit 100,000); credit 5,000 (5 s); a request needs 1,000.
 */
import { describe, expect, it } from "vitest";
import { type CreditInput, assessCredit } from "../src/credit.ts";

const base: CreditInput = {
  ratePerSecond: 1000n,
  startTime: 1000n,
  stopTime: 1100n,
  deposited: 100_000n,
  withdrawn: 0n,
  billed: 0n,
  inFlight: 0n,
  best: 0n,
  nowMs: 1_000_000,
  credit: 5_000n,
  needed: 1_000n,
  minRunwayMs: 1000,
};

describe("assessCredit", () => {
  it("a fresh stream extends one request of credit, nothing more", () => {
    expect(assessCredit(base)).toEqual({ ok: true, reservation: 5_000n, available: 5_000n, streamed: 0n, secured: 0n });
  });

  it("a second request in parallel finds the credit reserved: refused for credit, not for time", () => {
    const refused = { ok: false, reason: "credit", available: 0n, streamed: 0n, secured: 0n };
    expect(assessCredit({ ...base, inFlight: 5_000n })).toEqual(refused);
    // What is left after a smaller reservation is reserved by the next one.
    expect(assessCredit({ ...base, inFlight: 3_500n })).toMatchObject({ ok: true, reservation: 1_500n });
  });

  it("sequential requests with voucher = last receipt get the full credit again", () => {
    // 4 s billed and signed for; 10 s streamed.
    expect(assessCredit({ ...base, billed: 4_000n, best: 4_000n, nowMs: 1_010_500 })).toEqual({
      ok: true,
      reservation: 5_000n,
      available: 5_000n,
      streamed: 10_000n,
      secured: 4_000n,
    });
  });

  it("runway saved while idle funds a burst once a voucher covers it", () => {
    // 60 s streamed, a voucher for 30,000 signed ahead, 20,000 billed: 15,000 available, 5,000 per request.
    const burst = { ...base, billed: 20_000n, best: 30_000n, nowMs: 1_060_000 };
    expect(assessCredit(burst)).toMatchObject({ ok: true, reservation: 5_000n, available: 15_000n, secured: 30_000n });
    expect(assessCredit({ ...burst, inFlight: 10_000n })).toMatchObject({ ok: true, reservation: 5_000n });
    expect(assessCredit({ ...burst, inFlight: 15_000n })).toMatchObject({ ok: false, reason: "credit" });
  });

  it("when only chain time is short it says when enough will have streamed", () => {
    // 8,000 billed and signed for, but at t = 1002.9 only 2,000 has streamed (whole chain seconds):
    // 2,000 + 5,000 - 8,000 < 1,000. Streamed must reach 8,000 + 1,000 - 5,000 = 4,000: at t = 1004.
    expect(assessCredit({ ...base, billed: 8_000n, best: 8_000n, nowMs: 1_002_900 })).toEqual({
      ok: false,
      reason: "chain_time",
      retryAfterSeconds: 2,
      available: -1_000n,
      streamed: 2_000n,
      secured: 2_000n,
    });
    // At t = 1004 it passes.
    const later = assessCredit({ ...base, billed: 8_000n, best: 8_000n, nowMs: 1_004_000 });
    expect(later).toMatchObject({ ok: true, reservation: 1_000n });
    // A voucher too low for that target is a credit problem, not a time one.
    const low = assessCredit({ ...base, billed: 8_000n, best: 3_999n, nowMs: 1_002_900 });
    expect(low).toMatchObject({ ok: false, reason: "credit" });
  });

  it("a deposit used up by what was billed and reserved is refused for the deposit", () => {
    const billed = assessCredit({ ...base, billed: 99_500n, best: 99_500n, nowMs: 1_098_000 });
    expect(billed).toMatchObject({ ok: false, reason: "deposit", available: 500n });
    const reserved = assessCredit({ ...base, deposited: 3_000n, stopTime: 1003n, inFlight: 2_500n });
    expect(reserved).toMatchObject({ ok: false, reason: "deposit" });
  });

  it("no request starts within the minimum runway of the stop time, and none runs past it", () => {
    expect(assessCredit({ ...base, nowMs: 1_099_500 })).toMatchObject({ ok: false, reason: "stop_time" });
    const near = assessCredit({ ...base, nowMs: 1_097_000, best: 90_000n, billed: 0n });
    expect(near).toMatchObject({ ok: true, reservation: 3_000n });
  });

  it("what was already paid on-chain counts even when the best voucher no longer does", () => {
    // The key that signed the best voucher expired (best = 0 passed), 3,000 was withdrawn before that.
    const paid = assessCredit({ ...base, withdrawn: 3_000n, billed: 3_000n, nowMs: 1_010_000 });
    expect(paid).toMatchObject({ ok: true, secured: 3_000n, reservation: 5_000n });
  });

  it("holds billed + in flight within secured + credit and the deposit, whatever the order of events", () => {
    // A seeded random walk: requests start, finish (charged up to their reservation), vouchers follow
    // receipts with some lag, time passes. At every admission the bound must hold afterwards.
    let seed = 42;
    const rand = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    for (let run = 0; run < 200; run++) {
      let nowMs = 1_000_000;
      let billed = 0n;
      let best = 0n;
      const running: bigint[] = [];
      for (let step = 0; step < 60; step++) {
        nowMs += Math.floor(rand() * 1500);
        const r = rand();
        if (r < 0.5) {
          const inFlight = running.reduce((a, b) => a + b, 0n);
          const d = assessCredit({ ...base, billed, best, inFlight, nowMs });
          if (d.ok) {
            running.push(d.reservation);
            expect(billed + inFlight + d.reservation).toBeLessThanOrEqual(d.secured + base.credit);
            expect(billed + inFlight + d.reservation).toBeLessThanOrEqual(base.deposited);
          }
        } else if (r < 0.85 && running.length) {
          const reservation = running.splice(Math.floor(rand() * running.length), 1)[0];
          billed += (reservation * BigInt(Math.floor(rand() * 1001))) / 1000n;
        } else {
          best = billed - (billed * BigInt(Math.floor(rand() * 3))) / 10n; // up to 20 % behind
        }
      }
    }
  });
});
