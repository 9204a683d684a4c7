/**
 * Without a chain: the configuration (defaults, validation, the committed .env.example), the indexer query
 * and its client (paging, errors), and when the L1 data fee is counted.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "graphql";
import { baseSepolia, opBNBTestnet } from "viem/chains";
import { localChain } from "@clawcompute/sdk";
import {
  ConfigError,
  IndexerError,
  KEEPER_OPTIONS,
  PAGE_SIZE,
  countsL1Fee,
  dueStreamsQuery,
  keeperEnvExample,
  loadKeeperConfig,
  queryDueStreams,
} from "../src/index.ts";
import { keeperDir } from "./helpers.ts";

const KEY = `0x${"11".repeat(32)}`;
const load = (env: Record<string, string>, argv: string[] = []) =>
  loadKeeperConfig({ argv, env: { KEEPER_ENV_FILE: "/dev/null", ...env }, cwd: keeperDir });

describe("configuration", () => {
  it("defaults: the indexer nominates, senders finalise their own cancels, no HTTP server, L1 fee by chain", () => {
    const { config, command } = load({ KEEPER_PRIVATE_KEY: KEY });
    expect(command).toBe("run");
    expect(config).toMatchObject({ indexerUrl: "http://127.0.0.1:42069", finalizeCancels: false, httpPort: 0,
      httpHost: "127.0.0.1", l1Fee: "auto", gasMargin: 1.5, batchSize: 50, maxReadsPerTick: 2000 });
    expect(config.maxFeePerGas).toBeUndefined();
    expect(config).not.toHaveProperty("privateKey");
  });

  it("reads typed values from env and flags (flags win)", () => {
    const token = "0x00000000000000000000000000000000000000aa";
    const { config } = load({ KEEPER_PRIVATE_KEY: KEY, KEEPER_FINALIZE_CANCELS: "true", KEEPER_INDEXER_URL: "none",
      KEEPER_TOKEN_PRICES: `${token}:400000000`, KEEPER_MAX_FEE_PER_GAS: "5000000000", KEEPER_HTTP_PORT: "9464" },
    ["--batch-size", "20", "--l1-fee=on"]);
    expect(config).toMatchObject({ finalizeCancels: true, indexerUrl: undefined, batchSize: 20, l1Fee: "on",
      maxFeePerGas: 5_000_000_000n, httpPort: 9464 });
    expect(config.tokenPrices.get(token)).toBe(400000000);
  });

  it("reports every wrong value at once, naming its env variable and flag", () => {
    let error: unknown;
    try {
      load({ KEEPER_PRIVATE_KEY: KEY, KEEPER_GAS_MARGIN: "0.5", KEEPER_TOKEN_PRICES: "USDC",
        KEEPER_INTERVAL_MS: "soon" });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toContain('KEEPER_GAS_MARGIN (--gas-margin): must be a number between 1 and 1000, got "0.5"');
    expect(message).toContain("KEEPER_TOKEN_PRICES (--token-prices): must be a comma-separated list of TOKEN_ADDRESS:");
    expect(message)
      .toContain('KEEPER_INTERVAL_MS (--interval-ms): must be an integer between 100 and 86400000, got "soon"');
    expect(message).toContain("npm run keeper -- --help");
  });

  it("keeper/.env.example is generated from the options and lists every one of them", () => {
    const example = readFileSync(join(keeperDir, ".env.example"), "utf8");
    expect(example).toBe(keeperEnvExample());
    for (const o of KEEPER_OPTIONS) expect(example).toContain(`${o.env}=`);
    expect(example).toMatch(/^# KEEPER_PRIVATE_KEY=$/m); // a secret is never given a value in the example
  });
});

describe("indexer nominations", () => {
  it("the query is valid GraphQL and asks for the due states only", () => {
    const paid = dueStreamsQuery(["abandoned"]);
    expect(() => parse(paid)).not.toThrow();
    expect(paid).toContain('status_in: ["abandoned"]');
    expect(paid).toContain("items { id status abandonedAt challengeEndsAt endTime }");
    expect(() => parse(dueStreamsQuery(["abandoned", "challenge_expired"]))).not.toThrow();
  });

  it("pages by id until a short page, and takes each stream's due time from the fields it has", async () => {
    const calls: Array<{ after: string }> = [];
    const page1 = Array.from({ length: PAGE_SIZE },
      (_, i) => ({ id: String(i + 1), status: "abandoned", abandonedAt: "100" }));
    const page2 = [
      { id: "1001", status: "challenge_expired", challengeEndsAt: "500", endTime: "470" },
      { id: "1002", status: "challenge_expired", challengeEndsAt: null, endTime: "470" },
      { id: "1003", status: "abandoned", abandonedAt: null },
    ];
    const fakeFetch = (async (_url: string, init: RequestInit) => {
      const { variables } = JSON.parse(String(init.body)) as { variables: { after: string } };
      calls.push(variables);
      return Response.json({ data: { streamViews: { items: variables.after === "0" ? page1 : page2 } } });
    }) as typeof fetch;
    const out = await queryDueStreams({ indexerUrl: "http://indexer", states: ["abandoned", "challenge_expired"],
      timeoutMs: 1000, challengeWindow: 30n, fetch: fakeFetch });
    expect(calls).toEqual([{ after: "0" }, { after: String(PAGE_SIZE) }]);
    expect(out).toHaveLength(PAGE_SIZE + 3);
    expect(out[0]).toEqual({ id: 1n, state: "abandoned", dueAt: 100n });
    expect(out.slice(-3)).toEqual([
      { id: 1001n, state: "challenge_expired", dueAt: 500n },
      { id: 1002n, state: "challenge_expired", dueAt: 500n }, // endTime + challenge window
      { id: 1003n, state: "abandoned", dueAt: undefined }, // unknown: the chain decides
    ]);
  });

  it("fails with a message saying what the indexer did wrong", async () => {
    const answer = (status: number, body: unknown) =>
      (async () => Response.json(body, { status })) as unknown as typeof fetch;
    const q = (f: typeof fetch) => queryDueStreams({ indexerUrl: "http://indexer", states: ["abandoned"],
      timeoutMs: 1000, challengeWindow: 30n, fetch: f });
    await expect(q(answer(503, {}))).rejects.toThrow(new IndexerError("indexer at http://indexer answered HTTP 503"));
    await expect(q(answer(200, { errors: [{ message: 'Cannot query field "abandonedAt"' }] })))
      .rejects.toThrow('indexer GraphQL error: Cannot query field "abandonedAt"');
    await expect(q(answer(200, { data: { streamViews: { items: [{ id: "x", status: "abandoned" }] } } })))
      .rejects.toThrow("indexer answered a stream id that is not a number: x");
    await expect(q(answer(200, { data: {} }))).rejects.toThrow("indexer answer has no streamViews.items");
    const refused = (async () => {
      throw Object.assign(new TypeError("fetch failed"), { cause: { code: "ECONNREFUSED" } });
    }) as unknown as typeof fetch;
    await expect(q(refused)).rejects.toThrow("indexer at http://indexer unreachable: ECONNREFUSED");
  });
});

describe("L1 data fee", () => {
  it("is counted on OP-stack chains under auto, always under on, never under off", () => {
    expect(countsL1Fee("auto", baseSepolia)).toBe(true);
    expect(countsL1Fee("auto", opBNBTestnet)).toBe(true);
    expect(countsL1Fee("auto", localChain)).toBe(false);
    expect(countsL1Fee("on", localChain)).toBe(true);
    expect(countsL1Fee("off", baseSepolia)).toBe(false);
  });
});
