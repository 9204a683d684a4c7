/**
 * The gate in-process, against a stream cache with a clock the test sets: every voucher and credit refusal
 * with its code and numbers, session keys (named at creation, authorised by ECDSA or ERC-1271, expired,
 * about to expire, foreign), vouchers and nonces kept across a restart, and the stop at a reservation.
 * Stream 1: 1000 units/s from T0 to T0 + 100 (deposit 100,000); credit = 5 s = 5,000; a request needs 1,000.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Address, zeroAddress } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import {
  type SessionAuthorization,
  authorizeSessionKey,
  createPaymentHeaders,
  namedSessionKey,
  voucherArgs,
} from "@clawcompute/sdk";
import { Meter } from "../src/billing.ts";
import type { CachedStream } from "../src/chain.ts";
import { GateError, PaymentGate } from "../src/gate.ts";
import { Payouts } from "../src/payouts.ts";
import { DigestSigner, PaymentSigner, recoverAddress } from "../src/signatures.ts";
import { StateStore } from "../src/state.ts";

const domain = { chainId: 31337, streamPay: "0x5FbDB2315678afecb367f032d93F642f64180aa3" as Address };
const T0 = 1_900_000_000n;
const providerKey = generatePrivateKey();
const provider = privateKeyToAccount(providerKey);
const sender = privateKeyToAccount(generatePrivateKey());
const named = privateKeyToAccount(generatePrivateKey());
const stranger = privateKeyToAccount(generatePrivateKey());
const CONTRACT_WALLET: Address = "0x000000000000000000000000000000000000c0de";

function stream(id: bigint, extra: Partial<CachedStream> = {}): CachedStream {
  return {
    id,
    sender: sender.address,
    recipient: provider.address,
    providerId: 1n,
    asset: zeroAddress,
    ratePerSecond: 1000n,
    startTime: T0,
    stopTime: T0 + 100n,
    deposited: 100_000n,
    withdrawn: 0n,
    status: "open",
    endTime: 0n,
    challengeEndsAt: 0n,
    sessionKey: zeroAddress,
    createdBlock: 1n,
    ...extra,
  };
}

describe("the gate's vouchers, credit and session keys", () => {
  let dir: string;
  let store: StateStore;
  let gate: PaymentGate;
  let meter: Meter;
  let nowMs: number;
  let streams: Map<string, CachedStream>;
  let contractChecks: number;
  const payment = new PaymentSigner(domain);

  const build = () => {
    const cache = {
      get: (id: bigint | string) => streams.get(id.toString()),
      lookup: async (id: bigint) => streams.get(id.toString()),
      nowMs: () => nowMs,
    };
    meter = new Meter({ store, cache, payment, signer: new DigestSigner(providerKey, provider.address) });
    gate = new PaymentGate({
      cache,
      wallClockMs: () => nowMs,
      store,
      meter,
      payment,
      terms: () => ({ providerId: 1n, wallet: provider.address, asset: zeroAddress, pricePerSecond: 1000n }),
      maxExpirySeconds: 600,
      minRunwayMs: 1000,
      minDepositSeconds: 10,
      maxConcurrentPerStream: 8,
      maxRequestSeconds: 5,
      // The contract wallet of stream 9: valid when its owner (`named`, here) signed the digest.
      verifyContractSignature: async (wallet, digest, signature) => {
        contractChecks++;
        return wallet === CONTRACT_WALLET && recoverAddress(digest, signature) === named.address;
      },
    });
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "claw-gate-"));
    store = new StateStore({ dir });
    store.open();
    nowMs = Number(T0) * 1000 + 50_000; // 50 s in: 50,000 streamed
    contractChecks = 0;
    streams = new Map([
      ["1", stream(1n)],
      ["2", stream(2n, { sessionKey: named.address })],
      ["9", stream(9n, { sender: CONTRACT_WALLET })],
    ]);
    build();
  });

  afterEach(() => store.close());

  const body = new TextEncoder().encode('{"model":"m","messages":[{"role":"user","content":"hi"}]}');
  type Sign = {
    cumulative: bigint;
    streamId?: bigint;
    signer?: typeof sender;
    session?: SessionAuthorization;
    nonce?: bigint;
  };
  const headersOf = async (s: Sign) => {
    const h = await createPaymentHeaders({
      signer: s.signer ?? sender,
      domain,
      streamId: s.streamId ?? 1n,
      cumulative: s.cumulative,
      body,
      session: s.session,
      nonce: s.nonce,
      now: Math.floor(nowMs / 1000),
    });
    return (name: string) => h[name];
  };
  const check = async (s: Sign, serve = true) => gate.check(await headersOf(s), body, { serve });
  const refusal = async (s: Sign, serve = true): Promise<GateError> => {
    try {
      await check(s, serve);
    } catch (error) {
      if (error instanceof GateError) return error;
      throw error;
    }
    throw new Error("expected a refusal");
  };

  it("refuses a voucher lagging billed by more than the credit (voucher_behind, with the numbers)", async () => {
    store.addCharge("1", 12_000n, 12_000);
    const e = await refusal({ cumulative: 6_999n });
    expect([e.status, e.code]).toEqual([402, "voucher_behind"]);
    expect(e.details).toEqual({ billed: "12000", cumulative: "6999", lag: "5001", credit: "5000" });
    expect(e.message).toContain("billed 12000");
    expect(e.message).toContain("5001 behind");
    expect(e.streamId).toBe(1n); // the answer carries the latest receipt
    // The voucher was valid: kept as the best so far, though the request was refused.
    expect(store.bestVoucher("1")?.cumulative).toBe(6_999n);
    expect(meter.inflight).toBe(0);

    // Exactly the credit behind: past the lag check, but 7,000 + 5,000 - 12,000 leaves nothing to serve.
    const short = await refusal({ cumulative: 7_000n });
    expect(short.code).toBe("no_runway");
    const numbers = { billed: "12000", best: "7000", credit: "5000", available: "0", needed: "1000", inFlight: "0" };
    expect(short.details).toMatchObject(numbers);
    expect(short.headers).toBeUndefined(); // waiting for chain time would not help
    // 8,000 leaves 1,000: served, reserving it all.
    const passed = await check({ cumulative: 8_000n });
    expect(passed.job?.reservation).toBe(1_000n);
    expect(store.bestVoucher("1")?.cumulative).toBe(8_000n);
  });

  it("extends one request of credit: a parallel request is refused until the first finishes", async () => {
    const first = await check({ cumulative: 0n });
    expect(first.job?.reservation).toBe(5_000n);
    const second = await refusal({ cumulative: 0n });
    expect(second.code).toBe("no_runway");
    expect(second.details).toMatchObject({ inFlight: "5000", available: "0", best: "0", streamed: "50000" });
    expect(second.message).toContain("wait for the running requests");
    await new Promise((r) => setTimeout(r, 120));
    const charge = meter.finish(first.job!, true); // ~120 ms served at 1000/s
    expect(charge.amount).toBeGreaterThanOrEqual(120n);
    // Voucher 0 again: 0 + 5,000 - what was billed is left for the next request.
    expect((await check({ cumulative: 0n })).job?.reservation).toBe(5_000n - charge.amount);
  });

  it("only chain time short: 402 no_runway with Retry-After saying when enough will have streamed", async () => {
    nowMs = Number(T0) * 1000 + 2_900; // 2,000 streamed (whole chain seconds)
    store.addCharge("1", 8_000n, 8_000);
    const e = await refusal({ cumulative: 8_000n });
    expect(e.code).toBe("no_runway");
    // Streamed must reach 8,000 + 1,000 - 5,000 = 4,000, at T0 + 4: two seconds from T0 + 2.
    expect(e.headers).toEqual({ "retry-after": "2" });
    expect(e.details).toMatchObject({ streamed: "2000", best: "8000", billed: "8000", retryAfter: "2" });
    expect(e.message).toContain("in 2 s");
    nowMs = Number(T0) * 1000 + 4_000;
    expect((await check({ cumulative: 8_000n })).job?.reservation).toBe(1_000n);
  });

  it("refuses a deposit billed and reserved (no_runway), and a stream stopping within the minimum runway", async () => {
    store.addCharge("1", 99_500n, 99_500);
    nowMs = Number(T0) * 1000 + 98_000; // 98,000 streamed; the stop is 2 s away
    const e = await refusal({ cumulative: 99_500n });
    expect(e.code).toBe("no_runway");
    expect(e.details).toMatchObject({ available: "500", needed: "1000" });
    expect(e.message).toContain("top it up");
    nowMs = Number(T0 + 100n) * 1000 - 500;
    const stopping = await refusal({ cumulative: 0n, streamId: 2n, signer: sender });
    expect(stopping.message).toContain(`stops at ${T0 + 100n}`);
  });

  it("refuses cancelling streams (served no more) but keeps their vouchers", async () => {
    streams.set("1", stream(1n, { status: "cancelling", endTime: T0 + 40n, challengeEndsAt: T0 + 160n }));
    const e = await refusal({ cumulative: 3_000n });
    expect([e.code, e.message]).toEqual(["stream_closed", expect.stringContaining("being cancelled by its sender")]);
    expect(store.bestVoucher("1")?.cumulative).toBe(3_000n);
  });

  it("keeps the best voucher and the used nonces across a restart", async () => {
    const passed = await check({ cumulative: 0n, nonce: 77n });
    meter.finish(passed.job!, true);
    await check({ cumulative: 4_321n, nonce: 78n }).then((p) => meter.finish(p.job!, false));
    const lower = await check({ cumulative: 1_000n, nonce: 79n }); // lower: not the best
    meter.finish(lower.job!, false);
    const best = store.bestVoucher("1")!;
    expect(best.cumulative).toBe(4_321n);
    store.close();

    store = new StateStore({ dir });
    store.open();
    build();
    expect(store.bestVoucher("1")).toEqual(best);
    // What the agent will submit on-chain: the same struct the SDK builds from the request.
    const args = Payouts.voucherArgs(1n, best);
    const request = { bodyHash: best.bodyHash, nonce: 78n, expiry: best.expiry };
    expect(args).toEqual(voucherArgs({ streamId: 1n, cumulative: 4_321n, request, signature: best.signature }));
    const replay = await refusal({ cumulative: 4_321n, nonce: 78n });
    expect([replay.status, replay.code]).toEqual([409, "nonce_replayed"]);
  });

  it("a key named at creation signs without an authorisation; no other key does", async () => {
    const ok = await check({ streamId: 2n, cumulative: 0n, signer: named, session: namedSessionKey(named.address) });
    expect(ok.sessionKey).toBe(named.address);
    expect(ok.voucher.sessionKey).toBe(named.address);
    expect(ok.voucher.sessionSignature).toBeUndefined(); // StreamPay takes it with no authorisation
    meter.finish(ok.job!, false);

    const asNamed = (key: typeof named) => ({ signer: key, session: namedSessionKey(key.address) });
    const unnamed = await refusal({ streamId: 1n, cumulative: 0n, ...asNamed(named) });
    expect(unnamed.code).toBe("session_key_unauthorized");
    expect(unnamed.message).toContain("no session key was named at its creation");
    const other = await refusal({ streamId: 2n, cumulative: 0n, ...asNamed(stranger) });
    expect(other.code).toBe("session_key_unauthorized");
    expect(other.message).toContain(`the key named at its creation is ${named.address}`);
    // The named key's header, but the request signed by someone else.
    const forged = await refusal({ streamId: 2n, cumulative: 0n, signer: stranger, session: asNamed(named).session });
    expect(forged.code).toBe("invalid_signature");
  });

  it("a key the sender authorised by signature: valid, expired, expiring, foreign, for another stream", async () => {
    const key = privateKeyToAccount(generatePrivateKey());
    const now = BigInt(Math.floor(nowMs / 1000));
    const good = await authorizeSessionKey(sender, domain, 1n, key.address, now + 3600n);
    const ok = await check({ cumulative: 0n, signer: key, session: good });
    const authorised = { sessionKey: key.address, sessionExpiry: now + 3600n, sessionSignature: good.signature };
    expect(ok.voucher).toMatchObject(authorised);
    meter.finish(ok.job!, false);

    const expired = await authorizeSessionKey(sender, domain, 1n, key.address, now - 1n);
    expect((await refusal({ cumulative: 0n, signer: key, session: expired })).code).toBe("session_key_expired");
    // Expires in 3 s, within the 5 s a request may run: refused for serving, saying so...
    const expiring = await authorizeSessionKey(sender, domain, 1n, key.address, now + 3n);
    const e = await refusal({ cumulative: 0n, signer: key, session: expiring });
    expect([e.code, e.message]).toEqual(["session_key_expiring", expect.stringContaining(`expires at ${now + 3n}`)]);
    // ...but good enough to fetch a receipt.
    expect((await check({ cumulative: 0n, signer: key, session: expiring }, false)).sessionKey).toBe(key.address);

    const foreign = await authorizeSessionKey(stranger, domain, 1n, key.address, now + 3600n);
    const f = await refusal({ cumulative: 0n, signer: key, session: foreign });
    expect(f.code).toBe("session_key_unauthorized");
    expect(f.message).toContain(`signed by ${stranger.address}`);
    const elsewhere = await authorizeSessionKey(sender, domain, 2n, key.address, now + 3600n);
    expect((await refusal({ cumulative: 0n, signer: key, session: elsewhere })).code).toBe("session_key_unauthorized");
  });

  it("a contract-wallet sender authorises a key by ERC-1271, checked once and then cached", async () => {
    const key = privateKeyToAccount(generatePrivateKey());
    const now = BigInt(Math.floor(nowMs / 1000));
    const auth = await authorizeSessionKey(named, domain, 9n, key.address, now + 3600n); // signed by the wallet's owner
    for (let i = 0; i < 2; i++) {
      meter.finish((await check({ streamId: 9n, cumulative: 0n, signer: key, session: auth })).job!, false);
    }
    expect(contractChecks).toBe(1);
    const bogus = await authorizeSessionKey(stranger, domain, 9n, key.address, now + 3600n);
    const refused = await refusal({ streamId: 9n, cumulative: 0n, signer: key, session: bogus });
    expect(refused.code).toBe("session_key_unauthorized");
  });

  it("stops a request when its charge reaches its reservation, and never bills beyond it", async () => {
    store.addCharge("1", 3_800n, 3_800);
    const passed = await check({ cumulative: 0n }); // 0 + 5,000 - 3,800: 1,200 left = 1.2 s
    const job = passed.job!;
    expect(job.reservation).toBe(1_200n);
    await new Promise((r) => setTimeout(r, 1_100));
    expect(job.stopReason).toBeUndefined();
    await new Promise((r) => setTimeout(r, 300));
    expect(job.stopReason).toBe("runway");
    expect(job.controller.signal.aborted).toBe(true);
    await new Promise((r) => setTimeout(r, 100));
    const charge = meter.finish(job, true);
    expect(charge.amount).toBe(1_200n); // 1.5 s served, 1.2 s billed
    expect(charge.cumulative).toBe(5_000n);
  });
});


