/**
 * The keeper (scripts/lib/keeper.ts, `npm run keeper`): it settles depleted streams and streams idle past
 * the grace period, found in the indexer, earns exactly 10 bps of what it settles, and does not send a
 * batch whose reward would not cover its gas × margin. Exact balances for keeper, provider and consumer.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { type PrivateKeyAccount, parseEventLogs } from "viem";
import pino from "pino";
import { StreamStatusCode, streamPayAbi } from "@clawcompute/sdk";
import { startProcess, waitFor } from "@clawcompute/scripts/lib/processes.ts";
import { Keeper, type KeeperConfig } from "@clawcompute/scripts/lib/keeper.ts";
import { type Ctx, balance, chainContext, claimable, fundedWallet, registerProvider, scriptsDir, sleep, streamView, walletClient } from "./helpers.ts";

const BIG = 1_000_000_000_000_000_000n; // 1 ETH per second: rewards that pay for gas on any fee
const TINY = 1_000n; // 1000 wei per second: a reward of a few wei

describe("keeper", () => {
  let ctx: Ctx;
  let keeperAccount: PrivateKeyAccount;
  let keeperKey: `0x${string}`;
  let consumer: PrivateKeyAccount;
  let big: { providerId: bigint; account: PrivateKeyAccount };
  let tiny: { providerId: bigint; account: PrivateKeyAccount };

  const config = (over: Partial<KeeperConfig> = {}): KeeperConfig => ({
    rpcUrl: ctx.rpcUrl,
    chainId: 31337,
    deploymentsDir: ctx.deploymentsDir,
    indexerUrl: ctx.indexerUrl,
    intervalMs: 200,
    idleGraceSeconds: 3600,
    minWithdrawable: 0n,
    batchSize: 50,
    maxBatchesPerTick: 10,
    gasMargin: 1.5,
    maxFeePerGas: undefined,
    tokenPrices: new Map(),
    indexerTimeoutMs: 5000,
    logLevel: "silent",
    keystore: undefined,
    keystorePasswordFile: undefined,
    ...over,
  });
  const keeper = async (over: Partial<KeeperConfig> = {}) => {
    const k = new Keeper({ config: config(over), account: keeperAccount, log: pino({ level: "silent" }) });
    await k.init();
    return k;
  };

  const openStream = async (providerId: bigint, rate: bigint, seconds: bigint) => {
    const wallet = walletClient(ctx, consumer);
    const deposit = rate * seconds;
    const hash = await wallet.writeContract({ address: ctx.streamPay, abi: streamPayAbi, functionName: "createStream", args: [providerId, rate, deposit], value: deposit });
    const receipt = await ctx.publicClient.waitForTransactionReceipt({ hash });
    return parseEventLogs({ abi: streamPayAbi, logs: receipt.logs, eventName: "StreamCreated" })[0].args.streamId;
  };

  beforeAll(async () => {
    ctx = chainContext();
    const k = await fundedWallet(ctx);
    keeperAccount = k.account;
    keeperKey = k.key;
    consumer = (await fundedWallet(ctx, 1000n)).account;
    big = await registerProvider(ctx, { model: "keeper-big", pricePerSecond: BIG, endpoint: "http://127.0.0.1:9/big" });
    tiny = await registerProvider(ctx, { model: "keeper-tiny", pricePerSecond: TINY, endpoint: "http://127.0.0.1:9/tiny" });
  });

  let idleStream: bigint;
  let tinyStream: bigint;

  it("skips a batch whose reward would not pay for its gas: nothing is sent", async () => {
    idleStream = await openStream(big.providerId, BIG, 60n); // in use: not depleted, not idle for an hour
    tinyStream = await openStream(tiny.providerId, TINY, 2n);
    await sleep(2500);
    const k = await keeper();
    await waitFor("the depleted stream in the indexer", async () => (await k.findCandidates()).candidates.some((c) => c.id === tinyStream), 30_000, 200);
    const { candidates } = await k.findCandidates();
    expect(candidates.map((c) => c.id)).not.toContain(idleStream);
    const nonce = await ctx.publicClient.getTransactionCount({ address: keeperAccount.address });
    const before = await balance(ctx, keeperAccount.address);
    const report = await k.tick();
    expect(report.batches).toHaveLength(1);
    expect(report.batches[0]).toMatchObject({ action: "unprofitable", expectedReward: 2n });
    expect(report.batches[0].gasEstimate).toBeGreaterThan(0n);
    expect(await ctx.publicClient.getTransactionCount({ address: keeperAccount.address })).toBe(nonce);
    expect(await balance(ctx, keeperAccount.address)).toBe(before);
    expect((await streamView(ctx, tinyStream)).status).toBe(StreamStatusCode.Open);
    await k.stop();
  });

  it("settles depleted streams and earns exactly 10 bps of what it settles", async () => {
    const depleted = await openStream(big.providerId, BIG, 3n);
    await sleep(3500);
    const k = await keeper();
    await waitFor("the depleted stream in the indexer", async () => (await k.findCandidates()).candidates.some((c) => c.id === depleted && c.reason === "depleted"), 30_000, 200);
    const keeperBefore = await balance(ctx, keeperAccount.address);
    const bigBefore = await claimable(ctx, big.account.address);
    const tinyBefore = await claimable(ctx, tiny.account.address);
    const consumerBefore = await balance(ctx, consumer.address);

    const report = await k.tick();
    const sent = report.batches.find((b) => b.action === "sent")!;
    expect(sent, JSON.stringify(report, (_k, v) => (typeof v === "bigint" ? v.toString() : v))).toBeDefined();
    expect(sent.streamIds).toContain(depleted);
    expect(sent.streamIds).toContain(tinyStream); // the tiny one rides along in a batch that pays
    expect(sent.streamIds).not.toContain(idleStream);

    const receipt = await ctx.publicClient.getTransactionReceipt({ hash: sent.hash! });
    const settled = parseEventLogs({ abi: streamPayAbi, logs: receipt.logs, eventName: "StreamSettled" });
    const [batch] = parseEventLogs({ abi: streamPayAbi, logs: receipt.logs, eventName: "BatchSettled" });
    let reward = 0n;
    let total = 0n;
    for (const s of settled) {
      expect(s.args.keeperReward).toBe((s.args.amount * 10n) / 10_000n); // exactly 10 bps, rounded down
      reward += s.args.keeperReward;
      total += s.args.amount;
    }
    expect(batch.args).toMatchObject({ keeper: keeperAccount.address, settledAmount: total, reward });
    const bigSettled = settled.find((s) => s.args.streamId === depleted)!.args;
    expect(bigSettled.amount).toBe(BIG * 3n); // the whole deposit streamed
    const tinySettled = settled.find((s) => s.args.streamId === tinyStream)!.args;

    // Exact balances: the keeper gains its reward minus its gas; each provider is credited the rest.
    const gas = receipt.gasUsed * receipt.effectiveGasPrice;
    expect((await balance(ctx, keeperAccount.address)) - keeperBefore).toBe(reward - gas);
    expect(reward).toBeGreaterThan(gas); // it paid
    expect((await claimable(ctx, big.account.address)) - bigBefore).toBe(bigSettled.amount - bigSettled.keeperReward);
    expect((await claimable(ctx, tiny.account.address)) - tinyBefore).toBe(tinySettled.amount - tinySettled.keeperReward);
    expect(await balance(ctx, consumer.address)).toBe(consumerBefore); // a depleted stream has nothing to refund
    expect((await streamView(ctx, depleted)).status).toBe(StreamStatusCode.Settled);
    expect((await streamView(ctx, tinyStream)).status).toBe(StreamStatusCode.Settled);
    expect((await streamView(ctx, idleStream)).status).toBe(StreamStatusCode.Open);
    await k.stop();
  });

  it("settles a stream idle past the grace period (it stays open) and earns exactly 10 bps", async () => {
    const k = await keeper({ idleGraceSeconds: 2 });
    await waitFor("the idle stream as a candidate", async () => (await k.findCandidates()).candidates.some((c) => c.id === idleStream && c.reason === "idle"), 30_000, 200);
    const keeperBefore = await balance(ctx, keeperAccount.address);
    const before = await streamView(ctx, idleStream);
    const report = await k.tick();
    const sent = report.batches.find((b) => b.action === "sent")!;
    expect(sent.streamIds).toEqual([idleStream]);
    const receipt = await ctx.publicClient.getTransactionReceipt({ hash: sent.hash! });
    const [s] = parseEventLogs({ abi: streamPayAbi, logs: receipt.logs, eventName: "StreamSettled" });
    expect(s.args.keeperReward).toBe((s.args.amount * 10n) / 10_000n);
    const after = await streamView(ctx, idleStream);
    expect(after.status).toBe(StreamStatusCode.Open);
    expect(after.withdrawn - before.withdrawn).toBe(s.args.amount);
    expect((await balance(ctx, keeperAccount.address)) - keeperBefore).toBe(s.args.keeperReward - receipt.gasUsed * receipt.effectiveGasPrice);
    await k.stop();
    // Done with it: the consumer cancels (refund of the unstreamed rest).
    const wallet = walletClient(ctx, consumer);
    await ctx.publicClient.waitForTransactionReceipt({ hash: await wallet.writeContract({ address: ctx.streamPay, abi: streamPayAbi, functionName: "cancelStream", args: [idleStream] }) });
  });

  it("npm run keeper: validates its configuration, runs rounds, logs JSON, and stops gracefully on SIGTERM", async () => {
    const env = { ...process.env, KEEPER_ENV_FILE: "/dev/null", KEEPER_RPC_URL: ctx.rpcUrl, KEEPER_DEPLOYMENTS_DIR: ctx.deploymentsDir, KEEPER_INDEXER_URL: ctx.indexerUrl, KEEPER_INTERVAL_MS: "200" };
    const refused = startProcess("keeper-bad", process.execPath, ["--import", "tsx", "keeper.ts", "--private-key", keeperKey, "--batch-size", "0"], { cwd: scriptsDir, env });
    expect(await refused.exited).toBe(2);
    expect(refused.output()).toContain("--private-key is refused");
    expect(refused.output()).toContain("KEEPER_BATCH_SIZE (--batch-size)");
    expect(refused.output()).not.toContain(keeperKey.slice(2));

    const once = startProcess("keeper-once", process.execPath, ["--import", "tsx", "keeper.ts", "--once"], { cwd: scriptsDir, env: { ...env, KEEPER_PRIVATE_KEY: keeperKey } });
    expect(await once.exited).toBe(0);
    const lines = once.output().split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as { msg: string });
    expect(lines.map((l) => l.msg)).toEqual(expect.arrayContaining(["keeper started", "keeper stopped"]));
    expect(once.output()).not.toContain(keeperKey.slice(2));

    const running = startProcess("keeper-loop", process.execPath, ["--import", "tsx", "keeper.ts"], { cwd: scriptsDir, env: { ...env, KEEPER_PRIVATE_KEY: keeperKey } });
    await waitFor("the keeper to start", async () => running.output().includes("keeper started"), 30_000, 100);
    await sleep(600);
    await running.stop({ signal: "SIGTERM", graceMs: 20_000 });
    expect(await running.exited).toBe(0);
    expect(running.output()).toContain("keeper stopped");
  });

  it("scripts/.env.example documents every keeper option", async () => {
    const { readFileSync } = await import("node:fs");
    const { KEEPER_OPTIONS, keeperEnvExample } = await import("@clawcompute/scripts/lib/keeper.ts");
    const example = readFileSync(`${scriptsDir}.env.example`, "utf8");
    expect(example).toBe(keeperEnvExample());
    for (const o of KEEPER_OPTIONS) expect(example).toContain(`${o.env}=`);
  });
});
