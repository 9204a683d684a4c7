/**
 * The launcher's memory between runs, kept next to the data it describes, and the clean-ups it does:
 * - PGlite: a JSON file in the chain's data folder; a stale cache is removed with the whole folder.
 * - PostgreSQL: a row in `claw_indexer.launcher_state`; a stale cache is removed by deleting this chain's
 *   rows from Ponder's `ponder_sync` tables, and old app schemas are dropped when no live app holds them.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import type { Anchor, ChainFingerprint } from "./chain.ts";
import type { IndexerSettings } from "./settings.ts";

export type LauncherState = {
  fingerprint: ChainFingerprint;
  /** A block (head − finality) that the cached data is known to agree with. */
  anchor?: Anchor;
  /** The Ponder schema the last run used, and the build it ran. */
  schema?: string;
  buildHash?: string;
  updatedAt?: string;
};

export interface StateStore {
  readonly kind: "pglite" | "postgres";
  read(): Promise<LauncherState | undefined>;
  write(state: LauncherState): Promise<void>;
  /** Removes everything cached for this chain (RPC cache and app schemas). Returns what it did. */
  purgeChainCache(previous: LauncherState): Promise<string>;
  /** Drops an app schema unless a running Ponder holds it. Returns whether it dropped it. */
  dropSchemaIfIdle(schema: string): Promise<boolean>;
  close(): Promise<void>;
}

/** Ponder's heartbeat timeout: an app whose heartbeat is older is not running. */
const HEARTBEAT_TIMEOUT_MS = 25_000;

const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;

type AppMeta = { is_locked?: number; heartbeat_at?: number };

function isLive(meta: AppMeta | undefined): boolean {
  return meta?.is_locked === 1 && (meta.heartbeat_at ?? 0) + HEARTBEAT_TIMEOUT_MS > Date.now();
}

class PgliteStateStore implements StateStore {
  readonly kind = "pglite";
  private readonly file: string;
  constructor(private readonly settings: IndexerSettings) {
    this.file = join(settings.dataDir, "launcher-state.json");
  }

  async read(): Promise<LauncherState | undefined> {
    if (!existsSync(this.file)) return undefined;
    try {
      return JSON.parse(readFileSync(this.file, "utf8")) as LauncherState;
    } catch {
      return undefined;
    }
  }

  async write(state: LauncherState): Promise<void> {
    mkdirSync(this.settings.dataDir, { recursive: true });
    writeFileSync(this.file, JSON.stringify({ ...state, updatedAt: new Date().toISOString() }, null, 2) + "\n");
  }

  async purgeChainCache(): Promise<string> {
    rmSync(this.settings.pgliteDir, { recursive: true, force: true });
    rmSync(this.file, { force: true });
    return `deleted ${this.settings.pgliteDir}`;
  }

  async dropSchemaIfIdle(schema: string): Promise<boolean> {
    if (!existsSync(this.settings.pgliteDir)) return false;
    // The launcher's lock file guarantees no Ponder has this PGlite folder open.
    const { PGlite } = await import("@electric-sql/pglite");
    const db = new PGlite(this.settings.pgliteDir);
    try {
      await db.exec(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
      return true;
    } finally {
      await db.close();
    }
  }

  async close(): Promise<void> {}
}

class PostgresStateStore implements StateStore {
  readonly kind = "postgres";
  private constructor(
    private readonly client: pg.Client,
    private readonly chainId: number,
  ) {}

