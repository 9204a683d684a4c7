import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";

/**
 * StreamPay and the ComputeRegistry it deploys in its constructor (so only StreamPay can ever record
 * completions: there is no wiring step and no admin).
 * Parameters: minStake (wei, default 0), stakeCooldown (seconds, default 7 days), gracePeriod and
 * challengeWindow (seconds, default one hour each: what a public chain needs; local chains pass minutes).
 */
export default buildModule("ClawCompute", (m) => {
  const minStake = m.getParameter("minStake", 0n);
  const stakeCooldown = m.getParameter("stakeCooldown", 7n * 24n * 60n * 60n);
  const gracePeriod = m.getParameter("gracePeriod", 3600n);
  const challengeWindow = m.getParameter("challengeWindow", 3600n);
  const streamPay = m.contract("StreamPay", [minStake, stakeCooldown, gracePeriod, challengeWindow]);
  const registry = m.contractAt("ComputeRegistry", m.staticCall(streamPay, "registry"));
  return { streamPay, registry };
});
