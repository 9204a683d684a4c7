/**
 * The paid-inference protocol over HTTP: how a consumer proves payment on each request, and what a
 * provider answers. Both agents and the dashboard use these definitions.
 *
 * Request headers (all values are strings):
 *   x-claw-stream-id          stream id (decimal)
 *   x-claw-cumulative         the spend voucher: everything the consumer has accepted to pay on the stream
 *                             so far (decimal asset units; the amount of the last receipt it accepted)
 *   x-claw-nonce              random per-request nonce (decimal, < 2^256); never reuse one on a stream
 *   x-claw-expiry             unix seconds after which the request is void
 *   x-claw-signature          EIP-712 `Spend{streamId, cumulative, request: {bodyHash, nonce, expiry}}`
 *                             signature by the stream's sender or by the session key below: one signature
 *                             that authorises the request and is a voucher StreamPay pays out on
 *   x-claw-session-key        (optional) address of a session key: named in createStream, or authorised
 *                             by the two headers below
 *   x-claw-session-expiry     (with a signature) unix seconds the authorisation lasts
 *   x-claw-session-signature  (optional) sender's EIP-712 `SessionKey{streamId, key, expiry}` signature
 * bodyHash = keccak256 of the exact body bytes sent (an empty body hashes the empty string).
 */
import { type Address, type Hex, isAddress, isHex, zeroAddress, zeroHash } from "viem";
import {
  NO_REQUEST,
  type PaymentDomainParameters,
  type RequestMessage,
  hashBody,
  hashRequest,
  signSessionKey,
  signSpend,
} from "./eip712.ts";

export const PAYMENT_HEADERS = {
  streamId: "x-claw-stream-id",
  cumulative: "x-claw-cumulative",
  nonce: "x-claw-nonce",
  expiry: "x-claw-expiry",
  signature: "x-claw-signature",
  sessionKey: "x-claw-session-key",
  sessionExpiry: "x-claw-session-expiry",
  sessionSignature: "x-claw-session-signature",
} as const;

/** Response header carrying the latest signed usage receipt (JSON of {@link WireReceipt}). */
export const RECEIPT_HEADER = "x-claw-receipt";

/** A signed usage receipt as sent over HTTP: cumulative amount charged for the stream so far. */
export type WireReceipt = { streamId: string; amount: string; final: boolean; signature: Hex };

/**
 * A session key the sender authorised: by an EIP-712 `SessionKey` signature valid until `expiry`, or
 * (no `signature`) by naming it in `createStream`, in which case it lives as long as the stream.
 */
export type SessionAuthorization = { key: Address; expiry: bigint; signature?: Hex };

/** The body of an HTTP 402 answer: everything a client needs to open a stream and retry. */
export type PaymentRequiredBody = {
  error: { code: string; message: string };
  payment: {
    chainId: number;
    streamPay: Address;
    providerId: string;
    recipient: Address;
    asset: Address;
    pricePerSecond: string;
    minDeposit: string;
    headers: typeof PAYMENT_HEADERS;
  };
};

/** Default lifetime of a request signature. */
export const DEFAULT_REQUEST_TTL_SECONDS = 120;

type Signer = Parameters<typeof signSpend>[0];

export type CreatePaymentHeadersParameters = {
  /** The stream's sender, or the session key when `session` is given. */
  signer: Signer;
  domain: PaymentDomainParameters;
  streamId: bigint;
  /** The voucher: everything accepted so far on this stream (the last accepted receipt's amount). */
  cumulative: bigint;
  /** The exact body that will be sent. */
  body: string | Uint8Array;
  session?: SessionAuthorization;
  nonce?: bigint;
  expiry?: bigint;
  /** Unix seconds "now" (defaults to the wall clock). */
  now?: number;
};

/** Random 128-bit nonce. */
export function randomNonce(): bigint {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return bytes.reduce((acc, b) => (acc << 8n) | BigInt(b), 0n);
}

/** Signs a request (and the voucher it carries) and returns the headers that prove payment for it. */
export async function createPaymentHeaders(p: CreatePaymentHeadersParameters): Promise<Record<string, string>> {
  const now = p.now ?? Math.floor(Date.now() / 1000);
  const nonce = p.nonce ?? randomNonce();
  const expiry = p.expiry ?? BigInt(now + DEFAULT_REQUEST_TTL_SECONDS);
  const request = { bodyHash: hashBody(p.body), nonce, expiry };
  const signature = await signSpend(p.signer, p.domain, { streamId: p.streamId, cumulative: p.cumulative, request });
  const headers: Record<string, string> = {
    [PAYMENT_HEADERS.streamId]: p.streamId.toString(),
    [PAYMENT_HEADERS.cumulative]: p.cumulative.toString(),
    [PAYMENT_HEADERS.nonce]: nonce.toString(),
    [PAYMENT_HEADERS.expiry]: expiry.toString(),
    [PAYMENT_HEADERS.signature]: signature,
  };
  if (p.session) {
    headers[PAYMENT_HEADERS.sessionKey] = p.session.key;
    if (p.session.signature) {
      headers[PAYMENT_HEADERS.sessionExpiry] = p.session.expiry.toString();
      headers[PAYMENT_HEADERS.sessionSignature] = p.session.signature;
    }
  }
  return headers;
}

/** The sender authorises `key` to sign requests and vouchers on stream `streamId` until `expiry`. */
export async function authorizeSessionKey(
  sender: Signer,
  domain: PaymentDomainParameters,
  streamId: bigint,
  key: Address,
  expiry: bigint,
): Promise<SessionAuthorization> {
  const signature = await signSessionKey(sender, domain, { streamId, key, expiry });
  return { key, expiry, signature };
}

