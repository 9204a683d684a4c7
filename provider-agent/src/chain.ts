/**
 * Everything the agent reads from and writes to the chain: clients, the deployment, its registration
 * (register once, then reuse and update), and the event-driven stream cache that the payment gate reads
 * instead of calling the RPC per request.
 */
import { type Address, type Chain, type Log, type PublicClient, type Transport, parseEventLogs, zeroAddress } from "viem";
import type { Logger } from "pino";
import { type Clients, computeRegistryAbi, describeError, revertName, streamPayAbi } from "@clawcompute/sdk";

export { type Clients, describeError, makeClients, resolveAsset, revertName } from "@clawcompute/sdk";

// ------------------------------------------------------------------------------------------ registration

export type RegistrationParameters = {
  clients: Clients;
  registry: Address;
  model: string;
  pricePerSecond: bigint;
  endpoint: string;
  serviceType: string;
  asset: Address;
  stake?: bigint;
  log: Logger;
};

export type Registration = {
  providerId: bigint;
  wallet: Address;
  asset: Address;
  pricePerSecond: bigint;
  endpoint: string;
  action: "registered" | "updated" | "unchanged";
};

/**
 * Registers (wallet, model) once; on later starts reuses that provider and updates price, endpoint and
 * the active flag when they differ. Never creates a duplicate: the registry refuses one, and a race with
 * another start of the same wallet is resolved by reading the winner's id.
 */
export async function ensureRegistration(p: RegistrationParameters): Promise<Registration> {
  const { clients, registry, model, log } = p;
  const wallet = clients.wallet.account.address;
  const read = <T>(functionName: string, args: unknown[]) =>
    clients.public.readContract({ address: registry, abi: computeRegistryAbi, functionName: functionName as never, args: args as never }) as Promise<T>;

  let providerId = await read<bigint>("providerIdOf", [wallet, model]);
  if (providerId === 0n) {
    const minStake = await read<bigint>("minStake", []);
    const stake = p.stake ?? minStake;
    if (stake < minStake) throw new Error(`PROVIDER_STAKE=${stake} is below the registry's minimum stake ${minStake}.`);
    log.info({ model, pricePerSecond: p.pricePerSecond.toString(), endpoint: p.endpoint, asset: p.asset, stake: stake.toString() }, "registering provider");
    try {
      const { request } = await clients.public.simulateContract({
        account: clients.wallet.account,
        address: registry,
        abi: computeRegistryAbi,
        functionName: "registerProvider",
        args: [model, p.pricePerSecond, p.endpoint, p.serviceType, p.asset],
        value: stake,
      });
      const hash = await clients.wallet.writeContract(request);
      const receipt = await clients.public.waitForTransactionReceipt({ hash });
      if (receipt.status !== "success") throw new Error(`registerProvider transaction ${hash} reverted`);
    } catch (error) {
      // Another start of the same wallet may have won the race (AlreadyRegistered, or a nonce clash):
      // wait briefly for its registration to appear before giving up.
      let winner = 0n;
      for (let i = 0; i < 10 && winner === 0n; i++) {
        winner = await read<bigint>("providerIdOf", [wallet, model]);
        if (winner === 0n && revertName(error) !== "Registry_AlreadyRegistered") await new Promise((r) => setTimeout(r, 500));
      }
      if (winner === 0n) throw new Error(`registration failed: ${describeError(error)}`);
      log.info({ providerId: winner.toString() }, "registered concurrently by another start of this wallet; reusing it");
    }
    providerId = await read<bigint>("providerIdOf", [wallet, model]);
    if (providerId === 0n) throw new Error("registration transaction succeeded but providerIdOf is still 0");
    return { providerId, wallet, asset: p.asset, pricePerSecond: p.pricePerSecond, endpoint: p.endpoint, action: "registered" };
  }

  const current = await read<{ asset: Address; pricePerSecond: bigint; endpoint: string; active: boolean; stake: bigint }>("getProvider", [providerId]);
  if (current.asset.toLowerCase() !== p.asset.toLowerCase()) {
    throw new Error(
      `provider ${providerId} (${wallet}, model ${model}) is priced in ${current.asset}, not ${p.asset}: the asset is fixed at registration. Set PROVIDER_ASSET to ${current.asset === zeroAddress ? "native" : current.asset}, or serve another model name.`,
    );
  }
  if (current.pricePerSecond === p.pricePerSecond && current.endpoint === p.endpoint && current.active) {
    return { providerId, wallet, asset: p.asset, pricePerSecond: p.pricePerSecond, endpoint: p.endpoint, action: "unchanged" };
  }
  if (!current.active) {
    const minStake = await read<bigint>("minStake", []);
    if (current.stake < minStake) {
      log.info({ providerId: providerId.toString(), add: (minStake - current.stake).toString() }, "topping up stake to reactivate");
      const hash = await clients.wallet.writeContract({ address: registry, abi: computeRegistryAbi, functionName: "addStake", args: [providerId], value: minStake - current.stake });
      await clients.public.waitForTransactionReceipt({ hash });
    }
  }
  log.info(
    { providerId: providerId.toString(), from: { pricePerSecond: current.pricePerSecond.toString(), endpoint: current.endpoint, active: current.active }, to: { pricePerSecond: p.pricePerSecond.toString(), endpoint: p.endpoint, active: true } },
    "updating provider",
  );
  try {
    const { request } = await clients.public.simulateContract({
      account: clients.wallet.account,
      address: registry,
      abi: computeRegistryAbi,
      functionName: "updateProvider",
      args: [providerId, p.pricePerSecond, p.endpoint, true],
    });
    const hash = await clients.wallet.writeContract(request);
    const receipt = await clients.public.waitForTransactionReceipt({ hash });
    if (receipt.status !== "success") throw new Error(`updateProvider transaction ${hash} reverted`);
  } catch (error) {
    throw new Error(`updating provider ${providerId} failed: ${describeError(error)}`);
  }
  return { providerId, wallet, asset: p.asset, pricePerSecond: p.pricePerSecond, endpoint: p.endpoint, action: "updated" };
}

