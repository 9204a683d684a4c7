/**
 * The provider agent as a long-running service: `init()` once (listen, register or reuse the
 * registration, open the state, rebuild the stream cache from logs, answer cancels sent while it was
 * down), `tick()` on a schedule (payouts past the threshold), a check every second for cancels to answer
 * and session keys about to expire, and `stop()` that drains in-flight requests, withdraws and saves.
 */
import { type Server, createServer } from "node:http";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { type Address, type Hex, zeroAddress } from "viem";
import pino, { type Logger } from "pino";
import { type Deployment, PAYMENT_HEADERS, type PaymentRequiredBody, computeRegistryAbi, streamPayAbi } from "@clawcompute/sdk";
import { loadDeployment } from "@clawcompute/sdk/node";
import { type InferenceBackend, createBackend } from "./backends/index.ts";
import { Meter } from "./billing.ts";
import { type Clients, type Registration, StreamCache, ensureRegistration, makeClients, resolveAsset } from "./chain.ts";
import type { LoadedConfig, ProviderConfig } from "./config.ts";
import { type GateTerms, PaymentGate } from "./gate.ts";
import { type ProviderKey, loadKey } from "./keys.ts";
import { type Metrics, createMetrics } from "./metrics.ts";
import { Payouts } from "./payouts.ts";
import { type ApiDeps, type ServerState, createApi } from "./server.ts";
import { PaymentSigner } from "./signatures.ts";
import { StateStore } from "./state.ts";

