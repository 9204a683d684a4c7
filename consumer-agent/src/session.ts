/**
 * A conversation paid through streams: one stream serves many prompts (the chat session); `ask` is a
 * session of one prompt. Before each prompt the session makes sure its stream has runway — topping it up
 * within the budget, or closing it with its final receipt and opening a new one — and after each prompt
 * it arms an idle timer that closes the stream after the configured idle time, and in any case before its
 * stop time + grace period (from then on anyone could settle it by time). Idle time itself costs nothing:
 * the provider can only take the vouchers this consumer signed. A provider that fails or times out has
 * its stream closed (cancelled: refund) and the prompt goes to the next provider. A refused receipt
 * cancels the stream and rates the provider 1; the answer it came with is still returned.
 */
import { Budget, BudgetExceeded } from "./budget.ts";
import { GasMeter, describeError } from "./chain.ts";
import type { ConsumerContext } from "./context.ts";
import { type ProviderInfo, discoverProviders } from "./discovery.ts";
import { type ChatMessage, ProviderError } from "./provider-client.ts";
import { PaidStream, ProviderSkipped, ReceiptDispute, type StreamOutcome } from "./stream.ts";

export class NoProviderError extends Error {
  constructor(message: string, readonly attempts: AttemptRecord[]) {
    super(message);
    this.name = "NoProviderError";
  }
}

export type AttemptRecord = { providerId: bigint; endpoint: string; streamId?: bigint; error: string };

export type SessionParameters = {
  model?: string;
  /** Budget of this session (default: the consumer's). */
  budget?: bigint;
  expectedSeconds?: number;
  /** Close the stream after this many idle seconds (undefined: only when closing the session). */
  idleCloseSeconds?: number;
  /** Ranked providers to use instead of discovering them. */
  providers?: ProviderInfo[];
  /** A system message that starts the conversation. */
  system?: string;
};

export type SendOptions = { onToken?: (text: string) => void };

export type SendResult = {
  text: string;
  finishReason: string | undefined;
  providerId: bigint;
  streamId: bigint;
  /** Serving time the consumer measured for this answer (ms). */
  measuredMs: number;
  /** The cumulative receipt that came with the answer (amount in asset units), when it was accepted. */
  receiptAmount?: bigint;
  /** Set when the provider's receipt was refused: the stream was cancelled and the provider rated 1. */
  dispute?: StreamOutcome["dispute"];
  /** Providers that failed before this answer (their streams were cancelled). */
  failovers: AttemptRecord[];
};

export type SessionSummary = {
  asset: { address: string; symbol: string; decimals: number };
  budget: bigint;
  /** Sent into streams in all (deposits and top-ups). */
  deposited: bigint;
  /** Paid to providers in all. */
  paid: bigint;
  /** Came back (refunds and dust). */
  refunded: bigint;
  gasUsed: bigint;
  /** Gas paid, in native-coin wei. */
  gasCost: bigint;
  streams: StreamOutcome[];
  failovers: AttemptRecord[];
  transactions: GasMeter["transactions"];
};

