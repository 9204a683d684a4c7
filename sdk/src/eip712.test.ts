import { describe, expect, it } from "vitest";
import { privateKeyToAccount } from "viem/accounts";
import { encodeAbiParameters, keccak256, toBytes, zeroHash } from "viem";
import {
  NO_REQUEST,
  hashBody,
  hashRequest,
  receiptDigest,
  recoverReceiptSigner,
  recoverSessionKeySigner,
  recoverSpendSigner,
  signReceipt,
  signSessionKey,
  signSpend,
  spendDigest,
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

  it("recovers the signer of a spend voucher, and a different one for a changed field", async () => {
    const request = { bodyHash: hashBody("hi"), nonce: 1n, expiry: 2_000_000_000n };
    const message = { streamId: 7n, cumulative: 4200n, request };
    const signature = await signSpend(sender, domain, message);
    expect(await recoverSpendSigner(domain, message, signature)).toBe(sender.address);
    expect(await recoverSpendSigner(domain, { ...message, cumulative: 4201n }, signature)).not.toBe(sender.address);
    expect(await recoverSpendSigner(domain, { ...message, request: { ...request, nonce: 2n } }, signature)).not.toBe(sender.address);
    expect(await recoverSpendSigner({ ...domain, chainId: 97 }, message, signature)).not.toBe(sender.address);
  });

  it("hashes the nested Request as EIP-712 hashStruct, which is what StreamPay takes as Voucher.request", () => {
    const typeHash = keccak256(toBytes("Request(bytes32 bodyHash,uint256 nonce,uint256 expiry)"));
    const request = { bodyHash: hashBody("hi"), nonce: 5n, expiry: 9n };
    const expected = keccak256(encodeAbiParameters(
      [{ type: "bytes32" }, { type: "bytes32" }, { type: "uint256" }, { type: "uint256" }],
      [typeHash, request.bodyHash, request.nonce, request.expiry],
    ));
    expect(hashRequest(request)).toBe(expected);
    // A voucher sent on its own carries the all-zero Request, whose hash is not zero.
    expect(NO_REQUEST).toEqual({ bodyHash: zeroHash, nonce: 0n, expiry: 0n });
    expect(hashRequest(NO_REQUEST)).not.toBe(zeroHash);
    expect(spendDigest(domain, { streamId: 1n, cumulative: 1n, request })).not.toBe(
      spendDigest(domain, { streamId: 1n, cumulative: 1n, request: NO_REQUEST }),
    );
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