export function createLogger(level: ProviderConfig["logLevel"]): Logger {
  return pino({
    level,
    base: { service: "provider-agent", pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Belt and braces: nothing should ever log these, but if it did they would not reach the output.
    redact: {
      paths: ["privateKey", "*.privateKey", "secrets", "*.secrets", "password", "*.password", "apiKey", "*.apiKey", "openaiApiKey", "*.openaiApiKey", "headers.authorization"],
      censor: "[redacted]",
    },
  });
}

export class ProviderAgent {
  readonly config: ProviderConfig;
  readonly log: Logger;
  readonly metrics: Metrics;
  private readonly loaded: LoadedConfig;
  private state: ServerState = "starting";
  private server: Server | undefined;
  private key: ProviderKey | undefined;
  private deployment: Deployment | undefined;
  private clients: Clients | undefined;
  private backend: InferenceBackend | undefined;
  private store: StateStore | undefined;
  private cache: StreamCache | undefined;
  private meter: Meter | undefined;
  private payouts: Payouts | undefined;
  private registration: Registration | undefined;
  private terms: GateTerms | undefined;
  private tickTimer: NodeJS.Timeout | undefined;
  private urgentTimer: NodeJS.Timeout | undefined;
  private stopping: Promise<void> | undefined;
  private deps: ApiDeps | undefined;

  constructor(loaded: LoadedConfig, options: { log?: Logger } = {}) {
    this.loaded = loaded;
    this.config = loaded.config;
    this.log = options.log ?? createLogger(loaded.config.logLevel);
    this.metrics = createMetrics();
  }

  /** The URL the server listens on (after init). */
  get url(): string {
    const address = this.server?.address() as AddressInfo | null;
    const host = this.config.host === "0.0.0.0" || this.config.host === "::" ? "127.0.0.1" : this.config.host;
    return `http://${host.includes(":") ? `[${host}]` : host}:${address?.port ?? this.config.port}`;
  }

  get providerId(): bigint | undefined {
    return this.registration?.providerId;
  }

  async init(): Promise<void> {
    const { config, log } = this;
    for (const warning of this.loaded.warnings) log.warn(warning);
    if (this.loaded.envFile) log.info({ envFile: this.loaded.envFile }, "read env file");

    this.deployment = loadDeployment(config.chainId, config.deploymentsDir);
    this.key = loadKey(config, this.loaded.secrets);
    this.clients = makeClients(config.chainId, config.rpcUrl, this.key.account);
    const rpcChainId = await this.clients.public.getChainId().catch((error: Error) => {
      throw new Error(`cannot reach the chain at PROVIDER_RPC_URL=${config.rpcUrl}: ${error.message.split("\n")[0]}`);
    });
    if (rpcChainId !== config.chainId) throw new Error(`PROVIDER_RPC_URL=${config.rpcUrl} serves chain ${rpcChainId}, but PROVIDER_CHAIN_ID is ${config.chainId}.`);
    const asset = resolveAsset(config.asset, this.deployment, "PROVIDER_ASSET");
    const streamPay = this.deployment.contracts.StreamPay.address;
    const registry = this.deployment.contracts.ComputeRegistry.address;
    log.info({ wallet: this.key.account.address, chainId: config.chainId, streamPay, registry, model: config.model, asset }, "starting provider agent");

    this.backend = createBackend(config, this.loaded.secrets);
    const backendHealth = await this.backend.check();
    if (!backendHealth.ok) log.warn({ backend: this.backend.name, detail: backendHealth.detail }, "the inference backend does not answer yet; requests will get 502 until it does");

    // Listen first (answering 503 "starting"), so the registered endpoint can carry the real port.
    this.deps = {
      config,
      backendModel: config.backendModel ?? config.model,
      backend: this.backend,
      gate: undefined,
      meter: undefined,
      metrics: this.metrics,
      log,
      state: () => this.state,
      paymentInfo: () => this.paymentInfo(),
      health: () => this.health(),
    };
    this.server = createServer({ keepAliveTimeout: 65_000, requestTimeout: 0 }, createApi(this.deps));
    await new Promise<void>((resolve, reject) => {
      this.server!.once("error", reject);
      this.server!.listen(config.port, config.host, () => resolve());
    });
    log.info({ url: this.url }, "listening");

    const endpoint = config.publicUrl ?? this.url;
    this.registration = await ensureRegistration({
      clients: this.clients,
      registry,
      model: config.model,
      pricePerSecond: config.pricePerSecond,
      endpoint,
      serviceType: config.serviceType,
      asset,
      stake: config.stake,
      log,
    });
    const providerId = this.registration.providerId;
    log.info({ providerId: providerId.toString(), action: this.registration.action, endpoint, pricePerSecond: config.pricePerSecond.toString() }, `provider ${this.registration.action}`);
    this.terms = { providerId, wallet: this.key.account.address, asset, pricePerSecond: config.pricePerSecond };

    this.store = new StateStore({ dir: join(config.dataDir, `${config.chainId}-${streamPay.toLowerCase()}-${providerId}`) });
    this.store.open();

    const payment = new PaymentSigner({ chainId: config.chainId, streamPay });
    this.cache = new StreamCache({
      client: this.clients.public,
      streamPay,
      registry,
      fromBlock: BigInt(Math.min(this.deployment.contracts.StreamPay.blockNumber, this.deployment.contracts.ComputeRegistry.blockNumber)),
      providerId,
      pollIntervalMs: config.pollIntervalMs,
      blockRange: config.logBlockRange,
      log: log.child({ component: "chain" }),
      onTermsChanged: (t) => {
        if (this.terms && t.pricePerSecond !== this.terms.pricePerSecond) {
          log.info({ from: this.terms.pricePerSecond.toString(), to: t.pricePerSecond.toString() }, "price changed on-chain");
          this.terms.pricePerSecond = t.pricePerSecond;
        }
      },
      onStreamEvent: (s, event) => {
        if (s.providerId !== providerId || !this.meter) return;
        // A stream that stopped streaming (closed, or cancelled by its sender) is served no more.
        if (event === "closed" || event === "cancelling") this.meter.stopStream(s.id.toString(), "stream_closed");
        if (event === "cancelling") {
          const at = { streamId: s.id.toString(), challengeEndsAt: s.challengeEndsAt.toString() };
          log.info(at, "the sender cancelled a stream");
          this.urgentPayouts();
        }
      },
    });
    this.meter = new Meter({
      store: this.store,
      cache: this.cache,
      payment,
      signer: this.key.signer,
      onCharge: (_id, amount, ms) => {
        this.metrics.charged.inc(Number(amount));
        this.metrics.served.inc(ms / 1000);
      },
    });
    const publicClient = this.clients.public;
    const gate = new PaymentGate({
      cache: this.cache,
      store: this.store,
      meter: this.meter,
      payment,
      terms: () => this.terms!,
      maxExpirySeconds: config.maxExpirySeconds,
      minRunwayMs: config.minRunwayMs,
      minDepositSeconds: config.minDepositSeconds,
      maxConcurrentPerStream: config.maxConcurrentPerStream,
      maxRequestSeconds: config.maxRequestSeconds,
      verifyContractSignature: async (sender: Address, digest: Uint8Array, signature: Hex) => {
        const code = await publicClient.getCode({ address: sender });
        if (!code || code === "0x") return false;
        return publicClient.verifyHash({ address: sender, hash: `0x${Buffer.from(digest).toString("hex")}`, signature });
      },
    });
    await this.cache.start();
    log.info({ streams: this.cache.size, ours: this.cache.ours().length, syncedBlock: this.cache.syncedBlock.toString() }, "stream cache built from logs");

    this.payouts = new Payouts({
      clients: this.clients,
      streamPay,
      asset,
      payoutAddress: config.payoutAddress ?? this.key.account.address,
      threshold: config.withdrawThreshold ?? config.pricePerSecond * 3600n,
      // The gate accepts a signature-authorised key only while it outlives a request by this margin; the
      // vouchers it signed are withdrawn halfway through that margin, before StreamPay voids them.
      sessionLeadSeconds: Math.max(1, Math.floor(config.maxRequestSeconds / 2)),
      store: this.store,
      cache: this.cache,
      log: log.child({ component: "payouts" }),
      metrics: this.metrics,
    });

    this.deps.gate = gate;
    this.deps.meter = this.meter;
    this.state = "ready";
    log.info({ url: this.url, providerId: providerId.toString(), model: config.model, backend: this.backend.name }, "provider online");
    // Cancels sent while the agent was down are in the cache now: answer those whose window is still open.
    this.urgentPayouts();
    this.urgentTimer = setInterval(() => this.urgentPayouts(), 1000);
    this.scheduleTick();
  }

  /** Answers cancels and withdraws before session keys expire, when any calls for it (never throws). */
  private urgentPayouts(): void {
    this.payouts?.urgent()?.catch((error: Error) => {
      this.log.error({ err: error.message }, "urgent payout failed; retrying in a second");
    });
  }

  private scheduleTick(): void {
    this.tickTimer = setTimeout(async () => {
      await this.tick();
      if (this.state === "ready") this.scheduleTick();
    }, this.config.payoutIntervalMs);
  }

  /** One scheduled round: payouts past the threshold, nonce pruning, gauges. Never throws. */
  async tick(): Promise<void> {
    try {
      this.store?.pruneNonces(Math.floor(Date.now() / 1000));
      this.updateGauges();
      await this.payouts?.run("tick");
    } catch (error) {
      this.log.error({ err: (error as Error).message }, "payout round failed; will retry");
    }
  }

  private updateGauges(): void {
    if (!this.cache) return;
    this.metrics.streams.set(this.cache.size);
    this.metrics.syncedBlock.set(Number(this.cache.syncedBlock));
    this.metrics.syncErrors.set(this.cache.syncErrors);
  }

  paymentInfo(): PaymentRequiredBody["payment"] | undefined {
    if (!this.terms || !this.deployment) return undefined;
    return {
      chainId: this.config.chainId,
      streamPay: this.deployment.contracts.StreamPay.address,
      providerId: this.terms.providerId.toString(),
      recipient: this.terms.wallet,
      asset: this.terms.asset,
      pricePerSecond: this.terms.pricePerSecond.toString(),
      minDeposit: (this.terms.pricePerSecond * BigInt(this.config.minDepositSeconds)).toString(),
      headers: PAYMENT_HEADERS,
    };
  }

  health(): Record<string, unknown> {
    this.updateGauges();
    return {
      providerId: this.terms?.providerId.toString() ?? null,
      wallet: this.key?.account.address ?? null,
      model: this.config.model,
      chainId: this.config.chainId,
      backend: this.backend?.name ?? null,
      pricePerSecond: this.terms?.pricePerSecond.toString() ?? null,
      asset: this.terms?.asset ?? null,
      syncedBlock: this.cache ? this.cache.syncedBlock.toString() : null,
      headBlock: this.cache ? this.cache.headBlock.toString() : null,
      lastSyncAgeMs: this.cache?.lastSyncAt ? Date.now() - this.cache.lastSyncAt : null,
      streams: this.cache?.ours().length ?? 0,
      inflight: this.meter?.inflight ?? 0,
    };
  }

  /** Runs a payout round now (force = ignore the threshold, as on shutdown). */
  payoutNow(force: boolean) {
    if (!this.payouts) throw new Error("not initialised");
    return this.payouts.run(force ? "shutdown" : "tick");
  }

  /**
   * Graceful stop: refuse new paid requests, let in-flight ones finish (up to the drain timeout, then cut
   * and bill what was served), answer cancels and withdraw if configured, save the state. Idempotent.
   */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    const { log } = this;
    const wasReady = this.state === "ready";
    this.state = "draining";
    clearTimeout(this.tickTimer);
    clearInterval(this.urgentTimer);
    log.info({ inflight: this.meter?.inflight ?? 0 }, "shutting down: draining in-flight requests");
    const closed = this.server ? new Promise<void>((resolve) => this.server!.close(() => resolve())) : Promise.resolve();
    this.server?.closeIdleConnections();
    await this.meter?.drain(this.config.drainTimeoutMs);
    if (this.cache) {
      await this.cache.sync().catch(() => {});
      this.cache.stop();
    }
    if (wasReady && this.config.withdrawOnShutdown && this.payouts) {
      try {
        const result = await this.payouts.run("shutdown");
        const withdrawn = result.withdrawn?.amount.toString() ?? "0";
        log.info({ streams: result.streams.length, withdrawn }, "shutdown payout done");
      } catch (error) {
        log.error({ err: (error as Error).message }, "shutdown payout failed; it will be retried at the next start");
      }
    }
    this.store?.close();
    this.server?.closeAllConnections();
    await closed;
    log.info("stopped");
  }
}

