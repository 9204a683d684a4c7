/**
 * A throwaway PostgreSQL server for the Postgres variant of the suite: initdb into a temporary folder,
 * `postgres` on 127.0.0.1 and a free port (run as user `postgres` when the tests run as root, since
 * initdb refuses root), stopped with SIGINT (fast shutdown) and its folder deleted afterwards.
 * Binaries: $PG_BIN, else the newest /usr/lib/postgresql/<version>/bin (Debian's `postgresql` package).
 */
import { execFileSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { type ManagedProcess, freePort, startProcess, waitFor } from "@clawcompute/scripts/lib/processes.ts";

export type TestPostgres = { port: number; urlFor: (database: string) => string; createDatabase: (name: string) => Promise<string>; stop: () => Promise<void> };

function findBinDir(): string {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, "bin", "initdb"))) : [];
  versions.sort((a, b) => Number(b) - Number(a));
  if (!versions.length) {
    throw new Error("PostgreSQL server binaries not found: install them (`apt-get install -y postgresql`) or set PG_BIN to the folder holding initdb and postgres.");
  }
  return join(root, versions[0]!, "bin");
}

export async function startPostgres(): Promise<TestPostgres> {
  const bin = findBinDir();
  const dir = mkdtempSync(join(tmpdir(), "claw-indexer-pg-"));
  const asRoot = process.getuid?.() === 0;
  const wrap = (command: string, args: string[]): [string, string[]] => (asRoot ? ["runuser", ["-u", "postgres", "--", command, ...args]] : [command, args]);
  if (asRoot) {
    const uid = Number(execFileSync("id", ["-u", "postgres"]).toString().trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"]).toString().trim());
    chownSync(dir, uid, gid);
  }
  const data = join(dir, "data");
  const [initCmd, initArgs] = wrap(join(bin, "initdb"), ["-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"]);
  execFileSync(initCmd, initArgs, { stdio: "pipe" });
  const port = await freePort();
  const [cmd, args] = wrap(join(bin, "postgres"), [
    "-D", data, "-p", String(port), "-k", dir, "-c", "listen_addresses=127.0.0.1",
    "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=200",
  ]);
  const server: ManagedProcess = startProcess(`postgres:${port}`, cmd, args);
  const urlFor = (database: string) => `postgresql://postgres@127.0.0.1:${port}/${database}`;
  try {
    await waitFor(`postgres on port ${port}`, async () => {
      if (server.child.exitCode !== null) throw new Error(`postgres exited: ${server.output()}`);
      const client = new pg.Client({ connectionString: urlFor("postgres") });
      try {
        await client.connect();
        await client.query("SELECT 1");
        return true;
      } finally {
        await client.end().catch(() => {});
      }
    }, 30_000, 100);
  } catch (error) {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    port,
    urlFor,
    createDatabase: async (name) => {
      const client = new pg.Client({ connectionString: urlFor("postgres") });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE "${name}"`);
      } finally {
        await client.end();
      }
      return urlFor(name);
    },
    stop: async () => {
      await server.stop({ signal: "SIGINT", graceMs: 15_000 });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
