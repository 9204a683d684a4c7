import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";

/** A mintable 6-decimal "TestUSD" stablecoin, deployed on local and test chains only. */
export default buildModule("TestUSD", (m) => {
  const testUsd = m.contract("TestToken", ["Test USD", "TUSD", 6]);
  return { testUsd };
});
