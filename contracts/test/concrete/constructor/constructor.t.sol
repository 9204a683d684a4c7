// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ConcreteTest} from "../Concrete.t.sol";
import {StreamPay} from "../../../src/StreamPay.sol";
import {ComputeRegistry} from "../../../src/ComputeRegistry.sol";
import {Errors} from "../../../src/libraries/Errors.sol";
import {StreamStatus} from "../../../src/types/DataTypes.sol";

/// @notice The constructor: grace period and challenge window are each between 1 second and 30 days, fixed
/// at deployment, and StreamPay deploys its own registry with the stake rules.
contract Constructor_Test is ConcreteTest {
    uint256 internal constant MAX_DURATION = 30 days;

    /*//////////////////////////////////////////////////////////////
                               SUCCESS PATHS
    //////////////////////////////////////////////////////////////*/

    function test_WhenParametersValid_StoresThemAndDeploysTheRegistry() public {
        StreamPay pay = new StreamPay(2 ether, 3 days, 300, 120);
        ComputeRegistry reg = ComputeRegistry(address(pay.registry()));

        assertEq(pay.gracePeriod(), 300, "grace period");
        assertEq(pay.challengeWindow(), 120, "challenge window");
        assertEq(pay.nextStreamId(), 1, "ids start at 1");
        assertEq(reg.streamPay(), address(pay), "the registry's only StreamPay");
        assertEq(reg.minStake(), 2 ether, "min stake");
        assertEq(reg.stakeCooldown(), 3 days, "stake cooldown");
        assertEq(reg.providerCount(), 0, "empty registry");
    }

    function test_WhenDurationsAtTheirBounds_Accepted() public {
        StreamPay shortest = new StreamPay(0, 0, 1, 1);
        assertEq(shortest.gracePeriod(), 1, "1 s grace");
        assertEq(shortest.challengeWindow(), 1, "1 s window");
        StreamPay longest = new StreamPay(0, 0, MAX_DURATION, MAX_DURATION);
        assertEq(longest.gracePeriod(), MAX_DURATION, "30 days grace");
        assertEq(longest.challengeWindow(), MAX_DURATION, "30 days window");
    }

    function test_WhenDeployedWithLocalChainDefaults_TheyGovernTheStreams() public {
        // 300 s grace and 120 s window, as on the local dev chain.
        StreamPay pay = new StreamPay(0, 0, 300, 120);
        ComputeRegistry reg = ComputeRegistry(address(pay.registry()));
        vm.prank(provider);
        uint256 providerId = reg.registerProvider(MODEL, RATE, ENDPOINT, SERVICE_TYPE, address(0));
        vm.startPrank(alice);
        uint256 cancelled = pay.createStream{value: RATE * 100}(providerId, RATE, RATE * 100, address(0));
        uint256 abandoned = pay.createStream{value: RATE * 100}(providerId, RATE, RATE * 100, address(0));
        vm.stopPrank();
        skipTime(10);
        vm.prank(alice);
        pay.cancelStream(cancelled);
        assertEq(pay.getStreamView(cancelled).challengeEndsAt, START_TIME + 10 + 120, "window of 120 s");
        assertEq(pay.getStreamView(abandoned).abandonedAt, START_TIME + 100 + 300, "grace of 300 s");

        uint256[] memory ids = new uint256[](2);
        ids[0] = cancelled;
        ids[1] = abandoned;
        vm.warp(START_TIME + 10 + 119);
        assertEq(pay.batchUpdateStreams(ids), 0, "window still open");
        vm.warp(START_TIME + 10 + 120);
        assertEq(pay.batchUpdateStreams(ids), 1, "window over: finalised");
        vm.warp(START_TIME + 100 + 299);
        assertEq(pay.batchUpdateStreams(ids), 0, "grace still running");
        vm.warp(START_TIME + 100 + 300);
        assertEq(pay.batchUpdateStreams(ids), 1, "abandoned: settled");
        assertTrue(pay.getStream(cancelled).status == StreamStatus.Cancelled, "cancelled");
        assertTrue(pay.getStream(abandoned).status == StreamStatus.Settled, "settled");
    }

    /*//////////////////////////////////////////////////////////////
                                 REVERTS
    //////////////////////////////////////////////////////////////*/

    function test_RevertWhen_GracePeriodZero() public {
        vm.expectRevert(abi.encodeWithSelector(Errors.StreamPay_InvalidDuration.selector, "gracePeriod", 0));
        new StreamPay(0, 0, 0, 120);
    }

    function test_RevertWhen_GracePeriodAboveThirtyDays() public {
        vm.expectRevert(
            abi.encodeWithSelector(Errors.StreamPay_InvalidDuration.selector, "gracePeriod", MAX_DURATION + 1)
        );
        new StreamPay(0, 0, MAX_DURATION + 1, 120);
    }

    function test_RevertWhen_ChallengeWindowZero() public {
        vm.expectRevert(abi.encodeWithSelector(Errors.StreamPay_InvalidDuration.selector, "challengeWindow", 0));
        new StreamPay(0, 0, 300, 0);
    }

    function test_RevertWhen_ChallengeWindowAboveThirtyDays() public {
        vm.expectRevert(
            abi.encodeWithSelector(Errors.StreamPay_InvalidDuration.selector, "challengeWindow", MAX_DURATION + 1)
        );
        new StreamPay(0, 0, 300, MAX_DURATION + 1);
    }

    function test_RevertWhen_BothInvalid_NamesTheGracePeriodFirst() public {
        vm.expectRevert(abi.encodeWithSelector(Errors.StreamPay_InvalidDuration.selector, "gracePeriod", 0));
        new StreamPay(0, 0, 0, 0);
    }
}
