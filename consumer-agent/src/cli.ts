/**
 * The consumer agent's command line: `npm run consumer -- <command> …` (root) = `npm run start -w
 * consumer-agent -- …`. It only parses options and prints; everything else is the library (consumer.ts).
 * Exit codes: 0 done, 1 failed (no provider, a transaction reverted, …), 2 bad configuration.
 */
import { createInterface } from "node:readline";
import { formatUnits } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import pino from "pino";
import { ConfigError, loadAccount } from "@clawcompute/sdk/node";
import { describeError } from "./chain.ts";
import { type LoadedConsumerConfig, envExample, helpText, loadConsumerConfig } from "./config.ts";
import { ClawConsumer } from "./consumer.ts";
import { formatUnitsOf, toJson } from "./format.ts";
import type { SessionSummary } from "./session.ts";
import type { StreamOutcome } from "./stream.ts";

const out = (text: string) => process.stdout.write(text);
const err = (text: string) => process.stderr.write(text);

function costLines(s: Pick<SessionSummary, "deposited" | "paid" | "refunded" | "gasUsed" | "gasCost" | "asset">, native: { symbol: string; decimals: number }): string {
  const a = s.asset;
  return [
    `  deposited    ${formatUnitsOf(s.deposited, a)}`,
    `  paid         ${formatUnitsOf(s.paid, a)}   (to the provider${s.paid === 0n ? "" : "s"})`,
    `  came back    ${formatUnitsOf(s.refunded, a)}`,
    `  gas          ${formatUnitsOf(s.gasCost, native)}   (${s.gasUsed} gas)`,
  ].join("\n");
}

function outcomeLine(o: StreamOutcome, asset: { symbol: string; decimals: number }): string {
  const how = o.closedWith === "receipt" ? `closed with the final receipt (${formatUnitsOf(o.receiptAmount ?? 0n, asset)})` : o.closedWith === "cancel" ? `cancelled${o.reason ? ` — ${o.reason}` : ""}` : "closed by someone else";
  const dispute = o.dispute ? ` — RECEIPT REFUSED (${o.dispute.reason}); provider ${o.dispute.rated ? "rated 1" : "to be rated 1 at `finalize`"}` : "";
  const pending = o.pendingRefund !== undefined
    ? `\n    ${formatUnitsOf(o.pendingRefund, asset)} is held until the provider answers with your vouchers or its challenge window ends at ${new Date(Number(o.challengeEndsAt) * 1000).toISOString()}; then run \`finalize\``
    : "";
  return `  stream ${o.streamId} → provider ${o.providerId}: ${o.requests} request(s), ${(o.measuredMs / 1000).toFixed(3)} s measured, ${how}${dispute}${pending}`;
}

async function connect(loaded: LoadedConsumerConfig, log: pino.Logger): Promise<ClawConsumer> {
  const c = loaded.config;
  const hasKey = loaded.keySource.privateKey !== undefined || loaded.keySource.keystore !== undefined;
  // Read-only commands work without a key: a throwaway account that never signs a transaction.
  const account = hasKey ? loadAccount(loaded.keySource) : privateKeyToAccount(generatePrivateKey());
  return ClawConsumer.create({
    account,
    rpcUrl: c.rpcUrl,
    chainId: c.chainId,
    deploymentsDir: c.deploymentsDir,
    indexerUrl: c.indexerUrl === "none" ? undefined : c.indexerUrl,
    model: c.model,
    asset: c.asset,
    budget: c.budget,
    maxPricePerSecond: c.maxPricePerSecond,
    minRating: c.minRating,
    expectedSeconds: c.expectedSeconds,
    maxTokens: c.maxTokens,
    requestTimeoutMs: c.requestTimeoutMs,
    healthTimeoutMs: c.healthTimeoutMs,
    indexerTimeoutMs: c.indexerTimeoutMs,
    maxAttempts: c.maxAttempts,
    receiptPolicy: { toleranceBps: c.receiptToleranceBps, slackMs: c.receiptSlackMs },
    closeWaitMs: c.closeWaitMs,
    cancelAnswerWaitMs: c.cancelAnswerWaitMs,
    sessionIdleSeconds: c.sessionIdleSeconds,
    rateServed: c.rateServed,
    dataDir: c.dataDir,
    log,
  });
}

