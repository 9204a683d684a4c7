/**
 * `npm run keeper`: settles depleted and long-idle streams for the keeper's 0.1% reward, only when the
 * reward covers the gas × a margin (logic and configuration in lib/keeper.ts). JSON logs (pino) on
 * stdout. SIGINT/SIGTERM: finish the round in flight (its transaction included), then exit; a second
 * signal exits at once. `--once`: one round, then exit.
 */
import { ConfigError, loadAccount } from "@clawcompute/sdk/node";
import { Keeper, createKeeperLogger, keeperEnvExample, keeperHelp, loadKeeperConfig } from "./lib/keeper.ts";

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
  const keeper = new Keeper({ config: loaded.config, account: loadAccount(loaded.keySource), log });
  try {
    await keeper.init();
  } catch (error) {
    log.fatal({ err: (error as Error).message }, "could not start");
    return 1;
  }
  if (loaded.command === "once") {
    const report = await keeper.tick();
    await keeper.stop();
    return report.error ? 1 : 0;
  }
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
  keeper.start();
  return -1;
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
