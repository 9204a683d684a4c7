/**
 * What the agent collects, on a chain of its own (short grace period and challenge window; chain time is
 * moved with evm_increaseTime): a sender's cancel answered within the window with the best voucher (the
 * provider gets min(best, streamed at the cancel)), also when the agent was down at the cancel and comes
 * back while the window is open (best voucher from its state, cache rebuilt from logs); a window that
 * closed while it was down is left alone; the vouchers of a session key are withdrawn before it expires;
 * a contract-wallet sender's session key pays on-chain. All balances exact.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Address, encodeFunctionData, getAddress, parseEventLogs, zeroAddress } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { authorizeSessionKey, streamPayAbi } from "@clawcompute/sdk";
import { type DevChain, deployContracts, repoRoot, startChain } from "@clawcompute/scripts/lib/devchain.ts";
import { waitFor } from "@clawcompute/scripts/lib/processes.ts";
import {
  type AgentHandle,
  type ChainContext,
  Consumer,
  type SignExtras,
  chainContext,
  chainNow,
  chatBody,
  claimable,
  fundedWallet,
  increaseTime,
  providerIdOf,
  removeDir,
  startAgent,
  streamView,
  walletClient,
} from "./helpers.ts";

const PRICE = 1_000_000_000n;
const CHALLENGE_WINDOW = 30n;
const GRACE_PERIOD = 60n;

describe("cancels, session expiries and voucher payouts", () => {
  let chain: DevChain;
  let deploymentsDir: string;
  let ctx: ChainContext;
  const agents: AgentHandle[] = [];
  /** Chain time minus wall time (s): the chain runs ahead after evm_increaseTime. */
  let offset = 0;

  beforeAll(async () => {
    chain = await startChain();
    deploymentsDir = mkdtempSync(join(tmpdir(), "claw-provider-cancels-"));
    await deployContracts({
      rpcUrl: chain.rpcUrl,
      deploymentsDir,
      ignitionDir: "scratch",
      gracePeriod: GRACE_PERIOD,
      challengeWindow: CHALLENGE_WINDOW,
    });
    ctx = chainContext({ rpcUrl: chain.rpcUrl, deploymentsDir });
  }, 180_000);

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    for (const dir of new Set(agents.map((a) => a.dataDir))) removeDir(dir);
    await chain?.stop();
    if (deploymentsDir) rmSync(deploymentsDir, { recursive: true, force: true });
  });

  const sp = () => ctx.deployment.contracts.StreamPay.address;

  async function provider(model: string, env: Record<string, string> = {}, dataDir?: string, key?: `0x${string}`) {
    const wallet = key ? { key, account: privateKeyToAccount(key) } : await fundedWallet(ctx);
    const agent = await startAgent(
      ctx,
      {
        PROVIDER_PRIVATE_KEY: wallet.key,
        PROVIDER_MODEL: model,
        PROVIDER_PRICE_PER_SECOND: PRICE.toString(),
        PROVIDER_ECHO_TOKENS_PER_SECOND: "20", // 10 tokens = 0.5 s
        PROVIDER_ECHO_MAX_TOKENS: "1000",
        PROVIDER_WITHDRAW_THRESHOLD: (PRICE * 100_000n).toString(), // never reached unless a test says so
        PROVIDER_MIN_DEPOSIT_SECONDS: "1",
        ...env,
      },
      { dataDir },
    );
    agents.push(agent);
    const providerId = await providerIdOf(ctx, wallet.account.address, model);
    return { agent, key: wallet.key, wallet: wallet.account.address, providerId };
  }

  async function consumerOf() {
    const c = new Consumer(ctx, (await fundedWallet(ctx)).account);
    c.clock = () => Math.floor(Date.now() / 1000) + offset;
    return c;
  }

  /** Asks one question (0.5 s of serving) and accepts its receipt; returns the receipt's amount. */
  async function serve(agent: AgentHandle, model: string, c: Consumer, streamId: bigint, extra: SignExtras = {}) {
    const body = chatBody(model, "a question", { max_tokens: 10 });
    const res = await c.post(`${agent.url}/v1/chat/completions`, streamId, body, extra);
    const json = await res.json();
    expect(res.status, JSON.stringify(json)).toBe(200);
    const amount = BigInt(json.claw_receipt.amount);
    c.accept(streamId, amount);
    return amount;
  }

  const events = async (eventName: "StreamWithdrawn" | "StreamClosed", streamId: bigint) =>
    ctx.publicClient.getContractEvents({
      address: sp(),
      abi: streamPayAbi,
      eventName,
      args: { streamId },
      fromBlock: 0n,
    });

  it("answers a cancel in the window with its best voucher: it gets min(best, streamed at the cancel)", async () => {
    const model = "cancel-answer";
    const { agent, wallet, providerId } = await provider(model);
    const consumer = await consumerOf();
    const deposit = PRICE * 600n;

    // A: the best voucher is below what streamed. Two answers; the second carries a voucher for the first.
    const a = await consumer.openStream(providerId, deposit);
    const r1 = await serve(agent, model, consumer, a);
    const r2 = await serve(agent, model, consumer, a);
    expect(r2).toBeGreaterThan(r1);
    await new Promise((r) => setTimeout(r, 1000)); // streamed by chain time passes the voucher
    const cancelA = await consumer.cancel(a);
    const [cancelling] = parseEventLogs({ abi: streamPayAbi, logs: cancelA.logs, eventName: "StreamCancelling" });
    const streamedAtCancel = deposit - cancelling.args.senderAmount;
    expect(streamedAtCancel).toBeGreaterThan(r1);
    await waitFor("the answer to the cancel", async () => (await streamView(ctx, a)).status === 3, 15_000, 200);
    const [closed] = await events("StreamClosed", a);
    const answer = await ctx.publicClient.getBlock({ blockNumber: closed.blockNumber });
    expect(answer.timestamp).toBeLessThanOrEqual(cancelling.args.challengeEndsAt); // within the window
    const paid = { status: 3, recipientAmount: r1, senderAmount: streamedAtCancel - r1 };
    expect(closed.args).toMatchObject({ closedBy: wallet, ...paid });
    const viewA = await streamView(ctx, a);
    expect(viewA.withdrawn).toBe(r1); // = min(best r1, streamed at the cancel)
    expect(viewA.refunded).toBe(deposit - r1);
    expect(await claimable(ctx, wallet)).toBe(r1);
    expect(r2 - r1).toBeLessThanOrEqual(PRICE * 60n); // what the provider lost: its one request of credit

    // B: a voucher above what streamed (signed ahead): the provider gets what streamed at the cancel.
    const b = await consumer.openStream(providerId, deposit);
    await serve(agent, model, consumer, b, { cumulative: PRICE * 300n });
    await new Promise((r) => setTimeout(r, 1500)); // something must have streamed (whole chain seconds)
    const cancelB = await consumer.cancel(b);
    const [cancellingB] = parseEventLogs({ abi: streamPayAbi, logs: cancelB.logs, eventName: "StreamCancelling" });
    const streamedB = deposit - cancellingB.args.senderAmount;
    expect(streamedB).toBeLessThan(PRICE * 300n);
    await waitFor("the answer to the second cancel", async () => (await streamView(ctx, b)).status === 3, 15_000, 200);
    const viewB = await streamView(ctx, b);
    expect(viewB.withdrawn).toBe(streamedB);
    expect(viewB.refunded).toBe(deposit - streamedB);
    expect(await claimable(ctx, wallet)).toBe(r1 + streamedB);
    // A cancelled stream is served no more.
    const refused = await consumer.post(`${agent.url}/v1/chat/completions`, a, chatBody(model, "more?"));
    expect((await refused.json()).error.code).toBe("stream_closed");
  }, 90_000);

  it("answers a cancel sent while it was down, restarted in the window, with the voucher from its state", async () => {
    const model = "cancel-while-down";
    const first = await provider(model, { PROVIDER_WITHDRAW_ON_SHUTDOWN: "false" });
    const consumer = await consumerOf();
    const deposit = PRICE * 600n;
    const streamId = await consumer.openStream(first.providerId, deposit);
    const r1 = await serve(first.agent, model, consumer, streamId);
    await serve(first.agent, model, consumer, streamId); // carries the voucher for r1
    expect(await first.agent.stop()).toBe(0);
    expect((await streamView(ctx, streamId)).withdrawn).toBe(0n); // nothing withdrawn on the way down

    await new Promise((r) => setTimeout(r, 1000));
    const cancel = await consumer.cancel(streamId);
    const [cancelling] = parseEventLogs({ abi: streamPayAbi, logs: cancel.logs, eventName: "StreamCancelling" });
    const streamedAtCancel = deposit - cancelling.args.senderAmount;
    expect((await streamView(ctx, streamId)).status).toBe(5); // Cancelling: nobody answered yet

    const again = await provider(model, { PROVIDER_WITHDRAW_ON_SHUTDOWN: "false" }, first.agent.dataDir, first.key);
    const answered = async () => (await streamView(ctx, streamId)).status === 3;
    await waitFor("the answer after the restart", answered, 15_000, 200);
    const [closed] = await events("StreamClosed", streamId);
    const answeredAt = (await ctx.publicClient.getBlock({ blockNumber: closed.blockNumber })).timestamp;
    expect(answeredAt).toBeLessThanOrEqual(cancelling.args.challengeEndsAt);
    const paid = { status: 3, recipientAmount: r1, senderAmount: streamedAtCancel - r1 };
    expect(closed.args).toMatchObject({ closedBy: first.wallet, ...paid });
    expect(await claimable(ctx, first.wallet)).toBe(r1);
    const logged = (l: Record<string, unknown>) =>
      l.msg === "answered the cancel with the best voucher" && l.streamId === `${streamId}`;
    expect(again.agent.logs().some(logged)).toBe(true);
  }, 90_000);

  it("withdraws with a session key's best voucher before the key expires (its vouchers are void after)", async () => {
    const model = "session-expiry";
    // Requests may run 6 s: a key must outlive a request by that, and is withdrawn 3 s before it expires.
    const { agent, wallet, providerId } = await provider(model, { PROVIDER_MAX_REQUEST_SECONDS: "6" });
    const consumer = await consumerOf();
    const streamId = await consumer.openStream(providerId, PRICE * 600n);
    const key = privateKeyToAccount(generatePrivateKey());
    const expiry = BigInt((await chainNow(ctx)) + 16); // room for two requests on a busy machine
    const session = await authorizeSessionKey(consumer.account, ctx.domain, streamId, key.address, expiry);
    const r1 = await serve(agent, model, consumer, streamId, { signer: key, session });
    await serve(agent, model, consumer, streamId, { signer: key, session }); // voucher r1, signed by the key
    const withdrawals = () => events("StreamWithdrawn", streamId);
    expect(await withdrawals()).toHaveLength(0);
    await waitFor("the withdrawal before the key expires", async () => (await withdrawals()).length === 1, 25_000, 200);
    const [w] = await withdrawals();
    expect(w.args).toMatchObject({ recipient: wallet, caller: wallet, amount: r1, cumulative: r1 });
    expect((await ctx.publicClient.getBlock({ blockNumber: w.blockNumber })).timestamp).toBeLessThanOrEqual(expiry);
    expect((await streamView(ctx, streamId)).withdrawn).toBe(r1);
    // The key is too close to its expiry to pay for another request.
    const late = await consumer.post(`${agent.url}/v1/chat/completions`, streamId, chatBody(model, "one more"), {
      signer: key,
      session,
    });
    expect(["session_key_expiring", "session_key_expired"]).toContain((await late.json()).error.code);
  }, 60_000);

  it("an ERC-1271 sender's session key pays on-chain, withdrawn on shutdown", async () => {
    const model = "erc1271-sender";
    const { agent, wallet, providerId } = await provider(model, { PROVIDER_WITHDRAW_ON_SHUTDOWN: "true" });
    const owner = await fundedWallet(ctx);
    const artifactPath = join(repoRoot, "contracts/artifacts/test/mocks/ERC1271Wallet.sol/ERC1271Wallet.json");
    const artifact = JSON.parse(readFileSync(artifactPath, "utf8")) as { abi: never; bytecode: `0x${string}` };
    const ownerClient = walletClient(ctx, owner.account);
    const args = [owner.account.address] as never;
    const deployHash = await ownerClient.deployContract({ abi: artifact.abi, bytecode: artifact.bytecode, args });
    const deployed = await ctx.publicClient.waitForTransactionReceipt({ hash: deployHash });
    const contractWallet = getAddress(deployed.contractAddress as Address);
    const deposit = PRICE * 600n;
    // The wallet opens the stream (its owner sends it through exec).
    const create = encodeFunctionData({
      abi: streamPayAbi,
      functionName: "createStream",
      args: [providerId, PRICE, deposit, zeroAddress],
    });
    const hash = await ownerClient.writeContract({
      address: contractWallet,
      abi: artifact.abi,
      functionName: "exec" as never,
      args: [sp(), deposit, create] as never,
      value: deposit,
    });
    const receipt = await ctx.publicClient.waitForTransactionReceipt({ hash });
    const [created] = parseEventLogs({ abi: streamPayAbi, logs: receipt.logs, eventName: "StreamCreated" });
    expect(created.args.sender).toBe(contractWallet);
    const streamId = created.args.streamId;

    // The owner's signature is the wallet's (ERC-1271); the consumer's requests are signed by the key.
    const consumer = new Consumer(ctx, owner.account);
    consumer.clock = () => Math.floor(Date.now() / 1000) + offset;
    const key = privateKeyToAccount(generatePrivateKey());
    const inAnHour = BigInt((await chainNow(ctx)) + 3600);
    const session = await authorizeSessionKey(owner.account, ctx.domain, streamId, key.address, inAnHour);
    const r1 = await serve(agent, model, consumer, streamId, { signer: key, session });
    await serve(agent, model, consumer, streamId, { signer: key, session });
    // A key the owner did not authorise is refused.
    const stranger = privateKeyToAccount(generatePrivateKey());
    const bogus = await authorizeSessionKey(stranger, ctx.domain, streamId, key.address, inAnHour);
    const refused = await consumer.post(`${agent.url}/v1/chat/completions`, streamId, chatBody(model, "?"), {
      signer: key,
      session: bogus,
    });
    expect((await refused.json()).error.code).toBe("session_key_unauthorized");

    await new Promise((r) => setTimeout(r, 1000));
    expect(await agent.stop()).toBe(0);
    const [w] = await events("StreamWithdrawn", streamId);
    expect(w.args).toMatchObject({ recipient: wallet, caller: wallet, amount: r1, cumulative: r1 });
    expect((await streamView(ctx, streamId)).withdrawn).toBe(r1);
    expect(await claimable(ctx, wallet)).toBe(0n);
  }, 90_000);

  it("a cancel whose window closed while the agent was down is left alone; it keeps what it withdrew", async () => {
    const model = "cancel-too-late";
    const first = await provider(model, { PROVIDER_WITHDRAW_ON_SHUTDOWN: "true" });
    const consumer = await consumerOf();
    const deposit = PRICE * 600n;
    const streamId = await consumer.openStream(first.providerId, deposit);
    await serve(first.agent, model, consumer, streamId);
    // A voucher far ahead of what streamed: on the way down the agent withdraws what streamed by then.
    await serve(first.agent, model, consumer, streamId, { cumulative: PRICE * 100n });
    await new Promise((r) => setTimeout(r, 1000));
    expect(await first.agent.stop()).toBe(0);
    const [withdrawal] = await events("StreamWithdrawn", streamId);
    const withdrawn = (withdrawal.args as { amount: bigint }).amount;
    expect(withdrawn).toBeLessThan(PRICE * 100n);
    expect((await streamView(ctx, streamId)).withdrawn).toBe(withdrawn);

    // The consumer cancels; the window passes while the agent is down. Its best voucher would still pay
    // more than was withdrawn, but the window to answer with it is over.
    await new Promise((r) => setTimeout(r, 1000));
    const cancel = await consumer.cancel(streamId);
    const [cancelling] = parseEventLogs({ abi: streamPayAbi, logs: cancel.logs, eventName: "StreamCancelling" });
    expect(deposit - cancelling.args.senderAmount).toBeGreaterThan(withdrawn); // streamed at the cancel
    await increaseTime(ctx, Number(CHALLENGE_WINDOW) + 1);
    offset = (await chainNow(ctx)) - Math.floor(Date.now() / 1000);
    expect(BigInt(await chainNow(ctx))).toBeGreaterThan(cancelling.args.challengeEndsAt);

    const again = await provider(model, { PROVIDER_WITHDRAW_ON_SHUTDOWN: "true" }, first.agent.dataDir, first.key);
    await new Promise((r) => setTimeout(r, 2500)); // several of the every-second checks
    expect(again.agent.logs().some((l) => l.kind === "closeByRecipient")).toBe(false);
    expect((await streamView(ctx, streamId)).status).toBe(5);
    // Anyone finalises: the provider keeps what it withdrew, the sender gets the rest of what streamed.
    const keeper = walletClient(ctx, (await fundedWallet(ctx)).account);
    const fin = await keeper.writeContract({
      address: sp(),
      abi: streamPayAbi,
      functionName: "batchUpdateStreams",
      args: [[streamId]],
    });
    await ctx.publicClient.waitForTransactionReceipt({ hash: fin });
    const view = await streamView(ctx, streamId);
    expect(view.status).toBe(3);
    expect(view.withdrawn).toBe(withdrawn);
    expect(view.refunded).toBe(deposit - withdrawn);
  }, 90_000);
});
