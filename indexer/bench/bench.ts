/**
 * `npm run bench -w indexer`: backfill speed and realtime lag of the indexer on a local chain.
 * Prints figures; asserts nothing.
 *
 * 1. Starts anvil on a free port and deploys the contracts (the project's deploy command).
 * 2. Seeds BENCH_EVENTS stream events (StreamCreated / StreamToppedUp) spread over many blocks:
 *    BENCH_TXS_PER_BLOCK transactions per block, sent with explicit nonces from several accounts, and
 *    receipts awaited every few hundred transactions (anvil falls over if sent 10k at once).
 * 3. For each RPC fan-out in BENCH_FANOUTS, starts the indexer on a fresh data folder and measures the
 *    backfill: events ÷ time from Ponder's "Started backfill indexing" to "indexed up to the head".
 * 4. Realtime lag: BENCH_LAG_SAMPLES times, mines a createStream and polls GraphQL until its row is there.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Address, type Hex, createPublicClient, createWalletClient, encodeFunctionData, http, maxUint256, zeroAddress } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { computeRegistryAbi, localChain, streamPayAbi, testTokenAbi } from "@clawcompute/sdk";
import { DEV_PRIVATE_KEYS, deployContracts, startChain } from "@clawcompute/scripts/lib/devchain.ts";
import { freePort, startProcess, stopAll } from "@clawcompute/scripts/lib/processes.ts";
import { waitUntilIndexed } from "../lib/readiness.ts";
import { type TestPostgres, startPostgres } from "../test/helpers/postgres.ts";

const EVENTS = Number(process.env.BENCH_EVENTS ?? 10_000);
const TXS_PER_BLOCK = Number(process.env.BENCH_TXS_PER_BLOCK ?? 5);
const FANOUTS = (process.env.BENCH_FANOUTS ?? "1,4,8").split(",").map(Number);
const LAG_SAMPLES = Number(process.env.BENCH_LAG_SAMPLES ?? 30);
const DATABASES = (process.env.BENCH_DATABASES ?? "pglite").split(",") as ("pglite" | "postgres")[];
const RECEIPT_EVERY = 250;

const indexerRoot = fileURLToPath(new URL("../", import.meta.url));
const tsxCli = fileURLToPath(import.meta.resolve("tsx/cli"));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (msg: string) => console.log(`[bench] ${msg}`);

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function main() {
  const tmp = mkdtempSync(join(tmpdir(), "claw-indexer-bench-"));
  const chain = await startChain();
  try {
    log(`anvil at ${chain.rpcUrl}; deploying…`);
    const deployment = await deployContracts({ rpcUrl: chain.rpcUrl, deploymentsDir: tmp, ignitionDir: "scratch" });
    const streamPay = deployment.contracts.StreamPay.address;
    const registry = deployment.contracts.ComputeRegistry.address;
    const testUsd = deployment.contracts.TestUSD!.address;
    const client = createPublicClient({ chain: localChain, transport: http(chain.rpcUrl), pollingInterval: 50 });
    const accounts = DEV_PRIVATE_KEYS.map((k) => privateKeyToAccount(k));
    const wallet = (i: number) => createWalletClient({ account: accounts[i]!, chain: localChain, transport: http(chain.rpcUrl) });
    const rpc = (method: string, params: unknown[] = []) => client.request({ method: method as never, params: params as never });

    // Providers: accounts 1-2, one native and one TestUSD each. Consumers: accounts 3-9.
    const providers: { id: bigint; asset: Address; price: bigint }[] = [];
    for (const [i, asset, price] of [[1, zeroAddress, 10n ** 9n], [1, testUsd, 10n], [2, zeroAddress, 2n * 10n ** 9n], [2, testUsd, 20n]] as const) {
      const model = `bench-${providers.length}`;
      const hash = await wallet(i).writeContract({ address: registry, abi: computeRegistryAbi, functionName: "registerProvider", args: [model, price, "http://127.0.0.1:1", "llm", asset] });
      await client.waitForTransactionReceipt({ hash });
      providers.push({ id: BigInt(providers.length + 1), asset, price });
    }
    const consumers = [3, 4, 5, 6, 7, 8, 9];
    for (const i of consumers) {
      await client.waitForTransactionReceipt({ hash: await wallet(0).writeContract({ address: testUsd, abi: testTokenAbi, functionName: "mint", args: [accounts[i]!.address, 10n ** 15n] }) });
      await client.waitForTransactionReceipt({ hash: await wallet(i).writeContract({ address: testUsd, abi: testTokenAbi, functionName: "approve", args: [streamPay, maxUint256] }) });
    }

    // Seeding: manual mining so each block holds TXS_PER_BLOCK transactions.
    log(`seeding ${EVENTS} stream events, ${TXS_PER_BLOCK} transactions per block…`);
    const seedStart = Date.now();
    await rpc("evm_setAutomine", [false]);
    const nonces = new Map<number, number>();
    for (const i of consumers) nonces.set(i, await client.getTransactionCount({ address: accounts[i]!.address }));
    const gasPrice = (await client.getGasPrice()) * 2n;
    let nextStreamId = 1n;
    const ownStreams = new Map<number, bigint[]>(); // consumer -> its streams (for top-ups)
    let sent = 0;
    let pending: Hex[] = [];
    while (sent < EVENTS) {
      for (let k = 0; k < TXS_PER_BLOCK && sent < EVENTS; k++, sent++) {
        const i = consumers[sent % consumers.length]!;
        const provider = providers[sent % providers.length]!;
        const mine = ownStreams.get(i) ?? [];
        const topUpOf = sent % 3 === 2 && mine.length > 0 ? mine[mine.length - 1]! : undefined;
        const terms = topUpOf !== undefined ? streamTerms.get(topUpOf)! : { asset: provider.asset, rate: provider.price };
        const amount = terms.rate * 100_000n; // a long runway: top-ups stay valid
        const data =
          topUpOf !== undefined
            ? encodeFunctionData({ abi: streamPayAbi, functionName: "topUp", args: [topUpOf, amount] })
            : encodeFunctionData({
                abi: streamPayAbi,
                functionName: "createStream",
                args: [provider.id, maxUint256, amount, zeroAddress], // no session key
              });
        const nonce = nonces.get(i)!;
        nonces.set(i, nonce + 1);
        const value = terms.asset === zeroAddress ? amount : 0n;
        const request = await wallet(i).prepareTransactionRequest({ to: streamPay, data, value, nonce, gas: 400_000n, gasPrice, type: "legacy" });
        const serialized = await accounts[i]!.signTransaction(request as never);
        pending.push(await client.sendRawTransaction({ serializedTransaction: serialized }));
        if (topUpOf === undefined) pendingCreates.push({ hash: pending[pending.length - 1]!, consumer: i, asset: provider.asset, rate: provider.price });
      }
      await rpc("evm_mine");
      if (pending.length >= RECEIPT_EVERY || sent >= EVENTS) {
        for (const hash of pending) {
          const receipt = await client.getTransactionReceipt({ hash });
          if (receipt.status !== "success") throw new Error(`seed transaction ${hash} reverted`);
        }
        for (const c of pendingCreates) {
          const receipt = await client.getTransactionReceipt({ hash: c.hash });
          const id = BigInt(receipt.logs.find((l) => l.address.toLowerCase() === streamPay.toLowerCase())!.topics[1]!);
          streamTerms.set(id, { asset: c.asset, rate: c.rate });
          ownStreams.set(c.consumer, [...(ownStreams.get(c.consumer) ?? []), id]);
          nextStreamId = id + 1n;
        }
        pending = [];
        pendingCreates.length = 0;
      }
    }
    await rpc("evm_setAutomine", [true]);
    await rpc("anvil_mine", ["0x23"]); // 35 more blocks: the seed is past Ponder's 30-block unfinalised window
    const head = await client.getBlockNumber();
    const logs = await client.getLogs({ address: [streamPay, registry], fromBlock: 0n, toBlock: head });
    const blocksWithEvents = new Set(logs.map((l) => l.blockNumber)).size;
    log(`seeded in ${((Date.now() - seedStart) / 1000).toFixed(1)} s: ${logs.length} events (${nextStreamId - 1n} streams) in ${blocksWithEvents} blocks, head ${head}`);

    // Backfill, per fan-out.
    const results: { database: string; fanout: number; seconds: number; rate: number; ponderBackfillSeconds: number | undefined }[] = [];
    const configs = DATABASES.flatMap((database) => FANOUTS.map((fanout) => ({ database, fanout })));
    let postgres: TestPostgres | undefined;
    for (const [n, { database, fanout }] of configs.entries()) {
      const dataDir = mkdtempSync(join(tmp, `data-${n}-`));
      const eventCount = (await client.getLogs({ address: [streamPay, registry], fromBlock: 0n, toBlock: await client.getBlockNumber() })).length;
      let databaseUrl = "";
      if (database === "postgres") {
        postgres ??= await startPostgres();
        databaseUrl = await postgres.createDatabase(`bench_${n}`);
      }
      const port = await freePort();
      const proc = startProcess(`indexer:${port}`, process.execPath, [tsxCli, "scripts/run.ts", "start"], {
        cwd: indexerRoot,
        env: {
          ...process.env,
          INDEXER_SKIP_ENV_FILES: "1",
          CHAIN_ID: "31337",
          RPC_URL: chain.rpcUrl,
          DEPLOYMENTS_DIR: tmp,
          INDEXER_DATA_DIR: dataDir,
          PORT: String(port),
          RPC_FANOUT: String(fanout),
          POLLING_INTERVAL_MS: "100",
          DATABASE_URL: databaseUrl,
        },
      });
      const url = `http://127.0.0.1:${port}`;
      await waitUntilIndexed({ indexerUrl: url, rpcUrl: chain.rpcUrl, chainName: "local", timeoutMs: 1_800_000, intervalMs: 100 });
      const readyAt = Date.now();
      const lines = proc.output().split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as { msg: string; time: number; duration?: number });
      const started = lines.find((l) => l.msg === "Started backfill indexing")!;
      const completed = lines.find((l) => l.msg === "Completed backfill indexing across all chains");
      const seconds = (readyAt - started.time) / 1000;
      results.push({ database, fanout, seconds, rate: eventCount / seconds, ponderBackfillSeconds: completed?.duration !== undefined ? completed.duration / 1000 : undefined });
      log(`${database}, fan-out ${fanout}: ${eventCount} events indexed up to the head in ${seconds.toFixed(1)} s = ${(eventCount / seconds).toFixed(0)} events/s`);

      if (n === configs.length - 1 || (database === "pglite" && fanout === FANOUTS[FANOUTS.length - 1])) {
        // Realtime lag on the last configuration (PGlite, pollingInterval 100 ms).
        const lags: number[] = [];
        const sender = 3;
        for (let k = 0; k < LAG_SAMPLES; k++) {
          const id = (await client.readContract({ address: streamPay, abi: streamPayAbi, functionName: "nextStreamId" })) as bigint;
          const hash = await wallet(sender).writeContract({
            address: streamPay,
            abi: streamPayAbi,
            functionName: "createStream",
            args: [1n, maxUint256, 10n ** 14n, zeroAddress],
            value: 10n ** 14n,
          });
          const mined = Date.now(); // automine: the block exists when eth_sendRawTransaction returns
          for (;;) {
            const response = await fetch(`${url}/graphql`, {
              method: "POST",
              headers: { "content-type": "application/json" },
              body: JSON.stringify({ query: `{ stream(id: "${id}") { id } }` }),
            });
            const json = (await response.json()) as { data?: { stream: { id: string } | null } };
            if (json.data?.stream) break;
            if (Date.now() - mined > 30_000) throw new Error(`stream ${id} (${hash}) not indexed after 30 s`);
            await sleep(5);
          }
          lags.push(Date.now() - mined);
          await sleep(150 + Math.random() * 250); // sample at different phases of the polling interval
        }
        log(`${database}: realtime lag over ${lags.length} samples: p50 ${percentile(lags, 50)} ms, p95 ${percentile(lags, 95)} ms, max ${Math.max(...lags)} ms`);
        lagResults.push(`  ${database.padEnd(8)} p50 ${percentile(lags, 50)} ms, p95 ${percentile(lags, 95)} ms, max ${Math.max(...lags)} ms`);
      }
      await proc.stop({ signal: "SIGINT", graceMs: 30_000 });
    }

    await postgres?.stop();
    console.log(`\nBackfill: ${logs.length} events in ${blocksWithEvents} blocks (${TXS_PER_BLOCK} tx/block), POLLING_INTERVAL_MS=100, fresh cache`);
    console.log("  (seconds from Ponder's \"Started backfill indexing\" until /status reaches the chain head)");
    console.log("  database  RPC_FANOUT  seconds  events/s  Ponder backfill phase");
    for (const r of results) {
      console.log(
        `  ${r.database.padEnd(8)}  ${String(r.fanout).padStart(10)}  ${r.seconds.toFixed(1).padStart(7)}  ${r.rate.toFixed(0).padStart(8)}  ${r.ponderBackfillSeconds !== undefined ? `${r.ponderBackfillSeconds.toFixed(1)} s` : ""}`,
      );
    }
    console.log(`\nRealtime lag, mined transaction -> its row in GraphQL (${LAG_SAMPLES} samples, POLLING_INTERVAL_MS=100):`);
    for (const line of lagResults) console.log(line);
  } finally {
    await stopAll();
    await chain.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

const lagResults: string[] = [];
const streamTerms = new Map<bigint, { asset: Address; rate: bigint }>();
const pendingCreates: { hash: Hex; consumer: number; asset: Address; rate: bigint }[] = [];

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
