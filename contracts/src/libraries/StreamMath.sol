// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title StreamMath
/// @notice The formulas of StreamPay, in one place. Amounts in asset units, times in unix seconds.
library StreamMath {
    /// @notice Keeper reward in basis points of the settled amount (0.1%).
    uint256 internal constant KEEPER_FEE_BPS = 10;
    uint256 internal constant BPS = 10_000;

    /// @notice streamed(t) = rate * (min(t, stop) - start) for t > start, else 0.
    function streamedAt(uint256 ratePerSecond, uint256 startTime, uint256 stopTime, uint256 time)
        internal
        pure
        returns (uint256)
    {
        if (time <= startTime) return 0;
        if (time > stopTime) time = stopTime;
        unchecked {
            // rate < 2^96 and time - start < 2^40: no overflow.
            return ratePerSecond * (time - startTime);
        }
    }

    /// @notice How many whole seconds `amount` buys at `ratePerSecond`, and the part of `amount` they use.
    /// @dev amount - usedAmount < ratePerSecond is the dust returned to the payer.
    function buySeconds(uint256 amount, uint256 ratePerSecond)
        internal
        pure
        returns (uint256 durationSeconds, uint256 usedAmount)
    {
        durationSeconds = amount / ratePerSecond;
        usedAmount = durationSeconds * ratePerSecond;
    }

    /// @notice The keeper's reward for settling `settledAmount` (rounded down, in the recipient's favour).
    function keeperReward(uint256 settledAmount) internal pure returns (uint256) {
        return settledAmount * KEEPER_FEE_BPS / BPS;
    }
}
