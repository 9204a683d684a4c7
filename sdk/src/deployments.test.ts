import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { chainById } from "./chains.ts";
import { type Deployment, parseDeployment } from "./deployments.ts";
import { loadDeployment, writeDeployment } from "./node.ts";

const record = {
  address: "0x5fbdb2315678afecb367f032d93f642f64180aa3",
  blockNumber: 1,
  transactionHash: `0x${"ab".repeat(32)}`,
};
const valid = { chainId: 31337, contracts: { StreamPay: record, ComputeRegistry: { ...record, address: "0xa16E02E87b7454126E5E10d957A927A7F5B5d2be" } }, parameters: { minStake: "0", stakeCooldown: "60" } };

describe("deployments", () => {
  const dir = mkdtempSync(join(tmpdir(), "claw-sdk-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("parses and checksums a valid file", () => {
    const d = parseDeployment(valid);
    expect(d.contracts.StreamPay.address).toBe("0x5FbDB2315678afecb367f032d93F642f64180aa3");
    expect(d.contracts.TestUSD).toBeUndefined();
  });

  it("names the bad field and says how to fix it", () => {
    expect(() => parseDeployment({ ...valid, contracts: { StreamPay: record } }, "x.json")).toThrow("x.json: missing contracts.ComputeRegistry. Re-run `npm run deploy` to rewrite it.");
    expect(() => parseDeployment({ ...valid, contracts: { ...valid.contracts, StreamPay: { ...record, address: "0x12" } } })).toThrow(/StreamPay.address is not an address/);
    expect(() => parseDeployment({ ...valid, contracts: { ...valid.contracts, StreamPay: { ...record, blockNumber: -1 } } })).toThrow(/blockNumber/);
    expect(() => parseDeployment({ ...valid, contracts: { ...valid.contracts, StreamPay: { ...record, transactionHash: "0x12" } } })).toThrow(/transactionHash/);
    expect(() => parseDeployment(null)).toThrow(/not a JSON object/);
  });

  it("writes atomically and loads back; a missing file says to deploy first", () => {
    const d: Deployment = parseDeployment(valid);
    writeDeployment(d, dir);
    expect(loadDeployment(31337, dir)).toEqual(d);
    expect(() => loadDeployment(97, dir)).toThrow(/No deployment for chain 97.*Deploy first/);
    writeFileSync(join(dir, "5611.json"), "{not json");
    expect(() => loadDeployment(5611, dir)).toThrow(/not valid JSON/);
    writeFileSync(join(dir, "84532.json"), JSON.stringify(valid));
    expect(() => loadDeployment(84532, dir)).toThrow(/is for chain 31337, not 84532/);
  });

  it("knows the configured chains and overrides their RPC URL", () => {
    expect(chainById(97).name).toMatch(/BNB|Binance/i);
    expect(chainById(31337, "http://127.0.0.1:9").rpcUrls.default.http[0]).toBe("http://127.0.0.1:9");
    expect(() => chainById(1)).toThrow(/Chain 1 is not supported. Supported chains: .*31337 \(ClawCompute Local\)/);
  });
});
