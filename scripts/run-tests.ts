/**
 * Runs every test suite of the repository, one after the other, and prints `N passed, N failed` as the
 * last line (what CI reads). Usage: `npm test` (all) or `npm test -- contracts sdk` (some suites).
 * With CI=true the Solidity fuzz/invariant tests use the `ci` profile (more runs, deeper sequences).
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../", import.meta.url));
type Counts = { passed: number; failed: number };
type Suite = { name: string; run: () => Promise<Counts> };

function exec(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd, env: { ...process.env, FORCE_COLOR: "0", ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      process.stdout.write(chunk);
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("close", (code) => resolve({ code: code ?? 1, output }));
  });
}

const stripAnsi = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, "");

/** A workspace's vitest suite, counted from vitest's JSON report. */
function vitestSuite(workspace: string, name = workspace): Suite {
  return {
    name,
    run: async () => {
      const dir = mkdtempSync(join(tmpdir(), "claw-vitest-"));
      const report = join(dir, "report.json");
      const { code } = await exec("npx", ["vitest", "run", "--reporter=default", "--reporter=json", `--outputFile.json=${report}`], join(root, workspace));
      try {
        const json = JSON.parse(readFileSync(report, "utf8")) as { numPassedTests: number; numFailedTests: number; numTotalTests: number; success: boolean };
        // A suite file that fails to load has no tests but must still count as a failure.
        const failed = json.numFailedTests + (json.success || json.numFailedTests > 0 ? 0 : 1);
        return { passed: json.numPassedTests, failed };
      } catch {
        return { passed: 0, failed: code === 0 ? 0 : 1 };
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

const suites: Suite[] = [
  {
    name: "build",
    run: async () => {
      const { code } = await exec("npm", ["run", "build"], root);
      if (code !== 0) return { passed: 0, failed: 1 };
      // The generated ABIs are committed (so every service runs right after `npm install`); the build
      // must not have changed them, or the committed copy is stale.
      const diff = await exec("git", ["diff", "--exit-code", "--stat", "--", "sdk/src/generated"], root);
      if (diff.code !== 0) {
        console.log("sdk/src/generated is stale: run `npm run build` and commit the regenerated ABIs.");
        return { passed: 0, failed: 1 };
      }
      return { passed: 1, failed: 0 };
    },
  },
  {
    // Type errors fail the run like test failures do: every TypeScript workspace, strict.
    name: "typecheck",
    run: async () => {
      let failed = 0;
      const workspaces = ["sdk", "contracts", "scripts", "indexer", "provider-agent", "consumer-agent", "keeper", "test"];
      for (const workspace of workspaces) {
        const dir = join(root, workspace);
        if (!existsSync(join(dir, "tsconfig.json"))) continue;
        console.log(`tsc: ${workspace}`);
        const { code } = await exec("npx", ["tsc", "--noEmit", "-p", "."], dir);
        if (code !== 0) failed++;
      }
      return { passed: 0, failed };
    },
  },
  {
    name: "contracts",
    run: async () => {
      const env = process.env.CI ? { HARDHAT_TEST_PROFILE: "ci" } : {};
      const { code, output } = await exec("npx", ["hardhat", "test", "solidity"], join(root, "contracts"), { HARDHAT_DISABLE_TELEMETRY: "true", ...env });
      const text = stripAnsi(output);
      const passed = Number(/(\d+) passing/.exec(text)?.[1] ?? 0);
      const failed = Number(/(\d+) failing/.exec(text)?.[1] ?? 0);
      return { passed, failed: failed || (code !== 0 ? 1 : 0) };
    },
  },
  vitestSuite("sdk"),
  vitestSuite("scripts"),
  vitestSuite("indexer"),
  vitestSuite("provider-agent"),
  vitestSuite("consumer-agent"),
  vitestSuite("keeper"),
  vitestSuite("test", "e2e"),
];

const wanted = process.argv.slice(2);
const selected = wanted.length ? suites.filter((s) => s.name === "build" || wanted.includes(s.name)) : suites;
const unknown = wanted.filter((w) => !suites.some((s) => s.name === w));
if (unknown.length) {
  console.error(`Unknown suite(s): ${unknown.join(", ")}. Suites: ${suites.map((s) => s.name).join(", ")}`);
  process.exit(2);
}

const total: Counts = { passed: 0, failed: 0 };
const summary: string[] = [];
for (const suite of selected) {
  console.log(`\n=== ${suite.name} ===`);
  const started = Date.now();
  const counts = await suite.run();
  total.passed += counts.passed;
  total.failed += counts.failed;
  summary.push(`${suite.name.padEnd(16)} ${String(counts.passed).padStart(5)} passed ${String(counts.failed).padStart(4)} failed  ${((Date.now() - started) / 1000).toFixed(0)}s`);
  if (suite.name === "build" && counts.failed) break; // nothing else can run
}
console.log(`\n${summary.join("\n")}`);
console.log(`${total.passed} passed, ${total.failed} failed`);
process.exit(total.failed ? 1 : 0);
