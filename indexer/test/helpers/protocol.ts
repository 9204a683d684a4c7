/**
 * Drives the real contracts on a test chain with the well-known anvil dev keys (local chains only; the
 * keys are never printed). Every call waits for its receipt and throws if the transaction reverted.
 * Vouchers and receipts are signed with the SDK, as the agents sign them.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  type Abi,
  type Address,
  type Hex,
  type PublicClient,
  type TransactionReceipt,
  createPublicClient,
  createWalletClient,
  encodeFunctionData,
  http,
  maxUint256,
  parseEventLogs,
  zeroAddress,
} from "viem";
import { type LocalAccount, type PrivateKeyAccount, generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import {
  type Deployment,
  type PaymentDomainParameters,
  type SessionAuthorization,
  type VoucherArgs,
  EMPTY_VOUCHER,
  authorizeSessionKey,
  computeRegistryAbi,
  createPaymentHeaders,
  hashBody,
  localChain,
  namedSessionKey,
  readPaymentHeaders,
  signReceipt,
  signVoucher,
  streamPayAbi,
  testTokenAbi,
  voucherArgs,
  voucherOfProof,
} from "@clawcompute/sdk";
import { DEV_PRIVATE_KEYS, repoRoot } from "@clawcompute/scripts/lib/devchain.ts";

export const NATIVE: Address = zeroAddress;

type Call = { address: Address; abi: Abi; functionName: string; args?: readonly unknown[]; value?: bigint };

/** Who signs a voucher: the sender (an account index), or a session key with its authorisation. */
export type VoucherSigner = number | { key: LocalAccount; session: SessionAuthorization };

export class Protocol {
  readonly client: PublicClient;
  readonly streamPay: Address;
  readonly registry: Address;
  readonly testUsd: Address;
  readonly accounts: PrivateKeyAccount[];
  readonly domain: PaymentDomainParameters;
  private readonly approved = new Set<number>();

  constructor(
    readonly rpcUrl: string,
    readonly deployment: Deployment,
  ) {
    const transport = http(rpcUrl);
    this.client = createPublicClient({ chain: localChain, transport, pollingInterval: 50 }) as PublicClient;
    this.streamPay = deployment.contracts.StreamPay.address;
    this.registry = deployment.contracts.ComputeRegistry.address;
    if (!deployment.contracts.TestUSD) throw new Error("the test deployment has no TestUSD");
    this.testUsd = deployment.contracts.TestUSD.address;
    this.accounts = DEV_PRIVATE_KEYS.map((key) => privateKeyToAccount(key));
    this.domain = { chainId: deployment.chainId, streamPay: this.streamPay };
  }

  address(i: number): Address {
    return this.accounts[i]!.address;
  }

  wallet(i: number) {
    const transport = http(this.rpcUrl);
    return createWalletClient({ account: this.accounts[i]!, chain: localChain, transport, pollingInterval: 50 });
  }

  async write(i: number, call: Call): Promise<TransactionReceipt> {
    const hash = await this.wallet(i).writeContract({
      address: call.address,
      abi: call.abi,
      functionName: call.functionName,
      args: call.args ?? [],
      value: call.value,
    } as never);
    const receipt = await this.client.waitForTransactionReceipt({ hash, pollingInterval: 50 });
    if (receipt.status !== "success") throw new Error(`${call.functionName} reverted (${hash})`);
    return receipt;
  }

  async registerProvider(
    i: number,
    p: {
      model: string;
      pricePerSecond: bigint;
      asset: Address;
      endpoint?: string;
      serviceType?: string;
      stake?: bigint;
    },
  ): Promise<bigint> {
    const receipt = await this.write(i, {
      address: this.registry,
      abi: computeRegistryAbi,
      functionName: "registerProvider",
      args: [p.model, p.pricePerSecond, p.endpoint ?? `http://127.0.0.1:1/${p.model}`, p.serviceType ?? "llm", p.asset],
      value: p.stake ?? 0n,
    });
    const [event] = parseEventLogs({ abi: computeRegistryAbi, logs: receipt.logs, eventName: "ProviderRegistered" });
    return event!.args.providerId;
  }

