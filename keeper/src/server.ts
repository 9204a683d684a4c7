/**
 * The keeper's small HTTP server (node:http):
 *   GET /healthz   JSON status; 200 while rounds succeed, 503 while stopping or after repeated failed rounds
 *   GET /metrics   Prometheus text
 */
import { type Server, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import type { KeeperMetrics } from "./metrics.ts";

export type Health = { status: "ok" | "degraded" | "failing" | "stopping" } & Record<string, unknown>;

export type HttpServer = { port: number; close: () => Promise<void> };

export type StartHttpServerParameters = {
  host: string;
  port: number;
  health: () => Health;
  metrics: KeeperMetrics;
  log: Logger;
};

export async function startHttpServer(p: StartHttpServerParameters): Promise<HttpServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, { "content-type": type, "cache-control": "no-store" });
      res.end(body);
    };
    if (req.method !== "GET" && req.method !== "HEAD") {
      const error = `method ${req.method} not allowed: GET /healthz, GET /metrics`;
      send(405, "application/json", JSON.stringify({ error }));
      return;
    }
    if (path === "/healthz") {
      const health = p.health();
      const ok = health.status === "ok" || health.status === "degraded";
      const body = JSON.stringify(health, (_k, v) => (typeof v === "bigint" ? v.toString() : v));
      send(ok ? 200 : 503, "application/json", body);
      return;
    }
    if (path === "/metrics") {
      p.metrics.registry.metrics().then(
        (text) => send(200, p.metrics.registry.contentType, text),
        (error: Error) => {
          p.log.error({ err: error.message }, "metrics could not be rendered");
          send(500, "text/plain", "metrics unavailable\n");
        },
      );
      return;
    }
    send(404, "application/json", JSON.stringify({ error: `no route ${path}: GET /healthz, GET /metrics` }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) => {
      const why = error.code ?? error.message;
      reject(new Error(`cannot listen on ${p.host}:${p.port} (KEEPER_HTTP_HOST/KEEPER_HTTP_PORT): ${why}`));
    });
    server.listen(p.port, p.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  p.log.info({ host: p.host, port }, "serving /healthz and /metrics");
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
