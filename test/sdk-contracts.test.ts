/**
 * The SDK against the real contracts on a local chain: EIP-712 digests and signatures the SDK makes are
 * the ones StreamPay verifies (receipts, spend vouchers from real payment headers, session keys), and the
 * SDK's stream maths matches the contract's views over time.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestClient, createWalletClient, http, publicActions, zeroAddress } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import {
  type Deployment,
  authorizeSessionKey,
  chainById,
  computeRegistryAbi,
  createPaymentHeaders,
  hashBody,
  hashRequest,
  namedSessionKey,
  readPaymentHeaders,
  receiptDigest,
  sessionKeyDigest,
  signReceipt,
  signVoucher,
  spendDigest,
  streamPayAbi,
  streamedAt,
  voucherArgs,
  voucherOfProof,
} from "@clawcompute/sdk";
import { DEV_PRIVATE_KEYS, type DevChain, deployContracts, startChain } from "@clawcompute/scripts/lib/devchain.ts";

let chain: DevChain;
let deployment: Deployment;
const dir = mkdtempSync(join(tmpdir(), "claw-e2e-"));
const provider = privateKeyToAccount(DEV_PRIVATE_KEYS[1]);
const consumer = privateKeyToAccount(DEV_PRIVATE_KEYS[2]);

beforeAll(async () => {
  chain = await startChain();
  deployment = await deployContracts({ rpcUrl: chain.rpcUrl, deploymentsDir: dir, ignitionDir: "scratch" });
}, 120_000);

afterAll(async () => {
  await chain?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function clients() {
  const transport = http(chain.rpcUrl);
  const local = chainById(31337, chain.rpcUrl);
  return {
    provider: createWalletClient({ account: provider, chain: local, transport }).extend(publicActions),
    consumer: createWalletClient({ account: consumer, chain: local, transport }).extend(publicActions),
    test: createTestClient({ mode: "anvil", chain: local, transport }).extend(publicActions),
  };
}

describe("SDK x contracts", () => {
  it("signs receipts StreamPay accepts, and the stream maths agrees with the contract", async () => {
    const c = clients();
    const streamPay = deployment.contracts.StreamPay.address;
    const registry = deployment.contracts.ComputeRegistry.address;
    const rate = 1_000_000_000_000n;

    await c.provider.waitForTransactionReceipt({
      hash: await c.provider.writeContract({ address: registry, abi: computeRegistryAbi, functionName: "registerProvider", args: ["e2e-model", rate, "http://127.0.0.1:1", "llm", zeroAddress] }),
    });
    const providerId = await c.provider.readContract({ address: registry, abi: computeRegistryAbi, functionName: "providerIdOf", args: [provider.address, "e2e-model"] });
    const deposit = rate * 600n;
    const { result: streamId, request } = await c.consumer.simulateContract({ address: streamPay, abi: streamPayAbi, functionName: "createStream", args: [providerId, rate, deposit, zeroAddress], value: deposit });
    await c.consumer.waitForTransactionReceipt({ hash: await c.consumer.writeContract(request) });
    const stream = await c.consumer.readContract({ address: streamPay, abi: streamPayAbi, functionName: "getStream", args: [streamId] });

    // The SDK's stream maths equals the contract's view at several points in time.
    for (const elapsed of [7, 100, 599, 600, 900]) {
      await c.test.setNextBlockTimestamp({ timestamp: BigInt(stream.startTime) + BigInt(elapsed) });
      await c.test.mine({ blocks: 1 });
      const onChain = await c.consumer.readContract({ address: streamPay, abi: streamPayAbi, functionName: "streamedAmountOf", args: [streamId] });
      const block = await c.test.getBlock();
      expect(streamedAt(BigInt(stream.ratePerSecond), BigInt(stream.startTime), BigInt(stream.stopTime), block.timestamp)).toBe(onChain);
    }

    // The SDK's digest is the contract's, and a receipt the SDK signs closes the stream exactly.
    const domain = { chainId: 31337, streamPay };
    const amount = 4_200_000_000_000n; // 4.2 seconds
    expect(receiptDigest(domain, { streamId, amount, final: true })).toBe(
      await c.consumer.readContract({ address: streamPay, abi: streamPayAbi, functionName: "hashReceipt", args: [streamId, amount, true] }),
    );
    const signature = await signReceipt(provider, domain, { streamId, amount, final: true });
    const before = await c.consumer.getBalance({ address: consumer.address });
    const receipt = await c.consumer.waitForTransactionReceipt({
      hash: await c.consumer.writeContract({ address: streamPay, abi: streamPayAbi, functionName: "closeWithReceipt", args: [streamId, amount, signature] }),
    });
    const after = await c.consumer.getBalance({ address: consumer.address });
    const gasCost = receipt.gasUsed * receipt.effectiveGasPrice;
    expect(after - before + gasCost).toBe(deposit - amount); // the consumer got back all but 4.2 s
    expect(await c.consumer.readContract({ address: streamPay, abi: streamPayAbi, functionName: "balanceOf", args: [provider.address, zeroAddress] })).toBe(amount);

    // A non-final receipt is not accepted on-chain.
    const { result: secondId, request: second } = await c.consumer.simulateContract({ address: streamPay, abi: streamPayAbi, functionName: "createStream", args: [providerId, rate, deposit, zeroAddress], value: deposit });
    await c.consumer.waitForTransactionReceipt({ hash: await c.consumer.writeContract(second) });
    const notFinal = await signReceipt(provider, domain, { streamId: secondId, amount, final: false });
    await expect(
      c.consumer.simulateContract({ address: streamPay, abi: streamPayAbi, functionName: "closeWithReceipt", args: [secondId, amount, notFinal] }),
    ).rejects.toThrow(/StreamPay_InvalidReceiptSignature/);
  }, 120_000);

  it("pays out on the vouchers that real payment headers carry: by the sender, an authorised and a named session key", async () => {
    const c = clients();
    const streamPay = deployment.contracts.StreamPay.address;
    const registry = deployment.contracts.ComputeRegistry.address;
    const domain = { chainId: 31337, streamPay };
    const rate = 1_000_000_000_000n;
    const providerId = await c.provider.readContract({ address: registry, abi: computeRegistryAbi, functionName: "providerIdOf", args: [provider.address, "e2e-model"] });
    const named = privateKeyToAccount(generatePrivateKey());
    const open = async (sessionKey: `0x${string}`) => {
      const { result, request } = await c.consumer.simulateContract({ address: streamPay, abi: streamPayAbi, functionName: "createStream", args: [providerId, rate, rate * 600n, sessionKey], value: rate * 600n });
      await c.consumer.waitForTransactionReceipt({ hash: await c.consumer.writeContract(request) });
      return result;
    };
    const withdraw = async (streamId: bigint, voucher: ReturnType<typeof voucherArgs>) => {
      const hash = await c.provider.writeContract({ address: streamPay, abi: streamPayAbi, functionName: "withdrawFromStream", args: [streamId, voucher] });
      await c.provider.waitForTransactionReceipt({ hash });
      return c.provider.readContract({ address: streamPay, abi: streamPayAbi, functionName: "getStream", args: [streamId] });
    };
    const byKey = await open(zeroAddress);
    const byNamed = await open(named.address);
    await c.test.increaseTime({ seconds: 100 });
    await c.test.mine({ blocks: 1 });

    // The digests the SDK signs are the contract's own.
    const body = JSON.stringify({ model: "e2e-model", messages: [{ role: "user", content: "hi" }] });
    const request = { bodyHash: hashBody(body), nonce: 9n, expiry: 4_000_000_000n };
    expect(spendDigest(domain, { streamId: byKey, cumulative: 5n, request })).toBe(
      await c.consumer.readContract({ address: streamPay, abi: streamPayAbi, functionName: "hashSpend", args: [byKey, 5n, hashRequest(request)] }),
    );
    const authMessage = { streamId: byKey, key: named.address, expiry: 4_000_000_000n };
    expect(sessionKeyDigest(domain, authMessage)).toBe(
      await c.consumer.readContract({ address: streamPay, abi: streamPayAbi, functionName: "hashSessionKey", args: [byKey, named.address, 4_000_000_000n] }),
    );

    // A request signed by the sender carries a voucher the provider can redeem as it came.
    const fromSender = await createPaymentHeaders({ signer: consumer, domain, streamId: byKey, cumulative: rate * 3n, body });
    const proof = readPaymentHeaders((n) => fromSender[n])!;
    expect((await withdraw(byKey, voucherArgs(voucherOfProof(proof, hashBody(body))))).withdrawn).toBe(rate * 3n);

    // A session key the sender authorised once signs the next request: its voucher pays too.
    const browserKey = privateKeyToAccount(generatePrivateKey());
    const block = await c.test.getBlock();
    const session = await authorizeSessionKey(consumer, domain, byKey, browserKey.address, block.timestamp + 3600n);
    const fromSession = await createPaymentHeaders({ signer: browserKey, domain, streamId: byKey, cumulative: rate * 7n, body, session });
    const sessionProof = readPaymentHeaders((n) => fromSession[n])!;
    expect((await withdraw(byKey, voucherArgs(voucherOfProof(sessionProof, hashBody(body))))).withdrawn).toBe(rate * 7n);

    // The key named in createStream needs no authorisation at all, and a voucher sent on its own works.
    const standalone = await signVoucher({ signer: named, domain, streamId: byNamed, cumulative: rate * 11n, session: namedSessionKey(named.address) });
    expect((await withdraw(byNamed, voucherArgs(standalone))).withdrawn).toBe(rate * 11n);

    // The same named key is nobody on the other stream.
    const foreign = await signVoucher({ signer: named, domain, streamId: byKey, cumulative: rate * 20n, session: namedSessionKey(named.address) });
    await expect(
      c.provider.simulateContract({ address: streamPay, abi: streamPayAbi, functionName: "withdrawFromStream", args: [byKey, voucherArgs(foreign)] }),
    ).rejects.toThrow(/StreamPay_InvalidSessionKeySignature/);
  }, 120_000);
});
