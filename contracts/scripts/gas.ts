/**
 * Gas benchmark: total transaction gas (receipt gasUsed) of every money path, written to
 * contracts/gas-snapshot.json (committed, so a change that costs gas shows in review) and printed with
 * the targets. Run: `npm run gas` (Hardhat's in-process chain, no server).
 */
import { writeFileSync } from "node:fs";
import { network } from "hardhat";
import { type Hex, zeroAddress } from "viem";

const { viem } = await network.create();
const pub = await viem.getPublicClient();
const test = await viem.getTestClient();
const wallets = await viem.getWalletClients();
const [, consumer, keeper] = wallets;
const providers = wallets.slice(3, 8); // five provider wallets
const chainId = await pub.getChainId();

const streamPay = await viem.deployContract("StreamPay", [0n, 3600n]);
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
const signReceipt = (signer: (typeof wallets)[number], streamId: bigint, amount: bigint) =>
  signer.signTypedData({
    account: signer.account!,
    domain: { name: "StreamPay", version: "1", chainId, verifyingContract: streamPay.address },
    types: { Receipt: [{ name: "streamId", type: "uint256" }, { name: "amount", type: "uint256" }, { name: "final", type: "bool" }] },
    primaryType: "Receipt",
    message: { streamId, amount, final: true },
  });

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

const create = (providerId: bigint, native = true) =>
  streamPay.write.createStream([providerId, RATE, DEPOSIT], { account: consumer.account, value: native ? DEPOSIT : 0n });

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
await create(nativeIds[0]);
const s1 = nextId++;
await create(tokenIds[0], false);
const s2 = nextId++;
await advance(10);
await measure("topUp (native)", await streamPay.write.topUp([s1, DEPOSIT], { account: consumer.account, value: DEPOSIT }));
await measure("topUp (ERC-20)", await streamPay.write.topUp([s2, DEPOSIT], { account: consumer.account }));
await measure("withdrawFromStream (native)", await streamPay.write.withdrawFromStream([s1], { account: keeper.account }));
await measure("withdrawFromStream (ERC-20)", await streamPay.write.withdrawFromStream([s2], { account: keeper.account }));
await advance(5);
await measure("cancelStream (native)", await streamPay.write.cancelStream([s1], { account: consumer.account }));
await measure("cancelStream (ERC-20)", await streamPay.write.cancelStream([s2], { account: consumer.account }));
await create(nativeIds[0]);
const s5 = nextId++;
await advance(5);
await measure("closeByRecipient (native)", await streamPay.write.closeByRecipient([s5, RATE * 3n], { account: providers[0].account }));
await measure("withdrawBalance (native)", await streamPay.write.withdrawBalance([zeroAddress, providers[0].account.address], { account: providers[0].account }));

// Keeper batches over open native streams spread across up to five recipients.
async function batch(size: number, depleted: boolean) {
  const ids: bigint[] = [];
  for (let i = 0; i < size; i++) {
    await create(nativeIds[i % nativeIds.length]);
    ids.push(nextId++);
  }
  await advance(depleted ? 4000 : 60);
  const gas = await measure(`batchUpdateStreams x${size}${depleted ? " (all depleted, closing)" : ""}`, await streamPay.write.batchUpdateStreams([ids], { account: keeper.account }));
  results[`batchUpdateStreams per stream x${size}${depleted ? " (all depleted, closing)" : ""}`] = Math.round(gas / size);
}
for (const size of [1, 10, 50]) await batch(size, false);
await batch(50, true);

const targets: Record<string, number> = {
  "createStream (native)": 100_000,
  "closeWithReceipt (native)": 60_000,
  "paid request: create + closeWithReceipt (native)": 160_000,
  "batchUpdateStreams per stream x50": 15_000,
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
