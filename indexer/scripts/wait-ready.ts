/**
 * `npm run wait-ready -w indexer`: exits 0 once the indexer has indexed up to the chain head, 1 on
 * timeout. Reads the same env as the indexer (CHAIN_ID, RPC_URL, INDEXER_HOST, PORT) or INDEXER_URL;
 * WAIT_READY_TIMEOUT_MS (default 300000).
 */
import { waitUntilIndexed } from "../lib/readiness.ts";
import { loadEnvFiles, readSettings } from "../lib/settings.ts";

loadEnvFiles();
const settings = readSettings();
const indexerUrl = process.env.INDEXER_URL || `http://${process.env.INDEXER_HOST || "127.0.0.1"}:${process.env.PORT || "42069"}`;
const timeoutMs = Number(process.env.WAIT_READY_TIMEOUT_MS || 300_000);
let lastReport = 0;
try {
  const r = await waitUntilIndexed({ indexerUrl, rpcUrl: settings.rpcUrls[0]!, chainName: settings.chainName, timeoutMs }, (p) => {
    if (Date.now() - lastReport < 5_000) return;
    lastReport = Date.now();
    console.error(`waiting for ${indexerUrl}: backfill ${p.backfilled ? "done" : "running"}, indexed block ${p.indexedBlock ?? "-"} of ${p.head}`);
  });
  console.log(`indexer ready: indexed block ${r.indexedBlock} (chain head ${r.head})`);
  process.exit(0);
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}
