import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // One deploy for the whole suite: every test file forks that chain state into its own anvil.
    globalSetup: ["test/global-setup.ts"],
    // Files start their own chain, Ponder and (for the Postgres variant) a PostgreSQL server.
    fileParallelism: true,
    maxWorkers: 2,
    testTimeout: 180_000,
    hookTimeout: 240_000,
    teardownTimeout: 60_000,
  },
});
