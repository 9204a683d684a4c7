/**
 * `npm run bench -w consumer-agent`: billing precision and gas of paying per second. Prints figures,
 * asserts nothing. "Fair" is price × the serving time the consumer measured itself; "charged" is what left
 * the consumer's streams on the provider's side, on-chain.
 *
 * Scenarios:
 *   A. N single asks, each on its own stream, closed with the provider's final receipt.
 *   B. One N-prompt chat with 30–120 s of idle (reading) time between prompts, the chain's clock moved
 *      forward by that much (anvil evm_increaseTime), closed with the final receipt.
 *   C. The same chat with a hostile provider (its agent withdraws with its best voucher whenever anything
 *      is withdrawable) and a keeper that front-runs the close: its batchUpdateStreams lands in the same
 *      block, ordered before the consumer's closeWithReceipt.
 * Beside each, the first version of StreamPay (which paid by time: anyone could withdraw what had streamed,
 * and keepers settle it) on the same run: with honest parties it also paid the receipt; a provider that
 * withdraws at every chance took everything streamed by time up to the close, which is the stream's
 * frozen `streamed` amount read on-chain here.
 *
 * Starts its own anvil chain, deployment and provider agents (echo backend) on free ports and stops them.
 * Knobs: BENCH_REQUESTS (20), BENCH_MAX_TOKENS (10), BENCH_TOKENS_PER_SECOND (50).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createTestClient, createWalletClient, http, parseGwei, toHex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { chargeForMs, localChain, streamPayAbi } from "@clawcompute/sdk";
import { deployContracts, startChain } from "@clawcompute/scripts/lib/devchain.ts";
import { type ManagedProcess, freePort, startProcess, stopAll, waitFor } from "@clawcompute/scripts/lib/processes.ts";
import { ClawConsumer, type StreamOutcome } from "../src/index.ts";

const N = Number(process.env.BENCH_REQUESTS ?? 20);
const MAX_TOKENS = Number(process.env.BENCH_MAX_TOKENS ?? 10);
const TPS = process.env.BENCH_TOKENS_PER_SECOND ?? "50";
const PRICE = 10_000_000_000_000n; // 1e13 wei/s
const providerAgentDir = fileURLToPath(new URL("../../provider-agent/", import.meta.url));

type Row = { name: string; charged: bigint; fair: bigint; worst?: number; firstVersion: bigint; note: string };

const overPct = (charged: bigint, fair: bigint) =>
  fair === 0n ? "n/a" : `${((Number(charged - fair) / Number(fair)) * 100).toFixed(2)}%`;

/** Pseudo-random idle times in [30, 120] s, the same on every run. */
function idleSeconds(i: number): number {
  return 30 + ((i * 37 + 11) % 91);
}

