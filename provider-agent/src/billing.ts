/**
 * Metering: every paid request is a job on its stream. A job's serving time is measured from the moment
 * the gate lets it through until its answer is complete; its charge is price x time (ms precision,
 * `chargeForMs`, rounded down). Each job carries a reservation made by the gate: the most it may be
 * charged, so that what the stream has billed plus what its running jobs may still bill never exceeds what
 * the provider can collect (see gate.ts). A job is stopped when its charge reaches its reservation (the
 * trustless stop). Charges are cumulative per stream, journalled before the receipt that includes them is
 * sent, and never exceed the stream's deposit. Receipts are signed here.
 */
import type { Hex } from "viem";
import { type WireReceipt, chargeForMs } from "@clawcompute/sdk";
import type { CachedStream, StreamCache } from "./chain.ts";
import type { DigestSigner, PaymentSigner } from "./signatures.ts";
import type { StateStore } from "./state.ts";

export type StopReason = "runway" | "stream_closed" | "client_closed" | "shutdown" | "finalizing";

export class Job {
  readonly startedAt = performance.now();
  readonly controller = new AbortController();
  stopReason: StopReason | undefined;
  finished = false;
  timer: NodeJS.Timeout | undefined;
  /**
   * @param reservation The most this job may be charged (asset units); it is stopped when its charge
   * reaches it.
   */
  constructor(
    readonly stream: CachedStream,
    readonly reservation: bigint,
  ) {}

  get streamId(): string {
    return this.stream.id.toString();
  }

  elapsedMs(now = performance.now()): number {
    return now - this.startedAt;
  }

  /** Serving time the reservation pays for (ms, rounded down so its charge never exceeds it). */
  get reservedMs(): number {
    return Number((this.reservation * 1000n) / this.stream.ratePerSecond);
  }

  stop(reason: StopReason): void {
    if (this.finished || this.stopReason) return;
    this.stopReason = reason;
    this.controller.abort(reason);
  }
}

export type Charge = { amount: bigint; cumulative: bigint; servedMs: number; receipt: WireReceipt };

type StreamJobs = { jobs: Set<Job>; reserved: bigint; finalizing: boolean; drained: Array<() => void> };

export type MeterParameters = {
  store: StateStore;
  cache: Pick<StreamCache, "nowMs">;
  payment: PaymentSigner;
  signer: DigestSigner;
  onCharge?: (streamId: string, amount: bigint, servedMs: number) => void;
};

export class Meter {
  private readonly byStream = new Map<string, StreamJobs>();
  private readonly latestReceipt = new Map<string, WireReceipt>();
  private total = 0;

  constructor(private readonly p: MeterParameters) {}

  get inflight(): number {
    return this.total;
  }

  inflightOn(streamId: string): number {
    return this.byStream.get(streamId)?.jobs.size ?? 0;
  }

  /** Sum of the reservations of the stream's running jobs (asset units). */
  reservedOn(streamId: string): bigint {
    return this.byStream.get(streamId)?.reserved ?? 0n;
  }

  isFinalizing(streamId: string): boolean {
    return this.byStream.get(streamId)?.finalizing ?? false;
  }

  /** Starts a job holding `reservation`; it is stopped when its serving time has used all of it. */
  begin(stream: CachedStream, reservation: bigint): Job {
    const id = stream.id.toString();
    let entry = this.byStream.get(id);
    if (!entry) {
      entry = { jobs: new Set(), reserved: 0n, finalizing: false, drained: [] };
      this.byStream.set(id, entry);
    }
    const job = new Job(stream, reservation);
    entry.jobs.add(job);
    entry.reserved += reservation;
    this.total++;
    // A reservation is at most PROVIDER_MAX_REQUEST_SECONDS (≤ 1 day) of serving: within setTimeout's range.
    const ms = job.reservedMs;
    if (ms <= 0) job.stop("runway");
    else job.timer = setTimeout(() => job.stop("runway"), ms);
    return job;
  }

