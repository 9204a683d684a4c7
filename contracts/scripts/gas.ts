/**
 * Gas benchmark: total transaction gas (receipt gasUsed) of every money path, written to
 * contracts/gas-snapshot.json (committed, so a change that costs gas shows in review) and printed with
 * the targets. Run: `npm run gas` (Hardhat's in-process chain, no server).
 */
import { writeFileSync } from "node:fs";
import { network } from "hardhat";
import { type Address, type Hex, zeroAddress } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { type VoucherArgs, authorizeSessionKey, namedSessionKey, signReceipt as sdkSignReceipt, signVoucher, voucherArgs } from "@clawcompute/sdk";

const { viem } = await network.create();
const pub = await viem.getPublicClient();
const test = await viem.getTestClient();
const wallets = await viem.getWalletClients();
const [, consumer, keeper] = wallets;
const providers = wallets.slice(3, 8); // five provider wallets
const chainId = await pub.getChainId();

const GRACE = 3600n;
const WINDOW = 1800n;
const streamPay = await viem.deployContract("StreamPay", [0n, 3600n, GRACE, WINDOW]);
const registry = await viem.getContractAt("ComputeRegistry", await streamPay.read.registry());
const token = await viem.deployContract("TestToken", ["Test USD", "TUSD", 6]);

const results: Record<string, number> = {};
async function measure(label: string, hash: Hex): Promise<number> {
  const receipt = await pub.waitForTransactionReceipt({ hash });
  if (receipt.status !== "success") throw new Error(`${label}: transaction reverted`);
  results[label] = Number(receipt.gasUsed);
  return Number(receipt.gasUsed);
}
async function advance(seconds: number) {
  await test.increaseTime({ seconds });
  await test.mine({ blocks: 1 });
}
const domain = { chainId, streamPay: streamPay.address };
type Wallet = (typeof wallets)[number];
// The SDK's own signing helpers: the gas figures are for exactly what the agents send. Hardhat's accounts
// sign through their wallet client.
const asSigner = (w: Wallet) => ({
  address: w.account.address,
  signTypedData: ((args: Parameters<typeof w.signTypedData>[0]) => w.signTypedData(args)) as never,
});
const signReceipt = (signer: Wallet, streamId: bigint, amount: bigint) =>
  sdkSignReceipt(asSigner(signer), domain, { streamId, amount, final: true });
const voucher = async (streamId: bigint, cumulative: bigint): Promise<VoucherArgs> =>
  voucherArgs(await signVoucher({ signer: asSigner(consumer), domain, streamId, cumulative }));
// A browser's session key (a throwaway local key), authorised by the consumer's signature or named at creation.
const browserKey = privateKeyToAccount("0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318");
const sessionVoucher = async (streamId: bigint, cumulative: bigint, named = false): Promise<VoucherArgs> => {
  const session = named
    ? namedSessionKey(browserKey.address)
    : await authorizeSessionKey(asSigner(consumer), domain, streamId, browserKey.address, 4_000_000_000n);
  return voucherArgs(await signVoucher({ signer: browserKey, domain, streamId, cumulative, session }));
};

const RATE = 1_000_000_000n; // 1 gwei per second
const DEPOSIT = RATE * 3600n;
let nextId = 1n;

// Providers: one native and one ERC-20 per wallet.
const nativeIds: bigint[] = [];
const tokenIds: bigint[] = [];
let providerCount = 0n;
for (const [i, p] of providers.entries()) {
  const g = await measure(i === 0 ? "registerProvider" : `registerProvider#${i}`, await registry.write.registerProvider(
    ["llama3.2:1b", RATE, `http://127.0.0.1:${9000 + i}`, "llm", zeroAddress], { account: p.account }));
  nativeIds.push(++providerCount);
  await registry.write.registerProvider(["llama3.2:1b-usd", RATE, `http://127.0.0.1:${9000 + i}`, "llm", token.address], { account: p.account });
  tokenIds.push(++providerCount);
  void g;
}
for (const k of Object.keys(results)) if (k.startsWith("registerProvider#")) delete results[k];

