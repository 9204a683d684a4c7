/** Prometheus metrics (GET /metrics). Amounts are in the payment asset's smallest unit. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "claw_provider_" });
  const m = {
    registry,
    requests: new Counter({ name: "claw_provider_http_requests_total", help: "HTTP requests by route and status", labelNames: ["route", "status"] as const, registers: [registry] }),
    duration: new Histogram({
      name: "claw_provider_http_request_duration_seconds",
      help: "HTTP request duration by route",
      labelNames: ["route"] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120],
      registers: [registry],
    }),
    gate: new Histogram({
      name: "claw_provider_gate_duration_seconds",
      help: "Time spent in the payment gate (signature, stream and runway checks)",
      buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.01, 0.1],
      registers: [registry],
    }),
    refusals: new Counter({ name: "claw_provider_gate_refusals_total", help: "Requests refused by the gate, by error code", labelNames: ["code"] as const, registers: [registry] }),
    charged: new Counter({ name: "claw_provider_charged_units_total", help: "Amount charged (asset units)", registers: [registry] }),
    served: new Counter({ name: "claw_provider_served_seconds_total", help: "Measured serving time billed", registers: [registry] }),
    inflight: new Gauge({ name: "claw_provider_inflight_requests", help: "Paid requests being served", registers: [registry] }),
    backendErrors: new Counter({ name: "claw_provider_backend_errors_total", help: "Backend failures (answered 502, not charged)", registers: [registry] }),
    streams: new Gauge({ name: "claw_provider_streams_cached", help: "Streams in the event cache", registers: [registry] }),
    syncedBlock: new Gauge({ name: "claw_provider_chain_synced_block", help: "Last block whose events are in the cache", registers: [registry] }),
    syncErrors: new Gauge({ name: "claw_provider_chain_sync_errors", help: "Failed chain syncs since start", registers: [registry] }),
    payouts: new Counter({ name: "claw_provider_payout_transactions_total", help: "Payout transactions by kind and result", labelNames: ["kind", "result"] as const, registers: [registry] }),
    withdrawn: new Counter({ name: "claw_provider_withdrawn_units_total", help: "Amount withdrawn with withdrawBalance (asset units)", registers: [registry] }),
    streamWithdrawn: new Counter({
      name: "claw_provider_stream_withdrawn_units_total",
      help: "Amount withdrawn from streams with the consumers' vouchers (asset units)",
      registers: [registry],
    }),
    claimable: new Gauge({ name: "claw_provider_claimable_balance_units", help: "Claimable StreamPay balance at the last payout check (asset units)", registers: [registry] }),
  };
  return m;
}

export type Metrics = ReturnType<typeof createMetrics>;
