// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {ConcreteTest} from "../concrete/Concrete.t.sol";
import {Actor} from "../mocks/Actor.sol";
import {ReentrantToken} from "../mocks/ReentrantToken.sol";
import {Vm} from "../utils/Vm.sol";
import {Errors} from "../../src/libraries/Errors.sol";
import {IStreamPay} from "../../src/interfaces/IStreamPay.sol";
import {StreamStatus} from "../../src/types/DataTypes.sol";

/// @notice One test per failure of the original system, named after it, brought to metered streams (the
/// recipient is paid by the sender's vouchers; a cancel opens a challenge window). Each asserts every balance
/// to the wei.
contract Regressions_Test is ConcreteTest {
    /// @dev (a) The original paid the recipient again after a cancel: a withdrawal after the cancel paid the
    /// streamed amount a second time. Now, once the cancel is answered, no path pays the recipient again.
    function test_Regression_RecipientPaidAgainAfterCancel() public {
        uint256 aliceBefore = alice.balance;
        uint256 providerBefore = provider.balance;
        uint256 streamId = createNative(alice, nativeProviderId, RATE * 100);
        skipTime(30);
        streamPay.withdrawFromStream(streamId, voucher(aliceKey, streamId, RATE * 30)); // 30 s paid out
        skipTime(20);
        IStreamPay.Voucher memory best = voucher(aliceKey, streamId, RATE * 50);
        vm.prank(alice);
        streamPay.cancelStream(streamId); // 50 s back at once
        vm.prank(provider);
        streamPay.closeByRecipient(streamId, best); // 20 s more credited: the answer
        skipTime(100);

        // Every way the recipient could ask again.
        bytes memory closed =
            abi.encodeWithSelector(Errors.StreamPay_StreamClosed.selector, streamId, StreamStatus.Cancelled);
        vm.expectRevert(closed);
        vm.prank(provider);
        streamPay.withdrawFromStream(streamId, best);
        vm.expectRevert(closed);
        vm.prank(provider);
        streamPay.closeByRecipient(streamId, best);
        vm.expectRevert(
            abi.encodeWithSelector(Errors.StreamPay_StreamNotOpen.selector, streamId, StreamStatus.Cancelled)
        );
        vm.prank(alice);
        streamPay.cancelStream(streamId);
        vm.prank(provider);
        assertEq(streamPay.batchUpdateStreams(ids1(streamId)), 0, "a keeper run settles nothing more");

        vm.prank(provider);
        streamPay.withdrawBalance(address(0), provider);
        vm.expectRevert(abi.encodeWithSelector(Errors.StreamPay_NoBalance.selector, provider, address(0)));
        vm.prank(provider);
        streamPay.withdrawBalance(address(0), provider);

        assertEq(provider.balance, providerBefore + RATE * 50, "recipient got exactly its 50 s voucher, once");
        assertEq(alice.balance, aliceBefore - RATE * 50, "sender paid exactly 50 s");
        assertEq(address(streamPay).balance, 0, "nothing left, nothing missing");
        assertEq(streamPay.streamedAmountOf(streamId), RATE * 50, "streamed frozen at the cancel");
        assertEq(streamPay.withdrawableAmountOf(streamId, RATE * 100), 0, "nothing withdrawable");
    }

    /// @dev (b) A cancel must refund exactly deposited - streamed at once, never more: here with dust, a
    /// top-up, a keeper run that settles nothing and a withdrawal before the cancel, in both assets.
    function test_Regression_CancelRefundsMoreThanUnstreamed() public {
        uint256 aliceBefore = alice.balance;
        uint256 aliceUsdBefore = usd.balanceOf(alice);
        uint256 keeperBefore = keeper.balance;
        uint256 keeperUsdBefore = usd.balanceOf(keeper);
        uint256 providerBefore = provider.balance;
        uint256 usdProviderBefore = usd.balanceOf(usdProvider);

        uint256 n = createNative(alice, nativeProviderId, RATE * 100 + RATE / 2); // dust returned
        uint256 u = createUsd(alice, usdProviderId, USD_RATE * 100 + 99); // dust never pulled
        skipTime(20);
        vm.startPrank(alice);
        streamPay.topUp{value: RATE * 50}(n, RATE * 50);
        streamPay.topUp(u, USD_RATE * 50);
        vm.stopPrank();
        skipTime(20);
        vm.prank(keeper);
        assertEq(streamPay.batchUpdateStreams(ids2(n, u)), 0, "a keeper cannot touch a live stream");
        skipTime(17);
        streamPay.withdrawFromStream(n, voucher(aliceKey, n, RATE * 17));
        skipTime(6);

        // 63 s streamed of 150 s deposited.
        assertEq(streamPay.refundableAmountOf(n), RATE * 87, "native refundable");
        assertEq(streamPay.refundableAmountOf(u), USD_RATE * 87, "usd refundable");
        vm.startPrank(alice);
        streamPay.cancelStream(n);
        streamPay.cancelStream(u);
        vm.stopPrank();

        assertEq(alice.balance, aliceBefore - RATE * 63, "native: sender holds back only what streamed");
        assertEq(usd.balanceOf(alice), aliceUsdBefore - USD_RATE * 63, "usd: sender holds back only what streamed");
        assertEq(keeper.balance, keeperBefore, "no native keeper reward");
        assertEq(usd.balanceOf(keeper), keeperUsdBefore, "no usd keeper reward");
        assertEq(provider.balance, providerBefore + RATE * 17, "native recipient pushed its voucher");
        assertEq(usd.balanceOf(usdProvider), usdProviderBefore, "usd recipient paid nothing yet");
        assertEq(address(streamPay).balance, RATE * 46, "native: streamed - withdrawn awaits the answer");
        assertEq(usd.balanceOf(address(streamPay)), USD_RATE * 63, "usd: streamed awaits the answer");
        IStreamPay.StreamView memory v = streamPay.getStreamView(n);
        assertEq(v.refunded, RATE * 87, "refunded");
        assertEq(v.withdrawn + v.refunded + (v.streamed - v.withdrawn), v.deposited, "every unit on one side");
        assertEq(streamPay.refundableAmountOf(n), 0, "no second refund");
    }

    /// @dev (c) A recipient contract that reverts on receiving must not block the sender's cancel or refund.
    function test_Regression_RevertingRecipientBlocksSenderExit() public {
        Actor recipient = newActor("revertingProvider");
        uint256 providerId = registerActorProvider(recipient, MODEL, RATE, address(0));
        uint256 s1 = createNative(alice, providerId, RATE * 100);
        uint256 s2 = createNative(alice, providerId, RATE * 100);
        recipient.setMode(Actor.ReceiveMode.Revert);
        uint256 recipientBefore = address(recipient).balance;
        skipTime(10);
        streamPay.withdrawFromStream(s1, voucher(aliceKey, s1, RATE * 10)); // the push fails and is credited
        skipTime(10);
        uint256 aliceBefore = alice.balance;

        vm.startPrank(alice);
        streamPay.cancelStream(s1);
        streamPay.cancelStream(s2);
        vm.stopPrank();
        assertEq(alice.balance, aliceBefore + RATE * 160, "sender refunded the unstreamed 80 s of both at once");
        skipTime(CHALLENGE_WINDOW);
        vm.prank(alice); // the sender finalises its own cancels
        assertEq(streamPay.batchUpdateStreams(ids2(s1, s2)), 2, "finalised");

        assertEq(alice.balance, aliceBefore + RATE * 190, "and the unvouched streamed part after the window");
        assertEq(address(recipient).balance, recipientBefore, "every push to the recipient failed");
        assertEq(streamPay.balanceOf(address(recipient), address(0)), RATE * 10, "recipient credited its voucher");
        assertEq(address(streamPay).balance, RATE * 10, "contract holds the credit");
        assertTrue(getStream(s1).status == StreamStatus.Cancelled, "s1 cancelled");
        assertTrue(getStream(s2).status == StreamStatus.Cancelled, "s2 cancelled");
    }

    /// @dev (c, vice versa) A sender that reverts or burns all gas on receiving must not block the
    /// recipient's close, and its refund waits in its balance.
    function test_Regression_RevertingSenderBlocksRecipientExit() public {
        (address key, uint256 keyPk) = makeAddrAndKey("actorsSessionKey"); // the contracts sign through it
        Actor reverter = newActor("revertingSender");
        Actor burner = newActor("gasBurningSender");
        uint256 s1 = _createNativeWithKeyFrom(reverter, RATE * 100, key);
        uint256 s2 = _createNativeWithKeyFrom(burner, RATE * 100, key);
        reverter.setMode(Actor.ReceiveMode.Revert);
        burner.setMode(Actor.ReceiveMode.BurnGas);
        uint256 reverterBefore = address(reverter).balance;
        uint256 burnerBefore = address(burner).balance;
        skipTime(25);

        vm.expectEmit(address(streamPay));
        emit IStreamPay.PaymentDeferred(address(reverter), address(0), RATE * 75);
        vm.prank(provider);
        streamPay.closeByRecipient(s1, namedKeyVoucher(keyPk, s1, RATE * 25));
        vm.expectEmit(address(streamPay));
        emit IStreamPay.PaymentDeferred(address(burner), address(0), RATE * 75);
        vm.prank(provider);
        streamPay.closeByRecipient(s2, namedKeyVoucher(keyPk, s2, RATE * 25));

        assertEq(streamPay.balanceOf(provider, address(0)), RATE * 50, "recipient credited 25 s on each");
        assertEq(streamPay.balanceOf(address(reverter), address(0)), RATE * 75, "reverter's refund credited");
        assertEq(streamPay.balanceOf(address(burner), address(0)), RATE * 75, "burner's refund credited");
        assertEq(address(reverter).balance, reverterBefore, "push failed");
        assertEq(address(burner).balance, burnerBefore, "push failed");
        assertEq(address(streamPay).balance, RATE * 200, "everything held as credits");

        // The recipient takes its money; the senders take theirs elsewhere.
        uint256 providerBefore = provider.balance;
        vm.prank(provider);
        streamPay.withdrawBalance(address(0), provider);
        address reverterCold = makeAddr("reverterCold");
        reverter.exec(address(streamPay), 0, abi.encodeCall(streamPay.withdrawBalance, (address(0), reverterCold)));
        assertEq(provider.balance, providerBefore + RATE * 50, "recipient paid");
        assertEq(reverterCold.balance, RATE * 75, "sender refund reached");
        assertEq(address(streamPay).balance, RATE * 75, "only the burner's credit left");
    }

    /// @dev (d) The original registry let anyone record completions, so stats could be faked.
    function test_Regression_AnyoneCanRecordCompletions() public {
        Actor contractCaller = newActor("contractCaller");
        address[4] memory callers = [eve, provider, address(this), address(contractCaller)];
        for (uint256 i; i < callers.length; ++i) {
            vm.expectRevert(abi.encodeWithSelector(Errors.Registry_OnlyStreamPay.selector, callers[i]));
            vm.prank(callers[i]);
            registry.recordCompletion(nativeProviderId, 1, 1 ether);
        }
        assertStats(nativeProviderId, 0, 0, "stats untouched");

        // Only a real close records one.
        uint256 streamId = createNative(alice, nativeProviderId, RATE * 10);
        skipTime(10);
        bytes memory sig = signFinalReceipt(providerKey, streamId, RATE * 10);
        vm.prank(alice);
        streamPay.closeWithReceipt(streamId, RATE * 10, sig);
        assertStats(nativeProviderId, 1, RATE * 10, "recorded by StreamPay");
    }

    /// @dev (e) An ERC-20 that calls back into StreamPay during a transfer must not drain it or get a payment
    /// counted twice: every re-entrant call fails on the guard and every balance is exact.
    function test_Regression_ReentrantTokenDrainsOrDoubleCounts() public {
        ReentrantToken re = new ReentrantToken();
        Actor reProvider = newActor("reProvider");
        uint256 providerId = registerActorProvider(reProvider, MODEL, 1000, address(re));
        Actor attacker = newActor("attackerSender");
        (address key, uint256 keyPk) = makeAddrAndKey("attackersSessionKey");
        re.mint(address(attacker), 1_000_000);
        attacker.exec(address(re), 0, abi.encodeCall(re.approve, (address(streamPay), type(uint256).max)));
        bytes memory guardError =
            abi.encodeWithSelector(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector);

        // 0. During the deposit pull, the sender tries to cancel the stream being created.
        re.arm(address(attacker), execCall(abi.encodeCall(streamPay.cancelStream, (1))));
        bytes memory ret = attacker.exec(
            address(streamPay), 0, abi.encodeCall(streamPay.createStream, (providerId, 1000, 100_000, key))
        ); // 100 s
        uint256 streamId = abi.decode(ret, (uint256));
        assertEq(streamId, 1, "stream created");
        assertReentryBlocked(re, guardError, "during createStream");
        assertTrue(getStream(streamId).status == StreamStatus.Open, "still open");

        // 1. During the push to the recipient, the sender tries to cancel.
        skipTime(30);
        re.arm(address(attacker), execCall(abi.encodeCall(streamPay.cancelStream, (streamId))));
        vm.prank(eve);
        streamPay.withdrawFromStream(streamId, namedKeyVoucher(keyPk, streamId, 30_000));
        assertReentryBlocked(re, guardError, "during withdrawFromStream");
        assertEq(re.balanceOf(address(reProvider)), 30_000, "recipient paid 30 s once");
        assertEq(re.balanceOf(address(streamPay)), 70_000, "escrow after the withdrawal");
        assertTrue(getStream(streamId).status == StreamStatus.Open, "the cancel did not happen");

        // 2. During its refund, the sender tries to cancel again (a second refund).
        skipTime(20);
        re.arm(address(attacker), execCall(abi.encodeCall(streamPay.cancelStream, (streamId))));
        attacker.exec(address(streamPay), 0, abi.encodeCall(streamPay.cancelStream, (streamId)));
        assertReentryBlocked(re, guardError, "during cancelStream");
        assertEq(re.balanceOf(address(attacker)), 1_000_000 - 50_000, "sender refunded 50 s once");
        assertEq(re.balanceOf(address(streamPay)), 20_000, "the streamed 20 s await the answer");

        // 3. The recipient answers; during its balance payout it tries to take the balance again.
        reProvider.exec(
            address(streamPay),
            0,
            abi.encodeCall(streamPay.closeByRecipient, (streamId, namedKeyVoucher(keyPk, streamId, 50_000)))
        );
        assertEq(streamPay.balanceOf(address(reProvider), address(re)), 20_000, "recipient credited 20 s once");
        bytes memory withdrawAgain = abi.encodeCall(streamPay.withdrawBalance, (address(re), address(reProvider)));
        re.arm(address(reProvider), execCall(withdrawAgain));
        reProvider.exec(address(streamPay), 0, withdrawAgain);
        assertReentryBlocked(re, guardError, "during withdrawBalance");
        assertEq(re.balanceOf(address(reProvider)), 50_000, "recipient got 50 s in all, once");
        assertEq(streamPay.balanceOf(address(reProvider), address(re)), 0, "balance emptied");
        assertEq(re.balanceOf(address(streamPay)), 0, "nothing left, nothing missing");
        assertEq(re.balanceOf(address(attacker)) + re.balanceOf(address(reProvider)), 1_000_000, "supply conserved");
        assertStats(providerId, 1, 50_000, "one completion");
    }

    /// @dev (f) The original returned no stream id, so clients guessed it from a counter and two streams
    /// opened in the same block got mixed up. Each call now returns and emits its own id.
    function test_Regression_StreamIdGuessedInTheSameBlock() public {
        uint256 blockBefore = block.number;
        vm.recordLogs();
        uint256 a = createNative(alice, nativeProviderId, RATE * 10);
        uint256 b = createUsd(bob, usdProviderId, USD_RATE * 10);
        uint256 c = createNative(bob, nativeProviderId, RATE * 10);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        assertEq(block.number, blockBefore, "same block");

        assertEq(a, 1, "first id returned");
        assertEq(b, 2, "second id returned");
        assertEq(c, 3, "third id returned");

        uint256[3] memory ids = [a, b, c];
        address[3] memory senders = [alice, bob, bob];
        address[3] memory recipients = [provider, usdProvider, provider];
        uint256 found;
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].emitter != address(streamPay) || logs[i].topics[0] != IStreamPay.StreamCreated.selector) {
                continue;
            }
            assertLt(found, 3, "no extra StreamCreated");
            assertEq(uint256(logs[i].topics[1]), ids[found], "emitted id");
            assertEq(address(uint160(uint256(logs[i].topics[2]))), senders[found], "emitted sender");
            assertEq(address(uint160(uint256(logs[i].topics[3]))), recipients[found], "emitted recipient");
            ++found;
        }
        assertEq(found, 3, "one StreamCreated per stream");
        assertEq(getStream(a).sender, alice, "stream a is alice's");
        assertEq(getStream(b).sender, bob, "stream b is bob's");
        assertEq(getStream(c).providerId, nativeProviderId, "stream c is bob's native stream");
        assertFalse(getStream(b).isNative, "stream b is the stablecoin one");
    }

    /*//////////////////////////////////////////////////////////////
                                 HELPERS
    //////////////////////////////////////////////////////////////*/

    /// @dev Calldata for Actor.exec(streamPay, 0, data): the re-entrant call comes from the Actor itself.
    function execCall(bytes memory data) internal view returns (bytes memory) {
        return abi.encodeCall(Actor.exec, (address(streamPay), 0, data));
    }

    function assertReentryBlocked(ReentrantToken re, bytes memory guardError, string memory when) internal view {
        assertTrue(re.attacked(), string.concat("re-entry attempted ", when));
        assertFalse(re.reentrySucceeded(), string.concat("re-entry failed ", when));
        assertEq(
            keccak256(re.reentryRevertData()), keccak256(guardError), string.concat("stopped by the guard ", when)
        );
    }

    /// @dev `actor` opens a native stream to the native provider naming `key` (a contract cannot sign).
    function _createNativeWithKeyFrom(Actor actor, uint256 deposit, address key) private returns (uint256) {
        bytes memory ret = actor.exec(
            address(streamPay), deposit, abi.encodeCall(streamPay.createStream, (nativeProviderId, RATE, deposit, key))
        );
        return abi.decode(ret, (uint256));
    }
}
