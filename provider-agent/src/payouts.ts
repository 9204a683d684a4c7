/**
 * Payouts. StreamPay credits the provider's share of every closed stream to its claimable balance
 * (`balanceOf(wallet, asset)`); one `withdrawBalance` takes all of it: that is the payout batching.
 * Besides, the agent closes its own finished streams at the amount it billed, with `closeByRecipient`:
 *  - a stream whose final receipt was issued but that the consumer has not closed after a grace period,
 *    at the receipt amount (once that much has streamed by time);
 *  - a stream that ran past its stop time unclosed, at what the agent charged on it
 *    (PROVIDER_DEPLETED_SETTLEMENT=charged; the sender gets the rest back).
 * Nothing is taken by time alone (`withdrawFromStream` would take more than was served).
 * This runs when the collectable amount reaches the threshold, and on shutdown. Every transaction is
 * journalled as pending before anything else is sent and resolved (from its receipt) after a restart,
 * and each decision is made from on-chain state, so a restart never withdraws or closes twice.
 */
import type { Address, Hex } from "viem";
import type { Logger } from "pino";
import { streamPayAbi, streamedAt } from "@clawcompute/sdk";
import { type CachedStream, type Clients, type StreamCache, describeError, revertName } from "./chain.ts";
import type { DepletedSettlement } from "./config.ts";
import type { Metrics } from "./metrics.ts";
import type { StateStore, TxKind } from "./state.ts";

export type PayoutsParameters = {
  clients: Clients;
  streamPay: Address;
  asset: Address;
  payoutAddress: Address;
  threshold: bigint;
  graceSeconds: number;
  depletedSettlement: DepletedSettlement;
  store: StateStore;
  cache: StreamCache;
  log: Logger;
  metrics?: Metrics;
};

export type Settlement = { stream: CachedStream; amount: bigint; reason: "final_receipt" | "depleted" };

export type PayoutResult = {
  balance: bigint;
  collectable: bigint;
  settled: Array<{ streamId: string; amount: bigint; hash: Hex }>;
  withdrawn?: { amount: bigint; hash: Hex };
};

/** Seconds of clock difference tolerated between this machine and the next block. */
const CLOCK_MARGIN_SECONDS = 2n;

export class Payouts {
  private running: Promise<PayoutResult> | undefined;
  constructor(private readonly p: PayoutsParameters) {}

  get wallet(): Address {
    return this.p.clients.wallet.account.address;
  }

  balance(): Promise<bigint> {
    return this.p.clients.public.readContract({ address: this.p.streamPay, abi: streamPayAbi, functionName: "balanceOf", args: [this.wallet, this.p.asset] });
  }

  /** Streams the agent would close now, with the amount (see the module comment). */
  settlements(force: boolean): Settlement[] {
    const nowS = BigInt(Math.floor(this.p.cache.nowMs() / 1000));
    const safeNow = nowS - CLOCK_MARGIN_SECONDS;
    const out: Settlement[] = [];
    for (const s of this.p.cache.ours()) {
      if (s.status !== "open") continue;
      const ledger = this.p.store.ledger(s.id.toString());
      if (!ledger) continue;
      const streamed = streamedAt(s.ratePerSecond, s.startTime, s.stopTime, safeNow);
      const depleted = safeNow >= s.stopTime;
      if (ledger.final) {
        if (ledger.final.amount === 0n) continue;
        if (!force && nowS < BigInt(ledger.final.at + this.p.graceSeconds)) continue;
        if (streamed < ledger.final.amount && !depleted) continue; // wait until it has streamed by time
        out.push({ stream: s, amount: ledger.final.amount < streamed ? ledger.final.amount : streamed, reason: "final_receipt" });
      } else if (this.p.depletedSettlement === "charged" && depleted && ledger.charged > 0n) {
        out.push({ stream: s, amount: ledger.charged < s.deposited ? ledger.charged : s.deposited, reason: "depleted" });
      }
    }
    return out;
  }

