/** Amounts for people: "0.000042 ETH (42000000000000 wei-units)". */
import { formatUnits } from "viem";

export function formatUnitsOf(amount: bigint, asset: { symbol: string; decimals: number }): string {
  return `${formatUnits(amount, asset.decimals)} ${asset.symbol}`;
}

/** JSON.stringify with bigints as decimal strings. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? v.toString() : v), 2);
}
