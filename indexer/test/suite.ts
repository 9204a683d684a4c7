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
import { streamPayAbi } from "@clawcompute/sdk";
import { startChain } from "@clawcompute/scripts/lib/devchain.ts";
import { startProcess } from "@clawcompute/scripts/lib/processes.ts";
import { type TestChain, removeDir, startDeployedChain } from "./helpers/chain.ts";
import { expectIndexerMatchesChain } from "./helpers/compare.ts";
import { MIN_STAKE_WEI } from "./helpers/constants.ts";
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
      indexer = await startIndexer({ rpcUrl: chain.rpcUrl, deploymentsDir: chain.deploymentsDir, dataDir, databaseUrl, env });
      await indexer.waitIndexed();
      return indexer;
    };
    const stop = async () => {
      await indexer?.stop();
      indexer = undefined;
    };
    const streamView = async (id: bigint) =>
      (
        await indexer!.graphql<{ streamViews: { items: any[] } }>(
          `query($id: BigInt!) { streamViews(where: { id: $id }) { items { id status depleted streamed withdrawable refundable secondsLeft deposited withdrawn asOf stopTime } } }`,
          { id: id.toString() },
        )
      ).streamViews.items[0];

    beforeAll(async () => {
      const [c, pgServer] = await Promise.all([startDeployedChain(), backend === "postgres" ? startPostgres() : Promise.resolve(undefined)]);
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

    it("backfills a history of several providers on both assets and every kind of event", async () => {
      // Providers: two models, both assets, stakes.
      ids.p1 = await p.registerProvider(ALICE, { model: "llama3.2:1b", pricePerSecond: 1n * E12, asset: NATIVE, stake: MIN_STAKE_WEI });
      ids.p2 = await p.registerProvider(BOB, { model: "llama3.2:1b", pricePerSecond: 100n, asset: p.testUsd, stake: MIN_STAKE_WEI });
      ids.p3 = await p.registerProvider(BOB, { model: "qwen2.5:0.5b", pricePerSecond: 3n * E12, asset: NATIVE, stake: 2n * MIN_STAKE_WEI });
      ids.p4 = await p.registerProvider(CAROL, { model: "qwen2.5:0.5b", pricePerSecond: 250n, asset: p.testUsd, stake: MIN_STAKE_WEI });
      await p.addStake(BOB, ids.p2, 5n * MIN_STAKE_WEI);
      await p.fundUsd(DAVE, 10n ** 12n);
      await p.fundUsd(ERIN, 10n ** 12n);

      // Streams of every fate.
      ids.s1 = await p.createStream(DAVE, ids.p1, 1000n * E12 + 123n); // dust returned; stays open
      ids.s2 = await p.createStream(ERIN, ids.p2, 600n * 100n + 7n); // closed with a receipt
      ids.s3 = await p.createStream(DAVE, ids.p3, 300n * 3n * E12); // cancelled
      ids.s4 = await p.createStream(ERIN, ids.p4, 200n * 250n); // closed by the recipient
      ids.s5 = await p.createStream(DAVE, ids.p1, 2n * E12); // depletes, settled by the keeper
      ids.s6 = await p.createStream(ERIN, ids.p2, 2n * 100n); // depletes, settled by the keeper
      ids.s7 = await p.createStream(DAVE, ids.p4, 3n * 250n); // depletes, settled by the keeper
      ids.s8 = await p.createStream(ERIN, ids.p3, 500n * 3n * E12); // partly settled by the keeper
      ids.s9 = await p.createStream(DAVE, ids.p1, 2n * E12); // depletes, settled by a withdrawal
      await p.topUp(DAVE, ids.s1, 500n * E12 + 5n);
      await p.topUp(ERIN, ids.s2, 100n * 100n);
      await sleep(2_100);
      await p.withdraw(ALICE, ids.s1);
      await p.closeWithReceipt(ERIN, BOB, ids.s2, 150n);
      await p.cancel(DAVE, ids.s3);
      const s4 = await p.client.readContract({ address: p.streamPay, abi: streamPayAbi, functionName: "streamedAmountOf", args: [ids.s4] });
      await p.closeByRecipient(CAROL, ids.s4, s4 / 2n);
      await p.waitUntilChainTime(BigInt((await p.client.readContract({ address: p.streamPay, abi: streamPayAbi, functionName: "getStream", args: [ids.s7] })).stopTime));
      await p.batchUpdate(KEEPER, [ids.s5, ids.s6, ids.s7, ids.s8, 999n, ids.s2]);
      await p.withdraw(KEEPER, ids.s9);
      // Ratings of closed streams.
      await p.rate(ERIN, ids.s2, 5);
      await p.rate(DAVE, ids.s3, 3);
      await p.rate(ERIN, ids.s4, 4);
      await p.rate(DAVE, ids.s5, 2);
      // Balances taken out, terms changed, a provider deactivated and unstaked, another toggled.
      await p.withdrawBalance(BOB, p.testUsd);
      await p.withdrawBalance(ALICE, NATIVE);
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

      // Every fate is represented (the comparison above checked each against the contract).
      const statuses = await indexer!.graphql<{ streams: { items: { id: string; status: string }[] } }>(`{ streams(limit: 100, orderBy: "id") { items { id status } } }`);
      expect(Object.fromEntries(statuses.streams.items.map((s) => [s.id, s.status]))).toEqual({
        [ids.s1.toString()]: "open",
        [ids.s2.toString()]: "closed_by_receipt",
        [ids.s3.toString()]: "cancelled",
        [ids.s4.toString()]: "closed_by_recipient",
        [ids.s5.toString()]: "settled",
        [ids.s6.toString()]: "settled",
        [ids.s7.toString()]: "settled",
        [ids.s8.toString()]: "open",
        [ids.s9.toString()]: "settled",
      });
      const batches = await indexer!.graphql<{ keeperBatchs: { items: { asset: string; streamCount: number }[] } }>(`{ keeperBatchs { items { asset streamCount } } }`);
      expect(batches.keeperBatchs.items.map((b) => [b.asset, b.streamCount]).sort()).toEqual(
        [[NATIVE, 2], [p.testUsd.toLowerCase(), 2]].sort(),
      );
      const p4 = await indexer!.graphql<{ provider: { active: boolean; stake: string; unstakeAvailableAt: string } }>(`{ provider(id: "${ids.p4}") { active stake unstakeAvailableAt } }`);
      expect(p4.provider).toMatchObject({ active: false, stake: "0" });
    });

    it("indexes events that arrive while it runs", async () => {
      ids.s10 = await p.createStream(DAVE, ids.p2, 1000n * 100n);
      await p.topUp(DAVE, ids.s10, 50n * 100n + 3n);
      await p.cancel(BOB, ids.s8); // the recipient cancels the partly settled stream
      await p.rate(ERIN, ids.s8, 1);
      await p.withdrawBalance(BOB, NATIVE);
      await indexer!.waitIndexed(30_000);
      const sizes = await expectIndexerMatchesChain(p, indexer!);
      expect(sizes.streams).toBe(10);
      const history = await indexer!.graphql<{ actionLogs: { items: { kind: string }[] } }>(
        `{ actionLogs(where: { streamId: "${ids.s8}" }, orderBy: "id") { items { kind } } }`,
      );
      expect(history.actionLogs.items.map((a) => a.kind)).toEqual(["stream_created", "stream_settled", "stream_closed", "provider_rated"]);
    });

    it("answers a stream past its stop time as depleted, as of query time, with no event marking it", async () => {
      ids.s11 = await p.createStream(ERIN, ids.p1, 3n * 2n * E12); // three seconds at the new price
      await indexer!.waitIndexed(30_000);
      const before = await streamView(ids.s11);
      expect(BigInt(before.deposited)).toBe(6n * E12);
      const sqlStatus = async () => (await indexer!.sql(`SELECT status FROM stream_view WHERE id = ${ids.s11}`))[0]?.status;
      if (BigInt(before.asOf) < BigInt(before.stopTime)) {
        expect(before).toMatchObject({ status: "open", depleted: false });
        expect(BigInt(before.secondsLeft)).toBe(BigInt(before.stopTime) - BigInt(before.asOf));
        expect(await sqlStatus()).toBe("open"); // and SQL over HTTP has this answer cached now
      }
      const headBefore = await p.client.getBlockNumber();
      const stopMs = Number(BigInt(before.stopTime)) * 1000;
      await sleep(Math.max(0, stopMs - Date.now()) + 1_100);
      expect(await p.client.getBlockNumber()).toBe(headBefore); // no block, no event since
      const after = await streamView(ids.s11);
      expect(after).toMatchObject({ status: "depleted", depleted: true, secondsLeft: "0", refundable: "0" });
      expect(after.streamed).toBe(after.deposited);
      expect(await sqlStatus()).toBe("depleted"); // SQL over HTTP is not served from a stale cache
      expect(BigInt(after.withdrawable)).toBe(BigInt(after.deposited) - BigInt(after.withdrawn));
      // The contract agrees as of now (a pending-block call runs at the current time).
      const c = await p.client.readContract({ address: p.streamPay, abi: streamPayAbi, functionName: "getStreamView", args: [ids.s11], blockTag: "pending" });
      expect(c.depleted).toBe(true);
      expect(c.streamed.toString()).toBe(after.streamed);
      // Filtering by the live status works too.
      const depleted = await indexer!.graphql<{ streamViews: { items: { id: string }[] } }>(`{ streamViews(where: { status: "depleted" }) { items { id } } }`);
      expect(depleted.streamViews.items.map((s) => s.id)).toContain(ids.s11.toString());
    });

    it("serves SQL over HTTP and every example query of the README", async () => {
      const rows = await indexer!.sql(`SELECT id, status, streamed FROM stream_view ORDER BY id`);
      const gql = await indexer!.graphql<{ streamViews: { items: { id: string; status: string; streamed: string }[] } }>(
        `{ streamViews(orderBy: "id", limit: 100) { items { id status streamed } } }`,
      );
      expect(rows.map((r) => String(r.id))).toEqual(gql.streamViews.items.map((s) => s.id));
      expect(rows.map((r) => r.status)).toEqual(gql.streamViews.items.map((s) => s.status));
      const totals = await indexer!.sql(`SELECT asset, escrowed FROM protocol_total ORDER BY asset`);
      expect(totals.length).toBe(2);
      await expect(indexer!.sql(`DELETE FROM stream`)).rejects.toThrow(); // read-only

      const readme = readFileSync(fileURLToPath(new URL("../README.md", import.meta.url)), "utf8");
      const queries = [...readme.matchAll(/```graphql\n([\s\S]*?)```/g)].map((m) => m[1]!);
      expect(queries.length).toBeGreaterThanOrEqual(5);
      const variables = {
        sender: p.address(DAVE),
        providerId: ids.p1.toString(),
        streamId: ids.s8.toString(),
        model: "llama3.2:1b",
        keeper: p.address(KEEPER),
      };
      for (const query of queries) {
        const used = Object.fromEntries(Object.entries(variables).filter(([k]) => query.includes(`$${k}`)));
        const data = await indexer!.graphql(query, used);
        const firstList = Object.values(data as Record<string, any>)[0];
        const items = firstList?.items ?? firstList;
        expect(Array.isArray(items) ? items.length : items ? 1 : 0, `README query returned nothing:\n${query}`).toBeGreaterThan(0);
      }
    });

    it("resumes after a restart with no double counting", async () => {
      await stop();
      // Events while it is down.
      ids.s12 = await p.createStream(DAVE, ids.p2, 300n * 100n);
      await p.withdraw(ALICE, ids.s1);
      await p.withdrawBalance(CAROL, p.testUsd);
      const restarted = await start();
      expect(restarted.process.output()).toContain("Detected crash recovery"); // resumed its schema
      const sizes = await expectIndexerMatchesChain(p, restarted);
      expect(sizes.streams).toBe(12);
    });

    it("rolls back rows and aggregates of a reorganised block range", async () => {
      const snapshot = (await chain.rpc("evm_snapshot")) as string;
      const headBefore = await p.client.getBlockNumber();
      // On the branch that will be dropped: a stream, a keeper batch, a balance withdrawal, a new price.
      const dropped = await p.createStream(ERIN, ids.p3, 100n * 4n * E12);
      await sleep(1_100);
      await p.batchUpdate(KEEPER, [dropped, ids.s1]);
      await p.withdrawBalance(ALICE, NATIVE);
      await p.updateProvider(BOB, ids.p2, 777n, "http://127.0.0.1:1/bob-usd", true);
      await indexer!.waitIndexed(30_000);
      const onBranch = await indexer!.graphql<{ stream: { providerId: string } | null; provider: { pricePerSecond: string } }>(
        `{ stream(id: "${dropped}") { providerId } provider(id: "${ids.p2}") { pricePerSecond } }`,
      );
      expect(onBranch.stream?.providerId).toBe(ids.p3.toString());
      expect(onBranch.provider.pricePerSecond).toBe("777");
      await expectIndexerMatchesChain(p, indexer!);
      const branchHead = await p.client.getBlockNumber();
      expect(Number(branchHead - headBefore)).toBeLessThan(30); // inside the unfinalised window

      // Reorganise: back to the snapshot, then a different history that outgrows the dropped one.
      expect(await chain.rpc("evm_revert", [snapshot])).toBe(true);
      const replacement = await p.createStream(DAVE, ids.p2, 40n * 100n);
      expect(replacement).toBe(dropped); // the same id now names another stream
      await p.mine(Number(branchHead - headBefore) + 3);
      await indexer!.waitIndexed(30_000);
      const after = await indexer!.graphql<{ stream: { providerId: string; asset: string }; provider: { pricePerSecond: string } }>(
        `{ stream(id: "${replacement}") { providerId asset } provider(id: "${ids.p2}") { pricePerSecond } }`,
      );
      expect(after.stream).toEqual({ providerId: ids.p2.toString(), asset: p.testUsd.toLowerCase() });
      expect(after.provider.pricePerSecond).toBe("100");
      await expectIndexerMatchesChain(p, indexer!); // counts, balances, totals, batches: all rolled back
    });

    it("drops the stale RPC cache when the chain is reset under it", async () => {
      await p.mine(40); // make sure part of this chain is final, hence cached
      await stop();
      await chain.stop();
      // Same genesis, same deployment block (the state is reloaded), but a different history after it.
      chain = await startDeployedChain({ deploymentsDir: chain.deploymentsDir });
      p = new Protocol(chain.rpcUrl, chain.deployment);
      const only = await p.registerProvider(CAROL, { model: "mistral:7b", pricePerSecond: 5n, asset: p.testUsd, stake: MIN_STAKE_WEI });
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
          env: { ...process.env, INDEXER_SKIP_ENV_FILES: "1", RPC_URL: empty.rpcUrl, DEPLOYMENTS_DIR: chain.deploymentsDir, INDEXER_DATA_DIR: join(dataDir, "refused"), PORT: "1" },
        });
        expect(await run.exited).toBe(1);
        expect(run.output()).toContain("No StreamPay contract");
      } finally {
        await empty.stop();
      }
    });
  });
}
