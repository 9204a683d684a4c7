/**
 * What a transaction costs the keeper in the worst case, in native wei: its gas at the fee cap it sends
 * with, plus — on an OP-stack chain (Base, opBNB) — the L1 data fee that the chain charges on top of L2
 * gas for publishing the transaction's bytes to L1. On such chains the L1 part is often most of the cost
 * of a small transaction, so a keeper that leaves it out would send batches that lose money.
 */
import type { Address, Chain, Hex, PublicClient, Transport } from "viem";
import { estimateL1Fee } from "viem/op-stack";
import type { L1FeeMode } from "./config.ts";

/** The OP-stack GasPriceOracle predeploy (the same address on every OP-stack chain). */
export const GAS_PRICE_ORACLE: Address = "0x420000000000000000000000000000000000000F";

/** Whether viem's definition of `chain` is an OP-stack chain (it lists the GasPriceOracle predeploy). */
export function isOpStack(chain: Chain): boolean {
  return Boolean((chain.contracts as Record<string, unknown> | undefined)?.gasPriceOracle);
}

/** Whether the L1 data fee is counted on `chain` under `mode`. */
export function countsL1Fee(mode: L1FeeMode, chain: Chain): boolean {
  return mode === "on" || (mode === "auto" && isOpStack(chain));
}

export type GasCostOfParameters = {
  client: PublicClient<Transport, Chain>;
  /** Gas the transaction is expected to use (an estimate). */
  gas: bigint;
  /** The most it pays per gas (EIP-1559 maxFeePerGas), wei. */
  maxFeePerGas: bigint;
  /** The transaction (for its L1 data fee); required when `l1Fee` is true. */
  transaction?: { account: Address; to: Address; data: Hex };
  /** Count the L1 data fee (an OP-stack chain). */
  l1Fee: boolean;
};

export type GasCost = {
  /** gas × maxFeePerGas. */
  l2: bigint;
  /** The L1 data fee (0 when not counted). */
  l1: bigint;
  total: bigint;
};

/**
 * The worst-case cost of a transaction: gas × maxFeePerGas, plus the L1 data fee the chain's
 * GasPriceOracle quotes for its bytes when `l1Fee` is set. Throws when the oracle cannot be read (an
 * L1 fee that cannot be priced must not be taken as 0).
 */
export async function gasCostOf(p: GasCostOfParameters): Promise<GasCost> {
  const l2 = p.gas * p.maxFeePerGas;
  if (!p.l1Fee) return { l2, l1: 0n, total: l2 };
  if (!p.transaction) throw new Error("gasCostOf: the transaction is needed to price its L1 data fee");
  const oracle = (p.client.chain.contracts as { gasPriceOracle?: { address: Address } } | undefined)?.gasPriceOracle;
  const l1 = await estimateL1Fee(p.client, {
    account: p.transaction.account,
    to: p.transaction.to,
    data: p.transaction.data,
    chain: p.client.chain,
    gasPriceOracleAddress: oracle?.address ?? GAS_PRICE_ORACLE,
  });
  return { l2, l1, total: l2 + l1 };
}