/** `--check`: validates config, key, chain and deployment; reports registration and balance; sends nothing. */
export async function checkSetup(loaded: LoadedConfig): Promise<Record<string, unknown>> {
  const { config } = loaded;
  const deployment = loadDeployment(config.chainId, config.deploymentsDir);
  const key = loadKey(config, loaded.secrets);
  const clients = makeClients(config.chainId, config.rpcUrl, key.account);
  const rpcChainId = await clients.public.getChainId().catch((error: Error) => {
    throw new Error(`cannot reach the chain at PROVIDER_RPC_URL=${config.rpcUrl}: ${error.message.split("\n")[0]}`);
  });
  if (rpcChainId !== config.chainId) throw new Error(`PROVIDER_RPC_URL serves chain ${rpcChainId}, not ${config.chainId}`);
  const asset = resolveAsset(config.asset, deployment, "PROVIDER_ASSET");
  const registry = deployment.contracts.ComputeRegistry.address;
  const providerId = await clients.public.readContract({ address: registry, abi: computeRegistryAbi, functionName: "providerIdOf", args: [key.account.address, config.model] });
  const [gas, balance, backend] = await Promise.all([
    clients.public.getBalance({ address: key.account.address }),
    clients.public.readContract({ address: deployment.contracts.StreamPay.address, abi: streamPayAbi, functionName: "balanceOf", args: [key.account.address, asset] }),
    createBackend(config, loaded.secrets).check(),
  ]);
  return {
    ok: backend.ok && gas > 0n,
    wallet: key.account.address,
    chainId: config.chainId,
    streamPay: deployment.contracts.StreamPay.address,
    registry,
    model: config.model,
    asset: asset === zeroAddress ? "native" : asset,
    registered: providerId !== 0n,
    providerId: providerId.toString(),
    walletGasBalance: gas.toString(),
    claimableBalance: balance.toString(),
    backend: { name: config.backend, ...backend },
    warnings: loaded.warnings,
  };
}
