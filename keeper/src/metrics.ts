/** Prometheus metrics of the keeper (GET /metrics). Amounts are in each asset's smallest unit. */
import { Counter, Gauge, Registry, collectDefaultMetrics } from "prom-client";

export function createKeeperMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "claw_keeper_" });
  const registers = [registry];
  return {
    registry,
    rounds: new Counter({ name: "claw_keeper_rounds_total", help: "Rounds run, by result (ok or error)",
      labelNames: ["result"] as const, registers }),
    batches: new Counter({
      name: "claw_keeper_batches_total",
      help: "Batches considered, by kind (abandoned, cancels) and outcome (sent, unprofitable, fee_too_high, "
        + "stale, simulation_failed, reverted, send_failed)",
      labelNames: ["kind", "result"] as const,
      registers,
    }),
    streamsSettled: new Counter({ name: "claw_keeper_streams_settled_total",
      help: "Streams closed by the keeper's batches, by kind (abandoned = settled by time, cancel = finalised)",
      labelNames: ["kind"] as const, registers }),
    rewards: new Counter({ name: "claw_keeper_rewards_total", help: "Keeper rewards received, by asset (asset units)",
      labelNames: ["asset"] as const, registers }),
    gasSpent: new Counter({ name: "claw_keeper_gas_spent_wei_total",
      help: "Native coin paid for the keeper's transactions (L2 gas; wei)", registers }),
    errors: new Counter({ name: "claw_keeper_errors_total",
      help: "Errors, by stage (indexer, chain, simulation, send, round)", labelNames: ["stage"] as const, registers }),
    candidates: new Gauge({ name: "claw_keeper_candidates",
      help: "Streams due at the last round (checked on-chain), by kind", labelNames: ["kind"] as const, registers }),
    source: new Counter({ name: "claw_keeper_candidate_rounds_total",
      help: "Rounds by where candidates came from (indexer, or scan of on-chain ids)",
      labelNames: ["source"] as const, registers }),
    lastRound: new Gauge({ name: "claw_keeper_last_round_timestamp_seconds",
      help: "Unix time the last round ended", registers }),
  };
}

export type KeeperMetrics = ReturnType<typeof createKeeperMetrics>;
