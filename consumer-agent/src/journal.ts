/**
 * The consumer's own record of each stream it opened: provider, rate, the serving time it measured
 * itself, and the voucher it has signed (the receipts it accepted). It lets `close <id>` (a later run)
 * check a final receipt against that measurement and keep signing from where it stopped, and
 * `finalize` find cancels to finish. One JSON file per chain and StreamPay, written atomically after
 * every request.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Address } from "viem";

export type JournalEntry = {
  providerId: string;
  endpoint: string;
  ratePerSecond: string;
  measuredMs: number;
  requests: number;
  openedAt: number;
  /** The largest voucher signed on the stream: the amount of the last receipt accepted (decimal). */
  accepted?: string;
  /** Cancelled and waiting for the provider's answer or the end of the challenge window (unix seconds). */
  challengeEndsAt?: number;
  /** A rating to give once the stream has closed (a refused receipt rates the provider 1). */
  pendingRating?: number;
  closed?: boolean;
};

export class StreamJournal {
  private entries: Record<string, JournalEntry> = {};
  private readonly path: string | undefined;

  /** `dir` undefined: kept in memory only. */
  constructor(dir: string | undefined, chainId: number, streamPay: Address) {
    if (!dir) return;
    this.path = join(dir, `streams-${chainId}-${streamPay.toLowerCase()}.json`);
    try {
      this.entries = JSON.parse(readFileSync(this.path, "utf8")) as Record<string, JournalEntry>;
    } catch {
      this.entries = {};
    }
  }

  get(streamId: bigint): JournalEntry | undefined {
    return this.entries[streamId.toString()];
  }

  set(streamId: bigint, entry: JournalEntry): void {
    this.entries[streamId.toString()] = entry;
    this.save();
  }

  /** Every stream recorded, by id. */
  all(): Array<[bigint, JournalEntry]> {
    return Object.entries(this.entries).map(([id, entry]) => [BigInt(id), entry]);
  }

  update(streamId: bigint, change: Partial<JournalEntry>): void {
    const current = this.entries[streamId.toString()];
    if (!current) return;
    this.entries[streamId.toString()] = { ...current, ...change };
    this.save();
  }

  private save(): void {
    if (!this.path) return;
    mkdirSync(join(this.path, ".."), { recursive: true });
    const tmp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.entries, null, 1), { mode: 0o600 });
    renameSync(tmp, this.path);
  }
}
