/**
 * HTTP to a provider agent (DESIGN §3): how to pay (GET /v1/payment), a paid chat completion streamed as
 * server-sent events with its cumulative receipt, and the final receipt (POST /v1/receipts/final). Every
 * paid call is signed with the SDK's payment headers over the exact body bytes, and carries the spend
 * voucher the caller passes: what it has accepted to pay so far. Failures are {@link ProviderError}s,
 * which the session answers by closing the stream and trying the next provider.
 */
import type { Account } from "viem";
import { type PaymentDomainParameters, type PaymentRequiredBody, RECEIPT_HEADER, type WireReceipt, createPaymentHeaders } from "@clawcompute/sdk";

export type ProviderErrorKind = "unreachable" | "timeout" | "http" | "protocol";

export class ProviderError extends Error {
  constructor(
    readonly kind: ProviderErrorKind,
    message: string,
    readonly status?: number,
    readonly code?: string,
    /** From a Retry-After header: when asking again may succeed (ms). */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = "ProviderError";
  }
}

export type ChatMessage = { role: "system" | "user" | "assistant"; content: string };

type Signer = Parameters<typeof createPaymentHeaders>[0]["signer"];

export type ProviderClientParameters = {
  endpoint: string;
  signer: Signer & Pick<Account, "address">;
  domain: PaymentDomainParameters;
  /** Longest wait for the first byte or between two chunks (ms). */
  timeoutMs: number;
  fetch?: typeof fetch;
};

export type ChatResult = {
  text: string;
  finishReason: string | undefined;
  /** The stream's cumulative receipt sent with the answer. */
  receipt: WireReceipt | undefined;
  billing: { charged?: string; served_ms?: number; cumulative?: string; stop_reason?: string | null } | undefined;
  /** Serving time as the consumer measured it: from sending the request to the last byte (ms). */
  measuredMs: number;
};

function networkError(error: unknown, what: string, timeoutMs: number): ProviderError {
  const e = error as Error & { cause?: { code?: string; message?: string } };
  if (e instanceof ProviderError) return e;
  if (e.name === "TimeoutError" || e.name === "AbortError") return new ProviderError("timeout", `${what}: no answer within ${timeoutMs} ms`);
  return new ProviderError("unreachable", `${what}: ${e.cause?.code ?? e.cause?.message ?? e.message}`);
}

async function httpError(response: Response, what: string): Promise<ProviderError> {
  const text = await response.text().catch(() => "");
  let code: string | undefined;
  let message = text.slice(0, 300);
  try {
    const json = JSON.parse(text) as { error?: { code?: string; message?: string } };
    code = json.error?.code;
    message = json.error?.message ?? message;
  } catch {
    /* not JSON */
  }
  const retryAfter = Number(response.headers.get("retry-after"));
  const retryAfterMs = Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined;
  return new ProviderError("http", `${what}: HTTP ${response.status}${code ? ` ${code}` : ""}: ${message}`, response.status, code, retryAfterMs);
}

export class ProviderClient {
  readonly endpoint: string;
  private readonly doFetch: typeof fetch;

  constructor(readonly p: ProviderClientParameters) {
    this.endpoint = p.endpoint.replace(/\/+$/, "");
    this.doFetch = p.fetch ?? fetch;
  }

  /** GET /v1/payment: the provider's terms (minimum deposit, recipient, price). */
  async paymentInfo(): Promise<PaymentRequiredBody["payment"]> {
    let response: Response;
    try {
      response = await this.doFetch(`${this.endpoint}/v1/payment`, { signal: AbortSignal.timeout(this.p.timeoutMs) });
    } catch (error) {
      throw networkError(error, "GET /v1/payment", this.p.timeoutMs);
    }
    if (!response.ok) throw await httpError(response, "GET /v1/payment");
    const json = (await response.json().catch(() => undefined)) as { payment?: PaymentRequiredBody["payment"] } | undefined;
    if (!json?.payment) throw new ProviderError("protocol", "GET /v1/payment: no payment terms in the answer");
    return json.payment;
  }

  private headers(streamId: bigint, cumulative: bigint, body: string) {
    return createPaymentHeaders({ signer: this.p.signer, domain: this.p.domain, streamId, cumulative, body });
  }