  async updateProvider(i: number, providerId: bigint, pricePerSecond: bigint, endpoint: string, active: boolean) {
    const args = [providerId, pricePerSecond, endpoint, active];
    return this.write(i, { address: this.registry, abi: computeRegistryAbi, functionName: "updateProvider", args });
  }

  async addStake(i: number, providerId: bigint, value: bigint) {
    const call = { address: this.registry, abi: computeRegistryAbi, functionName: "addStake", args: [providerId] };
    return this.write(i, { ...call, value });
  }

  async withdrawStake(i: number, providerId: bigint) {
    const call = { address: this.registry, abi: computeRegistryAbi, functionName: "withdrawStake", args: [providerId] };
    return this.write(i, call);
  }

  async rate(i: number, streamId: bigint, score: number) {
    const args = [streamId, score];
    const call = { address: this.registry, abi: computeRegistryAbi, functionName: "rateProvider", args };
    return this.write(i, call);
  }

  /** Mints TestUSD to account i and approves StreamPay once. */
  async fundUsd(i: number, amount: bigint) {
    const to = this.address(i);
    await this.write(0, { address: this.testUsd, abi: testTokenAbi, functionName: "mint", args: [to, amount] });
    if (!this.approved.has(i)) {
      const args = [this.streamPay, maxUint256];
      await this.write(i, { address: this.testUsd, abi: testTokenAbi, functionName: "approve", args });
      this.approved.add(i);
    }
  }

  async providerAsset(providerId: bigint): Promise<Address> {
    const [, asset] = await this.client.readContract({
      address: this.registry,
      abi: computeRegistryAbi,
      functionName: "payoutOf",
      args: [providerId],
    });
    return asset;
  }

  /** Opens a stream; `sessionKey` (optional) may sign vouchers for the sender on it. */
  async createStream(i: number, providerId: bigint, deposit: bigint, sessionKey: Address = zeroAddress) {
    const asset = await this.providerAsset(providerId);
    const receipt = await this.write(i, {
      address: this.streamPay,
      abi: streamPayAbi,
      functionName: "createStream",
      args: [providerId, maxUint256 >> 1n, deposit, sessionKey],
      value: asset === NATIVE ? deposit : 0n,
    });
    const [event] = parseEventLogs({ abi: streamPayAbi, logs: receipt.logs, eventName: "StreamCreated" });
    return event!.args.streamId;
  }

  async topUp(i: number, streamId: bigint, amount: bigint) {
    const s = await this.streamView(streamId);
    return this.write(i, {
      address: this.streamPay,
      abi: streamPayAbi,
      functionName: "topUp",
      args: [streamId, amount],
      value: s.asset === NATIVE ? amount : 0n,
    });
  }

  async streamView(streamId: bigint) {
    return this.client.readContract({
      address: this.streamPay,
      abi: streamPayAbi,
      functionName: "getStreamView",
      args: [streamId],
    });
  }

  /** A fresh session key (kept in memory only). */
  newSessionKey(): LocalAccount {
    return privateKeyToAccount(generatePrivateKey());
  }

  /** The sender (account `sender`) authorises `key` on a stream by signature, until `expiry`. */
  authorizeSessionKey(sender: number, streamId: bigint, key: Address, expiry: bigint): Promise<SessionAuthorization> {
    return authorizeSessionKey(this.accounts[sender]!, this.domain, streamId, key, expiry);
  }

  /** A named session key's authorisation (the key given to createStream): no signature needed. */
  namedSession(key: LocalAccount): { key: LocalAccount; session: SessionAuthorization } {
    return { key, session: namedSessionKey(key.address) };
  }

  /** A voucher sent on its own for `cumulative`, signed by the sender or a session key, as StreamPay takes it. */
  async voucher(signer: VoucherSigner, streamId: bigint, cumulative: bigint): Promise<VoucherArgs> {
    const signed =
      typeof signer === "number"
        ? await signVoucher({ signer: this.accounts[signer]!, domain: this.domain, streamId, cumulative })
        : await signVoucher({ signer: signer.key, domain: this.domain, streamId, cumulative, session: signer.session });
    return voucherArgs(signed);
  }

