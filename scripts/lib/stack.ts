/**
 * The local ClawCompute stack: chain (anvil), contracts, indexer (Ponder on PGlite) and a provider agent
 * on the echo backend. `npm start` runs it; the end-to-end tests start it on free ports.
 * Uses the dev chain's well-known accounts (local only): #1 is the provider.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Deployment } from "@clawcompute/sdk";
import { DEV_PRIVATE_KEYS, type DevChain, deployContracts, repoRoot, startChain } from "./devchain.ts";
import { type ManagedProcess, freePort, isPortFree, startProcess, waitFor } from "./processes.ts";

export type StackOptions = {
  /** Preferred ports; a taken one is replaced by a free one. Default: any free port. */
  chainPort?: number;
  indexerPort?: number;
  providerPort?: number;
  /** Folder for the indexer's and provider's data (default: a folder per stack under .tmp/). */
  dataDir: string;
  /** Where deployments/31337.json goes (default: the repository's deployments/). */
  deploymentsDir?: string;
  /** Ignition journal folder, or "scratch" (default: contracts/ignition). */
  ignitionDir?: string | "scratch";
  /** The provider's model, price (wei per second) and echo speed. */
  model?: string;
  pricePerSecond?: bigint;
  echoTokensPerSecond?: number;
  /** Echo every process's output to stderr. */
  echo?: boolean;
  /** Called as each part comes up. */
  onStep?: (message: string) => void;
};

export type Stack = {
  chain: DevChain;
  deployment: Deployment;
  indexerUrl: string;
  providerUrl: string;
  model: string;
  processes: { indexer: ManagedProcess; provider: ManagedProcess };
  stop: () => Promise<void>;
};

async function port(preferred?: number): Promise<number> {
  if (preferred !== undefined && (await isPortFree(preferred))) return preferred;
  return freePort();
}

async function waitHealthy(what: string, proc: ManagedProcess, url: string, timeoutMs: number): Promise<void> {
  await waitFor(what, async () => {
    if (proc.child.exitCode !== null) throw new Error(`${what} exited (${proc.child.exitCode}):\n${proc.output().slice(-3000)}`);
    const response = await fetch(url);
    return response.ok;
  }, timeoutMs, 200);
}

/** Starts chain, contracts, indexer and provider; stops whatever started if a later part fails. */
export async function startStack(options: StackOptions): Promise<Stack> {
  const step = options.onStep ?? (() => {});
  const model = options.model ?? "echo-1";
  const started: Array<{ stop: () => Promise<void> }> = [];
  const stopStarted = async () => {
    for (const part of started.reverse()) await part.stop().catch(() => {});
  };
  try {
    const chainPort = await port(options.chainPort);
    step(`chain: anvil on 127.0.0.1:${chainPort}`);
    const chain = await startChain({ port: chainPort, echo: options.echo });
    started.push(chain);

    step("contracts: deploying");
    const deployment = await deployContracts({
      rpcUrl: chain.rpcUrl,
      deploymentsDir: options.deploymentsDir,
      ignitionDir: options.ignitionDir,
      echo: options.echo,
    });

    const indexerPort = await port(options.indexerPort);
    const indexerUrl = `http://127.0.0.1:${indexerPort}`;
    step(`indexer: Ponder on ${indexerUrl}`);
    const indexerData = join(options.dataDir, "indexer");
    mkdirSync(indexerData, { recursive: true });
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("PROVIDER_") && k !== "DATABASE_URL"));
    const indexer = startProcess("indexer", "npx", ["tsx", "scripts/run.ts", "start"], {
      cwd: join(repoRoot, "indexer"),
      env: {
        ...inherited,
        CHAIN_ID: "31337",
        RPC_URL: chain.rpcUrl,
        ...(options.deploymentsDir ? { DEPLOYMENTS_DIR: options.deploymentsDir } : {}),
        INDEXER_DATA_DIR: indexerData,
        INDEXER_HOST: "127.0.0.1",
        PORT: String(indexerPort),
        INDEXER_SKIP_ENV_FILES: "1",
      },
      echo: options.echo,
    });
    started.push({ stop: () => indexer.stop({ signal: "SIGINT", graceMs: 15_000 }) });

    const providerPort = await port(options.providerPort);
    const providerUrl = `http://127.0.0.1:${providerPort}`;
    step(`provider agent: "${model}" on ${providerUrl} (echo backend)`);
    const providerData = join(options.dataDir, "provider");
    mkdirSync(providerData, { recursive: true });
    const provider = startProcess("provider", "npx", ["tsx", "src/main.ts"], {
      cwd: join(repoRoot, "provider-agent"),
      env: {
        ...inherited,
        PROVIDER_ENV_FILE: "/dev/null",
        PROVIDER_PRIVATE_KEY: DEV_PRIVATE_KEYS[1], // well-known dev key: local chain only
        PROVIDER_RPC_URL: chain.rpcUrl,
        PROVIDER_CHAIN_ID: "31337",
        ...(options.deploymentsDir ? { PROVIDER_DEPLOYMENTS_DIR: options.deploymentsDir } : {}),
        PROVIDER_HOST: "127.0.0.1",
        PROVIDER_PORT: String(providerPort),
        PROVIDER_PUBLIC_URL: providerUrl,
        PROVIDER_DATA_DIR: providerData,
        PROVIDER_MODEL: model,
        PROVIDER_PRICE_PER_SECOND: String(options.pricePerSecond ?? 1_000_000_000_000n),
        PROVIDER_ECHO_TOKENS_PER_SECOND: String(options.echoTokensPerSecond ?? 40),
        PROVIDER_POLL_INTERVAL_MS: "200",
        PROVIDER_MIN_DEPOSIT_SECONDS: "10",
      },
      echo: options.echo,
    });
    started.push({ stop: () => provider.stop({ signal: "SIGTERM", graceMs: 30_000 }) });

    await waitHealthy("provider agent", provider, `${providerUrl}/healthz`, 120_000);
    step("indexer: catching up with the chain");
    await waitFor("indexer to reach the chain head", async () => {
      if (indexer.child.exitCode !== null) throw new Error(`indexer exited (${indexer.child.exitCode}):\n${indexer.output().slice(-3000)}`);
      const wait = startProcess("wait-ready", "npx", ["tsx", "scripts/wait-ready.ts"], {
        cwd: join(repoRoot, "indexer"),
        env: { ...inherited, INDEXER_URL: indexerUrl, RPC_URL: chain.rpcUrl, CHAIN_ID: "31337", INDEXER_SKIP_ENV_FILES: "1", WAIT_READY_TIMEOUT_MS: "600000" },
      });
      return (await wait.exited) === 0;
    }, 600_000, 500);

    return {
      chain,
      deployment,
      indexerUrl,
      providerUrl,
      model,
      processes: { indexer, provider },
      stop: stopStarted,
    };
  } catch (error) {
    await stopStarted();
    throw error;
  }
}
