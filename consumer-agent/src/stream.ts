/**
 * One paid stream to one provider: opened with a deposit sized to the budget, used for signed requests
 * whose serving time the consumer measures itself, topped up within the budget, and closed — with the
 * provider's verified final receipt (exact billing) after the chain has streamed at least its amount,
 * or by cancelling when the provider failed or its receipt is refused.
 *
 * Every request carries a spend voucher for exactly what this consumer has accepted so far: the amount of
 * the last receipt it checked against its own measured serving time. It never signs ahead, so whatever
 * the provider or a keeper does on-chain, the provider can take at most that voucher (or the final
 * receipt the consumer closes with). A cancel pays the provider only that voucher: the unstreamed part
 * comes back at once, the rest when the provider answers or its challenge window ends. A refused
 * (inflated, forged) receipt also rates the provider 1.
 */
import { type Address, type TransactionReceipt, parseEventLogs, zeroAddress } from "viem";
import {
  StreamStatusCode,
  type WireReceipt,
  computeRegistryAbi,
  streamPayAbi,
  testTokenAbi,
} from "@clawcompute/sdk";
import { BudgetExceeded, type Budget, sizeDeposit } from "./budget.ts";
import { type GasMeter, describeError, sendContract } from "./chain.ts";
import type { ConsumerContext } from "./context.ts";
import type { ProviderInfo } from "./discovery.ts";
import { type ChatMessage, type ChatResult, ProviderClient, ProviderError } from "./provider-client.ts";
import { type ReceiptCheck, checkReceipt, receiptAllowance } from "./receipts.ts";

/** A provider cannot be used (terms do not fit, budget too small, stream refused): try the next. */
export class ProviderSkipped extends Error {}

/** The provider's receipt was refused; the answer it came with is in `result`. */
export class ReceiptDispute extends Error {
  constructor(readonly check: Extract<ReceiptCheck, { ok: false }>, readonly result?: ChatResult) {
    super(check.message);
  }
}

