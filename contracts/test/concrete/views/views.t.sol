// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ConcreteTest} from "../Concrete.t.sol";
import {StreamPay} from "../../../src/StreamPay.sol";
import {Errors} from "../../../src/libraries/Errors.sol";
import {IStreamPay} from "../../../src/interfaces/IStreamPay.sol";
import {Stream, StreamStatus} from "../../../src/types/DataTypes.sol";

/// @notice getStream, getStreamView, streamedAmountOf, withdrawableAmountOf, refundableAmountOf, balanceOf,
/// hashReceipt, nextStreamId and the constants.
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
        streamPay.withdrawFromStream(usdStream);
        Stream memory s = getStream(usdStream);
        assertEq(s.sender, bob, "sender");
        assertEq(s.startTime, START_TIME, "start");
        assertEq(s.stopTime, START_TIME + 200, "stop");
        assertFalse(s.isNative, "native flag");
        assertEq(s.withdrawn, USD_RATE * 10, "withdrawn");
        assertEq(s.ratePerSecond, USD_RATE, "rate");
        assertEq(s.providerId, usdProviderId, "provider");
        assertTrue(s.status == StreamStatus.Open, "status");
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
        streamPay.withdrawFromStream(nativeStream);
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
        assertEq(v.deposited, RATE * 100, "deposited");
        assertEq(v.streamed, RATE * 45, "streamed");
        assertEq(v.withdrawn, RATE * 30, "withdrawn");
        assertEq(v.refunded, 0, "refunded");
        assertTrue(v.status == StreamStatus.Open, "status");
        assertFalse(v.depleted, "not depleted");
    }

    function test_GetStreamView_WhenERC20_ReportsTheToken() public view {
        IStreamPay.StreamView memory v = streamPay.getStreamView(usdStream);
        assertEq(v.recipient, usdProvider, "recipient");
        assertEq(v.asset, address(usd), "asset");
        assertEq(v.deposited, USD_RATE * 200, "deposited");
        assertEq(v.streamed, 0, "nothing streamed at start");
    }

    function test_GetStreamView_WhenPastStop_IsDepleted() public {
        skipTime(99);
        assertFalse(streamPay.getStreamView(nativeStream).depleted, "one second left");
        skipTime(1);
        IStreamPay.StreamView memory v = streamPay.getStreamView(nativeStream);
        assertTrue(v.depleted, "depleted at the stop time");
        assertTrue(v.status == StreamStatus.Open, "still open until settled");
        assertEq(v.streamed, RATE * 100, "streamed all");
    }

    function test_GetStreamView_WhenCancelled_ReportsRefund() public {
        skipTime(40);
        vm.prank(alice);
        streamPay.cancelStream(nativeStream);
        skipTime(40);

        IStreamPay.StreamView memory v = streamPay.getStreamView(nativeStream);
        assertTrue(v.status == StreamStatus.Cancelled, "status");
        assertEq(v.streamed, RATE * 40, "frozen at the cancel");
        assertEq(v.withdrawn, RATE * 40, "recipient side");
        assertEq(v.refunded, RATE * 60, "refunded");
        assertEq(v.deposited, v.withdrawn + v.refunded, "deposited = withdrawn + refunded");
        assertFalse(v.depleted, "a closed stream is not depleted");
    }

    function test_GetStreamView_WhenClosedByReceipt_ReportsRefund() public {
        skipTime(40);
        bytes memory sig = signFinalReceipt(providerKey, nativeStream, RATE * 12);
        vm.prank(alice);
        streamPay.closeWithReceipt(nativeStream, RATE * 12, sig);

        IStreamPay.StreamView memory v = streamPay.getStreamView(nativeStream);
        assertTrue(v.status == StreamStatus.Closed, "status");
        assertEq(v.streamed, RATE * 12, "streamed = what the recipient got");
        assertEq(v.refunded, RATE * 88, "refunded");
    }

    function test_GetStreamView_WhenSettled_RefundsNothing() public {
        skipTime(150);
        streamPay.withdrawFromStream(nativeStream);
        IStreamPay.StreamView memory v = streamPay.getStreamView(nativeStream);
        assertTrue(v.status == StreamStatus.Settled, "status");
        assertEq(v.withdrawn, RATE * 100, "withdrawn");
        assertEq(v.refunded, 0, "refunded");
        assertFalse(v.depleted, "closed");
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

    function test_StreamedAmountOf_WhenClosed_IsFrozen() public {
        skipTime(25);
        vm.prank(provider);
        streamPay.cancelStream(nativeStream);
        skipTime(50);
        assertEq(streamPay.streamedAmountOf(nativeStream), RATE * 25, "frozen");
    }

    function test_RevertWhen_StreamedAmountOfUnknownId() public {
        vm.expectRevert(abi.encodeWithSelector(Errors.StreamPay_UnknownStream.selector, 5));
        streamPay.streamedAmountOf(5);
    }

    /*//////////////////////////////////////////////////////////////
                            withdrawableAmountOf
    //////////////////////////////////////////////////////////////*/

    function test_WithdrawableAmountOf_IsStreamedMinusWithdrawn() public {
        skipTime(20);
        assertEq(streamPay.withdrawableAmountOf(nativeStream), RATE * 20, "before withdrawal");
        streamPay.withdrawFromStream(nativeStream);
        assertEq(streamPay.withdrawableAmountOf(nativeStream), 0, "right after");
        skipTime(7);
        assertEq(streamPay.withdrawableAmountOf(nativeStream), RATE * 7, "grows again");
        skipTime(500);
        assertEq(streamPay.withdrawableAmountOf(nativeStream), RATE * 80, "rest after the stop");
    }

    function test_WithdrawableAmountOf_WhenClosed_IsZero() public {
        skipTime(20);
        vm.prank(alice);
        streamPay.cancelStream(nativeStream);
        skipTime(20);
        assertEq(streamPay.withdrawableAmountOf(nativeStream), 0, "nothing after close");
    }

    function test_RevertWhen_WithdrawableAmountOfUnknownId() public {
        vm.expectRevert(abi.encodeWithSelector(Errors.StreamPay_UnknownStream.selector, 5));
        streamPay.withdrawableAmountOf(5);
    }

    /*//////////////////////////////////////////////////////////////
                             refundableAmountOf
    //////////////////////////////////////////////////////////////*/

    function test_RefundableAmountOf_IsDepositedMinusStreamed() public {
        assertEq(streamPay.refundableAmountOf(usdStream), USD_RATE * 200, "all at start");
        skipTime(60);
        assertEq(streamPay.refundableAmountOf(usdStream), USD_RATE * 140, "after 60 s");
        streamPay.withdrawFromStream(usdStream);
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
        assertEq(streamPay.refundableAmountOf(nativeStream), 0, "0 once closed");
    }

    function test_RevertWhen_RefundableAmountOfUnknownId() public {
        vm.expectRevert(abi.encodeWithSelector(Errors.StreamPay_UnknownStream.selector, 5));
        streamPay.refundableAmountOf(5);
    }

    /*//////////////////////////////////////////////////////////////
                                 balanceOf
    //////////////////////////////////////////////////////////////*/

    function test_BalanceOf_IsPerAccountAndAsset() public {
        assertEq(streamPay.balanceOf(provider, address(0)), 0, "0 by default");
        skipTime(10);
        vm.prank(alice);
        streamPay.cancelStream(nativeStream);
        vm.prank(bob);
        streamPay.cancelStream(usdStream);

        assertEq(streamPay.balanceOf(provider, address(0)), RATE * 10, "native credit");
        assertEq(streamPay.balanceOf(provider, address(usd)), 0, "no usd credit for the native provider");
        assertEq(streamPay.balanceOf(usdProvider, address(usd)), USD_RATE * 10, "usd credit");
        assertEq(streamPay.balanceOf(usdProvider, address(0)), 0, "no native credit for the usd provider");
        assertEq(streamPay.balanceOf(alice, address(0)), 0, "sender refunds are pushed");
    }

    /*//////////////////////////////////////////////////////////////
                                hashReceipt
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

    function test_Eip712Domain_IsStreamPayVersion1OnThisChain() public view {
        (, string memory name, string memory version, uint256 chainId, address verifyingContract,,) =
            streamPay.eip712Domain();
        assertEq(name, "StreamPay", "name");
        assertEq(version, "1", "version");
        assertEq(chainId, block.chainid, "chain id");
        assertEq(verifyingContract, address(streamPay), "verifying contract");
        assertEq(streamPay.RECEIPT_TYPEHASH(), RECEIPT_TYPEHASH, "receipt type hash");
    }

    /*//////////////////////////////////////////////////////////////
                          nextStreamId and constants
    //////////////////////////////////////////////////////////////*/

    function test_NextStreamId_CountsCreatedStreamsOnly() public {
        assertEq(streamPay.nextStreamId(), 3, "two created in setUp");
        vm.expectRevert(abi.encodeWithSelector(Errors.StreamPay_DepositTooSmall.selector, 1, RATE));
        vm.prank(alice);
        streamPay.createStream{value: 1}(nativeProviderId, RATE, 1);
        assertEq(streamPay.nextStreamId(), 3, "a failed create takes no id");
        createNative(alice, nativeProviderId, RATE);
        assertEq(streamPay.nextStreamId(), 4, "incremented");
    }

    function test_NextStreamId_StartsAtOne() public {
        StreamPay fresh = new StreamPay(0, 0);
        assertEq(fresh.nextStreamId(), 1, "fresh deployment");
    }

    function test_Constants() public view {
        assertEq(streamPay.KEEPER_FEE_BPS(), 10, "keeper fee 0.1%");
        assertEq(address(streamPay.registry()), address(registry), "registry");
        assertEq(registry.streamPay(), address(streamPay), "registry's StreamPay");
        assertEq(streamPay.PUSH_GAS(), 50_000, "push gas");
    }
}

