// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ConcreteTest} from "../Concrete.t.sol";
import {Actor} from "../../mocks/Actor.sol";
import {BlacklistToken} from "../../mocks/BlacklistToken.sol";
import {Errors} from "../../../src/libraries/Errors.sol";
import {IStreamPay} from "../../../src/interfaces/IStreamPay.sol";
import {IComputeRegistry} from "../../../src/interfaces/IComputeRegistry.sol";
import {Stream, StreamStatus} from "../../../src/types/DataTypes.sol";

contract CancelStream_Test is ConcreteTest {
    uint256 internal nativeStream; // alice -> provider, 100 s
    uint256 internal usdStream; // alice -> usdProvider, 100 s

    function setUp() public override {
        super.setUp();
        nativeStream = createNative(alice, nativeProviderId, RATE * 100);
        usdStream = createUsd(alice, usdProviderId, USD_RATE * 100);
    }

    /*//////////////////////////////////////////////////////////////
                               SUCCESS PATHS
    //////////////////////////////////////////////////////////////*/

    function test_WhenSenderCancels_SplitsByTime() public {
        skipTime(30);
        uint256 aliceBefore = alice.balance;
        uint256 providerBefore = provider.balance;

        vm.expectEmit(address(registry));
        emit IComputeRegistry.CompletionRecorded(nativeProviderId, RATE * 30, 1, RATE * 30);
        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamClosed(nativeStream, alice, StreamStatus.Cancelled, RATE * 30, RATE * 70);
        vm.prank(alice);
        streamPay.cancelStream(nativeStream);

        assertEq(alice.balance, aliceBefore + RATE * 70, "sender refunded the unstreamed rest");
        assertEq(streamPay.balanceOf(alice, address(0)), 0, "refund pushed, not credited");
        assertEq(streamPay.balanceOf(provider, address(0)), RATE * 30, "recipient credited what streamed");
        assertEq(provider.balance, providerBefore, "recipient not pushed");
        assertEq(address(streamPay).balance, RATE * 30, "contract holds exactly the credit");
        Stream memory s = getStream(nativeStream);
        assertTrue(s.status == StreamStatus.Cancelled, "cancelled");
        assertEq(s.withdrawn, RATE * 30, "recipient side total");
        assertEq(streamPay.getStreamView(nativeStream).refunded, RATE * 70, "refunded");
        assertStats(nativeProviderId, 1, RATE * 30, "completion");
    }

    function test_WhenRecipientCancels_SplitsByTime() public {
        skipTime(45);
        uint256 aliceBefore = alice.balance;

        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamClosed(nativeStream, provider, StreamStatus.Cancelled, RATE * 45, RATE * 55);
        vm.prank(provider);
        streamPay.cancelStream(nativeStream);

        assertEq(alice.balance, aliceBefore + RATE * 55, "sender refunded");
        assertEq(streamPay.balanceOf(provider, address(0)), RATE * 45, "recipient credited");
        assertEq(address(streamPay).balance, RATE * 45, "contract holds the credit");
        assertTrue(getStream(nativeStream).status == StreamStatus.Cancelled, "cancelled");
    }

    function test_WhenERC20_SplitsByTime() public {
        skipTime(10);
        uint256 aliceBefore = usd.balanceOf(alice);
        uint256 recipientBefore = usd.balanceOf(usdProvider);

        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamClosed(usdStream, alice, StreamStatus.Cancelled, USD_RATE * 10, USD_RATE * 90);
        vm.prank(alice);
        streamPay.cancelStream(usdStream);

        assertEq(usd.balanceOf(alice), aliceBefore + USD_RATE * 90, "sender refunded");
        assertEq(streamPay.balanceOf(usdProvider, address(usd)), USD_RATE * 10, "recipient credited");
        assertEq(usd.balanceOf(usdProvider), recipientBefore, "recipient not pushed");
        assertEq(usd.balanceOf(address(streamPay)), USD_RATE * 10, "contract holds the credit");
        assertStats(usdProviderId, 1, USD_RATE * 10, "completion");
    }

    function test_WhenNothingStreamed_RefundsAllAndRecordsNoCompletion() public {
        uint256 aliceBefore = alice.balance;

        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamClosed(nativeStream, alice, StreamStatus.Cancelled, 0, RATE * 100);
        vm.prank(alice);
        streamPay.cancelStream(nativeStream);

        assertEq(alice.balance, aliceBefore + RATE * 100, "full refund");
        assertEq(streamPay.balanceOf(provider, address(0)), 0, "nothing credited");
        assertEq(address(streamPay).balance, 0, "nothing held");
        assertStats(nativeProviderId, 0, 0, "a stream that paid nothing is no completion");
    }

    function test_WhenPartlyWithdrawn_CreditsOnlyTheRest() public {
        skipTime(20);
        streamPay.withdrawFromStream(nativeStream);
        skipTime(30);
        uint256 aliceBefore = alice.balance;
        uint256 providerBefore = provider.balance;

        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamClosed(nativeStream, alice, StreamStatus.Cancelled, RATE * 30, RATE * 50);
        vm.prank(alice);
        streamPay.cancelStream(nativeStream);

        assertEq(alice.balance, aliceBefore + RATE * 50, "refund = deposited - streamed");
        assertEq(streamPay.balanceOf(provider, address(0)), RATE * 30, "credit = streamed - withdrawn");
        assertEq(provider.balance, providerBefore, "no second payment");
        assertEq(address(streamPay).balance, RATE * 30, "contract holds the credit");
        assertStats(nativeProviderId, 1, RATE * 50, "earned = everything streamed");
    }

    function test_WhenKeeperSettledBefore_CreditsOnlyTheRest() public {
        skipTime(50);
        uint256[] memory ids = new uint256[](1);
        ids[0] = nativeStream;
        vm.prank(keeper);
        streamPay.batchUpdateStreams(ids);
        uint256 reward = keeperRewardOf(RATE * 50);
        skipTime(10);
        uint256 aliceBefore = alice.balance;

        vm.prank(alice);
        streamPay.cancelStream(nativeStream);

        assertEq(alice.balance, aliceBefore + RATE * 40, "refund");
        assertEq(streamPay.balanceOf(provider, address(0)), RATE * 60 - reward, "settled + the rest");
        assertEq(address(streamPay).balance, RATE * 60 - reward, "contract holds the credit");
    }

    function test_WhenDepleted_RecipientGetsAllAndSenderNothing() public {
        skipTime(30);
        streamPay.withdrawFromStream(nativeStream);
        skipTime(200);
        uint256 aliceBefore = alice.balance;

        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamClosed(nativeStream, alice, StreamStatus.Cancelled, RATE * 70, 0);
        vm.prank(alice);
        streamPay.cancelStream(nativeStream);

        assertEq(alice.balance, aliceBefore, "nothing to refund");
        assertEq(streamPay.balanceOf(provider, address(0)), RATE * 70, "recipient credited the rest");
        assertEq(address(streamPay).balance, RATE * 70, "contract holds the credit");
        assertStats(nativeProviderId, 1, RATE * 100, "completion");
    }

    function test_WhenSenderRevertsOnReceive_RecipientCancelCreditsTheSender() public {
        Actor sender = newActor("revertingSender");
        uint256 streamId = createNativeFrom(sender, nativeProviderId, RATE * 100);
        sender.setMode(Actor.ReceiveMode.Revert);
        skipTime(10);
        uint256 senderBefore = address(sender).balance;

        vm.expectEmit(address(streamPay));
        emit IStreamPay.PaymentDeferred(address(sender), address(0), RATE * 90);
        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamClosed(streamId, provider, StreamStatus.Cancelled, RATE * 10, RATE * 90);
        vm.prank(provider);
        streamPay.cancelStream(streamId);

        assertEq(address(sender).balance, senderBefore, "push failed");
        assertEq(streamPay.balanceOf(address(sender), address(0)), RATE * 90, "refund credited");
        assertEq(streamPay.balanceOf(provider, address(0)), RATE * 10, "recipient credited");
        assertTrue(getStream(streamId).status == StreamStatus.Cancelled, "cancelled");
    }

    function test_WhenSenderBurnsGas_RecipientCancelCreditsTheSender() public {
        Actor sender = newActor("gasBurningSender");
        uint256 streamId = createNativeFrom(sender, nativeProviderId, RATE * 100);
        sender.setMode(Actor.ReceiveMode.BurnGas);
        skipTime(10);

        vm.expectEmit(address(streamPay));
        emit IStreamPay.PaymentDeferred(address(sender), address(0), RATE * 90);
        vm.prank(provider);
        streamPay.cancelStream(streamId);

        assertEq(streamPay.balanceOf(address(sender), address(0)), RATE * 90, "refund credited");
        assertEq(streamPay.balanceOf(provider, address(0)), RATE * 10, "recipient credited");
        assertEq(address(streamPay).balance, RATE * 200, "alice's escrow + both credits");
    }

    function test_WhenSenderCancelsFromARevertingContract_RefundIsCredited() public {
        Actor sender = newActor("revertingSender");
        uint256 streamId = createNativeFrom(sender, nativeProviderId, RATE * 100);
        sender.setMode(Actor.ReceiveMode.Revert);
        skipTime(10);

        sender.exec(address(streamPay), 0, abi.encodeCall(streamPay.cancelStream, (streamId)));

        assertEq(streamPay.balanceOf(address(sender), address(0)), RATE * 90, "refund credited");
        assertEq(streamPay.balanceOf(provider, address(0)), RATE * 10, "recipient credited");
        assertEq(address(streamPay).balance, RATE * 200, "alice's escrow + both credits");
        assertTrue(getStream(streamId).status == StreamStatus.Cancelled, "cancelled");
    }

    function test_WhenTokenBlacklistsSender_CreditsTheRefund() public {
        BlacklistToken busd = new BlacklistToken();
        address bProvider = makeAddr("bProvider");
        vm.deal(bProvider, MIN_STAKE);
        uint256 providerId = registerProvider(bProvider, MODEL, 10, address(busd));
        busd.mint(bob, 1000);
        vm.prank(bob);
        busd.approve(address(streamPay), type(uint256).max);
        uint256 streamId = createUsd(bob, providerId, 1000);
        busd.setBlacklisted(bob, true);
        skipTime(40);

        vm.expectEmit(address(streamPay));
        emit IStreamPay.PaymentDeferred(bob, address(busd), 600);
        vm.prank(bProvider);
        streamPay.cancelStream(streamId);

        assertEq(busd.balanceOf(bob), 0, "push failed");
        assertEq(streamPay.balanceOf(bob, address(busd)), 600, "refund credited");
        assertEq(streamPay.balanceOf(bProvider, address(busd)), 400, "recipient credited");
        assertEq(busd.balanceOf(address(streamPay)), 1000, "all held as credits");
    }

    function test_WhenRecipientIsARevertingContract_SenderCancelSucceeds() public {
        Actor recipient = newActor("revertingProvider");
        uint256 providerId = registerActorProvider(recipient, MODEL, RATE, address(0));
        uint256 streamId = createNative(bob, providerId, RATE * 100);
        recipient.setMode(Actor.ReceiveMode.Revert);
        skipTime(10);
        uint256 bobBefore = bob.balance;

        vm.prank(bob);
        streamPay.cancelStream(streamId);

        assertEq(bob.balance, bobBefore + RATE * 90, "sender refunded");
        assertEq(streamPay.balanceOf(address(recipient), address(0)), RATE * 10, "recipient credited");
        assertEq(address(streamPay).balance, RATE * 110, "alice's escrow + the credit");
    }

    /*//////////////////////////////////////////////////////////////
                                 REVERTS
    //////////////////////////////////////////////////////////////*/

    function test_RevertWhen_StreamUnknown() public {
        vm.expectRevert(abi.encodeWithSelector(Errors.StreamPay_UnknownStream.selector, 7));
        vm.prank(alice);
        streamPay.cancelStream(7);
    }

    function test_RevertWhen_AlreadyCancelled() public {
        skipTime(10);
        vm.prank(alice);
        streamPay.cancelStream(nativeStream);
        uint256 aliceBefore = alice.balance;

        vm.expectRevert(
            abi.encodeWithSelector(Errors.StreamPay_StreamClosed.selector, nativeStream, StreamStatus.Cancelled)
        );
        vm.prank(alice);
        streamPay.cancelStream(nativeStream);
        assertEq(alice.balance, aliceBefore, "no second refund");
    }

    function test_RevertWhen_StreamSettled() public {
        skipTime(100);
        streamPay.withdrawFromStream(nativeStream);

        vm.expectRevert(
            abi.encodeWithSelector(Errors.StreamPay_StreamClosed.selector, nativeStream, StreamStatus.Settled)
        );
        vm.prank(provider);
        streamPay.cancelStream(nativeStream);
    }

    function test_RevertWhen_StreamClosedByRecipient() public {
        skipTime(10);
        vm.prank(provider);
        streamPay.closeByRecipient(nativeStream, RATE * 5);

        vm.expectRevert(
            abi.encodeWithSelector(Errors.StreamPay_StreamClosed.selector, nativeStream, StreamStatus.Closed)
        );
        vm.prank(alice);
        streamPay.cancelStream(nativeStream);
    }

    function test_RevertWhen_CallerIsAStranger() public {
        vm.expectRevert(abi.encodeWithSelector(Errors.StreamPay_NotSenderOrRecipient.selector, nativeStream, eve));
        vm.prank(eve);
        streamPay.cancelStream(nativeStream);
    }

    function test_RevertWhen_CallerIsTheKeeper() public {
        vm.expectRevert(abi.encodeWithSelector(Errors.StreamPay_NotSenderOrRecipient.selector, usdStream, keeper));
        vm.prank(keeper);
        streamPay.cancelStream(usdStream);
    }

    function test_RevertWhen_TooLittleGasToRefundTheSender() public {
        skipTime(10);
        uint256 aliceBefore = alice.balance;

        (bool ok, bytes memory ret) =
            callStreamPayWithGas(provider, 100_000, abi.encodeCall(streamPay.cancelStream, (nativeStream)));

        assertInsufficientGas(ok, ret);
        assertTrue(getStream(nativeStream).status == StreamStatus.Open, "still open");
        assertEq(alice.balance, aliceBefore, "nothing refunded");
        assertEq(streamPay.balanceOf(alice, address(0)), 0, "refund not turned into a credit");
        assertEq(streamPay.balanceOf(provider, address(0)), 0, "nothing credited");
    }
}
