/**
 * Child processes that tests and the local stack start, and stop exactly: each is spawned in its own
 * process group, so stopping it signals that group and nothing else on the machine.
 */
import { type ChildProcess, type SpawnOptions, spawn } from "node:child_process";
import { createServer } from "node:net";

/** A free TCP port on 127.0.0.1, chosen by the OS. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

/** Whether nothing listens on 127.0.0.1:`port`. */
export function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

export type ManagedProcess = {
  name: string;
  child: ChildProcess;
  /** Everything the process printed (stdout + stderr), for diagnostics. */
  output: () => string;
  /** Resolves when the process has exited. */
  exited: Promise<number | null>;
  /** Signals the process group (SIGINT first, SIGKILL after `graceMs`) and waits for the exit. */
  stop: (options?: { signal?: NodeJS.Signals; graceMs?: number }) => Promise<void>;
};

const running = new Set<ManagedProcess>();

export type StartProcessOptions = SpawnOptions & {
  /** Echo the process's output to this process's stderr, prefixed with its name. */
  echo?: boolean;
  /** Keep at most this many characters of output (default 200k). */
  maxOutput?: number;
};

export function startProcess(name: string, command: string, args: string[], options: StartProcessOptions = {}): ManagedProcess {
  const { echo, maxOutput = 200_000, ...spawnOptions } = options;
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], detached: true, ...spawnOptions });
  let output = "";
  const collect = (chunk: Buffer) => {
    const text = chunk.toString();
    output = (output + text).slice(-maxOutput);
    if (echo) process.stderr.write(text.replace(/^(?=.)/gm, `[${name}] `));
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const exited = new Promise<number | null>((resolve) => {
    child.once("exit", (code) => resolve(code));
    child.once("error", (error) => {
      output += `\n${error.message}`;
      resolve(-1);
    });
  });
  let stopped: Promise<void> | undefined;
  const managed: ManagedProcess = {
    name,
    child,
    output: () => output,
    exited,
    stop: ({ signal = "SIGINT", graceMs = 10_000 } = {}) => {
      stopped ??= (async () => {
        running.delete(managed);
        if (child.exitCode !== null || child.signalCode !== null) return;
        const signalGroup = (s: NodeJS.Signals) => {
          try {
            process.kill(-child.pid!, s); // the whole group this process leads, and only it
          } catch {
            /* already gone */
          }
        };
        signalGroup(signal);
        const timer = setTimeout(() => signalGroup("SIGKILL"), graceMs);
        await exited;
        clearTimeout(timer);
      })();
      return stopped;
    },
  };
  running.add(managed);
  return managed;
}

/** Stops every process this module started (tests call it in afterAll; the stack on exit). */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((p) => p.stop()));
}

/** Polls `check` until it returns a value, or throws `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 30_000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value as T;
    } catch (error) {
      lastError = error;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ""}`);
}
