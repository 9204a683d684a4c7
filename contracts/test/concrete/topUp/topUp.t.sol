// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";

import {ConcreteTest} from "../Concrete.t.sol";
import {Actor} from "../../mocks/Actor.sol";
import {FeeOnTransferToken} from "../../mocks/FeeOnTransferToken.sol";
import {Errors} from "../../../src/libraries/Errors.sol";
import {IStreamPay} from "../../../src/interfaces/IStreamPay.sol";
import {Stream, StreamStatus} from "../../../src/types/DataTypes.sol";

contract TopUp_Test is ConcreteTest {
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

    function test_WhenNative_ExtendsStopTime() public {
        skipTime(40);
        uint256 aliceBefore = alice.balance;

        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamToppedUp(nativeStream, alice, RATE * 50, 0, START_TIME + 150);
        vm.prank(alice);
        streamPay.topUp{value: RATE * 50}(nativeStream, RATE * 50);

        Stream memory s = getStream(nativeStream);
        assertEq(s.stopTime, START_TIME + 150, "stop moved by amount / rate");
        assertEq(s.startTime, START_TIME, "start unchanged");
        assertEq(s.withdrawn, 0, "withdrawn unchanged");
        assertEq(streamPay.getStreamView(nativeStream).deposited, RATE * 150, "deposited grew");
        assertEq(streamPay.streamedAmountOf(nativeStream), RATE * 40, "streamed unchanged");
        assertEq(alice.balance, aliceBefore - RATE * 50, "sender paid");
        assertEq(address(streamPay).balance, RATE * 150, "escrow");
    }

    function test_WhenNativeHasDust_ReturnsDust() public {
        uint256 aliceBefore = alice.balance;

        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamToppedUp(nativeStream, alice, RATE * 5, RATE - 1, START_TIME + 105);
        vm.prank(alice);
        streamPay.topUp{value: RATE * 6 - 1}(nativeStream, RATE * 6 - 1);

        assertEq(getStream(nativeStream).stopTime, START_TIME + 105, "whole seconds only");
        assertEq(alice.balance, aliceBefore - RATE * 5, "dust returned");
        assertEq(address(streamPay).balance, RATE * 105, "dust not kept");
        assertEq(streamPay.balanceOf(alice, address(0)), 0, "dust pushed, not credited");
    }

    function test_WhenERC20_PullsAmountAndExtends() public {
        uint256 aliceBefore = usd.balanceOf(alice);

        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamToppedUp(usdStream, alice, USD_RATE * 20, 0, START_TIME + 120);
        vm.prank(alice);
        streamPay.topUp(usdStream, USD_RATE * 20);

        assertEq(getStream(usdStream).stopTime, START_TIME + 120, "stop moved");
        assertEq(usd.balanceOf(alice), aliceBefore - USD_RATE * 20, "sender paid");
        assertEq(usd.balanceOf(address(streamPay)), USD_RATE * 120, "escrow");
    }

    function test_WhenERC20HasDust_NeverPullsTheDust() public {
        uint256 aliceBefore = usd.balanceOf(alice);

        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamToppedUp(usdStream, alice, USD_RATE * 20, USD_RATE - 1, START_TIME + 120);
        vm.prank(alice);
        streamPay.topUp(usdStream, USD_RATE * 21 - 1);

        assertEq(usd.balanceOf(alice), aliceBefore - USD_RATE * 20, "dust never pulled");
        assertEq(usd.balanceOf(address(streamPay)), USD_RATE * 120, "escrow");
    }

    function test_WhenAfterAWithdrawal_KeepsAccountsRight() public {
        skipTime(30);
        streamPay.withdrawFromStream(nativeStream, voucher(aliceKey, nativeStream, RATE * 30));
        uint256 aliceBefore = alice.balance;
        vm.prank(alice);
        streamPay.topUp{value: RATE * 10}(nativeStream, RATE * 10);

        IStreamPay.StreamView memory v = streamPay.getStreamView(nativeStream);
        assertEq(v.deposited, RATE * 110, "deposited");
        assertEq(v.withdrawn, RATE * 30, "withdrawn");
        assertEq(v.stopTime, START_TIME + 110, "stop");
        assertEq(streamPay.refundableAmountOf(nativeStream), RATE * 80, "refundable = deposited - streamed");
        assertEq(address(streamPay).balance, RATE * 80, "escrow = deposited - withdrawn");
        assertEq(alice.balance, aliceBefore - RATE * 10, "sender paid the top-up");
    }

    function test_WhenOneSecondBeforeStop_StillAccepted() public {
        skipTime(99);
        uint256 aliceBefore = alice.balance;
        vm.prank(alice);
        streamPay.topUp{value: RATE}(nativeStream, RATE);
        assertEq(getStream(nativeStream).stopTime, START_TIME + 101, "extended");
        assertEq(alice.balance, aliceBefore - RATE, "sender paid");
        assertEq(address(streamPay).balance, RATE * 101, "escrow");
    }

    function test_WhenNativeDustGoesToARevertingSender_CreditsIt() public {
        Actor sender = newActor("revertingSender");
        uint256 streamId = createNativeFrom(sender, nativeProviderId, RATE * 10);
        sender.setMode(Actor.ReceiveMode.Revert);
        uint256 senderBefore = address(sender).balance;

        vm.expectEmit(address(streamPay));
        emit IStreamPay.PaymentDeferred(address(sender), address(0), 3);
        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamToppedUp(streamId, address(sender), RATE * 2, 3, START_TIME + 12);
        sender.exec(address(streamPay), RATE * 2 + 3, abi.encodeCall(streamPay.topUp, (streamId, RATE * 2 + 3)));

        assertEq(streamPay.balanceOf(address(sender), address(0)), 3, "dust credited");
        assertEq(address(sender).balance, senderBefore - RATE * 2 - 3, "sender paid");
        assertEq(address(streamPay).balance, RATE * 112 + 3, "both streams' escrow plus credit");
    }

    function test_WhenNativeDustGoesToAGasBurningSender_CreditsIt() public {
        Actor sender = newActor("gasBurningSender");
        uint256 streamId = createNativeFrom(sender, nativeProviderId, RATE * 10);
        sender.setMode(Actor.ReceiveMode.BurnGas);

        vm.expectEmit(address(streamPay));
        emit IStreamPay.PaymentDeferred(address(sender), address(0), 3);
        sender.exec(address(streamPay), RATE * 2 + 3, abi.encodeCall(streamPay.topUp, (streamId, RATE * 2 + 3)));

        assertEq(getStream(streamId).stopTime, START_TIME + 12, "extended");
        assertEq(streamPay.balanceOf(address(sender), address(0)), 3, "dust credited");
        assertEq(address(streamPay).balance, RATE * 112 + 3, "both streams' escrow plus credit");
    }

    /*//////////////////////////////////////////////////////////////
                                 REVERTS
    //////////////////////////////////////////////////////////////*/

    function test_RevertWhen_StreamUnknown() public {
        vm.expectRevert(abi.encodeWithSelector(Errors.StreamPay_UnknownStream.selector, 42));
        vm.prank(alice);
        streamPay.topUp{value: RATE}(42, RATE);
    }

    function test_RevertWhen_StreamCancelled() public {
        vm.prank(alice);
        streamPay.cancelStream(nativeStream); // nothing streamed: Cancelled at once

        vm.expectRevert(
            abi.encodeWithSelector(Errors.StreamPay_StreamNotOpen.selector, nativeStream, StreamStatus.Cancelled)
        );
        vm.prank(alice);
        streamPay.topUp{value: RATE}(nativeStream, RATE);
    }

    function test_RevertWhen_StreamCancelling() public {
        // A cancel stopped streaming for good: more money cannot restart it.
        skipTime(20);
        vm.prank(alice);
        streamPay.cancelStream(nativeStream);
        uint256 aliceBefore = alice.balance;

        vm.expectRevert(
            abi.encodeWithSelector(Errors.StreamPay_StreamNotOpen.selector, nativeStream, StreamStatus.Cancelling)
        );
        vm.prank(alice);
        streamPay.topUp{value: RATE}(nativeStream, RATE);
        assertEq(alice.balance, aliceBefore, "nothing taken");
    }

    function test_RevertWhen_StreamClosed() public {
        skipTime(20);
        bytes memory sig = signFinalReceipt(providerKey, nativeStream, RATE * 5);
        vm.prank(alice);
        streamPay.closeWithReceipt(nativeStream, RATE * 5, sig);

        vm.expectRevert(
            abi.encodeWithSelector(Errors.StreamPay_StreamNotOpen.selector, nativeStream, StreamStatus.Closed)
        );
        vm.prank(alice);
        streamPay.topUp{value: RATE}(nativeStream, RATE);
    }

    function test_RevertWhen_StreamSettled() public {
        skipTime(100 + GRACE_PERIOD);
        vm.prank(keeper);
        streamPay.batchUpdateStreams(ids1(nativeStream));

        vm.expectRevert(
            abi.encodeWithSelector(Errors.StreamPay_StreamNotOpen.selector, nativeStream, StreamStatus.Settled)
        );
        vm.prank(alice);
        streamPay.topUp{value: RATE}(nativeStream, RATE);
    }

    function test_RevertWhen_CallerIsNotSender() public {
        vm.expectRevert(abi.encodeWithSelector(Errors.StreamPay_NotSender.selector, nativeStream, eve, alice));
        vm.prank(eve);
        streamPay.topUp{value: RATE}(nativeStream, RATE);
    }

    function test_RevertWhen_CallerIsRecipient() public {
        vm.expectRevert(abi.encodeWithSelector(Errors.StreamPay_NotSender.selector, nativeStream, provider, alice));
        vm.prank(provider);
        streamPay.topUp{value: RATE}(nativeStream, RATE);
    }

    function test_RevertWhen_StreamDepleted() public {
        skipTime(100); // exactly at the stop time
        vm.expectRevert(
            abi.encodeWithSelector(Errors.StreamPay_StreamDepleted.selector, nativeStream, START_TIME + 100)
        );
        vm.prank(alice);
        streamPay.topUp{value: RATE}(nativeStream, RATE);
    }

    function test_RevertWhen_NativeValueMismatch() public {
        vm.expectRevert(abi.encodeWithSelector(Errors.StreamPay_NativeValueMismatch.selector, RATE - 1, RATE));
        vm.prank(alice);
        streamPay.topUp{value: RATE - 1}(nativeStream, RATE);
    }

    function test_RevertWhen_ERC20StreamSentNativeValue() public {
        vm.expectRevert(abi.encodeWithSelector(Errors.StreamPay_UnexpectedNativeValue.selector, 5));
        vm.prank(alice);
        streamPay.topUp{value: 5}(usdStream, USD_RATE);
    }

    function test_RevertWhen_AmountBelowOneSecond() public {
        vm.expectRevert(abi.encodeWithSelector(Errors.StreamPay_DepositTooSmall.selector, RATE - 1, RATE));
        vm.prank(alice);
        streamPay.topUp{value: RATE - 1}(nativeStream, RATE - 1);
    }

    function test_RevertWhen_ERC20AmountZero() public {
        vm.expectRevert(abi.encodeWithSelector(Errors.StreamPay_DepositTooSmall.selector, 0, USD_RATE));
        vm.prank(alice);
        streamPay.topUp(usdStream, 0);
    }

    function test_RevertWhen_StopTimeBeyondUint32() public {
        address cheap = makeAddr("cheap");
        vm.deal(cheap, MIN_STAKE);
        uint256 cheapId = registerProvider(cheap, MODEL, 1, address(0));
        uint256 streamId = createNative(alice, cheapId, type(uint32).max - START_TIME - 10); // stop = max - 10

        vm.expectRevert(abi.encodeWithSelector(Errors.StreamPay_DepositTooLarge.selector, 11, 1));
        vm.prank(alice);
        streamPay.topUp{value: 11}(streamId, 11);

        vm.prank(alice);
        streamPay.topUp{value: 10}(streamId, 10); // exactly to the edge is fine
        assertEq(getStream(streamId).stopTime, type(uint32).max, "extended to the edge");
    }

    function test_RevertWhen_TotalBeyondUint112() public {
        uint256 price = type(uint96).max;
        address whale = makeAddr("whale");
        vm.deal(whale, MIN_STAKE);
        uint256 whaleId = registerProvider(whale, MODEL, price, address(0));
        vm.deal(alice, price * ((1 << 16) + 1));
        uint256 streamId = createNative(alice, whaleId, price * (1 << 16)); // total just under 2^112

        vm.expectRevert(abi.encodeWithSelector(Errors.StreamPay_DepositTooLarge.selector, price, price));
        vm.prank(alice);
        streamPay.topUp{value: price}(streamId, price);
    }

    function test_RevertWhen_TokenStartsChargingFees() public {
        // A token that turns a transfer fee on after the stream opened (USDT has such a switch): the
        // stablecoin's code is replaced by the fee-on-transfer mock; balances and allowances stay.
        FeeOnTransferToken feeCode = new FeeOnTransferToken();
        vm.etch(address(usd), address(feeCode).code);
        uint256 amount = USD_RATE * 100;

        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.StreamPay_FeeOnTransferToken.selector, address(usd), amount, amount - amount / 100
            )
        );
        vm.prank(alice);
        streamPay.topUp(usdStream, amount);

        assertEq(getStream(usdStream).stopTime, START_TIME + 100, "stop unchanged");
        assertEq(usd.balanceOf(address(streamPay)), USD_RATE * 100, "escrow unchanged");
    }

    function test_RevertWhen_ERC20AllowanceTooLow() public {
        vm.prank(alice);
        usd.approve(address(streamPay), 0);

        vm.expectRevert(
            abi.encodeWithSelector(
                IERC20Errors.ERC20InsufficientAllowance.selector, address(streamPay), 0, USD_RATE * 5
            )
        );
        vm.prank(alice);
        streamPay.topUp(usdStream, USD_RATE * 5);
    }

    function test_RevertWhen_TooLittleGasToReturnTheDust() public {
        vm.deal(address(this), RATE + 1);
        vm.prank(alice);
        (bool ok, bytes memory ret) = address(streamPay).call{value: RATE + 1, gas: 50_000}(
            abi.encodeCall(streamPay.topUp, (nativeStream, RATE + 1))
        );
        assertInsufficientGas(ok, ret);
        assertEq(getStream(nativeStream).stopTime, START_TIME + 100, "stop unchanged");
        assertEq(address(streamPay).balance, RATE * 100, "escrow unchanged");
    }
}
