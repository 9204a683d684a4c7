/** Deploy parameters of the test chain: a small stake and a short cooldown, so stake flows run in real time. */
export const MIN_STAKE_WEI = 10n ** 15n;
export const STAKE_COOLDOWN_SECONDS = 2n;
