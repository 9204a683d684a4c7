/**
 * The payment gate. A request is served only if:
 *  - its payment headers parse, its signature has not expired and expires within the accepted window;
 *  - its stream exists (event cache; one catch-up with the chain for an id not seen yet), pays this
 *    provider, is open on-chain (not cancelling, settled, cancelled or closed) and has no final receipt;
 *  - the EIP-712 Spend signature {streamId, cumulative, request: {bodyHash, nonce, expiry}} recovers to the
 *    stream's sender, or to a session key: the one named in createStream, or one the sender authorised for
 *    this stream by a SessionKey signature (ECDSA, or ERC-1271 for a contract-wallet sender) that stays
 *    valid for at least one request's maximum duration;
 *  - the stream's rate is at least the provider's current price and its deposit at least the minimum;
 *  - its voucher (`x-claw-cumulative`) lags what the provider billed by no more than the credit it extends
 *    (price x PROVIDER_MAX_REQUEST_SECONDS), else 402 `voucher_behind`;
 *  - the stream can pay for it (credit.ts): billed + in flight stay within what the provider can collect
 *    on-chain with its best voucher plus one request of credit, else 402 `no_runway` (with Retry-After when
 *    only chain time is short);
 *  - the nonce was never used on this stream, and the stream is under its concurrency limit.
 * Every valid voucher is kept when it beats the stream's best, even on a refused request: it is the
 * consumer's signed agreement to pay, and what the provider withdraws and answers cancels with.
 * Every refusal is a {@link GateError} with an HTTP status, a stable code and a message naming the problem.
 */
import { type Address, type Hex, isAddressEqual, zeroAddress } from "viem";
import { type PaymentProof, PaymentHeaderError, chargeForMs, readPaymentHeaders } from "@clawcompute/sdk";
import type { CachedStream, StreamCache } from "./chain.ts";
import type { Job, Meter } from "./billing.ts";
import { assessCredit } from "./credit.ts";
import { type PaymentSigner, hashBodyBytes, recoverAddress } from "./signatures.ts";
import { type StateStore, type StoredVoucher, voucherExpiry } from "./state.ts";

