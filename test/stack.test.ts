/**
 * The whole local stack, as `npm start` brings it up (chain, contracts, indexer, provider agent on echo),
 * on free ports: one paid inference through the consumer agent, checked on-chain and in the indexer.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPublicClient, http, zeroAddress } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { streamPayAbi } from "@clawcompute/sdk";
import { DEV_PRIVATE_KEYS } from "@clawcompute/scripts/lib/devchain.ts";
import { askLocal } from "@clawcompute/scripts/lib/local-consumer.ts";
import { type Stack, startStack } from "@clawcompute/scripts/lib/stack.ts";

let stack: Stack;
const dir = mkdtempSync(join(tmpdir(), "claw-stack-test-"));

beforeAll(async () => {
  stack = await startStack({ dataDir: dir, deploymentsDir: dir, ignitionDir: "scratch" });
}, 600_000);

afterAll(async () => {
  await stack?.stop();
  rmSync(dir, { recursive: true, force: true });
}, 120_000);

describe("local stack", () => {
  it("answers a paid question and bills exactly the final receipt, on-chain and in the indexer", async () => {
    const client = createPublicClient({ transport: http(stack.chain.rpcUrl) });
    const streamPay = stack.deployment.contracts.StreamPay.address;
    const provider = privateKeyToAccount(DEV_PRIVATE_KEYS[1]).address;
    const consumer = privateKeyToAccount(DEV_PRIVATE_KEYS[2]).address;
    const consumerBefore = await client.getBalance({ address: consumer });

    let text = "";
    const answer = await askLocal(
      { rpcUrl: stack.chain.rpcUrl, indexerUrl: stack.indexerUrl, providerUrl: stack.providerUrl, model: stack.model, deploymentsDir: dir, dataDir: dir },
      "Is this billed by the second?",
      (t) => (text += t),
    );
    expect(text).toContain("Is this billed by the second?"); // the echo backend repeats the prompt
    const { summary } = answer;
    expect(summary.paid).toBeGreaterThan(0n);
    expect(summary.deposited).toBe(summary.paid + summary.refunded);

    // On-chain: the stream closed with the receipt; the provider was credited exactly what was paid, and
    // the consumer's wallet moved by the paid amount plus gas, nothing else.
    const view = await client.readContract({ address: streamPay, abi: streamPayAbi, functionName: "getStreamView", args: [answer.streamId] });
    expect(view.status).toBe(4); // Closed
    expect(view.withdrawn).toBe(summary.paid);
    expect(view.refunded).toBe(summary.refunded);
    expect(await client.readContract({ address: streamPay, abi: streamPayAbi, functionName: "balanceOf", args: [provider, zeroAddress] })).toBe(summary.paid);
    expect(consumerBefore - (await client.getBalance({ address: consumer }))).toBe(summary.paid + summary.gasCost);

    // The indexer reports the same stream, to the wei.
    let row: { status: string; withdrawn: string; refunded: string } | undefined;
    for (let i = 0; i < 100 && row?.status !== "closed_by_receipt"; i++) {
      const response = await fetch(`${stack.indexerUrl}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ query: `{ stream(id: "${answer.streamId}") { status withdrawn refunded } }` }),
      });
      row = ((await response.json()) as { data: { stream: typeof row } }).data.stream;
      if (row?.status !== "closed_by_receipt") await new Promise((r) => setTimeout(r, 100));
    }
    expect(row).toEqual({ status: "closed_by_receipt", withdrawn: summary.paid.toString(), refunded: summary.refunded.toString() });
  }, 300_000);
});
