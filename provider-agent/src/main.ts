/**
 * Entry point: `npm run provider` (root) = `npm run start -w provider-agent`.
 * Reads the configuration (env, ./.env or --env-file, flags), starts the agent, and handles signals:
 * the first SIGINT/SIGTERM drains and shuts down gracefully, a second one forces the exit.
 */
import { rmSync, writeFileSync } from "node:fs";
import { ConfigError, envExample, helpText, loadConfig } from "./config.ts";
import { ProviderAgent, checkSetup, createLogger } from "./agent.ts";

async function main(): Promise<number> {
  let loaded;
  try {
    loaded = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      return 2;
    }
    throw error;
  }
  if (loaded.command === "help") {
    process.stdout.write(`${helpText()}\n`);
    return 0;
  }
  if (loaded.command === "env-example") {
    process.stdout.write(envExample());
    return 0;
  }
  if (loaded.command === "check") {
    try {
      const report = await checkSetup(loaded);
      process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      return report.ok ? 0 : 1;
    } catch (error) {
      process.stderr.write(`check failed: ${(error as Error).message}\n`);
      return 1;
    }
  }

  const log = createLogger(loaded.config.logLevel);
  const pidFile = loaded.config.pidFile;
  if (pidFile) {
    writeFileSync(pidFile, `${process.pid}\n`);
    process.on("exit", () => rmSync(pidFile, { force: true }));
  }
  const agent = new ProviderAgent(loaded, { log });
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      log.warn({ signal }, "second signal: exiting now without draining");
      process.exit(130);
    }
    log.info({ signal }, "signal received: draining (send it again to force exit)");
    agent.stop().then(
      () => process.exit(0),
      (error: Error) => {
        log.error({ err: error.message }, "error while stopping");
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    await agent.init();
  } catch (error) {
    log.fatal({ err: (error as Error).message }, "could not start");
    await agent.stop().catch(() => {});
    return 1;
  }
  return -1; // keep running
}

main().then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (error: Error) => {
    process.stderr.write(`fatal: ${error.stack ?? error.message}\n`);
    process.exit(1);
  },
);
