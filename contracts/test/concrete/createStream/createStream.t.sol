// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";

import {ConcreteTest} from "../Concrete.t.sol";
import {Actor} from "../../mocks/Actor.sol";
import {FeeOnTransferToken} from "../../mocks/FeeOnTransferToken.sol";
import {Errors} from "../../../src/libraries/Errors.sol";
import {IStreamPay} from "../../../src/interfaces/IStreamPay.sol";
import {Stream, StreamStatus} from "../../../src/types/DataTypes.sol";

contract CreateStream_Test is ConcreteTest {
    /*//////////////////////////////////////////////////////////////
                               SUCCESS PATHS
    //////////////////////////////////////////////////////////////*/

    function test_WhenNative_LocksTermsAndEscrowsDeposit() public {
        uint256 deposit = RATE * 600;
        uint256 aliceBefore = alice.balance;
        uint256 providerBefore = provider.balance;

        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamCreated(
            1, alice, provider, nativeProviderId, address(0), RATE, START_TIME, START_TIME + 600, deposit, 0,
            address(0)
        );
        uint256 streamId = createNative(alice, nativeProviderId, deposit);

        assertEq(streamId, 1, "first stream id");
        assertEq(streamPay.nextStreamId(), 2, "next id");
        Stream memory s = getStream(streamId);
        assertEq(s.sender, alice, "sender");
        assertEq(s.startTime, START_TIME, "start");
        assertEq(s.stopTime, START_TIME + 600, "stop = start + deposit / rate");
        assertEq(s.ratePerSecond, RATE, "rate locked");
        assertEq(s.providerId, nativeProviderId, "provider");
        assertEq(s.withdrawn, 0, "nothing withdrawn");
        assertTrue(s.isNative, "native flag");
        assertTrue(s.status == StreamStatus.Open, "open");
        assertEq(address(streamPay).balance, deposit, "escrowed");
        assertEq(alice.balance, aliceBefore - deposit, "sender paid the deposit");
        assertEq(streamPay.balanceOf(alice, address(0)), 0, "no credit to the sender");
        assertEq(streamPay.balanceOf(provider, address(0)), 0, "no credit to the recipient");
        assertEq(provider.balance, providerBefore, "recipient not paid at creation");
    }

    function test_WhenDepositHasDust_ReturnsDustAtOnce() public {
        uint256 deposit = RATE * 600 + RATE - 1; // 600 seconds and almost one more
        uint256 aliceBefore = alice.balance;

        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamCreated(
            1, alice, provider, nativeProviderId, address(0), RATE, START_TIME, START_TIME + 600, RATE * 600, RATE - 1,
            address(0)
        );
        uint256 streamId = createNative(alice, nativeProviderId, deposit);

        assertEq(getStream(streamId).stopTime, START_TIME + 600, "whole seconds only");
        assertEq(address(streamPay).balance, RATE * 600, "dust not kept");
        assertEq(alice.balance, aliceBefore - RATE * 600, "dust returned");
        assertEq(streamPay.balanceOf(alice, address(0)), 0, "dust pushed, not credited");
    }

    function test_WhenERC20_PullsDepositAndLocksTerms() public {
        uint256 deposit = USD_RATE * 3600;
        uint256 aliceBefore = usd.balanceOf(alice);

        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamCreated(
            1, alice, usdProvider, usdProviderId, address(usd), USD_RATE, START_TIME, START_TIME + 3600, deposit, 0,
            address(0)
        );
        uint256 streamId = createUsd(alice, usdProviderId, deposit);

        assertEq(streamId, 1, "stream id");
        Stream memory s = getStream(streamId);
        assertEq(s.sender, alice, "sender");
        assertEq(s.stopTime, START_TIME + 3600, "stop");
        assertEq(s.ratePerSecond, USD_RATE, "rate");
        assertEq(s.providerId, usdProviderId, "provider");
        assertFalse(s.isNative, "erc-20 stream");
        assertEq(usd.balanceOf(address(streamPay)), deposit, "escrowed");
        assertEq(usd.balanceOf(alice), aliceBefore - deposit, "sender paid");
        assertEq(address(streamPay).balance, 0, "no native coin held");
        assertEq(usd.balanceOf(usdProvider), 1e15, "recipient not paid at creation");
    }

    function test_WhenERC20DepositHasDust_NeverPullsTheDust() public {
        uint256 used = USD_RATE * 3600;
        uint256 deposit = used + USD_RATE - 1;
        uint256 aliceBefore = usd.balanceOf(alice);

        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamCreated(
            1,
            alice,
            usdProvider,
            usdProviderId,
            address(usd),
            USD_RATE,
            START_TIME,
            START_TIME + 3600,
            used,
            USD_RATE - 1,
            address(0)
        );
        createUsd(alice, usdProviderId, deposit);

        assertEq(usd.balanceOf(address(streamPay)), used, "only whole seconds escrowed");
        assertEq(usd.balanceOf(alice), aliceBefore - used, "dust never left the sender");
        assertEq(usd.allowance(alice, address(streamPay)), type(uint256).max, "infinite allowance untouched");
    }

    function test_WhenERC20AllowanceCoversOnlyWholeSeconds_Succeeds() public {
        uint256 used = USD_RATE * 10;
        vm.prank(bob);
        usd.approve(address(streamPay), used); // less than the deposit, exactly what is pulled
        uint256 bobBefore = usd.balanceOf(bob);

        vm.prank(bob);
        uint256 streamId = streamPay.createStream(usdProviderId, USD_RATE, used + 1, address(0));

        assertEq(getStream(streamId).stopTime, START_TIME + 10, "stop");
        assertEq(usd.allowance(bob, address(streamPay)), 0, "allowance used exactly");
        assertEq(usd.balanceOf(bob), bobBefore - used, "sender paid whole seconds");
        assertEq(usd.balanceOf(address(streamPay)), used, "escrowed");
    }

    function test_WhenDepositIsExactlyOneSecond_Succeeds() public {
        uint256 aliceBefore = alice.balance;
        uint256 streamId = createNative(alice, nativeProviderId, RATE);
        assertEq(getStream(streamId).stopTime, START_TIME + 1, "one second");
        assertEq(address(streamPay).balance, RATE, "escrowed");
        assertEq(alice.balance, aliceBefore - RATE, "sender paid");
    }

    function test_WhenMaxRateAbovePrice_LocksTheRegistryPrice() public {
        uint256 aliceBefore = alice.balance;
        vm.prank(alice);
        uint256 streamId =
            streamPay.createStream{value: RATE * 100}(nativeProviderId, RATE * 5, RATE * 100, address(0));
        assertEq(getStream(streamId).ratePerSecond, RATE, "the price, not the cap");
        assertEq(getStream(streamId).stopTime, START_TIME + 100, "stop at the price");
        assertEq(alice.balance, aliceBefore - RATE * 100, "sender paid the deposit");
        assertEq(address(streamPay).balance, RATE * 100, "escrowed");
    }

    function test_WhenPriceChangesLater_OpenStreamKeepsItsRate() public {
        uint256 streamId = createNative(alice, nativeProviderId, RATE * 100);
        vm.prank(provider);
        registry.updateProvider(nativeProviderId, RATE * 3, ENDPOINT, true);

        Stream memory s = getStream(streamId);
        assertEq(s.ratePerSecond, RATE, "rate locked at creation");
        assertEq(s.stopTime, START_TIME + 100, "stop unchanged");
        skipTime(50);
        assertEq(streamPay.streamedAmountOf(streamId), RATE * 50, "streams at the locked rate");

        uint256 second = createNative(bob, nativeProviderId, RATE * 300);
        assertEq(getStream(second).ratePerSecond, RATE * 3, "new stream takes the new price");
        assertEq(getStream(second).stopTime, START_TIME + 50 + 100, "new stop");
        assertEq(address(streamPay).balance, RATE * 400, "both deposits escrowed");
    }

    function test_WhenCalledRepeatedly_IdsIncreaseByOne() public {
        uint256 first = createNative(alice, nativeProviderId, RATE * 10);
        uint256 second = createUsd(bob, usdProviderId, USD_RATE * 10);
        uint256 third = createNative(bob, nativeProviderId, RATE * 10);
        assertEq(first, 1, "first");
        assertEq(second, 2, "second");
        assertEq(third, 3, "third");
        assertEq(streamPay.nextStreamId(), 4, "next");
        assertEq(address(streamPay).balance, RATE * 20, "native escrow");
        assertEq(usd.balanceOf(address(streamPay)), USD_RATE * 10, "erc-20 escrow");
    }

    function test_WhenStopTimeIsExactlyUint32Max_Succeeds() public {
        address cheap = makeAddr("cheap");
        vm.deal(cheap, MIN_STAKE);
        uint256 cheapId = registerProvider(cheap, MODEL, 1, address(0));
        uint256 deposit = type(uint32).max - START_TIME; // 1 wei per second, until February 2106
        uint256 aliceBefore = alice.balance;

        uint256 streamId = createNative(alice, cheapId, deposit);
        assertEq(alice.balance, aliceBefore - deposit, "sender paid");

        assertEq(getStream(streamId).stopTime, type(uint32).max, "stop at the edge");
        assertEq(address(streamPay).balance, deposit, "escrowed");
    }

    function test_WhenDepositIsExactlyAtTheAmountLimit_Succeeds() public {
        uint256 price = type(uint96).max;
        uint256 whaleId = registerWhaleProvider(price);
        uint256 deposit = price * (1 << 16); // = 2^112 - 2^16, just under the 112-bit limit
        vm.deal(alice, deposit);

        uint256 streamId = createNative(alice, whaleId, deposit);

        assertEq(getStream(streamId).stopTime, START_TIME + (1 << 16), "stop");
        assertEq(streamPay.getStreamView(streamId).deposited, deposit, "deposited");
        assertEq(address(streamPay).balance, deposit, "escrowed");
        assertEq(alice.balance, 0, "sender paid");
    }

    function test_WhenSessionKeyNamed_StoresAndEmitsIt() public {
        address key = makeAddr("sessionKey");
        uint256 aliceBefore = alice.balance;

        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamCreated(
            1, alice, provider, nativeProviderId, address(0), RATE, START_TIME, START_TIME + 100, RATE * 100, 0, key
        );
        uint256 streamId = createNativeWithKey(alice, nativeProviderId, RATE * 100, key);

        assertEq(streamPay.namedSessionKeyOf(streamId), key, "named key stored");
        assertEq(streamPay.getStreamView(streamId).sessionKey, key, "and shown in the view");
        assertEq(vm.load(address(streamPay), _keySlot(streamId)), bytes32(uint256(uint160(key))), "slot layout");
        assertEq(alice.balance, aliceBefore - RATE * 100, "sender paid the deposit");
        assertEq(address(streamPay).balance, RATE * 100, "escrowed");
    }

    function test_WhenERC20WithSessionKey_StoresAndEmitsIt() public {
        address key = makeAddr("sessionKey");
        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamCreated(
            1, bob, usdProvider, usdProviderId, address(usd), USD_RATE, START_TIME, START_TIME + 10, 1000, 0, key
        );
        vm.prank(bob);
        uint256 streamId = streamPay.createStream(usdProviderId, USD_RATE, 1000, key);
        assertEq(streamPay.namedSessionKeyOf(streamId), key, "named key stored");
        assertEq(usd.balanceOf(address(streamPay)), 1000, "escrowed");
    }

    function test_WhenNoSessionKey_WritesNoKeySlot() public {
        // Streams without a key pay nothing for the feature: only the stream's two slots are written.
        (,, uint256 price,) = registry.streamTerms(nativeProviderId);
        vm.record();
        vm.prank(alice);
        uint256 streamId = streamPay.createStream{value: RATE * 100}(nativeProviderId, price, RATE * 100, address(0));
        (, bytes32[] memory writes) = vm.accesses(address(streamPay));

        assertEq(streamPay.namedSessionKeyOf(streamId), address(0), "no key");
        assertEq(streamPay.getStreamView(streamId).sessionKey, address(0), "none in the view");
        assertEq(countWrites(writes, _keySlot(streamId)), 0, "no write for a key");
        assertGt(writes.length, 0, "the stream itself was written");
    }

    function test_WhenSessionKeyIsTheSender_Allowed() public {
        // Harmless: the sender may sign its vouchers with its own key anyway.
        uint256 streamId = createNativeWithKey(alice, nativeProviderId, RATE * 10, alice);
        assertEq(streamPay.namedSessionKeyOf(streamId), alice, "stored");
    }

    function test_WhenNativeDustGoesToARevertingSender_CreditsIt() public {
        Actor sender = newActor("revertingSender");
        sender.setMode(Actor.ReceiveMode.Revert);
        uint256 senderBefore = address(sender).balance;

        vm.expectEmit(address(streamPay));
        emit IStreamPay.PaymentDeferred(address(sender), address(0), 7);
        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamCreated(
            1, address(sender), provider, nativeProviderId, address(0), RATE, START_TIME, START_TIME + 10, RATE * 10, 7,
            address(0)
        );
        uint256 streamId = createNativeFrom(sender, nativeProviderId, RATE * 10 + 7);

        assertEq(streamId, 1, "stream opened");
        assertEq(streamPay.balanceOf(address(sender), address(0)), 7, "dust credited");
        assertEq(address(sender).balance, senderBefore - RATE * 10 - 7, "sender paid deposit and dust");
        assertEq(address(streamPay).balance, RATE * 10 + 7, "contract holds deposit and credited dust");
    }

    function test_WhenNativeDustGoesToAGasBurningSender_CreditsIt() public {
        Actor sender = newActor("gasBurningSender");
        sender.setMode(Actor.ReceiveMode.BurnGas);
        uint256 senderBefore = address(sender).balance;

        vm.expectEmit(address(streamPay));
        emit IStreamPay.PaymentDeferred(address(sender), address(0), 7);
        uint256 streamId = createNativeFrom(sender, nativeProviderId, RATE * 10 + 7);

        assertEq(getStream(streamId).stopTime, START_TIME + 10, "stream opened");
        assertEq(streamPay.balanceOf(address(sender), address(0)), 7, "dust credited");
        assertEq(address(sender).balance, senderBefore - RATE * 10 - 7, "sender paid deposit and dust");
        assertEq(address(streamPay).balance, RATE * 10 + 7, "contract holds deposit and credited dust");
    }

    /*//////////////////////////////////////////////////////////////
                                 REVERTS
    //////////////////////////////////////////////////////////////*/

    function test_RevertWhen_ProviderUnknown() public {
        vm.expectRevert(abi.encodeWithSelector(Errors.Registry_UnknownProvider.selector, 99));
        vm.prank(alice);
        streamPay.createStream{value: RATE}(99, RATE, RATE, address(0));
    }

    function test_RevertWhen_ProviderInactive() public {
        vm.prank(provider);
        registry.updateProvider(nativeProviderId, RATE, ENDPOINT, false);

        vm.expectRevert(abi.encodeWithSelector(Errors.StreamPay_ProviderInactive.selector, nativeProviderId));
        vm.prank(alice);
        streamPay.createStream{value: RATE * 10}(nativeProviderId, RATE, RATE * 10, address(0));
        assertEq(streamPay.nextStreamId(), 1, "no stream");
    }

    function test_RevertWhen_RateAboveMax() public {
        vm.expectRevert(
            abi.encodeWithSelector(Errors.StreamPay_RateAboveMax.selector, nativeProviderId, RATE, RATE - 1)
        );
        vm.prank(alice);
        streamPay.createStream{value: RATE * 10}(nativeProviderId, RATE - 1, RATE * 10, address(0));
    }

    function test_RevertWhen_PriceRaisedBeforeTheCall() public {
        vm.prank(provider);
        registry.updateProvider(nativeProviderId, RATE * 2, ENDPOINT, true);

        vm.expectRevert(
            abi.encodeWithSelector(Errors.StreamPay_RateAboveMax.selector, nativeProviderId, RATE * 2, RATE)
        );
        vm.prank(alice);
        streamPay.createStream{value: RATE * 10}(nativeProviderId, RATE, RATE * 10, address(0));
    }

    function test_RevertWhen_SelfStream() public {
        vm.expectRevert(abi.encodeWithSelector(Errors.StreamPay_SelfStream.selector, nativeProviderId, provider));
        vm.prank(provider);
        streamPay.createStream{value: RATE * 10}(nativeProviderId, RATE, RATE * 10, address(0));
    }

    function test_RevertWhen_SessionKeyIsTheRecipient() public {
        // The recipient would sign its own vouchers and take the whole stream as it streams.
        vm.expectRevert(
            abi.encodeWithSelector(Errors.StreamPay_InvalidSessionKey.selector, nativeProviderId, provider)
        );
        vm.prank(alice);
        streamPay.createStream{value: RATE * 10}(nativeProviderId, RATE, RATE * 10, provider);
        assertEq(streamPay.nextStreamId(), 1, "no stream");
        assertEq(address(streamPay).balance, 0, "nothing kept");
    }

    function test_RevertWhen_ERC20SessionKeyIsTheRecipient() public {
        uint256 aliceBefore = usd.balanceOf(alice);
        vm.expectRevert(
            abi.encodeWithSelector(Errors.StreamPay_InvalidSessionKey.selector, usdProviderId, usdProvider)
        );
        vm.prank(alice);
        streamPay.createStream(usdProviderId, USD_RATE, USD_RATE * 10, usdProvider);
        assertEq(usd.balanceOf(alice), aliceBefore, "nothing pulled");
    }

    function test_RevertWhen_NativeValueBelowAmount() public {
        vm.expectRevert(
            abi.encodeWithSelector(Errors.StreamPay_NativeValueMismatch.selector, RATE * 10 - 1, RATE * 10)
        );
        vm.prank(alice);
        streamPay.createStream{value: RATE * 10 - 1}(nativeProviderId, RATE, RATE * 10, address(0));
    }

    function test_RevertWhen_NativeValueAboveAmount() public {
        vm.expectRevert(
            abi.encodeWithSelector(Errors.StreamPay_NativeValueMismatch.selector, RATE * 10 + 1, RATE * 10)
        );
        vm.prank(alice);
        streamPay.createStream{value: RATE * 10 + 1}(nativeProviderId, RATE, RATE * 10, address(0));
    }

    function test_RevertWhen_ERC20StreamSentNativeValue() public {
        vm.expectRevert(abi.encodeWithSelector(Errors.StreamPay_UnexpectedNativeValue.selector, 1));
        vm.prank(alice);
        streamPay.createStream{value: 1}(usdProviderId, USD_RATE, USD_RATE * 10, address(0));
    }

    function test_RevertWhen_DepositBelowOneSecond() public {
        vm.expectRevert(abi.encodeWithSelector(Errors.StreamPay_DepositTooSmall.selector, RATE - 1, RATE));
        vm.prank(alice);
        streamPay.createStream{value: RATE - 1}(nativeProviderId, RATE, RATE - 1, address(0));
    }

    function test_RevertWhen_DepositZero() public {
        vm.expectRevert(abi.encodeWithSelector(Errors.StreamPay_DepositTooSmall.selector, 0, USD_RATE));
        vm.prank(alice);
        streamPay.createStream(usdProviderId, USD_RATE, 0, address(0));
    }

    function test_RevertWhen_ERC20DepositBelowOneSecond() public {
        vm.expectRevert(abi.encodeWithSelector(Errors.StreamPay_DepositTooSmall.selector, USD_RATE - 1, USD_RATE));
        vm.prank(alice);
        streamPay.createStream(usdProviderId, USD_RATE, USD_RATE - 1, address(0));
    }

    function test_RevertWhen_StopTimeBeyondUint32() public {
        address cheap = makeAddr("cheap");
        vm.deal(cheap, MIN_STAKE);
        uint256 cheapId = registerProvider(cheap, MODEL, 1, address(0));
        uint256 deposit = uint256(type(uint32).max) + 1 - START_TIME; // stop = 2^32

        vm.expectRevert(abi.encodeWithSelector(Errors.StreamPay_DepositTooLarge.selector, deposit, 1));
        vm.prank(alice);
        streamPay.createStream{value: deposit}(cheapId, 1, deposit, address(0));
    }

    function test_RevertWhen_AmountBeyondUint112() public {
        uint256 price = type(uint96).max;
        uint256 whaleId = registerWhaleProvider(price);
        uint256 deposit = price * ((1 << 16) + 1); // > 2^112 - 1
        vm.deal(alice, deposit);

        vm.expectRevert(abi.encodeWithSelector(Errors.StreamPay_DepositTooLarge.selector, deposit, price));
        vm.prank(alice);
        streamPay.createStream{value: deposit}(whaleId, price, deposit, address(0));
    }

    function test_RevertWhen_ERC20AmountBeyondUint112() public {
        uint256 price = type(uint96).max;
        address whale = makeAddr("usdWhale");
        vm.deal(whale, MIN_STAKE);
        uint256 whaleId = registerProvider(whale, MODEL, price, address(usd));
        uint256 deposit = price * ((1 << 16) + 1);
        usd.mint(alice, deposit);

        vm.expectRevert(abi.encodeWithSelector(Errors.StreamPay_DepositTooLarge.selector, deposit, price));
        vm.prank(alice);
        streamPay.createStream(whaleId, price, deposit, address(0));
    }

    function test_RevertWhen_FeeOnTransferToken() public {
        FeeOnTransferToken fee = new FeeOnTransferToken();
        address feeProvider = makeAddr("feeProvider");
        vm.deal(feeProvider, MIN_STAKE);
        uint256 feeProviderId = registerProvider(feeProvider, MODEL, 100, address(fee));
        fee.mint(alice, 1e18);
        vm.prank(alice);
        fee.approve(address(streamPay), type(uint256).max);

        uint256 deposit = 100_000;
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.StreamPay_FeeOnTransferToken.selector, address(fee), deposit, deposit - deposit / 100
            )
        );
        vm.prank(alice);
        streamPay.createStream(feeProviderId, 100, deposit, address(0));

        assertEq(fee.balanceOf(alice), 1e18, "nothing taken");
        assertEq(fee.balanceOf(address(streamPay)), 0, "nothing booked");
        assertEq(streamPay.nextStreamId(), 1, "no stream");
    }

    function test_RevertWhen_ERC20AllowanceTooLow() public {
        vm.prank(bob);
        usd.approve(address(streamPay), USD_RATE * 10 - 1);

        vm.expectRevert(
            abi.encodeWithSelector(
                IERC20Errors.ERC20InsufficientAllowance.selector, address(streamPay), USD_RATE * 10 - 1, USD_RATE * 10
            )
        );
        vm.prank(bob);
        streamPay.createStream(usdProviderId, USD_RATE, USD_RATE * 10, address(0));
    }

    function test_RevertWhen_ERC20BalanceTooLow() public {
        address poor = makeAddr("poor");
        vm.prank(poor);
        usd.approve(address(streamPay), type(uint256).max);

        vm.expectRevert(
            abi.encodeWithSelector(IERC20Errors.ERC20InsufficientBalance.selector, poor, 0, USD_RATE * 10)
        );
        vm.prank(poor);
        streamPay.createStream(usdProviderId, USD_RATE, USD_RATE * 10, address(0));
    }

    function test_RevertWhen_TooLittleGasToReturnTheDust() public {
        // The value comes from this test contract; alice is the caller.
        vm.deal(address(this), RATE * 10 + 1);
        vm.prank(alice);
        (bool ok, bytes memory ret) = address(streamPay).call{value: RATE * 10 + 1, gas: 100_000}(
            abi.encodeCall(streamPay.createStream, (nativeProviderId, RATE, RATE * 10 + 1, address(0)))
        );
        assertInsufficientGas(ok, ret);
        assertEq(streamPay.nextStreamId(), 1, "no stream");
        assertEq(address(streamPay).balance, 0, "nothing kept");
        assertEq(address(this).balance, RATE * 10 + 1, "payer refunded by the revert");
        assertEq(streamPay.balanceOf(alice, address(0)), 0, "dust not credited");
    }

    /*//////////////////////////////////////////////////////////////
                                 HELPERS
    //////////////////////////////////////////////////////////////*/

    /// @dev Storage slot of `_namedSessionKeys[streamId]` (the mapping after `balanceOf`), read with
    /// vm.load to prove streams without a key never write it; checked against the getter above.
    function _keySlot(uint256 streamId) private pure returns (bytes32) {
        return keccak256(abi.encode(streamId, BALANCES_SLOT + 1));
    }

    function registerWhaleProvider(uint256 price) internal returns (uint256) {
        address whale = makeAddr("whale");
        vm.deal(whale, MIN_STAKE);
        return registerProvider(whale, MODEL, price, address(0));
    }
}
