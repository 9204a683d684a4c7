/** The hot-path EIP-712 code agrees with the SDK (viem) and with StreamPay itself. */
import { describe, expect, it } from "vitest";
import { bytesToHex, hashTypedData } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import {
  type PaymentDomainParameters,
  hashBody,
  hashRequest,
  paymentDomain,
  paymentTypes,
  receiptDigest,
  recoverReceiptSigner,
  signSessionKey,
  signSpend,
  streamPayAbi,
} from "@clawcompute/sdk";
import { DigestSigner, PaymentSigner, hashBodyBytes, recoverAddress } from "../src/signatures.ts";
import { chainContext } from "./helpers.ts";

const domain: PaymentDomainParameters = { chainId: 31337, streamPay: "0x5FbDB2315678afecb367f032d93F642f64180aa3" };
const big = (1n << 255n) + 12345n;

describe("payment signatures", () => {
  const signer = new PaymentSigner(domain);

  it("digests equal viem's hashTypedData for Spend, Request, SessionKey and Receipt, small and huge values", () => {
    for (const [streamId, nonce, expiry] of [[1n, 2n, 3n], [big, big - 1n, 2n ** 64n]]) {
      const bodyHash = hashBody('{"a":1}');
      const request = { bodyHash, nonce, expiry };
      const requestHash = signer.requestHash(bodyHash, nonce, expiry);
      expect(bytesToHex(requestHash)).toBe(hashRequest(request));
      for (const cumulative of [0n, 7n, big]) {
        const message = { streamId, cumulative, request };
        expect(bytesToHex(signer.spendDigest(streamId, cumulative, requestHash))).toBe(
          hashTypedData({ domain: paymentDomain(domain), types: paymentTypes, primaryType: "Spend", message }),
        );
      }
      const key = privateKeyToAccount(generatePrivateKey()).address;
      expect(bytesToHex(signer.sessionKeyDigest(streamId, key, expiry))).toBe(
        hashTypedData({ domain: paymentDomain(domain), types: paymentTypes, primaryType: "SessionKey", message: { streamId, key, expiry } }),
      );
      for (const final of [true, false]) expect(bytesToHex(signer.receiptDigest(streamId, nonce, final))).toBe(receiptDigest(domain, { streamId, amount: nonce, final }));
    }
    expect(hashBodyBytes(new TextEncoder().encode("héllo"))).toBe(hashBody("héllo"));
  });

  it("recovers SDK-signed vouchers and session keys; a changed field recovers someone else; no garbage", async () => {
    const account = privateKeyToAccount(generatePrivateKey());
    const request = { bodyHash: hashBody(""), nonce: 99n, expiry: 1000n };
    const sig = await signSpend(account, domain, { streamId: 7n, cumulative: 500n, request });
    const digestOf = (streamId: bigint, cumulative: bigint, r = request) =>
      signer.spendDigest(streamId, cumulative, signer.requestHash(r.bodyHash, r.nonce, r.expiry));
    expect(recoverAddress(digestOf(7n, 500n), sig)).toBe(account.address);
    expect(recoverAddress(digestOf(7n, 501n), sig)).not.toBe(account.address); // another amount
    expect(recoverAddress(digestOf(8n, 500n), sig)).not.toBe(account.address); // another stream
    expect(recoverAddress(digestOf(7n, 500n, { ...request, nonce: 100n }), sig)).not.toBe(account.address);
    expect(recoverAddress(digestOf(7n, 500n, { ...request, bodyHash: hashBody("x") }), sig)).not.toBe(account.address);
    const sk = await signSessionKey(account, domain, { streamId: 7n, key: account.address, expiry: 5n });
    expect(recoverAddress(signer.sessionKeyDigest(7n, account.address, 5n), sk)).toBe(account.address);
    expect(recoverAddress(signer.sessionKeyDigest(7n, account.address, 5n), "0x1234")).toBeUndefined();
    expect(recoverAddress(signer.sessionKeyDigest(7n, account.address, 5n), `0x${"00".repeat(64)}1b`)).toBeUndefined();
  });

  it("receipts signed natively verify with the SDK; every digest equals StreamPay's own on-chain", async () => {
    const key = generatePrivateKey();
    const account = privateKeyToAccount(key);
    const ds = new DigestSigner(key, account.address);
    const sig = ds.sign(signer.receiptDigest(5n, 123n, true));
    expect(await recoverReceiptSigner(domain, { streamId: 5n, amount: 123n, final: true }, sig)).toBe(account.address);
    expect(JSON.stringify({ ds })).not.toContain(key.slice(2));

    const ctx = chainContext();
    const onchain = new PaymentSigner(ctx.domain);
    const read = (functionName: "hashReceipt" | "hashSpend" | "hashSessionKey", args: readonly unknown[]) =>
      ctx.publicClient.readContract({
        address: ctx.domain.streamPay,
        abi: streamPayAbi,
        functionName,
        args: args as never,
      }) as Promise<`0x${string}`>;
    const amount = 10n ** 18n;
    expect(bytesToHex(onchain.receiptDigest(42n, amount, true))).toBe(await read("hashReceipt", [42n, amount, true]));
    const requestHash = onchain.requestHash(hashBody('{"model":"m"}'), big, 1_900_000_000n);
    const spend = await read("hashSpend", [42n, amount, bytesToHex(requestHash)]);
    expect(bytesToHex(onchain.spendDigest(42n, amount, requestHash))).toBe(spend);
    const session = await read("hashSessionKey", [42n, account.address, 1_900_000_000n]);
    expect(bytesToHex(onchain.sessionKeyDigest(42n, account.address, 1_900_000_000n))).toBe(session);
  });
});
