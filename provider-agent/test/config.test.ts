/** Configuration: validation messages, secrets never from flags, key files and keystores. */
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { startProcess } from "@clawcompute/scripts/lib/processes.ts";
import { ConfigError, OPTIONS, envExample, loadConfig } from "../src/config.ts";
import { KeystoreError, decryptKeystore, encryptKeystore } from "../src/keystore.ts";
import { loadKey } from "../src/keys.ts";
import { agentDir } from "./helpers.ts";

const KEY = generatePrivateKey();
const base = { PROVIDER_PRIVATE_KEY: KEY, PROVIDER_ENV_FILE: "/dev/null" };
const problemsOf = (fn: () => unknown): string[] => {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error("expected a ConfigError");
};

describe("configuration", () => {
  it("has defaults for everything but the key", () => {
    const { config, secrets } = loadConfig({ argv: [], env: base, cwd: tmpdir() });
    expect(config).toMatchObject({ rpcUrl: "http://127.0.0.1:8545", chainId: 31337, model: "echo-1", backend: "echo", port: 8080, asset: "native", pricePerSecond: 1_000_000_000_000n });
    expect(secrets.privateKey).toBe(KEY);
    expect(JSON.stringify(config, (_k, v) => (typeof v === "bigint" ? v.toString() : v))).not.toContain(KEY.slice(2));
  });

  it("names each wrong or missing value, all at once", () => {
    const problems = problemsOf(() =>
      loadConfig({ argv: ["--port", "99999"], env: { PROVIDER_ENV_FILE: "/dev/null", PROVIDER_PRICE_PER_SECOND: "1.5", PROVIDER_BACKEND: "gpu", PROVIDER_RPC_URL: "nope" }, cwd: tmpdir() }),
    );
    expect(problems.find((p) => p.startsWith("PROVIDER_PORT (--port)"))).toContain('"99999"');
    expect(problems.find((p) => p.startsWith("PROVIDER_PRICE_PER_SECOND"))).toContain('"1.5"');
    expect(problems.find((p) => p.startsWith("PROVIDER_BACKEND"))).toContain("echo, openai");
    expect(problems.find((p) => p.startsWith("PROVIDER_RPC_URL"))).toBeDefined();
    expect(problems.some((p) => p.startsWith("no signing key"))).toBe(true);
  });

  it("requires a base URL for the openai backend", () => {
    const problems = problemsOf(() => loadConfig({ argv: ["--backend", "openai"], env: base, cwd: tmpdir() }));
    expect(problems).toEqual([expect.stringContaining("PROVIDER_OPENAI_BASE_URL")]);
  });

  it("refuses a key on the command line, without repeating it", () => {
    for (const argv of [["--private-key", KEY], [`--private-key=${KEY}`], [KEY], ["--model", KEY.slice(2)]]) {
      const problems = problemsOf(() => loadConfig({ argv, env: base, cwd: tmpdir() }));
      expect(problems.length).toBeGreaterThan(0);
      expect(problems.join("\n")).not.toContain(KEY.slice(2));
      expect(problems.join("\n")).toMatch(/refus/);
    }
    expect(problemsOf(() => loadConfig({ argv: ["--openai-api-key", "sk-x"], env: base, cwd: tmpdir() })).join()).toContain("PROVIDER_OPENAI_API_KEY");
  });

  it("the agent exits with a clear message when a key is passed as an argument, and never prints it", async () => {
    const proc = startProcess("provider-bad-args", process.execPath, ["--import", "tsx", "src/main.ts", "--private-key", KEY], {
      cwd: agentDir,
      env: { ...process.env, PROVIDER_ENV_FILE: "/dev/null" },
    });
    expect(await proc.exited).toBe(2);
    expect(proc.output()).toContain("--private-key is refused");
    expect(proc.output()).not.toContain(KEY.slice(2));
  }, 30_000);

  it("reads an env file (the process env wins) and warns when one holding a key is readable by others", () => {
    const dir = mkdtempSync(join(tmpdir(), "claw-env-"));
    const file = join(dir, ".env");
    writeFileSync(file, `# comment\nPROVIDER_PRIVATE_KEY=${KEY}\nexport PROVIDER_MODEL="from-file"\nPROVIDER_PORT=9000 # trailing\n`);
    chmodSync(file, 0o644);
    const loaded = loadConfig({ argv: [], env: { PROVIDER_PORT: "9001" }, cwd: dir });
    expect(loaded.config.model).toBe("from-file");
    expect(loaded.config.port).toBe(9001);
    expect(loaded.secrets.privateKey).toBe(KEY);
    expect(loaded.warnings).toEqual([expect.stringContaining(`chmod 600 ${file}`)]);
    chmodSync(file, 0o600);
    expect(loadConfig({ argv: [], env: {}, cwd: dir }).warnings).toEqual([]);
  });

  it("decrypts a v3 keystore with a password from env or file; a wrong password fails", () => {
    const dir = mkdtempSync(join(tmpdir(), "claw-ks-"));
    const ks = encryptKeystore(KEY, "correct horse", { n: 1024 });
    expect(JSON.stringify(ks)).not.toContain(KEY.slice(2));
    const file = join(dir, "key.json");
    writeFileSync(file, JSON.stringify(ks), { mode: 0o600 });
    expect(decryptKeystore(JSON.stringify(ks), "correct horse")).toBe(KEY);
    expect(() => decryptKeystore(ks, "wrong")).toThrow(KeystoreError);

    const pw = join(dir, "pw");
    writeFileSync(pw, "correct horse\n", { mode: 0o600 });
    const loaded = loadConfig({ argv: ["--keystore", file, "--keystore-password-file", pw], env: { PROVIDER_ENV_FILE: "/dev/null" }, cwd: dir });
    expect(loaded.warnings).toEqual([]);
    expect(loadKey(loaded.config, loaded.secrets).account.address).toBe(privateKeyToAccount(KEY).address);

    chmodSync(file, 0o644);
    const leaky = loadConfig({ argv: ["--keystore", file], env: { PROVIDER_ENV_FILE: "/dev/null", PROVIDER_KEYSTORE_PASSWORD: "correct horse" }, cwd: dir });
    expect(leaky.warnings).toEqual([expect.stringContaining("readable by group/others")]);
    expect(problemsOf(() => loadConfig({ argv: ["--keystore", file], env: base, cwd: dir }))).toContainEqual(expect.stringContaining("both set"));
  });

  it("bounds each request (seconds and tokens) with defaults 60 and 4096, and validates them", () => {
    const { config } = loadConfig({ argv: [], env: base, cwd: tmpdir() });
    expect(config).toMatchObject({ maxRequestSeconds: 60, maxTokens: 4096 });
    const argv = ["--max-request-seconds", "5", "--max-tokens", "100"];
    const { config: set } = loadConfig({ argv, env: base, cwd: tmpdir() });
    expect(set).toMatchObject({ maxRequestSeconds: 5, maxTokens: 100 });
    const env = { ...base, PROVIDER_MAX_REQUEST_SECONDS: "0", PROVIDER_MAX_TOKENS: "lots" };
    const problems = problemsOf(() => loadConfig({ argv: [], env, cwd: tmpdir() }));
    expect(problems.find((p) => p.startsWith("PROVIDER_MAX_REQUEST_SECONDS"))).toContain('"0"');
    expect(problems.find((p) => p.startsWith("PROVIDER_MAX_TOKENS"))).toContain('"lots"');
  });

  it("says so when a removed settlement option is still set (env or env file), without failing", () => {
    const dir = mkdtempSync(join(tmpdir(), "claw-env-"));
    const file = join(dir, ".env");
    writeFileSync(file, "PROVIDER_SETTLE_GRACE_SECONDS=300\n", { mode: 0o600 });
    const env = { PROVIDER_PRIVATE_KEY: KEY, PROVIDER_DEPLETED_SETTLEMENT: "charged" };
    const loaded = loadConfig({ argv: [], env, cwd: dir });
    expect(loaded.warnings).toEqual([
      expect.stringContaining("PROVIDER_DEPLETED_SETTLEMENT is no longer used"),
      expect.stringContaining("PROVIDER_SETTLE_GRACE_SECONDS is no longer used"),
    ]);
    const asFlag = problemsOf(() => loadConfig({ argv: ["--depleted-settlement=charged"], env: base, cwd: tmpdir() }));
    expect(asFlag).toEqual(["unknown option --depleted-settlement"]);
  });

  it(".env.example documents every option and matches the declarations", () => {
    const example = readFileSync(join(agentDir, ".env.example"), "utf8");
    expect(example).toBe(envExample());
    for (const o of OPTIONS) expect(example).toContain(`${o.env}=`);
  });
});
