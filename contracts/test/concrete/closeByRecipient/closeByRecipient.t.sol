// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ConcreteTest} from "../Concrete.t.sol";
import {Actor} from "../../mocks/Actor.sol";
import {Errors} from "../../../src/libraries/Errors.sol";
import {IStreamPay} from "../../../src/interfaces/IStreamPay.sol";
import {IComputeRegistry} from "../../../src/interfaces/IComputeRegistry.sol";
import {Stream, StreamStatus} from "../../../src/types/DataTypes.sol";

contract CloseByRecipient_Test is ConcreteTest {
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

    function test_WhenAmountBelowStreamed_ChargesTheAmount() public {
        skipTime(60);
        uint256 charged = RATE * 37 + 1;
        uint256 aliceBefore = alice.balance;
        uint256 providerBefore = provider.balance;

        vm.expectEmit(address(registry));
        emit IComputeRegistry.CompletionRecorded(nativeProviderId, charged, 1, charged);
        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamClosed(nativeStream, provider, StreamStatus.Closed, charged, RATE * 100 - charged);
        vm.prank(provider);
        streamPay.closeByRecipient(nativeStream, charged);

        assertEq(alice.balance, aliceBefore + RATE * 100 - charged, "sender refunded the difference");
        assertEq(streamPay.balanceOf(provider, address(0)), charged, "recipient credited the amount");
        assertEq(provider.balance, providerBefore, "recipient not pushed");
        assertEq(address(streamPay).balance, charged, "contract holds the credit");
        Stream memory s = getStream(nativeStream);
        assertTrue(s.status == StreamStatus.Closed, "closed");
        assertEq(s.withdrawn, charged, "recipient total");
        assertStats(nativeProviderId, 1, charged, "completion");
    }

    function test_WhenERC20_ChargesTheAmount() public {
        skipTime(60);
        uint256 aliceBefore = usd.balanceOf(alice);

        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamClosed(usdStream, usdProvider, StreamStatus.Closed, 4321, USD_RATE * 100 - 4321);
        vm.prank(usdProvider);
        streamPay.closeByRecipient(usdStream, 4321);

        assertEq(usd.balanceOf(alice), aliceBefore + USD_RATE * 100 - 4321, "sender refunded");
        assertEq(streamPay.balanceOf(usdProvider, address(usd)), 4321, "recipient credited");
        assertEq(usd.balanceOf(address(streamPay)), 4321, "contract holds the credit");
        assertStats(usdProviderId, 1, 4321, "completion");
    }

    function test_WhenAmountEqualsStreamed_ChargesAllStreamed() public {
        skipTime(60);
        uint256 aliceBefore = alice.balance;

        vm.prank(provider);
        streamPay.closeByRecipient(nativeStream, RATE * 60);

        assertEq(alice.balance, aliceBefore + RATE * 40, "sender refunded the unstreamed part");
        assertEq(streamPay.balanceOf(provider, address(0)), RATE * 60, "recipient credited");
        assertEq(address(streamPay).balance, RATE * 60, "contract holds the credit");
    }

    function test_WhenAmountZero_RefundsEverything() public {
        skipTime(60);
        uint256 aliceBefore = alice.balance;

        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamClosed(nativeStream, provider, StreamStatus.Closed, 0, RATE * 100);
        vm.prank(provider);
        streamPay.closeByRecipient(nativeStream, 0);

        assertEq(alice.balance, aliceBefore + RATE * 100, "full refund");
        assertEq(streamPay.balanceOf(provider, address(0)), 0, "nothing credited");
        assertEq(address(streamPay).balance, 0, "escrow empty");
        assertStats(nativeProviderId, 0, 0, "no completion");
    }

    function test_WhenAmountBelowWithdrawn_ChargesWhatWasPaid() public {
        skipTime(50);
        uint256 providerBefore = provider.balance;
        streamPay.withdrawFromStream(nativeStream);
        skipTime(10);
        uint256 aliceBefore = alice.balance;

        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamClosed(nativeStream, provider, StreamStatus.Closed, 0, RATE * 50);
        vm.prank(provider);
        streamPay.closeByRecipient(nativeStream, RATE * 10);

        assertEq(alice.balance, aliceBefore + RATE * 50, "sender refunded deposited - withdrawn");
        assertEq(provider.balance, providerBefore + RATE * 50, "recipient keeps its withdrawal");
        assertEq(streamPay.balanceOf(provider, address(0)), 0, "nothing more");
        assertEq(address(streamPay).balance, 0, "escrow empty");
        assertEq(getStream(nativeStream).withdrawn, RATE * 50, "recipient total");
        assertStats(nativeProviderId, 1, RATE * 50, "completion");
    }

    function test_WhenAmountAboveWithdrawn_CreditsOnlyTheDifference() public {
        skipTime(20);
        streamPay.withdrawFromStream(nativeStream);
        skipTime(40);
        uint256 aliceBefore = alice.balance;

        vm.prank(provider);
        streamPay.closeByRecipient(nativeStream, RATE * 45);

        assertEq(streamPay.balanceOf(provider, address(0)), RATE * 25, "credit = amount - withdrawn");
        assertEq(alice.balance, aliceBefore + RATE * 55, "refund = deposited - amount");
        assertEq(address(streamPay).balance, RATE * 25, "contract holds the credit");
    }

    function test_WhenDepleted_CanStillGiveBack() public {
        skipTime(300);
        uint256 aliceBefore = alice.balance;

        vm.prank(provider);
        streamPay.closeByRecipient(nativeStream, RATE * 90);

        assertEq(alice.balance, aliceBefore + RATE * 10, "sender gets the part given back");
        assertEq(streamPay.balanceOf(provider, address(0)), RATE * 90, "recipient credited");
        assertEq(address(streamPay).balance, RATE * 90, "contract holds the credit");
        assertTrue(getStream(nativeStream).status == StreamStatus.Closed, "closed");
    }

    function test_WhenSenderRevertsOnReceive_RefundIsCredited() public {
        Actor sender = newActor("revertingSender");
        uint256 streamId = createNativeFrom(sender, nativeProviderId, RATE * 100);
        sender.setMode(Actor.ReceiveMode.Revert);
        skipTime(20);

        vm.expectEmit(address(streamPay));
        emit IStreamPay.PaymentDeferred(address(sender), address(0), RATE * 90);
        vm.prank(provider);
        streamPay.closeByRecipient(streamId, RATE * 10);

        assertEq(streamPay.balanceOf(address(sender), address(0)), RATE * 90, "refund credited");
        assertEq(streamPay.balanceOf(provider, address(0)), RATE * 10, "recipient credited");
        assertEq(address(streamPay).balance, RATE * 200, "alice's escrow + both credits");
    }

    /*//////////////////////////////////////////////////////////////
                                 REVERTS
    //////////////////////////////////////////////////////////////*/

    function test_RevertWhen_StreamUnknown() public {
        vm.expectRevert(abi.encodeWithSelector(Errors.StreamPay_UnknownStream.selector, 3));
        vm.prank(provider);
        streamPay.closeByRecipient(3, 0);
    }

    function test_RevertWhen_StreamAlreadyClosed() public {
        skipTime(10);
        vm.prank(provider);
        streamPay.closeByRecipient(nativeStream, RATE);

        vm.expectRevert(
            abi.encodeWithSelector(Errors.StreamPay_StreamClosed.selector, nativeStream, StreamStatus.Closed)
        );
        vm.prank(provider);
        streamPay.closeByRecipient(nativeStream, RATE);
    }

    function test_RevertWhen_StreamSettled() public {
        skipTime(100);
        streamPay.withdrawFromStream(nativeStream);
        vm.expectRevert(
            abi.encodeWithSelector(Errors.StreamPay_StreamClosed.selector, nativeStream, StreamStatus.Settled)
        );
        vm.prank(provider);
        streamPay.closeByRecipient(nativeStream, 0);
    }

    function test_RevertWhen_CallerIsSender() public {
        skipTime(10);
        vm.expectRevert(abi.encodeWithSelector(Errors.StreamPay_NotRecipient.selector, nativeStream, alice, provider));
        vm.prank(alice);
        streamPay.closeByRecipient(nativeStream, 0);
    }

    function test_RevertWhen_CallerIsAStranger() public {
        vm.expectRevert(
            abi.encodeWithSelector(Errors.StreamPay_NotRecipient.selector, usdStream, eve, usdProvider)
        );
        vm.prank(eve);
        streamPay.closeByRecipient(usdStream, 0);
    }

    function test_RevertWhen_AmountAboveStreamed() public {
        skipTime(30);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.StreamPay_AmountExceedsStreamed.selector, nativeStream, RATE * 30 + 1, RATE * 30
            )
        );
        vm.prank(provider);
        streamPay.closeByRecipient(nativeStream, RATE * 30 + 1);
    }

    function test_RevertWhen_AmountAboveDepositAfterStop() public {
        skipTime(1000);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.StreamPay_AmountExceedsStreamed.selector, usdStream, USD_RATE * 100 + 1, USD_RATE * 100
            )
        );
        vm.prank(usdProvider);
        streamPay.closeByRecipient(usdStream, USD_RATE * 100 + 1);
    }
}
