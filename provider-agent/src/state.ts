/**
 * The agent's durable state: per stream what it charged and served, the final receipt it issued, the
 * request nonces it accepted (replay protection across restarts), and every payout transaction it sent.
 *
 * Layout (one folder per chain + StreamPay + provider id):
 *   state.json     snapshot, replaced atomically (write temp file, fsync, rename)
 *   journal.ndjson append-only log of changes since the snapshot; each line carries a sequence number,
 *                  so a crash between "snapshot renamed" and "journal truncated" never applies a change twice
 *   lock           pid of the agent using the folder (two agents on one state would double-count)
 * Charges are journalled before the receipt that includes them leaves the process, so a restart (or a
 * crash) never forgets usage a consumer holds a receipt for, and never counts it twice.
 */
import { closeSync, existsSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { Hex } from "viem";

export type FinalReceipt = { amount: bigint; signature: Hex; at: number };

export type StreamLedger = {
  /** Cumulative amount charged on the stream (asset units). */
  charged: bigint;
  /** Cumulative measured serving time (ms). */
  servedMs: number;
  requests: number;
  final?: FinalReceipt;
};

export type TxKind = "withdrawBalance" | "closeByRecipient";
export type TxRecord = {
  hash: Hex;
  kind: TxKind;
  streamId?: string;
  /** Expected amount (closeByRecipient: the close amount; withdrawBalance: the balance withdrawn). */
  amount: bigint;
  state: "pending" | "confirmed" | "failed";
  at: number;
};

type JournalEntry =
  | { q: number; op: "nonce"; s: string; n: string; e: number }
  | { q: number; op: "charge"; s: string; c: string; ms: number; r: number }
  | { q: number; op: "final"; s: string; a: string; sig: Hex; at: number }
  | { q: number; op: "tx"; h: Hex; k: TxKind; s?: string; a: string; st: TxRecord["state"]; at: number };

type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;

type Snapshot = {
  version: 1;
  seq: number;
  streams: Record<string, { charged: string; servedMs: number; requests: number; final?: { amount: string; signature: Hex; at: number } }>;
  nonces: Record<string, number>;
  txs: Array<{ hash: Hex; kind: TxKind; streamId?: string; amount: string; state: TxRecord["state"]; at: number }>;
};

export type StateStoreOptions = {
  dir: string;
  /** Compact the journal into the snapshot after this many entries. */
  compactEvery?: number;
  /** fsync after each journal write (slower; survives power loss, not only process crashes). */
  fsync?: boolean;
};

export class StateLockedError extends Error {}

export class StateStore {
  readonly dir: string;
  private readonly snapshotPath: string;
  private readonly journalPath: string;
  private readonly lockPath: string;
  private readonly compactEvery: number;
  private readonly fsync: boolean;
  private fd: number | undefined;
  private seq = 0;
  private journalEntries = 0;
  private readonly streams = new Map<string, StreamLedger>();
  /** `${streamId}:${nonce}` → expiry (unix seconds). */
  private readonly nonces = new Map<string, number>();
  private readonly txs = new Map<Hex, TxRecord>();

  constructor(options: StateStoreOptions) {
    this.dir = options.dir;
    this.snapshotPath = join(this.dir, "state.json");
    this.journalPath = join(this.dir, "journal.ndjson");
    this.lockPath = join(this.dir, "lock");
    this.compactEvery = options.compactEvery ?? 20_000;
    this.fsync = options.fsync ?? false;
  }

  /** Takes the folder's lock, reads the snapshot and replays the journal. */
  open(): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.lock();
    if (existsSync(this.snapshotPath)) {
      const snap = JSON.parse(readFileSync(this.snapshotPath, "utf8")) as Snapshot;
      this.seq = snap.seq;
      for (const [id, s] of Object.entries(snap.streams)) {
        this.streams.set(id, {
          charged: BigInt(s.charged),
          servedMs: s.servedMs,
          requests: s.requests,
          final: s.final ? { amount: BigInt(s.final.amount), signature: s.final.signature, at: s.final.at } : undefined,
        });
      }
      for (const [k, e] of Object.entries(snap.nonces)) this.nonces.set(k, e);
      for (const t of snap.txs) this.txs.set(t.hash, { ...t, amount: BigInt(t.amount) });
    }
    if (existsSync(this.journalPath)) {
      const lines = readFileSync(this.journalPath, "utf8").split("\n");
      for (const line of lines) {
        if (!line) continue;
        let entry: JournalEntry;
        try {
          entry = JSON.parse(line) as JournalEntry;
        } catch {
          continue; // a line torn by a crash mid-write: the change it held never reached a consumer
        }
        if (entry.q <= this.seq) continue;
        this.apply(entry);
        this.seq = entry.q;
      }
    }
    this.fd = openSync(this.journalPath, "a", 0o600);
    this.compact(); // start from a clean snapshot
  }

  private lock(): void {
    if (existsSync(this.lockPath)) {
      const pid = Number(readFileSync(this.lockPath, "utf8").trim());
      let alive = false;
      if (Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid) {
        try {
          process.kill(pid, 0);
          alive = true;
        } catch (error) {
          alive = (error as NodeJS.ErrnoException).code === "EPERM";
        }
      }
      if (alive) throw new StateLockedError(`state folder ${this.dir} is in use by process ${pid}: two agents must not share one state.`);
    }
    writeFileSync(this.lockPath, String(process.pid), { mode: 0o600 });
  }

  private apply(e: JournalEntry): void {
    switch (e.op) {
      case "nonce":
        this.nonces.set(`${e.s}:${e.n}`, e.e);
        break;
      case "charge": {
        const l = this.ledgerMut(e.s);
        const c = BigInt(e.c);
        if (c > l.charged) l.charged = c; // cumulative: replaying can never add twice
        l.servedMs = Math.max(l.servedMs, e.ms);
        l.requests = Math.max(l.requests, e.r);
        break;
      }
      case "final":
        this.ledgerMut(e.s).final = { amount: BigInt(e.a), signature: e.sig, at: e.at };
        break;
      case "tx":
        this.txs.set(e.h, { hash: e.h, kind: e.k, streamId: e.s, amount: BigInt(e.a), state: e.st, at: e.at });
        break;
    }
  }

  private write(entry: DistributiveOmit<JournalEntry, "q">): void {
    if (this.fd === undefined) throw new Error("state store is not open");
    const full = { q: ++this.seq, ...entry } as JournalEntry;
    this.apply(full);
    writeSync(this.fd, `${JSON.stringify(full)}\n`);
    if (this.fsync) fsyncSync(this.fd);
    if (++this.journalEntries >= this.compactEvery) this.compact();
  }

  private ledgerMut(streamId: string): StreamLedger {
    let l = this.streams.get(streamId);
    if (!l) {
      l = { charged: 0n, servedMs: 0, requests: 0 };
      this.streams.set(streamId, l);
    }
    return l;
  }

  // ------------------------------------------------------------------ reads

  ledger(streamId: string): Readonly<StreamLedger> | undefined {
    return this.streams.get(streamId);
  }

  charged(streamId: string): bigint {
    return this.streams.get(streamId)?.charged ?? 0n;
  }

  streamIds(): string[] {
    return [...this.streams.keys()];
  }

  hasNonce(streamId: string, nonce: string): boolean {
    return this.nonces.has(`${streamId}:${nonce}`);
  }

  txRecords(): TxRecord[] {
    return [...this.txs.values()];
  }

  pendingTxs(): TxRecord[] {
    return this.txRecords().filter((t) => t.state === "pending");
  }

  // ----------------------------------------------------------------- writes

  /** Records a used nonce (kept until its signature expires). */
  addNonce(streamId: string, nonce: string, expiry: number): void {
    this.write({ op: "nonce", s: streamId, n: nonce, e: expiry });
  }

  /** Adds a charge; returns the new cumulative amount. Journalled before it returns. */
  addCharge(streamId: string, amount: bigint, servedMs: number): bigint {
    const l = this.streams.get(streamId) ?? { charged: 0n, servedMs: 0, requests: 0 };
    this.write({ op: "charge", s: streamId, c: (l.charged + amount).toString(), ms: l.servedMs + servedMs, r: l.requests + 1 });
    return this.charged(streamId);
  }

  setFinal(streamId: string, receipt: FinalReceipt): void {
    this.write({ op: "final", s: streamId, a: receipt.amount.toString(), sig: receipt.signature, at: receipt.at });
  }

  recordTx(tx: TxRecord): void {
    this.write({ op: "tx", h: tx.hash, k: tx.kind, s: tx.streamId, a: tx.amount.toString(), st: tx.state, at: tx.at });
  }

  /** Forgets nonces whose signatures have expired (they can no longer be replayed anyway). */
  pruneNonces(nowSeconds: number): number {
    let removed = 0;
    for (const [k, e] of this.nonces) {
      if (e < nowSeconds) {
        this.nonces.delete(k);
        removed++;
      }
    }
    return removed;
  }

  /** Writes a fresh snapshot atomically and empties the journal. */
  compact(): void {
    this.pruneNonces(Math.floor(Date.now() / 1000));
    const snap: Snapshot = {
      version: 1,
      seq: this.seq,
      streams: Object.fromEntries(
        [...this.streams].map(([id, l]) => [
          id,
          {
            charged: l.charged.toString(),
            servedMs: l.servedMs,
            requests: l.requests,
            final: l.final ? { amount: l.final.amount.toString(), signature: l.final.signature, at: l.final.at } : undefined,
          },
        ]),
      ),
      nonces: Object.fromEntries(this.nonces),
      // Keep pending/failed txs and the last 200 confirmed ones.
      txs: [...this.txs.values()]
        .filter((t, i, all) => t.state !== "confirmed" || i >= all.length - 200)
        .map((t) => ({ ...t, amount: t.amount.toString() })),
    };
    const tmp = `${this.snapshotPath}.${process.pid}.tmp`;
    const fd = openSync(tmp, "w", 0o600);
    try {
      writeSync(fd, JSON.stringify(snap));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.snapshotPath);
    if (this.fd !== undefined) ftruncateSync(this.fd, 0);
    this.journalEntries = 0;
  }

  close(): void {
    if (this.fd === undefined) return;
    this.compact();
    closeSync(this.fd);
    this.fd = undefined;
    rmSync(this.lockPath, { force: true });
  }
}
