/**
 * The indexer's integration suite, run once per database (pglite.test.ts, postgres.test.ts): a real
 * chain with the real contracts, the real indexer started as operators start it, and every answer
 * checked against the contracts. The `it`s run in order and build on one another's chain history.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseEventLogs } from "viem";
import { streamPayAbi } from "@clawcompute/sdk";
import { startChain } from "@clawcompute/scripts/lib/devchain.ts";
import { startProcess } from "@clawcompute/scripts/lib/processes.ts";
import { type TestChain, removeDir, startDeployedChain } from "./helpers/chain.ts";
import { expectIndexerMatchesChain } from "./helpers/compare.ts";
import { CHALLENGE_WINDOW_SECONDS, GRACE_PERIOD_SECONDS, MIN_STAKE_WEI } from "./helpers/constants.ts";
import { type RunningIndexer, startIndexer } from "./helpers/indexer.ts";
import { type TestPostgres, startPostgres } from "./helpers/postgres.ts";
import { NATIVE, Protocol } from "./helpers/protocol.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const E12 = 10n ** 12n;

// Accounts (anvil dev keys): providers, consumers, a keeper.
const ALICE = 1; // provider: llama on native coin
const BOB = 2; // provider: llama on TestUSD, qwen on native coin
const CAROL = 3; // provider: qwen on TestUSD
const DAVE = 4; // consumer
const ERIN = 5; // consumer
const KEEPER = 6;

type Row = Record<string, any>;

export function indexerSuite(backend: "pglite" | "postgres") {
  describe(`indexer on ${backend}`, () => {
    let chain: TestChain;
    let p: Protocol;
    let indexer: RunningIndexer | undefined;
    let postgres: TestPostgres | undefined;
    let databaseUrl: string | undefined;
    const dataDir = mkdtempSync(join(tmpdir(), `claw-indexer-${backend}-`));
    const ids: Record<string, bigint> = {};

    const start = async (env?: Record<string, string>) => {
      const options = { rpcUrl: chain.rpcUrl, deploymentsDir: chain.deploymentsDir, dataDir, databaseUrl, env };
      indexer = await startIndexer(options);
      await indexer.waitIndexed();
      return indexer;
    };
    const stop = async () => {
      await indexer?.stop();
      indexer = undefined;
    };
    const VIEW = `id status depleted abandoned streamed withdrawable refundable secondsLeft deposited withdrawn
      refunded asOf stopTime abandonedAt challengeEndsAt challengeSecondsLeft cancelOutcome`;
    const streamView = async (id: bigint): Promise<Row> =>
      (
        await indexer!.graphql<{ streamViews: { items: Row[] } }>(
          `query($id: BigInt!) { streamViews(where: { id: $id }) { items { ${VIEW} } } }`,
          { id: id.toString() },
        )
      ).streamViews.items[0]!;
    const streamRows = async (): Promise<Map<bigint, Row>> => {
      const query = `{ streams(limit: 100, orderBy: "id") { items { id status cancelOutcome closedBy voucherWithdrawals
        lastVoucherCumulative withdrawnByVoucher cancelRefund sessionKey } } }`;
      const data = await indexer!.graphql<{ streams: { items: Row[] } }>(query);
      return new Map(data.streams.items.map((s) => [BigInt(s.id), s]));
    };
    const viewStatuses = async (...streams: bigint[]) =>
      Object.fromEntries(await Promise.all(streams.map(async (id) => [id.toString(), (await streamView(id)).status])));
    const wait = () => indexer!.waitIndexed(30_000);
    const lc = (a: string) => a.toLowerCase();

    beforeAll(async () => {
      const [c, pgServer] = await Promise.all([
        startDeployedChain(),
        backend === "postgres" ? startPostgres() : Promise.resolve(undefined),
      ]);
      chain = c;
      postgres = pgServer;
      if (postgres) databaseUrl = await postgres.createDatabase("claw_indexer_test");
      p = new Protocol(chain.rpcUrl, chain.deployment);
    });

    afterAll(async () => {
      await stop();
      await chain?.stop();
      await postgres?.stop();
      removeDir(dataDir);
      removeDir(chain?.deploymentsDir);
    });

    it("backfills providers on both assets, voucher withdrawals, closes, cancels and session keys", async () => {
      // The deployment's durations are what the contract enforces (the indexer reads them, never a default).
      expect(await p.gracePeriod()).toBe(GRACE_PERIOD_SECONDS);
      expect(await p.challengeWindow()).toBe(CHALLENGE_WINDOW_SECONDS);
      expect(chain.deployment.parameters).toMatchObject({
        gracePeriod: GRACE_PERIOD_SECONDS.toString(),
        challengeWindow: CHALLENGE_WINDOW_SECONDS.toString(),
      });

      // Providers: two models, both assets, stakes.
      const llama = "llama3.2:1b";
      const qwen = "qwen2.5:0.5b";
      const stake = MIN_STAKE_WEI;
      ids.p1 = await p.registerProvider(ALICE, { model: llama, pricePerSecond: E12, asset: NATIVE, stake });
      ids.p2 = await p.registerProvider(BOB, { model: llama, pricePerSecond: 100n, asset: p.testUsd, stake });
      const qwenNative = { model: qwen, pricePerSecond: 3n * E12, asset: NATIVE, stake: 2n * stake };
      ids.p3 = await p.registerProvider(BOB, qwenNative);
      ids.p4 = await p.registerProvider(CAROL, { model: qwen, pricePerSecond: 250n, asset: p.testUsd, stake });
      await p.addStake(BOB, ids.p2, 5n * MIN_STAKE_WEI);
      await p.fundUsd(DAVE, 10n ** 12n);
      await p.fundUsd(ERIN, 10n ** 12n);

      // Session keys: one named in createStream, one authorised by the sender's signature.
      const named = p.newSessionKey();
      const signed = p.newSessionKey();

      // Streams of every fate.
      ids.s1 = await p.createStream(DAVE, ids.p1, 1500n * E12 + 123n); // dust returned; stays open
      ids.s2 = await p.createStream(ERIN, ids.p2, 600n * 100n + 7n); // withdrawal, then a receipt close above it
      ids.s3 = await p.createStream(DAVE, ids.p3, 300n * 3n * E12); // cancelled, answered by the recipient
      ids.s4 = await p.createStream(ERIN, ids.p4, 200n * 250n); // closed by the recipient
      ids.s5 = await p.createStream(DAVE, ids.p1, 5n * E12, named.address); // named session key; depletes
      ids.s6 = await p.createStream(ERIN, ids.p2, 400n * 100n); // signed session key; cancel left pending
      ids.s7 = await p.createStream(DAVE, ids.p4, 3n * 250n); // depletes, abandoned later
      ids.s8 = await p.createStream(ERIN, ids.p3, 500n * 3n * E12); // cancelled at once, all streamed paid
      ids.s9 = await p.createStream(DAVE, ids.p2, 300n * 100n); // receipt close below what was withdrawn
      await p.topUp(DAVE, ids.s1, 500n * E12 + 5n);
      await p.topUp(ERIN, ids.s2, 100n * 100n);
      await sleep(2_100);

      // Voucher withdrawals: by the recipient, by anyone (a keeper), from a request's payment headers.
      await p.withdraw(ALICE, ids.s1, await p.voucher(DAVE, ids.s1, 1n * E12));
      await p.withdraw(KEEPER, ids.s1, await p.voucher(DAVE, ids.s1, 10n ** 30n)); // capped by streamed
      await p.withdraw(BOB, ids.s2, await p.voucherOfRequest(ERIN, ids.s2, 150n, '{"model":"llama3.2:1b"}'));
      await p.withdraw(ALICE, ids.s5, await p.voucher(p.namedSession(named), ids.s5, 2n * E12));
      const auth = await p.authorizeSessionKey(ERIN, ids.s6, signed.address, 2n ** 40n);
      await p.withdraw(BOB, ids.s6, await p.voucherOfRequest({ key: signed, session: auth }, ids.s6, 100n, "{}"));
      await p.withdraw(BOB, ids.s9, await p.voucher(DAVE, ids.s9, 200n));

      // Closes: a receipt above the withdrawal, a receipt below it (what was paid stays paid), the recipient's.
      await p.closeWithReceipt(ERIN, BOB, ids.s2, 180n);
      await p.closeWithReceipt(DAVE, BOB, ids.s9, 50n);
      const s4 = await p.streamView(ids.s4);
      await p.closeByRecipient(CAROL, ids.s4, await p.voucher(ERIN, ids.s4, s4.streamed / 2n));

      // A cancel answered by the recipient with a voucher above what it had withdrawn.
      await p.withdraw(BOB, ids.s3, await p.voucher(DAVE, ids.s3, 3n * E12));
      await p.cancel(DAVE, ids.s3);
      await p.closeByRecipient(BOB, ids.s3, await p.voucher(DAVE, ids.s3, 5n * E12));
      // A cancel left pending (its window runs out in a later test).
      await p.cancel(ERIN, ids.s6);
      // Everything streamed withdrawn and cancelled in the same second: final at once, nothing to answer.
      const everything = await p.voucher(ERIN, ids.s8, 10n ** 30n);
      await p.sameBlock(ERIN, [p.withdrawCall(ids.s8, everything), p.cancelCall(ids.s8)]);

      // Ratings of closed streams.
      await p.rate(ERIN, ids.s2, 5);
      await p.rate(DAVE, ids.s3, 3);
      await p.rate(ERIN, ids.s4, 4);
      await p.rate(DAVE, ids.s9, 2);
      // Balances taken out, terms changed, a provider deactivated and unstaked, another toggled.
      await p.withdrawBalance(BOB, p.testUsd);
      await p.withdrawBalance(BOB, NATIVE);
      await p.updateProvider(ALICE, ids.p1, 2n * E12, "http://127.0.0.1:2/alice", true);
      await p.updateProvider(CAROL, ids.p4, 250n, "http://127.0.0.1:1/carol", false);
      await p.updateProvider(BOB, ids.p3, 3n * E12, "http://127.0.0.1:1/qwen", false);
      await p.updateProvider(BOB, ids.p3, 4n * E12, "http://127.0.0.1:1/qwen", true);
      await sleep(2_100); // the stake cooldown
      await p.mine(1);
      await p.withdrawStake(CAROL, ids.p4);

      await start();
      const sizes = await expectIndexerMatchesChain(p, indexer!);
      expect(sizes.providers).toBe(4);
      expect(sizes.streams).toBe(9);

      // Every fate is represented (the comparison above checked each against the contract and the logs).
      const rows = await streamRows();
      const statuses = Object.fromEntries([...rows].map(([id, s]) => [id.toString(), [s.status, s.cancelOutcome]]));
      expect(statuses).toEqual({
        [ids.s1.toString()]: ["open", null],
        [ids.s2.toString()]: ["closed_by_receipt", null],
        [ids.s3.toString()]: ["cancelled", "answered"],
        [ids.s4.toString()]: ["closed_by_recipient", null],
        [ids.s5.toString()]: ["open", null],
        [ids.s6.toString()]: ["cancelling", null],
        [ids.s7.toString()]: ["open", null],
        [ids.s8.toString()]: ["cancelled", "immediate"],
        [ids.s9.toString()]: ["closed_by_receipt", null],
      });
      const s1 = rows.get(ids.s1)!;
      expect(s1.voucherWithdrawals).toBe(2);
      expect(BigInt(s1.lastVoucherCumulative)).toBe(10n ** 30n);
      expect(rows.get(ids.s5)!.sessionKey).toBe(lc(named.address));
      expect(rows.get(ids.s6)!.sessionKey).toBeNull(); // authorised by signature, not named
      expect(rows.get(ids.s9)!).toMatchObject({ voucherWithdrawals: 1, withdrawnByVoucher: "200" });
      // The receipt below the withdrawal credited nothing more; the one above it credited the difference.
      const closes = await indexer!.graphql<{ streams: { items: Row[] } }>(
        `{ streams(where: { id_in: ["${ids.s2}", "${ids.s9}"] }, orderBy: "id") {
          items { closeRecipientAmount withdrawn } } }`,
      );
      expect(closes.streams.items).toEqual([
        { closeRecipientAmount: "30", withdrawn: "180" },
        { closeRecipientAmount: "0", withdrawn: "200" },
      ]);
      const pending = await streamView(ids.s6);
      expect(pending.status).toBe("cancelling");
      expect(BigInt(pending.challengeSecondsLeft)).toBeGreaterThan(0n);
      const p4 = await indexer!.graphql<{ provider: { active: boolean; stake: string } }>(
        `{ provider(id: "${ids.p4}") { active stake } }`,
      );
      expect(p4.provider).toMatchObject({ active: false, stake: "0" });
    });

    it("answers a stream past its stop time as depleted, as of query time, with no event marking it", async () => {
      ids.s10 = await p.createStream(ERIN, ids.p1, 3n * 2n * E12); // three seconds at the new price
      await wait();
      const before = await streamView(ids.s10);
      expect(BigInt(before.deposited)).toBe(6n * E12);
      expect(BigInt(before.abandonedAt)).toBe(BigInt(before.stopTime) + GRACE_PERIOD_SECONDS);
      const sqlStatus = async () =>
        (await indexer!.sql(`SELECT status FROM stream_view WHERE id = ${ids.s10}`))[0]?.status;
      if (BigInt(before.asOf) < BigInt(before.stopTime)) {
        expect(before).toMatchObject({ status: "open", depleted: false });
        expect(BigInt(before.secondsLeft)).toBe(BigInt(before.stopTime) - BigInt(before.asOf));
        expect(await sqlStatus()).toBe("open"); // and SQL over HTTP has this answer cached now
      }
      const headBefore = await p.client.getBlockNumber();
      const stopMs = Number(BigInt(before.stopTime)) * 1000;
      await sleep(Math.max(0, stopMs - Date.now()) + 1_100);
      expect(await p.client.getBlockNumber()).toBe(headBefore); // no block, no event since
      const after = await streamView(ids.s10);
      expect(after).toMatchObject({ status: "depleted", depleted: true, abandoned: false, secondsLeft: "0" });
      expect(after.refundable).toBe("0");
      expect(after.streamed).toBe(after.deposited);
      expect(await sqlStatus()).toBe("depleted"); // SQL over HTTP is not served from a stale cache
      expect(BigInt(after.withdrawable)).toBe(BigInt(after.deposited) - BigInt(after.withdrawn));
      // The contract agrees as of now (a pending-block call runs at the current time).
      const c = await p.client.readContract({
        address: p.streamPay,
        abi: streamPayAbi,
        functionName: "getStreamView",
        args: [ids.s10],
        blockTag: "pending",
      });
      expect(c.depleted).toBe(true);
      expect(c.streamed.toString()).toBe(after.streamed);
      // Filtering by the live status works too.
      const depleted = await indexer!.graphql<{ streamViews: { items: { id: string }[] } }>(
        `{ streamViews(where: { status: "depleted" }) { items { id } } }`,
      );
      expect(depleted.streamViews.items.map((s) => s.id)).toContain(ids.s10.toString());
    });

    it("follows the chain's clock while it runs: windows run out, streams are abandoned, keepers settle", async () => {
      // Events while it runs: a stream and a top-up, a cancel during the grace period, a cancel with a withdrawal.
      ids.s11 = await p.createStream(DAVE, ids.p2, 1000n * 100n);
      await p.topUp(DAVE, ids.s11, 50n * 100n + 3n);
      await p.cancel(DAVE, ids.s5); // depleted: nothing left to refund at once, the window still opens
      ids.s12 = await p.createStream(ERIN, ids.p2, 100n * 100n);
      await sleep(1_100);
      await p.withdraw(BOB, ids.s12, await p.voucher(ERIN, ids.s12, 50n)); // less than streamed: not final at once
      await p.cancel(ERIN, ids.s12);
      // The recipient answers inside the window with the best voucher it holds.
      await p.closeByRecipient(BOB, ids.s12, await p.voucher(ERIN, ids.s12, 10n ** 30n));
      // A contract account that refuses native payments: its refunds and rewards are credited, not pushed.
      const actor = await p.deployActor(KEEPER, true);
      const opened = await p.viaActor(KEEPER, actor, p.createStreamCall(ids.p1, 50n * 2n * E12, true));
      ids.sA = parseEventLogs({ abi: streamPayAbi, logs: opened.logs, eventName: "StreamCreated" })[0]!.args.streamId;
      await sleep(1_100);
      const cancelled = await p.viaActor(KEEPER, actor, p.cancelCall(ids.sA));
      expect(parseEventLogs({ abi: streamPayAbi, logs: cancelled.logs, eventName: "PaymentDeferred" })).toHaveLength(1);
      await wait();
      await expectIndexerMatchesChain(p, indexer!);
      expect((await streamRows()).get(ids.s5)!.cancelRefund).toBe("0");

      // Past every pending cancel's window (only a new block says so: the chain's clock, ahead of the wall's).
      await p.increaseTime(CHALLENGE_WINDOW_SECONDS + 1n);
      await wait();
      expect(await viewStatuses(ids.s5, ids.s6, ids.s12, ids.s7, ids.s10, ids.sA)).toEqual({
        [ids.sA.toString()]: "challenge_expired",
        [ids.s5.toString()]: "challenge_expired",
        [ids.s6.toString()]: "challenge_expired",
        [ids.s12.toString()]: "cancelled",
        [ids.s7.toString()]: "depleted",
        [ids.s10.toString()]: "depleted",
      });
      // Past the window the recipient can take nothing more: only finalisation is left.
      expect((await streamView(ids.s6)).withdrawable).toBe("0");
      await expectIndexerMatchesChain(p, indexer!);

      // Past the grace period: abandoned, settled by time by anyone.
      await p.increaseTime(GRACE_PERIOD_SECONDS + 1n);
      await wait();
      expect(await viewStatuses(ids.s7, ids.s10, ids.s1)).toEqual({
        [ids.s7.toString()]: "abandoned",
        [ids.s10.toString()]: "abandoned",
        [ids.s1.toString()]: "open",
      });
      await expectIndexerMatchesChain(p, indexer!);

      // A keeper's batch: settles an abandoned stream, finalises two expired cancels (both assets), skips the
      // rest. Another, sent through a contract: settles one and finalises one; its keeper is the contract.
      await p.batchUpdate(KEEPER, [ids.s5, ids.s6, ids.s7, ids.s1, 999n, ids.s2]);
      await p.viaActor(KEEPER, actor, p.batchCall([ids.s10, ids.sA]));
      // A batch that only finalises a cancel (no BatchSettled), sent by a consumer.
      ids.s13 = await p.createStream(DAVE, ids.p3, 100n * 4n * E12);
      await sleep(1_100);
      await p.withdraw(BOB, ids.s13, await p.voucher(DAVE, ids.s13, 2n * E12));
      await p.cancel(DAVE, ids.s13);
      await p.increaseTime(CHALLENGE_WINDOW_SECONDS + 1n);
      await p.batchUpdate(ERIN, [ids.s13]);
      // One cancel left past its window, waiting for anyone to finalise it.
      ids.s14 = await p.createStream(ERIN, ids.p1, 100n * 2n * E12);
      await sleep(1_100);
      await p.withdraw(ALICE, ids.s14, await p.voucher(ERIN, ids.s14, 1n * E12));
      await p.cancel(ERIN, ids.s14);
      await p.increaseTime(CHALLENGE_WINDOW_SECONDS + 5n);
      await p.rate(ERIN, ids.s6, 1);
      await p.withdrawBalance(BOB, p.testUsd);
      await wait();
      await expectIndexerMatchesChain(p, indexer!);

      const rows = await streamRows();
      const outcome = (id: bigint) => [rows.get(id)!.status, rows.get(id)!.cancelOutcome, rows.get(id)!.closedBy];
      expect(outcome(ids.s5)).toEqual(["cancelled", "finalised", lc(p.address(KEEPER))]);
      expect(outcome(ids.s6)).toEqual(["cancelled", "finalised", lc(p.address(KEEPER))]);
      expect(outcome(ids.s12)).toEqual(["cancelled", "answered", lc(p.address(BOB))]);
      expect(outcome(ids.s13)).toEqual(["cancelled", "finalised", lc(p.address(ERIN))]);
      expect(outcome(ids.s7)).toEqual(["settled", null, lc(p.address(KEEPER))]);
      expect(outcome(ids.s10)).toEqual(["settled", null, lc(actor)]);
      expect(outcome(ids.sA)).toEqual(["cancelled", "finalised", lc(actor)]);
      expect(outcome(ids.s14)).toEqual(["cancelling", null, null]);
      expect((await streamView(ids.s14)).status).toBe("challenge_expired");
      const batches = await indexer!.graphql<{ keeperBatchs: { items: Row[] } }>(
        `{ keeperBatchs { items { keeper asset settledCount finalisedCount streamCount } } }`,
      );
      const keeper = lc(p.address(KEEPER));
      const batchRows = batches.keeperBatchs.items.map((b) => [
        b.keeper,
        b.asset,
        b.settledCount,
        b.finalisedCount,
        b.streamCount,
      ]);
      expect(batchRows.sort()).toEqual(
        [
          [keeper, NATIVE, 0, 1, 1], // s5 finalised
          [keeper, lc(p.testUsd), 1, 1, 2], // s7 settled, s6 finalised
          [lc(actor), NATIVE, 1, 1, 2], // s10 settled, sA finalised
          [lc(p.address(ERIN)), NATIVE, 0, 1, 1], // s13 finalised: no BatchSettled at all
        ].sort(),
      );
      const history = await indexer!.graphql<{ actionLogs: { items: { kind: string }[] } }>(
        `{ actionLogs(where: { streamId: "${ids.s6}" }, orderBy: "id") { items { kind } } }`,
      );
      expect(history.actionLogs.items.map((a) => a.kind)).toEqual([
        "stream_created",
        "stream_withdrawn",
        "stream_cancelling",
        "stream_closed",
        "provider_rated",
      ]);
    });

    it("serves SQL over HTTP and every example query of the README", async () => {
      const rows = await indexer!.sql(`SELECT id, status, streamed FROM stream_view ORDER BY id`);
      const gql = await indexer!.graphql<{ streamViews: { items: Row[] } }>(
        `{ streamViews(orderBy: "id", limit: 100) { items { id status streamed } } }`,
      );
      expect(rows.map((r) => String(r.id))).toEqual(gql.streamViews.items.map((s) => s.id));
      expect(rows.map((r) => r.status)).toEqual(gql.streamViews.items.map((s) => s.status));
      expect(rows.find((r) => String(r.id) === ids.s14.toString())?.status).toBe("challenge_expired");
      const totals = await indexer!.sql(`SELECT asset, escrowed, cancelling_streams FROM protocol_total`);
      expect(totals.length).toBe(2);
      await expect(indexer!.sql(`DELETE FROM stream`)).rejects.toThrow(); // read-only

      const readme = readFileSync(fileURLToPath(new URL("../README.md", import.meta.url)), "utf8");
      const curlSql = /'sql=(\{"json".*\})'/.exec(readme)?.[1];
      expect(curlSql, "the README's curl example").toBeDefined();
      const curlQuery = (JSON.parse(curlSql!) as { json: { sql: string } }).json.sql;
      expect(Array.isArray(await indexer!.sql(curlQuery))).toBe(true);
      const queries = [...readme.matchAll(/```graphql\n([\s\S]*?)```/g)].map((m) => m[1]!);
      expect(queries.length).toBeGreaterThanOrEqual(8);
      const variables = {
        sender: p.address(DAVE),
        providerId: ids.p1.toString(),
        streamId: ids.s1.toString(),
        model: "llama3.2:1b",
        keeper: p.address(KEEPER),
      };
      for (const query of queries) {
        const used = Object.fromEntries(Object.entries(variables).filter(([k]) => query.includes(`$${k}`)));
        const data = await indexer!.graphql(query, used);
        for (const [name, value] of Object.entries(data as Record<string, any>)) {
          const items = value?.items ?? value;
          const count = Array.isArray(items) ? items.length : items ? 1 : 0;
          expect(count, `README query returned nothing for ${name}:\n${query}`).toBeGreaterThan(0);
        }
      }
    });

    it("resumes after a restart with no double counting", async () => {
      await stop();
      // Events while it is down.
      ids.s15 = await p.createStream(DAVE, ids.p2, 300n * 100n);
      await sleep(1_100);
      await p.withdraw(BOB, ids.s15, await p.voucher(DAVE, ids.s15, 100n));
      await p.withdraw(ALICE, ids.s1, await p.voucher(DAVE, ids.s1, 10n ** 31n));
      await p.withdrawBalance(CAROL, p.testUsd);
      const restarted = await start();
      expect(restarted.process.output()).toContain("Detected crash recovery"); // resumed its schema
      const sizes = await expectIndexerMatchesChain(p, restarted);
      expect(sizes.streams).toBe(16);
      expect((await streamRows()).get(ids.s1)!.voucherWithdrawals).toBe(3);
    });

    it("rolls back rows and aggregates of a reorganised block range", async () => {
      const snapshot = (await chain.rpc("evm_snapshot")) as string;
      const headBefore = await p.client.getBlockNumber();
      // On the branch that will be dropped: a stream, a cancel and its finalisation by a keeper batch, a
      // voucher withdrawal, a balance withdrawal, a new price, and the chain's clock moved ahead.
      const dropped = await p.createStream(ERIN, ids.p3, 100n * 4n * E12);
      await p.withdraw(BOB, ids.s11, await p.voucher(DAVE, ids.s11, 100n));
      await p.cancel(DAVE, ids.s11);
      await p.increaseTime(CHALLENGE_WINDOW_SECONDS + 1n);
      await p.batchUpdate(KEEPER, [ids.s11, ids.s14]);
      await p.withdrawBalance(ALICE, NATIVE);
      await p.updateProvider(BOB, ids.p2, 777n, "http://127.0.0.1:1/bob-usd", true);
      await wait();
      const branchQuery = `{ stream(id: "${dropped}") { providerId } provider(id: "${ids.p2}") { pricePerSecond }
        s11: stream(id: "${ids.s11}") { status cancelOutcome } }`;
      const onBranch = await indexer!.graphql<{ stream: Row | null; provider: Row; s11: Row }>(branchQuery);
      expect(onBranch.stream?.providerId).toBe(ids.p3.toString());
      expect(onBranch.provider.pricePerSecond).toBe("777");
      expect(onBranch.s11).toEqual({ status: "cancelled", cancelOutcome: "finalised" });
      await expectIndexerMatchesChain(p, indexer!);
      const branchHead = await p.client.getBlockNumber();
      expect(Number(branchHead - headBefore)).toBeLessThan(30); // inside the unfinalised window

      // Reorganise: back to the snapshot, then a different history that outgrows the dropped one.
      expect(await chain.rpc("evm_revert", [snapshot])).toBe(true);
      const replacement = await p.createStream(DAVE, ids.p2, 40n * 100n);
      expect(replacement).toBe(dropped); // the same id now names another stream
      await p.mine(Number(branchHead - headBefore) + 3);
      await wait();
      const after = await indexer!.graphql<{ stream: Row; provider: Row; s11: Row }>(
        `{ stream(id: "${replacement}") { providerId asset } provider(id: "${ids.p2}") { pricePerSecond }
           s11: stream(id: "${ids.s11}") { status cancelOutcome voucherWithdrawals } }`,
      );
      expect(after.stream).toEqual({ providerId: ids.p2.toString(), asset: lc(p.testUsd) });
      expect(after.provider.pricePerSecond).toBe("100");
      expect(after.s11).toEqual({ status: "open", cancelOutcome: null, voucherWithdrawals: 0 });
      await expectIndexerMatchesChain(p, indexer!); // counts, balances, totals, batches, clock: all rolled back
    });

    it("drops the stale RPC cache when the chain is reset under it", async () => {
      await p.mine(40); // make sure part of this chain is final, hence cached
      await stop();
      await chain.stop();
      // Same genesis, same deployment block (the state is reloaded), but a different history after it.
      chain = await startDeployedChain({ deploymentsDir: chain.deploymentsDir });
      p = new Protocol(chain.rpcUrl, chain.deployment);
      const terms = { model: "mistral:7b", pricePerSecond: 5n, asset: p.testUsd, stake: MIN_STAKE_WEI };
      const only = await p.registerProvider(CAROL, terms);
      await p.fundUsd(ERIN, 10n ** 9n);
      await p.createStream(ERIN, only, 100n * 5n);
      await p.mine(5);
      // A schema of its own (as after a code change), so Ponder itself cannot notice: only its RPC cache
      // connects this run to the old chain — the cache Ponder would otherwise serve as this chain's logs.
      const fresh = await start({ DATABASE_SCHEMA: "claw_after_reset" });
      expect(fresh.process.output()).toContain("Removed the stale cache of a reset chain");
      const sizes = await expectIndexerMatchesChain(p, fresh);
      expect(sizes).toMatchObject({ providers: 1, streams: 1 });
    });

    it("refuses to start against a chain without the deployment", async () => {
      const empty = await startChain();
      try {
        const tsxCli = fileURLToPath(import.meta.resolve("tsx/cli"));
        const run = startProcess("indexer:refused", process.execPath, [tsxCli, "scripts/run.ts", "start"], {
          cwd: fileURLToPath(new URL("../", import.meta.url)),
          env: {
            ...process.env,
            INDEXER_SKIP_ENV_FILES: "1",
            RPC_URL: empty.rpcUrl,
            DEPLOYMENTS_DIR: chain.deploymentsDir,
            INDEXER_DATA_DIR: join(dataDir, "refused"),
            PORT: "1",
          },
        });
        expect(await run.exited).toBe(1);
        expect(run.output()).toContain("No StreamPay contract");
      } finally {
        await empty.stop();
      }
    });
  });
}
