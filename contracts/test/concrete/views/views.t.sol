// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ConcreteTest} from "../Concrete.t.sol";
import {StreamPay} from "../../../src/StreamPay.sol";
import {Errors} from "../../../src/libraries/Errors.sol";
import {IStreamPay} from "../../../src/interfaces/IStreamPay.sol";
import {Stream, StreamStatus} from "../../../src/types/DataTypes.sol";

/// @notice getStream, getStreamView, streamedAmountOf, withdrawableAmountOf, refundableAmountOf,
/// namedSessionKeyOf, balanceOf, the EIP-712 digests (hashReceipt, hashSpend, hashSessionKey), gracePeriod,
/// challengeWindow, nextStreamId and the constants.
contract Views_Test is ConcreteTest {
    uint256 internal nativeStream; // alice -> provider, 100 s
    uint256 internal usdStream; // bob -> usdProvider, 200 s

    function setUp() public override {
        super.setUp();
        nativeStream = createNative(alice, nativeProviderId, RATE * 100);
        usdStream = createUsd(bob, usdProviderId, USD_RATE * 200);
    }

    /*//////////////////////////////////////////////////////////////
                                 getStream
    //////////////////////////////////////////////////////////////*/

    function test_GetStream_WhenKnown_ReturnsStoredFields() public {
        skipTime(10);
        streamPay.withdrawFromStream(usdStream, voucher(bobKey, usdStream, USD_RATE * 7));
        Stream memory s = getStream(usdStream);
        assertEq(s.sender, bob, "sender");
        assertEq(s.providerId, usdProviderId, "provider");
        assertEq(s.startTime, START_TIME, "start");
        assertEq(s.stopTime, START_TIME + 200, "stop");
        assertEq(s.withdrawn, USD_RATE * 7, "withdrawn = what the voucher paid");
        assertEq(s.ratePerSecond, USD_RATE, "rate");
        assertEq(s.endTime, 0, "0 while open");
        assertTrue(s.status == StreamStatus.Open, "status");
        assertFalse(s.isNative, "native flag");
    }

    function test_RevertWhen_GetStreamOfIdZero() public {
        vm.expectRevert(abi.encodeWithSelector(Errors.StreamPay_UnknownStream.selector, 0));
        streamPay.getStream(0);
    }

    function test_RevertWhen_GetStreamOfTheNextId() public {
        vm.expectRevert(abi.encodeWithSelector(Errors.StreamPay_UnknownStream.selector, 3));
        streamPay.getStream(3);
    }

    /*//////////////////////////////////////////////////////////////
                               getStreamView
    //////////////////////////////////////////////////////////////*/

    function test_GetStreamView_WhenOpen_DerivesAmountsAsOfNow() public {
        skipTime(30);
        streamPay.withdrawFromStream(nativeStream, voucher(aliceKey, nativeStream, RATE * 22));
        skipTime(15);

        IStreamPay.StreamView memory v = streamPay.getStreamView(nativeStream);
        assertEq(v.id, nativeStream, "id");
        assertEq(v.sender, alice, "sender");
        assertEq(v.recipient, provider, "recipient");
        assertEq(v.asset, address(0), "asset");
        assertEq(v.providerId, nativeProviderId, "provider");
        assertEq(v.ratePerSecond, RATE, "rate");
        assertEq(v.startTime, START_TIME, "start");
        assertEq(v.stopTime, START_TIME + 100, "stop");
        assertEq(v.endTime, 0, "still streaming");
        assertEq(v.deposited, RATE * 100, "deposited");
        assertEq(v.streamed, RATE * 45, "streamed by time");
        assertEq(v.withdrawn, RATE * 22, "withdrawn by voucher");
        assertEq(v.refunded, 0, "refunded");
        assertTrue(v.status == StreamStatus.Open, "status");
        assertFalse(v.depleted, "not depleted");
        assertEq(v.abandonedAt, START_TIME + 100 + GRACE_PERIOD, "abandoned at stop + grace");
        assertEq(v.challengeEndsAt, 0, "no window while open");
        assertEq(v.sessionKey, address(0), "no named key");
    }

    function test_GetStreamView_WhenERC20WithANamedKey_ReportsTokenAndKey() public {
        address key = makeAddr("sessionKey");
        vm.prank(alice);
        uint256 streamId = streamPay.createStream(usdProviderId, USD_RATE, USD_RATE * 50, key);
        IStreamPay.StreamView memory v = streamPay.getStreamView(streamId);
        assertEq(v.recipient, usdProvider, "recipient");
        assertEq(v.asset, address(usd), "asset");
        assertEq(v.deposited, USD_RATE * 50, "deposited");
        assertEq(v.streamed, 0, "nothing streamed at start");
        assertEq(v.sessionKey, key, "named key");
        assertEq(v.abandonedAt, START_TIME + 50 + GRACE_PERIOD, "abandoned at");
    }

    function test_GetStreamView_WhenPastStop_IsDepleted() public {
        skipTime(99);
        assertFalse(streamPay.getStreamView(nativeStream).depleted, "one second left");
        skipTime(1);
        IStreamPay.StreamView memory v = streamPay.getStreamView(nativeStream);
        assertTrue(v.depleted, "depleted at the stop time");
        assertTrue(v.status == StreamStatus.Open, "still open until closed or settled");
        assertEq(v.streamed, RATE * 100, "streamed all");
        assertEq(v.endTime, 0, "no end time until closed");
    }

    function test_GetStreamView_WhenCancelling_ReportsTheWindow() public {
        skipTime(40);
        vm.prank(alice);
        streamPay.cancelStream(nativeStream);
        skipTime(40);

        IStreamPay.StreamView memory v = streamPay.getStreamView(nativeStream);
        assertTrue(v.status == StreamStatus.Cancelling, "status");
        assertEq(v.endTime, START_TIME + 40, "streaming stopped at the cancel");
        assertEq(v.streamed, RATE * 40, "streamed frozen at the cancel");
        assertEq(v.withdrawn, 0, "nothing paid yet");
        assertEq(v.refunded, RATE * 60, "the unstreamed part went back");
        assertEq(v.challengeEndsAt, START_TIME + 40 + CHALLENGE_WINDOW, "window end");
        assertFalse(v.depleted, "only an open stream is depleted");
        assertEq(v.deposited, RATE * 100, "deposited never goes down");
    }

    function test_GetStreamView_WhenCancelledAfterTheStop_ReportsAWholeWindowFromTheCancel() public {
        skipTime(100 + 600);
        vm.prank(alice);
        streamPay.cancelStream(nativeStream);
        skipTime(CHALLENGE_WINDOW);

        IStreamPay.StreamView memory v = streamPay.getStreamView(nativeStream);
        assertTrue(v.status == StreamStatus.Cancelling, "cancelling until someone finalises");
        assertEq(v.endTime, START_TIME + 700, "endTime is the cancel, not the stop");
        assertEq(v.streamed, RATE * 100, "streamed caps at the stop time");
        assertEq(v.refunded, 0, "everything had streamed: nothing went back");
        assertEq(v.challengeEndsAt, START_TIME + 700 + CHALLENGE_WINDOW, "a whole window from the cancel");
        assertFalse(v.depleted, "only an open stream is depleted");
    }

    function test_GetStreamView_WhenCancelAnswered_ReportsBothSides() public {
        skipTime(40);
        vm.prank(alice);
        streamPay.cancelStream(nativeStream);
        vm.prank(provider);
        streamPay.closeByRecipient(nativeStream, voucher(aliceKey, nativeStream, RATE * 25));

        IStreamPay.StreamView memory v = streamPay.getStreamView(nativeStream);
        assertTrue(v.status == StreamStatus.Cancelled, "status");
        assertEq(v.withdrawn, RATE * 25, "recipient side");
        assertEq(v.refunded, RATE * 75, "sender side");
        assertEq(v.deposited, v.withdrawn + v.refunded, "deposited = withdrawn + refunded");
        assertEq(v.streamed, RATE * 40, "streamed stays what time allowed");
        assertEq(v.challengeEndsAt, START_TIME + 40 + CHALLENGE_WINDOW, "window end kept");
    }

    function test_GetStreamView_WhenCancelledAtOnce_ReportsTheNominalWindow() public {
        skipTime(20);
        streamPay.withdrawFromStream(nativeStream, voucher(aliceKey, nativeStream, RATE * 20));
        vm.prank(alice);
        streamPay.cancelStream(nativeStream); // everything streamed was paid: no window to answer

        IStreamPay.StreamView memory v = streamPay.getStreamView(nativeStream);
        assertTrue(v.status == StreamStatus.Cancelled, "status");
        assertEq(v.refunded, RATE * 80, "refunded");
        assertEq(v.challengeEndsAt, START_TIME + 20 + CHALLENGE_WINDOW, "endTime + window, for every cancel");
    }

    function test_GetStreamView_WhenClosedByReceipt_ReportsRefund() public {
        skipTime(40);
        bytes memory sig = signFinalReceipt(providerKey, nativeStream, RATE * 12);
        vm.prank(alice);
        streamPay.closeWithReceipt(nativeStream, RATE * 12, sig);
        skipTime(500);

        IStreamPay.StreamView memory v = streamPay.getStreamView(nativeStream);
        assertTrue(v.status == StreamStatus.Closed, "status");
        assertEq(v.endTime, START_TIME + 40, "end time");
        assertEq(v.streamed, RATE * 40, "streamed stays what time allowed at the close");
        assertEq(v.withdrawn, RATE * 12, "what the recipient got");
        assertEq(v.refunded, RATE * 88, "refunded");
        assertEq(v.challengeEndsAt, 0, "no window");
        assertFalse(v.depleted, "closed");
    }

    function test_GetStreamView_WhenSettled_RefundsNothing() public {
        skipTime(100 + GRACE_PERIOD);
        vm.prank(keeper);
        streamPay.batchUpdateStreams(ids1(nativeStream));
        IStreamPay.StreamView memory v = streamPay.getStreamView(nativeStream);
        assertTrue(v.status == StreamStatus.Settled, "status");
        assertEq(v.withdrawn, RATE * 100, "withdrawn");
        assertEq(v.refunded, 0, "refunded");
        assertEq(v.endTime, START_TIME + 100 + GRACE_PERIOD, "endTime is the settlement");
        assertEq(v.streamed, RATE * 100, "streamed");
        assertFalse(v.depleted, "closed");
        assertEq(v.challengeEndsAt, 0, "no window");
    }

    function test_RevertWhen_GetStreamViewOfUnknownId() public {
        vm.expectRevert(abi.encodeWithSelector(Errors.StreamPay_UnknownStream.selector, 77));
        streamPay.getStreamView(77);
    }

    /*//////////////////////////////////////////////////////////////
                              streamedAmountOf
    //////////////////////////////////////////////////////////////*/

    function test_StreamedAmountOf_GrowsPerSecondUpToTheDeposit() public {
        assertEq(streamPay.streamedAmountOf(nativeStream), 0, "0 at start");
        skipTime(1);
        assertEq(streamPay.streamedAmountOf(nativeStream), RATE, "one second");
        skipTime(49);
        assertEq(streamPay.streamedAmountOf(nativeStream), RATE * 50, "fifty seconds");
        skipTime(50);
        assertEq(streamPay.streamedAmountOf(nativeStream), RATE * 100, "all at the stop");
        skipTime(1000);
        assertEq(streamPay.streamedAmountOf(nativeStream), RATE * 100, "never above the deposit");
    }

    function test_StreamedAmountOf_WhenTimeGoesBackBeforeStart_IsZero() public {
        vm.warp(START_TIME - 1);
        assertEq(streamPay.streamedAmountOf(nativeStream), 0, "0 before start");
    }

    function test_StreamedAmountOf_NeverDecreasesAcrossEveryClosePath() public {
        // Six streams of 100 s, each ended another way at t = 40, read at every step until long after.
        uint256[6] memory s;
        s[0] = nativeStream; // closed with a receipt for 12 s
        s[1] = createNative(bob, nativeProviderId, RATE * 100); // closed by the recipient with a voucher for 7 s
        s[2] = createNative(bob, nativeProviderId, RATE * 100); // cancelled, answered with 30 s
        s[3] = createNative(bob, nativeProviderId, RATE * 100); // cancelled, finalised unanswered
        s[4] = createNative(bob, nativeProviderId, RATE * 100); // paid 40 s by voucher, cancelled at once
        s[5] = createNative(bob, nativeProviderId, RATE * 100); // abandoned, settled by time
        uint256[6] memory last;
        _assertNotDecreased(s, last, "start");
        skipTime(40);
        _assertNotDecreased(s, last, "t = 40");

        bytes memory sig = signFinalReceipt(providerKey, s[0], RATE * 12);
        vm.prank(alice);
        streamPay.closeWithReceipt(s[0], RATE * 12, sig);
        _assertNotDecreased(s, last, "receipt close");
        vm.prank(provider);
        streamPay.closeByRecipient(s[1], voucher(bobKey, s[1], RATE * 7));
        _assertNotDecreased(s, last, "recipient close");
        vm.startPrank(bob);
        streamPay.cancelStream(s[2]);
        streamPay.cancelStream(s[3]);
        vm.stopPrank();
        _assertNotDecreased(s, last, "cancels");
        streamPay.withdrawFromStream(s[4], voucher(bobKey, s[4], RATE * 100));
        _assertNotDecreased(s, last, "withdrawal");
        vm.prank(bob);
        streamPay.cancelStream(s[4]);
        _assertNotDecreased(s, last, "cancel at once");
        vm.prank(provider);
        streamPay.closeByRecipient(s[2], voucher(bobKey, s[2], RATE * 30));
        _assertNotDecreased(s, last, "answer");
        skipTime(CHALLENGE_WINDOW);
        vm.prank(keeper);
        streamPay.batchUpdateStreams(ids1(s[3]));
        _assertNotDecreased(s, last, "finalise");
        skipTime(100 + GRACE_PERIOD);
        vm.prank(keeper);
        streamPay.batchUpdateStreams(ids1(s[5]));
        _assertNotDecreased(s, last, "settle");
        skipTime(10 days);
        _assertNotDecreased(s, last, "long after");

        for (uint256 i; i < 5; ++i) {
            assertEq(last[i], RATE * 40, "a close freezes streamed at what time allowed then");
        }
        assertEq(last[5], RATE * 100, "an abandoned stream streamed everything");
    }

    function test_RevertWhen_StreamedAmountOfUnknownId() public {
        vm.expectRevert(abi.encodeWithSelector(Errors.StreamPay_UnknownStream.selector, 5));
        streamPay.streamedAmountOf(5);
    }

    /*//////////////////////////////////////////////////////////////
                            withdrawableAmountOf
    //////////////////////////////////////////////////////////////*/

    function test_WithdrawableAmountOf_IsMinOfVoucherAndStreamedMinusWithdrawn() public {
        skipTime(20);
        assertEq(streamPay.withdrawableAmountOf(nativeStream, RATE * 50), RATE * 20, "capped by streamed");
        assertEq(streamPay.withdrawableAmountOf(nativeStream, RATE * 5), RATE * 5, "capped by the voucher");
        assertEq(streamPay.withdrawableAmountOf(nativeStream, 0), 0, "no voucher, nothing");
        uint256 expected = streamPay.withdrawableAmountOf(nativeStream, RATE * 12);
        uint256 paid = streamPay.withdrawFromStream(nativeStream, voucher(aliceKey, nativeStream, RATE * 12));
        assertEq(paid, expected, "what a withdrawal pays");
        assertEq(streamPay.withdrawableAmountOf(nativeStream, RATE * 12), 0, "right after");
        assertEq(streamPay.withdrawableAmountOf(nativeStream, RATE * 10), 0, "a lower voucher: 0, no underflow");
        skipTime(500);
        assertEq(streamPay.withdrawableAmountOf(nativeStream, type(uint256).max), RATE * 88, "rest after the stop");
    }

    function test_WithdrawableAmountOf_WhenCancelling_UsesTheFrozenAmount() public {
        skipTime(40);
        vm.prank(alice);
        streamPay.cancelStream(nativeStream);
        skipTime(100);
        assertEq(streamPay.withdrawableAmountOf(nativeStream, RATE * 90), RATE * 40, "capped at the cancel");
    }

    function test_WithdrawableAmountOf_WhenTheCancelsWindowEnded_IsZero() public {
        skipTime(40);
        vm.prank(alice);
        streamPay.cancelStream(nativeStream);
        vm.warp(START_TIME + 40 + CHALLENGE_WINDOW - 1);
        assertEq(streamPay.withdrawableAmountOf(nativeStream, RATE * 90), RATE * 40, "the window's last second");
        skipTime(1);
        assertEq(streamPay.withdrawableAmountOf(nativeStream, RATE * 90), 0, "at challengeEndsAt: too late");
        assertTrue(getStream(nativeStream).status == StreamStatus.Cancelling, "though nobody finalised yet");
        assertEq(streamPay.streamedAmountOf(nativeStream), RATE * 40, "streamed is still reported");
        vm.prank(keeper);
        streamPay.batchUpdateStreams(ids1(nativeStream));
        assertEq(streamPay.withdrawableAmountOf(nativeStream, RATE * 90), 0, "and once finalised");
    }

    function test_WithdrawableAmountOf_WhenClosed_IsZero() public {
        skipTime(20);
        bytes memory sig = signFinalReceipt(providerKey, nativeStream, RATE * 5);
        vm.prank(alice);
        streamPay.closeWithReceipt(nativeStream, RATE * 5, sig);
        skipTime(20);
        assertEq(streamPay.withdrawableAmountOf(nativeStream, RATE * 100), 0, "nothing after close");
    }

    function test_RevertWhen_WithdrawableAmountOfUnknownId() public {
        vm.expectRevert(abi.encodeWithSelector(Errors.StreamPay_UnknownStream.selector, 5));
        streamPay.withdrawableAmountOf(5, 1);
    }

    /*//////////////////////////////////////////////////////////////
                             refundableAmountOf
    //////////////////////////////////////////////////////////////*/

    function test_RefundableAmountOf_IsDepositedMinusStreamed() public {
        assertEq(streamPay.refundableAmountOf(usdStream), USD_RATE * 200, "all at start");
        skipTime(60);
        assertEq(streamPay.refundableAmountOf(usdStream), USD_RATE * 140, "after 60 s");
        streamPay.withdrawFromStream(usdStream, voucher(bobKey, usdStream, USD_RATE * 60));
        assertEq(streamPay.refundableAmountOf(usdStream), USD_RATE * 140, "withdrawals do not change it");
        skipTime(140);
        assertEq(streamPay.refundableAmountOf(usdStream), 0, "none at the stop");
    }

    function test_RefundableAmountOf_MatchesWhatACancelReturns() public {
        skipTime(33);
        uint256 expected = streamPay.refundableAmountOf(nativeStream);
        uint256 aliceBefore = alice.balance;
        vm.prank(alice);
        streamPay.cancelStream(nativeStream);
        assertEq(alice.balance - aliceBefore, expected, "refund = refundable");
        assertEq(expected, RATE * 67, "value");
        assertEq(streamPay.refundableAmountOf(nativeStream), 0, "0 once cancelling");
    }

    function test_RevertWhen_RefundableAmountOfUnknownId() public {
        vm.expectRevert(abi.encodeWithSelector(Errors.StreamPay_UnknownStream.selector, 5));
        streamPay.refundableAmountOf(5);
    }

    /*//////////////////////////////////////////////////////////////
                             namedSessionKeyOf
    //////////////////////////////////////////////////////////////*/

    function test_NamedSessionKeyOf_IsTheKeyNamedAtCreation() public {
        address key = makeAddr("sessionKey");
        uint256 withKey = createNativeWithKey(alice, nativeProviderId, RATE * 10, key);
        assertEq(streamPay.namedSessionKeyOf(withKey), key, "named");
        assertEq(streamPay.namedSessionKeyOf(nativeStream), address(0), "none");
        assertEq(streamPay.namedSessionKeyOf(999), address(0), "unknown id: none, no revert");
    }

    /*//////////////////////////////////////////////////////////////
                                 balanceOf
    //////////////////////////////////////////////////////////////*/

    function test_BalanceOf_IsPerAccountAndAsset() public {
        assertEq(streamPay.balanceOf(provider, address(0)), 0, "0 by default");
        skipTime(10);
        vm.prank(provider);
        streamPay.closeByRecipient(nativeStream, voucher(aliceKey, nativeStream, RATE * 10));
        vm.prank(usdProvider);
        streamPay.closeByRecipient(usdStream, voucher(bobKey, usdStream, USD_RATE * 10));

        assertEq(streamPay.balanceOf(provider, address(0)), RATE * 10, "native credit");
        assertEq(streamPay.balanceOf(provider, address(usd)), 0, "no usd credit for the native provider");
        assertEq(streamPay.balanceOf(usdProvider, address(usd)), USD_RATE * 10, "usd credit");
        assertEq(streamPay.balanceOf(usdProvider, address(0)), 0, "no native credit for the usd provider");
        assertEq(streamPay.balanceOf(alice, address(0)), 0, "sender refunds are pushed");
    }

    /*//////////////////////////////////////////////////////////////
                               EIP-712 DIGESTS
    //////////////////////////////////////////////////////////////*/

    function test_HashReceipt_MatchesTheEIP712Digest() public view {
        assertEq(streamPay.hashReceipt(1, 123, true), receiptDigest(1, 123, true), "final");
        assertEq(streamPay.hashReceipt(1, 123, false), receiptDigest(1, 123, false), "not final");
        assertEq(
            streamPay.hashReceipt(type(uint256).max, type(uint256).max, true),
            receiptDigest(type(uint256).max, type(uint256).max, true),
            "extremes"
        );
        assertTrue(streamPay.hashReceipt(1, 123, true) != streamPay.hashReceipt(1, 123, false), "final matters");
        assertTrue(streamPay.hashReceipt(1, 123, true) != streamPay.hashReceipt(2, 123, true), "id matters");
        assertTrue(streamPay.hashReceipt(1, 123, true) != streamPay.hashReceipt(1, 124, true), "amount matters");
    }

    function test_HashSpend_MatchesTheEIP712Digest() public view {
        bytes32 request = requestHash(keccak256("body"), 42, START_TIME + 60);
        assertEq(streamPay.hashSpend(1, 500, noRequest()), spendDigest(1, 500, noRequest()), "on its own");
        assertEq(streamPay.hashSpend(1, 500, request), spendDigest(1, 500, request), "with a request");
        assertEq(
            streamPay.hashSpend(type(uint256).max, type(uint256).max, bytes32(type(uint256).max)),
            spendDigest(type(uint256).max, type(uint256).max, bytes32(type(uint256).max)),
            "extremes"
        );
        assertTrue(streamPay.hashSpend(1, 500, request) != streamPay.hashSpend(1, 500, noRequest()), "request");
        assertTrue(streamPay.hashSpend(1, 500, request) != streamPay.hashSpend(2, 500, request), "id matters");
        assertTrue(streamPay.hashSpend(1, 500, request) != streamPay.hashSpend(1, 501, request), "amount matters");
        assertTrue(streamPay.hashSpend(1, 500, noRequest()) != streamPay.hashReceipt(1, 500, true), "not a receipt");
    }

    function test_HashSessionKey_MatchesTheEIP712Digest() public {
        address key = makeAddr("sessionKey");
        assertEq(streamPay.hashSessionKey(1, key, 99), sessionKeyDigest(1, key, 99), "digest");
        assertEq(
            streamPay.hashSessionKey(type(uint256).max, address(type(uint160).max), type(uint256).max),
            sessionKeyDigest(type(uint256).max, address(type(uint160).max), type(uint256).max),
            "extremes"
        );
        assertTrue(streamPay.hashSessionKey(1, key, 99) != streamPay.hashSessionKey(2, key, 99), "id matters");
        assertTrue(streamPay.hashSessionKey(1, key, 99) != streamPay.hashSessionKey(1, alice, 99), "key matters");
        assertTrue(streamPay.hashSessionKey(1, key, 99) != streamPay.hashSessionKey(1, key, 100), "expiry");
    }

    function test_TypeHashesAndDomain_AreStreamPayVersion1OnThisChain() public view {
        (, string memory name, string memory version, uint256 chainId, address verifyingContract,,) =
            streamPay.eip712Domain();
        assertEq(name, "StreamPay", "name");
        assertEq(version, "1", "version");
        assertEq(chainId, block.chainid, "chain id");
        assertEq(verifyingContract, address(streamPay), "verifying contract");
        assertEq(streamPay.RECEIPT_TYPEHASH(), RECEIPT_TYPEHASH, "receipt type hash");
        assertEq(streamPay.SPEND_TYPEHASH(), SPEND_TYPEHASH, "spend type hash");
        assertEq(streamPay.SESSION_KEY_TYPEHASH(), SESSION_KEY_TYPEHASH, "session key type hash");
    }

    /*//////////////////////////////////////////////////////////////
                     nextStreamId, durations and constants
    //////////////////////////////////////////////////////////////*/

    function test_NextStreamId_CountsCreatedStreamsOnly() public {
        assertEq(streamPay.nextStreamId(), 3, "two created in setUp");
        vm.expectRevert(abi.encodeWithSelector(Errors.StreamPay_DepositTooSmall.selector, 1, RATE));
        vm.prank(alice);
        streamPay.createStream{value: 1}(nativeProviderId, RATE, 1, address(0));
        assertEq(streamPay.nextStreamId(), 3, "a failed create takes no id");
        createNative(alice, nativeProviderId, RATE);
        assertEq(streamPay.nextStreamId(), 4, "incremented");
    }

    function test_NextStreamId_StartsAtOne() public {
        StreamPay fresh = new StreamPay(0, 0, 1, 1);
        assertEq(fresh.nextStreamId(), 1, "fresh deployment");
    }

    function test_GracePeriodAndChallengeWindow_AreTheDeployedOnes() public view {
        assertEq(streamPay.gracePeriod(), GRACE_PERIOD, "grace period");
        assertEq(streamPay.challengeWindow(), CHALLENGE_WINDOW, "challenge window");
    }

    function test_Constants() public view {
        assertEq(streamPay.KEEPER_FEE_BPS(), 10, "keeper fee 0.1%");
        assertEq(address(streamPay.registry()), address(registry), "registry");
        assertEq(registry.streamPay(), address(streamPay), "registry's StreamPay");
        assertEq(streamPay.PUSH_GAS(), 50_000, "push gas");
    }

    /*//////////////////////////////////////////////////////////////
                                 HELPERS
    //////////////////////////////////////////////////////////////*/

    /// @dev Reads streamedAmountOf for each stream, asserts none went down since `last`, and updates `last`.
    function _assertNotDecreased(uint256[6] memory s, uint256[6] memory last, string memory when) private view {
        for (uint256 i; i < 6; ++i) {
            uint256 streamed = streamPay.streamedAmountOf(s[i]);
            assertGe(streamed, last[i], string.concat("streamedAmountOf went down at ", when));
            assertLe(streamed, streamPay.getStreamView(s[i]).deposited, string.concat("above the deposit at ", when));
            last[i] = streamed;
        }
    }
}
