/**
 * The payment gate (DESIGN §3). A request is served only if:
 *  - its payment headers parse, its signature has not expired and expires within the accepted window;
 *  - its stream exists (event cache; one catch-up with the chain for an id not seen yet), pays this
 *    provider, is open on-chain and has no final receipt;
 *  - the EIP-712 Request signature recovers to the stream's sender, or to a session key that the sender
 *    authorised for this stream (SessionKey signature, unexpired);
 *  - the stream's rate is at least the provider's current price, its deposit at least the minimum, and it
 *    has runway left (money: deposit - charged - running jobs; time: before its stop time);
 *  - the nonce was never used on this stream, and the stream is under its concurrency limit.
 * Every refusal is a {@link GateError} with an HTTP status, a stable code and a message naming the problem.
 */
import { type Address, type Hex, isAddressEqual } from "viem";
import { type PaymentProof, PaymentHeaderError, chargeForMs, readPaymentHeaders } from "@clawcompute/sdk";
import type { CachedStream, StreamCache } from "./chain.ts";
import type { Job, Meter } from "./billing.ts";
import { type PaymentSigner, hashBodyBytes, recoverAddress } from "./signatures.ts";
import type { StateStore } from "./state.ts";

export class GateError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, string>,
  ) {
    super(message);
  }
}

export type GateTerms = {
  providerId: bigint;
  wallet: Address;
  asset: Address;
  /** Current price per second (follows ProviderUpdated events). */
  pricePerSecond: bigint;
};

export type GateParameters = {
  cache: StreamCache;
  store: StateStore;
  meter: Meter;
  payment: PaymentSigner;
  terms: () => GateTerms;
  maxExpirySeconds: number;
  minRunwayMs: number;
  minDepositSeconds: number;
  maxConcurrentPerStream: number;
  /** ERC-1271 check of a session-key authorisation by a contract-wallet sender (one RPC call, cached). */
  verifyContractSignature?: (sender: Address, digest: Uint8Array, signature: Hex) => Promise<boolean>;
};

export type GateMode = {
  /** Serving inference: needs runway, rate >= price, deposit >= minimum, a free concurrency slot. */
  serve: boolean;
};

export type Passed = {
  stream: CachedStream;
  proof: PaymentProof;
  signer: Address;
  sessionKey?: Address;
  /** In serve mode: the metering job, started in the same tick as the last check (so limits hold exactly). */
  job?: Job;
};

type HeaderGetter = (name: string) => string | undefined;

export class PaymentGate {
  private readonly sessionCache = new Map<string, Address>();

  constructor(private readonly p: GateParameters) {}

  minDeposit(pricePerSecond = this.p.terms().pricePerSecond): bigint {
    return pricePerSecond * BigInt(this.p.minDepositSeconds);
  }

