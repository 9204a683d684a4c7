import { createRequire } from "node:module";
import { defineConfig } from "hardhat/config";
import hardhatViem from "@nomicfoundation/hardhat-viem";
import hardhatIgnitionViem from "@nomicfoundation/hardhat-ignition-viem";

// Compile with the npm `solc` package (solc-js): no compiler download needed.
const require = createRequire(import.meta.url);
const solcPath = require.resolve("solc/soljson.js");
const solcVersion: string = require("solc/package.json").version;

export default defineConfig({
  plugins: [hardhatViem, hardhatIgnitionViem],
  paths: { sources: "./src", tests: { solidity: "./test" } },
  solidity: {
    version: solcVersion,
    path: solcPath,
    settings: {
      evmVersion: "cancun",
      viaIR: true,
      optimizer: { enabled: true, runs: 10_000 },
    },
  },
  test: {
    solidity: {
      profiles: {
        default: {
          fuzz: { runs: 256 },
          invariant: { runs: 64, depth: 50, failOnRevert: false },
        },
        ci: {
          fuzz: { runs: 1024 },
          invariant: { runs: 256, depth: 100, failOnRevert: false },
        },
      },
    },
  },
  networks: {
    localhost: { type: "http", chainType: "l1", url: process.env.RPC_URL ?? "http://127.0.0.1:8545" },
  },
});
