/**
 * The HTTP API (node:http, no framework: the gate's overhead budget is well under a millisecond).
 *
 *   POST /v1/chat/completions   OpenAI-compatible; `stream: true` → server-sent events     (paid)
 *   POST /inference             the original API: {prompt, model} → {output, …}             (paid)
 *   GET  /v1/models             the model this provider sells
 *   GET  /v1/payment            how to pay (the `payment` part of a 402), no payment needed
 *   GET  /v1/receipts/latest    latest signed cumulative receipt of a stream    (payment headers, empty body)
 *   POST /v1/receipts/final     final receipt; the stream is served no more      (payment headers)
 *   GET  /healthz               liveness/readiness JSON (503 while starting or draining)
 *   GET  /metrics               Prometheus
 *
 * Every paid answer carries the stream's latest signed cumulative receipt: the `x-claw-receipt` header
 * (JSON of WireReceipt) on JSON answers, and a `claw_receipt` field on the last SSE chunk (the one with
 * `finish_reason`) of streamed ones. Errors are JSON `{error: {code, message, type}}`; a 402 adds
 * `payment` (PaymentRequiredBody of the SDK).
 */
import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import { PAYMENT_HEADERS, RECEIPT_HEADER, type PaymentRequiredBody, type WireReceipt } from "@clawcompute/sdk";
import type { BackendEvent, ChatMessage, ChatRequest, InferenceBackend, Usage } from "./backends/index.ts";
import { BackendError } from "./backends/index.ts";
import type { Job, Meter } from "./billing.ts";
import type { ProviderConfig } from "./config.ts";
import { GateError, type PaymentGate, type Passed } from "./gate.ts";
import type { Metrics } from "./metrics.ts";

export type ServerState = "starting" | "ready" | "draining";

type ServerOptions = "model" | "maxBodyBytes" | "maxConcurrent" | "corsOrigin" | "drainTimeoutMs" | "maxTokens";

export type ApiDeps = {
  config: Pick<ProviderConfig, ServerOptions>;
  /** Model name sent to the backend. */
  backendModel: string;
  backend: InferenceBackend;
  gate: PaymentGate | undefined;
  meter: Meter | undefined;
  metrics: Metrics;
  log: Logger;
  state: () => ServerState;
  /** The `payment` object of a 402 (undefined until registered). */
  paymentInfo: () => PaymentRequiredBody["payment"] | undefined;
  health: () => Record<string, unknown>;
  /** Benchmark only: serve without the gate, metering or receipts ("direct to backend"). */
  ungated?: boolean;
};

class HttpError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

const PASSTHROUGH_PARAMS = ["temperature", "top_p", "stop", "seed", "presence_penalty", "frequency_penalty", "logit_bias", "user", "response_format"];
const EXPOSED_HEADERS = [RECEIPT_HEADER, "x-request-id", "retry-after"].join(", ");
const ALLOWED_HEADERS = ["content-type", "authorization", ...Object.values(PAYMENT_HEADERS)].join(", ");

const ROUTE_NAMES: Record<string, string> = {
  "/v1/chat/completions": "chat",
  "/inference": "inference",
  "/v1/models": "models",
  "/v1/payment": "payment",
  "/v1/receipts/latest": "receipt",
  "/v1/receipts/final": "receipt_final",
  "/healthz": "healthz",
  "/metrics": "metrics",
};

type ParsedChat = { request: ChatRequest; stream: boolean; includeUsage: boolean };