  /**
   * Resolves pending transactions, then — when `force` or when balance + collectable closes reach the
   * threshold — closes settleable streams and withdraws the balance. One run at a time.
   */
  run(force: boolean): Promise<PayoutResult> {
    this.running ??= this.doRun(force).finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async doRun(force: boolean): Promise<PayoutResult> {
    const { log } = this.p;
    const pending = await this.resolvePending();
    const result: PayoutResult = { balance: 0n, collectable: 0n, settled: [] };
    if (pending > 0) {
      log.info({ pending }, "payout transactions still pending; sending nothing new");
      return result;
    }
    let balance = await this.balance();
    const settlements = this.settlements(force);
    const fromSettlements = settlements.reduce((sum, s) => sum + (s.amount > s.stream.withdrawn ? s.amount - s.stream.withdrawn : 0n), 0n);
    result.balance = balance;
    result.collectable = balance + fromSettlements;
    this.p.metrics?.claimable.set(Number(balance));
    if (result.collectable === 0n) return result;
    if (!force && result.collectable < this.p.threshold) {
      log.debug({ collectable: result.collectable.toString(), threshold: this.p.threshold.toString() }, "earnings below the withdrawal threshold");
      return result;
    }
    for (const s of settlements) {
      const hash = await this.send("closeByRecipient", [s.stream.id, s.amount], s.stream.id.toString(), s.amount);
      if (hash) result.settled.push({ streamId: s.stream.id.toString(), amount: s.amount, hash });
    }
    if (settlements.length) await this.p.cache.sync().catch(() => {});
    balance = await this.balance();
    result.balance = balance;
    if (balance > 0n) {
      const hash = await this.send("withdrawBalance", [this.p.asset, this.p.payoutAddress], undefined, balance);
      if (hash) {
        result.withdrawn = { amount: balance, hash };
        this.p.metrics?.withdrawn.inc(Number(balance));
        log.info({ amount: balance.toString(), to: this.p.payoutAddress, tx: hash }, "withdrew earnings");
      }
      result.balance = await this.balance();
    }
    this.p.metrics?.claimable.set(Number(result.balance));
    return result;
  }

  /** Checks every journalled pending transaction; returns how many are still pending. */
  private async resolvePending(): Promise<number> {
    let still = 0;
    for (const tx of this.p.store.pendingTxs()) {
      try {
        const receipt = await this.p.clients.public.getTransactionReceipt({ hash: tx.hash });
        this.p.store.recordTx({ ...tx, state: receipt.status === "success" ? "confirmed" : "failed" });
        this.p.log.info({ tx: tx.hash, kind: tx.kind, status: receipt.status }, "resolved a payout transaction from before");
      } catch {
        const known = await this.p.clients.public.getTransaction({ hash: tx.hash }).then(() => true, () => false);
        if (known) still++;
        else {
          // Never mined and no longer known to the node: dropped. Decisions are re-made from chain state.
          this.p.store.recordTx({ ...tx, state: "failed" });
          this.p.log.warn({ tx: tx.hash, kind: tx.kind }, "a payout transaction was dropped");
        }
      }
    }
    return still;
  }

  private async send(kind: TxKind, args: readonly unknown[], streamId: string | undefined, amount: bigint): Promise<Hex | undefined> {
    const { clients, log } = this.p;
    const ctx = { kind, streamId, amount: amount.toString() };
    let hash: Hex;
    try {
      const { request } = await clients.public.simulateContract({
        account: clients.wallet.account,
        address: this.p.streamPay,
        abi: streamPayAbi,
        functionName: kind as never,
        args: args as never,
        // The next block's view: a dev chain that only mines on demand keeps "latest" at an old timestamp.
        blockTag: "pending",
      });
      hash = await clients.wallet.writeContract(request as never);
    } catch (error) {
      const name = revertName(error);
      // The consumer (or a keeper) closed the stream first, or the balance was already taken: not an error.
      const benign = name === "StreamPay_StreamClosed" || name === "StreamPay_NoBalance" || name === "StreamPay_AmountExceedsStreamed";
      log[benign ? "info" : "error"]({ ...ctx, err: describeError(error) }, `${kind} not sent`);
      this.p.metrics?.payouts.inc({ kind, result: benign ? "skipped" : "error" });
      return undefined;
    }
    this.p.store.recordTx({ hash, kind, streamId, amount, state: "pending", at: Math.floor(Date.now() / 1000) });
    try {
      const receipt = await clients.public.waitForTransactionReceipt({ hash, timeout: 120_000 });
      const ok = receipt.status === "success";
      this.p.store.recordTx({ hash, kind, streamId, amount, state: ok ? "confirmed" : "failed", at: Math.floor(Date.now() / 1000) });
      this.p.metrics?.payouts.inc({ kind, result: ok ? "confirmed" : "reverted" });
      log.info({ ...ctx, tx: hash, status: receipt.status }, `${kind} mined`);
      return ok ? hash : undefined;
    } catch (error) {
      log.warn({ ...ctx, tx: hash, err: describeError(error) }, `${kind} not confirmed yet; it stays pending`);
      return undefined;
    }
  }
}
