/**
 * `openai`: any server speaking the OpenAI chat-completions protocol — Ollama (…:11434/v1), vLLM,
 * llama.cpp's server, LM Studio, Groq, OpenAI — with an optional API key. Always streams from the
 * backend (so the agent can meter and stop generation), whatever the client asked for.
 */
import { type BackendEvent, BackendError, type ChatRequest, type InferenceBackend, type Usage } from "./types.ts";

export type OpenAIBackendOptions = {
  /** Base URL including the version path, e.g. http://127.0.0.1:11434/v1. */
  baseUrl: string;
  apiKey?: string;
  /** Longest wait for the response headers or the next chunk (ms). */
  timeoutMs: number;
};

export class OpenAIBackend implements InferenceBackend {
  readonly name = "openai";
  constructor(private readonly options: OpenAIBackendOptions) {}

  private headers(): Record<string, string> {
    const h: Record<string, string> = { "content-type": "application/json", accept: "text/event-stream" };
    if (this.options.apiKey) h.authorization = `Bearer ${this.options.apiKey}`;
    return h;
  }

  async *stream(request: ChatRequest, signal: AbortSignal): AsyncIterable<BackendEvent> {
    const idle = new AbortController();
    let idleTimer: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(idleTimer);
      idleTimer = setTimeout(() => idle.abort(new BackendError(`backend sent nothing for ${this.options.timeoutMs} ms`)), this.options.timeoutMs);
    };
    const combined = AbortSignal.any([signal, idle.signal]);
    const body: Record<string, unknown> = { ...request.params, model: request.model, messages: request.messages, stream: true };
    if (request.maxTokens !== undefined) body.max_tokens = request.maxTokens;
    arm();
    let response: Response;
    try {
      response = await fetch(`${this.options.baseUrl}/chat/completions`, { method: "POST", headers: this.headers(), body: JSON.stringify(body), signal: combined });
    } catch (error) {
      clearTimeout(idleTimer);
      if (signal.aborted) return;
      throw new BackendError(`backend unreachable at ${this.options.baseUrl}: ${idle.signal.aborted ? String(idle.signal.reason?.message) : (error as Error).message}`);
    }
    if (!response.ok || !response.body) {
      clearTimeout(idleTimer);
      const text = await response.text().catch(() => "");
      throw new BackendError(`backend answered HTTP ${response.status}: ${text.slice(0, 300)}`, response.status);
    }
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    let finishReason: string | undefined;
    let usage: Usage | undefined;
    let sawDone = false;
    try {
      for (;;) {
        arm();
        let chunk: ReadableStreamReadResult<string>;
        try {
          chunk = await reader.read();
        } catch (error) {
          if (signal.aborted) return;
          throw new BackendError(`backend stream broke: ${idle.signal.aborted ? String(idle.signal.reason?.message) : (error as Error).message}`);
        }
        if (chunk.done) break;
        buffer += chunk.value;
        let sep: number;
        while ((sep = buffer.search(/\r?\n\r?\n/)) >= 0) {
          const event = buffer.slice(0, sep);
          buffer = buffer.slice(sep + (buffer[sep] === "\r" ? 4 : 2));
          const data = event
            .split(/\r?\n/)
            .filter((l) => l.startsWith("data:"))
            .map((l) => l.slice(5).replace(/^ /, ""))
            .join("\n");
          if (!data) continue;
          if (data === "[DONE]") {
            sawDone = true;
            break;
          }
          let json: { choices?: Array<{ delta?: { content?: string | null }; finish_reason?: string | null }>; usage?: Usage; error?: { message?: string } };
          try {
            json = JSON.parse(data);
          } catch {
            throw new BackendError(`backend sent malformed data: ${data.slice(0, 120)}`);
          }
          if (json.error) throw new BackendError(`backend error: ${json.error.message ?? JSON.stringify(json.error).slice(0, 200)}`);
          if (json.usage) usage = json.usage;
          const choice = json.choices?.[0];
          const content = choice?.delta?.content;
          if (content) yield { type: "delta", content };
          if (choice?.finish_reason) finishReason = choice.finish_reason;
        }
        if (sawDone) break;
      }
    } finally {
      clearTimeout(idleTimer);
      reader.cancel().catch(() => {});
    }
    if (signal.aborted) return;
    if (!finishReason && !sawDone) throw new BackendError("backend stream ended before the answer was complete");
    yield { type: "done", finishReason: finishReason ?? "stop", usage };
  }

  async check() {
    try {
      const response = await fetch(`${this.options.baseUrl}/models`, { headers: this.headers(), signal: AbortSignal.timeout(5000) });
      return response.ok ? { ok: true } : { ok: false, detail: `GET /models answered ${response.status}` };
    } catch (error) {
      return { ok: false, detail: `unreachable: ${(error as Error).message}` };
    }
  }
}