await token.write.mint([consumer.account.address, 10n ** 30n]);
await token.write.approve([streamPay.address, 2n ** 256n - 1n], { account: consumer.account });

const create = (providerId: bigint, native = true, sessionKey: Address = zeroAddress) =>
  streamPay.write.createStream([providerId, RATE, DEPOSIT, sessionKey], { account: consumer.account, value: native ? DEPOSIT : 0n });

// Warm-up: the provider's balance and stats slots are non-zero after its first close (steady state).
for (const id of [...nativeIds, ...tokenIds]) {
  await create(id, nativeIds.includes(id));
  const sid = nextId++;
  await advance(2);
  const p = providers[(nativeIds.includes(id) ? nativeIds : tokenIds).indexOf(id)];
  await streamPay.write.closeWithReceipt([sid, RATE, await signReceipt(p, sid, RATE)], { account: consumer.account });
}

// A paid request: open a stream, use it for a few seconds, close it with the provider's final receipt.
async function paidRequest(providerIndex: number, native: boolean, label: string) {
  const providerId = (native ? nativeIds : tokenIds)[providerIndex];
  await measure(`createStream (${label})`, await create(providerId, native));
  const id = nextId++;
  await advance(5);
  const charged = RATE * 4n + RATE / 5n; // 4.2 seconds of serving time
  const signature = await signReceipt(providers[providerIndex], id, charged);
  await measure(`closeWithReceipt (${label})`, await streamPay.write.closeWithReceipt([id, charged, signature], { account: consumer.account }));
}
await paidRequest(0, true, "native");
await paidRequest(0, false, "ERC-20");
results["paid request: create + closeWithReceipt (native)"] = results["createStream (native)"] + results["closeWithReceipt (native)"];

// Other single-stream operations.
await measure("createStream with a named session key (native)", await create(nativeIds[0], true, browserKey.address));
const named = nextId++;
await create(nativeIds[0]);
const s1 = nextId++;
await create(tokenIds[0], false);
const s2 = nextId++;
await advance(10);
await measure("topUp (native)", await streamPay.write.topUp([s1, DEPOSIT], { account: consumer.account, value: DEPOSIT }));
await measure("topUp (ERC-20)", await streamPay.write.topUp([s2, DEPOSIT], { account: consumer.account }));
// The provider withdraws with the best voucher it holds (a keeper or anyone could send it too).
const p0 = providers[0].account;
await measure("withdrawFromStream, sender's voucher (native)", await streamPay.write.withdrawFromStream([s1, await voucher(s1, RATE * 2n)], { account: p0 }));
await measure("withdrawFromStream, sender's voucher (ERC-20)", await streamPay.write.withdrawFromStream([s2, await voucher(s2, RATE * 2n)], { account: providers[0].account }));
await measure("withdrawFromStream, authorised session key (native)", await streamPay.write.withdrawFromStream([s1, await sessionVoucher(s1, RATE * 4n)], { account: p0 }));
await measure("withdrawFromStream, named session key (native)", await streamPay.write.withdrawFromStream([named, await sessionVoucher(named, RATE * 4n, true)], { account: p0 }));
await advance(5);
// A unilateral cancel the provider answers with its best voucher, and one nobody answers, finalised later.
await measure("cancelStream (native)", await streamPay.write.cancelStream([s1], { account: consumer.account }));
await measure("closeByRecipient answering a cancel (native)", await streamPay.write.closeByRecipient([s1, await sessionVoucher(s1, RATE * 6n)], { account: p0 }));
await measure("cancelStream (ERC-20)", await streamPay.write.cancelStream([s2], { account: consumer.account }));
await create(nativeIds[0]);
const s3 = nextId++;
await advance(5);
const cancelGas = await measure("cancelStream, unanswered (native)", await streamPay.write.cancelStream([s3], { account: consumer.account }));
await advance(Number(WINDOW));
const finaliseGas = await measure("batchUpdateStreams finalising one cancel (native)", await streamPay.write.batchUpdateStreams([[s3]], { account: consumer.account }));
results["unilateral cancel + finalise (native)"] = cancelGas + finaliseGas;
await create(nativeIds[0]);
const s5 = nextId++;
await advance(5);
await measure("closeByRecipient with a voucher (native)", await streamPay.write.closeByRecipient([s5, await voucher(s5, RATE * 3n)], { account: p0 }));
await measure("withdrawBalance (native)", await streamPay.write.withdrawBalance([zeroAddress, p0.address], { account: p0 }));

