/**
 * `npm run keeper` (root) = `npm run start -w keeper`: reads the configuration (env, ./.env or --env-file,
 * flags), starts the keeper and runs rounds. SIGINT/SIGTERM: finish the round in flight (its transaction
 * included), close the HTTP server, exit 0; a second signal exits at once. `--once`: one round, then exit.
 * Exit codes: 0 done, 1 could not start or the round failed, 2 bad configuration.
 */
import { ConfigError, loadAccount } from "@clawcompute/sdk/node";
import { keeperEnvExample, keeperHelp, loadKeeperConfig } from "./config.ts";
import { Keeper } from "./keeper.ts";
import { createKeeperLogger } from "./log.ts";

async function main(): Promise<number> {
  let loaded;
  try {
    loaded = loadKeeperConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      return 2;
    }
    throw error;
  }
  if (loaded.command === "help") {
    process.stdout.write(`${keeperHelp()}\n`);
    return 0;
  }
  if (loaded.command === "env-example") {
    process.stdout.write(keeperEnvExample());
    return 0;
  }
  const log = createKeeperLogger(loaded.config.logLevel);
  for (const w of loaded.warnings) log.warn(w);
  let account;
  try {
    account = loadAccount(loaded.keySource);
  } catch (error) {
    log.fatal({ err: (error as Error).message }, "could not load the keeper's key");
    return 1;
  }
  const keeper = new Keeper({ config: loaded.config, account, log });
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    if (++signals > 1) {
      log.warn({ signal }, "second signal: exiting now");
      process.exit(130);
    }
    log.info({ signal }, "signal received: finishing the round in flight (send it again to force exit)");
    keeper.stop().then(() => process.exit(0), () => process.exit(1));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    await keeper.init();
  } catch (error) {
    log.fatal({ err: (error as Error).message }, "could not start");
    await keeper.stop().catch(() => undefined);
    return 1;
  }
  if (loaded.command === "once") {
    const report = await keeper.tick();
    await keeper.stop();
    return report.error ? 1 : 0;
  }
  keeper.start();
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
