import { describe, expect, it } from "vitest";
import { privateKeyToAccount } from "viem/accounts";
import { zeroAddress, zeroHash } from "viem";
import { NO_REQUEST, hashBody, hashRequest, recoverSessionKeySigner, recoverSpendSigner } from "./eip712.ts";
import {
  EMPTY_VOUCHER,
  PAYMENT_HEADERS,
  PaymentHeaderError,
  authorizeSessionKey,
  createPaymentHeaders,
  fromWireReceipt,
  namedSessionKey,
  randomNonce,
  readPaymentHeaders,
  signVoucher,
  toWireReceipt,
  voucherArgs,
  voucherOfProof,
} from "./protocol.ts";

const sender = privateKeyToAccount("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d");
const sessionKey = privateKeyToAccount("0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6");
const domain = { chainId: 31337, streamPay: "0x5FbDB2315678afecb367f032d93F642f64180aa3" as const };
const body = JSON.stringify({ model: "m", messages: [{ role: "user", content: "hi" }] });

describe("payment headers", () => {
  it("round-trips: the headers a client creates parse back and verify against the body", async () => {
    const headers = await createPaymentHeaders({ signer: sender, domain, streamId: 12n, cumulative: 345n, body, now: 1_000 });
    const proof = readPaymentHeaders((name) => headers[name]);
    expect(proof).toBeDefined();
    expect(proof!.streamId).toBe(12n);
    expect(proof!.cumulative).toBe(345n);
    expect(proof!.expiry).toBe(1_120n);
    const request = { bodyHash: hashBody(body), nonce: proof!.nonce, expiry: proof!.expiry };
    const signer = await recoverSpendSigner(domain, { streamId: 12n, cumulative: 345n, request }, proof!.signature);
    expect(signer).toBe(sender.address);
    // The same signature is a voucher StreamPay pays out on: its Request is the one sent.
    const voucher = voucherOfProof(proof!, hashBody(body));
    expect(voucherArgs(voucher)).toEqual({
      cumulative: 345n,
      request: hashRequest(request),
      signature: proof!.signature,
      sessionKey: zeroAddress,
      sessionExpiry: 0n,
      sessionSignature: "0x",
    });
  });

  it("carries a session-key authorisation signed by the sender", async () => {
    const session = await authorizeSessionKey(sender, domain, 12n, sessionKey.address, 5_000n);
    const headers = await createPaymentHeaders({ signer: sessionKey, domain, streamId: 12n, cumulative: 0n, body, session });
    const proof = readPaymentHeaders((name) => headers[name])!;
    expect(proof.session?.key).toBe(sessionKey.address);
    const auth = { streamId: 12n, key: proof.session!.key, expiry: proof.session!.expiry };
    expect(await recoverSessionKeySigner(domain, auth, proof.session!.signature!)).toBe(sender.address);
    const request = { bodyHash: hashBody(body), nonce: proof.nonce, expiry: proof.expiry };
    expect(await recoverSpendSigner(domain, { streamId: 12n, cumulative: 0n, request }, proof.signature)).toBe(sessionKey.address);
    const args = voucherArgs(voucherOfProof(proof, hashBody(body)));
    expect([args.sessionKey, args.sessionExpiry, args.sessionSignature]).toEqual([sessionKey.address, 5_000n, session.signature]);
  });

  it("names a session key from createStream without any authorisation headers", async () => {
    const headers = await createPaymentHeaders({
      signer: sessionKey, domain, streamId: 12n, cumulative: 7n, body, session: namedSessionKey(sessionKey.address),
    });
    expect(headers[PAYMENT_HEADERS.sessionSignature]).toBeUndefined();
    expect(headers[PAYMENT_HEADERS.sessionExpiry]).toBeUndefined();
    const proof = readPaymentHeaders((name) => headers[name])!;
    expect(proof.session).toEqual({ key: sessionKey.address, expiry: 0n });
    const args = voucherArgs(voucherOfProof(proof, hashBody(body)));
    expect([args.sessionKey, args.sessionExpiry, args.sessionSignature]).toEqual([sessionKey.address, 0n, "0x"]);
  });

  it("signs a voucher sent on its own over the all-zero Request, and has an empty voucher", async () => {
    const voucher = await signVoucher({ signer: sender, domain, streamId: 3n, cumulative: 99n });
    expect(voucher.request).toEqual(NO_REQUEST);
    expect(await recoverSpendSigner(domain, voucher, voucher.signature)).toBe(sender.address);
    expect(EMPTY_VOUCHER).toEqual({
      cumulative: 0n, request: zeroHash, signature: "0x", sessionKey: zeroAddress, sessionExpiry: 0n, sessionSignature: "0x",
    });
  });

  it("returns undefined without a stream id and names the bad header otherwise", async () => {
    expect(readPaymentHeaders(() => undefined)).toBeUndefined();
    const headers = await createPaymentHeaders({ signer: sender, domain, streamId: 1n, cumulative: 0n, body });
    const without = (name: string) => (n: string) => (n === name ? undefined : headers[n]);
    expect(() => readPaymentHeaders(without(PAYMENT_HEADERS.nonce))).toThrow(new PaymentHeaderError(`missing header ${PAYMENT_HEADERS.nonce}`));
    expect(() => readPaymentHeaders(without(PAYMENT_HEADERS.cumulative))).toThrow(/missing header x-claw-cumulative/);
    expect(() => readPaymentHeaders((n) => (n === PAYMENT_HEADERS.cumulative ? "-1" : headers[n]))).toThrow(/x-claw-cumulative must be a decimal integer/);
    expect(() => readPaymentHeaders((n) => (n === PAYMENT_HEADERS.streamId ? "12abc" : headers[n]))).toThrow(/x-claw-stream-id must be a decimal integer/);
    expect(() => readPaymentHeaders((n) => (n === PAYMENT_HEADERS.signature ? "0x1234" : headers[n]))).toThrow(/x-claw-signature/);
    expect(() => readPaymentHeaders((n) => (n === PAYMENT_HEADERS.sessionKey ? "not-an-address" : headers[n]))).toThrow(/x-claw-session-key must be an address/);
    expect(() => readPaymentHeaders((n) => (n === PAYMENT_HEADERS.nonce ? (1n << 256n).toString() : headers[n]))).toThrow(/uint256/);
  });

  it("draws distinct random nonces and round-trips wire receipts", () => {
    const nonces = new Set(Array.from({ length: 100 }, () => randomNonce()));
    expect(nonces.size).toBe(100);
    const receipt = { streamId: 3n, amount: 10n ** 30n, final: true, signature: "0xabcd" as const };
    expect(fromWireReceipt(JSON.parse(JSON.stringify(toWireReceipt(receipt))))).toEqual(receipt);
  });
});