  /**
   * The voucher an HTTP request carried: the consumer signs the request's payment headers (one signature for
   * the request and the voucher), the provider reads them back and presents that voucher on-chain.
   */
  async voucherOfRequest(signer: VoucherSigner, streamId: bigint, cumulative: bigint, body: string) {
    const headers = await createPaymentHeaders({
      signer: typeof signer === "number" ? this.accounts[signer]! : signer.key,
      domain: this.domain,
      streamId,
      cumulative,
      body,
      ...(typeof signer === "number" ? {} : { session: signer.session }),
    });
    const proof = readPaymentHeaders((name) => headers[name]);
    if (!proof) throw new Error("createPaymentHeaders produced no payment headers");
    return voucherArgs(voucherOfProof(proof, hashBody(body)));
  }

  /** withdrawFromStream with a voucher, sent by account `caller` (anyone may). Returns the amount paid. */
  async withdraw(caller: number, streamId: bigint, voucher: VoucherArgs): Promise<bigint> {
    const receipt = await this.write(caller, this.withdrawCall(streamId, voucher));
    const [event] = parseEventLogs({ abi: streamPayAbi, logs: receipt.logs, eventName: "StreamWithdrawn" });
    return event!.args.amount;
  }

  async cancel(i: number, streamId: bigint) {
    const call = { address: this.streamPay, abi: streamPayAbi, functionName: "cancelStream", args: [streamId] };
    return this.write(i, call);
  }

  /** The sender (account `sender`) closes with a final receipt signed by the provider (account `provider`). */
  async closeWithReceipt(sender: number, provider: number, streamId: bigint, amount: bigint) {
    const message = { streamId, amount, final: true };
    const signature: Hex = await signReceipt(this.accounts[provider]!, this.domain, message);
    const args = [streamId, amount, signature];
    return this.write(sender, { address: this.streamPay, abi: streamPayAbi, functionName: "closeWithReceipt", args });
  }

  /** The recipient closes (or answers a cancel) with a voucher; EMPTY_VOUCHER claims nothing more. */
  async closeByRecipient(i: number, streamId: bigint, voucher: VoucherArgs = EMPTY_VOUCHER) {
    const args = [streamId, voucher];
    return this.write(i, { address: this.streamPay, abi: streamPayAbi, functionName: "closeByRecipient", args });
  }

  async batchUpdate(i: number, streamIds: bigint[]) {
    const call = { address: this.streamPay, abi: streamPayAbi, functionName: "batchUpdateStreams", args: [streamIds] };
    return this.write(i, call);
  }

  async withdrawBalance(i: number, asset: Address) {
    const args = [asset, this.address(i)];
    return this.write(i, { address: this.streamPay, abi: streamPayAbi, functionName: "withdrawBalance", args });
  }

  async gracePeriod(): Promise<bigint> {
    return this.client.readContract({ address: this.streamPay, abi: streamPayAbi, functionName: "gracePeriod" });
  }

  async challengeWindow(): Promise<bigint> {
    return this.client.readContract({ address: this.streamPay, abi: streamPayAbi, functionName: "challengeWindow" });
  }

  /**
   * Sends account i's calls in order into one block (automine off, explicit nonces and gas, since later
   * calls may depend on earlier ones), mines it and returns the receipts. Needed where only one block
   * timestamp gives the state to test, e.g. a cancel when everything streamed was just withdrawn.
   */
  async sameBlock(i: number, calls: Call[]): Promise<TransactionReceipt[]> {
    const rpc = (method: string, params: unknown[]) =>
      this.client.request({ method: method as never, params: params as never });
    const hashes: Hex[] = [];
    await rpc("evm_setAutomine", [false]);
    try {
      let nonce = await this.client.getTransactionCount({ address: this.address(i), blockTag: "pending" });
      for (const call of calls) {
        const request = { ...call, args: call.args ?? [], nonce: nonce++, gas: 1_000_000n };
        hashes.push(await this.wallet(i).writeContract(request as never));
      }
      await this.mine(1);
    } finally {
      await rpc("evm_setAutomine", [true]);
    }
    const receipts = await Promise.all(
      hashes.map((hash) => this.client.waitForTransactionReceipt({ hash, pollingInterval: 50 })),
    );
    const blocks = new Set(receipts.map((r) => r.blockNumber));
    if (blocks.size !== 1) throw new Error(`sameBlock: the calls landed in ${blocks.size} blocks`);
    for (const [k, r] of receipts.entries()) {
      if (r.status !== "success") throw new Error(`${calls[k]!.functionName} reverted (${r.transactionHash})`);
    }
    return receipts;
  }

