/**
 * The inference backend plug-in point. A backend turns a chat request into a stream of text deltas;
 * the agent around it does the payment gate, metering, receipts and the OpenAI wire format.
 */

export type ChatContentPart = { type: string; text?: string; [k: string]: unknown };
export type ChatMessage = { role: string; content: string | ChatContentPart[] | null; name?: string; [k: string]: unknown };

export type ChatRequest = {
  /** The model name the backend knows. */
  model: string;
  messages: ChatMessage[];
  /** Most tokens to generate, when the client set one. */
  maxTokens?: number;
  /** Other OpenAI sampling parameters passed through as given (temperature, top_p, stop, seed, …). */
  params: Record<string, unknown>;
};

export type Usage = { prompt_tokens: number; completion_tokens: number; total_tokens: number };

export type BackendEvent =
  | { type: "delta"; content: string }
  | { type: "done"; finishReason: "stop" | "length" | string; usage?: Usage };

export interface InferenceBackend {
  readonly name: string;
  /**
   * Streams the answer: `delta` events, then exactly one `done`. Aborting `signal` stops generation (the
   * iterator then returns without `done`). Any failure throws {@link BackendError}.
   */
  stream(request: ChatRequest, signal: AbortSignal): AsyncIterable<BackendEvent>;
  /** Whether the backend answers (for /healthz and start-up). */
  check(): Promise<{ ok: boolean; detail?: string }>;
}

export class BackendError extends Error {
  constructor(message: string, readonly status?: number) {
    super(message);
  }
}

/** The text of a message's content (string, or the text parts of a content array). */
export function contentText(content: ChatMessage["content"]): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.map((p) => (typeof p?.text === "string" ? p.text : "")).join("");
  return "";
}