  /**
   * POST /v1/chat/completions with `stream: true`, calling `onToken` with each piece of text as it arrives.
   * The serving time is measured from just before the request is sent until the last byte is read.
   * `cumulative` is the voucher it carries: everything accepted on the stream before this request.
   */
  async chat(
    streamId: bigint,
    cumulative: bigint,
    request: { model: string; messages: ChatMessage[]; maxTokens?: number },
    onToken?: (text: string) => void,
  ): Promise<ChatResult> {
    const body = JSON.stringify({
      model: request.model,
      messages: request.messages,
      stream: true,
      ...(request.maxTokens ? { max_tokens: request.maxTokens } : {}),
    });
    const headers = { "content-type": "application/json", ...(await this.headers(streamId, cumulative, body)) };
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => controller.abort(new DOMException("timeout", "TimeoutError")), this.p.timeoutMs);
    };
    const started = performance.now();
    arm();
    try {
      let response: Response;
      try {
        response = await this.doFetch(`${this.endpoint}/v1/chat/completions`, { method: "POST", headers, body, signal: controller.signal });
      } catch (error) {
        throw networkError(controller.signal.aborted ? controller.signal.reason : error, "POST /v1/chat/completions", this.p.timeoutMs);
      }
      if (!response.ok) throw await httpError(response, "POST /v1/chat/completions");
      if (!response.body) throw new ProviderError("protocol", "POST /v1/chat/completions: empty answer");
      const result: Omit<ChatResult, "measuredMs"> = { text: "", finishReason: undefined, receipt: undefined, billing: undefined };
      const headerReceipt = response.headers.get(RECEIPT_HEADER);
      if (headerReceipt) result.receipt = JSON.parse(headerReceipt) as WireReceipt;
      if (!(response.headers.get("content-type") ?? "").includes("text/event-stream")) {
        // A JSON answer (a provider that ignores stream: true): take it whole.
        const json = (await response.json()) as Record<string, any>;
        result.text = json.choices?.[0]?.message?.content ?? "";
        result.finishReason = json.choices?.[0]?.finish_reason;
        result.receipt = (json.claw_receipt as WireReceipt | undefined) ?? result.receipt;
        result.billing = json.claw_billing;
        if (result.text) onToken?.(result.text);
        return { ...result, measuredMs: performance.now() - started };
      }
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      let done = false;
      while (!done) {
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await reader.read();
        } catch (error) {
          throw networkError(controller.signal.aborted ? controller.signal.reason : error, "reading the answer", this.p.timeoutMs);
        }
        if (chunk.done) break;
        arm();
        buffer += decoder.decode(chunk.value, { stream: true });
        let sep: number;
        while ((sep = buffer.indexOf("\n\n")) >= 0) {
          const event = buffer.slice(0, sep);
          buffer = buffer.slice(sep + 2);
          for (const line of event.split("\n")) {
            if (!line.startsWith("data:")) continue;
            const data = line.slice(5).trim();
            if (data === "[DONE]") {
              done = true;
              continue;
            }
            let json: Record<string, any>;
            try {
              json = JSON.parse(data);
            } catch {
              throw new ProviderError("protocol", `unparsable server-sent event: ${data.slice(0, 100)}`);
            }
            if (json.claw_receipt) result.receipt = json.claw_receipt as WireReceipt;
            if (json.claw_billing) result.billing = json.claw_billing;
            if (json.error) throw new ProviderError("http", `the provider failed mid-answer: ${json.error.message ?? json.error.code}`, 502, json.error.code);
            const choice = json.choices?.[0];
            const content = choice?.delta?.content;
            if (typeof content === "string" && content !== "") {
              result.text += content;
              onToken?.(content);
            }
            if (choice?.finish_reason) result.finishReason = choice.finish_reason;
          }
        }
      }
      const measuredMs = performance.now() - started;
      if (!done && !result.finishReason) throw new ProviderError("protocol", "the answer ended before it was complete");
      return { ...result, measuredMs };
    } finally {
      clearTimeout(timer);
    }
  }

  /** POST /v1/receipts/final: the stream's final receipt; the provider serves the stream no more after it. */
  async finalReceipt(streamId: bigint, cumulative: bigint): Promise<WireReceipt> {
    const headers = await this.headers(streamId, cumulative, "");
    let response: Response;
    try {
      response = await this.doFetch(`${this.endpoint}/v1/receipts/final`, { method: "POST", headers, body: "", signal: AbortSignal.timeout(this.p.timeoutMs) });
    } catch (error) {
      throw networkError(error, "POST /v1/receipts/final", this.p.timeoutMs);
    }
    if (!response.ok) throw await httpError(response, "POST /v1/receipts/final");
    const json = (await response.json().catch(() => undefined)) as { receipt?: WireReceipt } | undefined;
    if (!json?.receipt) throw new ProviderError("protocol", "POST /v1/receipts/final: no receipt in the answer");
    return json.receipt;
  }
}
