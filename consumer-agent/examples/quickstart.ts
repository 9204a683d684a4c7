/**
 * The library in a few lines (README "The library"). Run against a local stack:
 *
 *   CONSUMER_PRIVATE_KEY=0x… npx tsx examples/quickstart.ts
 *
 * Env: CONSUMER_RPC_URL (http://127.0.0.1:8545), CONSUMER_CHAIN_ID (31337), CONSUMER_DEPLOYMENTS_DIR,
 * CONSUMER_INDEXER_URL (optional), CONSUMER_MODEL (echo-1).
 */
import { loadAccount } from "@clawcompute/sdk/node";
import { ClawConsumer } from "@clawcompute/consumer-agent";

// The key from the environment (or a keystore), never from code or arguments.
const account = loadAccount({ privateKey: process.env.CONSUMER_PRIVATE_KEY });

const consumer = await ClawConsumer.create({
  account,
  rpcUrl: process.env.CONSUMER_RPC_URL ?? "http://127.0.0.1:8545",
  chainId: Number(process.env.CONSUMER_CHAIN_ID ?? 31337),
  deploymentsDir: process.env.CONSUMER_DEPLOYMENTS_DIR, // default: the repository's deployments/
  indexerUrl: process.env.CONSUMER_INDEXER_URL, // undefined: the registry only
  model: process.env.CONSUMER_MODEL ?? "echo-1",
  budget: 1_000_000_000_000_000n, // per ask / session, in the asset's smallest unit (0.001 ETH)
  maxTokens: 16,
});

// Providers of the model, best first.
const { providers, source } = await consumer.providers();
console.log(`${providers.length} provider(s) from the ${source}; best: #${providers[0]?.id} at ${providers[0]?.pricePerSecond} wei/s`);

// One answer: open a stream, stream the answer, close with the verified final receipt.
const answer = await consumer.ask({ prompt: "What is a payment stream?", onToken: (t) => process.stdout.write(t) });
const s = answer.summary;
console.log(`\nask: deposited ${s.deposited}, paid ${s.paid}, came back ${s.refunded}, gas ${s.gasCost} wei`);

// A session: one stream for many prompts, closed at the end.
const chat = consumer.session();
await chat.send("Hello", { onToken: (t) => process.stdout.write(t) });
await chat.send("And then?", { onToken: (t) => process.stdout.write(t) });
const summary = await chat.close();
console.log(`\nchat: ${summary.streams[0].requests} prompts on stream ${summary.streams[0].streamId}, paid ${summary.paid}, gas ${summary.gasCost} wei`);

// This wallet's streams.
const { streams } = await consumer.streams();
for (const st of streams) console.log(`stream ${st.id}: ${st.status}, deposited ${st.deposited}, streamed ${st.streamed}, refunded ${st.refunded}`);
