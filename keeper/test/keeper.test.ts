/**
 * The keeper against a real chain (anvil, the contracts from contracts/artifacts, grace period 60 s,
 * challenge window 30 s): it settles only abandoned streams (open past stop time + grace) and, when told
 * to, finalises cancels past their challenge window; it re-reads every candidate on-chain, pays only when
 * the reward covers gas, and stale ids cost nothing. Exact balances for keeper, provider and sender.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PrivateKeyAccount } from "viem";
import { EMPTY_VOUCHER, StreamStatusCode, keeperReward, streamPayAbi } from "@clawcompute/sdk";
import { GAS_PRICE_ORACLE, type Keeper } from "../src/index.ts";
import {
  CHALLENGE_WINDOW,
  type Ctx,
  GRACE_PERIOD,
  type Provider,
  balance,
  claimable,
  constantReturnCode,
  fundedWallet,
  gasPaidBy,
  increaseTime,
  mineAt,
  nonceOf,
  openStream,
  parseEventLogs,
  registerProvider,
  send,
  startDevChain,
  startFakeIndexer,
  startKeeper,
  streamView,
  withdrawByVoucher,
} from "./helpers.ts";

// 0.1 ETH per second (+7 wei, so that 10 bps of the amounts is not a round number): a reward far above gas.
const BIG = 100_000_000_000_000_007n;
const TINY = 1_000n; // 1000 wei per second: a reward of a few wei, far below gas

const json = (v: unknown) => JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? x.toString() : x));

describe("keeper", () => {
  let ctx: Ctx;
  let indexer: Awaited<ReturnType<typeof startFakeIndexer>>;
  let keeperAccount: PrivateKeyAccount;
  let sender: PrivateKeyAccount;
  let big: Provider;
  let tiny: Provider;
  const keepers: Keeper[] = [];

  const keeper = async (over: Parameters<typeof startKeeper>[2] = {}) => {
    const k = await startKeeper(ctx, keeperAccount, { indexerUrl: indexer.url, ...over });
    keepers.push(k);
    return k;
  };
  /** The fake indexer says these streams are abandoned (whatever the chain says). */
  const nominate = (...ids: bigint[]) => indexer.set(ids.map((id) => ({ id, state: "abandoned", abandonedAt: 1n })));

  beforeAll(async () => {
    ctx = await startDevChain();
    indexer = await startFakeIndexer();
    keeperAccount = (await fundedWallet(ctx)).account;
    sender = (await fundedWallet(ctx, 10_000n)).account;
    big = await registerProvider(ctx, { model: "keeper-big", pricePerSecond: BIG });
    tiny = await registerProvider(ctx, { model: "keeper-tiny", pricePerSecond: TINY });
  });

  afterAll(async () => {
    for (const k of keepers) await k.stop();
    await indexer?.stop();
    await ctx?.stop();
  });

  let first: bigint; // opened by the first test, settled by the second
  const VOUCHER = 123_456_789n; // what the provider withdrew from `first` before it was abandoned

  it("never touches an open stream before stop + grace, even when all of it has streamed", async () => {
    first = await openStream(ctx, sender, big, 20n);
    const s = await streamView(ctx, first);
    expect(s.abandonedAt).toBe(s.stopTime + GRACE_PERIOD);
    await mineAt(ctx, s.startTime + 5n); // something has streamed: the provider takes its voucher's worth
    await withdrawByVoucher(ctx, sender, big, first, VOUCHER);
    // Past its stop time (everything has streamed: 2 ETH), 10 s before it is abandoned.
    await mineAt(ctx, s.abandonedAt - 10n);
    expect((await streamView(ctx, first)).streamed).toBe(s.deposited);
    const nonce = await nonceOf(ctx, keeperAccount.address);

    // The indexer lies (it says abandoned); the chain says open: nothing is sent.
    nominate(first);
    const k = await keeper();
    const report = await k.tick();
    expect(report.error).toBeUndefined();
    expect(report.source).toBe("indexer");
    expect(report.batches).toEqual([]);
    expect(report.rejected)
      .toEqual([{ id: first, reason: expect.stringContaining(`abandoned only from ${s.abandonedAt}`) }]);

    // Scanning the chain instead finds it and leaves it alone too.
    const scanner = await keeper({ indexerUrl: undefined });
    const scanned = await scanner.tick();
    expect(scanned.source).toBe("scan");
    expect(scanned.batches).toEqual([]);
    expect(scanned.rejected.map((r) => r.id)).toContain(first);

    // Even a batch forced on it is checked first: the simulation closes nothing, the re-read drops it.
    const forced = await k.sendBatch("abandoned", [{ id: first, kind: "abandoned", asset: s.asset, amount: s.deposited,
      reward: keeperReward(s.deposited), value: keeperReward(s.deposited), dueAt: 0n }]);
    expect(forced.action).toBe("stale");
    expect(forced.dropped).toEqual([{ id: first, reason: expect.stringContaining("open: abandoned only from") }]);

    expect(await nonceOf(ctx, keeperAccount.address)).toBe(nonce);
    const after = await streamView(ctx, first);
    expect(after.status).toBe(StreamStatusCode.Open);
    expect(after.withdrawn).toBe(VOUCHER);
  });

  it("settles an abandoned stream and earns exactly 10 bps of what it settles", async () => {
    const s = await streamView(ctx, first);
    await mineAt(ctx, s.abandonedAt); // the first second it is abandoned
    nominate(first);
    const k = await keeper();
    const keeperBefore = await balance(ctx, keeperAccount.address);
    const creditBefore = await claimable(ctx, big.account.address);
    const providerBefore = await balance(ctx, big.account.address);
    const senderBefore = await balance(ctx, sender.address);

    const report = await k.tick();
    expect(report.batches, json(report)).toHaveLength(1);
    const [batch] = report.batches;
    expect(batch).toMatchObject({ kind: "abandoned", action: "sent", streamIds: [first], closed: 1 });

    const amount = s.deposited - VOUCHER; // what was left for the recipient side
    const reward = (amount * 10n) / 10_000n;
    expect(reward).toBe(keeperReward(amount));
    expect(amount % 1000n).not.toBe(0n); // so the rounding down is exercised
    const receipt = await ctx.publicClient.getTransactionReceipt({ hash: batch.hash! });
    const [settled] = parseEventLogs({ abi: streamPayAbi, logs: receipt.logs, eventName: "StreamSettled" });
    expect(settled.args).toEqual({ streamId: first, amount, keeperReward: reward });
    const gas = receipt.gasUsed * receipt.effectiveGasPrice;
    expect(batch.gasPaid).toBe(gas);
    expect(reward).toBeGreaterThan(gas); // it paid

    expect((await balance(ctx, keeperAccount.address)) - keeperBefore).toBe(reward - gas);
    expect((await claimable(ctx, big.account.address)) - creditBefore).toBe(amount - reward);
    expect(await balance(ctx, big.account.address)).toBe(providerBefore); // credited, not pushed
    expect(await balance(ctx, sender.address)).toBe(senderBefore); // an abandoned stream refunds nothing
    const after = await streamView(ctx, first);
    expect(after.status).toBe(StreamStatusCode.Settled);
    expect(after.withdrawn).toBe(s.deposited);
    expect(k.totals).toMatchObject({ batches: 1, streams: 1, nativeRewards: reward, gasPaid: gas });
    expect(await k.metrics.registry.getSingleMetricAsString("claw_keeper_streams_settled_total"))
      .toContain('claw_keeper_streams_settled_total{kind="abandoned"} 1');
  });

  let dust: bigint; // abandoned, with a reward of 2 wei

  it("skips a batch whose reward does not cover its gas: nothing is sent", async () => {
    dust = await openStream(ctx, sender, tiny, 2n);
    await mineAt(ctx, (await streamView(ctx, dust)).abandonedAt);
    nominate(dust);
    const k = await keeper();
    const nonce = await nonceOf(ctx, keeperAccount.address);
    const before = await balance(ctx, keeperAccount.address);
    const report = await k.tick();
    expect(report.batches).toHaveLength(1);
    const [batch] = report.batches;
    expect(batch).toMatchObject({ action: "unprofitable", streamIds: [dust], expectedReward: keeperReward(2n * TINY) });
    expect(batch.expectedReward).toBe(2n);
    expect(batch.gasEstimate).toBeGreaterThan(0n);
    expect(batch.needed).toBeGreaterThan(batch.expectedReward);
    expect(batch.needed).toBe((batch.gasEstimate * batch.maxFeePerGas * 15_000n) / 10_000n);
    expect(await nonceOf(ctx, keeperAccount.address)).toBe(nonce);
    expect(await balance(ctx, keeperAccount.address)).toBe(before);
    expect((await streamView(ctx, dust)).status).toBe(StreamStatusCode.Open);
  });

  it("counts the L1 data fee on OP-stack chains: a batch paying its L2 gas but not its L1 data waits", async () => {
    const id = await openStream(ctx, sender, big, 10n); // reward: 10 bps of 1 ETH = 0.001 ETH
    await mineAt(ctx, (await streamView(ctx, id)).abandonedAt);
    nominate(id, dust);
    // A GasPriceOracle that quotes 0.01 ETH of L1 data fee for any transaction.
    const l1Fee = 10n ** 16n;
    await ctx.publicClient.request({ method: "anvil_setCode" as never,
      params: [GAS_PRICE_ORACLE, constantReturnCode(l1Fee)] as never });
    const nonce = await nonceOf(ctx, keeperAccount.address);
    const withL1 = await (await keeper({ l1Fee: "on" })).tick();
    const expectedReward = keeperReward(10n * BIG) + keeperReward(2n * TINY);
    expect(withL1.batches[0]).toMatchObject({ action: "unprofitable", l1Fee, expectedReward, streamIds: [id, dust] });
    expect(withL1.batches[0].cost).toBe(withL1.batches[0].gasEstimate * withL1.batches[0].maxFeePerGas + l1Fee);
    expect(await nonceOf(ctx, keeperAccount.address)).toBe(nonce);
    // On the local chain (not OP-stack) "auto" leaves it out, and the same batch pays: the dust stream that
    // could not pay for itself rides along in it.
    const auto = await (await keeper({ l1Fee: "auto" })).tick();
    expect(auto.batches[0]).toMatchObject({ action: "sent", l1Fee: 0n, streamIds: [id, dust], closed: 2 });
    expect((await streamView(ctx, id)).status).toBe(StreamStatusCode.Settled);
    expect((await streamView(ctx, dust)).status).toBe(StreamStatusCode.Settled);
  });

  it("finalises an expired cancel only when told to; the sender then gets exactly streamed − withdrawn", async () => {
    const id = await openStream(ctx, sender, big, 100n);
    const start = (await streamView(ctx, id)).startTime;
    await mineAt(ctx, start + 30n);
    const withdrawn = BIG * 10n + 3n; // a voucher for a bit over 10 s of use
    await withdrawByVoucher(ctx, sender, big, id, withdrawn);
    await mineAt(ctx, start + 40n);
    const senderBeforeCancel = await balance(ctx, sender.address);
    const cancel = await send(ctx, sender, { address: ctx.streamPay, abi: streamPayAbi, functionName: "cancelStream",
      args: [id] } as never);
    const c = await streamView(ctx, id);
    expect(c.status).toBe(StreamStatusCode.Cancelling);
    const streamed = BIG * (c.endTime - start);
    expect(c.streamed).toBe(streamed);
    expect(c.challengeEndsAt).toBe(c.endTime + CHALLENGE_WINDOW);
    // The cancel itself returned what had not streamed.
    const cancelGas = cancel.gasUsed * cancel.effectiveGasPrice;
    expect((await balance(ctx, sender.address)) - senderBeforeCancel).toBe(c.deposited - streamed - cancelGas);
    indexer.set([{ id, state: "challenge_expired", challengeEndsAt: c.challengeEndsAt, endTime: c.endTime }]);

    // Inside the window the recipient may still answer: a keeper told to finalise leaves it alone. It does
    // not even read it while the indexer's own time says it is early...
    await mineAt(ctx, c.challengeEndsAt - 5n);
    const early = await (await keeper({ finalizeCancels: true })).tick();
    expect(early).toMatchObject({ source: "indexer", batches: [], rejected: [] });
    // ...and when the indexer says otherwise, the chain has the last word.
    indexer.set([{ id, state: "challenge_expired", challengeEndsAt: 1n }]);
    const misled = await (await keeper({ finalizeCancels: true })).tick();
    expect(misled.batches).toEqual([]);
    expect(misled.rejected).toEqual([{ id, reason: expect.stringContaining(`may answer until ${c.challengeEndsAt}`) }]);
    indexer.set([{ id, state: "challenge_expired", challengeEndsAt: null, endTime: c.endTime }]);

    await mineAt(ctx, c.challengeEndsAt);
    const nonce = await nonceOf(ctx, keeperAccount.address);
    // By default: unpaid, so not this keeper's business (and it does not even ask the indexer for cancels).
    const off = await keeper();
    const idle = await off.tick();
    expect(idle.batches).toEqual([]);
    expect(indexer.queries.at(-1)!.query).not.toContain("challenge_expired");
    const scanOff = await (await keeper({ indexerUrl: undefined })).tick();
    expect(scanOff.batches.flatMap((b) => b.streamIds)).not.toContain(id);
    expect(scanOff.rejected).toContainEqual({ id, reason: expect.stringContaining("KEEPER_FINALIZE_CANCELS") });
    expect(await nonceOf(ctx, keeperAccount.address)).toBe(nonce);
    expect((await streamView(ctx, id)).status).toBe(StreamStatusCode.Cancelling);

    // Told to: it finalises, pays the gas and earns nothing; the sender gets streamed − withdrawn.
    const on = await keeper({ finalizeCancels: true });
    const keeperBefore = await balance(ctx, keeperAccount.address);
    const senderBefore = await balance(ctx, sender.address);
    const creditBefore = await claimable(ctx, big.account.address);
    const providerBefore = await balance(ctx, big.account.address);
    const report = await on.tick();
    expect(indexer.queries.at(-1)!.query).toContain("challenge_expired");
    expect(report.batches, json(report)).toHaveLength(1);
    const [batch] = report.batches;
    expect(batch).toMatchObject({ kind: "cancel", action: "sent", streamIds: [id], closed: 1, needed: 0n });
    const gas = await gasPaidBy(ctx, batch.hash!);
    expect((await balance(ctx, sender.address)) - senderBefore).toBe(streamed - withdrawn);
    expect(await balance(ctx, keeperAccount.address)).toBe(keeperBefore - gas);
    expect(await claimable(ctx, big.account.address)).toBe(creditBefore); // it keeps what it withdrew, no more
    expect(await balance(ctx, big.account.address)).toBe(providerBefore);
    const receipt = await ctx.publicClient.getTransactionReceipt({ hash: batch.hash! });
    const [closed] = parseEventLogs({ abi: streamPayAbi, logs: receipt.logs, eventName: "StreamClosed" });
    expect(closed.args).toEqual({ streamId: id, closedBy: keeperAccount.address, status: StreamStatusCode.Cancelled,
      recipientAmount: 0n, senderAmount: streamed - withdrawn });
    const after = await streamView(ctx, id);
    expect(after.status).toBe(StreamStatusCode.Cancelled);
    expect(after.withdrawn).toBe(withdrawn);
  });

  it("stale, closed or unknown ids are harmless: only what is due is sent, closed streams stay as is", async () => {
    const due = await openStream(ctx, sender, big, 5n);
    const closedByRecipient = await openStream(ctx, sender, big, 5n);
    const notYet = await openStream(ctx, sender, big, 1000n);
    const unknown = 10_000n;
    await mineAt(ctx, (await streamView(ctx, closedByRecipient)).abandonedAt);
    await send(ctx, big.account, { address: ctx.streamPay, abi: streamPayAbi, functionName: "closeByRecipient",
      args: [closedByRecipient, EMPTY_VOUCHER] } as never);
    expect((await streamView(ctx, closedByRecipient)).status).toBe(StreamStatusCode.Closed);

    nominate(due, closedByRecipient, notYet, unknown, first /* settled by an earlier test */);
    const k = await keeper();
    const report = await k.tick();
    expect(report.batches).toHaveLength(1);
    expect(report.batches[0]).toMatchObject({ action: "sent", streamIds: [due], closed: 1 });
    const reasons = Object.fromEntries(report.rejected.map((r) => [String(r.id), r.reason]));
    expect(reasons).toEqual({
      [String(closedByRecipient)]: "already Closed",
      [String(notYet)]: expect.stringContaining("open: abandoned only from"),
      [String(unknown)]: "unknown stream id",
      [String(first)]: "already Settled",
    });
    expect((await streamView(ctx, notYet)).status).toBe(StreamStatusCode.Open);

    // A race: two streams are read as due, then the recipient closes one before the keeper sends.
    const raced = await openStream(ctx, sender, big, 5n);
    const kept = await openStream(ctx, sender, big, 5n);
    await mineAt(ctx, (await streamView(ctx, kept)).abandonedAt);
    nominate(raced, kept);
    const survey = await k.survey();
    expect(survey.candidates.map((c) => c.id).sort()).toEqual([raced, kept].sort());
    await send(ctx, big.account, { address: ctx.streamPay, abi: streamPayAbi, functionName: "closeByRecipient",
      args: [raced, EMPTY_VOUCHER] } as never);
    const racedBefore = await streamView(ctx, raced);
    const senderBefore = await balance(ctx, sender.address);
    const creditBefore = await claimable(ctx, big.account.address);
    const batch = await k.sendBatch("abandoned", survey.candidates);
    expect(batch).toMatchObject({ action: "sent", streamIds: [kept], closed: 1,
      dropped: [{ id: raced, reason: "already Closed" }] });
    const keptView = await streamView(ctx, kept);
    const amount = keptView.deposited; // nothing withdrawn before
    expect((await claimable(ctx, big.account.address)) - creditBefore).toBe(amount - keeperReward(amount));
    expect(await balance(ctx, sender.address)).toBe(senderBefore);
    expect(await streamView(ctx, raced)).toEqual(racedBefore);

    // And should a closed, unknown or early id reach the contract anyway, it is skipped: no money moves.
    const stale = [raced, closedByRecipient, unknown, notYet, first, 0n];
    const { result } = await ctx.publicClient.simulateContract({ account: keeperAccount, address: ctx.streamPay,
      abi: streamPayAbi, functionName: "batchUpdateStreams", args: [stale] });
    expect(result).toBe(0n);
    const keeperBefore = await balance(ctx, keeperAccount.address);
    const creditNow = await claimable(ctx, big.account.address);
    const senderNow = await balance(ctx, sender.address);
    const receipt = await send(ctx, keeperAccount, { address: ctx.streamPay, abi: streamPayAbi,
      functionName: "batchUpdateStreams", args: [stale] } as never);
    expect(receipt.logs).toEqual([]);
    expect(await balance(ctx, keeperAccount.address)).toBe(keeperBefore - receipt.gasUsed * receipt.effectiveGasPrice);
    expect(await claimable(ctx, big.account.address)).toBe(creditNow);
    expect(await balance(ctx, sender.address)).toBe(senderNow);
    expect((await streamView(ctx, notYet)).status).toBe(StreamStatusCode.Open);
  });

  it("scans StreamPay's ids when the indexer is down or cannot answer, and stops reading closed streams", async () => {
    const id = await openStream(ctx, sender, big, 3n);
    await mineAt(ctx, (await streamView(ctx, id)).abandonedAt);
    // An indexer without the fields the keeper asks for answers a GraphQL error: the keeper scans instead.
    indexer.fail(200, { errors: [{ message: 'Cannot query field "abandonedAt" on type "streamView"' }] });
    const k = await keeper();
    const report = await k.tick();
    expect(report.source).toBe("scan");
    expect(report.batches).toEqual([expect.objectContaining({ action: "sent", streamIds: [id] })]);
    expect(await k.metrics.registry.getSingleMetricAsString("claw_keeper_errors_total"))
      .toContain('claw_keeper_errors_total{stage="indexer"} 1');
    // Everything is closed or known not to be due before its time now: the next scan reads nothing.
    const next = await k.tick();
    expect(next).toMatchObject({ source: "scan", candidates: 0, rejected: [], batches: [] });

    // Unreachable (nothing listens there): the same.
    const other = await openStream(ctx, sender, big, 3n);
    await mineAt(ctx, (await streamView(ctx, other)).abandonedAt);
    const down = await keeper({ indexerUrl: "http://127.0.0.1:9" });
    const scanned = await down.tick();
    expect(scanned.source).toBe("scan");
    expect(scanned.batches).toEqual([expect.objectContaining({ action: "sent", streamIds: [other] })]);
    expect(down.health()).toMatchObject({ status: "ok", candidateSource: "scan" });
  });

  it("reads at most KEEPER_MAX_READS_PER_TICK streams a round and goes on where it stopped", async () => {
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push(await openStream(ctx, sender, big, 2n));
    await increaseTime(ctx, 2n + GRACE_PERIOD + 1n);
    nominate(...ids);
    const k = await keeper({ maxReadsPerTick: 2, batchSize: 1 });
    const a = await k.tick();
    const b = await k.tick();
    const sent = [...a.batches, ...b.batches].filter((x) => x.action === "sent").flatMap((x) => x.streamIds);
    expect(a.batches.flatMap((x) => x.streamIds)).toHaveLength(2); // two reads, batches of one
    expect(sent.sort()).toEqual([...ids].sort());
  });
});
