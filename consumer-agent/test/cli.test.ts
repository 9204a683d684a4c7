/**
 * The CLI (`npm run consumer -- …`): configuration validation, keys never from flags, and every command
 * run as a real process against the chain, the indexer and a provider agent.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generatePrivateKey } from "viem/accounts";
import { StreamStatusCode } from "@clawcompute/sdk";
import { ConfigError } from "@clawcompute/sdk/node";
import { startProcess } from "@clawcompute/scripts/lib/processes.ts";
import { OPTIONS, envExample, loadConsumerConfig } from "../src/index.ts";
import { type Ctx, type ProviderHandle, chainContext, consumer, consumerDir, fundedWallet, startProvider, streamView } from "./helpers.ts";

const KEY = generatePrivateKey();
const problemsOf = (fn: () => unknown): string[] => {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error("expected a ConfigError");
};
const base = { CONSUMER_ENV_FILE: "/dev/null" };

describe("configuration", () => {
  it("names every wrong value at once, and the command's operands", () => {
    const problems = problemsOf(() => loadConsumerConfig({ argv: ["ask", "--budget", "1.5", "--min-rating", "7", "--indexer-url", "nope"], env: { ...base, CONSUMER_EXPECTED_SECONDS: "0" }, cwd: tmpdir() }));
    expect(problems.find((p) => p.startsWith("CONSUMER_BUDGET (--budget)"))).toContain('"1.5"');
    expect(problems.find((p) => p.startsWith("CONSUMER_MIN_RATING"))).toContain("between 0 and 5");
    expect(problems.find((p) => p.startsWith("CONSUMER_INDEXER_URL"))).toBeDefined();
    expect(problems.find((p) => p.startsWith("CONSUMER_EXPECTED_SECONDS"))).toContain('"0"');
    expect(problems).toContainEqual(expect.stringContaining("ask takes one prompt"));
    expect(problems).toContainEqual(expect.stringContaining("no signing key"));
    expect(problemsOf(() => loadConsumerConfig({ argv: ["top-up", "7", "lots"], env: { ...base, CONSUMER_PRIVATE_KEY: KEY }, cwd: tmpdir() }))).toEqual([expect.stringContaining("the amount must be a whole number")]);
    expect(problemsOf(() => loadConsumerConfig({ argv: ["buy"], env: base, cwd: tmpdir() }))).toContainEqual(expect.stringContaining('unknown command "buy"'));
    // DESIGN's short form: a quoted prompt alone is `ask`.
    expect(loadConsumerConfig({ argv: ["What is a stream?", "--model", "m"], env: { ...base, CONSUMER_PRIVATE_KEY: KEY }, cwd: tmpdir() })).toMatchObject({ command: "ask", operands: ["What is a stream?"] });
  });

  it("refuses a key on the command line without repeating it; read-only commands need no key", () => {
    for (const argv of [["ask", "hi", "--private-key", KEY], ["ask", "hi", `--key=${KEY}`], ["ask", KEY]]) {
      const problems = problemsOf(() => loadConsumerConfig({ argv, env: { ...base, CONSUMER_PRIVATE_KEY: KEY }, cwd: tmpdir() }));
      expect(problems.join("\n")).toMatch(/refus/);
      expect(problems.join("\n")).not.toContain(KEY.slice(2));
    }
    expect(loadConsumerConfig({ argv: ["providers", "--model", "x"], env: base, cwd: tmpdir() }).config.model).toBe("x");
    const loaded = loadConsumerConfig({ argv: ["ask", "hello there"], env: { ...base, CONSUMER_PRIVATE_KEY: KEY }, cwd: tmpdir() });
    expect(loaded.operands).toEqual(["hello there"]);
    expect(JSON.stringify(loaded.config, (_k, v) => (typeof v === "bigint" ? v.toString() : v))).not.toContain(KEY.slice(2));
  });

  it(".env.example documents every option and matches the declarations", () => {
    const example = readFileSync(join(consumerDir, ".env.example"), "utf8");
    expect(example).toBe(envExample());
    for (const o of OPTIONS) expect(example).toContain(`${o.env}=`);
  });
});

describe("the CLI against a provider", () => {
  let ctx: Ctx;
  let provider: ProviderHandle;
  let dataDir: string;
  const MODEL = "cli-echo";

  const cli = async (args: string[], env: Record<string, string> = {}) => {
    const proc = startProcess("consumer-cli", process.execPath, ["--import", "tsx", "src/cli.ts", ...args], {
      cwd: consumerDir,
      env: { ...process.env, CONSUMER_ENV_FILE: "/dev/null", CONSUMER_RPC_URL: ctx.rpcUrl, CONSUMER_DEPLOYMENTS_DIR: ctx.deploymentsDir, CONSUMER_INDEXER_URL: ctx.indexerUrl, CONSUMER_MODEL: MODEL, CONSUMER_DATA_DIR: dataDir, CONSUMER_MAX_TOKENS: "6", CONSUMER_EXPECTED_SECONDS: "20", ...env },
    });
    const code = await proc.exited;
    return { code, output: proc.output() };
  };

  beforeAll(async () => {
    ctx = chainContext();
    dataDir = mkdtempSync(join(tmpdir(), "claw-consumer-cli-"));
    provider = await startProvider(ctx, { PROVIDER_MODEL: MODEL, PROVIDER_PRICE_PER_SECOND: "10000000000000" });
  });
  afterAll(async () => {
    await provider?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("ask prints the answer as it streams, then deposited / paid / came back / gas", async () => {
    const { key } = await fundedWallet(ctx);
    const r = await cli(["ask", "tell me about streams"], { CONSUMER_PRIVATE_KEY: key });
    expect(r.code, r.output).toBe(0);
    expect(r.output).toContain("Echo: tell me about streams");
    for (const word of ["deposited", "paid", "came back", "gas", "closed with the final receipt"]) expect(r.output).toContain(word);
    expect(r.output).not.toContain(key.slice(2));

    const json = await cli(["ask", "json please", "--output", "json"], { CONSUMER_PRIVATE_KEY: key });
    expect(json.code, json.output).toBe(0);
    const doc = JSON.parse(json.output.slice(json.output.indexOf("{")));
    expect(doc.answer).toContain("json please");
    expect(BigInt(doc.deposited) - BigInt(doc.refunded)).toBe(BigInt(doc.paid));
  });

  it("chat reads prompts from stdin, answers each on one stream, and closes it at the end", async () => {
    const { key } = await fundedWallet(ctx);
    const proc = startProcess("consumer-chat", "bash", ["-c", `printf 'first line\\nsecond line\\n' | "${process.execPath}" --import tsx src/cli.ts chat --output json`], {
      cwd: consumerDir,
      env: { ...process.env, CONSUMER_ENV_FILE: "/dev/null", CONSUMER_PRIVATE_KEY: key, CONSUMER_RPC_URL: ctx.rpcUrl, CONSUMER_DEPLOYMENTS_DIR: ctx.deploymentsDir, CONSUMER_INDEXER_URL: ctx.indexerUrl, CONSUMER_MODEL: MODEL, CONSUMER_DATA_DIR: dataDir, CONSUMER_MAX_TOKENS: "5" },
    });
    expect(await proc.exited, proc.output()).toBe(0);
    const docs = proc.output().split(/\n(?=\{)/).map((t) => t.trim()).filter((t) => t.startsWith("{")).map((t) => JSON.parse(t));
    expect(docs[0].answer).toContain("first line");
    expect(docs[1].answer).toContain("second line");
    expect(docs[1].streamId).toBe(docs[0].streamId);
    const summary = docs[2];
    expect(summary.streams).toHaveLength(1);
    expect(summary.streams[0]).toMatchObject({ requests: 2, closedWith: "receipt" });
    expect((await streamView(ctx, BigInt(docs[0].streamId))).status).toBe(StreamStatusCode.Closed);
  });

  it("providers (no key needed) and streams", async () => {
    const p = await cli(["providers"]);
    expect(p.code, p.output).toBe(0);
    expect(p.output).toContain(`#${provider.providerId}`);
    expect(p.output).toContain("/h");
    expect(p.output).toContain("live");

    const { key, account } = await fundedWallet(ctx);
    const c = await consumer(ctx, account, { model: MODEL, maxTokens: 5 });
    const r = await c.ask({ prompt: "one" });
    const s = await cli(["streams", "--indexer-url", "none"], { CONSUMER_PRIVATE_KEY: key });
    expect(s.code, s.output).toBe(0);
    expect(s.output).toContain(`#${r.streamId}`);
    expect(s.output).toContain("closed");
  });

  it("the README's library example (examples/quickstart.ts) runs", async () => {
    const { key } = await fundedWallet(ctx);
    const proc = startProcess("quickstart", process.execPath, ["--import", "tsx", "examples/quickstart.ts"], {
      cwd: consumerDir,
      env: { ...process.env, CONSUMER_PRIVATE_KEY: key, CONSUMER_RPC_URL: ctx.rpcUrl, CONSUMER_DEPLOYMENTS_DIR: ctx.deploymentsDir, CONSUMER_INDEXER_URL: ctx.indexerUrl, CONSUMER_MODEL: MODEL },
    });
    expect(await proc.exited, proc.output()).toBe(0);
    expect(proc.output()).toContain("Echo: What is a payment stream?");
    expect(proc.output()).toMatch(/chat: 2 prompts on stream \d+/);
  });

  it("top-up, close (with the final receipt, checked against the journal) and cancel of streams opened earlier", async () => {
    const { key, account } = await fundedWallet(ctx);
    const c = await consumer(ctx, account, { model: MODEL, maxTokens: 5, dataDir, budget: 10n ** 15n });
    const s1 = c.session({ idleCloseSeconds: 600 });
    const a1 = await s1.send("keep this stream open"); // left open: a later `close` finishes it
    const s2 = c.session({ idleCloseSeconds: 600 });
    const a2 = await s2.send("and this one");

    const before = await streamView(ctx, a1.streamId);
    const topUp = await cli(["top-up", a1.streamId.toString(), (10n ** 14n).toString()], { CONSUMER_PRIVATE_KEY: key, CONSUMER_BUDGET: (10n ** 15n).toString() });
    expect(topUp.code, topUp.output).toBe(0);
    expect((await streamView(ctx, a1.streamId)).deposited).toBe(before.deposited + 10n ** 14n);
    const tooMuch = await cli(["top-up", a1.streamId.toString(), (10n ** 15n).toString()], { CONSUMER_PRIVATE_KEY: key, CONSUMER_BUDGET: (10n ** 15n).toString() });
    expect(tooMuch.code).toBe(1);
    expect(tooMuch.output).toContain("does not fit in the budget");

    const close = await cli(["close", a1.streamId.toString()], { CONSUMER_PRIVATE_KEY: key });
    expect(close.code, close.output).toBe(0);
    expect(close.output).toContain("closed with the final receipt");
    const v1 = await streamView(ctx, a1.streamId);
    expect(v1.status).toBe(StreamStatusCode.Closed);
    expect(v1.withdrawn).toBe(a1.receiptAmount);

    // The provider served a2 with a voucher of 0 (nothing was accepted before that request): it has nothing
    // to answer the cancel with, so what streamed is held for its challenge window, then `finalize` ends it.
    const cancel = await cli(["cancel", a2.streamId.toString()], { CONSUMER_PRIVATE_KEY: key, CONSUMER_CANCEL_ANSWER_WAIT_MS: "300" });
    expect(cancel.code, cancel.output).toBe(0);
    expect(cancel.output).toContain("is held until the provider answers");
    const cancelling = await streamView(ctx, a2.streamId);
    expect(cancelling.status).toBe(StreamStatusCode.Cancelling);

    const again = await cli(["close", a2.streamId.toString()], { CONSUMER_PRIVATE_KEY: key });
    expect(again.code).toBe(1);
    expect(again.output).toContain("already cancelling: run `finalize` after its challenge window ends");

    // (Finalising inside the window only reports what is held: the library tests check that; each CLI run
    // here takes seconds, longer than this chain's short window.)
    await new Promise((r) => setTimeout(r, Number(cancelling.challengeEndsAt - cancelling.endTime) * 1000 + 1500));
    const done = await cli(["finalize"], { CONSUMER_PRIVATE_KEY: key });
    expect(done.code, done.output).toBe(0);
    expect(done.output).toContain(`stream ${a2.streamId}: finalised`);
    const v2 = await streamView(ctx, a2.streamId);
    expect([v2.status, v2.withdrawn, v2.refunded]).toEqual([StreamStatusCode.Cancelled, 0n, v2.deposited]);
  });
});
