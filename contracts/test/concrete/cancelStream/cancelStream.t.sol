// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ConcreteTest} from "../Concrete.t.sol";
import {Actor} from "../../mocks/Actor.sol";
import {BlacklistToken} from "../../mocks/BlacklistToken.sol";
import {ERC1271Wallet} from "../../mocks/ERC1271Wallet.sol";
import {GasBurningWallet} from "../../mocks/GasBurningWallet.sol";
import {Errors} from "../../../src/libraries/Errors.sol";
import {IStreamPay} from "../../../src/interfaces/IStreamPay.sol";
import {IComputeRegistry} from "../../../src/interfaces/IComputeRegistry.sol";
import {StreamStatus} from "../../../src/types/DataTypes.sol";

/// @notice cancelStream: the sender's unilateral exit. Streaming stops, deposited - streamed goes back at
/// once, and the recipient has a challenge window to answer with its best voucher. It never calls the
/// recipient, so no recipient can block it.
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

    function test_WhenSomethingIsOwed_RefundsTheUnstreamedNowAndOpensTheWindow() public {
        skipTime(30);
        uint256 aliceBefore = alice.balance;
        uint256 providerBefore = provider.balance;
        uint256 keeperBefore = keeper.balance;
        uint256 endsAt = START_TIME + 30 + CHALLENGE_WINDOW;

        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamCancelling(nativeStream, alice, RATE * 70, endsAt);
        vm.prank(alice);
        streamPay.cancelStream(nativeStream);

        assertEq(alice.balance, aliceBefore + RATE * 70, "sender refunded the unstreamed part at once");
        assertEq(streamPay.balanceOf(alice, address(0)), 0, "refund pushed, not credited");
        assertEq(provider.balance, providerBefore, "recipient not paid by a cancel");
        assertEq(streamPay.balanceOf(provider, address(0)), 0, "recipient not credited either");
        assertEq(keeper.balance, keeperBefore, "keeper untouched");
        assertEq(address(streamPay).balance, RATE * 30, "the streamed 30 s wait for the recipient's answer");
        assertStream(nativeStream, StreamStatus.Cancelling, 0, START_TIME + 30, "cancelling");
        IStreamPay.StreamView memory v = streamPay.getStreamView(nativeStream);
        assertEq(v.refunded, RATE * 70, "refunded");
        assertEq(v.streamed, RATE * 30, "streamed frozen at the cancel");
        assertEq(v.challengeEndsAt, endsAt, "window end");
        assertEq(streamPay.refundableAmountOf(nativeStream), 0, "nothing more refundable");
        assertStats(nativeProviderId, 0, 0, "not final yet: no completion");
    }

    function test_WhenERC20_RefundsInTheToken() public {
        skipTime(10);
        uint256 aliceBefore = usd.balanceOf(alice);
        uint256 recipientBefore = usd.balanceOf(usdProvider);

        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamCancelling(usdStream, alice, USD_RATE * 90, START_TIME + 10 + CHALLENGE_WINDOW);
        vm.prank(alice);
        streamPay.cancelStream(usdStream);

        assertEq(usd.balanceOf(alice), aliceBefore + USD_RATE * 90, "sender refunded");
        assertEq(usd.balanceOf(usdProvider), recipientBefore, "recipient not paid");
        assertEq(streamPay.balanceOf(usdProvider, address(usd)), 0, "recipient not credited");
        assertEq(usd.balanceOf(address(streamPay)), USD_RATE * 10, "the streamed part stays");
        assertEq(address(streamPay).balance, RATE * 100, "native escrow untouched");
        assertStream(usdStream, StreamStatus.Cancelling, 0, START_TIME + 10, "cancelling");
    }

    function test_WhenPartlyWithdrawn_RefundIsStillDepositedMinusStreamed() public {
        skipTime(30);
        streamPay.withdrawFromStream(nativeStream, voucher(aliceKey, nativeStream, RATE * 20));
        skipTime(20);
        uint256 aliceBefore = alice.balance;
        uint256 providerBefore = provider.balance;

        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamCancelling(nativeStream, alice, RATE * 50, START_TIME + 50 + CHALLENGE_WINDOW);
        vm.prank(alice);
        streamPay.cancelStream(nativeStream);

        assertEq(alice.balance, aliceBefore + RATE * 50, "refund = deposited - streamed");
        assertEq(provider.balance, providerBefore, "no payment to the recipient");
        assertEq(address(streamPay).balance, RATE * 30, "streamed - withdrawn stays for the answer");
        assertStream(nativeStream, StreamStatus.Cancelling, RATE * 20, START_TIME + 50, "cancelling");
        assertEq(streamPay.getStreamView(nativeStream).refunded, RATE * 50, "refunded");
    }

    function test_WhenNothingStreamed_CancelledAtOnce() public {
        uint256 aliceBefore = alice.balance;

        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamClosed(nativeStream, alice, StreamStatus.Cancelled, 0, RATE * 100);
        vm.recordLogs();
        vm.prank(alice);
        streamPay.cancelStream(nativeStream);

        assertEq(alice.balance, aliceBefore + RATE * 100, "full refund");
        assertEq(streamPay.balanceOf(provider, address(0)), 0, "nothing credited");
        assertEq(address(streamPay).balance, 0, "nothing held");
        assertStream(nativeStream, StreamStatus.Cancelled, 0, START_TIME, "cancelled at once");
        assertStats(nativeProviderId, 0, 0, "a stream that paid nothing is no completion");
        assertEq(vm.getRecordedLogs().length, 1, "only StreamClosed: no StreamCancelling, no completion");
    }

    function test_WhenEverythingStreamedWasPaid_CancelledAtOnce() public {
        skipTime(40);
        streamPay.withdrawFromStream(nativeStream, voucher(aliceKey, nativeStream, RATE * 100)); // pays 40 s
        uint256 aliceBefore = alice.balance;
        uint256 providerBefore = provider.balance;

        vm.expectEmit(address(registry));
        emit IComputeRegistry.CompletionRecorded(nativeProviderId, 1, RATE * 40, 1, RATE * 40);
        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamClosed(nativeStream, alice, StreamStatus.Cancelled, 0, RATE * 60);
        vm.prank(alice);
        streamPay.cancelStream(nativeStream);

        assertEq(alice.balance, aliceBefore + RATE * 60, "sender refunded the rest");
        assertEq(provider.balance, providerBefore, "recipient keeps its 40 s, nothing more");
        assertEq(streamPay.balanceOf(provider, address(0)), 0, "nothing credited");
        assertEq(address(streamPay).balance, 0, "nothing held: nothing to answer");
        assertStream(nativeStream, StreamStatus.Cancelled, RATE * 40, START_TIME + 40, "cancelled at once");
        assertStats(nativeProviderId, 1, RATE * 40, "completion of what was paid");
    }

    function test_WhenDepletedWithinTheGracePeriod_RefundsNothingAndOpensTheWindow() public {
        skipTime(100 + 10);
        uint256 aliceBefore = alice.balance;
        uint256 cancelledAt = START_TIME + 110;

        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamCancelling(nativeStream, alice, 0, cancelledAt + CHALLENGE_WINDOW);
        vm.prank(alice);
        streamPay.cancelStream(nativeStream);

        assertEq(alice.balance, aliceBefore, "everything streamed: nothing to refund yet");
        assertEq(address(streamPay).balance, RATE * 100, "all of it waits for the recipient's answer");
        assertStream(nativeStream, StreamStatus.Cancelling, 0, cancelledAt, "endTime is the cancel, not the stop");
        IStreamPay.StreamView memory v = streamPay.getStreamView(nativeStream);
        assertEq(v.streamed, RATE * 100, "streamed still caps at the stop time");
        assertEq(v.challengeEndsAt, cancelledAt + CHALLENGE_WINDOW, "a whole window from the cancel");
    }

    function test_WhenOneSecondBeforeAbandoned_StillCancels() public {
        skipTime(100 + GRACE_PERIOD - 1);
        uint256 cancelledAt = now_();

        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamCancelling(nativeStream, alice, 0, cancelledAt + CHALLENGE_WINDOW);
        vm.prank(alice);
        streamPay.cancelStream(nativeStream);

        assertStream(nativeStream, StreamStatus.Cancelling, 0, cancelledAt, "cancelling");
        assertEq(streamPay.streamedAmountOf(nativeStream), RATE * 100, "streamed caps at the stop time");
        assertEq(
            streamPay.getStreamView(nativeStream).challengeEndsAt,
            cancelledAt + CHALLENGE_WINDOW,
            "the window runs past stopTime + grace: the recipient still gets all of it"
        );
    }

    function test_WhenDepletedAndEverythingStreamedWasPaid_CancelledAtOnceAtTheCancelTime() public {
        skipTime(100);
        streamPay.withdrawFromStream(nativeStream, voucher(aliceKey, nativeStream, RATE * 100));
        skipTime(10);
        uint256 aliceBefore = alice.balance;

        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamClosed(nativeStream, alice, StreamStatus.Cancelled, 0, 0);
        vm.prank(alice);
        streamPay.cancelStream(nativeStream);

        assertEq(alice.balance, aliceBefore, "nothing left to refund");
        assertEq(address(streamPay).balance, 0, "nothing held");
        assertStream(nativeStream, StreamStatus.Cancelled, RATE * 100, START_TIME + 110, "cancelled at the cancel");
        assertEq(streamPay.streamedAmountOf(nativeStream), RATE * 100, "streamed caps at the stop time");
        assertStats(nativeProviderId, 1, RATE * 100, "completion of what was paid");
    }

    /// @dev Regression: the recipient's right to answer a cancel (G2) needs a real window. A cancel sent after
    /// the stop time used to count the window from the stop time rather than from the cancel: a sender that
    /// cancelled more than a window after its stop time (still inside the grace period) gave the recipient no
    /// time at all, and the sender (or a keeper) finalised in the same block. The window now runs from the
    /// cancel, however late.
    function test_WhenDepleted_RecipientGetsAFullChallengeWindow() public {
        skipTime(100 + CHALLENGE_WINDOW + 1); // depleted, not abandoned (grace 1 h > window 30 min)
        uint256 cancelledAt = now_();
        IStreamPay.Voucher memory best = voucher(aliceKey, nativeStream, RATE * 80); // signed, not yet used

        vm.prank(alice);
        streamPay.cancelStream(nativeStream);
        assertEq(
            streamPay.getStreamView(nativeStream).challengeEndsAt,
            cancelledAt + CHALLENGE_WINDOW,
            "the recipient's window runs from the cancel"
        );

        // In the same block the sender finalises its own cancel as a keeper, and again in the window's last second.
        vm.prank(alice);
        assertEq(streamPay.batchUpdateStreams(ids1(nativeStream)), 0, "the window has only just started");
        vm.warp(cancelledAt + CHALLENGE_WINDOW - 1);
        vm.prank(alice);
        assertEq(streamPay.batchUpdateStreams(ids1(nativeStream)), 0, "the window's last second is the recipient's");
        uint256 aliceBefore = alice.balance;
        vm.prank(provider);
        streamPay.closeByRecipient(nativeStream, best);
        assertEq(streamPay.balanceOf(provider, address(0)), RATE * 80, "recipient kept its voucher");
        assertEq(alice.balance, aliceBefore + RATE * 20, "sender got the unvouched 20 s");
        assertStream(nativeStream, StreamStatus.Cancelled, RATE * 80, cancelledAt, "answered");
    }

    function test_WhenRecipientRevertsOnReceive_CannotBlockTheCancel() public {
        Actor recipient = newActor("revertingProvider");
        uint256 providerId = registerActorProvider(recipient, MODEL, RATE, address(0));
        uint256 streamId = createNative(bob, providerId, RATE * 100);
        recipient.setMode(Actor.ReceiveMode.Revert);
        skipTime(10);
        uint256 bobBefore = bob.balance;
        uint256 recipientBefore = address(recipient).balance;

        vm.prank(bob);
        streamPay.cancelStream(streamId);

        assertEq(bob.balance, bobBefore + RATE * 90, "sender refunded");
        assertEq(address(recipient).balance, recipientBefore, "recipient not called");
        assertEq(address(streamPay).balance, RATE * 110, "alice's escrow + the 10 s streamed");
        assertStream(streamId, StreamStatus.Cancelling, 0, START_TIME + 10, "cancelling");

        // The refusing recipient still answers, and its share is credited.
        IStreamPay.Voucher memory v = voucher(bobKey, streamId, RATE * 6);
        recipient.exec(address(streamPay), 0, abi.encodeCall(streamPay.closeByRecipient, (streamId, v)));
        assertEq(streamPay.balanceOf(address(recipient), address(0)), RATE * 6, "recipient credited its voucher");
        assertEq(bob.balance, bobBefore + RATE * 94, "sender got the unvouched 4 s back");
        assertStream(streamId, StreamStatus.Cancelled, RATE * 6, START_TIME + 10, "answered");
    }

    function test_WhenProviderWalletBurnsAllGas_CannotBlockTheCancel() public {
        (address owner,) = makeAddrAndKey("burnerOwner");
        GasBurningWallet burner = new GasBurningWallet(owner);
        vm.deal(address(burner), 10 ether);
        uint256 providerId = registerWalletProvider(address(burner), RATE);
        uint256 streamId = createNative(bob, providerId, RATE * 100);
        skipTime(20);
        uint256 bobBefore = bob.balance;

        // A modest gas limit suffices: the cancel never asks the recipient's wallet anything.
        (bool ok,) = callStreamPayWithGas(bob, 200_000, abi.encodeCall(streamPay.cancelStream, (streamId)));

        assertTrue(ok, "cancel succeeded");
        assertEq(bob.balance, bobBefore + RATE * 80, "sender refunded");
        assertStream(streamId, StreamStatus.Cancelling, 0, START_TIME + 20, "cancelling");

        // Its owner answers through the wallet with bob's voucher, and takes the balance into the wallet.
        walletExec(
            address(burner),
            address(streamPay),
            0,
            abi.encodeCall(streamPay.closeByRecipient, (streamId, voucher(bobKey, streamId, RATE * 15)))
        );
        assertEq(streamPay.balanceOf(address(burner), address(0)), RATE * 15, "wallet credited");
        assertEq(bob.balance, bobBefore + RATE * 85, "sender paid exactly its voucher");
    }

    function test_WhenSenderRevertsOnReceive_RefundIsCredited() public {
        Actor sender = newActor("revertingSender");
        uint256 streamId = createNativeFrom(sender, nativeProviderId, RATE * 100);
        sender.setMode(Actor.ReceiveMode.Revert);
        skipTime(10);
        uint256 senderBefore = address(sender).balance;

        vm.expectEmit(address(streamPay));
        emit IStreamPay.PaymentDeferred(address(sender), address(0), RATE * 90);
        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamCancelling(streamId, address(sender), RATE * 90, START_TIME + 10 + CHALLENGE_WINDOW);
        sender.exec(address(streamPay), 0, abi.encodeCall(streamPay.cancelStream, (streamId)));

        assertEq(address(sender).balance, senderBefore, "push failed");
        assertEq(streamPay.balanceOf(address(sender), address(0)), RATE * 90, "refund credited");
        assertEq(address(streamPay).balance, RATE * 200, "alice's escrow + the 10 s + the credit");
        assertStream(streamId, StreamStatus.Cancelling, 0, START_TIME + 10, "cancelling");
    }

    function test_WhenSenderBurnsGasOnReceive_RefundIsCredited() public {
        Actor sender = newActor("gasBurningSender");
        uint256 streamId = createNativeFrom(sender, nativeProviderId, RATE * 100);
        sender.setMode(Actor.ReceiveMode.BurnGas);
        skipTime(10);
        uint256 senderBefore = address(sender).balance;

        vm.expectEmit(address(streamPay));
        emit IStreamPay.PaymentDeferred(address(sender), address(0), RATE * 90);
        sender.exec(address(streamPay), 0, abi.encodeCall(streamPay.cancelStream, (streamId)));

        assertEq(address(sender).balance, senderBefore, "push failed");
        assertEq(streamPay.balanceOf(address(sender), address(0)), RATE * 90, "refund credited");
        assertEq(address(streamPay).balance, RATE * 200, "alice's escrow + the 10 s + the credit");
    }

    function test_WhenTokenBlacklistsTheSender_RefundIsCredited() public {
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
        vm.prank(bob);
        streamPay.cancelStream(streamId);

        assertEq(busd.balanceOf(bob), 0, "push failed");
        assertEq(streamPay.balanceOf(bob, address(busd)), 600, "refund credited");
        assertEq(streamPay.balanceOf(bProvider, address(busd)), 0, "recipient not credited by a cancel");
        assertEq(busd.balanceOf(address(streamPay)), 1000, "the credit + the streamed 400");
    }

    function test_WhenSenderIsAnERC1271Wallet_RefundGoesToTheWallet() public {
        (ERC1271Wallet wallet,) = newWallet("aliceSafe");
        uint256 streamId = createNativeFromWallet(wallet, nativeProviderId, RATE * 100, address(0));
        skipTime(25);
        uint256 walletBefore = address(wallet).balance;

        walletExec(address(wallet), address(streamPay), 0, abi.encodeCall(streamPay.cancelStream, (streamId)));

        assertEq(address(wallet).balance, walletBefore + RATE * 75, "wallet refunded");
        assertStream(streamId, StreamStatus.Cancelling, 0, START_TIME + 25, "cancelling");
    }

    /*//////////////////////////////////////////////////////////////
                                 REVERTS
    //////////////////////////////////////////////////////////////*/

    function test_RevertWhen_StreamUnknown() public {
        vm.expectRevert(abi.encodeWithSelector(Errors.StreamPay_UnknownStream.selector, 7));
        vm.prank(alice);
        streamPay.cancelStream(7);
    }

    function test_RevertWhen_CallerIsTheRecipient() public {
        // A recipient has no unilateral exit: it closes with the sender's voucher (closeByRecipient).
        skipTime(30);
        vm.expectRevert(abi.encodeWithSelector(Errors.StreamPay_NotSender.selector, nativeStream, provider, alice));
        vm.prank(provider);
        streamPay.cancelStream(nativeStream);
        assertStream(nativeStream, StreamStatus.Open, 0, 0, "still open");
    }

    function test_RevertWhen_CallerIsAStranger() public {
        vm.expectRevert(abi.encodeWithSelector(Errors.StreamPay_NotSender.selector, nativeStream, eve, alice));
        vm.prank(eve);
        streamPay.cancelStream(nativeStream);
    }

    function test_RevertWhen_CallerIsTheKeeper() public {
        vm.expectRevert(abi.encodeWithSelector(Errors.StreamPay_NotSender.selector, usdStream, keeper, alice));
        vm.prank(keeper);
        streamPay.cancelStream(usdStream);
    }

    function test_RevertWhen_AlreadyCancelling() public {
        skipTime(10);
        vm.prank(alice);
        streamPay.cancelStream(nativeStream);
        uint256 aliceBefore = alice.balance;

        vm.expectRevert(
            abi.encodeWithSelector(Errors.StreamPay_StreamNotOpen.selector, nativeStream, StreamStatus.Cancelling)
        );
        vm.prank(alice);
        streamPay.cancelStream(nativeStream);
        assertEq(alice.balance, aliceBefore, "no second refund");
    }

    function test_RevertWhen_AlreadyCancelled() public {
        vm.prank(alice);
        streamPay.cancelStream(nativeStream);

        vm.expectRevert(
            abi.encodeWithSelector(Errors.StreamPay_StreamNotOpen.selector, nativeStream, StreamStatus.Cancelled)
        );
        vm.prank(alice);
        streamPay.cancelStream(nativeStream);
    }

    function test_RevertWhen_StreamClosed() public {
        skipTime(10);
        vm.prank(provider);
        streamPay.closeByRecipient(nativeStream, voucher(aliceKey, nativeStream, RATE * 5));

        vm.expectRevert(
            abi.encodeWithSelector(Errors.StreamPay_StreamNotOpen.selector, nativeStream, StreamStatus.Closed)
        );
        vm.prank(alice);
        streamPay.cancelStream(nativeStream);
    }

    function test_RevertWhen_StreamSettled() public {
        skipTime(100 + GRACE_PERIOD);
        vm.prank(keeper);
        streamPay.batchUpdateStreams(ids1(nativeStream));

        vm.expectRevert(
            abi.encodeWithSelector(Errors.StreamPay_StreamNotOpen.selector, nativeStream, StreamStatus.Settled)
        );
        vm.prank(alice);
        streamPay.cancelStream(nativeStream);
    }

    function test_RevertWhen_Abandoned() public {
        skipTime(100 + GRACE_PERIOD); // exactly stopTime + grace
        uint256 aliceBefore = alice.balance;

        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.StreamPay_StreamAbandoned.selector, nativeStream, START_TIME + 100 + GRACE_PERIOD
            )
        );
        vm.prank(alice);
        streamPay.cancelStream(nativeStream);

        assertEq(alice.balance, aliceBefore, "nothing refunded");
        assertStream(nativeStream, StreamStatus.Open, 0, 0, "left for the keeper");
    }

    function test_RevertWhen_TooLittleGasToRefundTheSender() public {
        skipTime(10);
        uint256 aliceBefore = alice.balance;

        (bool ok, bytes memory ret) =
            callStreamPayWithGas(alice, 50_000, abi.encodeCall(streamPay.cancelStream, (nativeStream)));

        assertInsufficientGas(ok, ret);
        assertStream(nativeStream, StreamStatus.Open, 0, 0, "still open");
        assertEq(alice.balance, aliceBefore, "nothing refunded");
        assertEq(streamPay.balanceOf(alice, address(0)), 0, "refund not turned into a credit");
    }
}
