// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ConcreteTest} from "../Concrete.t.sol";
import {Actor} from "../../mocks/Actor.sol";
import {BlacklistToken} from "../../mocks/BlacklistToken.sol";
import {ERC1271Wallet} from "../../mocks/ERC1271Wallet.sol";
import {Errors} from "../../../src/libraries/Errors.sol";
import {IStreamPay} from "../../../src/interfaces/IStreamPay.sol";
import {StreamStatus} from "../../../src/types/DataTypes.sol";

/// @notice withdrawFromStream pays the recipient min(voucher, streamed) - withdrawn, whoever calls, against a
/// spend voucher of the sender (ECDSA or ERC-1271) or of a session key the sender named or authorised.
contract WithdrawFromStream_Test is ConcreteTest {
    uint256 internal nativeStream; // alice -> provider, 100 s
    uint256 internal usdStream; // alice -> usdProvider, 100 s
    uint256 internal sessionPk;
    address internal sessionKey;

    function setUp() public override {
        super.setUp();
        nativeStream = createNative(alice, nativeProviderId, RATE * 100);
        usdStream = createUsd(alice, usdProviderId, USD_RATE * 100);
        (sessionKey, sessionPk) = makeAddrAndKey("sessionKey");
    }

    /*//////////////////////////////////////////////////////////////
                               SUCCESS PATHS
    //////////////////////////////////////////////////////////////*/

    function test_WhenSenderVoucherBelowStreamed_PaysTheVoucher() public {
        skipTime(60);
        uint256 providerBefore = provider.balance;
        uint256 aliceBefore = alice.balance;
        uint256 eveBefore = eve.balance;
        uint256 keeperBefore = keeper.balance;
        IStreamPay.Voucher memory v = voucher(aliceKey, nativeStream, RATE * 40);

        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamWithdrawn(nativeStream, provider, eve, RATE * 40, RATE * 40);
        vm.prank(eve);
        uint256 paid = streamPay.withdrawFromStream(nativeStream, v);

        assertEq(paid, RATE * 40, "returned amount");
        assertEq(provider.balance, providerBefore + RATE * 40, "recipient paid the voucher, not the 60 s streamed");
        assertEq(streamPay.balanceOf(provider, address(0)), 0, "pushed, not credited");
        assertEq(alice.balance, aliceBefore, "sender untouched");
        assertEq(eve.balance, eveBefore, "caller gets nothing");
        assertEq(keeper.balance, keeperBefore, "keeper untouched");
        assertEq(address(streamPay).balance, RATE * 60, "escrow");
        assertStream(nativeStream, StreamStatus.Open, RATE * 40, 0, "still open");
        assertEq(streamPay.streamedAmountOf(nativeStream), RATE * 60, "streamed is time's cap, untouched");
        assertStats(nativeProviderId, 0, 0, "no completion yet");
    }

    function test_WhenVoucherAboveStreamed_CapsAtStreamed() public {
        skipTime(30);
        uint256 providerBefore = provider.balance;
        uint256 aliceBefore = alice.balance;

        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamWithdrawn(nativeStream, provider, provider, RATE * 30, RATE * 80);
        vm.prank(provider);
        uint256 paid = streamPay.withdrawFromStream(nativeStream, voucher(aliceKey, nativeStream, RATE * 80));

        assertEq(paid, RATE * 30, "capped at what streamed");
        assertEq(provider.balance, providerBefore + RATE * 30, "recipient paid");
        assertEq(alice.balance, aliceBefore, "sender untouched");
        assertEq(address(streamPay).balance, RATE * 70, "escrow");
        assertStream(nativeStream, StreamStatus.Open, RATE * 30, 0, "open");
    }

    function test_WhenStreamedCatchesUpWithAnEarlierVoucher_PaysTheRestOfIt() public {
        IStreamPay.Voucher memory v = voucher(aliceKey, nativeStream, RATE * 80);
        skipTime(30);
        streamPay.withdrawFromStream(nativeStream, v);
        skipTime(70);
        uint256 providerBefore = provider.balance;

        uint256 paid = streamPay.withdrawFromStream(nativeStream, v);

        assertEq(paid, RATE * 50, "the same voucher pays what time now allows");
        assertEq(provider.balance, providerBefore + RATE * 50, "recipient paid");
        assertEq(address(streamPay).balance, RATE * 20, "the unvouched 20 s stay in escrow");
        assertStream(nativeStream, StreamStatus.Open, RATE * 80, 0, "open");
    }

    function test_WhenHigherVoucherLater_PaysOnlyTheDelta() public {
        skipTime(50);
        streamPay.withdrawFromStream(nativeStream, voucher(aliceKey, nativeStream, RATE * 20));
        uint256 providerBefore = provider.balance;
        uint256 aliceBefore = alice.balance;

        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamWithdrawn(nativeStream, provider, keeper, RATE * 15, RATE * 35);
        vm.prank(keeper);
        uint256 paid = streamPay.withdrawFromStream(nativeStream, voucher(aliceKey, nativeStream, RATE * 35));

        assertEq(paid, RATE * 15, "only the new part");
        assertEq(provider.balance, providerBefore + RATE * 15, "recipient paid the delta");
        assertEq(alice.balance, aliceBefore, "sender untouched");
        assertEq(address(streamPay).balance, RATE * 65, "escrow");
        assertStream(nativeStream, StreamStatus.Open, RATE * 35, 0, "withdrawn total");
    }

    function test_WhenERC20_PaysRecipientInTheToken() public {
        skipTime(42);
        uint256 recipientBefore = usd.balanceOf(usdProvider);
        uint256 aliceBefore = usd.balanceOf(alice);
        uint256 keeperBefore = usd.balanceOf(keeper);
        uint256 cumulative = USD_RATE * 17 + 3; // a voucher need not be whole seconds

        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamWithdrawn(usdStream, usdProvider, keeper, cumulative, cumulative);
        vm.prank(keeper);
        uint256 paid = streamPay.withdrawFromStream(usdStream, voucher(aliceKey, usdStream, cumulative));

        assertEq(paid, cumulative, "returned amount");
        assertEq(usd.balanceOf(usdProvider), recipientBefore + cumulative, "recipient paid");
        assertEq(usd.balanceOf(alice), aliceBefore, "sender untouched");
        assertEq(usd.balanceOf(keeper), keeperBefore, "caller untouched");
        assertEq(usd.balanceOf(address(streamPay)), USD_RATE * 100 - cumulative, "escrow");
        assertEq(address(streamPay).balance, RATE * 100, "native escrow untouched");
        assertStream(usdStream, StreamStatus.Open, cumulative, 0, "open");
    }

    function test_WhenVoucherCameWithARequest_PaysIt() public {
        skipTime(20);
        bytes32 request = requestHash(keccak256("{\"prompt\":\"hi\"}"), 7, START_TIME + 60);
        uint256 providerBefore = provider.balance;

        uint256 paid = streamPay.withdrawFromStream(
            nativeStream, requestVoucher(aliceKey, nativeStream, RATE * 12, request)
        );

        assertEq(paid, RATE * 12, "the request's own signature is the voucher");
        assertEq(provider.balance, providerBefore + RATE * 12, "recipient paid");
        assertEq(address(streamPay).balance, RATE * 88, "escrow");
    }

    function test_WhenSenderIsAnERC1271Wallet_AcceptsItsOwnersVoucher() public {
        (ERC1271Wallet wallet, uint256 ownerKey) = newWallet("aliceSafe");
        uint256 streamId = createNativeFromWallet(wallet, nativeProviderId, RATE * 100, address(0));
        skipTime(50);
        uint256 providerBefore = provider.balance;
        uint256 walletBefore = address(wallet).balance;

        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamWithdrawn(streamId, provider, eve, RATE * 45, RATE * 45);
        vm.prank(eve);
        uint256 paid = streamPay.withdrawFromStream(streamId, voucher(ownerKey, streamId, RATE * 45));

        assertEq(paid, RATE * 45, "voucher checked through ERC-1271");
        assertEq(provider.balance, providerBefore + RATE * 45, "recipient paid");
        assertEq(address(wallet).balance, walletBefore, "sender wallet untouched");
        assertEq(address(streamPay).balance, RATE * 155, "both native escrows minus the payout");
    }

    function test_WhenSessionKeyAuthorisedBySignature_Pays() public {
        skipTime(30);
        uint256 expiry = START_TIME + 1 hours;
        uint256 providerBefore = provider.balance;
        uint256 aliceBefore = alice.balance;

        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamWithdrawn(nativeStream, provider, provider, RATE * 25, RATE * 25);
        vm.prank(provider);
        uint256 paid = streamPay.withdrawFromStream(
            nativeStream, sessionVoucher(sessionPk, aliceKey, nativeStream, RATE * 25, expiry)
        );

        assertEq(paid, RATE * 25, "the key signs for alice");
        assertEq(provider.balance, providerBefore + RATE * 25, "recipient paid");
        assertEq(alice.balance, aliceBefore, "sender untouched");
        assertEq(address(streamPay).balance, RATE * 75, "escrow");
    }

    function test_WhenSessionKeyExpiresThisVerySecond_StillPays() public {
        skipTime(30);
        uint256 expiry = now_(); // void only once block.timestamp > expiry

        uint256 paid = streamPay.withdrawFromStream(
            nativeStream, sessionVoucher(sessionPk, aliceKey, nativeStream, RATE * 10, expiry)
        );

        assertEq(paid, RATE * 10, "valid at its expiry second");
    }

    function test_WhenERC1271SenderAuthorisedTheSessionKey_Pays() public {
        (ERC1271Wallet wallet, uint256 ownerKey) = newWallet("aliceSafe");
        uint256 streamId = createNativeFromWallet(wallet, nativeProviderId, RATE * 100, address(0));
        skipTime(40);
        uint256 providerBefore = provider.balance;

        // The wallet's owner signs the SessionKey authorisation; the wallet validates it by ERC-1271.
        uint256 paid = streamPay.withdrawFromStream(
            streamId, sessionVoucher(sessionPk, ownerKey, streamId, RATE * 33, START_TIME + 1 days)
        );

        assertEq(paid, RATE * 33, "paid");
        assertEq(provider.balance, providerBefore + RATE * 33, "recipient paid");
        assertEq(address(streamPay).balance, RATE * 167, "escrows minus the payout");
    }

    function test_WhenNamedSessionKey_PaysWithoutAnAuthorisationSignature() public {
        uint256 streamId = createNativeWithKey(bob, nativeProviderId, RATE * 100, sessionKey);
        skipTime(70);
        uint256 providerBefore = provider.balance;
        uint256 bobBefore = bob.balance;

        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamWithdrawn(streamId, provider, eve, RATE * 64, RATE * 64);
        vm.prank(eve);
        uint256 paid = streamPay.withdrawFromStream(streamId, namedKeyVoucher(sessionPk, streamId, RATE * 64));

        assertEq(paid, RATE * 64, "paid");
        assertEq(provider.balance, providerBefore + RATE * 64, "recipient paid");
        assertEq(bob.balance, bobBefore, "sender untouched");
        assertEq(address(streamPay).balance, RATE * 136, "escrows minus the payout");
    }

    function test_WhenNamedSessionKeyCarriesAnOldExpiry_ItIsIgnored() public {
        uint256 streamId = createNativeWithKey(bob, nativeProviderId, RATE * 100, sessionKey);
        skipTime(70);
        IStreamPay.Voucher memory v = namedKeyVoucher(sessionPk, streamId, RATE * 10);
        v.sessionExpiry = 1; // the key named at creation lives as long as the stream

        assertEq(streamPay.withdrawFromStream(streamId, v), RATE * 10, "no expiry for the named key");
    }

    function test_WhenCancelling_CapsAtTheFrozenStreamedAmount() public {
        skipTime(40);
        vm.prank(alice);
        streamPay.cancelStream(nativeStream); // 60 s refunded now; 40 s streamed, frozen
        skipTime(100); // time no longer streams anything
        uint256 providerBefore = provider.balance;
        uint256 aliceBefore = alice.balance;

        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamWithdrawn(nativeStream, provider, provider, RATE * 40, RATE * 90);
        vm.prank(provider);
        uint256 paid = streamPay.withdrawFromStream(nativeStream, voucher(aliceKey, nativeStream, RATE * 90));

        assertEq(paid, RATE * 40, "capped at what streamed until the cancel");
        assertEq(provider.balance, providerBefore + RATE * 40, "recipient paid");
        assertEq(alice.balance, aliceBefore, "sender's refund already went at the cancel");
        assertEq(address(streamPay).balance, 0, "escrow empty");
        assertStream(nativeStream, StreamStatus.Cancelling, RATE * 40, START_TIME + 40, "still cancelling");
        assertStats(nativeProviderId, 0, 0, "the cancel is not final yet");
    }

    function test_WhenCancellingInTheWindowsLastSecond_Pays() public {
        skipTime(40);
        vm.prank(alice);
        streamPay.cancelStream(nativeStream);
        vm.warp(START_TIME + 40 + CHALLENGE_WINDOW - 1);
        uint256 providerBefore = provider.balance;

        vm.prank(eve);
        uint256 paid = streamPay.withdrawFromStream(nativeStream, voucher(aliceKey, nativeStream, RATE * 25));

        assertEq(paid, RATE * 25, "the voucher, in the window's last second");
        assertEq(provider.balance, providerBefore + RATE * 25, "recipient paid");
        assertEq(address(streamPay).balance, RATE * 15, "the unvouched streamed part waits for finalisation");
        assertStream(nativeStream, StreamStatus.Cancelling, RATE * 25, START_TIME + 40, "still cancelling");
    }

    function test_WhenDepletedButNotAbandoned_PaysAndStaysOpen() public {
        skipTime(100 + GRACE_PERIOD - 1);
        uint256 providerBefore = provider.balance;

        uint256 paid = streamPay.withdrawFromStream(nativeStream, voucher(aliceKey, nativeStream, RATE * 70));

        assertEq(paid, RATE * 70, "voucher, not the whole deposit");
        assertEq(provider.balance, providerBefore + RATE * 70, "recipient paid");
        assertEq(address(streamPay).balance, RATE * 30, "the rest waits for a close");
        assertStream(nativeStream, StreamStatus.Open, RATE * 70, 0, "a withdrawal never closes");
        assertStats(nativeProviderId, 0, 0, "no completion");
    }

    function test_WhenRecipientReverts_CreditsItsBalance() public {
        Actor recipient = newActor("revertingProvider");
        uint256 providerId = registerActorProvider(recipient, MODEL, RATE, address(0));
        uint256 streamId = createNative(bob, providerId, RATE * 100);
        recipient.setMode(Actor.ReceiveMode.Revert);
        skipTime(25);
        uint256 recipientBefore = address(recipient).balance;

        vm.expectEmit(address(streamPay));
        emit IStreamPay.PaymentDeferred(address(recipient), address(0), RATE * 25);
        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamWithdrawn(streamId, address(recipient), eve, RATE * 25, RATE * 25);
        vm.prank(eve);
        uint256 paid = streamPay.withdrawFromStream(streamId, voucher(bobKey, streamId, RATE * 25));

        assertEq(paid, RATE * 25, "amount");
        assertEq(address(recipient).balance, recipientBefore, "push failed");
        assertEq(streamPay.balanceOf(address(recipient), address(0)), RATE * 25, "credited instead");
        assertEq(getStream(streamId).withdrawn, RATE * 25, "counted once");
        assertEq(address(streamPay).balance, RATE * 200, "both escrows, incl. the credit");
    }

    function test_WhenRecipientBurnsGas_CreditsItsBalance() public {
        Actor recipient = newActor("gasBurningProvider");
        uint256 providerId = registerActorProvider(recipient, MODEL, RATE, address(0));
        uint256 streamId = createNative(bob, providerId, RATE * 100);
        recipient.setMode(Actor.ReceiveMode.BurnGas);
        skipTime(25);
        uint256 recipientBefore = address(recipient).balance;

        vm.expectEmit(address(streamPay));
        emit IStreamPay.PaymentDeferred(address(recipient), address(0), RATE * 25);
        uint256 paid = streamPay.withdrawFromStream(streamId, voucher(bobKey, streamId, RATE * 25));

        assertEq(paid, RATE * 25, "amount");
        assertEq(streamPay.balanceOf(address(recipient), address(0)), RATE * 25, "credited");
        assertEq(address(recipient).balance, recipientBefore, "push failed");
        assertEq(address(streamPay).balance, RATE * 200, "both escrows, incl. the credit");
    }

    function test_WhenTokenBlacklistsRecipient_CreditsItsBalance() public {
        BlacklistToken busd = new BlacklistToken();
        address bProvider = makeAddr("blacklistedProvider");
        vm.deal(bProvider, MIN_STAKE);
        uint256 providerId = registerProvider(bProvider, MODEL, 10, address(busd));
        busd.mint(alice, 1_000_000);
        vm.prank(alice);
        busd.approve(address(streamPay), type(uint256).max);
        uint256 streamId = createUsd(alice, providerId, 1000);
        busd.setBlacklisted(bProvider, true);
        skipTime(30);

        vm.expectEmit(address(streamPay));
        emit IStreamPay.PaymentDeferred(bProvider, address(busd), 300);
        uint256 paid = streamPay.withdrawFromStream(streamId, voucher(aliceKey, streamId, 300));

        assertEq(paid, 300, "amount");
        assertEq(busd.balanceOf(bProvider), 0, "push failed");
        assertEq(streamPay.balanceOf(bProvider, address(busd)), 300, "credited");
        assertEq(busd.balanceOf(address(streamPay)), 1000, "escrow incl. the credit");
        assertEq(busd.balanceOf(alice), 1_000_000 - 1000, "sender paid the deposit only");
    }

    /*//////////////////////////////////////////////////////////////
                            REVERTS: STREAM STATE
    //////////////////////////////////////////////////////////////*/

    function test_RevertWhen_StreamUnknown() public {
        IStreamPay.Voucher memory v = voucher(aliceKey, 0, 1);
        vm.expectRevert(abi.encodeWithSelector(Errors.StreamPay_UnknownStream.selector, 0));
        streamPay.withdrawFromStream(0, v);
    }

    function test_RevertWhen_StreamClosedByReceipt() public {
        skipTime(10);
        bytes memory sig = signFinalReceipt(providerKey, nativeStream, RATE * 5);
        vm.prank(alice);
        streamPay.closeWithReceipt(nativeStream, RATE * 5, sig);
        IStreamPay.Voucher memory v = voucher(aliceKey, nativeStream, RATE * 10);

        vm.expectRevert(
            abi.encodeWithSelector(Errors.StreamPay_StreamClosed.selector, nativeStream, StreamStatus.Closed)
        );
        vm.prank(provider);
        streamPay.withdrawFromStream(nativeStream, v);
        assertEq(streamPay.balanceOf(provider, address(0)), RATE * 5, "the receipt's amount, nothing more");
    }

    function test_RevertWhen_StreamCancelled() public {
        vm.prank(alice);
        streamPay.cancelStream(nativeStream); // nothing streamed: Cancelled at once
        skipTime(10);
        IStreamPay.Voucher memory v = voucher(aliceKey, nativeStream, RATE * 10);

        vm.expectRevert(
            abi.encodeWithSelector(Errors.StreamPay_StreamClosed.selector, nativeStream, StreamStatus.Cancelled)
        );
        streamPay.withdrawFromStream(nativeStream, v);
    }

    function test_RevertWhen_StreamSettled() public {
        skipTime(100 + GRACE_PERIOD);
        vm.prank(keeper);
        streamPay.batchUpdateStreams(ids1(nativeStream));
        IStreamPay.Voucher memory v = voucher(aliceKey, nativeStream, RATE * 100);

        vm.expectRevert(
            abi.encodeWithSelector(Errors.StreamPay_StreamClosed.selector, nativeStream, StreamStatus.Settled)
        );
        streamPay.withdrawFromStream(nativeStream, v);
    }

    function test_RevertWhen_CancellingAndTheChallengeWindowClosed() public {
        // The window is a deadline for withdrawals too: from challengeEndsAt on, nobody can pay the recipient
        // from a cancelled stream, and only finalisation is left.
        skipTime(20);
        streamPay.withdrawFromStream(nativeStream, voucher(aliceKey, nativeStream, RATE * 10)); // pushed
        skipTime(20);
        vm.prank(alice);
        streamPay.cancelStream(nativeStream); // 60 s back at once; 30 s streamed and unpaid wait
        uint256 endsAt = START_TIME + 40 + CHALLENGE_WINDOW;
        IStreamPay.Voucher memory best = voucher(aliceKey, nativeStream, RATE * 35);
        bytes memory tooLate =
            abi.encodeWithSelector(Errors.StreamPay_ChallengeWindowClosed.selector, nativeStream, endsAt);
        vm.warp(endsAt);
        uint256 aliceBefore = alice.balance;

        _expectRefused(nativeStream, best, tooLate); // by the recipient
        vm.expectRevert(tooLate);
        vm.prank(eve);
        streamPay.withdrawFromStream(nativeStream, best); // by anyone else
        vm.warp(endsAt + 1 days);
        _expectRefused(nativeStream, best, tooLate);
        assertEq(alice.balance, aliceBefore, "sender not paid by a refused withdrawal");
        assertEq(streamPay.withdrawableAmountOf(nativeStream, RATE * 35), 0, "nothing withdrawable");
        assertStream(nativeStream, StreamStatus.Cancelling, RATE * 10, START_TIME + 40, "still cancelling");

        // Finalisation returns the rest: the late voucher paid nothing.
        uint256 providerBefore = provider.balance;
        vm.prank(keeper);
        assertEq(streamPay.batchUpdateStreams(ids1(nativeStream)), 1, "finalised");
        assertEq(alice.balance, aliceBefore + RATE * 30, "sender gets streamed - withdrawn");
        assertEq(provider.balance, providerBefore, "recipient keeps its 10 s, nothing more");
        assertEq(streamPay.balanceOf(provider, address(0)), 0, "no credit");
        assertEq(address(streamPay).balance, 0, "escrow empty");
        assertStream(nativeStream, StreamStatus.Cancelled, RATE * 10, START_TIME + 40, "cancelled");
    }

    /*//////////////////////////////////////////////////////////////
                           REVERTS: NOTHING TO PAY
    //////////////////////////////////////////////////////////////*/

    function test_RevertWhen_NothingStreamedYet() public {
        IStreamPay.Voucher memory v = voucher(aliceKey, nativeStream, RATE * 10);
        vm.expectRevert(
            abi.encodeWithSelector(Errors.StreamPay_NothingToWithdraw.selector, nativeStream, RATE * 10, 0, 0)
        );
        streamPay.withdrawFromStream(nativeStream, v);
    }

    function test_RevertWhen_VoucherIsZero() public {
        skipTime(10);
        IStreamPay.Voucher memory v = voucher(aliceKey, nativeStream, 0);
        vm.expectRevert(
            abi.encodeWithSelector(Errors.StreamPay_NothingToWithdraw.selector, nativeStream, 0, RATE * 10, 0)
        );
        streamPay.withdrawFromStream(nativeStream, v);
    }

    function test_RevertWhen_SameVoucherTwice() public {
        skipTime(60);
        IStreamPay.Voucher memory v = voucher(aliceKey, nativeStream, RATE * 30);
        streamPay.withdrawFromStream(nativeStream, v);
        uint256 providerBefore = provider.balance;

        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.StreamPay_NothingToWithdraw.selector, nativeStream, RATE * 30, RATE * 60, RATE * 30
            )
        );
        streamPay.withdrawFromStream(nativeStream, v);
        assertEq(provider.balance, providerBefore, "not paid twice");
    }

    function test_RevertWhen_LowerVoucherAfterAHigherOne() public {
        // The sender signed 30, then (carelessly or on purpose) 20: what was paid stays paid, no refund,
        // and the lower voucher pays nothing more.
        skipTime(60);
        streamPay.withdrawFromStream(nativeStream, voucher(aliceKey, nativeStream, RATE * 30));
        IStreamPay.Voucher memory lower = voucher(aliceKey, nativeStream, RATE * 20);
        uint256 providerBefore = provider.balance;
        uint256 aliceBefore = alice.balance;

        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.StreamPay_NothingToWithdraw.selector, nativeStream, RATE * 20, RATE * 60, RATE * 30
            )
        );
        streamPay.withdrawFromStream(nativeStream, lower);

        assertEq(provider.balance, providerBefore, "recipient keeps 30, gets nothing more");
        assertEq(alice.balance, aliceBefore, "sender gets nothing back");
        assertEq(getStream(nativeStream).withdrawn, RATE * 30, "withdrawn unchanged");
    }

    function test_RevertWhen_CancellingStreamAlreadyPaidItsFrozenAmount() public {
        skipTime(40);
        vm.prank(alice);
        streamPay.cancelStream(nativeStream);
        skipTime(10);
        streamPay.withdrawFromStream(nativeStream, voucher(aliceKey, nativeStream, RATE * 90));
        IStreamPay.Voucher memory higher = voucher(aliceKey, nativeStream, RATE * 100);

        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.StreamPay_NothingToWithdraw.selector, nativeStream, RATE * 100, RATE * 40, RATE * 40
            )
        );
        streamPay.withdrawFromStream(nativeStream, higher);
    }

    /*//////////////////////////////////////////////////////////////
                        REVERTS: THE SENDER'S SIGNATURE
    //////////////////////////////////////////////////////////////*/

    function test_RevertWhen_SignedBySomeoneElse() public {
        skipTime(10);
        _expectInvalidVoucher(nativeStream, voucher(bobKey, nativeStream, RATE * 5), alice);
    }

    function test_RevertWhen_SignedByTheRecipient() public {
        skipTime(10);
        _expectInvalidVoucher(nativeStream, voucher(providerKey, nativeStream, RATE * 5), alice);
    }

    function test_RevertWhen_VoucherForAnotherStream() public {
        uint256 other = createNative(alice, nativeProviderId, RATE * 100); // alice's own, same provider
        skipTime(10);
        IStreamPay.Voucher memory v = voucher(aliceKey, other, RATE * 5);
        _expectInvalidVoucher(nativeStream, v, alice);
    }

    function test_RevertWhen_CumulativeDiffersFromTheSignedOne() public {
        skipTime(50);
        IStreamPay.Voucher memory v = voucher(aliceKey, nativeStream, RATE * 5);
        v.cumulative = RATE * 50;
        _expectInvalidVoucher(nativeStream, v, alice);
    }

    function test_RevertWhen_RequestDiffersFromTheSignedOne() public {
        skipTime(10);
        IStreamPay.Voucher memory v =
            requestVoucher(aliceKey, nativeStream, RATE * 5, requestHash(keccak256("body"), 1, START_TIME + 60));
        v.request = noRequest();
        _expectInvalidVoucher(nativeStream, v, alice);
    }

    function test_RevertWhen_VoucherForAnotherDeployment() public {
        skipTime(10);
        bytes32 otherDomain = keccak256(
            abi.encode(DOMAIN_TYPEHASH, keccak256("StreamPay"), keccak256("1"), block.chainid, address(0xBEEF))
        );
        bytes32 structHash = keccak256(abi.encode(SPEND_TYPEHASH, nativeStream, RATE * 5, noRequest()));
        IStreamPay.Voucher memory v = unsignedVoucher(RATE * 5);
        v.request = noRequest();
        v.signature = sign(aliceKey, keccak256(abi.encodePacked("\x19\x01", otherDomain, structHash)));
        _expectInvalidVoucher(nativeStream, v, alice);
    }

    function test_RevertWhen_ReceiptSignatureUsedAsAVoucher() public {
        // A signature over another EIP-712 type with the same numbers is not a Spend.
        skipTime(10);
        IStreamPay.Voucher memory v = unsignedVoucher(RATE * 5);
        v.request = noRequest();
        v.signature = sign(aliceKey, receiptDigest(nativeStream, RATE * 5, true));
        _expectInvalidVoucher(nativeStream, v, alice);
    }

    function test_RevertWhen_SignatureEmptyOrTruncated() public {
        skipTime(10);
        _expectInvalidVoucher(nativeStream, unsignedVoucher(RATE * 5), alice);
        IStreamPay.Voucher memory v = voucher(aliceKey, nativeStream, RATE * 5);
        bytes memory truncated = new bytes(64);
        for (uint256 i; i < 64; ++i) {
            truncated[i] = v.signature[i];
        }
        v.signature = truncated;
        _expectInvalidVoucher(nativeStream, v, alice);
    }

    function test_RevertWhen_ERC1271SenderRejectsTheSigner() public {
        (ERC1271Wallet wallet,) = newWallet("aliceSafe");
        uint256 streamId = createNativeFromWallet(wallet, nativeProviderId, RATE * 100, address(0));
        skipTime(10);
        // alice's own key is not the wallet's owner.
        _expectInvalidVoucher(streamId, voucher(aliceKey, streamId, RATE * 5), address(wallet));
    }

    /*//////////////////////////////////////////////////////////////
                          REVERTS: SESSION KEYS
    //////////////////////////////////////////////////////////////*/

    function test_RevertWhen_SessionKeyExpired() public {
        skipTime(30);
        uint256 expiry = now_() - 1;
        IStreamPay.Voucher memory v = sessionVoucher(sessionPk, aliceKey, nativeStream, RATE * 10, expiry);

        vm.expectRevert(
            abi.encodeWithSelector(Errors.StreamPay_SessionKeyExpired.selector, nativeStream, sessionKey, expiry)
        );
        streamPay.withdrawFromStream(nativeStream, v);
        assertEq(getStream(nativeStream).withdrawn, 0, "nothing paid");
    }

    function test_RevertWhen_SessionKeyAuthorisedForAnotherStream() public {
        uint256 other = createNative(alice, nativeProviderId, RATE * 100);
        skipTime(30);
        IStreamPay.Voucher memory v = sessionVoucher(sessionPk, aliceKey, nativeStream, RATE * 10, START_TIME + 1 days);
        v.sessionSignature = sign(aliceKey, sessionKeyDigest(other, sessionKey, START_TIME + 1 days));
        _expectInvalidSessionKey(nativeStream, v, alice);
    }

    function test_RevertWhen_SessionKeyNamedForAnotherStream() public {
        createNativeWithKey(alice, nativeProviderId, RATE * 100, sessionKey); // named on alice's other stream
        skipTime(30);
        _expectInvalidSessionKey(nativeStream, namedKeyVoucher(sessionPk, nativeStream, RATE * 10), alice);
    }

    function test_RevertWhen_SessionKeyAuthorisedBySomeoneOtherThanTheSender() public {
        skipTime(30);
        // bob authorises the key for alice's stream: worthless.
        IStreamPay.Voucher memory v = sessionVoucher(sessionPk, bobKey, nativeStream, RATE * 10, START_TIME + 1 days);
        _expectInvalidSessionKey(nativeStream, v, alice);
    }

    function test_RevertWhen_SessionKeyAuthorisedByTheRecipient() public {
        skipTime(30);
        IStreamPay.Voucher memory v =
            sessionVoucher(sessionPk, providerKey, nativeStream, RATE * 10, START_TIME + 1 days);
        _expectInvalidSessionKey(nativeStream, v, alice);
    }

    function test_RevertWhen_SessionKeyNeitherNamedNorAuthorised() public {
        skipTime(30);
        _expectInvalidSessionKey(nativeStream, namedKeyVoucher(sessionPk, nativeStream, RATE * 10), alice);
    }

    function test_RevertWhen_SessionExpiryDiffersFromTheAuthorisedOne() public {
        skipTime(30);
        IStreamPay.Voucher memory v = sessionVoucher(sessionPk, aliceKey, nativeStream, RATE * 10, START_TIME + 60);
        v.sessionExpiry = START_TIME + 1 days; // stretched by whoever relays it
        _expectInvalidSessionKey(nativeStream, v, alice);
    }

    function test_RevertWhen_VoucherNotSignedByTheKeyItNames() public {
        skipTime(30);
        IStreamPay.Voucher memory v = sessionVoucher(sessionPk, aliceKey, nativeStream, RATE * 10, START_TIME + 1 days);
        v.signature = sign(bobKey, spendDigest(nativeStream, RATE * 10, noRequest()));
        _expectInvalidVoucher(nativeStream, v, sessionKey);
    }

    function test_RevertWhen_NamedKeyVoucherSignedByAnotherKey() public {
        uint256 streamId = createNativeWithKey(bob, nativeProviderId, RATE * 100, sessionKey);
        skipTime(30);
        IStreamPay.Voucher memory v = namedKeyVoucher(sessionPk, streamId, RATE * 10);
        v.signature = sign(providerKey, spendDigest(streamId, RATE * 10, noRequest()));
        _expectInvalidVoucher(streamId, v, sessionKey);
    }

    /*//////////////////////////////////////////////////////////////
                                REVERTS: GAS
    //////////////////////////////////////////////////////////////*/

    function test_RevertWhen_TooLittleGasToPayTheRecipient() public {
        skipTime(10);
        uint256 providerBefore = provider.balance;
        IStreamPay.Voucher memory v = voucher(aliceKey, nativeStream, RATE * 10);

        (bool ok, bytes memory ret) =
            callStreamPayWithGas(eve, 40_000, abi.encodeCall(streamPay.withdrawFromStream, (nativeStream, v)));

        assertInsufficientGas(ok, ret);
        assertEq(getStream(nativeStream).withdrawn, 0, "nothing recorded");
        assertEq(provider.balance, providerBefore, "nothing paid");
        assertEq(streamPay.balanceOf(provider, address(0)), 0, "nothing credited");
    }

    /*//////////////////////////////////////////////////////////////
                                 HELPERS
    //////////////////////////////////////////////////////////////*/

    function _expectInvalidVoucher(uint256 streamId, IStreamPay.Voucher memory v, address signer) private {
        _expectRefused(
            streamId, v, abi.encodeWithSelector(Errors.StreamPay_InvalidVoucherSignature.selector, streamId, signer)
        );
    }

    function _expectInvalidSessionKey(uint256 streamId, IStreamPay.Voucher memory v, address sender) private {
        _expectRefused(
            streamId,
            v,
            abi.encodeWithSelector(Errors.StreamPay_InvalidSessionKeySignature.selector, streamId, v.sessionKey, sender)
        );
    }

    /// @dev The call reverts with exactly `expected`, and nobody is paid.
    function _expectRefused(uint256 streamId, IStreamPay.Voucher memory v, bytes memory expected) private {
        uint256 providerBefore = provider.balance;
        uint256 heldBefore = address(streamPay).balance;
        uint256 withdrawnBefore = getStream(streamId).withdrawn;
        vm.expectRevert(expected);
        vm.prank(provider);
        streamPay.withdrawFromStream(streamId, v);
        assertEq(provider.balance, providerBefore, "nothing paid");
        assertEq(address(streamPay).balance, heldBefore, "escrow untouched");
        assertEq(getStream(streamId).withdrawn, withdrawnBefore, "withdrawn untouched");
    }
}
