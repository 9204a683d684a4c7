import { describe, expect, it } from "vitest";
import {
  StreamStatusCode,
  abandonedAt,
  challengeEndsAt,
  depositedOf,
  keeperReward,
  streamStateAt,
  streamStatusName,
  streamedAt,
  withdrawableWith,
} from "./streams.ts";

describe("stream maths", () => {
  const rate = 7n;
  const start = 1_000n;
  const stop = 1_100n;

  it("streams nothing before or at the start, rate x elapsed while running, the deposit after the stop", () => {
    expect(streamedAt(rate, start, stop, 999n)).toBe(0n);
    expect(streamedAt(rate, start, stop, start)).toBe(0n);
    expect(streamedAt(rate, start, stop, 1_042n)).toBe(294n);
    expect(streamedAt(rate, start, stop, stop)).toBe(depositedOf(rate, start, stop));
    expect(streamedAt(rate, start, stop, 5_000n)).toBe(700n);
  });

  it("is non-decreasing in time", () => {
    let previous = 0n;
    for (let t = 900n; t < 1_200n; t += 3n) {
      const s = streamedAt(rate, start, stop, t);
      expect(s >= previous).toBe(true);
      previous = s;
    }
  });

  it("pays keepers 10 bps rounded down", () => {
    expect(keeperReward(10_000n)).toBe(10n);
    expect(keeperReward(9_999n)).toBe(9n);
    expect(keeperReward(999n)).toBe(0n);
  });

  it("reads an open stream past its stop time as depleted", () => {
    expect(streamStateAt(StreamStatusCode.Open, stop, stop - 1n)).toBe("open");
    expect(streamStateAt(StreamStatusCode.Open, stop, stop)).toBe("depleted");
    expect(streamStateAt(StreamStatusCode.Settled, stop, 0n)).toBe("settled");
    expect(streamStateAt(StreamStatusCode.Cancelled, stop, 0n)).toBe("cancelled");
    expect(streamStateAt(StreamStatusCode.Closed, stop, 0n)).toBe("closed");
    expect(() => streamStateAt(0, stop, 0n)).toThrow(/Unknown stream status/);
  });

  it("stops streaming at the end time a cancel or close set, and never later than the stop time", () => {
    expect(streamedAt(rate, start, stop, 5_000n, 1_010n)).toBe(70n);
    expect(streamedAt(rate, start, stop, 1_005n, 1_010n)).toBe(35n);
    expect(streamedAt(rate, start, stop, 5_000n, 2_000n)).toBe(700n);
    expect(streamedAt(rate, start, stop, 5_000n, 0n)).toBe(700n); // 0 = still open
  });

  it("pays min(voucher, streamed) minus what was already paid, never a negative amount", () => {
    expect(withdrawableWith(50n, 80n, 10n)).toBe(40n);
    expect(withdrawableWith(90n, 80n, 10n)).toBe(70n);
    expect(withdrawableWith(5n, 80n, 10n)).toBe(0n);
  });

  it("names every on-chain status, and reads an open stream as depleted and then abandoned", () => {
    expect(streamStatusName(StreamStatusCode.Cancelling)).toBe("Cancelling");
    expect(() => streamStatusName(9)).toThrow(/Unknown stream status code 9/);
    expect(streamStateAt(StreamStatusCode.Open, stop, 1_099n, 60n)).toBe("open");
    expect(streamStateAt(StreamStatusCode.Open, stop, 1_100n, 60n)).toBe("depleted");
    expect(streamStateAt(StreamStatusCode.Open, stop, abandonedAt(stop, 60n), 60n)).toBe("abandoned");
    expect(streamStateAt(StreamStatusCode.Open, stop, 9_999n)).toBe("depleted"); // no grace given
    expect(streamStateAt(StreamStatusCode.Cancelling, stop, 0n)).toBe("cancelling");
    expect(challengeEndsAt(1_050n, 120n)).toBe(1_170n);
  });
});
