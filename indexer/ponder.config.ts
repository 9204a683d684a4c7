/**
 * Ponder configuration. Chain id and RPC from the environment (CHAIN_ID, RPC_URL), addresses and start
 * blocks from deployments/<chainId>.json through the SDK (DEPLOYMENTS_DIR overrides the folder).
 * Start it through `npm run start` / `npm run dev`, which also handle telemetry, stale caches and the
 * schema name (see scripts/run.ts).
 */
import { createConfig } from "ponder";
import { computeRegistryAbi, streamPayAbi } from "@clawcompute/sdk";
import { loadDeployment } from "@clawcompute/sdk/node";
import { ponderRpcList, readSettings } from "./lib/settings.ts";

const settings = readSettings();
const deployment = loadDeployment(settings.chainId);
const { StreamPay, ComputeRegistry } = deployment.contracts;

export default createConfig({
  database: settings.databaseUrl
    ? { kind: "postgres", connectionString: settings.databaseUrl }
    : { kind: "pglite", directory: settings.pgliteDir },
  ordering: "multichain",
  chains: {
    [settings.chainName]: {
      id: settings.chainId,
      rpc: ponderRpcList(settings),
      pollingInterval: settings.pollingIntervalMs,
      ...(settings.ethGetLogsBlockRange ? { ethGetLogsBlockRange: settings.ethGetLogsBlockRange } : {}),
    },
  },
  contracts: {
    StreamPay: {
      chain: settings.chainName,
      abi: streamPayAbi,
      address: StreamPay.address,
      startBlock: StreamPay.blockNumber,
    },
    ComputeRegistry: {
      chain: settings.chainName,
      abi: computeRegistryAbi,
      address: ComputeRegistry.address,
      startBlock: ComputeRegistry.blockNumber,
    },
  },
  blocks: {
    // The chain's clock for `stream_view` (src/ChainClock.ts): every block from the head at start-up on.
    // Older blocks are not fetched, so a backfill costs nothing more.
    ChainClock: { chain: settings.chainName, startBlock: "latest", interval: 1 },
  },
});
