// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Test} from "../utils/Test.sol";
import {StreamMath} from "../../src/libraries/StreamMath.sol";

/// @notice The accrual formulas on their own, over their whole documented domain
/// (rate < 2^96, times and durations < 2^40).
contract StreamMath_Fuzz_Test is Test {
    uint256 internal constant MAX_RATE = type(uint96).max;
    uint256 internal constant MAX_TIME = type(uint40).max;

    function _stream(uint256 rate, uint256 start, uint256 duration)
        private
        pure
        returns (uint256, uint256, uint256)
    {
        rate = bound(rate, 1, MAX_RATE);
        start = bound(start, 0, MAX_TIME - 1);
        duration = bound(duration, 1, MAX_TIME - start);
        return (rate, start, start + duration);
    }

    function testFuzz_StreamedAt_ZeroAtOrBeforeStart(uint256 rate, uint256 start, uint256 duration, uint256 time)
        public
        pure
    {
        uint256 stop;
        (rate, start, stop) = _stream(rate, start, duration);
        time = bound(time, 0, start);
        assertEq(StreamMath.streamedAt(rate, start, stop, time), 0, "nothing streams until after the start");
    }

    function testFuzz_StreamedAt_EqualsRateTimesElapsed(uint256 rate, uint256 start, uint256 duration, uint256 time)
        public
        pure
    {
        uint256 stop;
        (rate, start, stop) = _stream(rate, start, duration);
        time = bound(time, start, stop);
        uint256 elapsed = time - start;
        assertEq(StreamMath.streamedAt(rate, start, stop, time), rate * elapsed, "rate * (t - start)");
    }

    function testFuzz_StreamedAt_CappedAtDepositAfterStop(
        uint256 rate,
        uint256 start,
        uint256 duration,
        uint256 time
    ) public pure {
        uint256 stop;
        (rate, start, stop) = _stream(rate, start, duration);
        time = bound(time, stop, type(uint256).max);
        assertEq(StreamMath.streamedAt(rate, start, stop, time), rate * (stop - start), "the whole deposit");
    }

    function testFuzz_StreamedAt_MonotoneAndNeverAboveDeposit(
        uint256 rate,
        uint256 start,
        uint256 duration,
        uint256 t1,
        uint256 t2
    ) public pure {
        uint256 stop;
        (rate, start, stop) = _stream(rate, start, duration);
        t1 = bound(t1, 0, MAX_TIME * 2);
        t2 = bound(t2, t1, MAX_TIME * 2);
        uint256 deposit = rate * (stop - start);
        uint256 a = StreamMath.streamedAt(rate, start, stop, t1);
        uint256 b = StreamMath.streamedAt(rate, start, stop, t2);
        assertLe(a, b, "non-decreasing in time");
        assertLe(b, deposit, "never above the deposit");
        // Whole seconds only: what has streamed is always a multiple of the rate.
        assertEq(b % rate, 0, "multiple of the rate");
        assertEq(a % rate, 0, "multiple of the rate");
    }

    function testFuzz_StreamedAt_OneSecondStepIsTheRate(uint256 rate, uint256 start, uint256 duration, uint256 t)
        public
        pure
    {
        uint256 stop;
        (rate, start, stop) = _stream(rate, start, duration);
        t = bound(t, start, stop - 1);
        assertEq(
            StreamMath.streamedAt(rate, start, stop, t + 1) - StreamMath.streamedAt(rate, start, stop, t),
            rate,
            "each second while streaming adds exactly the rate"
        );
    }

    function testFuzz_BuySeconds_DustBelowRate(uint256 amount, uint256 rate) public pure {
        rate = bound(rate, 1, MAX_RATE);
        amount = bound(amount, 0, type(uint256).max - MAX_RATE);
        (uint256 durationSeconds, uint256 usedAmount) = StreamMath.buySeconds(amount, rate);
        assertLe(usedAmount, amount, "never uses more than given");
        assertLt(amount - usedAmount, rate, "dust < one second's price");
        assertEq(usedAmount, durationSeconds * rate, "used = whole seconds * rate");
        // durationSeconds is the largest whole number of seconds the amount pays for.
        assertGt(usedAmount + rate, amount, "one more second would cost more than the amount");
    }

    function testFuzz_BuySeconds_ExactMultipleHasNoDust(uint256 secondsBought, uint256 rate) public pure {
        rate = bound(rate, 1, MAX_RATE);
        secondsBought = bound(secondsBought, 0, MAX_TIME);
        (uint256 durationSeconds, uint256 usedAmount) = StreamMath.buySeconds(secondsBought * rate, rate);
        assertEq(durationSeconds, secondsBought, "seconds");
        assertEq(usedAmount, secondsBought * rate, "no dust");
    }

    function testFuzz_KeeperReward_IsFloorOfTenBps(uint256 amount) public pure {
        amount = bound(amount, 0, type(uint256).max / 10_000);
        uint256 reward = StreamMath.keeperReward(amount);
        // floor(amount * 10 / 10000): reward * 10000 <= amount * 10 < (reward + 1) * 10000.
        assertLe(reward * 10_000, amount * 10, "not rounded up");
        assertLt(amount * 10, (reward + 1) * 10_000, "rounded down by less than one unit");
        assertLe(reward, amount, "never above the amount");
        assertEq(StreamMath.KEEPER_FEE_BPS, 10, "0.1%");
    }

    function testFuzz_KeeperReward_ZeroBelowOneThousandUnits(uint256 amount) public pure {
        amount = bound(amount, 0, 999);
        assertEq(StreamMath.keeperReward(amount), 0, "rounded down to zero in the recipient's favour");
    }

    function testFuzz_KeeperReward_SplittingNeverPaysMore(uint256 a, uint256 b) public pure {
        a = bound(a, 0, type(uint128).max);
        b = bound(b, 0, type(uint128).max);
        assertLe(
            StreamMath.keeperReward(a) + StreamMath.keeperReward(b),
            StreamMath.keeperReward(a + b),
            "settling in parts never earns the keeper more"
        );
    }
}
