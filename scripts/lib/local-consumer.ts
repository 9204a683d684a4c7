/**
 * A paid inference against the local stack, through the consumer agent's library, paid by the dev
 * chain's account #2 (a well-known key: local chain only).
 */
import { formatEther } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { ClawConsumer } from "@clawcompute/consumer-agent";
import { DEV_PRIVATE_KEYS } from "./devchain.ts";

export type LocalStackInfo = {
  rpcUrl: string;
  indexerUrl: string;
  providerUrl: string;
  model: string;
  deploymentsDir?: string;
  dataDir: string;
};

export type PaidAnswer = Awaited<ReturnType<ClawConsumer["ask"]>>;

export async function askLocal(stack: LocalStackInfo, prompt: string, out: (text: string) => void = (t) => process.stdout.write(t)): Promise<PaidAnswer> {
  const consumer = await ClawConsumer.create({
    account: privateKeyToAccount(DEV_PRIVATE_KEYS[2]),
    rpcUrl: stack.rpcUrl,
    chainId: 31337,
    deploymentsDir: stack.deploymentsDir,
    indexerUrl: stack.indexerUrl,
    model: stack.model,
    budget: 1_000_000_000_000_000n, // 0.001 ETH at most per question
    dataDir: `${stack.dataDir}/consumer`,
  });
  const answer = await consumer.ask({ prompt, onToken: out });
  const s = answer.summary;
  out(
    `\n\n  provider ${answer.providerId}, stream ${answer.streamId}, ${(answer.measuredMs / 1000).toFixed(3)} s of serving measured\n` +
      `  deposited  ${formatEther(s.deposited)} ETH\n` +
      `  paid       ${formatEther(s.paid)} ETH   (exactly the provider's final receipt)\n` +
      `  came back  ${formatEther(s.refunded)} ETH\n` +
      `  gas        ${formatEther(s.gasCost)} ETH (${s.gasUsed} gas)\n`,
  );
  return answer;
}
