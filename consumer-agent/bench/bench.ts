/**
 * `npm run bench -w consumer-agent`: prints figures, asserts nothing.
 *
 * 1. Billing precision over N requests (default 20), each on its own stream:
 *    - exact billing (this agent): closed with the provider's final receipt → charged on-chain vs
 *      price × the serving time the consumer measured itself;
 *    - the original system's way: pay from stream creation to cancel (the stream streams by time, block to
 *      block, and the consumer cancels right after the answer) → charged on-chain vs the same.
 * 2. Gas per request: one stream per request (create + close) vs one N-prompt session (one create, one
 *    close, top-ups if needed), from the transactions' receipts.
 *
 * Starts its own anvil chain, deployment and provider agent (echo backend) on free ports and stops them.
 * Knobs: BENCH_REQUESTS (20), BENCH_MAX_TOKENS (10), BENCH_TOKENS_PER_SECOND (50).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { toHex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { chargeForMs, streamPayAbi } from "@clawcompute/sdk";
import { deployContracts, startChain } from "@clawcompute/scripts/lib/devchain.ts";
import { freePort, startProcess, stopAll, waitFor } from "@clawcompute/scripts/lib/processes.ts";
import { Budget, ClawConsumer, GasMeter, PaidStream } from "../src/index.ts";

const N = Number(process.env.BENCH_REQUESTS ?? 20);
const MAX_TOKENS = Number(process.env.BENCH_MAX_TOKENS ?? 10);
const TPS = process.env.BENCH_TOKENS_PER_SECOND ?? "50";
const PRICE = 10_000_000_000_000n; // 1e13 wei/s
const MODEL = "bench-echo";
const providerAgentDir = fileURLToPath(new URL("../../provider-agent/", import.meta.url));

const pct = (charged: bigint, fair: bigint) => (fair === 0n ? "n/a" : `${((Number(charged - fair) / Number(fair)) * 100).toFixed(2)}%`);
const ms = (x: number) => `${x.toFixed(1)} ms`;

async function main() {
  const dirs: string[] = [];
  console.log(`consumer-agent benchmark — ${N} requests, echo backend at ${TPS} tokens/s, max_tokens ${MAX_TOKENS}, price ${PRICE} wei/s\n`);
  const chain = await startChain();
  const deploymentsDir = mkdtempSync(join(tmpdir(), "claw-bench-deployments-"));
  dirs.push(deploymentsDir);
  await deployContracts({ rpcUrl: chain.rpcUrl, deploymentsDir, ignitionDir: "scratch" });
  const fund = async () => {
    const key = generatePrivateKey();
    const account = privateKeyToAccount(key);
    await fetch(chain.rpcUrl, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "anvil_setBalance", params: [account.address, toHex(10n ** 21n)] }) });
    return { key, account };
  };

  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), "claw-bench-provider-"));
  dirs.push(dataDir);
  const providerKey = await fund();
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("PROVIDER_")));
  const provider = startProcess("provider", process.execPath, ["--import", "tsx", "src/main.ts"], {
    cwd: providerAgentDir,
    env: { ...clean, PROVIDER_PRIVATE_KEY: providerKey.key, PROVIDER_RPC_URL: chain.rpcUrl, PROVIDER_DEPLOYMENTS_DIR: deploymentsDir, PROVIDER_PORT: String(port), PROVIDER_DATA_DIR: dataDir, PROVIDER_MODEL: MODEL, PROVIDER_PRICE_PER_SECOND: PRICE.toString(), PROVIDER_ECHO_TOKENS_PER_SECOND: TPS, PROVIDER_POLL_INTERVAL_MS: "100", PROVIDER_PAYOUT_INTERVAL_MS: "600000", PROVIDER_WITHDRAW_ON_SHUTDOWN: "false", PROVIDER_MIN_DEPOSIT_SECONDS: "10", PROVIDER_LOG_LEVEL: "warn", PROVIDER_ENV_FILE: "/dev/null" },
  });
  await waitFor("the provider agent", async () => (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.status === 200, 60_000, 100);

  const { account } = await fund();
  const consumer = await ClawConsumer.create({ account, rpcUrl: chain.rpcUrl, deploymentsDir, model: MODEL, budget: 10n ** 17n, maxTokens: MAX_TOKENS, expectedSeconds: 20, closeWaitMs: 10_000 });
  const publicClient = consumer.ctx.clients.public;

  // 1a. Exact billing, one stream per request.
  let exactCharged = 0n;
  let exactFair = 0n;
  let worstExact = -Infinity;
  let absExact = 0;
  let perRequestGas = 0n;
  let measuredTotal = 0;
  let waitTotal = 0;
  for (let i = 0; i < N; i++) {
    const t0 = performance.now();
    const r = await consumer.ask({ prompt: `request ${i}: how is this billed?` });
    const [o] = r.summary.streams;
    const fair = chargeForMs(PRICE, r.measuredMs);
    exactCharged += o.paid;
    exactFair += fair;
    measuredTotal += r.measuredMs;
    worstExact = Math.max(worstExact, Number(o.paid - fair) / Number(fair));
    absExact += Math.abs(Number(o.paid - fair) / Number(fair));
    perRequestGas += r.summary.gasUsed;
    waitTotal += performance.now() - t0 - r.measuredMs;
  }

  // 1b. The original system's way: the stream streams by time; cancel right after the answer.
  const ctx = consumer.ctx;
  const [info] = (await consumer.providers()).providers;
  let origCharged = 0n;
  let origFair = 0n;
  let worstOrig = -Infinity;
  let absOrig = 0;
  let unpaidOrig = 0;
  for (let i = 0; i < N; i++) {
    const gas = new GasMeter();
    const budget = new Budget(10n ** 17n);
    const stream = await PaidStream.open(ctx, info, budget, gas, 20, MODEL);
    const r = await stream.chat(MODEL, [{ role: "user", content: `request ${i}: how is this billed?` }]);
    const o = await stream.cancel("original system: pay from creation to cancel");
    const fair = chargeForMs(PRICE, r.measuredMs);
    origCharged += o.paid;
    origFair += fair;
    worstOrig = Math.max(worstOrig, Number(o.paid - fair) / Number(fair));
    absOrig += Math.abs(Number(o.paid - fair) / Number(fair));
    if (o.paid === 0n) unpaidOrig++;
  }

  // 2. Gas: one N-prompt session.
  const session = consumer.session({ expectedSeconds: 120, idleCloseSeconds: 600 });
  for (let i = 0; i < N; i++) await session.send(`prompt ${i} of the session`);
  const summary = await session.close();
  const sessionGas = summary.gasUsed;
  void streamPayAbi;
  void publicClient;

  console.log(`Billing precision over ${N} requests (price × serving time measured by the consumer = "fair")`);
  console.log(`  mean serving time measured      ${ms(measuredTotal / N)} per request`);
  console.log(`  exact billing (final receipt)   charged ${exactCharged} wei vs fair ${exactFair} wei → ${pct(exactCharged, exactFair)} over in total, worst request ${(worstExact * 100).toFixed(2)}%   target ≤ 1% over: ${exactCharged * 100n <= exactFair * 101n ? "MET" : "MISSED"}`);
  console.log(`  original way (creation→cancel)  charged ${origCharged} wei vs fair ${origFair} wei → ${pct(origCharged, origFair)} over in total, worst request ${(worstOrig * 100).toFixed(2)}%`);
  console.log(`  mean |charged − fair| per request: exact ${((absExact / N) * 100).toFixed(2)}%, original ${((absOrig / N) * 100).toFixed(2)}% (${unpaidOrig} of ${N} charged 0 — cancelled within the stream's first chain second — the rest whole seconds)`);
  console.log(`  (exact billing waits on average ${ms(waitTotal / N)} per request for transactions and for the chain clock to cover the receipt)`);
  console.log("");
  console.log(`Gas per request (transaction gasUsed)`);
  console.log(`  one stream per request          ${perRequestGas / BigInt(N)} gas (create + close with receipt)`);
  console.log(`  one ${N}-prompt session           ${sessionGas / BigInt(N)} gas (${sessionGas} in all: ${summary.transactions.map((t) => t.what).join(", ")})`);

  await provider.stop({ signal: "SIGTERM", graceMs: 20_000 });
  await chain.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}

main()
  .catch((error) => {
    console.error(error);
    process.exitCode = 1;
  })
  .finally(() => stopAll());
