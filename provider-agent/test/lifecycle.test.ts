/**
 * The agent across restarts: one registration per (wallet, model) however often it starts, updated in
 * place; a restart mid-stream loses no usage and counts nothing twice; payouts happen past the threshold
 * and on shutdown, and never twice.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { privateKeyToAccount } from "viem/accounts";
import { computeRegistryAbi, streamPayAbi, testTokenAbi } from "@clawcompute/sdk";
import { waitFor } from "@clawcompute/scripts/lib/processes.ts";
import { ensureRegistration, makeClients } from "../src/chain.ts";
import {
  type AgentHandle,
  type ChainContext,
  Consumer,
  chainContext,
  chatBody,
  claimable,
  finalReceipt,
  fundedWallet,
  latestReceipt,
  providerIdOf,
  readSSE,
  removeDir,
  startAgent,
  streamView,
  waitStreamed,
  withdrawals,
} from "./helpers.ts";

const PRICE = 1_000_000_000n;
const silent = pino({ level: "silent" });

describe("agent lifecycle", () => {
  let ctx: ChainContext;
  const started: AgentHandle[] = [];
  const start = async (...args: Parameters<typeof startAgent>) => {
    const a = await startAgent(...args);
    started.push(a);
    return a;
  };

  beforeAll(() => {
    ctx = chainContext();
  });

  afterAll(async () => {
    await Promise.all(started.map((a) => a.stop()));
    for (const dir of new Set(started.map((a) => a.dataDir))) removeDir(dir);
  });

  const registry = () => ctx.deployment.contracts.ComputeRegistry.address;
  /** Models registered by `wallet`, one entry per ProviderRegistered event (other test files register concurrently). */
  const registeredBy = async (wallet: `0x${string}`) =>
    (await ctx.publicClient.getContractEvents({ address: registry(), abi: computeRegistryAbi, eventName: "ProviderRegistered", args: { wallet }, fromBlock: 0n })).map((e) => e.args.model);
  const getProvider = (id: bigint) => ctx.publicClient.readContract({ address: registry(), abi: computeRegistryAbi, functionName: "getProvider", args: [id] });

  it("restarts reuse one registration and update price and endpoint in place", async () => {
    const provider = await fundedWallet(ctx);
    const model = "lifecycle-registration";
    const env = { PROVIDER_PRIVATE_KEY: provider.key, PROVIDER_MODEL: model, PROVIDER_PRICE_PER_SECOND: PRICE.toString() };
    let agent = await start(ctx, env);
    const id = await providerIdOf(ctx, provider.account.address, model);
    expect(id).toBeGreaterThan(0n);
    await agent.stop();

    agent = await start(ctx, env, { dataDir: agent.dataDir, port: agent.port }); // same endpoint
    expect(agent.logs().some((l) => l.msg === "provider unchanged" && l.providerId === id.toString())).toBe(true);
    await agent.stop();

    agent = await start(ctx, { ...env, PROVIDER_PRICE_PER_SECOND: (PRICE * 3n).toString(), PROVIDER_PUBLIC_URL: "https://provider.example.test/api" }, { dataDir: agent.dataDir });
    expect(agent.logs().some((l) => l.msg === "provider updated")).toBe(true);
    const p = await getProvider(id);
    expect(p.pricePerSecond).toBe(PRICE * 3n);
    expect(p.endpoint).toBe("https://provider.example.test/api");
    expect(p.active).toBe(true);
    await agent.stop();
    expect(await registeredBy(provider.account.address)).toEqual([model]);
    expect(await providerIdOf(ctx, provider.account.address, model)).toBe(id);

    // What every start runs, a hundred more times (and two racing for a new model): still one provider each.
    const clients = makeClients(31337, ctx.rpcUrl, provider.account);
    const params = { clients, registry: registry(), model, pricePerSecond: PRICE * 3n, endpoint: "https://provider.example.test/api", serviceType: "llm", asset: "0x0000000000000000000000000000000000000000" as const, log: silent };
    for (let i = 0; i < 100; i++) {
      const r = await ensureRegistration(params);
      expect(r).toMatchObject({ providerId: id, action: "unchanged" });
    }
    const raced = await Promise.all([ensureRegistration({ ...params, model: "lifecycle-race" }), ensureRegistration({ ...params, model: "lifecycle-race" })]);
    expect(raced[0].providerId).toBe(raced[1].providerId);
    expect(await registeredBy(provider.account.address)).toEqual([model, "lifecycle-race"]);
  }, 120_000);

  it("a restart mid-stream loses no usage, counts nothing twice, and withdraws once", async () => {
    const provider = await fundedWallet(ctx);
    const wallet = provider.account.address;
    const model = "lifecycle-restart";
    const env = {
      PROVIDER_PRIVATE_KEY: provider.key,
      PROVIDER_MODEL: model,
      PROVIDER_PRICE_PER_SECOND: PRICE.toString(),
      PROVIDER_ECHO_TOKENS_PER_SECOND: "25",
      PROVIDER_ECHO_MAX_TOKENS: "1000",
      PROVIDER_WITHDRAW_THRESHOLD: (PRICE * 1_000_000n).toString(), // never reached: only the shutdown withdraws
      PROVIDER_WITHDRAW_ON_SHUTDOWN: "true",
    };
    let agent = await start(ctx, env);
    const dataDir = agent.dataDir;
    const providerId = await providerIdOf(ctx, wallet, model);
    const consumer = new Consumer(ctx, (await fundedWallet(ctx)).account);
    const deposit = PRICE * 3600n;
    const streamId = await consumer.openStream(providerId, deposit);

    // 1. SIGTERM while an answer streams: the drain lets it finish, billed in full.
    const inflight = consumer.post(`${agent.url}/v1/chat/completions`, streamId, chatBody(model, "a b c d e f g h i j", { stream: true }));
    await new Promise((r) => setTimeout(r, 300));
    const exit1 = agent.stop("SIGTERM");
    const first = await readSSE(await inflight);
    expect(await exit1).toBe(0);
    expect(first.last.choices[0].finish_reason).toBe("stop");
    const a1 = BigInt(first.last.claw_receipt.amount);
    expect(a1).toBeGreaterThan(0n);
    expect((await withdrawals(ctx, wallet)).length).toBe(0); // nothing was collectable yet

    // 2. Restart: the receipt is where it was.
    agent = await start(ctx, { ...env, PROVIDER_DRAIN_TIMEOUT_MS: "400" }, { dataDir });
    expect((await latestReceipt(agent.url, consumer, streamId)).amount).toBe(a1.toString());

    // 3. SIGTERM with a short drain timeout: the answer is cut, billed for what was served, and remembered.
    const long = Array.from({ length: 150 }, (_, i) => `t${i}`).join(" ");
    const cut = consumer.post(`${agent.url}/v1/chat/completions`, streamId, chatBody(model, long, { stream: true }));
    await new Promise((r) => setTimeout(r, 300));
    const exit2 = agent.stop("SIGTERM");
    const second = await readSSE(await cut);
    expect(await exit2).toBe(0);
    expect(second.last.choices[0].finish_reason).toBe("length");
    expect(second.last.claw_billing.stop_reason).toBe("shutdown");
    const a2 = BigInt(second.last.claw_billing.charged);
    expect(a2).toBeGreaterThan(0n);
    expect(BigInt(second.last.claw_receipt.amount)).toBe(a1 + a2);

    agent = await start(ctx, env, { dataDir });
    expect((await latestReceipt(agent.url, consumer, streamId)).amount).toBe((a1 + a2).toString());

    // 4. Final receipt, closed on-chain by the consumer: credited to the provider's balance.
    const receipt = await finalReceipt(agent.url, consumer, streamId);
    expect(BigInt(receipt.amount)).toBe(a1 + a2);
    await consumer.closeWithReceipt(streamId, a1 + a2, receipt.signature);
    expect((await streamView(ctx, streamId)).withdrawn).toBe(a1 + a2);
    expect(await claimable(ctx, wallet)).toBe(a1 + a2);

    // 5. Shutdown withdraws it once; further restarts withdraw nothing.
    expect(await agent.stop("SIGINT")).toBe(0);
    let w = await withdrawals(ctx, wallet);
    expect(w.length).toBe(1);
    expect(w[0].amount).toBe(a1 + a2);
    expect(w[0].to).toBe(wallet);
    expect(await claimable(ctx, wallet)).toBe(0n);
    for (let i = 0; i < 2; i++) {
      agent = await start(ctx, env, { dataDir });
      expect(await agent.stop()).toBe(0);
    }
    w = await withdrawals(ctx, wallet);
    expect(w.length).toBe(1);
  }, 120_000);

  it("withdraws from a stream by voucher past the threshold, the credited balance on shutdown (TestUSD)", async () => {
    const provider = await fundedWallet(ctx);
    const wallet = provider.account.address;
    const model = "lifecycle-threshold";
    const price = 1000n; // TestUSD units (6 decimals) per second
    const token = ctx.deployment.contracts.TestUSD!.address;
    const agent = await start(ctx, {
      PROVIDER_PRIVATE_KEY: provider.key,
      PROVIDER_MODEL: model,
      PROVIDER_ASSET: "TestUSD",
      PROVIDER_PRICE_PER_SECOND: price.toString(),
      PROVIDER_ECHO_TOKENS_PER_SECOND: "20",
      PROVIDER_ECHO_MAX_TOKENS: "1000",
      PROVIDER_WITHDRAW_THRESHOLD: (price * 2n).toString(), // two seconds of serving
      PROVIDER_PAYOUT_INTERVAL_MS: "250",
      PROVIDER_WITHDRAW_ON_SHUTDOWN: "true",
      PROVIDER_LOG_LEVEL: process.env.AGENT_LOG_LEVEL ?? "info",
    });
    const providerId = await providerIdOf(ctx, wallet, model);
    const consumer = new Consumer(ctx, (await fundedWallet(ctx)).account);
    const tokenBalance = () => ctx.publicClient.readContract({ address: token, abi: testTokenAbi, functionName: "balanceOf", args: [wallet] });
    const sp = ctx.deployment.contracts.StreamPay.address;
    const withdrawnEvents = (args: { recipient?: `0x${string}`; streamId?: bigint }) =>
      ctx.publicClient.getContractEvents({
        address: sp,
        abi: streamPayAbi,
        eventName: "StreamWithdrawn",
        args,
        fromBlock: 0n,
      });
    const voucherWithdrawals = async () => (await withdrawnEvents({ recipient: wallet })).map((e) => e.args);

    // Stream 1: about half a second of serving; the consumer accepts the receipt and asks for the final
    // one with a voucher for it. Below the threshold: nothing moves.
    const s1 = await consumer.openTokenStream(providerId, price * 600n);
    const r1 = await consumer.post(`${agent.url}/v1/chat/completions`, s1, chatBody(model, "short", { max_tokens: 10 }));
    expect(r1.status).toBe(200);
    consumer.accept(s1, (await r1.json()).claw_receipt.amount);
    const f1 = await finalReceipt(agent.url, consumer, s1);
    const a1 = BigInt(f1.amount);
    expect(a1).toBe(consumer.acceptedOn(s1));
    expect(a1).toBeGreaterThan(0n);
    expect(a1).toBeLessThan(price * 2n);
    await new Promise((r) => setTimeout(r, 3500)); // many payout rounds: below the threshold, nothing moves
    expect((await streamView(ctx, s1)).withdrawn).toBe(0n);
    expect(await tokenBalance()).toBe(0n);

    // Stream 2: more than two seconds of serving, signed for: withdrawn by voucher, straight to the wallet.
    const s2 = await consumer.openTokenStream(providerId, price * 600n);
    const r2 = await consumer.post(`${agent.url}/v1/chat/completions`, s2, chatBody(model, Array.from({ length: 60 }, (_, i) => `word${i}`).join(" "), { max_tokens: 45 }));
    expect(r2.status).toBe(200);
    consumer.accept(s2, (await r2.json()).claw_receipt.amount);
    const f2 = await finalReceipt(agent.url, consumer, s2);
    const a2 = BigInt(f2.amount);
    expect(a2).toBeGreaterThanOrEqual(price * 2n);
    await waitFor("the voucher withdrawal", async () => (await voucherWithdrawals()).length > 0, 30_000, 250);
    // It pays min(voucher, streamed by the block's time): the agent may withdraw once that passes the
    // threshold, before the whole voucher has streamed.
    const [w2] = await withdrawnEvents({ streamId: s2 });
    const at = (await ctx.publicClient.getBlock({ blockNumber: w2.blockNumber })).timestamp;
    const streamedThen = price * (at - (await streamView(ctx, s2)).startTime);
    const paid = a2 < streamedThen ? a2 : streamedThen;
    expect(paid).toBeGreaterThanOrEqual(price * 2n);
    const expected = { streamId: s2, recipient: wallet, caller: wallet, amount: paid, cumulative: a2 };
    expect(await voucherWithdrawals()).toEqual([expected]);
    expect(await tokenBalance()).toBe(paid);
    expect(await claimable(ctx, wallet, token)).toBe(0n);

    // The consumer closes both with their final receipts: stream 1's receipt is credited to the balance,
    // stream 2's close adds what its withdrawal had not paid yet; each refund is the rest of the deposit.
    for (const [s, a] of [[s1, a1], [s2, a2]] as const) await waitStreamed(ctx, s, a);
    await consumer.closeWithReceipt(s1, a1, f1.signature);
    await consumer.closeWithReceipt(s2, a2, f2.signature);
    for (const [s, a] of [[s1, a1], [s2, a2]] as const) {
      const view = await streamView(ctx, s);
      expect(view.status).toBe(4); // Closed with the final receipt
      expect(view.withdrawn).toBe(a);
      expect(view.refunded).toBe(price * 600n - a);
    }
    const credited = a1 + (a2 - paid);
    expect(await claimable(ctx, wallet, token)).toBe(credited);
    expect(credited).toBeLessThan(price * 2n); // below the threshold: kept until shutdown
    await new Promise((r) => setTimeout(r, 1000));
    expect(await withdrawals(ctx, wallet)).toHaveLength(0);

    // Shutdown takes the credited balance once.
    expect(await agent.stop()).toBe(0);
    const w = await withdrawals(ctx, wallet);
    expect(w).toHaveLength(1);
    expect(w[0]).toMatchObject({ asset: token, amount: credited, to: wallet });
    expect(await tokenBalance()).toBe(a1 + a2);
    expect(await claimable(ctx, wallet, token)).toBe(0n);
    expect(await voucherWithdrawals()).toHaveLength(1); // nothing withdrawn twice
    expect(privateKeyToAccount(provider.key).address).toBe(wallet);
  }, 120_000);

  it("writes a pid file; a second signal forces the exit without waiting for the drain", async () => {
    const provider = await fundedWallet(ctx);
    const model = "lifecycle-signals";
    const dir = mkdtempSync(join(tmpdir(), "claw-pid-"));
    const pidFile = join(dir, "agent.pid");
    const agent = await start(ctx, {
      PROVIDER_PRIVATE_KEY: provider.key,
      PROVIDER_MODEL: model,
      PROVIDER_PRICE_PER_SECOND: PRICE.toString(),
      PROVIDER_ECHO_TOKENS_PER_SECOND: "10",
      PROVIDER_ECHO_MAX_TOKENS: "1000",
      PROVIDER_DRAIN_TIMEOUT_MS: "60000",
      PROVIDER_PID_FILE: pidFile,
    });
    expect(readFileSync(pidFile, "utf8").trim()).toBe(String(agent.process.child.pid));
    const consumer = new Consumer(ctx, (await fundedWallet(ctx)).account);
    const streamId = await consumer.openStream(await providerIdOf(ctx, provider.account.address, model), PRICE * 600n);
    const long = Array.from({ length: 100 }, (_, i) => `x${i}`).join(" "); // ~10 s at 10 tokens/s
    const pending = consumer.post(`${agent.url}/v1/chat/completions`, streamId, chatBody(model, long, { stream: true })).then((r) => r.text()).catch(() => "");
    await new Promise((r) => setTimeout(r, 300));
    const t0 = Date.now();
    agent.process.child.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 300));
    expect(agent.process.child.exitCode).toBeNull(); // draining the running answer
    agent.process.child.kill("SIGTERM");
    expect(await agent.process.exited).toBe(130);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(existsSync(pidFile)).toBe(false);
    expect(agent.logs().some((l) => l.msg === "second signal: exiting now without draining")).toBe(true);
    await pending;
    removeDir(dir);
  }, 60_000);
});

