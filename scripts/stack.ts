/**
 * `npm start`: brings up the local ClawCompute stack and runs one paid inference end to end.
 *
 *   1. (`npm start` first builds the contracts and the SDK's ABIs, which this script imports),
 *   2. starts a local chain (anvil), deploys the contracts (writes deployments/31337.json),
 *   3. starts the indexer (GraphQL) and a provider agent on the echo backend (dev account #1),
 *   4. asks the provider a question through the consumer agent (dev account #2): a stream is opened,
 *      the answer streams back, the stream is closed with the provider's final receipt,
 *   5. prints what was paid and refunded, then keeps everything running until Ctrl-C
 *      (`npm run ask -- "…"` asks again; `--once` stops after the first answer).
 *
 * Preferred ports (a taken one is replaced by a free one): chain 8545, indexer 42069, provider 8080.
 * Everything runs on 127.0.0.1 with the chain's well-known dev accounts: local use only.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { repoRoot } from "./lib/devchain.ts";
import { askLocal, type LocalStackInfo } from "./lib/local-consumer.ts";
import { stopAll } from "./lib/processes.ts";
import { startStack } from "./lib/stack.ts";

const { values: flags } = parseArgs({ options: { once: { type: "boolean", default: false }, verbose: { type: "boolean", default: false } } });

export const stackDir = join(repoRoot, ".tmp", "stack");
export const stackFile = join(stackDir, "stack.json");

function step(message: string) {
  console.log(`▸ ${message}`);
}

async function main() {
  // A fresh chain every time: the provider's and indexer's data from an earlier run no longer apply.
  rmSync(stackDir, { recursive: true, force: true });
  mkdirSync(stackDir, { recursive: true });
  const stack = await startStack({
    chainPort: 8545,
    indexerPort: 42069,
    providerPort: 8080,
    dataDir: stackDir,
    echo: flags.verbose,
    onStep: step,
  });
  const info: LocalStackInfo = {
    rpcUrl: stack.chain.rpcUrl,
    indexerUrl: stack.indexerUrl,
    providerUrl: stack.providerUrl,
    model: stack.model,
    dataDir: stackDir,
  };
  writeFileSync(stackFile, JSON.stringify(info, null, 2) + "\n");

  const prompt = "Explain in one sentence what a per-second payment stream is.";
  step(`paid inference: "${prompt}"\n`);
  await askLocal(info, prompt);

  console.log(`
The stack is up (local chain, dev accounts only):
  chain     ${stack.chain.rpcUrl}  (chain id 31337)
  GraphQL   ${stack.indexerUrl}/graphql
  provider  ${stack.providerUrl}/v1  (model "${stack.model}", OpenAI-compatible, paid per served millisecond)
Ask again:  npm run ask -- "your question"`);
  if (flags.once) return;
  console.log("Ctrl-C stops everything.");
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  console.log("\nstopping (the provider withdraws its earnings first)…");
}

try {
  await main();
} catch (error) {
  console.error(`\n✗ ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
} finally {
  await stopAll();
  rmSync(stackFile, { force: true });
}