  /** The call that cancels a stream, for {@link sameBlock}. */
  cancelCall(streamId: bigint): Call {
    return { address: this.streamPay, abi: streamPayAbi, functionName: "cancelStream", args: [streamId] };
  }

  /** The call that withdraws with a voucher, for {@link sameBlock}. */
  withdrawCall(streamId: bigint, voucher: VoucherArgs): Call {
    const args = [streamId, voucher];
    return { address: this.streamPay, abi: streamPayAbi, functionName: "withdrawFromStream", args };
  }

  /**
   * Deploys the contracts' test mock `Actor` (a contract account that forwards calls with `exec` and can
   * refuse native payments), so StreamPay is called through another contract and its pushes can fail.
   */
  async deployActor(i: number, refusePayments: boolean): Promise<Address> {
    const path = join(repoRoot, "contracts/artifacts/test/mocks/Actor.sol/Actor.json");
    let artifact: { abi: Abi; bytecode: Hex };
    try {
      artifact = JSON.parse(readFileSync(path, "utf8")) as typeof artifact;
    } catch {
      throw new Error(`No compiled Actor mock at ${path}: build the contracts first (npm run build -w contracts).`);
    }
    const hash = await this.wallet(i).deployContract({ abi: artifact.abi, bytecode: artifact.bytecode } as never);
    const receipt = await this.client.waitForTransactionReceipt({ hash, pollingInterval: 50 });
    const actor = receipt.contractAddress!;
    this.actorAbi = artifact.abi;
    if (refusePayments) await this.write(i, { address: actor, abi: artifact.abi, functionName: "setMode", args: [1] });
    return actor;
  }

  private actorAbi: Abi | undefined;

  /** Account i has contract `actor` make `call` (with `value` passed through). */
  async viaActor(i: number, actor: Address, call: Call): Promise<TransactionReceipt> {
    if (!this.actorAbi) throw new Error("deployActor first");
    const data = encodeFunctionData({ abi: call.abi, functionName: call.functionName, args: call.args ?? [] } as never);
    const value = call.value ?? 0n;
    const args = [call.address, value, data];
    return this.write(i, { address: actor, abi: this.actorAbi, functionName: "exec", args, value });
  }

  /** The call that opens a stream, for {@link viaActor}. */
  createStreamCall(providerId: bigint, deposit: bigint, native: boolean): Call {
    const args = [providerId, maxUint256 >> 1n, deposit, zeroAddress];
    const value = native ? deposit : 0n;
    return { address: this.streamPay, abi: streamPayAbi, functionName: "createStream", args, value };
  }

  /** The call that runs a keeper batch, for {@link viaActor}. */
  batchCall(streamIds: bigint[]): Call {
    return { address: this.streamPay, abi: streamPayAbi, functionName: "batchUpdateStreams", args: [streamIds] };
  }

  async mine(blocks = 1) {
    await this.client.request({ method: "anvil_mine" as never, params: [`0x${blocks.toString(16)}`] as never });
  }

  /** Moves the chain's clock `seconds` ahead (anvil's evm_increaseTime) and mines a block at the new time. */
  async increaseTime(seconds: bigint | number) {
    await this.client.request({ method: "evm_increaseTime" as never, params: [Number(seconds)] as never });
    await this.mine(1);
  }

  async blockTimestamp(): Promise<bigint> {
    return (await this.client.getBlock()).timestamp;
  }

  /** Resolves once the chain's latest block is at or past `timestamp` (mining a block when it is time). */
  async waitUntilChainTime(timestamp: bigint) {
    for (;;) {
      const now = BigInt(Math.floor(Date.now() / 1000));
      if (now >= timestamp) break;
      await new Promise((r) => setTimeout(r, Number(timestamp - now) * 1000 - (Date.now() % 1000) + 20));
    }
    await this.mine(1);
  }
}