  static async open(settings: IndexerSettings): Promise<PostgresStateStore> {
    const client = new pg.Client({ connectionString: settings.databaseUrl });
    try {
      await client.connect();
    } catch (error) {
      throw new Error(`Cannot connect to DATABASE_URL (${(error as Error).message}).`);
    }
    await client.query(`CREATE SCHEMA IF NOT EXISTS claw_indexer`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS claw_indexer.launcher_state (chain_id BIGINT PRIMARY KEY, state JSONB NOT NULL, updated_at TIMESTAMPTZ NOT NULL DEFAULT now())`,
    );
    return new PostgresStateStore(client, settings.chainId);
  }

  async read(): Promise<LauncherState | undefined> {
    const { rows } = await this.client.query(`SELECT state FROM claw_indexer.launcher_state WHERE chain_id = $1`, [this.chainId]);
    return rows[0]?.state as LauncherState | undefined;
  }

  async write(state: LauncherState): Promise<void> {
    await this.client.query(
      `INSERT INTO claw_indexer.launcher_state (chain_id, state, updated_at) VALUES ($1, $2, now())
       ON CONFLICT (chain_id) DO UPDATE SET state = EXCLUDED.state, updated_at = now()`,
      [this.chainId, JSON.stringify({ ...state, updatedAt: new Date().toISOString() })],
    );
  }

  async purgeChainCache(previous: LauncherState): Promise<string> {
    const done: string[] = [];
    const { rows } = await this.client.query(
      `SELECT table_name FROM information_schema.columns WHERE table_schema = 'ponder_sync' AND column_name = 'chain_id'`,
    );
    for (const { table_name } of rows as { table_name: string }[]) {
      const result = await this.client.query(`DELETE FROM ponder_sync.${quoteIdent(table_name)} WHERE chain_id = $1`, [this.chainId]);
      if (result.rowCount) done.push(`${result.rowCount} rows of ponder_sync.${table_name}`);
    }
    const factories = await this.client.query(
      `SELECT 1 FROM information_schema.tables WHERE table_schema = 'ponder_sync' AND table_name = 'factories'`,
    );
    if (factories.rowCount) {
      await this.client.query(`DELETE FROM ponder_sync.factories WHERE (factory->>'chainId')::bigint = $1`, [this.chainId]);
    }
    if (previous.schema && (await this.dropSchemaIfIdle(previous.schema))) done.push(`schema ${previous.schema}`);
    await this.client.query(`DELETE FROM claw_indexer.launcher_state WHERE chain_id = $1`, [this.chainId]);
    return done.length ? `deleted ${done.join(", ")}` : "nothing was cached";
  }

  async dropSchemaIfIdle(schema: string): Promise<boolean> {
    const exists = await this.client.query(`SELECT 1 FROM information_schema.schemata WHERE schema_name = $1`, [schema]);
    if (!exists.rowCount) return false;
    let meta: AppMeta | undefined;
    try {
      const { rows } = await this.client.query(`SELECT value FROM ${quoteIdent(schema)}._ponder_meta WHERE key = 'app'`);
      meta = rows[0]?.value as AppMeta | undefined;
    } catch {
      meta = undefined; // not a Ponder schema (yet): nothing holds it
    }
    if (isLive(meta)) return false;
    await this.client.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
    return true;
  }

  async close(): Promise<void> {
    await this.client.end();
  }
}

export async function openStateStore(settings: IndexerSettings): Promise<StateStore> {
  return settings.databaseUrl ? PostgresStateStore.open(settings) : new PgliteStateStore(settings);
}

/**
 * One launcher per PGlite folder (PGlite is single-process). Returns a release function; throws if a
 * live process holds the lock.
 */
export function lockDataDir(settings: IndexerSettings): () => void {
  mkdirSync(settings.dataDir, { recursive: true });
  const file = join(settings.dataDir, "launcher.pid");
  if (existsSync(file)) {
    const pid = Number(readFileSync(file, "utf8").trim());
    let alive = false;
    if (Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid) {
      try {
        process.kill(pid, 0);
        alive = true;
      } catch {
        alive = false;
      }
    }
    if (alive) {
      throw new Error(`Another indexer (pid ${pid}) is using ${settings.dataDir}. Stop it, or set INDEXER_DATA_DIR to another folder.`);
    }
  }
  writeFileSync(file, `${process.pid}\n`);
  return () => {
    try {
      if (readFileSync(file, "utf8").trim() === String(process.pid)) rmSync(file, { force: true });
    } catch {
      /* already gone */
    }
  };
}
