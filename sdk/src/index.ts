/**
 * @clawcompute/sdk — everything the agents, indexer and dashboard share. Browser-safe; the Node-only
 * deployment file helpers live in `@clawcompute/sdk/node`.
 */
export * from "./generated/abis.ts";
export * from "./chains.ts";
export * from "./clients.ts";
export * from "./deployments.ts";
export * from "./eip712.ts";
export * from "./protocol.ts";
export * from "./payment-fetch.ts";
export * from "./streams.ts";
export * from "./units.ts";
