import { describe, expect, it } from "vitest";
import { chargeForMs, depositFor, formatAmount, isNativeAsset, parseAmount, perHourToPerSecond, perSecondToPerHour } from "./units.ts";

describe("units", () => {
  it("converts per second to per hour exactly and back, rounding down", () => {
    expect(perSecondToPerHour(1_000_000_000_000n)).toBe(3_600_000_000_000_000n);
    expect(perHourToPerSecond(3_600_000_000_000_000n)).toBe(1_000_000_000_000n);
    expect(perHourToPerSecond(7199n)).toBe(1n); // never above the hourly price
  });

  it("rejects an hourly price below one unit per second with a message saying what to do", () => {
    expect(() => perHourToPerSecond(3599n)).toThrow(/at least 3600/);
  });

  it("charges price x milliseconds, rounded down so nobody pays for time not used", () => {
    expect(chargeForMs(1000n, 4200)).toBe(4200n); // 4.2 s at 1000/s
    expect(chargeForMs(3n, 1)).toBe(0n); // 0.003 rounds down
    expect(chargeForMs(3n, 999)).toBe(2n);
    expect(chargeForMs(1000n, 4200.9)).toBe(4200n);
    expect(chargeForMs(1000n, -5)).toBe(0n);
    expect(chargeForMs(10n ** 20n, 10n ** 9n)).toBe(10n ** 26n); // bigint inputs do not lose precision
  });

  it("sizes deposits and formats amounts", () => {
    expect(depositFor(100n, 3600)).toBe(360_000n);
    expect(formatAmount(1_500_000n, 6)).toBe("1.5");
    expect(parseAmount("0.36", 6)).toBe(360_000n);
    expect(isNativeAsset("0x0000000000000000000000000000000000000000")).toBe(true);
    expect(isNativeAsset("0x5FbDB2315678afecb367f032d93F642f64180aa3")).toBe(false);
  });
});
