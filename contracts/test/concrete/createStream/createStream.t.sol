// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {BaseTest} from "../../Base.t.sol";
import {Errors} from "../../../src/libraries/Errors.sol";
import {IStreamPay} from "../../../src/interfaces/IStreamPay.sol";
import {Stream, StreamStatus} from "../../../src/types/DataTypes.sol";

contract CreateStream_Test is BaseTest {
    function test_WhenNative_LocksTermsAndEscrowsDeposit() public {
        uint256 deposit = RATE * 600;
        uint256 aliceBefore = alice.balance;

        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamCreated(
            1, alice, provider, nativeProviderId, address(0), RATE, START_TIME, START_TIME + 600, deposit, 0
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
        assertTrue(s.isNative, "native flag");
        assertTrue(s.status == StreamStatus.Open, "open");
        assertEq(address(streamPay).balance, deposit, "escrowed");
        assertEq(alice.balance, aliceBefore - deposit, "sender paid the deposit");
    }

    function test_WhenDepositHasDust_ReturnsDustAtOnce() public {
        uint256 deposit = RATE * 600 + RATE - 1; // 600 seconds and almost one more
        uint256 aliceBefore = alice.balance;
        uint256 streamId = createNative(alice, nativeProviderId, deposit);
        assertEq(getStream(streamId).stopTime, START_TIME + 600, "whole seconds only");
        assertEq(address(streamPay).balance, RATE * 600, "dust not kept");
        assertEq(alice.balance, aliceBefore - RATE * 600, "dust returned");
    }

    function test_RevertWhen_DepositBelowOneSecond() public {
        vm.expectRevert(abi.encodeWithSelector(Errors.StreamPay_DepositTooSmall.selector, RATE - 1, RATE));
        vm.prank(alice);
        streamPay.createStream{value: RATE - 1}(nativeProviderId, RATE, RATE - 1);
    }
}
