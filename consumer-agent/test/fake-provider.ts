/**
 * A provider from the outside world that the consumer must not trust: an HTTP server that speaks the
 * paid-inference protocol (healthz, payment terms, SSE chat with receipts, final receipt) but misbehaves
 * on purpose — it fails every request, or signs inflated or forged receipts. Like a real provider it keeps
 * the best voucher each stream's requests carried, and `answerCancels` makes it claim that voucher when the
 * consumer cancels.
 */
import { type Server, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { type Address, type PrivateKeyAccount, createPublicClient, createWalletClient, http } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import {
  type PaymentDomainParameters,
  type SignedVoucher,
  StreamStatusCode,
  chargeForMs,
  hashBody,
  localChain,
  readPaymentHeaders,
  signReceipt,
  streamPayAbi,
  toWireReceipt,
  voucherArgs,
  voucherOfProof,
} from "@clawcompute/sdk";

export type FakeMode = "broken" | "hang" | "inflate-final" | "inflate-cumulative" | "forged";

export type FakeProvider = {
  url: string;
  server: Server;
  setRegistration: (providerId: bigint) => void;
  /** The best voucher received per stream id. */
  vouchers: Map<string, SignedVoucher>;
  /** From now on, answer every cancel of a stream it holds a voucher for (polling the chain at `rpcUrl`). */
  answerCancels: (rpcUrl: string) => void;
  close: () => Promise<void>;
};

export async function startFakeProvider(p: { mode: FakeMode; account: PrivateKeyAccount; pricePerSecond: bigint; domain: PaymentDomainParameters; inflate?: bigint; tokens?: number; tokenMs?: number }): Promise<FakeProvider> {
  let providerId = 0n;
  const charged = new Map<string, bigint>();
  const vouchers = new Map<string, SignedVoucher>();
  let answering: NodeJS.Timeout | undefined;
  const inflate = p.inflate ?? 10n;
  const forger = privateKeyToAccount(generatePrivateKey());
  const sign = (streamId: bigint, amount: bigint, final: boolean) =>
    signReceipt(p.mode === "forged" ? forger : p.account, p.domain, { streamId, amount, final }).then((signature) => toWireReceipt({ streamId, amount, final, signature }));
  const server = createServer(async (req, res) => {
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    let body = "";
    for await (const chunk of req) body += chunk;
    const streamId = BigInt((req.headers["x-claw-stream-id"] as string | undefined) ?? "0");
    const proof = (() => {
      try {
        return readPaymentHeaders((name) => req.headers[name] as string | undefined);
      } catch {
        return undefined;
      }
    })();
    if (proof && proof.cumulative > (vouchers.get(streamId.toString())?.cumulative ?? -1n)) {
      vouchers.set(streamId.toString(), voucherOfProof(proof, hashBody(body)));
    }
    switch (req.url) {
      case "/healthz":
        return json(200, { status: "ok", providerId: providerId.toString() });
      case "/v1/payment":
        return json(200, { payment: { chainId: p.domain.chainId, streamPay: p.domain.streamPay, providerId: providerId.toString(), recipient: p.account.address as Address, asset: "0x0000000000000000000000000000000000000000", pricePerSecond: p.pricePerSecond.toString(), minDeposit: (p.pricePerSecond * 10n).toString(), headers: {} } });
      case "/v1/chat/completions": {
        if (p.mode === "broken") return json(500, { error: { code: "internal_error", message: "something broke" } });
        if (p.mode === "hang") return; // never answers
        const started = performance.now();
        res.writeHead(200, { "content-type": "text/event-stream" });
        const n = p.tokens ?? 5;
        for (let i = 0; i < n; i++) {
          res.write(`data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: `tok${i} ` }, finish_reason: null }] })}\n\n`);
          await new Promise((r) => setTimeout(r, p.tokenMs ?? 20));
        }
        const honest = chargeForMs(p.pricePerSecond, performance.now() - started);
        const cumulative = (charged.get(streamId.toString()) ?? 0n) + honest;
        charged.set(streamId.toString(), cumulative);
        const amount = p.mode === "inflate-cumulative" ? cumulative * inflate : cumulative;
        const receipt = await sign(streamId, amount, false);
        res.end(`data: ${JSON.stringify({ choices: [{ index: 0, delta: {}, finish_reason: "stop" }], claw_receipt: receipt })}\n\ndata: [DONE]\n\n`);
        return;
      }
      case "/v1/receipts/final": {
        const cumulative = charged.get(streamId.toString()) ?? 0n;
        const amount = p.mode === "inflate-final" || p.mode === "inflate-cumulative" ? cumulative * inflate : cumulative;
        return json(200, { receipt: await sign(streamId, amount, true) });
      }
      default:
        void body;
        return json(404, { error: { code: "not_found", message: "no route" } });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    server,
    setRegistration: (id) => {
      providerId = id;
    },
    vouchers,
    answerCancels: (rpcUrl) => {
      const chain = { ...localChain, rpcUrls: { default: { http: [rpcUrl] } } };
      const pub = createPublicClient({ chain, transport: http(rpcUrl) });
      const wallet = createWalletClient({ chain, transport: http(rpcUrl), account: p.account });
      const answered = new Set<string>();
      const tick = async () => {
        for (const [id, voucher] of vouchers) {
          if (answered.has(id) || voucher.cumulative === 0n) continue;
          const view = await pub.readContract({ address: p.domain.streamPay, abi: streamPayAbi, functionName: "getStreamView", args: [BigInt(id)] });
          if (view.status !== StreamStatusCode.Cancelling) continue;
          answered.add(id);
          const hash = await wallet.writeContract({ address: p.domain.streamPay, abi: streamPayAbi, functionName: "closeByRecipient", args: [BigInt(id), voucherArgs(voucher)] });
          await pub.waitForTransactionReceipt({ hash });
        }
      };
      answering = setInterval(() => void tick().catch(() => undefined), 100);
    },
    close: () => new Promise<void>((resolve) => {
      clearInterval(answering);
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