export class GateError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, string>,
    /** Extra response headers (Retry-After). */
    readonly headers?: Record<string, string>,
    /** Set once the request proved it speaks for this stream: the answer then carries its latest receipt. */
    readonly streamId?: bigint,
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
  cache: Pick<StreamCache, "get" | "lookup" | "nowMs">;
  store: StateStore;
  meter: Meter;
  payment: PaymentSigner;
  terms: () => GateTerms;
  maxExpirySeconds: number;
  minRunwayMs: number;
  minDepositSeconds: number;
  maxConcurrentPerStream: number;
  /** The longest a request may run: the credit is the stream's rate x this. */
  maxRequestSeconds: number;
  /** ERC-1271 check of a session-key authorisation by a contract-wallet sender (one RPC call, cached). */
  verifyContractSignature?: (sender: Address, digest: Uint8Array, signature: Hex) => Promise<boolean>;
  /** The wall clock that request expiries are read against (ms; default Date.now). */
  wallClockMs?: () => number;
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
  /** The voucher the request carried, as StreamPay would take it. */
  voucher: StoredVoucher;
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

  /** The credit extended on a stream: one request of the longest duration, at the stream's rate. */
  creditOf(stream: Pick<CachedStream, "ratePerSecond">): bigint {
    return stream.ratePerSecond * BigInt(this.p.maxRequestSeconds);
  }

  /**
   * Checks a request. On success the nonce is recorded (journalled, with the voucher when it is the
   * stream's best) and, when serving, the metering job is started. Throws {@link GateError}.
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
    // The request's expiry is about its freshness between two machines: it is read against the wall
    // clock, as the consumer set it. Everything StreamPay decides (streamed amounts, session-key expiry)
    // is read against the chain's clock.
    const nowMs = this.p.cache.nowMs();
    const now = BigInt(Math.floor(nowMs / 1000));
    const wallNow = BigInt(Math.floor((this.p.wallClockMs ?? Date.now)() / 1000));
    if (proof.expiry < wallNow) {
      throw new GateError(402, "signature_expired", `The request signature expired at ${proof.expiry} (now ${wallNow}): sign the request again.`);
    }
    if (proof.expiry > wallNow + BigInt(this.p.maxExpirySeconds)) {
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

    // One signature authorises the request and is the voucher for `cumulative`.
    const bodyHash = hashBodyBytes(body);
    const requestHash = this.p.payment.requestHash(bodyHash, proof.nonce, proof.expiry);
    const digest = this.p.payment.spendDigest(proof.streamId, proof.cumulative, requestHash);
    const signer = recoverAddress(digest, proof.signature);
    if (!signer) throw new GateError(402, "invalid_signature", "x-claw-signature is not a valid signature of this request.");
    const sessionKey = proof.session ? await this.checkSession(stream, proof, signer, now, mode) : undefined;
    if (!sessionKey && !isAddressEqual(signer, stream.sender)) {
      throw new GateError(
        402,
        "invalid_signature",
        `The request signature recovers to ${signer}, not to stream ${streamIdText}'s sender ${stream.sender} ` +
          "(forged, or signed over a different body, nonce, expiry or cumulative).",
      );
    }
    const voucher: StoredVoucher = {
      cumulative: proof.cumulative,
      bodyHash,
      nonce: proof.nonce,
      expiry: proof.expiry,
      signature: proof.signature,
    };
    if (proof.session) {
      voucher.sessionKey = proof.session.key;
      if (proof.session.signature) {
        voucher.sessionExpiry = proof.session.expiry;
        voucher.sessionSignature = proof.session.signature;
      }
    }

    // From here to the journal write nothing awaits, so concurrent requests see each other's nonces and
    // reservations.
    const nonce = proof.nonce.toString();
    if (this.p.store.hasNonce(streamIdText, nonce)) {
      const message =
        `Nonce ${nonce} was already used on stream ${streamIdText}: ` +
        "every request needs a fresh nonce and signature.";
      throw new GateError(409, "nonce_replayed", message);
    }
    let job: Job | undefined;
    try {
      if (mode.serve) job = this.admit(stream, proof, nowMs);
      this.p.store.addNonce(streamIdText, nonce, Number(proof.expiry), voucher);
    } catch (error) {
      if (job) this.p.meter.finish(job, false);
      // The voucher is valid whatever became of the request: keep it when it is the best.
      if (error instanceof GateError) {
        this.p.store.offerVoucher(streamIdText, voucher);
        throw new GateError(error.status, error.code, error.message, error.details, error.headers, stream.id);
      }
      throw error;
    }
    return { stream, proof, signer, sessionKey, voucher, job };
  }

  /** Serve mode: the stream's state, terms and credit. Returns the started job (its reservation held). */
  private admit(stream: CachedStream, proof: PaymentProof, nowMs: number): Job {
    const id = stream.id.toString();
    const terms = this.p.terms();
    if (stream.status !== "open") {
      const what = stream.status === "cancelling" ? "being cancelled by its sender" : stream.status;
      throw new GateError(402, "stream_closed", `Stream ${id} is ${what}: it is served no more. Open a new stream.`);
    }
    if (this.p.store.ledger(id)?.final || this.p.meter.isFinalizing(id)) {
      const message =
        `A final receipt was issued for stream ${id}: it is served no more. ` +
        "Close it with that receipt and open a new stream.";
      throw new GateError(402, "stream_finalized", message);
    }
    if (stream.ratePerSecond < terms.pricePerSecond) {
      throw new GateError(
        402,
        "rate_too_low",
        `Stream ${id} pays ${stream.ratePerSecond} per second; this provider now charges ${terms.pricePerSecond}: ` +
          "open a new stream at the current price.",
      );
    }
    const minDeposit = this.minDeposit(stream.ratePerSecond);
    if (stream.deposited < minDeposit) {
      const message =
        `Stream ${id} holds ${stream.deposited}; the minimum deposit is ${minDeposit} ` +
        `(${this.p.minDepositSeconds} s at its rate).`;
      throw new GateError(402, "deposit_too_small", message);
    }

    const billed = this.p.store.charged(id);
    const credit = this.creditOf(stream);
    const lag = billed - proof.cumulative;
    if (lag > credit) {
      throw new GateError(
        402,
        "voucher_behind",
        `Stream ${id}: this provider has billed ${billed} and your voucher (x-claw-cumulative) is ` +
          `${proof.cumulative}, ${lag} behind; it extends at most ${credit} of credit ` +
          `(${this.p.maxRequestSeconds} s at the stream's rate). Sign a voucher for the latest receipt ` +
          "(GET /v1/receipts/latest, also in this answer's x-claw-receipt) and retry.",
        { billed: `${billed}`, cumulative: `${proof.cumulative}`, lag: `${lag}`, credit: `${credit}` },
      );
    }

    if (this.p.meter.inflightOn(id) >= this.p.maxConcurrentPerStream) {
      const message =
        `Stream ${id} already has ${this.p.maxConcurrentPerStream} requests in progress (the limit): ` +
        "wait for one to finish.";
      throw new GateError(429, "too_many_concurrent_requests", message);
    }
    const inFlight = this.p.meter.reservedOn(id);
    const best = this.usableBest(id, proof.cumulative, proof.session ? this.sessionLifetime(proof) : undefined, nowMs);
    const needed = chargeForMs(stream.ratePerSecond, Math.max(1, this.p.minRunwayMs));
    const decision = assessCredit({
      ratePerSecond: stream.ratePerSecond,
      startTime: stream.startTime,
      stopTime: stream.stopTime,
      deposited: stream.deposited,
      withdrawn: stream.withdrawn,
      billed,
      inFlight,
      best,
      nowMs,
      credit,
      needed: needed > 0n ? needed : 1n,
      minRunwayMs: this.p.minRunwayMs,
    });
    if (decision.ok) return this.p.meter.begin(stream, decision.reservation);

    const details: Record<string, string> = {
      billed: billed.toString(),
      inFlight: inFlight.toString(),
      best: best.toString(),
      streamed: decision.streamed.toString(),
      credit: credit.toString(),
      available: (decision.available > 0n ? decision.available : 0n).toString(),
      needed: needed.toString(),
    };
    const left = decision.available > 0n ? decision.available : 0n;
    const running = inFlight > 0n ? ` and ${inFlight} reserved by its running requests` : "";
    switch (decision.reason) {
      case "stop_time":
        throw new GateError(
          402,
          "no_runway",
          `Stream ${id} stops at ${stream.stopTime} (now ${Math.floor(nowMs / 1000)}): top it up or open a new stream.`,
          details,
        );
      case "deposit":
        throw new GateError(
          402,
          "no_runway",
          `Stream ${id} holds ${stream.deposited}; ${billed} billed${running} leave ${left}, and a request needs ` +
            `at least ${needed}: ${inFlight > 0n ? "wait for the running requests, or " : ""}` +
            "top it up or open a new stream.",
          details,
        );
      case "chain_time": {
        const retry = decision.retryAfterSeconds ?? 1;
        details.retryAfter = String(retry);
        throw new GateError(
          402,
          "no_runway",
          `Stream ${id} has streamed ${decision.streamed} by chain time; with ${credit} of credit, ${billed} ` +
            `billed${running} leave ${left}, and a request needs at least ${needed}. Enough will have streamed ` +
            `in ${retry} s: retry then.`,
          details,
          { "retry-after": String(retry) },
        );
      }
      case "credit":
        throw new GateError(
          402,
          "no_runway",
          `Stream ${id}: the best voucher is ${best} and the credit ${credit}; ${billed} billed${running} leave ` +
            `${left}, and a request needs at least ${needed}. Sign a voucher for the latest receipt` +
            `${inFlight > 0n ? ", or wait for the running requests to finish" : ""}.`,
          details,
        );
    }
  }

  /**
   * The cumulative amount StreamPay would still pay on: the stream's best voucher (the request's own was
   * just offered, see check()), unless the session key that signed it has expired on-chain.
   */
  private usableBest(streamId: string, incoming: bigint, incomingExpiry: bigint | undefined, nowMs: number): bigint {
    const nowS = BigInt(Math.floor(nowMs / 1000));
    let best = incomingExpiry === undefined || incomingExpiry >= nowS ? incoming : 0n;
    const stored = this.p.store.bestVoucher(streamId);
    if (stored && stored.cumulative > best) {
      const expiry = voucherExpiry(stored);
      if (expiry === undefined || expiry >= nowS) best = stored.cumulative;
    }
    return best;
  }

  private sessionLifetime(proof: PaymentProof): bigint | undefined {
    return proof.session?.signature ? proof.session.expiry : undefined;
  }

  /** Checks the session key a request names; returns it. */
  private async checkSession(
    stream: CachedStream,
    proof: PaymentProof,
    signer: Address,
    now: bigint,
    mode: GateMode,
  ): Promise<Address> {
    const session = proof.session!;
    const id = stream.id.toString();
    if (!session.signature) {
      // No authorisation signature: only the key named in createStream may sign, for as long as the stream lives.
      if (stream.sessionKey === zeroAddress || !isAddressEqual(stream.sessionKey, session.key)) {
        const named =
          stream.sessionKey === zeroAddress
            ? "no session key was named at its creation"
            : `the key named at its creation is ${stream.sessionKey}`;
        throw new GateError(
          402,
          "session_key_unauthorized",
          `Session key ${session.key} is not authorised on stream ${id}: ${named}. Send the sender's SessionKey ` +
            "authorisation (x-claw-session-expiry, x-claw-session-signature).",
        );
      }
    } else {
      if (session.expiry < now) {
        const message =
          `The session key ${session.key} expired at ${session.expiry} (now ${now}): ` + "authorise a new one.";
        throw new GateError(402, "session_key_expired", message);
      }
      // A voucher signed by this key is void on-chain after its expiry: the key must outlive the request.
      const margin = BigInt(this.p.maxRequestSeconds);
      if (mode.serve && session.expiry < now + margin) {
        throw new GateError(
          402,
          "session_key_expiring",
          `The session key ${session.key} expires at ${session.expiry} (now ${now}), within the ${margin} s a ` +
            "request may run: its vouchers would be void on-chain before they could be collected. Authorise a new key.",
        );
      }
    }
    if (!isAddressEqual(signer, session.key)) {
      throw new GateError(
        402,
        "invalid_signature",
        `The request is signed by ${signer}, not by the session key ${session.key} it names ` +
          "(wrong body, nonce, expiry, cumulative or key).",
      );
    }
    if (session.signature) await this.checkSessionAuthorisation(stream, session.key, session.expiry, session.signature);
    return session.key;
  }

  private async checkSessionAuthorisation(
    stream: CachedStream,
    key: Address,
    expiry: bigint,
    signature: Hex,
  ): Promise<void> {
    const cacheKey = `${stream.id}:${key}:${expiry}:${signature}`;
    const known = this.sessionCache.get(cacheKey);
    if (known && isAddressEqual(known, stream.sender)) return;
    const digest = this.p.payment.sessionKeyDigest(stream.id, key, expiry);
    const authoriser = recoverAddress(digest, signature);
    let ok = authoriser !== undefined && isAddressEqual(authoriser, stream.sender);
    if (!ok && this.p.verifyContractSignature) {
      ok = await this.p.verifyContractSignature(stream.sender, digest, signature).catch(() => false);
    }
    if (!ok) {
      const by = authoriser ? ` (the authorisation was signed by ${authoriser})` : "";
      const message = `Session key ${key} is not authorised by stream ${stream.id}'s sender ${stream.sender}${by}.`;
      throw new GateError(402, "session_key_unauthorized", message);
    }
    if (this.sessionCache.size > 10_000) this.sessionCache.clear();
    this.sessionCache.set(cacheKey, stream.sender);
  }
}