async function main() {
  const dirs: string[] = [];
  console.log(`consumer-agent benchmark — ${N} requests per scenario, echo backend at ${TPS} tokens/s, max_tokens ${MAX_TOKENS}, price ${PRICE} wei/s\n`);
  const chain = await startChain();
  const deploymentsDir = mkdtempSync(join(tmpdir(), "claw-bench-deployments-"));
  dirs.push(deploymentsDir);
  // A grace period long enough for the chat's idle hours, so nothing is ever abandoned here.
  await deployContracts({ rpcUrl: chain.rpcUrl, deploymentsDir, ignitionDir: "scratch", gracePeriod: 86_400n, challengeWindow: 600n });
  const viemChain = { ...localChain, rpcUrls: { default: { http: [chain.rpcUrl] } } };
  const test = createTestClient({ mode: "anvil", chain: viemChain, transport: http(chain.rpcUrl) });
  const fund = async () => {
    const key = generatePrivateKey();
    const account = privateKeyToAccount(key);
    await test.setBalance({ address: account.address, value: 10n ** 21n });
    return { key, account };
  };

  const providers: ManagedProcess[] = [];
  async function startProvider(model: string, env: Record<string, string> = {}) {
    const port = await freePort();
    const dataDir = mkdtempSync(join(tmpdir(), "claw-bench-provider-"));
    dirs.push(dataDir);
    const { key } = await fund();
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("PROVIDER_")));
    const proc = startProcess(`provider:${model}`, process.execPath, ["--import", "tsx", "src/main.ts"], {
      cwd: providerAgentDir,
      env: {
        ...clean, PROVIDER_PRIVATE_KEY: key, PROVIDER_RPC_URL: chain.rpcUrl, PROVIDER_DEPLOYMENTS_DIR: deploymentsDir,
        PROVIDER_PORT: String(port), PROVIDER_DATA_DIR: dataDir, PROVIDER_MODEL: model, PROVIDER_PRICE_PER_SECOND: PRICE.toString(),
        PROVIDER_ECHO_TOKENS_PER_SECOND: TPS, PROVIDER_POLL_INTERVAL_MS: "100", PROVIDER_PAYOUT_INTERVAL_MS: "600000",
        PROVIDER_WITHDRAW_ON_SHUTDOWN: "false", PROVIDER_MIN_DEPOSIT_SECONDS: "10", PROVIDER_LOG_LEVEL: "warn",
        PROVIDER_ENV_FILE: "/dev/null", ...env,
      },
    });
    providers.push(proc);
    await waitFor(`provider ${model}`, async () => (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.status === 200, 60_000, 100);
  }
  await startProvider("bench-honest");
  // Hostile: withdraws with its best voucher whenever anything at all is withdrawable, every 100 ms.
  await startProvider("bench-hostile", { PROVIDER_WITHDRAW_THRESHOLD: "1", PROVIDER_PAYOUT_INTERVAL_MS: "100" });

  const newConsumer = async (model: string, expectedSeconds: number) => {
    const { account } = await fund();
    return ClawConsumer.create({ account, rpcUrl: chain.rpcUrl, deploymentsDir, model, budget: 10n ** 18n, maxTokens: MAX_TOKENS, expectedSeconds, closeWaitMs: 10_000 });
  };
  const paidOf = (outcomes: StreamOutcome[]) => outcomes.reduce((sum, o) => sum + o.paid, 0n);
  const streamedOf = async (consumer: ClawConsumer, outcomes: StreamOutcome[]) => {
    let total = 0n;
    for (const o of outcomes) {
      total += await consumer.ctx.clients.public.readContract({ address: consumer.ctx.streamPay, abi: streamPayAbi, functionName: "streamedAmountOf", args: [o.streamId] });
    }
    return total;
  };
  const rows: Row[] = [];

  // A. Single asks.
  {
    const consumer = await newConsumer("bench-honest", 20);
    let charged = 0n;
    let fair = 0n;
    let worst = -Infinity;
    let gas = 0n;
    for (let i = 0; i < N; i++) {
      const r = await consumer.ask({ prompt: `request ${i}: how is this billed?` });
      const paid = paidOf(r.summary.streams);
      const f = chargeForMs(PRICE, r.measuredMs);
      charged += paid;
      fair += f;
      worst = Math.max(worst, Number(paid - f) / Number(f));
      gas += r.summary.gasUsed;
    }
    rows.push({ name: `A. ${N} single asks`, charged, fair, worst, firstVersion: charged, note: `gas ${gas / BigInt(N)} per request (create + close)` });
  }

  // B and C. A chat with idle time between prompts.
  async function chat(name: string, model: string, hostileKeeper: boolean): Promise<void> {
    const consumer = await newConsumer(model, 3_000);
    const session = consumer.session({ idleCloseSeconds: 86_400 });
    let fair = 0n;
    for (let i = 0; i < N; i++) {
      const r = await session.send(`prompt ${i} of the chat`);
      fair += chargeForMs(PRICE, r.measuredMs);
      await test.increaseTime({ seconds: idleSeconds(i) }); // the reader's idle time, on the chain's clock
      await test.mine({ blocks: 1 });
      await new Promise((resolve) => setTimeout(resolve, 300)); // a hostile provider gets its chance to withdraw
    }
    const streamId = session.stream!.streamId;
    let summary;
    if (hostileKeeper) {
      // Front-run the close: the keeper's batch goes into the same block, ahead of the consumer's close.
      const { account: keeperAccount } = await fund();
      const keeper = createWalletClient({ chain: viemChain, transport: http(chain.rpcUrl), account: keeperAccount });
      await test.setAutomine(false);
      const closing = session.close();
      const sender = consumer.address.toLowerCase();
      await waitFor("the consumer's close in the mempool", async () => {
        const pool = (await test.getTxpoolContent()) as { pending: Record<string, unknown> };
        return Object.keys(pool.pending).some((from) => from.toLowerCase() === sender);
      }, 30_000, 20);
      await keeper.writeContract({
        address: consumer.ctx.streamPay, abi: streamPayAbi, functionName: "batchUpdateStreams", args: [[streamId]],
        maxPriorityFeePerGas: parseGwei("50"), maxFeePerGas: parseGwei("100"),
      });
      await test.mine({ blocks: 1 });
      await test.setAutomine(true);
      summary = await closing;
    } else {
      summary = await session.close();
    }
    const withdrawals = await consumer.ctx.clients.public.getContractEvents({ address: consumer.ctx.streamPay, abi: streamPayAbi, eventName: "StreamWithdrawn", args: { streamId }, fromBlock: 0n });
    const charged = paidOf(summary.streams);
    const firstVersion = hostileKeeper ? await streamedOf(consumer, summary.streams) : charged;
    rows.push({
      name, charged, fair, firstVersion,
      note: `${summary.streams.length} stream(s), ${withdrawals.length} provider withdrawal(s) mid-chat; gas ${summary.gasUsed / BigInt(N)} per prompt`,
    });
  }
  await chat(`B. ${N}-prompt chat, 30–120 s idle`, "bench-honest", false);
  await chat(`C. same chat, hostile provider + front-running keeper`, "bench-hostile", true);

  console.log(`Billing precision: charged on-chain vs price × serving time measured by the consumer (target ≤ 1% over)\n`);
  const w = Math.max(...rows.map((r) => r.name.length));
  console.log(`${"scenario".padEnd(w)}  ${"metered (now)".padStart(14)}  ${"met".padStart(3)}  ${"first version".padStart(14)}  notes`);
  for (const r of rows) {
    const met = r.charged * 100n <= r.fair * 101n ? "yes" : "NO";
    console.log(`${r.name.padEnd(w)}  ${overPct(r.charged, r.fair).padStart(14)}  ${met.padStart(3)}  ${overPct(r.firstVersion, r.fair).padStart(14)}  ${r.note}${r.worst !== undefined ? `; worst single ask ${(r.worst * 100).toFixed(2)}%` : ""}`);
  }
  console.log(`\n(fair = ${rows.map((r) => `${r.name.slice(0, 2)} ${r.fair} wei`).join(", ")})`);

  for (const p of providers) await p.stop({ signal: "SIGTERM", graceMs: 20_000 });
  await chain.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}

main()
  .catch((error) => {
    console.error(error);
    process.exitCode = 1;
  })
  .finally(() => stopAll());
