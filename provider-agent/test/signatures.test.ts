/** The hot-path EIP-712 code agrees with the SDK (viem) and with StreamPay itself. */
import { describe, expect, it } from "vitest";
import { bytesToHex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { type PaymentDomainParameters, hashBody, paymentDomain, paymentTypes, receiptDigest, recoverReceiptSigner, signRequest, signSessionKey, streamPayAbi } from "@clawcompute/sdk";
import { hashTypedData } from "viem";
import { DigestSigner, PaymentSigner, hashBodyBytes, recoverAddress } from "../src/signatures.ts";
import { chainContext } from "./helpers.ts";

const domain: PaymentDomainParameters = { chainId: 31337, streamPay: "0x5FbDB2315678afecb367f032d93F642f64180aa3" };
const big = (1n << 255n) + 12345n;

describe("payment signatures", () => {
  const signer = new PaymentSigner(domain);

  it("digests equal viem's hashTypedData for Request, SessionKey and Receipt, small and huge values", () => {
    for (const [streamId, nonce, expiry] of [[1n, 2n, 3n], [big, big - 1n, 2n ** 64n]]) {
      const bodyHash = hashBody('{"a":1}');
      expect(bytesToHex(signer.requestDigest(streamId, bodyHash, nonce, expiry))).toBe(
        hashTypedData({ domain: paymentDomain(domain), types: paymentTypes, primaryType: "Request", message: { streamId, bodyHash, nonce, expiry } }),
      );
      const key = privateKeyToAccount(generatePrivateKey()).address;
      expect(bytesToHex(signer.sessionKeyDigest(streamId, key, expiry))).toBe(
        hashTypedData({ domain: paymentDomain(domain), types: paymentTypes, primaryType: "SessionKey", message: { streamId, key, expiry } }),
      );
      for (const final of [true, false]) expect(bytesToHex(signer.receiptDigest(streamId, nonce, final))).toBe(receiptDigest(domain, { streamId, amount: nonce, final }));
    }
    expect(hashBodyBytes(new TextEncoder().encode("héllo"))).toBe(hashBody("héllo"));
  });

  it("recovers SDK-signed requests and session keys; rejects garbage", async () => {
    const account = privateKeyToAccount(generatePrivateKey());
    const msg = { streamId: 7n, bodyHash: hashBody(""), nonce: 99n, expiry: 1000n };
    const sig = await signRequest(account, domain, msg);
    expect(recoverAddress(signer.requestDigest(msg.streamId, msg.bodyHash, msg.nonce, msg.expiry), sig)).toBe(account.address);
    expect(recoverAddress(signer.requestDigest(msg.streamId, msg.bodyHash, msg.nonce + 1n, msg.expiry), sig)).not.toBe(account.address);
    const sk = await signSessionKey(account, domain, { streamId: 7n, key: account.address, expiry: 5n });
    expect(recoverAddress(signer.sessionKeyDigest(7n, account.address, 5n), sk)).toBe(account.address);
    expect(recoverAddress(signer.sessionKeyDigest(7n, account.address, 5n), "0x1234")).toBeUndefined();
    expect(recoverAddress(signer.sessionKeyDigest(7n, account.address, 5n), `0x${"00".repeat(64)}1b`)).toBeUndefined();
  });

  it("receipts signed natively verify with the SDK and against StreamPay.hashReceipt on-chain", async () => {
    const key = generatePrivateKey();
    const account = privateKeyToAccount(key);
    const ds = new DigestSigner(key, account.address);
    const sig = ds.sign(signer.receiptDigest(5n, 123n, true));
    expect(await recoverReceiptSigner(domain, { streamId: 5n, amount: 123n, final: true }, sig)).toBe(account.address);
    expect(JSON.stringify({ ds })).not.toContain(key.slice(2));

    const ctx = chainContext();
    const onchain = new PaymentSigner(ctx.domain);
    const digest = await ctx.publicClient.readContract({ address: ctx.domain.streamPay, abi: streamPayAbi, functionName: "hashReceipt", args: [42n, 10n ** 18n, true] });
    expect(bytesToHex(onchain.receiptDigest(42n, 10n ** 18n, true))).toBe(digest);
  });
});
