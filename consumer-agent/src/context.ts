/** What every part of the consumer shares: clients, the deployment, the key's account, settings, log. */
import type { Address, LocalAccount } from "viem";
import type { Logger } from "pino";
import type { Deployment, PaymentDomainParameters } from "@clawcompute/sdk";
import type { AssetInfo, Clients } from "./chain.ts";
import type { StreamJournal } from "./journal.ts";
import type { ReceiptPolicy } from "./receipts.ts";

export type ConsumerSettings = {
  /** Model asked for when a call does not name one. */
  model: string;
  /** Budget of one ask or session, asset units. */
  budget: bigint;
  maxPricePerSecond: bigint | undefined;
  minRating: number;
  /** Serving time one answer is expected to take (s): sizes deposits and session top-ups. */
  expectedSeconds: number;
  maxTokens: number | undefined;
  requestTimeoutMs: number;
  healthTimeoutMs: number;
  indexerTimeoutMs: number;
  maxAttempts: number;
  receiptPolicy: ReceiptPolicy;
  closeWaitMs: number;
  /** After a cancel, how long to wait for the provider to answer it with its voucher (ms). */
  cancelAnswerWaitMs: number;
  sessionIdleSeconds: number;
  /** Score given to honest providers after each close (0 = none). */
  rateServed: number;
  /** Indexer base URL; undefined = registry only. */
  indexerUrl: string | undefined;
};

export const DEFAULT_SETTINGS: Omit<ConsumerSettings, "budget"> = {
  model: "echo-1",
  maxPricePerSecond: undefined,
  minRating: 0,
  expectedSeconds: 60,
  maxTokens: undefined,
  requestTimeoutMs: 30_000,
  healthTimeoutMs: 1500,
  indexerTimeoutMs: 3000,
  maxAttempts: 3,
  receiptPolicy: { toleranceBps: 100, slackMs: 50 },
  closeWaitMs: 15_000,
  cancelAnswerWaitMs: 10_000,
  sessionIdleSeconds: 120,
  rateServed: 0,
  indexerUrl: undefined,
};

export type ConsumerContext = {
  clients: Clients;
  account: LocalAccount;
  deployment: Deployment;
  streamPay: Address;
  registry: Address;
  domain: PaymentDomainParameters;
  asset: AssetInfo;
  settings: ConsumerSettings;
  /** StreamPay's deploy-time windows (seconds): closes after stopTime + grace are settled by time. */
  gracePeriod: bigint;
  /** Seconds the provider has to answer this consumer's cancel before the rest comes back. */
  challengeWindow: bigint;
  log: Logger;
  journal: StreamJournal;
  fetch: typeof fetch;
};
