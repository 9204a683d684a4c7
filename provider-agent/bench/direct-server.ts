/**
 * The benchmark's baseline: the same HTTP server, request parsing, echo backend and OpenAI formatting as
 * the agent, with no gate (no signature, stream, runway or nonce checks, no metering, no receipts).
 * Usage: PORT=… tsx bench/direct-server.ts
 */
import { createServer } from "node:http";
import pino from "pino";
import { EchoBackend } from "../src/backends/index.ts";
import { createMetrics } from "../src/metrics.ts";
import { createApi } from "../src/server.ts";

const port = Number(process.env.PORT ?? 0);
const model = process.env.MODEL ?? "bench-model";
const api = createApi({
  config: {
    model,
    maxBodyBytes: 1_048_576,
    maxConcurrent: 1024,
    corsOrigin: "*",
    drainTimeoutMs: 1000,
    maxTokens: 4096,
  },
  backendModel: model,
  backend: new EchoBackend({ tokensPerSecond: 0, maxTokens: 256 }),
  gate: undefined,
  meter: undefined,
  metrics: createMetrics(),
  log: pino({ level: process.env.LOG_LEVEL ?? "warn" }),
  state: () => "ready",
  paymentInfo: () => undefined,
  health: () => ({}),
  ungated: true,
});
const server = createServer({ keepAliveTimeout: 65_000, requestTimeout: 0 }, api);
server.listen(port, "127.0.0.1", () => console.log(JSON.stringify({ msg: "listening", port })));
const stop = () => server.close(() => process.exit(0));
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
