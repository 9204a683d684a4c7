import { describe, expect, it } from "vitest";
import { privateKeyToAccount } from "viem/accounts";
import { hashBody, recoverRequestSigner, recoverSessionKeySigner } from "./eip712.ts";
import {
  PAYMENT_HEADERS,
  PaymentHeaderError,
  authorizeSessionKey,
  createPaymentHeaders,
  fromWireReceipt,
  randomNonce,
  readPaymentHeaders,
  toWireReceipt,
} from "./protocol.ts";

const sender = privateKeyToAccount("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d");
const sessionKey = privateKeyToAccount("0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6");
const domain = { chainId: 31337, streamPay: "0x5FbDB2315678afecb367f032d93F642f64180aa3" as const };
const body = JSON.stringify({ model: "m", messages: [{ role: "user", content: "hi" }] });

describe("payment headers", () => {
  it("round-trips: the headers a client creates parse back and verify against the body", async () => {
    const headers = await createPaymentHeaders({ signer: sender, domain, streamId: 12n, body, now: 1_000 });
    const proof = readPaymentHeaders((name) => headers[name]);
    expect(proof).toBeDefined();
    expect(proof!.streamId).toBe(12n);
    expect(proof!.expiry).toBe(1_120n);
    const signer = await recoverRequestSigner(domain, { streamId: 12n, bodyHash: hashBody(body), nonce: proof!.nonce, expiry: proof!.expiry }, proof!.signature);
    expect(signer).toBe(sender.address);
  });

  it("carries a session-key authorisation signed by the sender", async () => {
    const session = await authorizeSessionKey(sender, domain, 12n, sessionKey.address, 5_000n);
    const headers = await createPaymentHeaders({ signer: sessionKey, domain, streamId: 12n, body, session });
    const proof = readPaymentHeaders((name) => headers[name])!;
    expect(proof.session?.key).toBe(sessionKey.address);
    expect(await recoverSessionKeySigner(domain, { streamId: 12n, key: proof.session!.key, expiry: proof.session!.expiry }, proof.session!.signature)).toBe(sender.address);
    expect(await recoverRequestSigner(domain, { streamId: 12n, bodyHash: hashBody(body), nonce: proof.nonce, expiry: proof.expiry }, proof.signature)).toBe(sessionKey.address);
  });

  it("returns undefined without a stream id and names the bad header otherwise", async () => {
    expect(readPaymentHeaders(() => undefined)).toBeUndefined();
    const headers = await createPaymentHeaders({ signer: sender, domain, streamId: 1n, body });
    const without = (name: string) => (n: string) => (n === name ? undefined : headers[n]);
    expect(() => readPaymentHeaders(without(PAYMENT_HEADERS.nonce))).toThrow(new PaymentHeaderError(`missing header ${PAYMENT_HEADERS.nonce}`));
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
