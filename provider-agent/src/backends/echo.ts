/**
 * `echo`: a GPU-free simulator that streams a deterministic answer at a configurable token rate, so the
 * whole marketplace runs on a fresh machine. The answer depends only on the last user message.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { type BackendEvent, type ChatRequest, type InferenceBackend, contentText } from "./types.ts";

export type EchoBackendOptions = {
  /** Tokens per second; 0 = no delay at all. */
  tokensPerSecond: number;
  /** Longest answer (tokens). */
  maxTokens: number;
};

/** Splits text into "tokens": words with their trailing whitespace. */
export function echoTokens(text: string): string[] {
  return text.match(/\S+\s*/g) ?? [];
}

export function echoAnswer(request: Pick<ChatRequest, "messages">): string {
  const lastUser = [...request.messages].reverse().find((m) => m.role === "user");
  const prompt = contentText(lastUser?.content ?? "").trim().replace(/\s+/g, " ");
  return `Echo: ${prompt || "(empty prompt)"} — answered by the ClawCompute echo backend, one token at a time, billed by the millisecond.`;
}

export class EchoBackend implements InferenceBackend {
  readonly name = "echo";
  constructor(private readonly options: EchoBackendOptions) {}

  async *stream(request: ChatRequest, signal: AbortSignal): AsyncIterable<BackendEvent> {
    const all = echoTokens(echoAnswer(request));
    const limit = Math.min(this.options.maxTokens, request.maxTokens ?? Number.MAX_SAFE_INTEGER);
    const tokens = all.slice(0, Math.max(0, limit));
    const promptTokens = request.messages.reduce((n, m) => n + echoTokens(contentText(m.content)).length, 0);
    const interval = this.options.tokensPerSecond > 0 ? 1000 / this.options.tokensPerSecond : 0;
    const started = performance.now();
    for (let i = 0; i < tokens.length; i++) {
      if (signal.aborted) return;
      if (interval > 0) {
        const wait = started + i * interval - performance.now();
        if (wait > 0) {
          try {
            await sleep(wait, undefined, { signal });
          } catch {
            return; // aborted
          }
        }
      }
      yield { type: "delta", content: tokens[i] };
    }
    if (signal.aborted) return;
    yield {
      type: "done",
      finishReason: tokens.length < all.length ? "length" : "stop",
      usage: { prompt_tokens: promptTokens, completion_tokens: tokens.length, total_tokens: promptTokens + tokens.length },
    };
  }

  async check() {
    return { ok: true };
  }
}
