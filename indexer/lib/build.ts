/**
 * The build hash names the Ponder schema: any change to the indexer's code, the ABIs, the deployment or
 * the Ponder version gives a new schema (Ponder refuses to reuse a schema that another build wrote),
 * while restarting the same build reuses its schema and resumes where it stopped.
 */
import { createHash } from "node:crypto";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import type { Deployment } from "@clawcompute/sdk";
import { indexerRoot } from "./settings.ts";

function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...listFiles(path));
    else if (/\.(ts|js|mts|mjs)$/.test(name)) out.push(path);
  }
  return out;
}

/** The installed Ponder package's folder (its package.json is not exported, so go up from its entry). */
export function ponderDir(): string {
  return join(dirname(fileURLToPath(import.meta.resolve("ponder"))), "..", "..");
}

/** The Ponder version installed (part of the build: Ponder refuses schemas of another minor version). */
export function ponderVersion(): string {
  return (JSON.parse(readFileSync(join(ponderDir(), "package.json"), "utf8")) as { version: string }).version;
}

export function buildHash(deployment: Deployment): string {
  const sdkSrc = dirname(fileURLToPath(import.meta.resolve("@clawcompute/sdk")));
  const files = [
    join(indexerRoot, "ponder.config.ts"),
    join(indexerRoot, "ponder.schema.ts"),
    join(indexerRoot, "lib", "settings.ts"),
    // Like Ponder's build id: the indexing code, not the HTTP API (src/api), which reads any schema.
    ...listFiles(join(indexerRoot, "src")).filter((file) => !file.startsWith(join(indexerRoot, "src", "api"))),
    join(sdkSrc, "generated", "abis.ts"),
  ];
  const hash = createHash("sha256").update(`ponder ${ponderVersion()}\n`);
  for (const file of files) hash.update(`${relative(indexerRoot, file)}\n`).update(readFileSync(file));
  hash.update(JSON.stringify({ chainId: deployment.chainId, contracts: deployment.contracts }));
  return hash.digest("hex");
}

/** Ponder schema names are at most 45 characters. */
export function schemaNameFor(hash: string): string {
  return `claw_${hash.slice(0, 12)}`;
}
