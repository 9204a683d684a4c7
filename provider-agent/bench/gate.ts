/**
 * Gate overhead benchmark: the agent (echo backend, zero delay) behind its payment gate versus the same
 * server without the gate ("direct to backend"). Prints p50/p99 latency, requests per second, and the
 * ratios, from one run. Requests are signed before timing starts (a client signs in parallel with the
 * network in practice), so the figures measure the server.
 *
 *   npm run bench -w provider-agent            (starts its own anvil + deployment; ~1 min)
 *   BENCH_REQUESTS=5000 BENCH_CONCURRENCY=8 npm run bench -w provider-agent
 */
import { Agent, request } from "node:http";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createPublicClient, createWalletClient, http, parseEventLogs, toHex, zeroAddress } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { PAYMENT_HEADERS, computeRegistryAbi, hashBody, localChain, randomNonce, streamPayAbi } from "@clawcompute/sdk";
import { loadDeployment } from "@clawcompute/sdk/node";
import { type DevChain, deployContracts, startChain } from "@clawcompute/scripts/lib/devchain.ts";
import { type ManagedProcess, freePort, startProcess, waitFor } from "@clawcompute/scripts/lib/processes.ts";
import { DigestSigner, PaymentSigner } from "../src/signatures.ts";

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 3000);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 500);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
const MODEL = "bench-model";
const agentDir = fileURLToPath(new URL("../", import.meta.url));

const started: ManagedProcess[] = [];
let chain: DevChain | undefined;
const dirs: string[] = [];

