// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ConcreteTest} from "../Concrete.t.sol";
import {Actor} from "../../mocks/Actor.sol";
import {ERC1271Wallet} from "../../mocks/ERC1271Wallet.sol";
import {Errors} from "../../../src/libraries/Errors.sol";
import {IStreamPay} from "../../../src/interfaces/IStreamPay.sol";
import {IComputeRegistry} from "../../../src/interfaces/IComputeRegistry.sol";
import {StreamStatus} from "../../../src/types/DataTypes.sol";

/// @notice closeByRecipient: the recipient closes with the sender's voucher, charging
/// max(withdrawn, min(voucher, streamed)). On an open stream it is a cooperative close (Closed); on a
/// cancelling one it is the answer to the cancel (Cancelled). A voucher not above what was paid needs no
/// signature, so a recipient can always release a stream.
contract CloseByRecipient_Test is ConcreteTest {
    uint256 internal nativeStream; // alice -> provider, 100 s
    uint256 internal usdStream; // alice -> usdProvider, 100 s

    function setUp() public override {
        super.setUp();
        nativeStream = createNative(alice, nativeProviderId, RATE * 100);
        usdStream = createUsd(alice, usdProviderId, USD_RATE * 100);
    }

    /*//////////////////////////////////////////////////////////////
                         SUCCESS: COOPERATIVE CLOSE
    //////////////////////////////////////////////////////////////*/

    function test_WhenVoucherBelowStreamed_ChargesTheVoucher() public {
        skipTime(60);
        uint256 charged = RATE * 37 + 1;
        uint256 aliceBefore = alice.balance;
        uint256 providerBefore = provider.balance;
        uint256 keeperBefore = keeper.balance;
        IStreamPay.Voucher memory v = voucher(aliceKey, nativeStream, charged);

        vm.expectEmit(address(registry));
        emit IComputeRegistry.CompletionRecorded(nativeProviderId, 1, charged, 1, charged);
        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamClosed(nativeStream, provider, StreamStatus.Closed, charged, RATE * 100 - charged);
        vm.prank(provider);
        streamPay.closeByRecipient(nativeStream, v);

        assertEq(alice.balance, aliceBefore + RATE * 100 - charged, "sender refunded all but the voucher");
        assertEq(streamPay.balanceOf(provider, address(0)), charged, "recipient credited the voucher");
        assertEq(provider.balance, providerBefore, "recipient credited, not pushed");
        assertEq(keeper.balance, keeperBefore, "keeper untouched");
        assertEq(address(streamPay).balance, charged, "contract holds exactly the credit");
        assertStream(nativeStream, StreamStatus.Closed, charged, START_TIME + 60, "closed");
        assertEq(streamPay.streamedAmountOf(nativeStream), RATE * 60, "streamed stays what time allowed");
        assertEq(streamPay.getStreamView(nativeStream).refunded, RATE * 100 - charged, "refunded");
        assertStats(nativeProviderId, 1, charged, "completion");
    }

    function test_WhenERC20_ChargesTheVoucher() public {
        skipTime(60);
        uint256 aliceBefore = usd.balanceOf(alice);
        uint256 recipientBefore = usd.balanceOf(usdProvider);

        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamClosed(usdStream, usdProvider, StreamStatus.Closed, 4321, USD_RATE * 100 - 4321);
        vm.prank(usdProvider);
        streamPay.closeByRecipient(usdStream, voucher(aliceKey, usdStream, 4321));

        assertEq(usd.balanceOf(alice), aliceBefore + USD_RATE * 100 - 4321, "sender refunded");
        assertEq(streamPay.balanceOf(usdProvider, address(usd)), 4321, "recipient credited");
        assertEq(usd.balanceOf(usdProvider), recipientBefore, "not pushed");
        assertEq(usd.balanceOf(address(streamPay)), 4321, "contract holds the credit");
        assertEq(address(streamPay).balance, RATE * 100, "native escrow untouched");
        assertStats(usdProviderId, 1, 4321, "completion");
    }

    function test_WhenVoucherAboveStreamed_CapsAtStreamed() public {
        skipTime(30);
        uint256 aliceBefore = alice.balance;

        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamClosed(nativeStream, provider, StreamStatus.Closed, RATE * 30, RATE * 70);
        vm.prank(provider);
        streamPay.closeByRecipient(nativeStream, voucher(aliceKey, nativeStream, RATE * 80));

        assertEq(alice.balance, aliceBefore + RATE * 70, "sender pays only what streamed");
        assertEq(streamPay.balanceOf(provider, address(0)), RATE * 30, "recipient capped at streamed");
        assertEq(address(streamPay).balance, RATE * 30, "contract holds the credit");
        assertStats(nativeProviderId, 1, RATE * 30, "completion");
    }

    function test_WhenVoucherAboveWithdrawn_CreditsOnlyTheDifference() public {
        skipTime(20);
        uint256 providerBefore = provider.balance;
        streamPay.withdrawFromStream(nativeStream, voucher(aliceKey, nativeStream, RATE * 20));
        skipTime(40);
        uint256 aliceBefore = alice.balance;

        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamClosed(nativeStream, provider, StreamStatus.Closed, RATE * 25, RATE * 55);
        vm.prank(provider);
        streamPay.closeByRecipient(nativeStream, voucher(aliceKey, nativeStream, RATE * 45));

        assertEq(streamPay.balanceOf(provider, address(0)), RATE * 25, "credit = voucher - withdrawn");
        assertEq(provider.balance, providerBefore + RATE * 20, "the earlier withdrawal, once");
        assertEq(alice.balance, aliceBefore + RATE * 55, "refund = deposited - voucher");
        assertEq(address(streamPay).balance, RATE * 25, "contract holds the credit");
        assertStats(nativeProviderId, 1, RATE * 45, "completion of the whole recipient side");
    }

    function test_WhenUnsignedVoucherNotAboveWithdrawn_ReleasesTheStream() public {
        skipTime(50);
        uint256 providerBefore = provider.balance;
        streamPay.withdrawFromStream(nativeStream, voucher(aliceKey, nativeStream, RATE * 50));
        skipTime(10);
        uint256 aliceBefore = alice.balance;

        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamClosed(nativeStream, provider, StreamStatus.Closed, 0, RATE * 50);
        vm.prank(provider);
        streamPay.closeByRecipient(nativeStream, unsignedVoucher(RATE * 10));

        assertEq(alice.balance, aliceBefore + RATE * 50, "sender refunded deposited - withdrawn");
        assertEq(provider.balance, providerBefore + RATE * 50, "recipient keeps its withdrawal");
        assertEq(streamPay.balanceOf(provider, address(0)), 0, "nothing more");
        assertEq(address(streamPay).balance, 0, "escrow empty");
        assertStream(nativeStream, StreamStatus.Closed, RATE * 50, START_TIME + 60, "closed");
        assertStats(nativeProviderId, 1, RATE * 50, "completion");
    }

    function test_WhenUnsignedZeroVoucher_RefundsEverything() public {
        skipTime(60);
        uint256 aliceBefore = alice.balance;

        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamClosed(nativeStream, provider, StreamStatus.Closed, 0, RATE * 100);
        vm.prank(provider);
        streamPay.closeByRecipient(nativeStream, unsignedVoucher(0));

        assertEq(alice.balance, aliceBefore + RATE * 100, "full refund");
        assertEq(streamPay.balanceOf(provider, address(0)), 0, "nothing credited");
        assertEq(address(streamPay).balance, 0, "escrow empty");
        assertStats(nativeProviderId, 0, 0, "no completion");
    }

    function test_WhenNothingStreamedYet_UnsignedVoucherAboveZeroNeedsNoSignature() public {
        // min(voucher, streamed) = 0 = withdrawn: the voucher claims nothing, so nothing is verified.
        uint256 aliceBefore = alice.balance;
        vm.prank(provider);
        streamPay.closeByRecipient(nativeStream, unsignedVoucher(RATE * 50));
        assertEq(alice.balance, aliceBefore + RATE * 100, "full refund");
        assertStream(nativeStream, StreamStatus.Closed, 0, START_TIME, "closed");
    }

    function test_WhenDepletedWithinTheGracePeriod_ChargesTheVoucher() public {
        skipTime(300);
        uint256 aliceBefore = alice.balance;

        vm.prank(provider);
        streamPay.closeByRecipient(nativeStream, voucher(aliceKey, nativeStream, RATE * 90));

        assertEq(alice.balance, aliceBefore + RATE * 10, "sender gets the unvouched part");
        assertEq(streamPay.balanceOf(provider, address(0)), RATE * 90, "recipient credited");
        assertEq(address(streamPay).balance, RATE * 90, "contract holds the credit");
        assertStream(nativeStream, StreamStatus.Closed, RATE * 90, START_TIME + 300, "endTime is the close");
        assertEq(streamPay.streamedAmountOf(nativeStream), RATE * 100, "streamed caps at the stop time");
    }

    function test_WhenNamedSessionKeyVoucher_ChargesIt() public {
        (address key, uint256 keyPk) = makeAddrAndKey("sessionKey");
        uint256 streamId = createNativeWithKey(bob, nativeProviderId, RATE * 100, key);
        skipTime(50);
        uint256 bobBefore = bob.balance;

        vm.prank(provider);
        streamPay.closeByRecipient(streamId, namedKeyVoucher(keyPk, streamId, RATE * 12));

        assertEq(bob.balance, bobBefore + RATE * 88, "sender refunded");
        assertEq(streamPay.balanceOf(provider, address(0)), RATE * 12, "recipient credited");
    }

    function test_WhenAuthorisedSessionKeyVoucher_ChargesIt() public {
        (, uint256 keyPk) = makeAddrAndKey("sessionKey");
        skipTime(50);
        uint256 aliceBefore = alice.balance;

        vm.prank(provider);
        streamPay.closeByRecipient(
            nativeStream, sessionVoucher(keyPk, aliceKey, nativeStream, RATE * 12, START_TIME + 1 hours)
        );

        assertEq(alice.balance, aliceBefore + RATE * 88, "sender refunded");
        assertEq(streamPay.balanceOf(provider, address(0)), RATE * 12, "recipient credited");
    }

    function test_WhenSenderIsAnERC1271Wallet_ChargesItsOwnersVoucher() public {
        (ERC1271Wallet wallet, uint256 ownerKey) = newWallet("aliceSafe");
        uint256 streamId = createNativeFromWallet(wallet, nativeProviderId, RATE * 100, address(0));
        skipTime(50);
        uint256 walletBefore = address(wallet).balance;

        vm.prank(provider);
        streamPay.closeByRecipient(streamId, voucher(ownerKey, streamId, RATE * 12));

        assertEq(address(wallet).balance, walletBefore + RATE * 88, "wallet refunded");
        assertEq(streamPay.balanceOf(provider, address(0)), RATE * 12, "recipient credited");
    }

    function test_WhenSenderRevertsOnReceive_RefundIsCredited() public {
        Actor sender = newActor("revertingSender");
        uint256 streamId = createNativeFrom(sender, nativeProviderId, RATE * 100);
        sender.setMode(Actor.ReceiveMode.Revert);
        skipTime(20);
        // An Actor cannot sign: it releases the stream with an unsigned voucher for what was paid (0).
        vm.expectEmit(address(streamPay));
        emit IStreamPay.PaymentDeferred(address(sender), address(0), RATE * 100);
        vm.prank(provider);
        streamPay.closeByRecipient(streamId, unsignedVoucher(0));

        assertEq(streamPay.balanceOf(address(sender), address(0)), RATE * 100, "refund credited");
        assertEq(streamPay.balanceOf(provider, address(0)), 0, "recipient credited nothing");
        assertEq(address(streamPay).balance, RATE * 200, "alice's escrow + the credit");
    }

    /*//////////////////////////////////////////////////////////////
                      SUCCESS: ANSWERING A CANCEL
    //////////////////////////////////////////////////////////////*/

    function test_WhenAnsweringACancel_ChargesTheVoucherAndCancels() public {
        skipTime(40);
        vm.prank(alice);
        streamPay.cancelStream(nativeStream); // 60 s back at once
        skipTime(CHALLENGE_WINDOW - 1);
        uint256 aliceBefore = alice.balance;
        uint256 providerBefore = provider.balance;

        vm.expectEmit(address(registry));
        emit IComputeRegistry.CompletionRecorded(nativeProviderId, 1, RATE * 25, 1, RATE * 25);
        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamClosed(nativeStream, provider, StreamStatus.Cancelled, RATE * 25, RATE * 15);
        vm.prank(provider);
        streamPay.closeByRecipient(nativeStream, voucher(aliceKey, nativeStream, RATE * 25));

        assertEq(alice.balance, aliceBefore + RATE * 15, "sender gets the streamed part no voucher claims");
        assertEq(streamPay.balanceOf(provider, address(0)), RATE * 25, "recipient credited its voucher");
        assertEq(provider.balance, providerBefore, "credited, not pushed");
        assertEq(address(streamPay).balance, RATE * 25, "contract holds the credit");
        assertStream(nativeStream, StreamStatus.Cancelled, RATE * 25, START_TIME + 40, "cancelled");
        IStreamPay.StreamView memory v = streamPay.getStreamView(nativeStream);
        assertEq(v.refunded, RATE * 75, "60 s at the cancel + 15 s now");
        assertEq(v.streamed, RATE * 40, "streamed frozen at the cancel");
        assertEq(v.challengeEndsAt, START_TIME + 40 + CHALLENGE_WINDOW, "window end kept");
        assertStats(nativeProviderId, 1, RATE * 25, "completion");
    }

    function test_WhenAnsweringACancelWithAVoucherAboveStreamed_CapsAtTheFrozenAmount() public {
        skipTime(40);
        vm.prank(alice);
        streamPay.cancelStream(nativeStream);
        skipTime(60); // past the original stop: nothing streams after a cancel
        uint256 aliceBefore = alice.balance;

        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamClosed(nativeStream, provider, StreamStatus.Cancelled, RATE * 40, 0);
        vm.prank(provider);
        streamPay.closeByRecipient(nativeStream, voucher(aliceKey, nativeStream, RATE * 90));

        assertEq(alice.balance, aliceBefore, "sender gets nothing more");
        assertEq(streamPay.balanceOf(provider, address(0)), RATE * 40, "recipient capped at the cancel");
        assertEq(address(streamPay).balance, RATE * 40, "contract holds the credit");
    }

    function test_WhenAnsweringACancelAfterAWithdrawal_CreditsOnlyTheDifference() public {
        skipTime(40);
        vm.prank(alice);
        streamPay.cancelStream(nativeStream);
        uint256 providerBefore = provider.balance;
        streamPay.withdrawFromStream(nativeStream, voucher(aliceKey, nativeStream, RATE * 20)); // pushed
        uint256 aliceBefore = alice.balance;

        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamClosed(nativeStream, provider, StreamStatus.Cancelled, RATE * 10, RATE * 10);
        vm.prank(provider);
        streamPay.closeByRecipient(nativeStream, voucher(aliceKey, nativeStream, RATE * 30));

        assertEq(provider.balance, providerBefore + RATE * 20, "the withdrawal, pushed once");
        assertEq(streamPay.balanceOf(provider, address(0)), RATE * 10, "credit = voucher - withdrawn");
        assertEq(alice.balance, aliceBefore + RATE * 10, "sender gets streamed - voucher");
        assertEq(address(streamPay).balance, RATE * 10, "contract holds the credit");
        assertStats(nativeProviderId, 1, RATE * 30, "completion");
    }

    function test_WhenAnsweringACancelWithAnUnsignedVoucher_GivesUpTheRest() public {
        skipTime(40);
        vm.prank(alice);
        streamPay.cancelStream(nativeStream);
        streamPay.withdrawFromStream(nativeStream, voucher(aliceKey, nativeStream, RATE * 5));
        uint256 aliceBefore = alice.balance;

        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamClosed(nativeStream, provider, StreamStatus.Cancelled, 0, RATE * 35);
        vm.prank(provider);
        streamPay.closeByRecipient(nativeStream, unsignedVoucher(0));

        assertEq(alice.balance, aliceBefore + RATE * 35, "sender gets streamed - withdrawn");
        assertEq(address(streamPay).balance, 0, "escrow empty");
        assertStream(nativeStream, StreamStatus.Cancelled, RATE * 5, START_TIME + 40, "cancelled");
    }

    function test_WhenAnsweringALateCancelInItsWindowsLastSecond_ChargesTheVoucher() public {
        // A cancel after the stop time still gives a whole window, counted from the cancel.
        uint256 cancelledAt = START_TIME + 100 + CHALLENGE_WINDOW + 1;
        vm.warp(cancelledAt);
        vm.prank(alice);
        streamPay.cancelStream(nativeStream); // everything streamed: nothing back yet
        vm.warp(cancelledAt + CHALLENGE_WINDOW - 1);
        uint256 aliceBefore = alice.balance;

        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamClosed(nativeStream, provider, StreamStatus.Cancelled, RATE * 65, RATE * 35);
        vm.prank(provider);
        streamPay.closeByRecipient(nativeStream, voucher(aliceKey, nativeStream, RATE * 65));

        assertEq(alice.balance, aliceBefore + RATE * 35, "sender gets what no voucher claimed");
        assertEq(streamPay.balanceOf(provider, address(0)), RATE * 65, "recipient credited its voucher");
        assertEq(address(streamPay).balance, RATE * 65, "contract holds the credit");
        assertStream(nativeStream, StreamStatus.Cancelled, RATE * 65, cancelledAt, "endTime stays the cancel");
    }

    /*//////////////////////////////////////////////////////////////
                                 REVERTS
    //////////////////////////////////////////////////////////////*/

    function test_RevertWhen_StreamUnknown() public {
        vm.expectRevert(abi.encodeWithSelector(Errors.StreamPay_UnknownStream.selector, 3));
        vm.prank(provider);
        streamPay.closeByRecipient(3, unsignedVoucher(0));
    }

    function test_RevertWhen_StreamAlreadyClosed() public {
        skipTime(10);
        vm.prank(provider);
        streamPay.closeByRecipient(nativeStream, voucher(aliceKey, nativeStream, RATE));
        IStreamPay.Voucher memory v = voucher(aliceKey, nativeStream, RATE * 10);

        vm.expectRevert(
            abi.encodeWithSelector(Errors.StreamPay_StreamClosed.selector, nativeStream, StreamStatus.Closed)
        );
        vm.prank(provider);
        streamPay.closeByRecipient(nativeStream, v);
        assertEq(streamPay.balanceOf(provider, address(0)), RATE, "paid once");
    }

    function test_RevertWhen_StreamCancelled() public {
        skipTime(10);
        vm.prank(alice);
        streamPay.cancelStream(nativeStream);
        vm.prank(provider);
        streamPay.closeByRecipient(nativeStream, voucher(aliceKey, nativeStream, RATE * 4)); // the answer
        IStreamPay.Voucher memory v = voucher(aliceKey, nativeStream, RATE * 10);

        vm.expectRevert(
            abi.encodeWithSelector(Errors.StreamPay_StreamClosed.selector, nativeStream, StreamStatus.Cancelled)
        );
        vm.prank(provider);
        streamPay.closeByRecipient(nativeStream, v);
        assertEq(streamPay.balanceOf(provider, address(0)), RATE * 4, "answered once");
    }

    function test_RevertWhen_StreamSettled() public {
        skipTime(100 + GRACE_PERIOD);
        vm.prank(keeper);
        streamPay.batchUpdateStreams(ids1(nativeStream));

        vm.expectRevert(
            abi.encodeWithSelector(Errors.StreamPay_StreamClosed.selector, nativeStream, StreamStatus.Settled)
        );
        vm.prank(provider);
        streamPay.closeByRecipient(nativeStream, unsignedVoucher(0));
    }

    function test_RevertWhen_AnsweringAfterTheChallengeWindow() public {
        // The window is a deadline: at challengeEndsAt the answer is too late, and only finalisation is left.
        skipTime(20);
        streamPay.withdrawFromStream(nativeStream, voucher(aliceKey, nativeStream, RATE * 10)); // pushed
        skipTime(20);
        vm.prank(alice);
        streamPay.cancelStream(nativeStream); // 60 s back at once; 30 s streamed and unpaid wait
        uint256 endsAt = START_TIME + 40 + CHALLENGE_WINDOW;
        IStreamPay.Voucher memory best = voucher(aliceKey, nativeStream, RATE * 25);
        bytes memory tooLate =
            abi.encodeWithSelector(Errors.StreamPay_ChallengeWindowClosed.selector, nativeStream, endsAt);
        vm.warp(endsAt);

        _expectRefused(nativeStream, best, tooLate);
        vm.warp(endsAt + 100);
        _expectRefused(nativeStream, best, tooLate);
        _expectRefused(nativeStream, unsignedVoucher(0), tooLate); // even a release: finalisation does that
        assertStream(nativeStream, StreamStatus.Cancelling, RATE * 10, START_TIME + 40, "still cancelling");
        assertEq(streamPay.withdrawableAmountOf(nativeStream, RATE * 25), 0, "nothing withdrawable either");

        // Finalisation returns the rest: the sender paid only the voucher that was withdrawn in time.
        uint256 aliceBefore = alice.balance;
        vm.prank(keeper);
        assertEq(streamPay.batchUpdateStreams(ids1(nativeStream)), 1, "finalised");
        assertEq(alice.balance, aliceBefore + RATE * 30, "sender gets streamed - withdrawn");
        assertEq(streamPay.balanceOf(provider, address(0)), 0, "the late voucher paid nothing");
        assertEq(address(streamPay).balance, 0, "escrow empty");
        assertStream(nativeStream, StreamStatus.Cancelled, RATE * 10, START_TIME + 40, "cancelled");
        assertStats(nativeProviderId, 1, RATE * 10, "completion of what was paid in time");
    }

    function test_RevertWhen_AnsweringALateCancelAfterItsWindow() public {
        uint256 cancelledAt = START_TIME + 100 + GRACE_PERIOD - 1; // the last second before abandonment
        vm.warp(cancelledAt);
        vm.prank(alice);
        streamPay.cancelStream(nativeStream);
        uint256 endsAt = cancelledAt + CHALLENGE_WINDOW;
        vm.warp(endsAt);

        _expectRefused(
            nativeStream,
            voucher(aliceKey, nativeStream, RATE * 50),
            abi.encodeWithSelector(Errors.StreamPay_ChallengeWindowClosed.selector, nativeStream, endsAt)
        );
        assertStream(nativeStream, StreamStatus.Cancelling, 0, cancelledAt, "still cancelling");

        uint256 aliceBefore = alice.balance;
        vm.prank(keeper);
        assertEq(streamPay.batchUpdateStreams(ids1(nativeStream)), 1, "finalised");
        assertEq(alice.balance, aliceBefore + RATE * 100, "nothing was paid in time: all of it goes back");
        assertEq(address(streamPay).balance, 0, "escrow empty");
    }

    function test_RevertWhen_CallerIsSender() public {
        skipTime(10);
        IStreamPay.Voucher memory v = voucher(aliceKey, nativeStream, 0);
        vm.expectRevert(abi.encodeWithSelector(Errors.StreamPay_NotRecipient.selector, nativeStream, alice, provider));
        vm.prank(alice);
        streamPay.closeByRecipient(nativeStream, v);
    }

    function test_RevertWhen_CallerIsAStranger() public {
        vm.expectRevert(abi.encodeWithSelector(Errors.StreamPay_NotRecipient.selector, usdStream, eve, usdProvider));
        vm.prank(eve);
        streamPay.closeByRecipient(usdStream, unsignedVoucher(0));
    }

    function test_RevertWhen_CallerIsTheKeeperAnsweringACancel() public {
        skipTime(10);
        vm.prank(alice);
        streamPay.cancelStream(nativeStream);
        IStreamPay.Voucher memory v = voucher(aliceKey, nativeStream, RATE * 10);
        vm.expectRevert(abi.encodeWithSelector(Errors.StreamPay_NotRecipient.selector, nativeStream, keeper, provider));
        vm.prank(keeper);
        streamPay.closeByRecipient(nativeStream, v);
    }

    function test_RevertWhen_UnsignedVoucherAboveWithdrawn() public {
        skipTime(30);
        _expectRefused(
            nativeStream,
            unsignedVoucher(RATE * 10),
            abi.encodeWithSelector(Errors.StreamPay_InvalidVoucherSignature.selector, nativeStream, alice)
        );
    }

    function test_RevertWhen_VoucherSignedByTheRecipientItself() public {
        skipTime(30);
        _expectRefused(
            nativeStream,
            voucher(providerKey, nativeStream, RATE * 10),
            abi.encodeWithSelector(Errors.StreamPay_InvalidVoucherSignature.selector, nativeStream, alice)
        );
    }

    function test_RevertWhen_VoucherForAnotherStream() public {
        uint256 other = createNative(alice, nativeProviderId, RATE * 100);
        skipTime(30);
        _expectRefused(
            nativeStream,
            voucher(aliceKey, other, RATE * 10),
            abi.encodeWithSelector(Errors.StreamPay_InvalidVoucherSignature.selector, nativeStream, alice)
        );
    }

    function test_RevertWhen_VoucherAboveWithdrawnWithABadSignature() public {
        skipTime(30);
        streamPay.withdrawFromStream(nativeStream, voucher(aliceKey, nativeStream, RATE * 10));
        IStreamPay.Voucher memory v = voucher(aliceKey, nativeStream, RATE * 10);
        v.cumulative = RATE * 11; // one unit above what was paid must be signed
        _expectRefused(
            nativeStream,
            v,
            abi.encodeWithSelector(Errors.StreamPay_InvalidVoucherSignature.selector, nativeStream, alice)
        );
    }

    function test_RevertWhen_SessionKeyExpired() public {
        (address key, uint256 keyPk) = makeAddrAndKey("sessionKey");
        skipTime(30);
        uint256 expiry = START_TIME + 29;
        _expectRefused(
            nativeStream,
            sessionVoucher(keyPk, aliceKey, nativeStream, RATE * 10, expiry),
            abi.encodeWithSelector(Errors.StreamPay_SessionKeyExpired.selector, nativeStream, key, expiry)
        );
    }

    function test_RevertWhen_SessionKeyAuthorisedBySomeoneElse() public {
        (address key, uint256 keyPk) = makeAddrAndKey("sessionKey");
        skipTime(30);
        _expectRefused(
            nativeStream,
            sessionVoucher(keyPk, bobKey, nativeStream, RATE * 10, START_TIME + 1 days),
            abi.encodeWithSelector(Errors.StreamPay_InvalidSessionKeySignature.selector, nativeStream, key, alice)
        );
    }

    function test_RevertWhen_AnsweringACancelWithAVoucherWhoseSessionKeyExpiredMeanwhile() public {
        // A voucher by a signature-authorised key is void once the key expires, even if it was signed before:
        // a recipient holding one must withdraw it before the key's expiry, or lose it at a cancel.
        (address key, uint256 keyPk) = makeAddrAndKey("sessionKey");
        uint256 expiry = START_TIME + 45;
        IStreamPay.Voucher memory v = sessionVoucher(keyPk, aliceKey, nativeStream, RATE * 30, expiry);
        skipTime(40);
        vm.prank(alice);
        streamPay.cancelStream(nativeStream);
        skipTime(10); // inside the window, past the key's expiry
        _expectRefused(
            nativeStream,
            v,
            abi.encodeWithSelector(Errors.StreamPay_SessionKeyExpired.selector, nativeStream, key, expiry)
        );
    }

    function test_RevertWhen_AnsweringACancelWithABadSignature() public {
        skipTime(40);
        vm.prank(alice);
        streamPay.cancelStream(nativeStream);
        _expectRefused(
            nativeStream,
            voucher(bobKey, nativeStream, RATE * 40),
            abi.encodeWithSelector(Errors.StreamPay_InvalidVoucherSignature.selector, nativeStream, alice)
        );
        assertStream(nativeStream, StreamStatus.Cancelling, 0, START_TIME + 40, "still cancelling");
    }

    function test_RevertWhen_TooLittleGasToRefundTheSender() public {
        skipTime(10);
        uint256 aliceBefore = alice.balance;
        IStreamPay.Voucher memory v = unsignedVoucher(0);

        (bool ok, bytes memory ret) =
            callStreamPayWithGas(provider, 50_000, abi.encodeCall(streamPay.closeByRecipient, (nativeStream, v)));

        assertInsufficientGas(ok, ret);
        assertStream(nativeStream, StreamStatus.Open, 0, 0, "still open");
        assertEq(alice.balance, aliceBefore, "nothing refunded");
        assertEq(streamPay.balanceOf(alice, address(0)), 0, "refund not turned into a credit");
    }

    /*//////////////////////////////////////////////////////////////
                                 HELPERS
    //////////////////////////////////////////////////////////////*/

    /// @dev The recipient's close reverts with exactly `expected`, and no money moves.
    function _expectRefused(uint256 streamId, IStreamPay.Voucher memory v, bytes memory expected) private {
        uint256 aliceBefore = alice.balance;
        uint256 heldBefore = address(streamPay).balance;
        vm.expectRevert(expected);
        vm.prank(provider);
        streamPay.closeByRecipient(streamId, v);
        assertEq(alice.balance, aliceBefore, "nothing refunded");
        assertEq(address(streamPay).balance, heldBefore, "escrow untouched");
        assertEq(streamPay.balanceOf(provider, address(0)), 0, "nothing credited");
    }
}