async function run(loaded: LoadedConsumerConfig): Promise<number> {
  const c = loaded.config;
  const json = c.output === "json";
  const log = pino({ level: c.logLevel, base: { service: "consumer-agent" }, timestamp: pino.stdTimeFunctions.isoTime, redact: { paths: ["privateKey", "*.privateKey", "password", "*.password"], censor: "[redacted]" } }, pino.destination(2));
  for (const w of loaded.warnings) log.warn(w);
  const consumer = await connect(loaded, log);
  const native = consumer.ctx.clients.chain.nativeCurrency;
  const asset = consumer.asset;

  switch (loaded.command) {
    case "providers": {
      const found = await consumer.providers();
      if (json) {
        out(`${toJson(found)}\n`);
        return 0;
      }
      out(`Providers of "${c.model}" priced in ${asset.symbol} (from the ${found.source}${found.indexerError ? `; indexer: ${found.indexerError}` : ""}), best first:\n`);
      if (!found.providers.length) out("  none\n");
      for (const p of found.providers) {
        const rating = p.ratingAverage === null ? "unrated" : `${p.ratingAverage.toFixed(2)}/5 (${p.ratingCount})`;
        out(`  #${p.id}  ${formatUnitsOf(p.pricePerSecond, asset)}/s = ${formatUnitsOf(p.pricePerHour, asset)}/h  rating ${rating}  requests ${p.requestsServed}  ${p.live ? "live" : `NOT LIVE (${p.liveDetail})`}  ${p.endpoint}\n`);
      }
      return 0;
    }
    case "streams": {
      const found = await consumer.streams();
      if (json) {
        out(`${toJson(found)}\n`);
        return 0;
      }
      out(`Streams of ${consumer.address} (from the ${found.source}):\n`);
      if (!found.streams.length) out("  none\n");
      for (const s of found.streams) {
        const window = s.challengeEndsAt !== undefined && (s.status === "cancelling" || s.status === "challenge_expired")
          ? `  window ends ${new Date(Number(s.challengeEndsAt) * 1000).toISOString()}`
          : "";
        out(`  #${s.id}  provider ${s.providerId}  ${s.status.padEnd(19)} deposited ${formatUnits(s.deposited, asset.decimals)}  streamed ${formatUnits(s.streamed, asset.decimals)}  paid ${formatUnits(s.withdrawn, asset.decimals)}  refundable ${formatUnits(s.refundable, asset.decimals)}  refunded ${formatUnits(s.refunded, asset.decimals)}${window}\n`);
      }
      return 0;
    }
    case "ask": {
      const result = await consumer.ask({ prompt: loaded.operands[0], onToken: json ? undefined : (t) => out(t) });
      if (json) {
        out(`${toJson({ answer: result.text, providerId: result.providerId, streamId: result.streamId, measuredMs: result.measuredMs, dispute: result.dispute, ...result.summary })}\n`);
        return 0;
      }
      out(`\n\n— provider ${result.providerId}, stream ${result.streamId}, ${(result.measuredMs / 1000).toFixed(3)} s of serving measured\n`);
      for (const f of result.summary.failovers) out(`  skipped provider ${f.providerId}: ${f.error}\n`);
      for (const o of result.summary.streams) out(`${outcomeLine(o, asset)}\n`);
      out(`${costLines(result.summary, native)}\n`);
      return 0;
    }
    case "chat": {
      const session = consumer.session();
      let closing: Promise<SessionSummary> | undefined;
      const finish = async () => {
        closing ??= session.close();
        const summary = await closing;
        if (json) out(`${toJson(summary)}\n`);
        else {
          out(`\nSession closed.\n`);
          for (const o of summary.streams) out(`${outcomeLine(o, asset)}\n`);
          out(`${costLines(summary, native)}\n`);
        }
      };
      let signals = 0;
      const onSignal = () => {
        if (++signals > 1) process.exit(130);
        err("\nclosing the session (again to quit at once)…\n");
        finish().then(() => process.exit(0), (e) => {
          err(`closing failed: ${describeError(e)}\n`);
          process.exit(1);
        });
      };
      process.on("SIGINT", onSignal);
      process.on("SIGTERM", onSignal);
      const rl = createInterface({ input: process.stdin, terminal: false });
      if (!json && process.stdin.isTTY) out(`Chat with "${c.model}" (budget ${formatUnitsOf(c.budget, asset)}). Empty line or /quit ends the session.\n> `);
      for await (const line of rl) {
        const prompt = line.trim();
        if (prompt === "" || prompt === "/quit") break;
        try {
          const r = await session.send(prompt, { onToken: json ? undefined : (t) => out(t) });
          if (json) out(`${toJson({ answer: r.text, providerId: r.providerId, streamId: r.streamId, measuredMs: r.measuredMs, dispute: r.dispute })}\n`);
          else out(`\n${r.dispute ? `[receipt refused: ${r.dispute.message}; stream cancelled, provider rated 1]\n` : ""}> `);
        } catch (e) {
          err(`\n${describeError(e)}\n`);
          break;
        }
      }
      rl.close();
      await finish();
      return 0;
    }
    case "close":
    case "cancel": {
      const id = BigInt(loaded.operands[0]);
      const r = loaded.command === "close" ? await consumer.close(id) : await consumer.cancel(id);
      if (json) {
        out(`${toJson(r)}\n`);
        return 0;
      }
      out(`${outcomeLine(r.outcome, asset)}\n${costLines({ ...r.outcome, gasUsed: r.gasUsed, gasCost: r.gasCost, asset }, native)}\n`);
      return 0;
    }
    case "finalize": {
      const r = await consumer.finalize(loaded.operands.length ? loaded.operands.map((id) => BigInt(id)) : undefined);
      if (json) {
        out(`${toJson(r)}\n`);
        return 0;
      }
      if (!r.finalized.length && !r.waiting.length) out("No cancel to finalise.\n");
      for (const f of r.finalized) out(`  stream ${f.streamId}: finalised, ${formatUnitsOf(f.refunded, asset)} came back${f.rated ? "; provider rated" : ""}\n`);
      for (const w of r.waiting) {
        out(`  stream ${w.streamId}: ${formatUnitsOf(w.pendingRefund, asset)} held until ${new Date(Number(w.challengeEndsAt) * 1000).toISOString()} (the provider's window to answer)\n`);
      }
      if (r.gasUsed > 0n) out(`  gas ${formatUnitsOf(r.gasCost, native)} (${r.gasUsed} gas)\n`);
      return 0;
    }
    case "top-up": {
      const r = await consumer.topUp(BigInt(loaded.operands[0]), BigInt(loaded.operands[1]));
      if (json) {
        out(`${toJson(r)}\n`);
        return 0;
      }
      out(`stream ${loaded.operands[0]} now holds ${formatUnitsOf(r.deposited, asset)} and runs until ${new Date(Number(r.stopTime) * 1000).toISOString()}; gas ${formatUnitsOf(r.gasCost, native)} (${r.gasUsed} gas)\n`);
      return 0;
    }
    default:
      out(`${helpText()}\n`);
      return 0;
  }
}

async function main(): Promise<number> {
  let loaded: LoadedConsumerConfig;
  try {
    loaded = loadConsumerConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      err(`${error.message}\n`);
      return 2;
    }
    throw error;
  }
  if (loaded.command === "help") {
    out(`${helpText()}\n`);
    return 0;
  }
  if (loaded.command === "env-example") {
    out(envExample());
    return 0;
  }
  try {
    return await run(loaded);
  } catch (error) {
    err(`error: ${describeError(error)}\n`);
    return 1;
  }
}

main().then(
  (code) => process.exit(code),
  (error: Error) => {
    err(`fatal: ${error.stack ?? error.message}\n`);
    process.exit(1);
  },
);