/** A session key named in `createStream`: it needs no authorisation signature and no expiry. */
export function namedSessionKey(key: Address): SessionAuthorization {
  return { key, expiry: 0n };
}

/** The payment fields of a request, parsed but not yet verified. */
export type PaymentProof = {
  streamId: bigint;
  cumulative: bigint;
  nonce: bigint;
  expiry: bigint;
  signature: Hex;
  session?: SessionAuthorization;
};

/** A spend voucher with everything StreamPay needs to verify it. */
export type SignedVoucher = {
  streamId: bigint;
  cumulative: bigint;
  request: RequestMessage;
  signature: Hex;
  session?: SessionAuthorization;
};

/** StreamPay's `Voucher` argument (withdrawFromStream, closeByRecipient) for a signed voucher. */
export type VoucherArgs = {
  cumulative: bigint;
  request: Hex;
  signature: Hex;
  sessionKey: Address;
  sessionExpiry: bigint;
  sessionSignature: Hex;
};

/** The `Voucher` argument for a signed voucher, as StreamPay's ABI takes it. */
export function voucherArgs(v: SignedVoucher): VoucherArgs {
  return {
    cumulative: v.cumulative,
    request: hashRequest(v.request),
    signature: v.signature,
    sessionKey: v.session?.key ?? zeroAddress,
    sessionExpiry: v.session?.signature ? v.session.expiry : 0n,
    sessionSignature: v.session?.signature ?? "0x",
  };
}

/** A `Voucher` argument claiming nothing beyond what was already paid: needs no signature. */
export const EMPTY_VOUCHER: VoucherArgs = {
  cumulative: 0n,
  request: zeroHash,
  signature: "0x",
  sessionKey: zeroAddress,
  sessionExpiry: 0n,
  sessionSignature: "0x",
};

/** Signs a voucher for `cumulative` sent on its own (not with an HTTP request). */
export async function signVoucher(p: {
  signer: Signer;
  domain: PaymentDomainParameters;
  streamId: bigint;
  cumulative: bigint;
  session?: SessionAuthorization;
}): Promise<SignedVoucher> {
  const signature = await signSpend(p.signer, p.domain, { streamId: p.streamId, cumulative: p.cumulative, request: NO_REQUEST });
  return { streamId: p.streamId, cumulative: p.cumulative, request: NO_REQUEST, signature, session: p.session };
}

/** The voucher a request's payment headers carry, given the hash of the body they were sent with. */
export function voucherOfProof(proof: PaymentProof, bodyHash: Hex): SignedVoucher {
  return {
    streamId: proof.streamId,
    cumulative: proof.cumulative,
    request: { bodyHash, nonce: proof.nonce, expiry: proof.expiry },
    signature: proof.signature,
    session: proof.session,
  };
}

const MAX_UINT256 = (1n << 256n) - 1n;

function parseUint(value: string, name: string): bigint {
  if (!/^\d{1,78}$/.test(value)) throw new PaymentHeaderError(`${name} must be a decimal integer`);
  const n = BigInt(value);
  if (n > MAX_UINT256) throw new PaymentHeaderError(`${name} does not fit in uint256`);
  return n;
}

function parseSignature(value: string, name: string): Hex {
  if (!isHex(value) || value.length < 132) throw new PaymentHeaderError(`${name} must be a 0x-prefixed signature`);
  return value;
}

export class PaymentHeaderError extends Error {}

/**
 * Reads the payment headers of a request. Returns `undefined` when no payment was attempted (no stream
 * id header); throws {@link PaymentHeaderError} naming the header when one is malformed or missing.
 */
export function readPaymentHeaders(get: (name: string) => string | null | undefined): PaymentProof | undefined {
  const streamIdValue = get(PAYMENT_HEADERS.streamId);
  if (streamIdValue === undefined || streamIdValue === null || streamIdValue === "") return undefined;
  const required = (name: string) => {
    const value = get(name);
    if (value === undefined || value === null || value === "") throw new PaymentHeaderError(`missing header ${name}`);
    return value;
  };
  const proof: PaymentProof = {
    streamId: parseUint(streamIdValue, PAYMENT_HEADERS.streamId),
    cumulative: parseUint(required(PAYMENT_HEADERS.cumulative), PAYMENT_HEADERS.cumulative),
    nonce: parseUint(required(PAYMENT_HEADERS.nonce), PAYMENT_HEADERS.nonce),
    expiry: parseUint(required(PAYMENT_HEADERS.expiry), PAYMENT_HEADERS.expiry),
    signature: parseSignature(required(PAYMENT_HEADERS.signature), PAYMENT_HEADERS.signature),
  };
  const key = get(PAYMENT_HEADERS.sessionKey);
  if (key) {
    if (!isAddress(key)) throw new PaymentHeaderError(`${PAYMENT_HEADERS.sessionKey} must be an address`);
    // Without an authorisation signature the key must be the one named in createStream.
    const signature = get(PAYMENT_HEADERS.sessionSignature);
    proof.session = signature
      ? {
          key,
          expiry: parseUint(required(PAYMENT_HEADERS.sessionExpiry), PAYMENT_HEADERS.sessionExpiry),
          signature: parseSignature(signature, PAYMENT_HEADERS.sessionSignature),
        }
      : namedSessionKey(key);
  }
  return proof;
}

export function toWireReceipt(r: { streamId: bigint; amount: bigint; final: boolean; signature: Hex }): WireReceipt {
  return { streamId: r.streamId.toString(), amount: r.amount.toString(), final: r.final, signature: r.signature };
}

export function fromWireReceipt(w: WireReceipt): { streamId: bigint; amount: bigint; final: boolean; signature: Hex } {
  return { streamId: BigInt(w.streamId), amount: BigInt(w.amount), final: w.final, signature: w.signature };
}
