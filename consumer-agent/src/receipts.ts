/**
 * Checking a provider's receipt before paying by it: the EIP-712 signature must be the stream's
 * recipient's (ECDSA recovery; ERC-1271 for a contract wallet), it must name this stream, and its amount
 * must not exceed what the consumer's own measurement allows:
 *
 *   allowance = chargeForMs(rate, measuredMs × (1 + toleranceBps / 10 000) + slackMs × requests)
 *
 * The consumer measures each request from sending it to reading its last byte, which always contains the
 * provider's own serving time (gate to last token), so an honest receipt is below price × measured time;
 * the tolerance (default 1% + 50 ms per request) only absorbs timer granularity.
 */
import type { Address, Hex } from "viem";
import { type PaymentDomainParameters, type WireReceipt, chargeForMs, paymentDomain, paymentTypes, recoverReceiptSigner } from "@clawcompute/sdk";
import type { Clients } from "./chain.ts";

export type ReceiptPolicy = { toleranceBps: number; slackMs: number };

/** The most a receipt may charge for `measuredMs` of serving time over `requests` requests. */
export function receiptAllowance(ratePerSecond: bigint, measuredMs: number, requests: number, policy: ReceiptPolicy): bigint {
  const ms = measuredMs * (1 + policy.toleranceBps / 10_000) + policy.slackMs * requests;
  return chargeForMs(ratePerSecond, Math.ceil(ms));
}

export type ReceiptCheck =
  | { ok: true; amount: bigint; signature: Hex }
  | { ok: false; reason: "bad_signature" | "wrong_stream" | "not_final" | "inflated" | "malformed"; message: string; amount?: bigint; allowance?: bigint };

export async function checkReceipt(p: {
  clients: Clients;
  domain: PaymentDomainParameters;
  receipt: WireReceipt;
  streamId: bigint;
  recipient: Address;
  /** Undefined: no measurement to compare with (only the signature and the stream are checked). */
  allowance: bigint | undefined;
  final: boolean;
}): Promise<ReceiptCheck> {
  let amount: bigint;
  try {
    amount = BigInt(p.receipt.amount);
    if (amount < 0n || !/^0x[0-9a-fA-F]+$/.test(p.receipt.signature)) throw new Error("bad");
  } catch {
    return { ok: false, reason: "malformed", message: "the receipt's amount or signature is malformed" };
  }
  if (p.receipt.streamId !== p.streamId.toString()) {
    return { ok: false, reason: "wrong_stream", message: `the receipt is for stream ${p.receipt.streamId}, not ${p.streamId}` };
  }
  if (p.final && p.receipt.final !== true) return { ok: false, reason: "not_final", message: "the receipt is not marked final" };
  const message = { streamId: p.streamId, amount, final: p.receipt.final };
  let valid = false;
  try {
    const signer = await recoverReceiptSigner(p.domain, message, p.receipt.signature);
    valid = signer.toLowerCase() === p.recipient.toLowerCase();
  } catch {
    valid = false;
  }
  if (!valid) {
    // A smart-contract wallet signs through ERC-1271: ask it.
    const code = await p.clients.public.getCode({ address: p.recipient }).catch(() => undefined);
    if (code && code !== "0x") {
      valid = await p.clients.public
        .verifyTypedData({ address: p.recipient, domain: paymentDomain(p.domain), types: paymentTypes, primaryType: "Receipt", message, signature: p.receipt.signature })
        .catch(() => false);
    }
  }
  if (!valid) return { ok: false, reason: "bad_signature", message: `the receipt is not signed by the stream's recipient ${p.recipient}` };
  if (p.allowance !== undefined && amount > p.allowance) {
    return { ok: false, reason: "inflated", amount, allowance: p.allowance, message: `the receipt charges ${amount}, more than price × the measured serving time allows (${p.allowance})` };
  }
  return { ok: true, amount, signature: p.receipt.signature };
}