export class Session {
  readonly budget: Budget;
  readonly gas = new GasMeter();
  readonly messages: ChatMessage[] = [];
  readonly outcomes: StreamOutcome[] = [];
  readonly failovers: AttemptRecord[] = [];
  readonly model: string;
  private readonly expectedSeconds: number;
  private current: PaidStream | undefined;
  private candidates: ProviderInfo[] | undefined;
  private readonly excluded = new Set<string>();
  private queue: Promise<unknown> = Promise.resolve();
  private idleTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly ctx: ConsumerContext, private readonly p: SessionParameters = {}) {
    this.model = p.model ?? ctx.settings.model;
    this.budget = new Budget(p.budget ?? ctx.settings.budget);
    this.expectedSeconds = p.expectedSeconds ?? ctx.settings.expectedSeconds;
    this.candidates = p.providers;
    if (p.system) this.messages.push({ role: "system", content: p.system });
  }

  /** The open stream, if any. */
  get stream(): PaidStream | undefined {
    return this.current;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Sends a prompt (the conversation so far goes with it) and streams the answer to `onToken`. */
  send(prompt: string, options: SendOptions = {}): Promise<SendResult> {
    return this.serial(async () => {
      if (this.closed) throw new Error("the session is closed");
      clearTimeout(this.idleTimer);
      this.messages.push({ role: "user", content: prompt });
      const failovers: AttemptRecord[] = [];
      try {
        for (let attempt = 1; ; attempt++) {
          const stream = await this.ensureStream(failovers);
          try {
            const result = await stream.chat(this.model, this.messages, options.onToken);
            this.messages.push({ role: "assistant", content: result.text });
            this.armIdleTimer();
            return { text: result.text, finishReason: result.finishReason, providerId: stream.provider.id, streamId: stream.streamId, measuredMs: result.measuredMs, receiptAmount: stream.latestReceipt ? BigInt(stream.latestReceipt.amount) : undefined, failovers };
          } catch (error) {
            if (error instanceof ReceiptDispute) {
              const outcome = await this.retire(stream, () => stream.disputeAndCancel(error.check));
              this.excluded.add(stream.provider.id.toString());
              const text = error.result?.text ?? "";
              this.messages.push({ role: "assistant", content: text });
              return { text, finishReason: error.result?.finishReason, providerId: stream.provider.id, streamId: stream.streamId, measuredMs: error.result?.measuredMs ?? 0, dispute: outcome.dispute, failovers };
            }
            if (!(error instanceof ProviderError)) throw error;
            const record: AttemptRecord = { providerId: stream.provider.id, endpoint: stream.provider.endpoint, streamId: stream.streamId, error: error.message };
            failovers.push(record);
            this.failovers.push(record);
            this.excluded.add(stream.provider.id.toString());
            this.ctx.log.warn({ providerId: stream.provider.id.toString(), streamId: stream.streamId.toString(), err: error.message, attempt }, "provider failed: closing its stream and trying the next provider");
            // Served before (a session)? Its final receipt bills that exactly; else cancel (refund).
            await this.retire(stream, () => (stream.requests > 1 ? stream.closeWithFinalReceipt() : stream.cancel(`provider failed: ${error.message}`)));
            if (attempt >= this.ctx.settings.maxAttempts) {
              throw new NoProviderError(`gave up after ${attempt} provider(s) failed: ${failovers.map((f) => `provider ${f.providerId}: ${f.error}`).join("; ")}`, failovers);
            }
          }
        }
      } catch (error) {
        this.messages.pop(); // the prompt was not answered
        throw error;
      }
    });
  }

  /** Closes the stream (final receipt, refund) and ends the session. Returns what it all cost. */
  close(): Promise<SessionSummary> {
    return this.serial(async () => {
      clearTimeout(this.idleTimer);
      this.closed = true;
      const stream = this.current;
      if (stream) await this.retire(stream, () => stream.closeWithFinalReceipt());
      return this.summary();
    });
  }

  /** Costs so far. */
  summary(): SessionSummary {
    const sum = (f: (o: StreamOutcome) => bigint) => this.outcomes.reduce((acc, o) => acc + f(o), 0n);
    return {
      asset: { address: this.ctx.asset.address, symbol: this.ctx.asset.symbol, decimals: this.ctx.asset.decimals },
      budget: this.budget.limit,
      deposited: sum((o) => o.deposited) + (this.current?.deposited ?? 0n),
      paid: sum((o) => o.paid),
      refunded: sum((o) => o.refunded),
      gasUsed: this.gas.gasUsed,
      gasCost: this.gas.cost,
      streams: [...this.outcomes],
      failovers: [...this.failovers],
      transactions: [...this.gas.transactions],
    };
  }

  private async retire(stream: PaidStream, close: () => Promise<StreamOutcome>): Promise<StreamOutcome> {
    if (this.current === stream) this.current = undefined;
    const outcome = await close();
    this.outcomes.push(outcome);
    return outcome;
  }

  private async providers(): Promise<ProviderInfo[]> {
    if (!this.candidates) {
      const s = this.ctx.settings;
      const found = await discoverProviders({
        clients: this.ctx.clients,
        registry: this.ctx.registry,
        indexerUrl: s.indexerUrl,
        model: this.model,
        asset: this.ctx.asset.address,
        maxPricePerSecond: s.maxPricePerSecond,
        minRating: s.minRating,
        healthTimeoutMs: s.healthTimeoutMs,
        indexerTimeoutMs: s.indexerTimeoutMs,
        fetch: this.ctx.fetch,
      });
      if (found.indexerError) this.ctx.log.warn({ indexerUrl: s.indexerUrl, err: found.indexerError }, "the indexer did not answer: providers read from the registry");
      this.candidates = found.providers.filter((p) => p.live !== false);
      if (!this.candidates.length) {
        const dead = found.providers.length;
        throw new NoProviderError(dead ? `no live provider of model "${this.model}" (${dead} registered but not answering /healthz)` : `no active provider of model "${this.model}" priced in ${this.ctx.asset.symbol} matches the filters`, []);
      }
    }
    return this.candidates.filter((p) => !this.excluded.has(p.id.toString()));
  }

  /** The stream to send the next prompt on: the current one if it has runway (topped up if needed), else a new one. */
  private async ensureStream(failovers: AttemptRecord[]): Promise<PaidStream> {
    const need = Math.max(2, Math.ceil(this.expectedSeconds / 2));
    if (this.current) {
      const stream = this.current;
      const left = await stream.secondsLeft();
      if (left >= need) return stream;
      const price = stream.ratePerSecond;
      let amount = price * BigInt(this.expectedSeconds);
      const fits = (this.budget.available / price) * price;
      if (amount > fits) amount = fits;
      if (left > 0 && amount >= price * BigInt(need - left)) {
        try {
          await stream.topUp(amount);
          return stream;
        } catch (error) {
          this.ctx.log.info({ streamId: stream.streamId.toString(), err: error instanceof BudgetExceeded ? error.message : describeError(error) }, "top-up not possible: renewing the stream");
        }
      }
      // Renew: close with the final receipt (exact billing, refund frees budget), then open a new stream.
      await this.retire(stream, () => stream.closeWithFinalReceipt());
    }
    for (const provider of await this.providers()) {
      try {
        this.current = await PaidStream.open(this.ctx, provider, this.budget, this.gas, this.expectedSeconds, this.model);
        return this.current;
      } catch (error) {
        if (!(error instanceof ProviderSkipped)) throw error;
        this.ctx.log.warn({ providerId: provider.id.toString(), err: error.message }, "provider skipped");
        const record = { providerId: provider.id, endpoint: provider.endpoint, error: error.message };
        failovers.push(record);
        this.failovers.push(record);
        this.excluded.add(provider.id.toString());
      }
    }
    throw new NoProviderError(
      failovers.length ? `no provider could serve: ${failovers.map((f) => f.error).join("; ")}` : `no provider of model "${this.model}" left to try`,
      failovers,
    );
  }

  /** Closes the stream when idle for the configured time, or before it would be abandoned, whichever is first. */
  private armIdleTimer(): void {
    clearTimeout(this.idleTimer);
    const idle = this.p.idleCloseSeconds;
    const stream = this.current;
    if (idle === undefined || !stream) return;
    // A margin before stop + grace for the final-receipt round trip and the close transaction.
    const untilAbandoned = Number(stream.stopTime + this.ctx.gracePeriod) - Date.now() / 1000 - 30;
    const seconds = Math.max(0, Math.min(idle, untilAbandoned));
    this.idleTimer = setTimeout(() => {
      void this.serial(async () => {
        if (this.current !== stream) return;
        this.ctx.log.info({ streamId: stream.streamId.toString(), idleSeconds: Math.round(seconds) }, "session idle: closing its stream (the next prompt opens a new one)");
        await this.retire(stream, () => stream.closeWithFinalReceipt()).catch((error) => this.ctx.log.error({ err: describeError(error) }, "closing the idle stream failed"));
      });
    }, seconds * 1000);
    this.idleTimer.unref();
  }
}
