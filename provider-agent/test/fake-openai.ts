/**
 * A small local server speaking the OpenAI chat-completions protocol (the outside world for the `openai`
 * backend). The last user message picks the behaviour: normal answer, "FAIL_NOW" (HTTP 500), or
 * "FAIL_MID" (two chunks, then the connection drops).
 */
import { type Server, createServer } from "node:http";
import type { AddressInfo } from "node:net";

export type FakeOpenAI = { url: string; requests: Array<{ headers: Record<string, unknown>; body: Record<string, unknown> }>; close: () => Promise<void> };

export async function startFakeOpenAI(options: { words?: string[]; delayMs?: number } = {}): Promise<FakeOpenAI> {
  const words = options.words ?? ["Hello", " from", " the", " fake", " backend", "."];
  const delay = options.delayMs ?? 5;
  const requests: FakeOpenAI["requests"] = [];
  const server: Server = createServer(async (req, res) => {
    if (req.method === "GET" && req.url === "/v1/models") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ object: "list", data: [{ id: "backend-model", object: "model" }] }));
      return;
    }
    if (req.method !== "POST" || req.url !== "/v1/chat/completions") {
      res.writeHead(404).end();
      return;
    }
    let raw = "";
    for await (const chunk of req) raw += chunk;
    const body = JSON.parse(raw) as { messages: Array<{ role: string; content: string }>; stream?: boolean; model: string };
    requests.push({ headers: req.headers, body });
    const prompt = body.messages.at(-1)?.content ?? "";
    if (prompt.includes("FAIL_NOW")) {
      res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { message: "model crashed" } }));
      return;
    }
    res.writeHead(200, { "content-type": "text/event-stream" });
    const chunk = (delta: Record<string, unknown>, finish: string | null) =>
      `data: ${JSON.stringify({ id: "x", object: "chat.completion.chunk", created: 1, model: body.model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
    res.write(chunk({ role: "assistant", content: "" }, null));
    for (const [i, w] of words.entries()) {
      await new Promise((r) => setTimeout(r, delay));
      if (prompt.includes("FAIL_MID") && i === 2) {
        res.socket?.destroy(); // the backend dies mid-answer
        return;
      }
      res.write(chunk({ content: w }, null));
    }
    res.write(chunk({}, "stop"));
    res.end("data: [DONE]\n\n");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
