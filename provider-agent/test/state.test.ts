/** The durable state: journal replay, no double counting after a crash between snapshot and truncation, lock. */
import { appendFileSync, copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { StateLockedError, StateStore } from "../src/state.ts";

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
});
