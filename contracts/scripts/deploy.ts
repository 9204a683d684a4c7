/**
 * Deploys StreamPay (which deploys ComputeRegistry) with Hardhat Ignition and writes
 * deployments/<chainId>.json: address, deploy block and transaction hash of each contract.
 *
 *   npm run deploy                          # local chain at $RPC_URL (default http://127.0.0.1:8545)
 *   NETWORK=bscTestnet npm run deploy       # a configured testnet (key from env or keystore)
 *
 * Parameters (env): MIN_STAKE (wei, default 0), STAKE_COOLDOWN (seconds, default 604800), GRACE_PERIOD and
 * CHALLENGE_WINDOW (seconds; defaults 300 and 120 on a local chain, 3600 each elsewhere — see
 * contracts/TECHNICAL-DOC.md for why).
 * On local chains it also deploys the TestUSD stablecoin. Re-running against the same chain is a no-op;
 * after a local chain restart the stale Ignition journal is detected and the contracts are redeployed.
 */
import { existsSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import hre, { network } from "hardhat";
import type { Address, Hex } from "viem";
import { type ContractDeployment, type Deployment, isLocalChain } from "@clawcompute/sdk";
import { writeDeployment } from "@clawcompute/sdk/node";
import ClawComputeModule from "../ignition/modules/ClawCompute.ts";
import TestUSDModule from "../ignition/modules/TestUSD.ts";

function bigintEnv(name: string, fallback: bigint): bigint {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  if (!/^\d+$/.test(raw)) {
    console.error(`${name} must be a whole number, got "${raw}".`);
    process.exit(1);
  }
  return BigInt(raw);
}

const minStake = bigintEnv("MIN_STAKE", 0n);
const stakeCooldown = bigintEnv("STAKE_COOLDOWN", 7n * 24n * 60n * 60n);

const { viem, ignition } = await network.getOrCreate();
const publicClient = await viem.getPublicClient();
const chainId = await publicClient.getChainId();
const local = isLocalChain(chainId);
// A local chain is for trying things out: minutes, so a cancel or an abandoned stream resolves while you
// watch. A public chain needs an hour: a provider must be able to come back from an outage and answer.
const gracePeriod = bigintEnv("GRACE_PERIOD", local ? 300n : 3600n);
const challengeWindow = bigintEnv("CHALLENGE_WINDOW", local ? 120n : 3600n);
const deploymentId = process.env.IGNITION_DEPLOYMENT_ID ?? `chain-${chainId}`;
const journalDir = path.join(hre.config.paths.ignition, "deployments", deploymentId);

// A local chain restarted from scratch has none of the journal's contracts: start a fresh journal.
const addressesFile = path.join(journalDir, "deployed_addresses.json");
if (local && existsSync(addressesFile)) {
  const recorded = JSON.parse(readFileSync(addressesFile, "utf8")) as Record<string, Address>;
  const streamPayAddress = recorded["ClawCompute#StreamPay"];
  const code = streamPayAddress ? await publicClient.getCode({ address: streamPayAddress }) : undefined;
  if (!code || code === "0x") {
    console.log(`Chain ${chainId} was reset since the last deploy: discarding ${journalDir}.`);
    rmSync(journalDir, { recursive: true, force: true });
  }
}

const { streamPay, registry } = await ignition.deploy(ClawComputeModule, {
  deploymentId,
  parameters: { ClawCompute: { minStake, stakeCooldown, gracePeriod, challengeWindow } },
});
const testUsd = local ? (await ignition.deploy(TestUSDModule, { deploymentId })).testUsd : undefined;

/** Deployment transaction of each future, from Ignition's journal. */
function deploymentTransactions(): Map<string, Hex> {
  const hashes = new Map<string, Hex>();
  const journal = path.join(journalDir, "journal.jsonl");
  for (const line of readFileSync(journal, "utf8").split("\n")) {
    if (!line.trim()) continue;
    const entry = JSON.parse(line) as { type?: string; futureId?: string; transaction?: { hash?: Hex } };
    if (entry.type === "TRANSACTION_SEND" && entry.futureId && entry.transaction?.hash) {
      hashes.set(entry.futureId, entry.transaction.hash); // the last send (a fee bump) wins
    }
  }
  return hashes;
}

const transactions = deploymentTransactions();
async function record(futureId: string, address: Address): Promise<ContractDeployment> {
  const transactionHash = transactions.get(futureId);
  if (!transactionHash) throw new Error(`Ignition journal has no transaction for ${futureId}`);
  const receipt = await publicClient.getTransactionReceipt({ hash: transactionHash });
  return { address, blockNumber: Number(receipt.blockNumber), transactionHash };
}

const streamPayRecord = await record("ClawCompute#StreamPay", streamPay.address);
const deployment: Deployment = {
  chainId,
  contracts: {
    StreamPay: streamPayRecord,
    // Created by StreamPay's constructor: same transaction and block.
    ComputeRegistry: { ...streamPayRecord, address: registry.address },
    ...(testUsd ? { TestUSD: await record("TestUSD#TestToken", testUsd.address) } : {}),
  },
  parameters: {
    minStake: minStake.toString(),
    stakeCooldown: stakeCooldown.toString(),
    gracePeriod: gracePeriod.toString(),
    challengeWindow: challengeWindow.toString(),
  },
};
const file = writeDeployment(deployment);
console.log(`StreamPay       ${streamPay.address} (block ${streamPayRecord.blockNumber})`);
console.log(`ComputeRegistry ${registry.address}`);
if (testUsd) console.log(`TestUSD         ${testUsd.address}`);
console.log(`wrote ${file}`);
