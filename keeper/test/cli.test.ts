/**
 * `npm run keeper` as operators run it (src/main.ts in its own process group): configuration errors stop
 * start-up with a message naming the setting, the key is never echoed, /healthz and /metrics answer while
 * it settles what is due, and SIGTERM lets the round in flight finish before it exits 0.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Hex, type PrivateKeyAccount, zeroAddress } from "viem";
import { StreamStatusCode, keeperReward } from "@clawcompute/sdk";
import { freePort, startProcess, waitFor } from "@clawcompute/scripts/lib/processes.ts";
import { KEEPER_OPTIONS } from "../src/index.ts";
import {
  type Ctx,
  type Provider,
  fundedWallet,
  keeperDir,
  mineAt,
  openStream,
  registerProvider,
  startDevChain,
  streamView,
} from "./helpers.ts";

const PRICE = 10n ** 17n; // 0.1 ETH per second

/** The `msg` of every JSON log line. */
const messages = (output: string) =>
  output.split("\n").filter((l) => l.startsWith("{")).map((l) => (JSON.parse(l) as { msg: string }).msg);

describe("npm run keeper", () => {
  let ctx: Ctx;
  let keeperKey: Hex;
  let keeperAccount: PrivateKeyAccount;
  let provider: Provider;

  /** The process env without any KEEPER_… the developer may have set, plus the test chain. */
  const env = (over: Record<string, string> = {}): NodeJS.ProcessEnv => ({
    ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("KEEPER_"))),
    KEEPER_ENV_FILE: "/dev/null",
    KEEPER_RPC_URL: ctx.rpcUrl,
    KEEPER_DEPLOYMENTS_DIR: ctx.deploymentsDir,
    KEEPER_INDEXER_URL: "none",
    KEEPER_INTERVAL_MS: "200",
    ...over,
  });
  const run = (name: string, args: string[], e: NodeJS.ProcessEnv) =>
    startProcess(name, process.execPath, ["--import", "tsx", "src/main.ts", ...args], { cwd: keeperDir, env: e,
      echo: process.env.KEEPER_TEST_ECHO === "1" });

  beforeAll(async () => {
    ctx = await startDevChain();
    const k = await fundedWallet(ctx);
    keeperKey = k.key;
    keeperAccount = k.account;
    provider = await registerProvider(ctx, { model: "keeper-cli", pricePerSecond: PRICE });
  });

  afterAll(async () => {
    await ctx?.stop();
  });

  it("a bad value stops start-up with a message naming it; a secret flag is refused, never echoed", async () => {
    // Three processes at once (each takes seconds to start on a busy machine).
    const bad = run("keeper-bad", ["--private-key", keeperKey],
      env({ KEEPER_PRIVATE_KEY: keeperKey, KEEPER_BATCH_SIZE: "0", KEEPER_HTTP_PORT: "70000", KEEPER_L1_FEE: "maybe",
        KEEPER_FINALIZE_CANCELS: "sometimes", KEEPER_INDEXER_URL: "ftp://x" }));
    const noKey = run("keeper-nokey", [], env());
    // Valid values, wrong chain: it says which setting disagrees with the chain, and exits 1.
    const wrongChain = run("keeper-chain", [], env({ KEEPER_PRIVATE_KEY: keeperKey, KEEPER_CHAIN_ID: "84532" }));
    const [badCode, noKeyCode, wrongChainCode] = await Promise.all([bad.exited, noKey.exited, wrongChain.exited]);

    expect(badCode).toBe(2);
    const out = bad.output();
    expect(out).toContain('KEEPER_BATCH_SIZE (--batch-size): must be an integer between 1 and 500, got "0"');
    expect(out).toContain('KEEPER_HTTP_PORT (--http-port): must be an integer between 0 and 65535, got "70000"');
    expect(out).toContain('KEEPER_L1_FEE (--l1-fee): must be one of auto, on, off, got "maybe"');
    expect(out).toContain('KEEPER_FINALIZE_CANCELS (--finalize-cancels): must be true or false, got "sometimes"');
    expect(out).toContain("KEEPER_INDEXER_URL (--indexer-url): must be a http: or https: URL");
    expect(out).toContain("--private-key is refused");
    expect(out).not.toContain(keeperKey.slice(2));

    expect(noKeyCode).toBe(2);
    expect(noKey.output()).toContain("no signing key: set KEEPER_PRIVATE_KEY");

    expect(wrongChainCode).toBe(1);
    expect(wrongChain.output())
      .toContain(`KEEPER_RPC_URL=${ctx.rpcUrl} serves chain 31337, but KEEPER_CHAIN_ID is 84532.`);
    expect(wrongChain.output()).not.toContain(keeperKey.slice(2));
  });

  it("--help lists every option with its env variable", async () => {
    const help = run("keeper-help", ["--help"], env());
    expect(await help.exited).toBe(0);
    for (const o of KEEPER_OPTIONS) expect(help.output()).toContain(o.env);
  });

  it("serves /healthz and /metrics, settles an abandoned stream, and stops gracefully on SIGTERM", async () => {
    const { account: sender } = await fundedWallet(ctx);
    const id = await openStream(ctx, sender, provider, 10n);
    await mineAt(ctx, (await streamView(ctx, id)).abandonedAt);
    const port = await freePort();
    const keeper = run("keeper-loop", [], env({ KEEPER_PRIVATE_KEY: keeperKey, KEEPER_HTTP_PORT: String(port) }));
    const base = `http://127.0.0.1:${port}`;
    try {
      const settled = 'claw_keeper_streams_settled_total{kind="abandoned"} 1';
      const metrics = await waitFor("the keeper to settle the stream", async () => {
        if (keeper.child.exitCode !== null) {
          throw new Error(`keeper exited ${keeper.child.exitCode}:\n${keeper.output()}`);
        }
        const text = await fetch(`${base}/metrics`).then((r) => r.text(), () => "");
        return text.includes(settled) ? text : undefined;
      }, 60_000, 100);
      const reward = keeperReward(10n * PRICE);
      expect(metrics).toContain('claw_keeper_batches_total{kind="abandoned",result="sent"} 1');
      expect(metrics).toContain(`claw_keeper_rewards_total{asset="${zeroAddress}"} ${reward}`);
      expect(metrics).toMatch(/claw_keeper_gas_spent_wei_total [1-9]\d*/);
      expect(metrics).toContain("# TYPE claw_keeper_errors_total counter");
      expect(metrics).toMatch(/claw_keeper_rounds_total\{result="ok"\} [1-9]/);
      expect((await streamView(ctx, id)).status).toBe(StreamStatusCode.Settled);

      const health = await fetch(`${base}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({ status: "ok", keeper: keeperAccount.address, chainId: 31337,
        candidateSource: "scan", totals: { streams: 1, nativeRewards: String(reward) } });
      expect((await fetch(`${base}/nope`)).status).toBe(404);

      await keeper.stop({ signal: "SIGTERM", graceMs: 20_000 });
      expect(await keeper.exited).toBe(0);
      expect(messages(keeper.output())).toEqual(expect.arrayContaining(["keeper started", "abandoned streams settled",
        "signal received: finishing the round in flight (send it again to force exit)", "keeper stopped"]));
      expect(keeper.output()).not.toContain(keeperKey.slice(2));
      expect(await fetch(`${base}/healthz`).then(() => "answered", () => "closed")).toBe("closed");
    } finally {
      await keeper.stop({ signal: "SIGKILL" });
    }
  });

  it("--once runs one round and exits 0", async () => {
    const once = run("keeper-once", ["--once"], env({ KEEPER_PRIVATE_KEY: keeperKey }));
    expect(await once.exited).toBe(0);
    expect(messages(once.output())).toEqual(expect.arrayContaining(["keeper started", "keeper stopped"]));
  });
});
