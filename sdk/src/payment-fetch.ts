/**
 * A `fetch` that signs every request it sends with the payment headers of the protocol (protocol.ts), so
 * any HTTP client that accepts a custom fetch — the official `openai` package, for one — pays per
 * request without knowing about streams:
 *
 *   const client = new OpenAI({
 *     baseURL: `${provider}/v1`, apiKey: "unused",
 *     fetch: paymentFetch({ signer, domain, streamId, cumulative: () => accepted }),
 *   });
 *
 * Every request carries a spend voucher for `cumulative`: what the caller has accepted to pay so far (the
 * amount of the last receipt it checked). Keeping it current is the caller's job; a provider refuses
 * requests whose voucher lags what it billed by more than the credit it extends.
 * The signature covers the exact body bytes, so the body must be a string or bytes (what such clients
 * send); a GET is signed over the empty body.
 */
import type { PaymentDomainParameters } from "./eip712.ts";
import { type SessionAuthorization, createPaymentHeaders } from "./protocol.ts";

export type PaymentFetchParameters = {
  /** The stream's sender, or the session key when `session` is given. */
  signer: Parameters<typeof createPaymentHeaders>[0]["signer"];
  domain: PaymentDomainParameters;
  streamId: bigint;
  session?: SessionAuthorization;
  /** The voucher each request carries, or a function read before each request. */
  cumulative: bigint | (() => bigint);
  /** The fetch to wrap (default: the global one). */
  fetch?: typeof fetch;
};

export function paymentFetch(p: PaymentFetchParameters): typeof fetch {
  const inner = p.fetch ?? fetch;
  return async (input, init) => {
    const raw = init?.body;
    let body: string | Uint8Array;
    if (raw === undefined || raw === null) body = "";
    else if (typeof raw === "string") body = raw;
    else if (raw instanceof Uint8Array) body = raw;
    else if (raw instanceof ArrayBuffer) body = new Uint8Array(raw);
    else throw new TypeError("paymentFetch signs string or byte bodies only (streams and forms cannot be hashed before sending)");
    const headers = new Headers(init?.headers);
    for (const [name, value] of Object.entries(await createPaymentHeaders({
      signer: p.signer,
      domain: p.domain,
      streamId: p.streamId,
      cumulative: typeof p.cumulative === "function" ? p.cumulative() : p.cumulative,
      body,
      session: p.session,
    }))) {
      headers.set(name, value);
    }
    return inner(input, { ...init, headers });
  };
}
