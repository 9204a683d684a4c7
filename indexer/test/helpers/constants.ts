/** Deploy parameters of the test chain: a small stake and a short cooldown, so stake flows run in real time. */
export const MIN_STAKE_WEI = 10n ** 15n;
export const STAKE_COOLDOWN_SECONDS = 2n;
/**
 * StreamPay's grace period and challenge window on the test chain, seconds. Not the deploy defaults, so a
 * figure that only matches because someone hard-coded a default fails; the suite warps time past them.
 */
export const GRACE_PERIOD_SECONDS = 200n;
export const CHALLENGE_WINDOW_SECONDS = 60n;