  /**
   * Checks a request. On success the nonce is recorded (journalled) and, when serving, the metering job
   * is started. Throws {@link GateError}.
   */
  async check(header: HeaderGetter, body: Uint8Array, mode: GateMode): Promise<Passed> {
    let proof: PaymentProof | undefined;
    try {
      proof = readPaymentHeaders(header);
    } catch (error) {
      if (error instanceof PaymentHeaderError) throw new GateError(402, "invalid_payment_header", `Payment header problem: ${error.message}.`);
      throw error;
    }
    if (!proof) {
      throw new GateError(402, "payment_required", "This endpoint is paid: open a StreamPay stream to this provider and sign the request (see `payment`).");
    }
    const nowMs = this.p.cache.nowMs();
    const now = BigInt(Math.floor(nowMs / 1000));
    if (proof.expiry < now) {
      throw new GateError(402, "signature_expired", `The request signature expired at ${proof.expiry} (now ${now}): sign the request again.`);
    }
    if (proof.expiry > now + BigInt(this.p.maxExpirySeconds)) {
      throw new GateError(402, "expiry_too_far", `x-claw-expiry ${proof.expiry} is more than ${this.p.maxExpirySeconds} s in the future: use a shorter-lived signature.`);
    }

    const terms = this.p.terms();
    const streamIdText = proof.streamId.toString();
    const stream = this.p.cache.get(streamIdText) ?? (await this.p.cache.lookup(proof.streamId));
    if (!stream) throw new GateError(402, "unknown_stream", `Stream ${streamIdText} does not exist on chain ${this.p.payment.domain.chainId}.`);
    if (stream.providerId !== terms.providerId) {
      const whom = isAddressEqual(stream.recipient, terms.wallet) ? `this wallet's provider ${stream.providerId} (another model)` : `${stream.recipient} (provider ${stream.providerId})`;
      throw new GateError(402, "wrong_recipient", `Stream ${streamIdText} pays ${whom}, not this provider (id ${terms.providerId}, wallet ${terms.wallet}).`);
    }

    // Signature: the sender, or a session key the sender authorised for this stream.
    const digest = this.p.payment.requestDigest(proof.streamId, hashBodyBytes(body), proof.nonce, proof.expiry);
    const signer = recoverAddress(digest, proof.signature);
    if (!signer) throw new GateError(402, "invalid_signature", "x-claw-signature is not a valid signature of this request.");
    let sessionKey: Address | undefined;
    if (proof.session) {
      if (proof.session.expiry < now) {
        throw new GateError(402, "session_key_expired", `The session key ${proof.session.key} expired at ${proof.session.expiry} (now ${now}): authorise a new one.`);
      }
      if (!isAddressEqual(signer, proof.session.key)) {
        throw new GateError(402, "invalid_signature", `The request is signed by ${signer}, not by the session key ${proof.session.key} it names (wrong body, nonce, expiry or key).`);
      }
      await this.checkSessionAuthorisation(stream, proof);
      sessionKey = proof.session.key;
    } else if (!isAddressEqual(signer, stream.sender)) {
      throw new GateError(402, "invalid_signature", `The request signature recovers to ${signer}, not to stream ${streamIdText}'s sender ${stream.sender} (forged, or signed over a different body, nonce or expiry).`);
    }

    if (mode.serve) {
      if (stream.status !== "open") throw new GateError(402, "stream_closed", `Stream ${streamIdText} is ${stream.status}: open a new stream.`);
      if (this.p.store.ledger(streamIdText)?.final || this.p.meter.isFinalizing(streamIdText)) {
        throw new GateError(402, "stream_finalized", `A final receipt was issued for stream ${streamIdText}: it is served no more. Close it with that receipt and open a new stream.`);
      }
      if (stream.ratePerSecond < terms.pricePerSecond) {
        throw new GateError(402, "rate_too_low", `Stream ${streamIdText} pays ${stream.ratePerSecond} per second; this provider now charges ${terms.pricePerSecond}: open a new stream at the current price.`);
      }
      const minDeposit = this.minDeposit(stream.ratePerSecond);
      if (stream.deposited < minDeposit) {
        throw new GateError(402, "deposit_too_small", `Stream ${streamIdText} holds ${stream.deposited}; the minimum deposit is ${minDeposit} (${this.p.minDepositSeconds} s at its rate).`);
      }
      const stopMs = Number(stream.stopTime) * 1000;
      if (stopMs - nowMs < this.p.minRunwayMs) {
        throw new GateError(402, "no_runway", `Stream ${streamIdText} stops at ${stream.stopTime} (now ${now}): top it up or open a new stream.`);
      }
      const remaining = this.p.meter.remaining(stream);
      const needed = chargeForMs(stream.ratePerSecond, this.p.minRunwayMs);
      if (remaining <= 0n || remaining < needed) {
        throw new GateError(402, "no_runway", `Stream ${streamIdText} has ${remaining > 0n ? remaining : 0n} left of its ${stream.deposited} deposit after what was charged; ${needed} more is needed: top it up or open a new stream.`, {
          remaining: (remaining > 0n ? remaining : 0n).toString(),
        });
      }
    }

    const nonce = proof.nonce.toString();
    if (this.p.store.hasNonce(streamIdText, nonce)) {
      throw new GateError(409, "nonce_replayed", `Nonce ${nonce} was already used on stream ${streamIdText}: every request needs a fresh nonce and signature.`);
    }
    if (mode.serve && this.p.meter.inflightOn(streamIdText) >= this.p.maxConcurrentPerStream) {
      throw new GateError(429, "too_many_concurrent_requests", `Stream ${streamIdText} already has ${this.p.maxConcurrentPerStream} requests in progress (the limit): wait for one to finish.`);
    }
    this.p.store.addNonce(streamIdText, nonce, Number(proof.expiry));
    const job = mode.serve ? this.p.meter.begin(stream) : undefined;
    return { stream, proof, signer, sessionKey, job };
  }

  private async checkSessionAuthorisation(stream: CachedStream, proof: PaymentProof): Promise<void> {
    const session = proof.session!;
    const cacheKey = `${stream.id}:${session.key}:${session.expiry}:${session.signature}`;
    const known = this.sessionCache.get(cacheKey);
    if (known && isAddressEqual(known, stream.sender)) return;
    const digest = this.p.payment.sessionKeyDigest(stream.id, session.key, session.expiry);
    const authoriser = recoverAddress(digest, session.signature);
    let ok = authoriser !== undefined && isAddressEqual(authoriser, stream.sender);
    if (!ok && this.p.verifyContractSignature) {
      ok = await this.p.verifyContractSignature(stream.sender, digest, session.signature).catch(() => false);
    }
    if (!ok) {
      throw new GateError(402, "session_key_unauthorized", `Session key ${session.key} is not authorised by stream ${stream.id}'s sender ${stream.sender}${authoriser ? ` (the authorisation was signed by ${authoriser})` : ""}.`);
    }
    if (this.sessionCache.size > 10_000) this.sessionCache.clear();
    this.sessionCache.set(cacheKey, stream.sender);
  }
}