export type StreamOutcome = {
  streamId: bigint;
  providerId: bigint;
  endpoint: string;
  /** What this consumer sent into the stream (deposit and top-ups, dust included). */
  deposited: bigint;
  /** What the provider got from it (everything that left on the recipient's side). */
  paid: bigint;
  /** What came back: the refund at close plus any dust returned at once. */
  refunded: bigint;
  measuredMs: number;
  requests: number;
  /** How it ended: closed with the final receipt, cancelled by this consumer, or closed by someone else. */
  closedWith: "receipt" | "cancel" | "other";
  /**
   * A cancel the provider has not answered yet: `pendingRefund` is still held and comes back when the
   * provider answers or, after `challengeEndsAt` (unix seconds), when anyone finalises the cancel.
   */
  pendingRefund?: bigint;
  challengeEndsAt?: bigint;
  receiptAmount?: bigint;
  /** Why it was cancelled, when it was. */
  reason?: string;
  dispute?: { reason: string; message: string; amount?: bigint; allowance?: bigint; rated: boolean };
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class PaidStream {
  measuredMs = 0;
  requests = 0;
  /** The voucher: everything accepted so far (the last accepted receipt's amount). Never more. */
  accepted = 0n;
  latestReceipt: WireReceipt | undefined;
  outcome: StreamOutcome | undefined;
  /** No measurement of this stream's serving time exists (a stream this agent did not serve through). */
  unmeasured = false;
  private dust = 0n;

  private constructor(
    private readonly ctx: ConsumerContext,
    readonly provider: ProviderInfo,
    readonly client: ProviderClient,
    private readonly budget: Budget,
    private readonly gas: GasMeter,
    readonly streamId: bigint,
    readonly ratePerSecond: bigint,
    /** Escrowed so far (deposit + top-ups, after dust). */
    public deposited: bigint,
    public stopTime: bigint,
  ) {}

  /**
   * Opens a stream to `provider` with a deposit of price × `expectedSeconds` (at least the provider's
   * minimum, within the budget). Throws {@link ProviderSkipped} when the provider cannot be used.
   */
  static async open(ctx: ConsumerContext, provider: ProviderInfo, budget: Budget, gas: GasMeter, expectedSeconds: number, model: string): Promise<PaidStream> {
    const log = ctx.log.child({ providerId: provider.id.toString() });
    const client = new ProviderClient({ endpoint: provider.endpoint, signer: ctx.account, domain: ctx.domain, timeoutMs: ctx.settings.requestTimeoutMs, fetch: ctx.fetch });
    let terms;
    try {
      terms = await client.paymentInfo();
    } catch (error) {
      throw new ProviderSkipped(`provider ${provider.id}: ${(error as Error).message}`);
    }
    const mismatch =
      terms.chainId !== ctx.domain.chainId ? `chain ${terms.chainId}` :
      terms.streamPay.toLowerCase() !== ctx.streamPay.toLowerCase() ? `StreamPay ${terms.streamPay}` :
      terms.providerId !== provider.id.toString() ? `provider id ${terms.providerId}` :
      terms.recipient.toLowerCase() !== provider.wallet.toLowerCase() ? `recipient ${terms.recipient}` :
      terms.asset.toLowerCase() !== provider.asset.toLowerCase() ? `asset ${terms.asset}` : undefined;
    if (mismatch) throw new ProviderSkipped(`provider ${provider.id}: its endpoint announces ${mismatch}, which does not match the registry`);
    const price = provider.pricePerSecond;
    const deposit = sizeDeposit({ pricePerSecond: price, expectedSeconds, minDeposit: BigInt(terms.minDeposit), available: budget.available });
    if (deposit === undefined) {
      throw new ProviderSkipped(`provider ${provider.id}: its minimum deposit ${terms.minDeposit} (or 2 s of its price ${price}) does not fit in what is left of the budget (${budget.available})`);
    }
    budget.reserve(deposit);
    let receipt: TransactionReceipt;
    try {
      if (!ctx.asset.native) await ensureAllowance(ctx, gas, deposit);
      ({ receipt } = await sendContract(ctx.clients, gas, "createStream", {
        address: ctx.streamPay,
        abi: streamPayAbi,
        functionName: "createStream",
        args: [
          provider.id,
          ctx.settings.maxPricePerSecond !== undefined && ctx.settings.maxPricePerSecond < price ? ctx.settings.maxPricePerSecond : price,
          deposit,
          zeroAddress, // this agent signs with the sender's own key: no session key needed
        ],
        value: ctx.asset.native ? deposit : 0n,
      }));
    } catch (error) {
      budget.release(deposit);
      throw new ProviderSkipped(`provider ${provider.id}: createStream failed: ${describeError(error)}`);
    }
    const [created] = parseEventLogs({ abi: streamPayAbi, logs: receipt.logs, eventName: "StreamCreated" });
    const a = created.args;
    budget.release(a.dustReturned);
    const stream = new PaidStream(ctx, provider, client, budget, gas, a.streamId, a.ratePerSecond, a.depositAmount, a.stopTime);
    stream.dust = a.dustReturned;
    ctx.journal.set(a.streamId, { providerId: provider.id.toString(), endpoint: provider.endpoint, ratePerSecond: a.ratePerSecond.toString(), measuredMs: 0, requests: 0, openedAt: Number(a.startTime) });
    log.info({ streamId: a.streamId.toString(), deposit: a.depositAmount.toString(), ratePerSecond: a.ratePerSecond.toString(), stopTime: a.stopTime.toString(), model }, "stream opened");
    return stream;
  }

  /** A handle on an existing stream (for close, cancel and top-up of a stream opened earlier). */
  static attach(ctx: ConsumerContext, provider: ProviderInfo, client: ProviderClient, budget: Budget, gas: GasMeter, streamId: bigint, ratePerSecond: bigint, deposited: bigint, stopTime: bigint): PaidStream {
    return new PaidStream(ctx, provider, client, budget, gas, streamId, ratePerSecond, deposited, stopTime);
  }

  /** The most a receipt may charge, from the consumer's own measurement (undefined: nothing measured). */
  get allowance(): bigint | undefined {
    if (this.unmeasured) return undefined;
    return receiptAllowance(this.ratePerSecond, this.measuredMs, this.requests, this.ctx.settings.receiptPolicy);
  }

  /**
   * Sends one chat request on this stream, streaming the answer to `onToken`, and checks the cumulative
   * receipt that comes with it. Throws a ProviderError when the provider fails, a {@link ReceiptDispute}
   * (carrying the answer) when its receipt is refused.
   */
  async chat(model: string, messages: ChatMessage[], onToken?: (text: string) => void): Promise<ChatResult> {
    let result: ChatResult;
    for (let attempt = 1; ; attempt++) {
      const started = performance.now();
      try {
        const request = { model, messages, maxTokens: this.ctx.settings.maxTokens };
        result = await this.client.chat(this.streamId, this.accepted, request, onToken);
        break;
      } catch (error) {
        // A provider learns of new streams from the chain's logs: right after createStream it may not have
        // seen ours yet. It refuses before serving anything (402 unknown_stream), so ask again shortly.
        if (error instanceof ProviderError && error.code === "unknown_stream" && attempt < 5) {
          await sleep(250 * attempt);
          continue;
        }
        // The provider extends one request of credit beyond what has streamed by the chain's clock; right
        // after a long answer the chain may lag it by a second. It says when to ask again.
        if (error instanceof ProviderError && error.code === "no_runway" && error.retryAfterMs !== undefined
          && error.retryAfterMs <= 5_000 && attempt < 5) {
          await sleep(error.retryAfterMs);
          continue;
        }
        this.record(performance.now() - started);
        throw error;
      }
    }
    this.record(result.measuredMs);
    if (result.receipt) {
      const check = await checkReceipt({ clients: this.ctx.clients, domain: this.ctx.domain, receipt: result.receipt, streamId: this.streamId, recipient: this.provider.wallet, allowance: this.allowance, final: false });
      if (!check.ok) throw new ReceiptDispute(check, result);
      this.latestReceipt = result.receipt;
      this.accept(check.amount);
    }
    return result;
  }

  /** The next voucher covers `amount`: a receipt that was checked against the measured serving time. */
  private accept(amount: bigint): void {
    if (amount <= this.accepted) return;
    this.accepted = amount;
    this.ctx.journal.update(this.streamId, { accepted: amount.toString() });
  }

  private record(ms: number) {
    this.measuredMs += ms;
    this.requests++;
    this.ctx.journal.update(this.streamId, { measuredMs: this.measuredMs, requests: this.requests });
  }

  /** Serving time left on the stream by the chain's clock (pending block), in seconds. */
  async secondsLeft(): Promise<number> {
    const refundable = await this.ctx.clients.public.readContract({ address: this.ctx.streamPay, abi: streamPayAbi, functionName: "refundableAmountOf", args: [this.streamId], blockTag: "pending" });
    return Number(refundable / this.ratePerSecond);
  }

  /** Adds `amount` (within the budget). Throws BudgetExceeded, or the contract's reason. */
  async topUp(amount: bigint): Promise<void> {
    this.budget.reserve(amount);
    let receipt: TransactionReceipt;
    try {
      if (!this.ctx.asset.native) await ensureAllowance(this.ctx, this.gas, amount);
      ({ receipt } = await sendContract(this.ctx.clients, this.gas, "topUp", { address: this.ctx.streamPay, abi: streamPayAbi, functionName: "topUp", args: [this.streamId, amount], value: this.ctx.asset.native ? amount : 0n }));
    } catch (error) {
      this.budget.release(amount);
      throw error;
    }
    const [ev] = parseEventLogs({ abi: streamPayAbi, logs: receipt.logs, eventName: "StreamToppedUp" });
    this.budget.release(ev.args.dustReturned);
    this.dust += ev.args.dustReturned;
    this.deposited += ev.args.amount;
    this.stopTime = ev.args.newStopTime;
    this.ctx.log.info({ streamId: this.streamId.toString(), amount: ev.args.amount.toString(), stopTime: this.stopTime.toString() }, "stream topped up");
  }

  /**
   * Exact billing: asks the provider for its final receipt, checks it (signature of the recipient, this
   * stream, amount within price × measured time + tolerance), waits until the chain has streamed that
   * much (at most a second or so after an answer), and closes the stream with it. A refused receipt →
   * {@link disputeAndCancel}; no receipt (the provider is gone) or a close that cannot go through (a
   * provider wallet that rejects its own receipt on-chain) → cancel, paying only the vouchers signed.
   */
  async closeWithFinalReceipt(): Promise<StreamOutcome> {
    if (this.outcome) return this.outcome;
    let receipt: WireReceipt;
    try {
      receipt = await this.client.finalReceipt(this.streamId, this.accepted);
    } catch (error) {
      this.ctx.log.warn({ streamId: this.streamId.toString(), err: (error as Error).message }, "no final receipt from the provider: cancelling instead");
      return this.cancel(`no final receipt: ${(error as Error).message}`);
    }
    const check = await checkReceipt({ clients: this.ctx.clients, domain: this.ctx.domain, receipt, streamId: this.streamId, recipient: this.provider.wallet, allowance: this.allowance, final: true });
    if (!check.ok) return this.disputeAndCancel(check);
    await this.waitStreamed(check.amount);
    try {
      await sendContract(this.ctx.clients, this.gas, "closeWithReceipt", {
        address: this.ctx.streamPay,
        abi: streamPayAbi,
        functionName: "closeWithReceipt",
        args: [this.streamId, check.amount, check.signature],
      });
    } catch (error) {
      const outcome = await this.closedElsewhere();
      if (outcome) return outcome;
      this.ctx.log.warn({ streamId: this.streamId.toString(), err: describeError(error) }, "closing with the final receipt failed: cancelling instead");
      return this.cancel(`the close with the final receipt failed: ${describeError(error)}`);
    }
    const outcome = await this.finish("receipt", { receiptAmount: check.amount });
    if (this.ctx.settings.rateServed > 0 && outcome.paid > 0n) await this.rate(this.ctx.settings.rateServed);
    return outcome;
  }

  /**
   * Cancels without the provider: streaming stops, the unstreamed part comes back at once, and the
   * provider may answer with the best voucher it holds (what this consumer accepted) within the challenge
   * window. Waits a little for that answer, which returns the rest at once; otherwise the outcome says
   * how much is pending and until when (`finalize` collects it after the window).
   */
  async cancel(reason: string): Promise<StreamOutcome> {
    if (this.outcome) return this.outcome;
    // The provider may hold a voucher for what this consumer accepted: let that much stream first, so the
    // cancel leaves it able to take what was agreed (a cancel freezes the streamed amount).
    if (this.accepted > 0n) await this.waitStreamed(this.accepted);
    try {
      await sendContract(this.ctx.clients, this.gas, "cancelStream", { address: this.ctx.streamPay, abi: streamPayAbi, functionName: "cancelStream", args: [this.streamId] });
    } catch (error) {
      const outcome = await this.closedElsewhere();
      if (outcome) return outcome;
      throw error;
    }
    const deadline = Date.now() + this.ctx.settings.cancelAnswerWaitMs;
    for (;;) {
      const view = await this.view();
      if (view.status !== StreamStatusCode.Cancelling) break;
      if (Date.now() >= deadline) {
        this.ctx.journal.update(this.streamId, { challengeEndsAt: Number(view.challengeEndsAt) });
        break;
      }
      await sleep(250);
    }
    return this.finish("cancel", { reason });
  }

  /**
   * Refuses a receipt: logs it as a report on the provider and cancels the stream, so the provider gets
   * only the vouchers this consumer signed (the receipts it accepted), and rates the provider 1 on-chain
   * once the stream has closed (at once if the provider answers the cancel, else at `finalize`).
   */
  async disputeAndCancel(check: Extract<ReceiptCheck, { ok: false }>): Promise<StreamOutcome> {
    this.ctx.log.warn(
      { report: "provider_refused_receipt", providerId: this.provider.id.toString(), wallet: this.provider.wallet, endpoint: this.provider.endpoint, streamId: this.streamId.toString(), reason: check.reason, amount: check.amount?.toString(), allowance: check.allowance?.toString(), measuredMs: Math.round(this.measuredMs), requests: this.requests },
      `refused the provider's receipt (${check.reason}): cancelling the stream and rating the provider 1`,
    );
    const outcome = await this.cancel(`receipt refused: ${check.message}`);
    let rated = false;
    if (outcome.pendingRefund === undefined && outcome.paid > 0n) rated = await this.rate(1);
    else if (outcome.pendingRefund !== undefined) this.ctx.journal.update(this.streamId, { pendingRating: 1 });
    outcome.dispute = { reason: check.reason, message: check.message, amount: check.amount, allowance: check.allowance, rated };
    return outcome;
  }

  async rate(score: number): Promise<boolean> {
    try {
      await sendContract(this.ctx.clients, this.gas, "rateProvider", { address: this.ctx.registry, abi: computeRegistryAbi, functionName: "rateProvider", args: [this.streamId, score] });
      this.ctx.log.info({ streamId: this.streamId.toString(), providerId: this.provider.id.toString(), score }, "rated the provider");
      return true;
    } catch (error) {
      this.ctx.log.warn({ streamId: this.streamId.toString(), err: describeError(error) }, "could not rate the provider");
      return false;
    }
  }

  /** Waits until streamed (as of the pending block) ≥ the receipt amount, so the provider is paid in full. */
  private async waitStreamed(amount: bigint): Promise<void> {
    const target = amount < this.deposited ? amount : this.deposited;
    const deadline = Date.now() + this.ctx.settings.closeWaitMs;
    for (;;) {
      const streamed = await this.ctx.clients.public.readContract({ address: this.ctx.streamPay, abi: streamPayAbi, functionName: "streamedAmountOf", args: [this.streamId], blockTag: "pending" });
      if (streamed >= target) return;
      if (Date.now() >= deadline) {
        this.ctx.log.warn({ streamId: this.streamId.toString(), streamed: streamed.toString(), receipt: amount.toString() }, "the chain has not streamed the receipt amount in time; closing anyway (the provider gets what has streamed)");
        return;
      }
      const ms = Number(((target - streamed) * 1000n) / this.ratePerSecond);
      await sleep(Math.min(1000, Math.max(100, ms)));
    }
  }

  private view() {
    return this.ctx.clients.public.readContract({ address: this.ctx.streamPay, abi: streamPayAbi, functionName: "getStreamView", args: [this.streamId] });
  }

  /** The stream was closed by someone else (the provider with a voucher, or a keeper after it was abandoned). */
  private async closedElsewhere(): Promise<StreamOutcome | undefined> {
    const view = await this.view();
    if (view.status === StreamStatusCode.Open) return undefined;
    return this.finish("other", { reason: "closed by someone else" });
  }

  private async finish(closedWith: StreamOutcome["closedWith"], extra: Partial<StreamOutcome>): Promise<StreamOutcome> {
    const view = await this.view();
    const pending = view.status === StreamStatusCode.Cancelling ? view.streamed - view.withdrawn : undefined;
    // Until a cancel ends, what is still held counts against the budget as if it were paid.
    this.budget.settle(view.deposited, view.withdrawn + (pending ?? 0n));
    this.outcome = {
      streamId: this.streamId,
      providerId: this.provider.id,
      endpoint: this.provider.endpoint,
      deposited: view.deposited + this.dust,
      paid: view.withdrawn,
      refunded: view.refunded + this.dust,
      measuredMs: this.measuredMs,
      requests: this.requests,
      closedWith,
      ...(pending !== undefined ? { pendingRefund: pending, challengeEndsAt: view.challengeEndsAt } : {}),
      ...extra,
    };
    this.ctx.journal.update(this.streamId, { closed: pending === undefined });
    this.ctx.log.info({ streamId: this.streamId.toString(), closedWith, paid: view.withdrawn.toString(), refunded: view.refunded.toString(), receipt: extra.receiptAmount?.toString(), measuredMs: Math.round(this.measuredMs) }, "stream closed");
    return this.outcome;
  }
}

/** ERC-20 streams: approves StreamPay for `amount` when its allowance is short. */
async function ensureAllowance(ctx: ConsumerContext, gas: GasMeter, amount: bigint): Promise<void> {
  const token = ctx.asset.address as Address;
  const allowance = await ctx.clients.public.readContract({ address: token, abi: testTokenAbi, functionName: "allowance", args: [ctx.account.address, ctx.streamPay] });
  if (allowance >= amount) return;
  await sendContract(ctx.clients, gas, "approve", { address: token, abi: testTokenAbi, functionName: "approve", args: [ctx.streamPay, amount] });
}

export { BudgetExceeded };