  /** Stops every job on a stream (it closed or is being cancelled on-chain, or the agent shuts down). */
  stopStream(streamId: string, reason: StopReason): void {
    const entry = this.byStream.get(streamId);
    if (entry) for (const job of entry.jobs) job.stop(reason);
  }

  stopAll(reason: StopReason): void {
    for (const id of this.byStream.keys()) this.stopStream(id, reason);
  }

  /**
   * Ends a job. `charge = false` (backend failure) bills nothing. Returns the charge and the receipt for
   * the stream's new cumulative amount; the charge is journalled before this returns.
   */
  finish(job: Job, charge: boolean): Charge {
    if (job.finished) throw new Error("job finished twice");
    const now = performance.now();
    job.finished = true;
    const id = job.streamId;
    clearTimeout(job.timer);
    const entry = this.byStream.get(id)!;
    entry.jobs.delete(job);
    entry.reserved -= job.reservation;
    this.total--;
    let amount = 0n;
    let servedMs = 0;
    if (charge) {
      servedMs = job.elapsedMs(now);
      amount = chargeForMs(job.stream.ratePerSecond, servedMs);
      // The trustless stop: the stop timer and the last token may overrun by a moment; never the bill.
      if (amount > job.reservation) amount = job.reservation;
      const cap = job.stream.deposited - this.p.store.charged(id);
      if (amount > cap) amount = cap > 0n ? cap : 0n;
    }
    const cumulative = charge ? this.p.store.addCharge(id, amount, Math.round(servedMs)) : this.p.store.charged(id);
    if (charge) this.p.onCharge?.(id, amount, servedMs);
    if (entry.jobs.size === 0) {
      if (!entry.finalizing) this.byStream.delete(id);
      for (const resolve of entry.drained.splice(0)) resolve();
    }
    return { amount, cumulative, servedMs, receipt: this.receipt(job.stream.id) };
  }

  /** The signed receipt for the stream's current cumulative charge (final once a final one was issued). */
  receipt(streamId: bigint): WireReceipt {
    const id = streamId.toString();
    const ledger = this.p.store.ledger(id);
    if (ledger?.final) return { streamId: id, amount: ledger.final.amount.toString(), final: true, signature: ledger.final.signature };
    const amount = ledger?.charged ?? 0n;
    const cached = this.latestReceipt.get(id);
    if (cached && cached.amount === amount.toString()) return cached;
    const signature: Hex = this.p.signer.sign(this.p.payment.receiptDigest(streamId, amount, false));
    const receipt: WireReceipt = { streamId: id, amount: amount.toString(), final: false, signature };
    this.latestReceipt.set(id, receipt);
    return receipt;
  }

  /**
   * Issues the stream's final receipt: no new job starts on it, running ones may finish for up to
   * `waitMs` (then they are stopped and billed for what they served), and the receipt covers everything.
   * Idempotent: a second call returns the same receipt.
   */
  async finalize(stream: CachedStream, waitMs: number): Promise<WireReceipt> {
    const id = stream.id.toString();
    const existing = this.p.store.ledger(id)?.final;
    if (existing) return this.receipt(stream.id);
    let entry = this.byStream.get(id);
    if (!entry) {
      entry = { jobs: new Set(), reserved: 0n, finalizing: true, drained: [] };
      this.byStream.set(id, entry);
    }
    entry.finalizing = true;
    if (entry.jobs.size > 0) {
      const e = entry;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          for (const job of e.jobs) job.stop("finalizing");
        }, waitMs);
        e.drained.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    const again = this.p.store.ledger(id)?.final;
    if (!again) {
      const amount = this.p.store.charged(id);
      const signature = this.p.signer.sign(this.p.payment.receiptDigest(stream.id, amount, true));
      this.p.store.setFinal(id, { amount, signature, at: Math.floor(this.p.cache.nowMs() / 1000) });
    }
    this.byStream.delete(id);
    return this.receipt(stream.id);
  }

  /** Resolves when no job runs any more, or after `timeoutMs` (then stops them all). */
  async drain(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let stopped = false;
    while (this.total > 0) {
      if (!stopped && Date.now() >= deadline) {
        this.stopAll("shutdown");
        stopped = true;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}