export function createApi(deps: ApiDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const { config, metrics, log } = deps;
  let active = 0;
  let seq = 0;
  const idPrefix = randomBytes(4).toString("hex");

  const cors = (res: ServerResponse) => {
    res.setHeader("access-control-allow-origin", config.corsOrigin);
    res.setHeader("access-control-expose-headers", EXPOSED_HEADERS);
  };

  const sendJson = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
    res.end(text);
  };

  const errorBody = (status: number, code: string, message: string, details?: Record<string, string>) => {
    const error = { code, message, type: status === 402 ? "payment_required" : status >= 500 ? "server_error" : "invalid_request_error", ...(details ? { details } : {}) };
    if (status === 402) {
      const payment = deps.paymentInfo();
      if (payment) return { error, payment } satisfies PaymentRequiredBody;
    }
    return { error };
  };

  const sendError = (
    res: ServerResponse,
    status: number,
    code: string,
    message: string,
    details?: Record<string, string>,
    close = false,
    headers: Record<string, string> = {},
  ) => {
    if (res.headersSent) {
      res.end();
      return;
    }
    metrics.refusals.inc({ code });
    const all = close ? { ...headers, connection: "close" } : headers;
    sendJson(res, status, errorBody(status, code, message, details), all);
  };

  const readBody = (req: IncomingMessage): Promise<Buffer> =>
    new Promise((resolve, reject) => {
      const declared = Number(req.headers["content-length"] ?? 0);
      if (declared > config.maxBodyBytes) {
        reject(new HttpError(413, "body_too_large", `The request body is ${declared} bytes; the limit is ${config.maxBodyBytes}.`));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      req.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size > config.maxBodyBytes) {
          req.removeAllListeners("data");
          reject(new HttpError(413, "body_too_large", `The request body exceeds the limit of ${config.maxBodyBytes} bytes.`));
          return;
        }
        chunks.push(chunk);
      });
      req.on("end", () => resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)));
      req.on("error", reject);
    });

  const header = (req: IncomingMessage) => (name: string) => {
    const v = req.headers[name];
    return Array.isArray(v) ? v[0] : v;
  };

  // ----------------------------------------------------------------------------------------- parsing

  const parseJson = (body: Buffer): Record<string, unknown> => {
    let json: unknown;
    try {
      json = JSON.parse(body.toString("utf8"));
    } catch (error) {
      throw new HttpError(400, "invalid_json", `The request body is not valid JSON: ${(error as Error).message}`);
    }
    if (typeof json !== "object" || json === null || Array.isArray(json)) throw new HttpError(400, "invalid_json", "The request body must be a JSON object.");
    return json as Record<string, unknown>;
  };

  const checkModel = (model: unknown) => {
    if (typeof model !== "string" || model === "") throw new HttpError(400, "invalid_request", "`model` is required (a string).");
    if (model !== config.model) throw new HttpError(404, "model_not_found", `This provider serves model "${config.model}", not "${model.slice(0, 100)}". GET /v1/models lists it.`);
  };

  /** The request's max_tokens, lowered to PROVIDER_MAX_TOKENS: every answer's length is bounded. */
  const maxTokensOf = (json: Record<string, unknown>): number => {
    const v = json.max_completion_tokens ?? json.max_tokens;
    if (v === undefined || v === null) return config.maxTokens;
    if (!Number.isSafeInteger(v) || (v as number) < 1) throw new HttpError(400, "invalid_request", "`max_tokens` must be a positive integer.");
    return Math.min(v as number, config.maxTokens);
  };

  const parseChat = (json: Record<string, unknown>): ParsedChat => {
    checkModel(json.model);
    const messages = json.messages;
    if (!Array.isArray(messages) || messages.length === 0) throw new HttpError(400, "invalid_request", "`messages` must be a non-empty array.");
    for (const [i, m] of messages.entries()) {
      if (typeof m !== "object" || m === null || typeof (m as ChatMessage).role !== "string") throw new HttpError(400, "invalid_request", `messages[${i}] must be an object with a string \`role\`.`);
      const c = (m as ChatMessage).content;
      if (c !== null && c !== undefined && typeof c !== "string" && !Array.isArray(c)) throw new HttpError(400, "invalid_request", `messages[${i}].content must be a string or an array of parts.`);
    }
    if (json.stream !== undefined && typeof json.stream !== "boolean") throw new HttpError(400, "invalid_request", "`stream` must be true or false.");
    if (json.n !== undefined && json.n !== 1) throw new HttpError(400, "invalid_request", "Only `n: 1` is supported.");
    const params: Record<string, unknown> = {};
    for (const k of PASSTHROUGH_PARAMS) if (json[k] !== undefined) params[k] = json[k];
    const streamOptions = json.stream_options as { include_usage?: boolean } | undefined;
    return {
      request: { model: deps.backendModel, messages: messages as ChatMessage[], maxTokens: maxTokensOf(json), params },
      stream: json.stream === true,
      includeUsage: streamOptions?.include_usage === true,
    };
  };

  const parseInference = (json: Record<string, unknown>): ParsedChat => {
    checkModel(json.model);
    if (typeof json.prompt !== "string" || json.prompt === "") throw new HttpError(400, "invalid_request", "`prompt` is required (a non-empty string).");
    const params: Record<string, unknown> = {};
    for (const k of PASSTHROUGH_PARAMS) if (json[k] !== undefined) params[k] = json[k];
    return { request: { model: deps.backendModel, messages: [{ role: "user", content: json.prompt }], maxTokens: maxTokensOf(json), params }, stream: false, includeUsage: false };
  };

  // ---------------------------------------------------------------------------------------- the gate

  const pass = async (req: IncomingMessage, body: Buffer, serve: boolean): Promise<Passed | undefined> => {
    if (deps.ungated) return undefined;
    const started = performance.now();
    try {
      return await deps.gate!.check(header(req), body, { serve });
    } finally {
      metrics.gate.observe((performance.now() - started) / 1000);
    }
  };

  const receiptHeader = (r: WireReceipt) => ({ [RECEIPT_HEADER]: JSON.stringify(r) });

  // -------------------------------------------------------------------------------------- generation

  /** Runs the backend for a paid job (or ungated), writing SSE or collecting the text. */
  const generate = async (
    res: ServerResponse,
    parsed: ParsedChat,
    job: Job | undefined,
    reqLog: Logger,
    format: "chat" | "inference",
  ) => {
    const controller = job?.controller ?? new AbortController();
    const onClose = () => {
      if (!res.writableFinished) {
        if (job) job.stop("client_closed");
        else controller.abort();
      }
    };
    res.on("close", onClose);
    if (res.destroyed) onClose(); // the client left while the request was being checked
    const id = `chatcmpl-${idPrefix}${(++seq).toString(36)}`;
    const created = Math.floor(Date.now() / 1000);
    const model = config.model;
    const chunkHead = `{"id":"${id}","object":"chat.completion.chunk","created":${created},"model":${JSON.stringify(model)},"choices":[{"index":0,"delta":`;
    const iterator = deps.backend.stream(parsed.request, controller.signal)[Symbol.asyncIterator]();
    let text = "";
    let finishReason: string | undefined;
    let usage: Usage | undefined;
    let tokens = 0;
    let sseStarted = false;

    const finishJob = (charge: boolean) => (job ? deps.meter!.finish(job, charge) : undefined);

    try {
      for (;;) {
        let step: IteratorResult<BackendEvent>;
        try {
          step = await iterator.next();
        } catch (error) {
          // Any failure of the backend: 502 (or an SSE error event once streaming began), not charged.
          const charge = finishJob(false);
          metrics.backendErrors.inc();
          const reason = error instanceof BackendError ? error.message : `unexpected error: ${(error as Error)?.message ?? String(error)}`;
          const message = `The inference backend failed: ${reason}. Nothing was charged for this request.`;
          reqLog.warn({ err: reason, sseStarted }, "backend failed; not charged");
          if (sseStarted) {
            const payload: Record<string, unknown> = { error: { code: "backend_error", message, type: "server_error" } };
            if (charge) payload.claw_receipt = charge.receipt;
            res.end(`data: ${JSON.stringify(payload)}\n\n`);
          } else {
            metrics.refusals.inc({ code: "backend_error" });
            sendJson(res, 502, errorBody(502, "backend_error", message), charge ? receiptHeader(charge.receipt) : {});
          }
          return;
        }
        if (step.done) break;
        const ev = step.value;
        if (ev.type === "done") {
          finishReason = ev.finishReason;
          usage = ev.usage;
          break;
        }
        tokens++;
        if (parsed.stream) {
          if (!sseStarted) {
            sseStarted = true;
            res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", connection: "keep-alive", "x-accel-buffering": "no" });
            res.write(`data: ${chunkHead}{"role":"assistant","content":""},"finish_reason":null}]}\n\n`);
          }
          res.write(`data: ${chunkHead}{"content":${JSON.stringify(ev.content)}},"finish_reason":null}]}\n\n`);
        } else {
          text += ev.content;
        }
      }
    } finally {
      res.off("close", onClose);
    }

    // Ended: complete, or cut (runway out, stream closed, client gone, shutdown).
    const stopReason = job?.stopReason ?? (controller.signal.aborted ? "client_closed" : undefined);
    if (!finishReason) finishReason = "length";
    const charge = finishJob(true);
    const completionTokens = usage?.completion_tokens ?? tokens;
    const promptTokens = usage?.prompt_tokens ?? 0;
    const finalUsage: Usage = { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
    // `reserved`: the most this request could be billed (its charge stops there: the trustless stop).
    const billing = charge
      ? {
          charged: charge.amount.toString(),
          served_ms: Math.round(charge.servedMs * 1000) / 1000,
          cumulative: charge.cumulative.toString(),
          reserved: job!.reservation.toString(),
        }
      : undefined;
    if (job) {
      reqLog.info({ stop: stopReason, finishReason, tokens: completionTokens, servedMs: charge!.servedMs.toFixed(2), charged: charge!.amount.toString(), cumulative: charge!.cumulative.toString() }, "served");
    }
    if (stopReason === "client_closed") {
      if (!res.writableEnded) res.end();
      return;
    }
    if (parsed.stream) {
      if (!sseStarted) {
        res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", connection: "keep-alive", "x-accel-buffering": "no" });
        res.write(`data: ${chunkHead}{"role":"assistant","content":""},"finish_reason":null}]}\n\n`);
      }
      let last = `${chunkHead}{},"finish_reason":${JSON.stringify(finishReason)}}]`;
      if (parsed.includeUsage) last += `,"usage":${JSON.stringify(finalUsage)}`;
      if (charge) last += `,"claw_receipt":${JSON.stringify(charge.receipt)},"claw_billing":${JSON.stringify({ ...billing, stop_reason: stopReason ?? null })}`;
      res.end(`data: ${last}}\n\ndata: [DONE]\n\n`);
      return;
    }
    const headers = charge ? receiptHeader(charge.receipt) : {};
    if (format === "inference") {
      sendJson(res, 200, { id, model, output: text, finish_reason: finishReason, usage: finalUsage, ...(charge ? { claw_receipt: charge.receipt, claw_billing: { ...billing, stop_reason: stopReason ?? null } } : {}) }, headers);
    } else {
      sendJson(
        res,
        200,
        {
          id,
          object: "chat.completion",
          created,
          model,
          choices: [{ index: 0, message: { role: "assistant", content: text }, finish_reason: finishReason }],
          usage: finalUsage,
          ...(charge ? { claw_receipt: charge.receipt, claw_billing: { ...billing, stop_reason: stopReason ?? null } } : {}),
        },
        headers,
      );
    }
  };

  // ------------------------------------------------------------------------------------------ routes

  const paidInference = async (req: IncomingMessage, res: ServerResponse, format: "chat" | "inference", reqLog: Logger) => {
    if (deps.state() !== "ready") throw new HttpError(503, deps.state() === "draining" ? "shutting_down" : "starting", deps.state() === "draining" ? "The provider is shutting down; try another provider." : "The provider is starting; retry in a moment.");
    const body = await readBody(req);
    const json = parseJson(body);
    const parsed = format === "chat" ? parseChat(json) : parseInference(json);
    if (active >= config.maxConcurrent) throw new HttpError(503, "overloaded", `The provider is serving ${config.maxConcurrent} requests (its limit); retry shortly.`);
    const passed = await pass(req, body, true);
    const streamLog = passed ? reqLog.child({ streamId: passed.proof.streamId.toString(), signer: passed.signer }) : reqLog;
    active++;
    metrics.inflight.set(active);
    try {
      await generate(res, parsed, passed?.job, streamLog, format);
    } catch (error) {
      if (passed?.job && !passed.job.finished) deps.meter!.finish(passed.job, false); // never bill an internal error
      throw error;
    } finally {
      active--;
      metrics.inflight.set(active);
    }
  };

  const receipts = async (req: IncomingMessage, res: ServerResponse, final: boolean, reqLog: Logger) => {
    if (deps.state() === "starting") throw new HttpError(503, "starting", "The provider is starting; retry in a moment.");
    const body = await readBody(req);
    const passed = await pass(req, body, false);
    if (!passed) throw new HttpError(404, "not_found", "No receipts without the gate.");
    const meter = deps.meter!;
    const receipt = final ? await meter.finalize(passed.stream, config.drainTimeoutMs) : meter.receipt(passed.stream.id);
    if (final) reqLog.info({ streamId: receipt.streamId, amount: receipt.amount }, "final receipt issued");
    sendJson(res, 200, { receipt }, receiptHeader(receipt));
  };

  const route = async (req: IncomingMessage, res: ServerResponse, path: string, reqLog: Logger): Promise<void> => {
    const method = req.method ?? "GET";
    if (method === "OPTIONS") {
      res.writeHead(204, {
        "access-control-allow-methods": "GET, POST, OPTIONS",
        "access-control-allow-headers": ALLOWED_HEADERS,
        "access-control-max-age": "600",
      });
      res.end();
      return;
    }
    const only = (m: string) => {
      if (method !== m) throw new HttpError(405, "method_not_allowed", `${path} accepts ${m} only.`);
    };
    switch (path) {
      case "/v1/chat/completions":
        only("POST");
        await paidInference(req, res, "chat", reqLog);
        return;
      case "/inference":
        only("POST");
        await paidInference(req, res, "inference", reqLog);
        return;
      case "/v1/models":
        only("GET");
        sendJson(res, 200, { object: "list", data: [{ id: config.model, object: "model", created: 0, owned_by: "clawcompute-provider" }] });
        return;
      case "/v1/payment": {
        only("GET");
        const payment = deps.paymentInfo();
        if (!payment) throw new HttpError(503, "starting", "The provider is not registered yet; retry in a moment.");
        sendJson(res, 200, { payment });
        return;
      }
      case "/v1/receipts/latest":
        if (method !== "GET" && method !== "POST") only("GET");
        await receipts(req, res, false, reqLog);
        return;
      case "/v1/receipts/final":
        only("POST");
        await receipts(req, res, true, reqLog);
        return;
      case "/healthz": {
        const state = deps.state();
        sendJson(res, state === "ready" ? 200 : 503, { status: state === "ready" ? "ok" : state, ...deps.health() });
        return;
      }
      case "/metrics": {
        const text = await metrics.registry.metrics();
        res.writeHead(200, { "content-type": metrics.registry.contentType });
        res.end(text);
        return;
      }
      default:
        throw new HttpError(404, "not_found", `No route ${method} ${path}. Routes: POST /v1/chat/completions, POST /inference, GET /v1/models, GET /v1/payment, GET /v1/receipts/latest, POST /v1/receipts/final, GET /healthz, GET /metrics.`);
    }
  };

  return (req, res) => {
    const started = performance.now();
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const path = q >= 0 ? url.slice(0, q) : url;
    const requestId = `${idPrefix}-${(++seq).toString(36)}`;
    const reqLog = log.child({ reqId: requestId });
    res.setHeader("x-request-id", requestId);
    cors(res);
    const routeName = ROUTE_NAMES[path] ?? "other";
    route(req, res, path, reqLog)
      .catch((error: unknown) => {
        if (error instanceof GateError) {
          // A refusal to a request that proved it speaks for its stream still carries the latest receipt.
          const meter = deps.meter;
          const receipt = error.streamId !== undefined && meter ? receiptHeader(meter.receipt(error.streamId)) : {};
          const headers = { ...error.headers, ...receipt };
          sendError(res, error.status, error.code, error.message, error.details, false, headers);
          reqLog.info({ status: error.status, code: error.code }, "refused");
        } else if (error instanceof HttpError) {
          sendError(res, error.status, error.code, error.message, undefined, error.status === 413);
          if (error.status === 413) req.resume();
          reqLog.info({ status: error.status, code: error.code }, "refused");
        } else {
          reqLog.error({ err: error instanceof Error ? { message: error.message, stack: error.stack } : String(error) }, "internal error");
          sendError(res, 500, "internal_error", "Internal error; nothing was charged.");
        }
      })
      .finally(() => {
        metrics.requests.inc({ route: routeName, status: String(res.statusCode) });
        metrics.duration.observe({ route: routeName }, (performance.now() - started) / 1000);
      });
  };
}
