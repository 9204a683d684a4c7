// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {BaseTest} from "../../Base.t.sol";
import {Errors} from "../../../src/libraries/Errors.sol";
import {IComputeRegistry} from "../../../src/interfaces/IComputeRegistry.sol";
import {StreamStatus} from "../../../src/types/DataTypes.sol";

/// @notice ComputeRegistry.rateProvider: the sender of a closed stream that paid something rates its
/// provider once, 1..5; the registry keeps the count and the sum. A cancelling stream is not closed yet:
/// its recipient may still answer.
contract RateProvider_Test is BaseTest {
    uint256 internal constant SECONDS = 1000;

    /*//////////////////////////////////////////////////////////////
                                 REVERTS
    //////////////////////////////////////////////////////////////*/

    function test_RevertWhen_ScoreZero() public {
        uint256 streamId = _cancelledAfter(alice, 100);
        vm.expectRevert(abi.encodeWithSelector(Errors.Registry_InvalidRating.selector, 0));
        vm.prank(alice);
        registry.rateProvider(streamId, 0);
    }

    function test_RevertWhen_ScoreSix() public {
        uint256 streamId = _cancelledAfter(alice, 100);
        vm.expectRevert(abi.encodeWithSelector(Errors.Registry_InvalidRating.selector, 6));
        vm.prank(alice);
        registry.rateProvider(streamId, 6);
    }

    function test_RevertWhen_ScoreMaxUint8() public {
        uint256 streamId = _cancelledAfter(alice, 100);
        vm.expectRevert(abi.encodeWithSelector(Errors.Registry_InvalidRating.selector, 255));
        vm.prank(alice);
        registry.rateProvider(streamId, 255);
    }

    function test_RevertWhen_UnknownStream() public {
        vm.expectRevert(abi.encodeWithSelector(Errors.StreamPay_UnknownStream.selector, 77));
        vm.prank(alice);
        registry.rateProvider(77, 5);
    }

    function test_RevertWhen_CallerIsAnOutsider() public {
        uint256 streamId = _cancelledAfter(alice, 100);
        vm.expectRevert(abi.encodeWithSelector(Errors.Registry_NotStreamSender.selector, streamId, eve, alice));
        vm.prank(eve);
        registry.rateProvider(streamId, 1);
    }

    function test_RevertWhen_CallerIsTheRecipient() public {
        uint256 streamId = _cancelledAfter(alice, 100);
        vm.expectRevert(abi.encodeWithSelector(Errors.Registry_NotStreamSender.selector, streamId, provider, alice));
        vm.prank(provider);
        registry.rateProvider(streamId, 5);
    }

    function test_RevertWhen_StreamOpen() public {
        uint256 streamId = createNative(alice, nativeProviderId, RATE * SECONDS);
        vm.warp(START_TIME + 10);
        vm.expectRevert(
            abi.encodeWithSelector(Errors.Registry_StreamNotClosed.selector, streamId, StreamStatus.Open)
        );
        vm.prank(alice);
        registry.rateProvider(streamId, 4);
    }

    function test_RevertWhen_StreamDepletedButNotSettled() public {
        uint256 streamId = createNative(alice, nativeProviderId, RATE * SECONDS);
        vm.warp(START_TIME + SECONDS * 2);
        vm.expectRevert(
            abi.encodeWithSelector(Errors.Registry_StreamNotClosed.selector, streamId, StreamStatus.Open)
        );
        vm.prank(alice);
        registry.rateProvider(streamId, 4);
    }

    function test_RevertWhen_StreamCancelling() public {
        uint256 streamId = createNative(alice, nativeProviderId, RATE * SECONDS);
        vm.warp(START_TIME + 100);
        streamPay.withdrawFromStream(streamId, voucher(aliceKey, streamId, RATE * 50)); // it paid something
        vm.prank(alice);
        streamPay.cancelStream(streamId);
        vm.expectRevert(
            abi.encodeWithSelector(Errors.Registry_StreamNotClosed.selector, streamId, StreamStatus.Cancelling)
        );
        vm.prank(alice);
        registry.rateProvider(streamId, 1);
        assertFalse(registry.isRated(streamId), "not rated");
    }

    function test_RevertWhen_CancelledBeforeAnythingStreamed() public {
        uint256 streamId = createNative(alice, nativeProviderId, RATE * SECONDS);
        vm.prank(alice);
        streamPay.cancelStream(streamId);
        vm.expectRevert(abi.encodeWithSelector(Errors.Registry_StreamPaidNothing.selector, streamId));
        vm.prank(alice);
        registry.rateProvider(streamId, 1);
    }

    function test_RevertWhen_ClosedByRecipientForNothing() public {
        uint256 streamId = createUsd(alice, usdProviderId, USD_RATE * SECONDS);
        vm.warp(START_TIME + 100);
        vm.prank(usdProvider);
        streamPay.closeByRecipient(streamId, unsignedVoucher(0));
        vm.expectRevert(abi.encodeWithSelector(Errors.Registry_StreamPaidNothing.selector, streamId));
        vm.prank(alice);
        registry.rateProvider(streamId, 1);
    }

    function test_RevertWhen_RatedTwice() public {
        uint256 streamId = _cancelledAfter(alice, 100);
        vm.prank(alice);
        registry.rateProvider(streamId, 4);
        vm.expectRevert(abi.encodeWithSelector(Errors.Registry_AlreadyRated.selector, streamId));
        vm.prank(alice);
        registry.rateProvider(streamId, 5);
        _assertRatings(nativeProviderId, 1, 4);
    }

    /*//////////////////////////////////////////////////////////////
                                 SUCCESS
    //////////////////////////////////////////////////////////////*/

    function test_WhenCancelledAfterStreaming_RecordsAndEmits() public {
        uint256 streamId = _cancelledAfter(alice, 100);
        assertFalse(registry.isRated(streamId), "not rated yet");

        vm.expectEmit(address(registry));
        emit IComputeRegistry.ProviderRated(nativeProviderId, streamId, alice, 4, 1, 4);
        vm.prank(alice);
        registry.rateProvider(streamId, 4);

        assertTrue(registry.isRated(streamId), "rated");
        _assertRatings(nativeProviderId, 1, 4);
        _assertRatings(usdProviderId, 0, 0);
    }

    function test_WhenCancelFinalisedAfterAWithdrawal_Rateable() public {
        uint256 streamId = createNative(alice, nativeProviderId, RATE * SECONDS);
        vm.warp(START_TIME + 100);
        streamPay.withdrawFromStream(streamId, voucher(aliceKey, streamId, RATE * 50));
        vm.prank(alice);
        streamPay.cancelStream(streamId);
        vm.warp(START_TIME + 100 + CHALLENGE_WINDOW);
        uint256[] memory ids = new uint256[](1);
        ids[0] = streamId;
        vm.prank(keeper);
        streamPay.batchUpdateStreams(ids);
        assertTrue(getStream(streamId).status == StreamStatus.Cancelled, "cancelled");
        vm.prank(alice);
        registry.rateProvider(streamId, 2);
        _assertRatings(nativeProviderId, 1, 2);
    }

    function test_RevertWhen_CancelFinalisedHavingPaidNothing() public {
        uint256 streamId = createNative(alice, nativeProviderId, RATE * SECONDS);
        vm.warp(START_TIME + 100);
        vm.prank(alice);
        streamPay.cancelStream(streamId);
        vm.warp(START_TIME + 100 + CHALLENGE_WINDOW);
        uint256[] memory ids = new uint256[](1);
        ids[0] = streamId;
        streamPay.batchUpdateStreams(ids);
        vm.expectRevert(abi.encodeWithSelector(Errors.Registry_StreamPaidNothing.selector, streamId));
        vm.prank(alice);
        registry.rateProvider(streamId, 1);
    }

    function test_WhenSettledByKeeper_Rateable() public {
        uint256 streamId = createUsd(alice, usdProviderId, USD_RATE * SECONDS);
        vm.warp(START_TIME + SECONDS + GRACE_PERIOD);
        uint256[] memory ids = new uint256[](1);
        ids[0] = streamId;
        vm.prank(keeper);
        streamPay.batchUpdateStreams(ids);
        assertTrue(getStream(streamId).status == StreamStatus.Settled, "settled");
        vm.prank(alice);
        registry.rateProvider(streamId, 2);
        _assertRatings(usdProviderId, 1, 2);
    }

    function test_WhenClosedWithReceipt_Rateable() public {
        uint256 streamId = createNative(alice, nativeProviderId, RATE * SECONDS);
        vm.warp(START_TIME + 50);
        bytes memory sig = signFinalReceipt(providerKey, streamId, RATE * 10);
        vm.prank(alice);
        streamPay.closeWithReceipt(streamId, RATE * 10, sig);
        vm.prank(alice);
        registry.rateProvider(streamId, 3);
        _assertRatings(nativeProviderId, 1, 3);
    }

    function test_WhenReceiptForNothingAfterAWithdrawal_Rateable() public {
        // The receipt charges 0 but the provider already took 20 s: the stream did pay it.
        uint256 streamId = createNative(alice, nativeProviderId, RATE * SECONDS);
        vm.warp(START_TIME + 20);
        streamPay.withdrawFromStream(streamId, voucher(aliceKey, streamId, RATE * 20));
        bytes memory sig = signFinalReceipt(providerKey, streamId, 0);
        vm.prank(alice);
        streamPay.closeWithReceipt(streamId, 0, sig);
        vm.prank(alice);
        registry.rateProvider(streamId, 1);
        _assertRatings(nativeProviderId, 1, 1);
    }

    function test_WhenEveryValidScore_CountAndSumAccumulate() public {
        uint256 sum;
        for (uint8 score = 1; score <= 5; ++score) {
            vm.warp(START_TIME + uint256(score) * 1000);
            uint256 streamId = createNative(bob, nativeProviderId, RATE * 100);
            vm.warp(START_TIME + uint256(score) * 1000 + 10);
            bytes memory sig = signFinalReceipt(providerKey, streamId, RATE * 10);
            vm.prank(bob);
            streamPay.closeWithReceipt(streamId, RATE * 10, sig);

            sum += score;
            vm.expectEmit(address(registry));
            emit IComputeRegistry.ProviderRated(nativeProviderId, streamId, bob, score, score, sum);
            vm.prank(bob);
            registry.rateProvider(streamId, score);
        }
        _assertRatings(nativeProviderId, 5, 15);
    }

    function test_WhenTwoSendersRateTheirOwnStreams_Independent() public {
        uint256 a = createNative(alice, nativeProviderId, RATE * SECONDS);
        uint256 b = createNative(bob, nativeProviderId, RATE * SECONDS);
        vm.warp(START_TIME + 10);
        _cancelAndAnswer(alice, aliceKey, a, RATE * 10);
        vm.prank(provider);
        streamPay.closeByRecipient(b, voucher(bobKey, b, RATE * 10)); // closed by the recipient: still rateable

        vm.expectRevert(abi.encodeWithSelector(Errors.Registry_NotStreamSender.selector, a, bob, alice));
        vm.prank(bob);
        registry.rateProvider(a, 1);

        vm.prank(alice);
        registry.rateProvider(a, 2);
        vm.prank(bob);
        registry.rateProvider(b, 5);
        assertTrue(registry.isRated(a) && registry.isRated(b), "both rated");
        _assertRatings(nativeProviderId, 2, 7);
    }

    /*//////////////////////////////////////////////////////////////
                                 HELPERS
    //////////////////////////////////////////////////////////////*/

    /// @dev A native stream from alice, cancelled by her after `elapsed` seconds and answered by the provider
    /// with her voucher for all of it (so it is closed and paid something).
    function _cancelledAfter(address sender, uint256 elapsed) private returns (uint256 streamId) {
        assertEq(sender, alice, "helper signs as alice");
        streamId = createNative(sender, nativeProviderId, RATE * SECONDS);
        vm.warp(START_TIME + elapsed);
        _cancelAndAnswer(sender, aliceKey, streamId, RATE * elapsed);
    }

    function _cancelAndAnswer(address sender, uint256 senderKey, uint256 streamId, uint256 vouched) private {
        vm.prank(sender);
        streamPay.cancelStream(streamId);
        vm.prank(provider);
        streamPay.closeByRecipient(streamId, voucher(senderKey, streamId, vouched));
        assertTrue(getStream(streamId).status == StreamStatus.Cancelled, "cancelled");
        assertGt(getStream(streamId).withdrawn, 0, "paid something");
    }

    function _assertRatings(uint256 providerId, uint256 count, uint256 sum) private view {
        IComputeRegistry.ProviderView memory p = registry.getProvider(providerId);
        assertEq(p.ratingCount, count, "ratingCount");
        assertEq(p.ratingSum, sum, "ratingSum");
    }
}
