// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {ConcreteTest} from "../concrete/Concrete.t.sol";
import {Actor} from "../mocks/Actor.sol";
import {ReentrantToken} from "../mocks/ReentrantToken.sol";
import {Vm} from "../utils/Vm.sol";
import {Errors} from "../../src/libraries/Errors.sol";
import {IStreamPay} from "../../src/interfaces/IStreamPay.sol";
import {Stream, StreamStatus} from "../../src/types/DataTypes.sol";

/// @notice One test per failure of the original system, named after it. Each asserts every balance to the wei.
contract Regressions_Test is ConcreteTest {
    /// @dev (a) The original paid the recipient again after a cancel: a withdrawal after the cancel paid the
    /// streamed amount a second time. Now the recipient ends with exactly what streamed until the cancel.
    function test_Regression_RecipientPaidAgainAfterCancel() public {
        uint256 aliceBefore = alice.balance;
        uint256 providerBefore = provider.balance;
        uint256 streamId = createNative(alice, nativeProviderId, RATE * 100);
        skipTime(30);
        streamPay.withdrawFromStream(streamId); // 30 s paid out
        skipTime(20);
        vm.prank(alice);
        streamPay.cancelStream(streamId); // 20 s more credited, 50 s refunded
        skipTime(100);

        // Every way the recipient could ask again.
        vm.expectRevert(
            abi.encodeWithSelector(Errors.StreamPay_StreamClosed.selector, streamId, StreamStatus.Cancelled)
        );
        vm.prank(provider);
        streamPay.withdrawFromStream(streamId);
        vm.expectRevert(
            abi.encodeWithSelector(Errors.StreamPay_StreamClosed.selector, streamId, StreamStatus.Cancelled)
        );
        vm.prank(provider);
        streamPay.cancelStream(streamId);
        vm.expectRevert(
            abi.encodeWithSelector(Errors.StreamPay_StreamClosed.selector, streamId, StreamStatus.Cancelled)
        );
        vm.prank(provider);
        streamPay.closeByRecipient(streamId, 0);
        uint256[] memory ids = new uint256[](1);
        ids[0] = streamId;
        vm.prank(provider);
        assertEq(streamPay.batchUpdateStreams(ids), 0, "a keeper run settles nothing more");

        vm.prank(provider);
        streamPay.withdrawBalance(address(0), provider);
        vm.expectRevert(abi.encodeWithSelector(Errors.StreamPay_NoBalance.selector, provider, address(0)));
        vm.prank(provider);
        streamPay.withdrawBalance(address(0), provider);

        assertEq(provider.balance, providerBefore + RATE * 50, "recipient got exactly 50 s, once");
        assertEq(alice.balance, aliceBefore - RATE * 50, "sender paid exactly 50 s");
        assertEq(address(streamPay).balance, 0, "nothing left, nothing missing");
        assertEq(streamPay.streamedAmountOf(streamId), RATE * 50, "streamed frozen at the cancel");
        assertEq(streamPay.withdrawableAmountOf(streamId), 0, "nothing withdrawable");
    }

    /// @dev (b) A cancel must refund exactly deposited - streamed, never more: here with dust, a top-up, a
    /// keeper settlement and a withdrawal before the cancel, in both the native coin and a stablecoin.
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
        uint256[] memory ids = new uint256[](2);
        ids[0] = n;
        ids[1] = u;
        vm.prank(keeper);
        streamPay.batchUpdateStreams(ids); // settles 40 s of each
        skipTime(17);
        streamPay.withdrawFromStream(n); // 17 s more
        skipTime(6);

        // 63 s streamed of 150 s deposited.
        assertEq(streamPay.refundableAmountOf(n), RATE * 87, "native refundable");
        assertEq(streamPay.refundableAmountOf(u), USD_RATE * 87, "usd refundable");
        vm.startPrank(alice);
        streamPay.cancelStream(n);
        streamPay.cancelStream(u);
        vm.stopPrank();

        uint256 nReward = keeperRewardOf(RATE * 40);
        uint256 uReward = keeperRewardOf(USD_RATE * 40);
        assertEq(alice.balance, aliceBefore - RATE * 63, "native: sender paid exactly what streamed");
        assertEq(usd.balanceOf(alice), aliceUsdBefore - USD_RATE * 63, "usd: sender paid exactly what streamed");
        assertEq(keeper.balance, keeperBefore + nReward, "native keeper reward");
        assertEq(usd.balanceOf(keeper), keeperUsdBefore + uReward, "usd keeper reward");
        assertEq(provider.balance, providerBefore + RATE * 17, "native recipient pushed 17 s");
        assertEq(usd.balanceOf(usdProvider), usdProviderBefore, "usd recipient not pushed");
        assertEq(streamPay.balanceOf(provider, address(0)), RATE * 46 - nReward, "native credit: 40 + 6 s");
        assertEq(streamPay.balanceOf(usdProvider, address(usd)), USD_RATE * 63 - uReward, "usd credit: 63 s");
        assertEq(address(streamPay).balance, RATE * 46 - nReward, "native: contract holds the credit only");
        assertEq(usd.balanceOf(address(streamPay)), USD_RATE * 63 - uReward, "usd: contract holds the credit only");
        IStreamPay.StreamView memory v = streamPay.getStreamView(n);
        assertEq(v.refunded, RATE * 87, "refunded");
        assertEq(v.withdrawn + v.refunded, v.deposited, "withdrawn + refunded = deposited");
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
        streamPay.withdrawFromStream(s1); // the push fails and is credited
        skipTime(10);
        uint256 aliceBefore = alice.balance;

        vm.prank(alice);
        streamPay.cancelStream(s1);
        vm.prank(alice);
        streamPay.cancelStream(s2);

        assertEq(alice.balance, aliceBefore + RATE * 80 + RATE * 80, "sender refunded on both streams");
        assertEq(address(recipient).balance, recipientBefore, "every push to the recipient failed");
        assertEq(
            streamPay.balanceOf(address(recipient), address(0)), RATE * 40, "recipient credited everything streamed"
        );
        assertEq(address(streamPay).balance, RATE * 40, "contract holds the credit");
        assertTrue(getStream(s1).status == StreamStatus.Cancelled, "s1 cancelled");
        assertTrue(getStream(s2).status == StreamStatus.Cancelled, "s2 cancelled");
    }

    /// @dev (c, vice versa) A sender that reverts or burns all gas on receiving must not block the
    /// recipient's cancel, and its refund waits in its balance.
    function test_Regression_RevertingSenderBlocksRecipientExit() public {
        Actor reverter = newActor("revertingSender");
        Actor burner = newActor("gasBurningSender");
        uint256 s1 = createNativeFrom(reverter, nativeProviderId, RATE * 100);
        uint256 s2 = createNativeFrom(burner, nativeProviderId, RATE * 100);
        reverter.setMode(Actor.ReceiveMode.Revert);
        burner.setMode(Actor.ReceiveMode.BurnGas);
        uint256 reverterBefore = address(reverter).balance;
        uint256 burnerBefore = address(burner).balance;
        skipTime(25);

        vm.expectEmit(address(streamPay));
        emit IStreamPay.PaymentDeferred(address(reverter), address(0), RATE * 75);
        vm.prank(provider);
        streamPay.cancelStream(s1);
        vm.expectEmit(address(streamPay));
        emit IStreamPay.PaymentDeferred(address(burner), address(0), RATE * 75);
        vm.prank(provider);
        streamPay.cancelStream(s2);

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
            registry.recordCompletion(nativeProviderId, 1 ether);
        }
        assertStats(nativeProviderId, 0, 0, "stats untouched");

        // Only a real close records one.
        uint256 streamId = createNative(alice, nativeProviderId, RATE * 10);
        skipTime(10);
        streamPay.withdrawFromStream(streamId);
        assertStats(nativeProviderId, 1, RATE * 10, "recorded by StreamPay");
    }

    /// @dev (e) An ERC-20 that calls back into StreamPay during a transfer must not drain it or get a payment
    /// counted twice: every re-entrant call fails on the guard and every balance is exact.
    function test_Regression_ReentrantTokenDrainsOrDoubleCounts() public {
        ReentrantToken re = new ReentrantToken();
        Actor reProvider = newActor("reProvider");
        uint256 providerId = registerActorProvider(reProvider, MODEL, 1000, address(re));
        Actor attacker = newActor("attackerSender");
        re.mint(address(attacker), 1_000_000);
        attacker.exec(address(re), 0, abi.encodeCall(re.approve, (address(streamPay), type(uint256).max)));
        bytes memory guardError = abi.encodeWithSelector(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector);

        // 0. During the deposit pull, the sender tries to cancel the stream being created.
        re.arm(address(attacker), execCall(abi.encodeCall(streamPay.cancelStream, (1))));
        uint256 streamId = createUsdFrom(attacker, providerId, 100_000); // 100 s
        assertEq(streamId, 1, "stream created");
        assertReentryBlocked(re, guardError, "during createStream");
        assertTrue(getStream(streamId).status == StreamStatus.Open, "still open");

        // 1. During the push to the recipient, the sender tries to cancel.
        skipTime(30);
        re.arm(address(attacker), execCall(abi.encodeCall(streamPay.cancelStream, (streamId))));
        vm.prank(eve);
        streamPay.withdrawFromStream(streamId);
        assertReentryBlocked(re, guardError, "during withdrawFromStream");
        assertEq(re.balanceOf(address(reProvider)), 30_000, "recipient paid 30 s once");
        assertEq(re.balanceOf(address(streamPay)), 70_000, "escrow after the withdrawal");
        assertTrue(getStream(streamId).status == StreamStatus.Open, "the cancel did not happen");

        // 2. During its refund, the sender tries to cancel again (a second refund) and to withdraw.
        skipTime(20);
        re.arm(address(attacker), execCall(abi.encodeCall(streamPay.cancelStream, (streamId))));
        attacker.exec(address(streamPay), 0, abi.encodeCall(streamPay.cancelStream, (streamId)));
        assertReentryBlocked(re, guardError, "during cancelStream");
        assertEq(re.balanceOf(address(attacker)), 1_000_000 - 50_000, "sender refunded 50 s once");
        assertEq(streamPay.balanceOf(address(reProvider), address(re)), 20_000, "recipient credited 20 s once");
        assertEq(re.balanceOf(address(streamPay)), 20_000, "contract holds exactly the credit");

        // 3. During its balance payout, the recipient tries to take its balance again.
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
        assertEq(keccak256(re.reentryRevertData()), keccak256(guardError), string.concat("stopped by the guard ", when));
    }
}