// ------------------------------------------------------------------------------------------ stream cache

/** On-chain status (StreamStatus): "cancelling" = the sender cancelled and the recipient may still answer. */
export type StreamStatusName = "open" | "settled" | "cancelled" | "closed" | "cancelling";
const STATUS_NAMES: Record<number, StreamStatusName> = {
  1: "open",
  2: "settled",
  3: "cancelled",
  4: "closed",
  5: "cancelling",
};

export type CachedStream = {
  id: bigint;
  sender: Address;
  recipient: Address;
  providerId: bigint;
  asset: Address;
  ratePerSecond: bigint;
  startTime: bigint;
  stopTime: bigint;
  deposited: bigint;
  /** Paid out on the recipient's side so far (withdrawals, settlements, closes). */
  withdrawn: bigint;
  status: StreamStatusName;
  /** When a cancel stopped the stream from streaming (unix seconds); 0 while it streams. */
  endTime: bigint;
  /** Cancelling: until when the recipient may answer with its best voucher (unix seconds); else 0. */
  challengeEndsAt: bigint;
  /** The session key named in createStream (signs vouchers for the sender, no expiry), or address(0). */
  sessionKey: Address;
  createdBlock: bigint;
};

export type ProviderTerms = { pricePerSecond: bigint; endpoint: string; active: boolean };

export type StreamCacheParameters = {
  client: PublicClient<Transport, Chain>;
  streamPay: Address;
  registry: Address;
  fromBlock: bigint;
  providerId: bigint;
  pollIntervalMs: number;
  blockRange: number;
  log: Logger;
  onTermsChanged?: (terms: ProviderTerms) => void;
  onStreamEvent?: (stream: CachedStream, event: string) => void;
};

/**
 * Every StreamPay stream (and this provider's registry terms), rebuilt from logs on start (from the
 * deploy block) and kept current by polling for new logs. Lookups are synchronous map reads; an unknown
 * stream id triggers one catch-up (shared by concurrent callers) before it is declared unknown.
 */
export class StreamCache {
  private readonly streams = new Map<string, CachedStream>();
  private readonly p: StreamCacheParameters;
  private synced: bigint;
  private syncing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Chain clock minus local clock (ms), learned from block timestamps; 0 unless the chain runs ahead. */
  private clockOffsetMs = 0;
  headBlock = 0n;
  lastSyncAt = 0;
  syncErrors = 0;

  constructor(p: StreamCacheParameters) {
    this.p = p;
    this.synced = p.fromBlock - 1n;
  }

  get syncedBlock(): bigint {
    return this.synced;
  }

  get size(): number {
    return this.streams.size;
  }

  /** Chain "now" in ms: the wall clock, or the chain's clock when it is ahead (e.g. a dev chain moved forward). */
  nowMs(): number {
    return Date.now() + this.clockOffsetMs;
  }

  get(id: bigint | string): CachedStream | undefined {
    return this.streams.get(typeof id === "string" ? id : id.toString());
  }

  /** Streams paying this provider. */
  ours(): CachedStream[] {
    return [...this.streams.values()].filter((s) => s.providerId === this.p.providerId);
  }

