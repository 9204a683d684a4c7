/** @clawcompute/keeper: the keeper as a library (the command is src/main.ts, `npm run keeper`). */
export * from "./config.ts";
export * from "./gas.ts";
export * from "./indexer.ts";
export * from "./keeper.ts";
export * from "./log.ts";
export * from "./metrics.ts";
export * from "./server.ts";
