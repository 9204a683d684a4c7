import { describe, expect, it } from "vitest";
import { privateKeyToAccount } from "viem/accounts";
import { keccak256, toBytes } from "viem";
import {
  hashBody,
  receiptDigest,
  recoverReceiptSigner,
  recoverRequestSigner,
  recoverSessionKeySigner,
  signReceipt,
  signRequest,
  signSessionKey,
} from "./eip712.ts";

// Well-known local dev keys (anvil/Hardhat): never used on a real chain.
const sender = privateKeyToAccount("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d");
const provider = privateKeyToAccount("0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a");
const domain = { chainId: 31337, streamPay: "0x5FbDB2315678afecb367f032d93F642f64180aa3" as const };

describe("EIP-712 payment messages", () => {
  it("hashes the exact body bytes", () => {
    expect(hashBody('{"a":1}')).toBe(keccak256(toBytes('{"a":1}')));
    expect(hashBody(new Uint8Array([1, 2, 3]))).toBe(keccak256(new Uint8Array([1, 2, 3])));
    expect(hashBody('{"a":1}')).not.toBe(hashBody('{"a": 1}'));
  });

  it("recovers the signer of a request, and a different one for a changed field", async () => {
    const message = { streamId: 7n, bodyHash: hashBody("hi"), nonce: 1n, expiry: 2_000_000_000n };
    const signature = await signRequest(sender, domain, message);
    expect(await recoverRequestSigner(domain, message, signature)).toBe(sender.address);
    expect(await recoverRequestSigner(domain, { ...message, nonce: 2n }, signature)).not.toBe(sender.address);
    expect(await recoverRequestSigner({ ...domain, chainId: 97 }, message, signature)).not.toBe(sender.address);
  });

  it("recovers session-key authorisations and receipts", async () => {
    const auth = { streamId: 7n, key: provider.address, expiry: 2_000_000_000n };
    expect(await recoverSessionKeySigner(domain, auth, await signSessionKey(sender, domain, auth))).toBe(sender.address);
    const receipt = { streamId: 7n, amount: 4200n, final: true };
    const signature = await signReceipt(provider, domain, receipt);
    expect(await recoverReceiptSigner(domain, receipt, signature)).toBe(provider.address);
    expect(await recoverReceiptSigner(domain, { ...receipt, final: false }, signature)).not.toBe(provider.address);
    expect(receiptDigest(domain, receipt)).not.toBe(receiptDigest(domain, { ...receipt, amount: 4201n }));
  });
});
