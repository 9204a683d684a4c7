/** Unit helpers. Amounts are bigint in the asset's smallest unit; prices are per second. */
import { type Address, formatUnits, parseUnits, zeroAddress } from "viem";

/** The payment-asset address that means "the chain's native coin". */
export const NATIVE_ASSET: Address = zeroAddress;

export const SECONDS_PER_HOUR = 3600n;

export function isNativeAsset(asset: Address): boolean {
  return asset.toLowerCase() === NATIVE_ASSET;
}

/** Price per hour from a price per second (exact). */
export function perSecondToPerHour(pricePerSecond: bigint): bigint {
  return pricePerSecond * SECONDS_PER_HOUR;
}

/**
 * Price per second from a price per hour, rounded down (so the hourly price is never exceeded).
 * Throws if the hourly price is below one unit per second, which the contracts cannot express.
 */
export function perHourToPerSecond(pricePerHour: bigint): bigint {
  const perSecond = pricePerHour / SECONDS_PER_HOUR;
  if (perSecond === 0n) {
    throw new RangeError(`A price of ${pricePerHour} units per hour is below 1 unit per second; raise it to at least ${SECONDS_PER_HOUR}.`);
  }
  return perSecond;
}

/**
 * What `ms` milliseconds of serving time cost at `pricePerSecond`: price x time, rounded down,
 * so a consumer never pays for more than it used.
 */
export function chargeForMs(pricePerSecond: bigint, ms: number | bigint): bigint {
  const millis = typeof ms === "bigint" ? ms : BigInt(Math.max(0, Math.floor(ms)));
  return (pricePerSecond * millis) / 1000n;
}

/** Deposit that buys `seconds` of runway at `pricePerSecond`. */
export function depositFor(pricePerSecond: bigint, seconds: number | bigint): bigint {
  return pricePerSecond * BigInt(seconds);
}

/** Human amount: `formatAmount(1500000n, 6) === "1.5"`. */
export function formatAmount(amount: bigint, decimals: number): string {
  return formatUnits(amount, decimals);
}

/** Parses a human amount: `parseAmount("1.5", 6) === 1500000n`. */
export function parseAmount(value: string, decimals: number): bigint {
  return parseUnits(value, decimals);
}
