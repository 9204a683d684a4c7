import { createRequire } from "node:module";
import { configVariable, defineConfig } from "hardhat/config";
import hardhatViem from "@nomicfoundation/hardhat-viem";
import hardhatIgnitionViem from "@nomicfoundation/hardhat-ignition-viem";

// Compile with the npm `solc` package (solc-js): no compiler download needed.
const require = createRequire(import.meta.url);
const solcPath = require.resolve("solc/soljson.js");
const solcVersion: string = require("solc/package.json").version;

export default defineConfig({
  plugins: [hardhatViem, hardhatIgnitionViem],
  paths: {
    sources: "./src",
    tests: { solidity: "./test" },
    // Tests that deploy to throwaway chains point this at a temporary folder.
    ignition: process.env.IGNITION_DIR ?? "./ignition",
    // Separate build output lets two builds run side by side without sharing files.
    artifacts: process.env.HARDHAT_ARTIFACTS_DIR ?? "./artifacts",
    cache: process.env.HARDHAT_CACHE_DIR ?? "./cache",
  },
  solidity: {
    version: solcVersion,
    path: solcPath,
    settings: {
      evmVersion: "cancun",
      // SOLC_FAST=1 skips the IR pipeline (seconds instead of minutes) for quick local iterations only:
      // deployments, the gas snapshot and `npm test` always build the via-IR bytecode that ships.
      viaIR: !process.env.SOLC_FAST,
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
  // Keys come from the environment or Hardhat's encrypted keystore (`npx hardhat keystore set
  // DEPLOYER_PRIVATE_KEY`), never from the command line. `localhost` uses the dev chain's unlocked accounts.
  networks: {
    localhost: { type: "http", chainType: "l1", url: process.env.RPC_URL ?? "http://127.0.0.1:8545" },
    bscTestnet: {
      type: "http",
      chainType: "l1",
      url: configVariable("BSC_TESTNET_RPC_URL"),
      accounts: [configVariable("DEPLOYER_PRIVATE_KEY")],
    },
    opBNBTestnet: {
      type: "http",
      chainType: "op",
      url: configVariable("OPBNB_TESTNET_RPC_URL"),
      accounts: [configVariable("DEPLOYER_PRIVATE_KEY")],
    },
    baseSepolia: {
      type: "http",
      chainType: "op",
      url: configVariable("BASE_SEPOLIA_RPC_URL"),
      accounts: [configVariable("DEPLOYER_PRIVATE_KEY")],
    },
  },
});
