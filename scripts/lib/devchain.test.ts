import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createPublicClient, http } from "viem";
import { computeRegistryAbi, streamPayAbi } from "@clawcompute/sdk";
import { type DevChain, deployContracts, startChain } from "./devchain.ts";

describe("dev chain", () => {
  let chain: DevChain | undefined;
  const dir = mkdtempSync(join(tmpdir(), "claw-deployments-"));
  afterAll(async () => {
    await chain?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("starts anvil on a free port, deploys idempotently, and stops exactly its own process", async () => {
    chain = await startChain();
    const journal = join(dir, "ignition");
    const first = await deployContracts({ rpcUrl: chain.rpcUrl, deploymentsDir: dir, ignitionDir: journal });
    const client = createPublicClient({ transport: http(chain.rpcUrl) });
    const blockAfterFirst = await client.getBlockNumber();
    const second = await deployContracts({ rpcUrl: chain.rpcUrl, deploymentsDir: dir, ignitionDir: journal });
    expect(second).toEqual(first); // same addresses, blocks and hashes
    expect(await client.getBlockNumber()).toBe(blockAfterFirst); // and nothing new was sent
    expect(await client.readContract({ address: first.contracts.StreamPay.address, abi: streamPayAbi, functionName: "registry" }))
      .toBe(first.contracts.ComputeRegistry.address);
    expect(await client.readContract({ address: first.contracts.ComputeRegistry.address, abi: computeRegistryAbi, functionName: "streamPay" }))
      .toBe(first.contracts.StreamPay.address);
    const receipt = await client.getTransactionReceipt({ hash: first.contracts.StreamPay.transactionHash });
    expect(Number(receipt.blockNumber)).toBe(first.contracts.StreamPay.blockNumber);
    expect(receipt.contractAddress?.toLowerCase()).toBe(first.contracts.StreamPay.address.toLowerCase());
    expect(first.contracts.TestUSD).toBeDefined();

    const pid = chain.process.child.pid!;
    await chain.stop();
    expect(() => process.kill(pid, 0)).toThrow(); // gone
    chain = undefined;
  }, 120_000);
});

describe("startChain on a taken port", () => {
  it("refuses instead of attaching to somebody else's chain", async () => {
    const first = await startChain();
    try {
      await expect(startChain({ port: first.port })).rejects.toThrow(`Port ${first.port} is already in use`);
    } finally {
      await first.stop();
    }
  }, 60_000);
});