// A 20-prompt chat session: one stream, a voucher withdrawal by the provider midway (its payout
// threshold), and the close with the final receipt. Per prompt, for the consumer and for everyone.
{
  const createGas = await measure("session: createStream", await create(nativeIds[1]));
  const id = nextId++;
  await advance(300);
  const withdrawGas = await measure("session: provider's voucher withdrawal", await streamPay.write.withdrawFromStream([id, await voucher(id, RATE * 20n)], { account: providers[1].account }));
  await advance(300);
  const closeGas = await measure("session: closeWithReceipt", await streamPay.write.closeWithReceipt([id, RATE * 40n, await signReceipt(providers[1], id, RATE * 40n)], { account: consumer.account }));
  results["20-prompt session, consumer's gas per prompt"] = Math.round((createGas + closeGas) / 20);
  results["20-prompt session, all parties' gas per prompt"] = Math.round((createGas + withdrawGas + closeGas) / 20);
}

// Keeper batches: abandoned streams (nobody closed them before stop + grace) across up to five
// recipients, settled by time and closed; and unanswered cancels finalised after their window.
async function abandonedBatch(size: number) {
  const ids: bigint[] = [];
  for (let i = 0; i < size; i++) {
    await create(nativeIds[i % nativeIds.length]);
    ids.push(nextId++);
  }
  await advance(3600 + Number(GRACE));
  const gas = await measure(`batchUpdateStreams x${size} (abandoned)`, await streamPay.write.batchUpdateStreams([ids], { account: keeper.account }));
  results[`batchUpdateStreams per stream x${size} (abandoned)`] = Math.round(gas / size);
}
for (const size of [1, 10, 50]) await abandonedBatch(size);
{
  const ids: bigint[] = [];
  for (let i = 0; i < 50; i++) {
    await create(nativeIds[i % nativeIds.length]);
    ids.push(nextId++);
  }
  await advance(10);
  for (const id of ids) await streamPay.write.cancelStream([id], { account: consumer.account });
  await advance(Number(WINDOW));
  const gas = await measure("batchUpdateStreams x50 (finalising cancels)", await streamPay.write.batchUpdateStreams([ids], { account: keeper.account }));
  results["batchUpdateStreams per stream x50 (finalising cancels)"] = Math.round(gas / 50);
}

const targets: Record<string, number> = {
  "createStream (native)": 100_000,
  "closeWithReceipt (native)": 70_000,
  "paid request: create + closeWithReceipt (native)": 160_000,
  "withdrawFromStream, authorised session key (native)": 70_000,
  "unilateral cancel + finalise (native)": 120_000,
  "batchUpdateStreams per stream x50 (abandoned)": 15_000,
  "20-prompt session, consumer's gas per prompt": 10_000,
};
const width = Math.max(...Object.keys(results).map((k) => k.length));
console.log(`${"operation".padEnd(width)}  ${"gas".padStart(9)}  target`);
for (const [label, gas] of Object.entries(results)) {
  const target = targets[label];
  const verdict = target === undefined ? "" : `${target.toLocaleString("en-US")} ${gas <= target ? "met" : "NOT met"}`;
  console.log(`${label.padEnd(width)}  ${gas.toLocaleString("en-US").padStart(9)}  ${verdict}`);
}
const out = new URL("../gas-snapshot.json", import.meta.url);
writeFileSync(out, JSON.stringify(results, null, 2) + "\n");
console.log(`\nwrote ${out.pathname}`);
