/** Node-only helpers: reading and writing `deployments/<chainId>.json` on disk. */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Deployment, parseDeployment } from "./deployments.ts";

/** `$DEPLOYMENTS_DIR`, or the repository's `deployments/` folder. */
export function deploymentsDir(): string {
  return process.env.DEPLOYMENTS_DIR || fileURLToPath(new URL("../../deployments/", import.meta.url));
}

export function deploymentPath(chainId: number, dir = deploymentsDir()): string {
  return join(dir, `${chainId}.json`);
}

/** The deployment of chain `chainId`; throws a message that says how to create it when missing. */
export function loadDeployment(chainId: number, dir = deploymentsDir()): Deployment {
  const path = deploymentPath(chainId, dir);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    throw new Error(
      `No deployment for chain ${chainId}: ${path} does not exist. Deploy first (\`npm run deploy\` for the local chain).`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`${path} is not valid JSON. Re-run \`npm run deploy\` to rewrite it.`);
  }
  const deployment = parseDeployment(json, path);
  if (deployment.chainId !== chainId) throw new Error(`${path} is for chain ${deployment.chainId}, not ${chainId}.`);
  return deployment;
}

/** Writes the deployment atomically (write + rename), so readers never see half a file. */
export function writeDeployment(deployment: Deployment, dir = deploymentsDir()): string {
  mkdirSync(dir, { recursive: true });
  const path = deploymentPath(deployment.chainId, dir);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(deployment, null, 2) + "\n");
  renameSync(tmp, path);
  return path;
}

// Service configuration, signing keys and keystores, shared by the provider agent, consumer agent and keeper.
export * from "./config.ts";
export * from "./keys.ts";
export * from "./keystore.ts";
