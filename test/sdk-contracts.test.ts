/**
 * The SDK against the real contracts on a local chain: EIP-712 digests and signatures the SDK makes are
 * the ones StreamPay verifies, and the SDK's stream maths matches the contract's views over time.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestClient, createWalletClient, http, publicActions, zeroAddress } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import {
  type Deployment,
  chainById,
  computeRegistryAbi,
  receiptDigest,
  signReceipt,
  streamPayAbi,
  streamedAt,
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
    const { result: streamId, request } = await c.consumer.simulateContract({ address: streamPay, abi: streamPayAbi, functionName: "createStream", args: [providerId, rate, deposit], value: deposit });
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
    const { result: secondId, request: second } = await c.consumer.simulateContract({ address: streamPay, abi: streamPayAbi, functionName: "createStream", args: [providerId, rate, deposit], value: deposit });
    await c.consumer.waitForTransactionReceipt({ hash: await c.consumer.writeContract(second) });
    const notFinal = await signReceipt(provider, domain, { streamId: secondId, amount, final: false });
    await expect(
      c.consumer.simulateContract({ address: streamPay, abi: streamPayAbi, functionName: "closeWithReceipt", args: [secondId, amount, notFinal] }),
    ).rejects.toThrow(/StreamPay_InvalidReceiptSignature/);
  }, 120_000);
});
