/**
 * Starts the indexer exactly as operators do (`scripts/run.ts start`, the `npm run start` entry) on a
 * free port with its own data folder or database, and stops exactly that process group with SIGINT.
 */
import { fileURLToPath } from "node:url";
import { type ManagedProcess, freePort, startProcess } from "@clawcompute/scripts/lib/processes.ts";
import { waitUntilIndexed } from "../../lib/readiness.ts";

const indexerRoot = fileURLToPath(new URL("../../", import.meta.url));
const tsxCli = fileURLToPath(import.meta.resolve("tsx/cli"));

export type IndexerOptions = {
  rpcUrl: string;
  deploymentsDir: string;
  /** PGlite data folder (ignored with databaseUrl). */
  dataDir: string;
  databaseUrl?: string;
  port?: number;
  env?: Record<string, string>;
};

export type RunningIndexer = {
  url: string;
  port: number;
  process: ManagedProcess;
  waitIndexed: (timeoutMs?: number) => Promise<void>;
  graphql: <T = any>(query: string, variables?: Record<string, unknown>) => Promise<T>;
  sql: (sql: string) => Promise<Record<string, unknown>[]>;
  stop: () => Promise<void>;
};

export async function startIndexer(options: IndexerOptions): Promise<RunningIndexer> {
  const port = options.port ?? (await freePort());
  const inherited: NodeJS.ProcessEnv = { ...process.env };
  delete inherited.DATABASE_URL;
  delete inherited.DATABASE_SCHEMA;
  const env: NodeJS.ProcessEnv = {
    ...inherited,
    CHAIN_ID: "31337",
    RPC_URL: options.rpcUrl,
    DEPLOYMENTS_DIR: options.deploymentsDir,
    INDEXER_DATA_DIR: options.dataDir,
    INDEXER_HOST: "127.0.0.1",
    PORT: String(port),
    INDEXER_SKIP_ENV_FILES: "1",
    ...(options.databaseUrl ? { DATABASE_URL: options.databaseUrl } : {}),
    ...options.env,
  };
  const proc = startProcess(`indexer:${port}`, process.execPath, [tsxCli, "scripts/run.ts", "start"], {
    cwd: indexerRoot,
    env,
    echo: process.env.INDEXER_TEST_ECHO === "1",
  });
  const url = `http://127.0.0.1:${port}`;
  const indexer: RunningIndexer = {
    url,
    port,
    process: proc,
    waitIndexed: async (timeoutMs = 120_000) => {
      const exited = proc.exited.then((code) => {
        throw new Error(`indexer exited (${code}) before it was ready:\n${proc.output().slice(-4000)}`);
      });
      await Promise.race([waitUntilIndexed({ indexerUrl: url, rpcUrl: options.rpcUrl, chainName: "local", timeoutMs, intervalMs: 100 }), exited]);
    },
    graphql: async (query, variables) => {
      const response = await fetch(`${url}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ query, variables }),
      });
      const json = (await response.json()) as { data?: unknown; errors?: { message: string }[] };
      if (json.errors?.length) throw new Error(`GraphQL: ${json.errors.map((e) => e.message).join("; ")}\n${query}`);
      return json.data as never;
    },
    sql: async (sql) => {
      // The wire format of @ponder/client: GET /sql/db?sql=<superjson {sql, params, typings}>.
      const payload = JSON.stringify({ json: { sql, params: [], typings: [] } });
      const response = await fetch(`${url}/sql/db?sql=${encodeURIComponent(payload)}`);
      if (!response.ok) throw new Error(`SQL over HTTP ${response.status}: ${await response.text()}`);
      const json = (await response.json()) as { rows: Record<string, unknown>[] };
      return json.rows;
    },
    stop: () => proc.stop({ signal: "SIGINT", graceMs: 30_000 }),
  };
  return indexer;
}