async function main() {
  // Chain + contracts (or an existing chain: BENCH_RPC_URL + BENCH_DEPLOYMENTS_DIR).
  let rpcUrl = process.env.BENCH_RPC_URL;
  let deploymentsDir = process.env.BENCH_DEPLOYMENTS_DIR;
  if (!rpcUrl || !deploymentsDir) {
    console.log("starting anvil and deploying the contracts…");
    chain = await startChain();
    rpcUrl = chain.rpcUrl;
    deploymentsDir = mkdtempSync(join(tmpdir(), "claw-bench-deploy-"));
    dirs.push(deploymentsDir);
    await deployContracts({ rpcUrl, deploymentsDir, ignitionDir: "scratch" });
  }
  const deployment = loadDeployment(31337, deploymentsDir);
  const chainDef = { ...localChain, rpcUrls: { default: { http: [rpcUrl] } } };
  const pc = createPublicClient({ chain: chainDef, transport: http(rpcUrl) });
  const fund = async () => {
    const key = generatePrivateKey();
    const account = privateKeyToAccount(key);
    await pc.request({ method: "anvil_setBalance" as never, params: [account.address, toHex(10n ** 21n)] as never });
    return { key, account };
  };
  const provider = await fund();
  const consumer = await fund();

  // The gated agent and the direct server, each its own process.
  const [agentPort, directPort] = [await freePort(), await freePort()];
  const dataDir = mkdtempSync(join(tmpdir(), "claw-bench-data-"));
  dirs.push(dataDir);
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("PROVIDER_")));
  started.push(
    startProcess("agent", process.execPath, ["--import", "tsx", "src/main.ts"], {
      cwd: agentDir,
      env: {
        ...clean,
        PROVIDER_ENV_FILE: "/dev/null",
        PROVIDER_PRIVATE_KEY: provider.key,
        PROVIDER_RPC_URL: rpcUrl,
        PROVIDER_DEPLOYMENTS_DIR: deploymentsDir,
        PROVIDER_PORT: String(agentPort),
        PROVIDER_DATA_DIR: dataDir,
        PROVIDER_MODEL: MODEL,
        PROVIDER_PRICE_PER_SECOND: "1000000000",
        PROVIDER_ECHO_TOKENS_PER_SECOND: "0",
        PROVIDER_LOG_LEVEL: "warn",
        PROVIDER_MAX_CONCURRENT: "1024",
        ...(process.env.BENCH_PROFILE ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${process.env.BENCH_PROFILE}` } : {}),
      },
    }),
    startProcess("direct", process.execPath, ["--import", "tsx", "bench/direct-server.ts"], {
      cwd: agentDir,
      env: { ...process.env, PORT: String(directPort), MODEL, ...(process.env.BENCH_PROFILE ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${process.env.BENCH_PROFILE}/direct` } : {}) },
    }),
  );
  for (const port of [agentPort, directPort]) {
    await waitFor(`server on ${port}`, async () => (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.status === 200, 60_000, 100);
  }
  const providerId = await pc.readContract({ address: deployment.contracts.ComputeRegistry.address, abi: computeRegistryAbi, functionName: "providerIdOf", args: [provider.account.address, MODEL] });

  // One stream per concurrent client.
  const wallet = createWalletClient({ chain: chainDef, transport: http(rpcUrl), account: consumer.account });
  const streams: bigint[] = [];
  for (let i = 0; i < CONCURRENCY; i++) {
    const deposit = 1_000_000_000n * 86_400n;
    const hash = await wallet.writeContract({
      address: deployment.contracts.StreamPay.address,
      abi: streamPayAbi,
      functionName: "createStream",
      args: [providerId, deposit, deposit, zeroAddress],
      value: deposit,
    });
    const receipt = await pc.waitForTransactionReceipt({ hash });
    streams.push(parseEventLogs({ abi: streamPayAbi, logs: receipt.logs, eventName: "StreamCreated" })[0].args.streamId);
  }

  const payment = new PaymentSigner({ chainId: 31337, streamPay: deployment.contracts.StreamPay.address });
  const signer = new DigestSigner(consumer.key, consumer.account.address);
  const expiry = BigInt(Math.floor(Date.now() / 1000) + 550);
  const [agentProc, directProc] = started;
  const cpu = (proc: ManagedProcess) => {
    // utime + stime of a server process, in ms (clock ticks of 10 ms)
    const stat = readFileSync(`/proc/${proc.child.pid}/stat`, "utf8").split(") ")[1].split(" ");
    return (Number(stat[11]) + Number(stat[12])) * 10;
  };
  const percentile = (xs: number[], q: number) => {
    const sorted = [...xs].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor((q / 100) * sorted.length))];
  };
  const lines: string[] = [];
  const vouchers = new Map<bigint, bigint>();

  for (const scenario of [
    { name: "JSON, 16 tokens", body: JSON.stringify({ model: MODEL, messages: [{ role: "user", content: "benchmark" }], max_tokens: 16 }) },
    { name: "SSE stream, full echo answer", body: JSON.stringify({ model: MODEL, stream: true, messages: [{ role: "user", content: "benchmark" }] }) },
  ]) {
    const body = scenario.body;
    const bodyHash = hashBody(body);
    // Pre-signed requests (native secp256k1), each with its own nonce. Each carries a voucher one unit
    // above the one before on its stream, so every request brings a new best voucher (journalled with its
    // nonce), as a consumer's request does when its voucher follows the last receipt. The amounts stay far
    // below what is billed, within the credit.
    const signed = (streamId: bigint) => {
      const nonce = randomNonce();
      const cumulative = (vouchers.get(streamId) ?? 0n) + 1n;
      vouchers.set(streamId, cumulative);
      const requestHash = payment.requestHash(bodyHash, nonce, expiry);
      return {
        "content-type": "application/json",
        "content-length": String(Buffer.byteLength(body)),
        [PAYMENT_HEADERS.streamId]: streamId.toString(),
        [PAYMENT_HEADERS.cumulative]: cumulative.toString(),
        [PAYMENT_HEADERS.nonce]: nonce.toString(),
        [PAYMENT_HEADERS.expiry]: expiry.toString(),
        [PAYMENT_HEADERS.signature]: signer.sign(payment.spendDigest(streamId, cumulative, requestHash)),
      };
    };
    const plainHeaders = { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)) };
    const post = (agent: Agent, port: number, headers: Record<string, string>) =>
      new Promise<number>((resolve, reject) => {
        const t0 = performance.now();
        const req = request({ host: "127.0.0.1", port, path: "/v1/chat/completions", method: "POST", headers, agent }, (res) => {
          res.on("data", () => {});
          res.on("end", () => (res.statusCode === 200 ? resolve(performance.now() - t0) : reject(new Error(`HTTP ${res.statusCode}`))));
        });
        req.on("error", reject);
        req.end(body);
      });
    const seqHeaders = Array.from({ length: WARMUP + REQUESTS }, () => signed(streams[0]));
    const parHeaders = Array.from({ length: WARMUP + REQUESTS }, (_, i) => signed(streams[i % CONCURRENCY]));

    // Latency: one request at a time, alternating blocks of gated and direct so drift hits both alike.
    const lat = { gated: [] as number[], direct: [] as number[] };
    const seqAgent = new Agent({ keepAlive: true, maxSockets: 1 });
    const seqAgentD = new Agent({ keepAlive: true, maxSockets: 1 });
    let h = 0;
    const block = 100;
    for (let done = 0; done < WARMUP + REQUESTS; done += block) {
      for (let i = 0; i < block; i++) {
        const t = await post(seqAgent, agentPort, seqHeaders[h++]);
        if (done >= WARMUP) lat.gated.push(t);
      }
      for (let i = 0; i < block; i++) {
        const t = await post(seqAgentD, directPort, plainHeaders);
        if (done >= WARMUP) lat.direct.push(t);
      }
    }
    seqAgent.destroy();
    seqAgentD.destroy();

    // Throughput: CONCURRENCY clients on keep-alive connections.
    const throughput = async (port: number, headersFor: (i: number) => Record<string, string>, count: number) => {
      const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
      let next = 0;
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (next < count) {
            const i = next++;
            await post(agent, port, headersFor(i));
          }
        }),
      );
      const secs = (performance.now() - t0) / 1000;
      agent.destroy();
      return count / secs;
    };
    let p = 0;
    await throughput(directPort, () => plainHeaders, WARMUP);
    await throughput(agentPort, () => parHeaders[p++], WARMUP);
    let c0 = cpu(directProc);
    const rpsDirect = await throughput(directPort, () => plainHeaders, REQUESTS);
    const cpuDirect = (cpu(directProc) - c0) / REQUESTS;
    c0 = cpu(agentProc);
    const rpsGated = await throughput(agentPort, () => parHeaders[p++], REQUESTS);
    const cpuGated = (cpu(agentProc) - c0) / REQUESTS;

    const [gp50, dp50, gp99, dp99] = [percentile(lat.gated, 50), percentile(lat.direct, 50), percentile(lat.gated, 99), percentile(lat.direct, 99)];
    const fmt = (n: number) => n.toFixed(3);
    lines.push(
      "",
      `${scenario.name}: ${REQUESTS} requests per measurement (after ${WARMUP} warm-up)`,
      `  latency, 1 at a time   direct p50 ${fmt(dp50)} ms  p99 ${fmt(dp99)} ms | gated p50 ${fmt(gp50)} ms  p99 ${fmt(gp99)} ms`,
      `  gate overhead          p50 ${fmt(gp50 - dp50)} ms  p99 ${fmt(gp99 - dp99)} ms   target p50 ≤ 1 ms: ${gp50 - dp50 <= 1 ? "MET" : "MISSED"}`,
      `  throughput, ${CONCURRENCY} clients  direct ${rpsDirect.toFixed(0)} req/s | gated ${rpsGated.toFixed(0)} req/s   ratio ${(rpsGated / rpsDirect).toFixed(3)}   target ≥ 0.80: ${rpsGated / rpsDirect >= 0.8 ? "MET" : "MISSED"}`,
      `  server CPU per request direct ${(cpuDirect * 1000).toFixed(0)} µs | gated ${(cpuGated * 1000).toFixed(0)} µs`,
    );
  }
  const metrics = await (await fetch(`http://127.0.0.1:${agentPort}/metrics`)).text();
  const gateCount = Number(/claw_provider_gate_duration_seconds_count (\d+)/.exec(metrics)?.[1] ?? 0);
  const gateSum = Number(/claw_provider_gate_duration_seconds_sum ([\d.e-]+)/.exec(metrics)?.[1] ?? 0);
  console.log("\ngate overhead benchmark — echo backend at zero delay; gated = the agent, direct = the same server without the gate");
  console.log(lines.join("\n"));
  console.log(`\ntime inside the gate (agent's histogram): mean ${((gateSum / Math.max(1, gateCount)) * 1000).toFixed(3)} ms over ${gateCount} checks`);
}

try {
  await main();
} finally {
  await Promise.all(started.map((p) => p.stop({ signal: "SIGTERM" })));
  await chain?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}
