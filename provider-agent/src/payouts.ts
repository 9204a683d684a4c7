/**
 * Payouts. The agent collects only what consumers signed for: each stream's best spend voucher (kept by
 * the gate, state.ts) pays min(voucher, streamed by time) in all.
 *  - Withdraw by voucher: `withdrawFromStream(id, best)` once min(best, streamed) - withdrawn reaches the
 *    threshold, on shutdown, and before the session key that signed the best voucher expires (StreamPay
 *    voids a signature-authorised key's vouchers after its expiry). StreamPay pays the provider wallet.
 *  - Answer cancels: a sender's cancel stops the stream and opens a challenge window; the agent answers with
 *    `closeByRecipient(id, best)` before the window ends whenever its voucher pays more than was withdrawn
 *    (else the sender would get that part back when anyone finalises the cancel). This is checked every
 *    second, right after the cancel event, and on start (the stream cache is rebuilt from logs), so a
 *    restart or an agent that was down when the cancel was sent still answers while the window is open.
 *  - Closes credit the provider's balance in StreamPay; one `withdrawBalance` takes all of it, at the
 *    threshold and on shutdown.
 * Nothing relies on a keeper or on the consumer closing. Every transaction is journalled as pending before
 * anything else is sent and resolved (from its receipt) after a restart, and each decision is re-made from
 * chain state, so a restart never withdraws or closes twice.
 */
import { type Address, type Hex, type TransactionReceipt, parseEventLogs } from "viem";
import type { Logger } from "pino";
import { type SignedVoucher, type VoucherArgs, streamPayAbi, streamedAt, voucherArgs } from "@clawcompute/sdk";
import { type CachedStream, type Clients, type StreamCache, describeError, revertName } from "./chain.ts";
import type { Metrics } from "./metrics.ts";
import { type StateStore, type StoredVoucher, type TxKind, voucherExpiry } from "./state.ts";

export type PayoutsParameters = {
  clients: Clients;
  streamPay: Address;
  asset: Address;
  payoutAddress: Address;
  threshold: bigint;
  /** How long before a session key's expiry the agent withdraws with the vouchers it signed (seconds). */
  sessionLeadSeconds: number;
  store: StateStore;
  cache: StreamCache;
  log: Logger;
  metrics?: Metrics;
};

/** What to send for one stream, and why. */
export type StreamAction = {
  stream: CachedStream;
  kind: "withdrawFromStream" | "closeByRecipient";
  reason: "threshold" | "shutdown" | "session_expiry" | "cancel";
  voucher: StoredVoucher;
  /** What it pays: min(voucher, streamed) - withdrawn. */
  amount: bigint;
};

export type PayoutResult = {
  balance: bigint;
  streams: Array<{
    streamId: string;
    kind: StreamAction["kind"];
    reason: StreamAction["reason"];
    amount: bigint;
    hash: Hex;
  }>;
  withdrawn?: { amount: bigint; hash: Hex };
};

/** "urgent": cancels and expiring session keys only; "tick": also thresholds; "shutdown": everything. */
export type PayoutMode = "urgent" | "tick" | "shutdown";

/**
 * Seconds a transaction is given to be mined before a deadline (a challenge window's end, a session key's
 * expiry): past that the agent no longer relies on it and does not send.
 */
const MINING_MARGIN_SECONDS = 2n;

/**
 * Reverts that mean somebody got there first (the consumer closed, someone withdrew with this voucher, a
 * keeper finalised the cancel, the balance was taken): nothing is lost.
 */
const BENIGN_REVERTS = [
  "StreamPay_StreamClosed",
  "StreamPay_StreamNotOpen",
  "StreamPay_NothingToWithdraw",
  "StreamPay_NoBalance",
];

export class Payouts {
  private running: Promise<PayoutResult> | undefined;
  /** Streams already withdrawn for an expiring session key: `${streamId}:${nonce}` of the voucher used. */
  private readonly expiryDone = new Set<string>();

  constructor(private readonly p: PayoutsParameters) {}

  get wallet(): Address {
    return this.p.clients.wallet.account.address;
  }

  balance(): Promise<bigint> {
    return this.p.clients.public.readContract({ address: this.p.streamPay, abi: streamPayAbi, functionName: "balanceOf", args: [this.wallet, this.p.asset] });
  }

  /** The `Voucher` argument StreamPay takes for a stored voucher. */
  static voucherArgs(streamId: bigint, v: StoredVoucher): VoucherArgs {
    const signed: SignedVoucher = {
      streamId,
      cumulative: v.cumulative,
      request: { bodyHash: v.bodyHash, nonce: v.nonce, expiry: v.expiry },
      signature: v.signature,
      session: v.sessionKey
        ? { key: v.sessionKey, expiry: v.sessionExpiry ?? 0n, signature: v.sessionSignature }
        : undefined,
    };
    return voucherArgs(signed);
  }

