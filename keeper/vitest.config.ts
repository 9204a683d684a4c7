import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Each file that needs a chain starts its own anvil and deploys the contracts to it: the keeper tests
    // move the chain's time and a running keeper settles whatever is due, so files must not share a chain.
    testTimeout: 120_000,
    hookTimeout: 180_000,
    pool: "forks",
    maxWorkers: 2,
  },
});
