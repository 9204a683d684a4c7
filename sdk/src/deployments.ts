/**
 * `deployments/<chainId>.json`: the one source of truth for contract addresses, written by
 * `npm run deploy` and read by the indexer, agents, frontend and scripts.
 */
import { type Address, type Hex, getAddress, isAddress, isHex } from "viem";

export type ContractDeployment = {
  address: Address;
  /** Block of the deployment transaction (the indexer starts there). */
  blockNumber: number;
  transactionHash: Hex;
};

export type Deployment = {
  chainId: number;
  contracts: {
    StreamPay: ContractDeployment;
    ComputeRegistry: ContractDeployment;
    /** Mintable 6-decimal stablecoin, local and test chains only. */
    TestUSD?: ContractDeployment;
  };
  /** Constructor parameters: wei and seconds, as decimal strings. */
  parameters: { minStake: string; stakeCooldown: string; gracePeriod: string; challengeWindow: string };
};

export type ContractName = keyof Deployment["contracts"];

/** Validates a parsed deployment file, with errors that name the file and the bad field. */
export function parseDeployment(value: unknown, source = "deployment"): Deployment {
  const fail = (what: string): never => {
    throw new Error(`${source}: ${what}. Re-run \`npm run deploy\` to rewrite it.`);
  };
  if (typeof value !== "object" || value === null) fail("not a JSON object");
  const v = value as Record<string, unknown>;
  if (!Number.isSafeInteger(v.chainId)) fail("chainId must be an integer");
  const contracts = v.contracts as Record<string, unknown> | undefined;
  if (typeof contracts !== "object" || contracts === null) fail("missing `contracts`");
  const parsed: Partial<Record<ContractName, ContractDeployment>> = {};
  for (const name of ["StreamPay", "ComputeRegistry", "TestUSD"] as const) {
    const c = contracts![name] as Record<string, unknown> | undefined;
    if (c === undefined) {
      if (name === "TestUSD") continue;
      fail(`missing contracts.${name}`);
    }
    if (typeof c!.address !== "string" || !isAddress(c!.address)) fail(`contracts.${name}.address is not an address`);
    if (!Number.isSafeInteger(c!.blockNumber) || (c!.blockNumber as number) < 0) fail(`contracts.${name}.blockNumber is not a block number`);
    if (typeof c!.transactionHash !== "string" || !isHex(c!.transactionHash) || c!.transactionHash.length !== 66) {
      fail(`contracts.${name}.transactionHash is not a transaction hash`);
    }
    parsed[name] = {
      address: getAddress(c!.address as string),
      blockNumber: c!.blockNumber as number,
      transactionHash: c!.transactionHash as Hex,
    };
  }
  const parameters = (v.parameters ?? {}) as Record<string, unknown>;
  return {
    chainId: v.chainId as number,
    contracts: parsed as Deployment["contracts"],
    parameters: {
      minStake: String(parameters.minStake ?? "0"),
      stakeCooldown: String(parameters.stakeCooldown ?? "0"),
      gracePeriod: String(parameters.gracePeriod ?? "0"),
      challengeWindow: String(parameters.challengeWindow ?? "0"),
    },
  };
}