  /** Initial catch-up from the deploy block, then polling. */
  async start(): Promise<void> {
    await this.sync();
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(async () => {
      try {
        await this.sync();
      } catch {
        /* counted and logged in sync */
      }
      this.schedule();
    }, this.p.pollIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  /** Fetches logs up to the chain head. Concurrent callers share one run. */
  sync(): Promise<void> {
    this.syncing ??= this.doSync().finally(() => {
      this.syncing = undefined;
    });
    return this.syncing;
  }

  /** The stream, catching up with the chain first if it is not cached yet. */
  async lookup(id: bigint): Promise<CachedStream | undefined> {
    const cached = this.get(id);
    if (cached) return cached;
    // Catch up at most every 100 ms on behalf of unknown ids (made-up ids cannot flood the RPC; a stream
    // created a moment ago waits at most that long).
    const wait = this.lastLookupSync + 100 - Date.now();
    if (wait > 0 && !this.syncing) await new Promise((r) => setTimeout(r, wait));
    if (this.get(id)) return this.get(id);
    this.lastLookupSync = Date.now();
    // A sync already under way may have read the chain head before this stream's block: after joining
    // it, catch up once more before calling the stream unknown.
    const joinedRunningSync = this.syncing !== undefined;
    await this.sync().catch(() => {});
    if (!this.get(id) && joinedRunningSync) await this.sync().catch(() => {});
    return this.get(id);
  }
  private lastLookupSync = 0;

  private async doSync(): Promise<void> {
    const { client } = this.p;
    try {
      const head = await client.getBlockNumber({ cacheTime: 0 });
      if (head > this.headBlock) {
        this.headBlock = head;
        const block = await client.getBlock({ blockNumber: head });
        const offset = Number(block.timestamp) * 1000 - Date.now();
        this.clockOffsetMs = offset > 1500 ? offset : 0;
      }
      while (this.synced < head) {
        const from = this.synced + 1n;
        const to = from + BigInt(this.p.blockRange) - 1n < head ? from + BigInt(this.p.blockRange) - 1n : head;
        const logs = await client.getLogs({ address: [this.p.streamPay, this.p.registry], fromBlock: from, toBlock: to });
        this.apply(logs);
        this.synced = to;
      }
      this.lastSyncAt = Date.now();
    } catch (error) {
      this.syncErrors++;
      this.p.log.warn({ err: describeError(error) }, "chain sync failed; retrying");
      throw error;
    }
  }

  private apply(logs: Log[]): void {
    const streamPay = this.p.streamPay.toLowerCase();
    const streamLogs = logs.filter((l) => l.address.toLowerCase() === streamPay);
    const registryLogs = logs.filter((l) => l.address.toLowerCase() !== streamPay);
    const events = [
      ...parseEventLogs({ abi: streamPayAbi, logs: streamLogs, strict: false }),
      ...parseEventLogs({ abi: computeRegistryAbi, logs: registryLogs, strict: false }),
    ].sort((a, b) => (a.blockNumber === b.blockNumber ? (a.logIndex ?? 0) - (b.logIndex ?? 0) : a.blockNumber! < b.blockNumber! ? -1 : 1));
    for (const ev of events) {
      const args = ev.args as Record<string, unknown>;
      switch (ev.eventName) {
        case "StreamCreated": {
          const s: CachedStream = {
            id: args.streamId as bigint,
            sender: args.sender as Address,
            recipient: args.recipient as Address,
            providerId: args.providerId as bigint,
            asset: args.asset as Address,
            ratePerSecond: args.ratePerSecond as bigint,
            startTime: args.startTime as bigint,
            stopTime: args.stopTime as bigint,
            deposited: args.depositAmount as bigint,
            withdrawn: 0n,
            status: "open",
            endTime: 0n,
            challengeEndsAt: 0n,
            sessionKey: (args.sessionKey as Address | undefined) ?? zeroAddress,
            createdBlock: ev.blockNumber!,
          };
          this.streams.set(s.id.toString(), s);
          this.p.onStreamEvent?.(s, "created");
          break;
        }
        case "StreamToppedUp": {
          const s = this.get(args.streamId as bigint);
          if (!s) break;
          s.stopTime = args.newStopTime as bigint;
          s.deposited += args.amount as bigint;
          this.p.onStreamEvent?.(s, "toppedUp");
          break;
        }
        case "StreamWithdrawn":
        case "StreamSettled": {
          const s = this.get(args.streamId as bigint);
          if (!s) break;
          s.withdrawn += args.amount as bigint;
          break;
        }
        case "StreamCancelling": {
          const s = this.get(args.streamId as bigint);
          if (!s) break;
          // The cancel pushed back everything unstreamed, so what streamed (and when streaming stopped)
          // follows from the deposit: streamed = deposited - senderAmount = rate x (endTime - startTime).
          const streamed = s.deposited - (args.senderAmount as bigint);
          s.status = "cancelling";
          s.endTime = s.startTime + streamed / s.ratePerSecond;
          s.challengeEndsAt = args.challengeEndsAt as bigint;
          this.p.onStreamEvent?.(s, "cancelling");
          break;
        }
        case "StreamClosed": {
          const s = this.get(args.streamId as bigint);
          if (!s) break;
          s.status = STATUS_NAMES[Number(args.status)] ?? "closed";
          s.withdrawn += args.recipientAmount as bigint;
          this.p.onStreamEvent?.(s, "closed");
          break;
        }
        case "ProviderUpdated": {
          if ((args.providerId as bigint) !== this.p.providerId) break;
          this.p.onTermsChanged?.({ pricePerSecond: args.pricePerSecond as bigint, endpoint: args.endpoint as string, active: args.active as boolean });
          break;
        }
        default:
          break;
      }
    }
  }
}

