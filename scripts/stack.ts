/**
 * `npm start`: brings up the local ClawCompute stack and runs one paid request end to end.
 *
 *   1. builds the contracts and the SDK's ABIs,
 *   2. starts a local chain (anvil) on 127.0.0.1:$CHAIN_PORT (default 8545, or a free port if taken),
 *   3. deploys the contracts (writes deployments/31337.json),
 *   4. a provider (dev account #1) registers, a consumer (dev account #2) opens a stream, is served for
 *      4.2 seconds, and closes the stream with the provider's signed final receipt,
 *   5. prints what each side paid and got back, then keeps the chain up until Ctrl-C (`--once` exits).
 *
 * Uses the chain's well-known dev accounts: for the local chain only.
 */
import { spawnSync } from "node:child_process";
import { parseArgs } from "node:util";
import {
  createWalletClient,
  formatEther,
  http,
  publicActions,
  zeroAddress,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import {
  chainById,
  chargeForMs,
  computeRegistryAbi,
  perSecondToPerHour,
  signReceipt,
  streamPayAbi,
} from "@clawcompute/sdk";
import { DEV_PRIVATE_KEYS, deployContracts, repoRoot, startChain } from "./lib/devchain.ts";
import { freePort, isPortFree, stopAll } from "./lib/processes.ts";

const { values: flags } = parseArgs({ options: { once: { type: "boolean", default: false } } });

function step(message: string) {
  console.log(`\n▸ ${message}`);
}

async function main() {
  step("Building contracts and ABIs");
  const build = spawnSync("npm", ["run", "--silent", "build"], { cwd: repoRoot, stdio: "inherit" });
  if (build.status !== 0) throw new Error("Build failed (see above).");

  const wanted = Number(process.env.CHAIN_PORT ?? 8545);
  const port = (await isPortFree(wanted)) ? wanted : await freePort();
  step(`Starting the local chain on 127.0.0.1:${port}${port !== wanted ? ` (${wanted} is taken)` : ""}`);
  const chain = await startChain({ port });

  step("Deploying the contracts");
  const deployment = await deployContracts({ rpcUrl: chain.rpcUrl });
  const { StreamPay, ComputeRegistry } = deployment.contracts;
  console.log(`  StreamPay       ${StreamPay.address}\n  ComputeRegistry ${ComputeRegistry.address}`);

  const local = chainById(31337, chain.rpcUrl);
  const provider = createWalletClient({ account: privateKeyToAccount(DEV_PRIVATE_KEYS[1]), chain: local, transport: http(chain.rpcUrl) }).extend(publicActions);
  const consumer = createWalletClient({ account: privateKeyToAccount(DEV_PRIVATE_KEYS[2]), chain: local, transport: http(chain.rpcUrl) }).extend(publicActions);

  const model = "echo-1";
  const price = 1_000_000_000_000n; // wei per second
  step(`Provider ${provider.account.address} registers "${model}" at ${formatEther(perSecondToPerHour(price))} ETH/hour`);
  let providerId = await provider.readContract({ address: ComputeRegistry.address, abi: computeRegistryAbi, functionName: "providerIdOf", args: [provider.account.address, model] });
  if (providerId === 0n) {
    await provider.waitForTransactionReceipt({ hash: await provider.writeContract({ address: ComputeRegistry.address, abi: computeRegistryAbi, functionName: "registerProvider", args: [model, price, "http://127.0.0.1:8787", "llm", zeroAddress] }) });
    providerId = await provider.readContract({ address: ComputeRegistry.address, abi: computeRegistryAbi, functionName: "providerIdOf", args: [provider.account.address, model] });
  }
  console.log(`  provider id ${providerId}`);

  const deposit = price * 60n; // one minute of runway
  step(`Consumer ${consumer.account.address} opens a stream with ${formatEther(deposit)} ETH (60 s of runway)`);
  const before = await consumer.getBalance({ address: consumer.account.address });
  const { result: streamId, request } = await consumer.simulateContract({ address: StreamPay.address, abi: streamPayAbi, functionName: "createStream", args: [providerId, price, deposit], value: deposit });
  const created = await consumer.waitForTransactionReceipt({ hash: await consumer.writeContract(request) });
  console.log(`  stream ${streamId} (gas ${created.gasUsed})`);

  const servedMs = 4_200;
  step(`Serving for ${servedMs / 1000} s`);
  await new Promise((r) => setTimeout(r, servedMs + 800)); // the chain's clock must pass the served time
  const amount = chargeForMs(price, servedMs);
  const signature = await signReceipt(provider.account, { chainId: 31337, streamPay: StreamPay.address }, { streamId, amount, final: true });
  console.log(`  provider signs its final receipt: ${formatEther(amount)} ETH`);

  step("Consumer closes the stream with the final receipt (exact billing)");
  const closed = await consumer.waitForTransactionReceipt({ hash: await consumer.writeContract({ address: StreamPay.address, abi: streamPayAbi, functionName: "closeWithReceipt", args: [streamId, amount, signature] }) });
  const after = await consumer.getBalance({ address: consumer.account.address });
  const gas = created.gasUsed * created.effectiveGasPrice + closed.gasUsed * closed.effectiveGasPrice;
  const earned = await consumer.readContract({ address: StreamPay.address, abi: streamPayAbi, functionName: "balanceOf", args: [provider.account.address, zeroAddress] });
  const view = await consumer.readContract({ address: StreamPay.address, abi: streamPayAbi, functionName: "getStreamView", args: [streamId] });
  console.log(`  deposited          ${formatEther(view.deposited)} ETH`);
  console.log(`  paid for 4.2 s     ${formatEther(view.withdrawn)} ETH (provider's claimable balance: ${formatEther(earned)} ETH)`);
  console.log(`  refunded           ${formatEther(view.refunded)} ETH`);
  console.log(`  consumer net cost  ${formatEther(before - after - gas)} ETH + ${formatEther(gas)} ETH gas (${created.gasUsed + closed.gasUsed} gas)`);
  if (view.withdrawn !== amount || before - after - gas !== amount) throw new Error("The stream did not bill exactly the receipt amount.");

  if (flags.once) return;
  console.log(`\nLocal chain running at ${chain.rpcUrl} (chain id 31337). Ctrl-C to stop.`);
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
}

try {
  await main();
} catch (error) {
  console.error(`\n✗ ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
} finally {
  await stopAll();
}
