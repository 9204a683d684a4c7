import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { type OptionSpec, envExampleOf, loadOptions, parsers } from "./config.ts";
import { checkKeySource, keyOptions, keySecretFlags, loadAccount, readPrivateKey } from "./keys.ts";
import { KeystoreError, encryptKeystore } from "./keystore.ts";

const KEY = generatePrivateKey();
const options: OptionSpec[] = [
  ...keyOptions("SVC", "Service wallet's"),
  { key: "port", env: "SVC_PORT", flag: "--port", default: "80", parse: parsers.int(1, 65535), description: "Port." },
  { key: "name", env: "SVC_NAME", flag: "--name", parse: parsers.nonEmpty(10), description: "Name." },
];
const load = (argv: string[], env: Record<string, string> = {}, cwd = tmpdir(), positionals = false) =>
  loadOptions({ prefix: "SVC", options, secretFlags: keySecretFlags("SVC"), commandFlags: { "--help": "help" }, positionals, argv, env: { SVC_ENV_FILE: "/dev/null", ...env }, cwd });

describe("shared service configuration", () => {
  it("flag > env > env file > default, with every problem named", () => {
    const dir = mkdtempSync(join(tmpdir(), "claw-sdk-config-"));
    writeFileSync(join(dir, ".env"), "SVC_PORT=81\nSVC_NAME=file\n");
    const fromFile = loadOptions({ prefix: "SVC", options, secretFlags: {}, argv: [], env: {}, cwd: dir });
    expect(fromFile.values).toMatchObject({ port: 81, name: "file" });
    expect(load(["--port", "83"], { SVC_PORT: "82" }).values.port).toBe(83);
    expect(load([]).values.port).toBe(80);
    const bad = load(["--port", "0", "--nope", "x", "stray"], { SVC_NAME: "much too long" });
    expect(bad.problems).toEqual([
      "unknown option --nope",
      expect.stringContaining('unexpected argument "x"'),
      expect.stringContaining('unexpected argument "stray"'),
      'SVC_PORT (--port): must be an integer between 1 and 65535, got "0"',
      'SVC_NAME (--name): must be at most 10 bytes, got "much too long"',
    ]);
    expect(load(["ask", "hi"], {}, tmpdir(), true).positionals).toEqual(["ask", "hi"]);
    expect(load(["--help"]).command).toBe("help");
  });

  it("refuses secrets on the command line without echoing them, and warns about readable key files", () => {
    for (const argv of [["--private-key", KEY], [`--key=${KEY}`], [KEY.slice(2)], ["--password", "hunter2"]]) {
      const { problems } = load(argv);
      expect(problems.join("\n")).toMatch(/refus/);
      expect(problems.join("\n")).not.toContain(KEY.slice(2));
      expect(problems.join("\n")).not.toContain("hunter2");
    }
    const dir = mkdtempSync(join(tmpdir(), "claw-sdk-config-"));
    const envFile = join(dir, ".env");
    writeFileSync(envFile, `SVC_PRIVATE_KEY=${KEY}\n`);
    chmodSync(envFile, 0o644);
    const loaded = loadOptions({ prefix: "SVC", options, secretFlags: {}, argv: [], env: {}, cwd: dir });
    expect(loaded.warnings).toEqual([expect.stringContaining(`chmod 600 ${envFile}`)]);
    expect(loaded.values.privateKey).toBe(KEY);
  });

  it("key sources: exactly one; a keystore needs its password; the key or keystore loads the same account", () => {
    const dir = mkdtempSync(join(tmpdir(), "claw-sdk-keys-"));
    expect(checkKeySource({ prefix: "SVC", hasKey: false, source: {}, cwd: dir }).problems).toEqual([expect.stringContaining("no signing key: set SVC_PRIVATE_KEY")]);
    expect(checkKeySource({ prefix: "SVC", hasKey: false, source: {}, cwd: dir, required: false }).problems).toEqual([]);
    const file = join(dir, "key.json");
    writeFileSync(file, JSON.stringify(encryptKeystore(KEY, "pw", { n: 1024 })), { mode: 0o600 });
    expect(checkKeySource({ prefix: "SVC", hasKey: true, source: { privateKey: KEY, keystore: "key.json" }, cwd: dir }).problems).toEqual([
      "SVC_PRIVATE_KEY and SVC_KEYSTORE are both set: use one.",
      "SVC_KEYSTORE is set but no password: set SVC_KEYSTORE_PASSWORD or SVC_KEYSTORE_PASSWORD_FILE.",
    ]);
    const pwFile = join(dir, "pw");
    writeFileSync(pwFile, "pw\n", { mode: 0o644 });
    const checked = checkKeySource({ prefix: "SVC", hasKey: false, source: { keystore: "key.json", keystorePasswordFile: "pw" }, cwd: dir });
    expect(checked.problems).toEqual([]);
    expect(checked.warnings).toEqual([expect.stringContaining("password file")]);
    expect(loadAccount(checked.source).address).toBe(privateKeyToAccount(KEY).address);
    expect(readPrivateKey({ privateKey: KEY })).toBe(KEY);
    expect(() => readPrivateKey({ keystore: file, keystorePassword: "wrong" })).toThrow(KeystoreError);
    expect(() => readPrivateKey({})).toThrow(/no signing key/);
  });

  it("generates an env example from the declarations", () => {
    const text = envExampleOf(options, ["# header"]);
    expect(text).toContain("# SECRET: env only");
    expect(text).toContain("SVC_PORT=80");
    expect(text).toContain("# SVC_NAME=");
  });
});