  /** What each of our streams calls for now (in-memory: the stream cache and the state). */
  actions(mode: PayoutMode): StreamAction[] {
    const nowS = BigInt(Math.floor(this.p.cache.nowMs() / 1000));
    const out: StreamAction[] = [];
    for (const s of this.p.cache.ours()) {
      if (s.status !== "open" && s.status !== "cancelling") continue;
      const voucher = this.p.store.bestVoucher(s.id.toString());
      if (!voucher) continue;
      const expiry = voucherExpiry(voucher);
      // StreamPay refuses a signature-authorised key's vouchers once block.timestamp > expiry.
      if (expiry !== undefined && nowS + MINING_MARGIN_SECONDS > expiry) continue;
      const streamed = streamedAt(s.ratePerSecond, s.startTime, s.stopTime, nowS, s.endTime);
      const total = voucher.cumulative < streamed ? voucher.cumulative : streamed;
      if (total <= s.withdrawn) continue;
      const amount = total - s.withdrawn;
      const base = { stream: s, voucher, amount };
      if (s.status === "cancelling") {
        if (nowS + MINING_MARGIN_SECONDS <= s.challengeEndsAt) {
          out.push({ ...base, kind: "closeByRecipient", reason: "cancel" });
        }
        continue;
      }
      const key = `${s.id}:${voucher.nonce}`;
      if (expiry !== undefined && nowS + BigInt(this.p.sessionLeadSeconds) >= expiry && !this.expiryDone.has(key)) {
        out.push({ ...base, kind: "withdrawFromStream", reason: "session_expiry" });
      } else if (mode === "shutdown") {
        out.push({ ...base, kind: "withdrawFromStream", reason: "shutdown" });
      } else if (mode === "tick" && amount >= this.p.threshold) {
        out.push({ ...base, kind: "withdrawFromStream", reason: "threshold" });
      }
    }
    return out;
  }

  /** Runs one payout round. Rounds never overlap: one asked for during another runs after it. */
  run(mode: PayoutMode): Promise<PayoutResult> {
    const next = (this.running ?? Promise.resolve()).catch(() => {}).then(() => this.doRun(mode));
    this.running = next;
    const clear = () => {
      if (this.running === next) this.running = undefined;
    };
    next.then(clear, clear);
    return next;
  }

  /**
   * The cheap check that runs every second (and on a cancel event): sends only when a cancel or a session
   * key's expiry calls for it. Skipped while a round runs; the next second checks again.
   */
  urgent(): Promise<PayoutResult> | undefined {
    if (this.running || this.actions("urgent").length === 0) return undefined;
    return this.run("urgent");
  }

  private async doRun(mode: PayoutMode): Promise<PayoutResult> {
    const { log } = this.p;
    const result: PayoutResult = { balance: 0n, streams: [] };
    const pending = await this.resolvePending();
    if (pending > 0) {
      log.info({ pending }, "payout transactions still pending; sending nothing new");
      return result;
    }
    const actions = this.actions(mode);
    for (const a of actions) {
      const id = a.stream.id.toString();
      const args = [a.stream.id, Payouts.voucherArgs(a.stream.id, a.voucher)] as const;
      const ctx = { streamId: id, kind: a.kind, reason: a.reason, cumulative: a.voucher.cumulative.toString() };
      log.info({ ...ctx, amount: a.amount.toString() }, `${a.kind} with the best voucher`);
      const receipt = await this.send(a.kind, args, id, a.voucher.cumulative);
      // Once per voucher: what streams after this withdrawal waits for the next voucher (a failed attempt,
      // which costs no gas as it fails in simulation, is tried again the next second).
      if (receipt && a.reason === "session_expiry") this.expiryDone.add(`${id}:${a.voucher.nonce}`);
      if (receipt) {
        // What it paid, from its event (time may have streamed more since the decision).
        const eventName = a.kind === "withdrawFromStream" ? "StreamWithdrawn" : "StreamClosed";
        const [event] = parseEventLogs({ abi: streamPayAbi, logs: receipt.logs, eventName });
        const args = event?.args as { amount?: bigint; recipientAmount?: bigint } | undefined;
        const amount = args?.amount ?? args?.recipientAmount ?? a.amount;
        result.streams.push({ streamId: id, kind: a.kind, reason: a.reason, amount, hash: receipt.transactionHash });
        if (a.kind === "withdrawFromStream") this.p.metrics?.streamWithdrawn.inc(Number(amount));
        const what = a.kind === "closeByRecipient" ? "answered the cancel" : "withdrew from the stream";
        log.info({ ...ctx, amount: amount.toString(), tx: receipt.transactionHash }, `${what} with the best voucher`);
      }
    }
    if (actions.length) await this.p.cache.sync().catch(() => {});
    if (mode === "urgent") return result;

    let balance = await this.balance();
    result.balance = balance;
    this.p.metrics?.claimable.set(Number(balance));
    if (balance > 0n && (mode === "shutdown" || balance >= this.p.threshold)) {
      const receipt = await this.send("withdrawBalance", [this.p.asset, this.p.payoutAddress], undefined, balance);
      if (receipt) {
        const hash = receipt.transactionHash;
        result.withdrawn = { amount: balance, hash };
        this.p.metrics?.withdrawn.inc(Number(balance));
        log.info({ amount: balance.toString(), to: this.p.payoutAddress, tx: hash }, "withdrew the credited balance");
      }
      balance = await this.balance();
      result.balance = balance;
      this.p.metrics?.claimable.set(Number(balance));
    } else if (balance > 0n) {
      const at = { balance: balance.toString(), threshold: this.p.threshold.toString() };
      log.debug(at, "credited balance below the withdrawal threshold");
    }
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

  /** Simulates, sends and waits for a transaction; its receipt when it succeeded, else undefined (logged). */
  private async send(
    kind: TxKind,
    args: readonly unknown[],
    streamId: string | undefined,
    amount: bigint,
  ): Promise<TransactionReceipt | undefined> {
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
      const benign = BENIGN_REVERTS.includes(name ?? "");
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
      return ok ? receipt : undefined;
    } catch (error) {
      log.warn({ ...ctx, tx: hash, err: describeError(error) }, `${kind} not confirmed yet; it stays pending`);
      return undefined;
    }
  }
}
