/** The durable state: journal replay, no double counting after a crash between snapshot and truncation, lock. */
import { appendFileSync, copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type StoredVoucher, StateLockedError, StateStore, isBetterVoucher } from "../src/state.ts";

/** A session key's address (any will do: the store never checks signatures). */
const KEY = "0x90F79bf6EB2c4f870365E785982E1f101E93b906" as const;

describe("state store", () => {
  it("survives a crash: the journal is replayed once, a torn last line is ignored", () => {
    const dir = mkdtempSync(join(tmpdir(), "claw-state-"));
    const a = new StateStore({ dir });
    a.open();
    a.addCharge("1", 100n, 10);
    a.addNonce("1", "5", 2_000_000_000);
    a.addCharge("1", 50n, 5);
    a.setFinal("2", { amount: 7n, signature: "0xabc", at: 1 });
    a.recordTx({ hash: "0x01", kind: "withdrawBalance", amount: 150n, state: "pending", at: 1 });
    // Simulate a crash: the lock's pid is dead, the journal has a torn line; no close().
    writeFileSync(join(dir, "lock"), "999999999");
    appendFileSync(join(dir, "journal.ndjson"), '{"q":99,"op":"charge","s":"1","c":"9');
    const snapshotBefore = readFileSync(join(dir, "state.json"), "utf8");

    const b = new StateStore({ dir });
    b.open();
    expect(b.charged("1")).toBe(150n);
    expect(b.ledger("1")).toMatchObject({ servedMs: 15, requests: 2 });
    expect(b.hasNonce("1", "5")).toBe(true);
    expect(b.ledger("2")?.final?.amount).toBe(7n);
    expect(b.pendingTxs().map((t) => t.hash)).toEqual(["0x01"]);
    b.close();

    // A crash after the snapshot rename but before the journal truncation: the old journal is replayed
    // against the new snapshot, and its sequence numbers keep it from counting twice.
    const c = new StateStore({ dir });
    c.open();
    c.addCharge("1", 25n, 1);
    const journal = readFileSync(join(dir, "journal.ndjson"), "utf8");
    c.compact();
    writeFileSync(join(dir, "journal.ndjson"), journal);
    writeFileSync(join(dir, "lock"), "999999999");
    const d = new StateStore({ dir });
    d.open();
    expect(d.charged("1")).toBe(175n);
    d.close();
    expect(snapshotBefore).not.toBe(readFileSync(join(dir, "state.json"), "utf8"));
    copyFileSync(join(dir, "state.json"), join(dir, "copy.json"));
  });

  it("refuses a folder another live agent holds", () => {
    const dir = mkdtempSync(join(tmpdir(), "claw-state-"));
    const a = new StateStore({ dir });
    a.open();
    writeFileSync(join(dir, "lock"), String(process.ppid)); // a live process that is not us
    expect(() => new StateStore({ dir }).open()).toThrow(StateLockedError);
    writeFileSync(join(dir, "lock"), String(process.pid));
    a.close();
  });

  it("prunes expired nonces", () => {
    const dir = mkdtempSync(join(tmpdir(), "claw-state-"));
    const s = new StateStore({ dir });
    s.open();
    s.addNonce("1", "a", 10);
    s.addNonce("1", "b", 4_000_000_000);
    expect(s.pruneNonces(100)).toBe(1);
    expect(s.hasNonce("1", "a")).toBe(false);
    expect(s.hasNonce("1", "b")).toBe(true);
    s.close();
  });

  it("keeps each stream's best voucher through the journal, a crash and a snapshot", () => {
    const dir = mkdtempSync(join(tmpdir(), "claw-state-"));
    const v = (cumulative: bigint, extra: Partial<StoredVoucher> = {}): StoredVoucher => ({
      cumulative,
      bodyHash: `0x${"ab".repeat(32)}`,
      nonce: cumulative + 1n,
      expiry: 1_900_000_000n,
      signature: `0x${"11".repeat(65)}`,
      ...extra,
    });
    const keyed = v(300n, { sessionKey: KEY, sessionExpiry: 1_900_000_500n, sessionSignature: `0x${"22".repeat(65)}` });
    const a = new StateStore({ dir });
    a.open();
    a.addNonce("1", "1", 2_000_000_000, v(100n));
    a.addNonce("1", "2", 2_000_000_000, v(50n)); // lower: the nonce is kept, the voucher is not
    expect(a.offerVoucher("1", keyed)).toBe(true);
    expect(a.offerVoucher("1", v(200n))).toBe(false);
    a.addNonce("2", "9", 2_000_000_000, v(7n));
    writeFileSync(join(dir, "lock"), "999999999"); // crash: no close(), the journal holds it all

    const b = new StateStore({ dir });
    b.open();
    expect(b.bestVoucher("1")).toEqual(keyed);
    expect(b.bestVoucher("2")).toEqual(v(7n));
    expect(b.hasNonce("1", "2")).toBe(true);
    b.close();
    const c = new StateStore({ dir });
    c.open(); // from the snapshot alone
    expect(c.bestVoucher("1")).toEqual(keyed);
    c.close();
  });

  it("a voucher is better when it claims more, or as much and lives longer on-chain", () => {
    const bodyHash = `0x${"00".repeat(32)}` as const;
    const base: StoredVoucher = { cumulative: 10n, bodyHash, nonce: 1n, expiry: 1n, signature: "0x" };
    const keyed = { ...base, sessionKey: KEY, sessionSignature: "0x01" as const };
    const until = (t: bigint): StoredVoucher => ({ ...keyed, sessionExpiry: t });
    expect(isBetterVoucher(base, undefined)).toBe(true);
    expect(isBetterVoucher({ ...base, cumulative: 11n }, until(5n))).toBe(true);
    expect(isBetterVoucher(until(5n), { ...base, cumulative: 11n })).toBe(false);
    expect(isBetterVoucher(until(6n), until(5n))).toBe(true); // a new key re-signing the same amount
    expect(isBetterVoucher(until(5n), until(5n))).toBe(false);
    expect(isBetterVoucher(base, until(5n))).toBe(true); // the sender's own signature never expires
    expect(isBetterVoucher(until(9n), base)).toBe(false);
  });
});
