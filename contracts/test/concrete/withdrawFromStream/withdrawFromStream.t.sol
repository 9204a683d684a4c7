// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ConcreteTest} from "../Concrete.t.sol";
import {Actor} from "../../mocks/Actor.sol";
import {BlacklistToken} from "../../mocks/BlacklistToken.sol";
import {Errors} from "../../../src/libraries/Errors.sol";
import {IStreamPay} from "../../../src/interfaces/IStreamPay.sol";
import {IComputeRegistry} from "../../../src/interfaces/IComputeRegistry.sol";
import {Stream, StreamStatus} from "../../../src/types/DataTypes.sol";

contract WithdrawFromStream_Test is ConcreteTest {
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

    function test_WhenAnyoneCalls_PaysRecipientWhatStreamed() public {
        skipTime(30);
        uint256 providerBefore = provider.balance;
        uint256 aliceBefore = alice.balance;
        uint256 eveBefore = eve.balance;

        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamWithdrawn(nativeStream, provider, eve, RATE * 30);
        vm.prank(eve);
        uint256 paid = streamPay.withdrawFromStream(nativeStream);

        assertEq(paid, RATE * 30, "returned amount");
        assertEq(provider.balance, providerBefore + RATE * 30, "recipient paid directly");
        assertEq(streamPay.balanceOf(provider, address(0)), 0, "nothing credited");
        assertEq(eve.balance, eveBefore, "caller gets nothing");
        assertEq(alice.balance, aliceBefore, "sender untouched");
        assertEq(address(streamPay).balance, RATE * 70, "escrow");
        Stream memory s = getStream(nativeStream);
        assertEq(s.withdrawn, RATE * 30, "withdrawn");
        assertTrue(s.status == StreamStatus.Open, "still open");
        assertStats(nativeProviderId, 0, 0, "no completion yet");
    }

    function test_WhenRecipientCalls_PaysItself() public {
        skipTime(10);
        uint256 providerBefore = provider.balance;
        uint256 aliceBefore = alice.balance;
        vm.prank(provider);
        uint256 paid = streamPay.withdrawFromStream(nativeStream);
        assertEq(paid, RATE * 10, "returned amount");
        assertEq(alice.balance, aliceBefore, "sender untouched");
        assertEq(provider.balance, providerBefore + RATE * 10, "recipient paid");
        assertEq(address(streamPay).balance, RATE * 90, "escrow");
    }

    function test_WhenSenderCalls_StillPaysTheRecipient() public {
        skipTime(10);
        uint256 providerBefore = provider.balance;
        uint256 aliceBefore = alice.balance;
        vm.prank(alice);
        streamPay.withdrawFromStream(nativeStream);
        assertEq(provider.balance, providerBefore + RATE * 10, "recipient paid");
        assertEq(alice.balance, aliceBefore, "sender got nothing");
    }

    function test_WhenERC20_PaysRecipient() public {
        skipTime(42);
        uint256 recipientBefore = usd.balanceOf(usdProvider);
        uint256 aliceBefore = usd.balanceOf(alice);

        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamWithdrawn(usdStream, usdProvider, keeper, USD_RATE * 42);
        vm.prank(keeper);
        uint256 paid = streamPay.withdrawFromStream(usdStream);

        assertEq(paid, USD_RATE * 42, "returned amount");
        assertEq(usd.balanceOf(usdProvider), recipientBefore + USD_RATE * 42, "recipient paid");
        assertEq(usd.balanceOf(alice), aliceBefore, "sender untouched");
        assertEq(usd.balanceOf(keeper), 1e15, "caller untouched");
        assertEq(usd.balanceOf(address(streamPay)), USD_RATE * 58, "escrow");
        assertEq(getStream(usdStream).withdrawn, USD_RATE * 42, "withdrawn");
    }

    function test_WhenCalledAgainLater_PaysOnlyTheDelta() public {
        skipTime(20);
        streamPay.withdrawFromStream(nativeStream);
        skipTime(15);
        uint256 providerBefore = provider.balance;

        uint256 paid = streamPay.withdrawFromStream(nativeStream);

        assertEq(paid, RATE * 15, "only the new part");
        assertEq(provider.balance, providerBefore + RATE * 15, "recipient paid the delta");
        assertEq(getStream(nativeStream).withdrawn, RATE * 35, "withdrawn total");
        assertEq(address(streamPay).balance, RATE * 65, "escrow");
    }

    function test_WhenDepleted_PaysTheRestAndSettles() public {
        skipTime(40);
        streamPay.withdrawFromStream(nativeStream);
        skipTime(500); // long past the stop time
        uint256 providerBefore = provider.balance;
        uint256 aliceBefore = alice.balance;

        vm.expectEmit(address(registry));
        emit IComputeRegistry.CompletionRecorded(nativeProviderId, RATE * 100, 1, RATE * 100);
        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamWithdrawn(nativeStream, provider, eve, RATE * 60);
        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamClosed(nativeStream, eve, StreamStatus.Settled, 0, 0);
        vm.prank(eve);
        uint256 paid = streamPay.withdrawFromStream(nativeStream);

        assertEq(paid, RATE * 60, "the rest");
        assertEq(provider.balance, providerBefore + RATE * 60, "recipient paid");
        assertEq(alice.balance, aliceBefore, "sender gets nothing back");
        assertEq(address(streamPay).balance, 0, "escrow empty");
        Stream memory s = getStream(nativeStream);
        assertTrue(s.status == StreamStatus.Settled, "settled");
        assertEq(s.withdrawn, RATE * 100, "everything withdrawn");
        assertStats(nativeProviderId, 1, RATE * 100, "completion recorded with the whole stream");
    }

    function test_WhenDepletedERC20_PaysAndSettles() public {
        skipTime(100);
        uint256 recipientBefore = usd.balanceOf(usdProvider);
        uint256 paid = streamPay.withdrawFromStream(usdStream);
        assertEq(paid, USD_RATE * 100, "all");
        assertEq(usd.balanceOf(usdProvider), recipientBefore + USD_RATE * 100, "recipient paid");
        assertEq(usd.balanceOf(address(streamPay)), 0, "escrow empty");
        assertTrue(getStream(usdStream).status == StreamStatus.Settled, "settled");
        assertStats(usdProviderId, 1, USD_RATE * 100, "completion recorded");
    }

    function test_WhenKeeperSettledBefore_PaysOnlyTheRest() public {
        skipTime(30);
        uint256[] memory ids = new uint256[](1);
        ids[0] = nativeStream;
        vm.prank(keeper);
        streamPay.batchUpdateStreams(ids);
        skipTime(10);
        uint256 providerBefore = provider.balance;

        uint256 paid = streamPay.withdrawFromStream(nativeStream);

        assertEq(paid, RATE * 10, "only what streamed since the settlement");
        assertEq(provider.balance, providerBefore + RATE * 10, "recipient paid");
        uint256 credited = RATE * 30 - keeperRewardOf(RATE * 30);
        assertEq(streamPay.balanceOf(provider, address(0)), credited, "settled part stays in its balance");
        assertEq(address(streamPay).balance, RATE * 60 + credited, "escrow + credit");
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
        emit IStreamPay.StreamWithdrawn(streamId, address(recipient), eve, RATE * 25);
        vm.prank(eve);
        uint256 paid = streamPay.withdrawFromStream(streamId);

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
        uint256 paid = streamPay.withdrawFromStream(streamId);

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
        uint256 paid = streamPay.withdrawFromStream(streamId);

        assertEq(paid, 300, "amount");
        assertEq(busd.balanceOf(bProvider), 0, "push failed");
        assertEq(streamPay.balanceOf(bProvider, address(busd)), 300, "credited");
        assertEq(busd.balanceOf(address(streamPay)), 1000, "escrow incl. the credit");
        assertEq(busd.balanceOf(alice), 1_000_000 - 1000, "sender paid the deposit only");
    }

    /*//////////////////////////////////////////////////////////////
                                 REVERTS
    //////////////////////////////////////////////////////////////*/

    function test_RevertWhen_StreamUnknown() public {
        vm.expectRevert(abi.encodeWithSelector(Errors.StreamPay_UnknownStream.selector, 0));
        streamPay.withdrawFromStream(0);
    }

    function test_RevertWhen_StreamCancelled() public {
        skipTime(10);
        vm.prank(alice);
        streamPay.cancelStream(nativeStream);
        skipTime(10);

        vm.expectRevert(
            abi.encodeWithSelector(Errors.StreamPay_StreamClosed.selector, nativeStream, StreamStatus.Cancelled)
        );
        streamPay.withdrawFromStream(nativeStream);
    }

    function test_RevertWhen_StreamSettled() public {
        skipTime(100);
        streamPay.withdrawFromStream(nativeStream);

        vm.expectRevert(
            abi.encodeWithSelector(Errors.StreamPay_StreamClosed.selector, nativeStream, StreamStatus.Settled)
        );
        streamPay.withdrawFromStream(nativeStream);
    }

    function test_RevertWhen_StreamClosedByReceipt() public {
        skipTime(10);
        bytes memory sig = signFinalReceipt(providerKey, nativeStream, RATE * 5);
        vm.prank(alice);
        streamPay.closeWithReceipt(nativeStream, RATE * 5, sig);

        vm.expectRevert(
            abi.encodeWithSelector(Errors.StreamPay_StreamClosed.selector, nativeStream, StreamStatus.Closed)
        );
        streamPay.withdrawFromStream(nativeStream);
    }

    function test_RevertWhen_NothingStreamedYet() public {
        vm.expectRevert(abi.encodeWithSelector(Errors.StreamPay_NothingToWithdraw.selector, nativeStream));
        streamPay.withdrawFromStream(nativeStream);
    }

    function test_RevertWhen_AlreadyWithdrawnThisSecond() public {
        skipTime(10);
        streamPay.withdrawFromStream(nativeStream);

        vm.expectRevert(abi.encodeWithSelector(Errors.StreamPay_NothingToWithdraw.selector, nativeStream));
        streamPay.withdrawFromStream(nativeStream);
    }

    function test_RevertWhen_TooLittleGasToPayTheRecipient() public {
        skipTime(10);
        uint256 providerBefore = provider.balance;

        (bool ok, bytes memory ret) =
            callStreamPayWithGas(eve, 30_000, abi.encodeCall(streamPay.withdrawFromStream, (nativeStream)));

        assertInsufficientGas(ok, ret);
        assertEq(getStream(nativeStream).withdrawn, 0, "nothing recorded");
        assertEq(provider.balance, providerBefore, "nothing paid");
        assertEq(streamPay.balanceOf(provider, address(0)), 0, "nothing credited");
    }
}
