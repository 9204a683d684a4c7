/**
 * `npm run ask -- "question"`: one paid inference against the stack `npm start` is running, through the
 * consumer agent (dev account #2: local chain only). Prints the answer, then what was paid and refunded.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "./lib/devchain.ts";
import { askLocal, type LocalStackInfo } from "./lib/local-consumer.ts";

const file = join(repoRoot, ".tmp", "stack", "stack.json");
const prompt = process.argv.slice(2).join(" ").trim();
if (!prompt) {
  console.error('Usage: npm run ask -- "your question"');
  process.exit(2);
}
if (!existsSync(file)) {
  console.error("No local stack is running: start it with `npm start` (in another terminal) first.");
  process.exit(1);
}
const info = JSON.parse(readFileSync(file, "utf8")) as LocalStackInfo;
try {
  await askLocal(info, prompt);
} catch (error) {
  console.error(`\n✗ ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
