/**
 * The agent's durable state: per stream what it charged and served, the final receipt it issued, the
 * best spend voucher the consumer sent (what the agent can collect on-chain without the consumer), the
 * request nonces it accepted (replay protection across restarts), and every payout transaction it sent.
 *
 * Layout (one folder per chain + StreamPay + provider id):
 *   state.json     snapshot, replaced atomically (write temp file, fsync, rename)
 *   journal.ndjson append-only log of changes since the snapshot; each line carries a sequence number,
 *                  so a crash between "snapshot renamed" and "journal truncated" never applies a change twice
 *   lock           pid of the agent using the folder (two agents on one state would double-count)
 * Charges are journalled before the receipt that includes them leaves the process, so a restart (or a
 * crash) never forgets usage a consumer holds a receipt for, and never counts it twice. A better voucher is
 * journalled in the same line as the nonce of the request that carried it, before that request is served.
 */
import { closeSync, existsSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { Address, Hex } from "viem";

export type FinalReceipt = { amount: bigint; signature: Hex; at: number };

/**
 * A spend voucher with everything StreamPay needs to pay on it: the consumer agrees to pay `cumulative`
 * in all on the stream. The signature is over `Spend{streamId, cumulative, request}`, where the request is
 * the HTTP request that carried it (body hash, nonce, expiry).
 */
export type StoredVoucher = {
  cumulative: bigint;
  bodyHash: Hex;
  nonce: bigint;
  expiry: bigint;
  signature: Hex;
  /** The session key that signed it; absent when the sender signed. */
  sessionKey?: Address;
  /** The sender's SessionKey authorisation; absent for the key named at creation (which never expires). */
  sessionExpiry?: bigint;
  sessionSignature?: Hex;
};

/** Unix second after which StreamPay refuses the voucher (its session key's authorisation ends), or undefined. */
export function voucherExpiry(v: StoredVoucher): bigint | undefined {
  return v.sessionSignature ? v.sessionExpiry : undefined;
}

/**
 * Whether `candidate` should replace `current` as a stream's best voucher: it claims more, or as much and
 * stays valid on-chain for longer (a new session key re-signing the same amount outlives the old one).
 */
export function isBetterVoucher(candidate: StoredVoucher, current: StoredVoucher | undefined): boolean {
  if (!current) return true;
  if (candidate.cumulative !== current.cumulative) return candidate.cumulative > current.cumulative;
  const mine = voucherExpiry(candidate);
  const theirs = voucherExpiry(current);
  if (theirs === undefined) return false;
  return mine === undefined || mine > theirs;
}

type WireVoucher = { c: string; b: Hex; n: string; e: string; sig: Hex; k?: Address; ke?: string; ks?: Hex };

function toWire(v: StoredVoucher): WireVoucher {
  const w: WireVoucher = {
    c: v.cumulative.toString(),
    b: v.bodyHash,
    n: v.nonce.toString(),
    e: v.expiry.toString(),
    sig: v.signature,
  };
  if (v.sessionKey) w.k = v.sessionKey;
  if (v.sessionSignature) {
    w.ke = (v.sessionExpiry ?? 0n).toString();
    w.ks = v.sessionSignature;
  }
  return w;
}

function fromWire(w: WireVoucher): StoredVoucher {
  const v: StoredVoucher = {
    cumulative: BigInt(w.c),
    bodyHash: w.b,
    nonce: BigInt(w.n),
    expiry: BigInt(w.e),
    signature: w.sig,
  };
  if (w.k) v.sessionKey = w.k;
  if (w.ks) {
    v.sessionExpiry = BigInt(w.ke ?? "0");
    v.sessionSignature = w.ks;
  }
  return v;
}

export type StreamLedger = {
  /** Cumulative amount charged on the stream (asset units). */
  charged: bigint;
  /** Cumulative measured serving time (ms). */
  servedMs: number;
  requests: number;
  final?: FinalReceipt;
  /** The best voucher the consumer sent (see {@link isBetterVoucher}). */
  best?: StoredVoucher;
};

export type TxKind = "withdrawBalance" | "withdrawFromStream" | "closeByRecipient";
export type TxRecord = {
  hash: Hex;
  kind: TxKind;
  streamId?: string;
  /**
   * Expected amount: withdrawFromStream and closeByRecipient, the voucher's cumulative amount;
   * withdrawBalance, the balance withdrawn.
   */
  amount: bigint;
  state: "pending" | "confirmed" | "failed";
  at: number;
};

type JournalEntry =
  | { q: number; op: "nonce"; s: string; n: string; e: number; v?: WireVoucher }
  | { q: number; op: "voucher"; s: string; v: WireVoucher }
  | { q: number; op: "charge"; s: string; c: string; ms: number; r: number }
  | { q: number; op: "final"; s: string; a: string; sig: Hex; at: number }
  | { q: number; op: "tx"; h: Hex; k: TxKind; s?: string; a: string; st: TxRecord["state"]; at: number };

type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;

type Snapshot = {
  version: 1;
  seq: number;
  streams: Record<
    string,
    {
      charged: string;
      servedMs: number;
      requests: number;
      final?: { amount: string; signature: Hex; at: number };
      best?: WireVoucher;
    }
  >;
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
          best: s.best ? fromWire(s.best) : undefined,
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
        if (e.v) this.offer(e.s, fromWire(e.v));
        break;
      case "voucher":
        this.offer(e.s, fromWire(e.v));
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

  /** Keeps `v` as the stream's best voucher if it is better (the same decision when a journal is replayed). */
  private offer(streamId: string, v: StoredVoucher): void {
    const l = this.ledgerMut(streamId);
    if (isBetterVoucher(v, l.best)) l.best = v;
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

  bestVoucher(streamId: string): StoredVoucher | undefined {
    return this.streams.get(streamId)?.best;
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

  /**
   * Records a used nonce (kept until its signature expires) and, in the same journal line, the voucher its
   * request carried when that voucher is better than the stream's best.
   */
  addNonce(streamId: string, nonce: string, expiry: number, voucher?: StoredVoucher): void {
    const better = voucher !== undefined && isBetterVoucher(voucher, this.bestVoucher(streamId));
    const entry = { op: "nonce" as const, s: streamId, n: nonce, e: expiry };
    this.write(better ? { ...entry, v: toWire(voucher) } : entry);
  }

  /** Keeps a voucher that came with a request that was not served, when it is better. Returns whether it was. */
  offerVoucher(streamId: string, voucher: StoredVoucher): boolean {
    if (!isBetterVoucher(voucher, this.bestVoucher(streamId))) return false;
    this.write({ op: "voucher", s: streamId, v: toWire(voucher) });
    return true;
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
            best: l.best ? toWire(l.best) : undefined,
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
