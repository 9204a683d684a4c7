// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ConcreteTest} from "../Concrete.t.sol";
import {Actor} from "../../mocks/Actor.sol";
import {Vm} from "../../utils/Vm.sol";
import {IStreamPay} from "../../../src/interfaces/IStreamPay.sol";
import {IComputeRegistry} from "../../../src/interfaces/IComputeRegistry.sol";
import {StreamStatus} from "../../../src/types/DataTypes.sol";

/// @notice batchUpdateStreams: anyone settles abandoned streams (open at stopTime + grace) by time, earning
/// 10 bps of what it settles, and finalises cancels whose challenge window has passed (reward 0). Everything
/// else is skipped, so a keeper can never settle an open stream the parties can still close.
contract BatchUpdateStreams_Test is ConcreteTest {
    uint256 internal nativeStream; // alice -> provider, 100 s
    uint256 internal usdStream; // alice -> usdProvider, 100 s
    uint256 internal abandonedAt; // stopTime + grace of both

    function setUp() public override {
        super.setUp();
        nativeStream = createNative(alice, nativeProviderId, RATE * 100);
        usdStream = createUsd(alice, usdProviderId, USD_RATE * 100);
        abandonedAt = START_TIME + 100 + GRACE_PERIOD;
    }

    /*//////////////////////////////////////////////////////////////
                         SUCCESS: ABANDONED STREAMS
    //////////////////////////////////////////////////////////////*/

    function test_WhenNativeStreamAbandoned_SettlesByTimeAndPaysTheKeeper() public {
        vm.warp(abandonedAt);
        uint256 amount = RATE * 100;
        uint256 reward = keeperRewardOf(amount);
        uint256 keeperBefore = keeper.balance;
        uint256 aliceBefore = alice.balance;
        uint256 providerBefore = provider.balance;

        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamSettled(nativeStream, amount, reward);
        vm.expectEmit(address(registry));
        emit IComputeRegistry.CompletionRecorded(nativeProviderId, 1, amount, 1, amount);
        vm.expectEmit(address(streamPay));
        emit IStreamPay.BatchSettled(keeper, address(0), 1, amount, reward);
        vm.recordLogs();
        vm.prank(keeper);
        uint256 settled = streamPay.batchUpdateStreams(ids1(nativeStream));
        assertEq(vm.getRecordedLogs().length, 3, "StreamSettled is the stream's only close event");

        assertEq(settled, 1, "one stream closed");
        assertEq(reward, 1e14 / 1000, "10 bps of 1e14");
        assertEq(streamPay.balanceOf(provider, address(0)), amount - reward, "recipient credited net of reward");
        assertEq(provider.balance, providerBefore, "recipient credited, not pushed");
        assertEq(keeper.balance, keeperBefore + reward, "keeper paid its reward");
        assertEq(streamPay.balanceOf(keeper, address(0)), 0, "keeper pushed, not credited");
        assertEq(alice.balance, aliceBefore, "sender gets nothing back from an abandoned stream");
        assertEq(address(streamPay).balance, amount - reward, "contract holds exactly the credit");
        assertStream(nativeStream, StreamStatus.Settled, amount, abandonedAt, "settled: endTime is the settlement");
        assertEq(streamPay.streamedAmountOf(nativeStream), amount, "streamed caps at the stop time");
        assertEq(streamPay.getStreamView(nativeStream).refunded, 0, "nothing refunded");
        assertEq(usd.balanceOf(address(streamPay)), USD_RATE * 100, "the stream not in the batch is untouched");
        assertStats(nativeProviderId, 1, amount, "completion, gross of the reward");
    }

    function test_WhenERC20StreamAbandoned_SettlesAndPaysTheKeeperInTheToken() public {
        vm.warp(abandonedAt);
        uint256 amount = USD_RATE * 100; // 10000
        uint256 keeperBefore = usd.balanceOf(keeper);
        uint256 aliceBefore = usd.balanceOf(alice);

        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamSettled(usdStream, amount, 10);
        vm.expectEmit(address(streamPay));
        emit IStreamPay.BatchSettled(keeper, address(usd), 1, amount, 10);
        vm.prank(keeper);
        uint256 settled = streamPay.batchUpdateStreams(ids1(usdStream));

        assertEq(settled, 1, "settled");
        assertEq(streamPay.balanceOf(usdProvider, address(usd)), amount - 10, "recipient credited");
        assertEq(usd.balanceOf(keeper), keeperBefore + 10, "keeper paid 10 bps of 10000");
        assertEq(usd.balanceOf(alice), aliceBefore, "sender untouched");
        assertEq(usd.balanceOf(address(streamPay)), amount - 10, "escrow minus the reward");
        assertStream(usdStream, StreamStatus.Settled, amount, abandonedAt, "settled");
    }

    function test_WhenAbandonedAfterAVoucherWithdrawal_SettlesTheRest() public {
        skipTime(50);
        uint256 providerBefore = provider.balance;
        streamPay.withdrawFromStream(nativeStream, voucher(aliceKey, nativeStream, RATE * 30));
        vm.warp(abandonedAt);
        uint256 reward = keeperRewardOf(RATE * 70);
        uint256 keeperBefore = keeper.balance;

        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamSettled(nativeStream, RATE * 70, reward);
        vm.expectEmit(address(registry));
        emit IComputeRegistry.CompletionRecorded(nativeProviderId, 1, RATE * 100, 1, RATE * 100);
        vm.prank(keeper);
        streamPay.batchUpdateStreams(ids1(nativeStream));

        assertEq(keeper.balance, keeperBefore + reward, "reward on the settled part only");
        assertEq(streamPay.balanceOf(provider, address(0)), RATE * 70 - reward, "recipient credited the rest");
        assertEq(provider.balance, providerBefore + RATE * 30, "the withdrawal, once");
        assertEq(address(streamPay).balance, RATE * 70 - reward, "contract holds the credit");
        assertStream(nativeStream, StreamStatus.Settled, RATE * 100, abandonedAt, "settled");
    }

    function test_WhenAbandonedAfterEverythingWasWithdrawn_ClosesWithoutReward() public {
        skipTime(100);
        streamPay.withdrawFromStream(nativeStream, voucher(aliceKey, nativeStream, RATE * 100));
        vm.warp(abandonedAt);
        uint256 keeperBefore = keeper.balance;

        vm.recordLogs();
        vm.prank(keeper);
        uint256 settled = streamPay.batchUpdateStreams(ids1(nativeStream));
        Vm.Log[] memory logs = vm.getRecordedLogs();

        assertEq(settled, 1, "closed");
        assertEq(keeper.balance, keeperBefore, "nothing to reward");
        assertEq(streamPay.balanceOf(provider, address(0)), 0, "nothing to credit");
        assertEq(address(streamPay).balance, 0, "escrow empty");
        assertStream(nativeStream, StreamStatus.Settled, RATE * 100, abandonedAt, "settled");
        assertEq(logs.length, 3, "StreamSettled, CompletionRecorded, BatchSettled");
        assertEq(logs[0].topics[0], IStreamPay.StreamSettled.selector, "settled");
        assertEq(keccak256(logs[0].data), keccak256(abi.encode(uint256(0), uint256(0))), "0 settled, 0 reward");
        assertEq(logs[2].topics[0], IStreamPay.BatchSettled.selector, "batch");
        assertEq(keccak256(logs[2].data), keccak256(abi.encode(uint256(1), uint256(0), uint256(0))), "1 stream, 0, 0");
    }

    function test_WhenSettledLongAfterAbandoned_EndTimeIsTheSettlementAndAmountsDoNotGrow() public {
        uint256 settledAt = abandonedAt + 10 days;
        vm.warp(settledAt);
        uint256 reward = keeperRewardOf(RATE * 100);
        uint256 keeperBefore = keeper.balance;

        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamSettled(nativeStream, RATE * 100, reward);
        vm.prank(keeper);
        assertEq(streamPay.batchUpdateStreams(ids1(nativeStream)), 1, "settled");

        assertEq(keeper.balance, keeperBefore + reward, "reward on the deposit, not on the time waited");
        assertEq(streamPay.balanceOf(provider, address(0)), RATE * 100 - reward, "recipient credited the rest");
        assertEq(address(streamPay).balance, RATE * 100 - reward, "contract holds the credit");
        assertStream(nativeStream, StreamStatus.Settled, RATE * 100, settledAt, "endTime is the settlement");
        assertEq(streamPay.streamedAmountOf(nativeStream), RATE * 100, "streamed caps at the stop time");
    }

    function test_WhenOneSecondBeforeAbandoned_SkipsIt() public {
        vm.warp(abandonedAt - 1);
        vm.recordLogs();
        vm.prank(keeper);
        uint256 settled = streamPay.batchUpdateStreams(ids2(nativeStream, usdStream));
        assertEq(settled, 0, "the parties may still close");
        assertEq(vm.getRecordedLogs().length, 0, "no events");
        assertStream(nativeStream, StreamStatus.Open, 0, 0, "open");
        assertEq(address(streamPay).balance, RATE * 100, "escrow untouched");
    }

    /*//////////////////////////////////////////////////////////////
                       SUCCESS: EXPIRED CHALLENGE WINDOWS
    //////////////////////////////////////////////////////////////*/

    function test_WhenCancelWindowPassed_FinalisesWithZeroReward() public {
        skipTime(30);
        streamPay.withdrawFromStream(nativeStream, voucher(aliceKey, nativeStream, RATE * 10));
        skipTime(10);
        uint256 aliceBefore = alice.balance;
        vm.prank(alice);
        streamPay.cancelStream(nativeStream); // 60 s back now
        vm.warp(START_TIME + 40 + CHALLENGE_WINDOW); // exactly the window's end
        uint256 keeperBefore = keeper.balance;
        uint256 providerBefore = provider.balance;

        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamClosed(nativeStream, keeper, StreamStatus.Cancelled, 0, RATE * 30);
        vm.expectEmit(address(registry));
        emit IComputeRegistry.CompletionRecorded(nativeProviderId, 1, RATE * 10, 1, RATE * 10);
        vm.recordLogs();
        vm.prank(keeper);
        uint256 settled = streamPay.batchUpdateStreams(ids1(nativeStream));

        assertEq(settled, 1, "finalised");
        assertEq(alice.balance, aliceBefore + RATE * 90, "sender paid only the 10 it vouched and was taken");
        assertEq(keeper.balance, keeperBefore, "no reward for finalising");
        assertEq(provider.balance, providerBefore, "recipient keeps its withdrawal, nothing more");
        assertEq(streamPay.balanceOf(provider, address(0)), 0, "no credit");
        assertEq(address(streamPay).balance, 0, "escrow empty");
        assertStream(nativeStream, StreamStatus.Cancelled, RATE * 10, START_TIME + 40, "cancelled");
        assertEq(streamPay.getStreamView(nativeStream).refunded, RATE * 90, "refunded");
        assertStats(nativeProviderId, 1, RATE * 10, "completion of what was paid");
        Vm.Log[] memory logs = vm.getRecordedLogs();
        for (uint256 i; i < logs.length; ++i) {
            assertTrue(logs[i].topics[0] != IStreamPay.BatchSettled.selector, "nothing settled to a recipient");
        }
    }

    function test_WhenCancelWindowPassedWithNothingPaid_RefundsAllStreamed() public {
        skipTime(40);
        vm.prank(alice);
        streamPay.cancelStream(usdStream);
        vm.warp(START_TIME + 40 + CHALLENGE_WINDOW + 500);
        uint256 aliceBefore = usd.balanceOf(alice);

        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamClosed(usdStream, eve, StreamStatus.Cancelled, 0, USD_RATE * 40);
        vm.prank(eve); // anyone may finalise
        uint256 settled = streamPay.batchUpdateStreams(ids1(usdStream));

        assertEq(settled, 1, "finalised");
        assertEq(usd.balanceOf(alice), aliceBefore + USD_RATE * 40, "sender gets what no voucher claimed");
        assertEq(usd.balanceOf(address(streamPay)), 0, "escrow empty");
        assertEq(usd.balanceOf(eve), 1e15, "no reward");
        assertStats(usdProviderId, 0, 0, "a stream that paid nothing is no completion");
    }

    function test_WhenCancelWindowNotPassed_SkipsIt() public {
        skipTime(40);
        vm.prank(alice);
        streamPay.cancelStream(nativeStream);
        vm.warp(START_TIME + 40 + CHALLENGE_WINDOW - 1);

        vm.recordLogs();
        vm.prank(keeper);
        assertEq(streamPay.batchUpdateStreams(ids1(nativeStream)), 0, "the recipient may still answer");
        assertEq(vm.getRecordedLogs().length, 0, "no events");
        assertStream(nativeStream, StreamStatus.Cancelling, 0, START_TIME + 40, "still cancelling");
        assertEq(address(streamPay).balance, RATE * 40, "the streamed part waits");
    }

    function test_WhenCancelledAfterTheStop_WindowRunsFromTheCancel() public {
        skipTime(50);
        streamPay.withdrawFromStream(nativeStream, voucher(aliceKey, nativeStream, RATE * 30));
        uint256 cancelledAt = START_TIME + 100 + GRACE_PERIOD - 1; // the last second before abandonment
        vm.warp(cancelledAt);
        vm.prank(alice);
        streamPay.cancelStream(nativeStream); // everything streamed: nothing back yet
        uint256 aliceBefore = alice.balance;

        vm.warp(cancelledAt + CHALLENGE_WINDOW - 1);
        vm.prank(keeper);
        assertEq(streamPay.batchUpdateStreams(ids1(nativeStream)), 0, "past stopTime + grace, still in the window");
        assertStream(nativeStream, StreamStatus.Cancelling, RATE * 30, cancelledAt, "still cancelling");

        vm.warp(cancelledAt + CHALLENGE_WINDOW);
        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamClosed(nativeStream, keeper, StreamStatus.Cancelled, 0, RATE * 70);
        vm.prank(keeper);
        assertEq(streamPay.batchUpdateStreams(ids1(nativeStream)), 1, "finalised at the window's end");

        assertEq(alice.balance, aliceBefore + RATE * 70, "sender gets streamed - withdrawn");
        assertEq(address(streamPay).balance, 0, "escrow empty");
        assertEq(streamPay.balanceOf(provider, address(0)), 0, "no credit");
        assertStream(nativeStream, StreamStatus.Cancelled, RATE * 30, cancelledAt, "endTime stays the cancel");
        assertStats(nativeProviderId, 1, RATE * 30, "completion of what was paid");
    }

    function test_WhenSenderRevertsOnReceive_FinaliseCreditsItsRefund() public {
        Actor sender = newActor("revertingSender");
        uint256 streamId = createNativeFrom(sender, nativeProviderId, RATE * 100);
        skipTime(20);
        sender.exec(address(streamPay), 0, abi.encodeCall(streamPay.cancelStream, (streamId)));
        sender.setMode(Actor.ReceiveMode.Revert);
        skipTime(CHALLENGE_WINDOW);
        uint256 senderBefore = address(sender).balance;

        vm.expectEmit(address(streamPay));
        emit IStreamPay.PaymentDeferred(address(sender), address(0), RATE * 20);
        vm.prank(keeper);
        assertEq(streamPay.batchUpdateStreams(ids1(streamId)), 1, "finalised");

        assertEq(address(sender).balance, senderBefore, "push failed");
        assertEq(streamPay.balanceOf(address(sender), address(0)), RATE * 20, "refund credited");
        assertStream(streamId, StreamStatus.Cancelled, 0, START_TIME + 20, "cancelled");
    }

    /*//////////////////////////////////////////////////////////////
                             SUCCESS: SKIPPING
    //////////////////////////////////////////////////////////////*/

    function test_WhenIdsOpenInTimeClosedOrUnknown_SkipsThem() public {
        uint256 closed = createNative(bob, nativeProviderId, RATE * 100);
        uint256 cancelled = createNative(bob, nativeProviderId, RATE * 100);
        uint256 answered = createUsd(bob, usdProviderId, USD_RATE * 100);
        uint256 late = createNative(bob, nativeProviderId, RATE * 100_000); // open long after the others
        vm.prank(bob);
        streamPay.cancelStream(cancelled); // nothing streamed: Cancelled at once
        skipTime(20);
        bytes memory sig = signFinalReceipt(providerKey, closed, RATE * 5);
        vm.prank(bob);
        streamPay.closeWithReceipt(closed, RATE * 5, sig);
        vm.prank(bob);
        streamPay.cancelStream(answered);
        vm.prank(usdProvider);
        streamPay.closeByRecipient(answered, voucher(bobKey, answered, USD_RATE * 5));
        vm.warp(abandonedAt);
        vm.prank(keeper);
        streamPay.batchUpdateStreams(ids1(usdStream)); // settled earlier
        skipTime(1);
        uint256 keeperBefore = keeper.balance;
        uint256 nativeHeld = address(streamPay).balance;
        uint256 usdHeld = usd.balanceOf(address(streamPay));

        uint256[] memory ids = new uint256[](7);
        ids[0] = 0;
        ids[1] = 999;
        ids[2] = closed;
        ids[3] = cancelled;
        ids[4] = answered;
        ids[5] = usdStream;
        ids[6] = late;
        vm.recordLogs();
        vm.prank(keeper);
        uint256 settled = streamPay.batchUpdateStreams(ids);

        assertEq(settled, 0, "nothing to settle or finalise");
        assertEq(vm.getRecordedLogs().length, 0, "no events");
        assertEq(keeper.balance, keeperBefore, "no reward");
        assertEq(address(streamPay).balance, nativeHeld, "native untouched");
        assertEq(usd.balanceOf(address(streamPay)), usdHeld, "usd untouched");
        assertStream(late, StreamStatus.Open, 0, 0, "the live stream stays open");
        assertStream(closed, StreamStatus.Closed, RATE * 5, START_TIME + 20, "closed stays closed");
        assertStream(usdStream, StreamStatus.Settled, USD_RATE * 100, abandonedAt, "settled stays settled");
    }

    function test_WhenStreamStillStreaming_NeverSettlesByTime() public {
        // What a keeper could do in the first version: settle an open stream by wall-clock time.
        skipTime(60);
        vm.prank(keeper);
        assertEq(streamPay.batchUpdateStreams(ids2(nativeStream, usdStream)), 0, "nothing settled");
        assertStream(nativeStream, StreamStatus.Open, 0, 0, "untouched");
        assertEq(streamPay.balanceOf(provider, address(0)), 0, "no credit by time");
    }

    function test_WhenEmptyBatch_ReturnsZero() public {
        vm.recordLogs();
        vm.prank(keeper);
        uint256 settled = streamPay.batchUpdateStreams(new uint256[](0));
        assertEq(settled, 0, "nothing settled");
        assertEq(vm.getRecordedLogs().length, 0, "no events");
    }

    function test_WhenAbandonedIdRepeated_SettlesItOnce() public {
        vm.warp(abandonedAt);
        uint256[] memory ids = new uint256[](3);
        ids[0] = nativeStream;
        ids[1] = nativeStream;
        ids[2] = nativeStream;
        uint256 keeperBefore = keeper.balance;
        uint256 reward = keeperRewardOf(RATE * 100);

        vm.expectEmit(address(registry));
        emit IComputeRegistry.CompletionRecorded(nativeProviderId, 1, RATE * 100, 1, RATE * 100);
        vm.expectEmit(address(streamPay));
        emit IStreamPay.BatchSettled(keeper, address(0), 1, RATE * 100, reward);
        vm.prank(keeper);
        uint256 settled = streamPay.batchUpdateStreams(ids);

        assertEq(settled, 1, "counted once");
        assertEq(keeper.balance, keeperBefore + reward, "rewarded once");
        assertEq(streamPay.balanceOf(provider, address(0)), RATE * 100 - reward, "credited once");
        assertEq(address(streamPay).balance, RATE * 100 - reward, "escrow minus one reward");
        assertStats(nativeProviderId, 1, RATE * 100, "one completion");
    }

    function test_WhenFinalisedIdRepeated_RefundsOnce() public {
        skipTime(40);
        vm.prank(alice);
        streamPay.cancelStream(nativeStream);
        skipTime(CHALLENGE_WINDOW);
        uint256 aliceBefore = alice.balance;

        vm.prank(keeper);
        uint256 settled = streamPay.batchUpdateStreams(ids2(nativeStream, nativeStream));

        assertEq(settled, 1, "counted once");
        assertEq(alice.balance, aliceBefore + RATE * 40, "refunded once");
        assertEq(address(streamPay).balance, 0, "escrow empty, not overdrawn");
    }

    /*//////////////////////////////////////////////////////////////
                 SUCCESS: SEVERAL RECIPIENTS AND BOTH ASSETS
    //////////////////////////////////////////////////////////////*/

    function test_WhenSeveralRecipientsBothAssetsAndBothKinds_SettlesEachOnce() public {
        (address provider2,) = makeAddrAndKey("provider2");
        vm.deal(provider2, MIN_STAKE);
        uint256 provider2Id = registerProvider(provider2, MODEL, RATE * 2, address(0));
        uint256 other = createNative(bob, provider2Id, RATE * 400); // 200 s at 2 RATE
        uint256 second = createNative(bob, nativeProviderId, RATE * 100);
        uint256 cancelled = createUsd(bob, usdProviderId, USD_RATE * 100);
        skipTime(10);
        vm.prank(bob);
        streamPay.cancelStream(cancelled); // 90 s back now, 10 s left for a voucher nobody sends
        vm.warp(START_TIME + 200 + GRACE_PERIOD);

        uint256 r100 = keeperRewardOf(RATE * 100);
        uint256 r400 = keeperRewardOf(RATE * 400);
        uint256 rUsd = keeperRewardOf(USD_RATE * 100);
        uint256 keeperBefore = keeper.balance;
        uint256 keeperUsdBefore = usd.balanceOf(keeper);
        uint256 bobUsdBefore = usd.balanceOf(bob);
        uint256[] memory ids = new uint256[](5);
        ids[0] = nativeStream;
        ids[1] = usdStream;
        ids[2] = other;
        ids[3] = second;
        ids[4] = cancelled;

        // Stats once per provider, then one BatchSettled per asset.
        vm.expectEmit(address(registry));
        emit IComputeRegistry.CompletionRecorded(nativeProviderId, 2, RATE * 200, 2, RATE * 200);
        vm.expectEmit(address(registry));
        emit IComputeRegistry.CompletionRecorded(usdProviderId, 1, USD_RATE * 100, 1, USD_RATE * 100);
        vm.expectEmit(address(registry));
        emit IComputeRegistry.CompletionRecorded(provider2Id, 1, RATE * 400, 1, RATE * 400);
        vm.expectEmit(address(streamPay));
        emit IStreamPay.BatchSettled(keeper, address(0), 3, RATE * 600, 2 * r100 + r400);
        vm.expectEmit(address(streamPay));
        emit IStreamPay.BatchSettled(keeper, address(usd), 1, USD_RATE * 100, rUsd);
        vm.prank(keeper);
        uint256 settled = streamPay.batchUpdateStreams(ids);

        assertEq(settled, 5, "four settled, one finalised");
        assertEq(streamPay.balanceOf(provider, address(0)), RATE * 200 - 2 * r100, "provider credited");
        assertEq(streamPay.balanceOf(provider2, address(0)), RATE * 400 - r400, "provider2 credited");
        assertEq(streamPay.balanceOf(usdProvider, address(usd)), USD_RATE * 100 - rUsd, "usd provider credited");
        assertEq(keeper.balance, keeperBefore + 2 * r100 + r400, "native reward");
        assertEq(usd.balanceOf(keeper), keeperUsdBefore + rUsd, "usd reward");
        assertEq(usd.balanceOf(bob), bobUsdBefore + USD_RATE * 10, "the unanswered cancel's rest, to bob");
        assertEq(address(streamPay).balance, RATE * 600 - 2 * r100 - r400, "native: exactly the credits");
        assertEq(usd.balanceOf(address(streamPay)), USD_RATE * 100 - rUsd, "usd: exactly the credit");
        assertStream(cancelled, StreamStatus.Cancelled, 0, START_TIME + 10, "finalised");
        assertStats(nativeProviderId, 2, RATE * 200, "two completions");
        assertStats(usdProviderId, 1, USD_RATE * 100, "the unpaid cancel is no completion");
    }

    function test_KeeperReward_IsTenBpsPerStreamRoundedDown() public {
        // Three stablecoin streams of 1500 units each: 1.5 units of reward each, rounded down to 1.
        // Rounding per stream gives 3; rounding the 4500 total would give 4.
        uint256 a = createUsd(bob, usdProviderId, 1500);
        uint256 b = createUsd(eve, usdProviderId, 1500);
        uint256 c = createUsd(alice, usdProviderId, 1500);
        vm.warp(START_TIME + 15 + GRACE_PERIOD);
        uint256[] memory ids = new uint256[](3);
        ids[0] = a;
        ids[1] = b;
        ids[2] = c;
        uint256 keeperBefore = usd.balanceOf(keeper);
        uint256 recipientBefore = usd.balanceOf(usdProvider);

        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamSettled(a, 1500, 1);
        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamSettled(b, 1500, 1);
        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamSettled(c, 1500, 1);
        vm.expectEmit(address(streamPay));
        emit IStreamPay.BatchSettled(keeper, address(usd), 3, 4500, 3);
        vm.prank(keeper);
        uint256 settled = streamPay.batchUpdateStreams(ids);

        assertEq(settled, 3, "three settled");
        assertEq(usd.balanceOf(keeper), keeperBefore + 3, "keeper gets exactly 1 per stream");
        assertEq(streamPay.balanceOf(usdProvider, address(usd)), 4497, "recipient keeps the rounding");
        assertEq(usd.balanceOf(usdProvider), recipientBefore, "recipient credited, not pushed");
        assertEq(usd.balanceOf(address(streamPay)), USD_RATE * 100 + 4497, "usdStream's escrow + the credit");
    }

    function test_WhenSettledAmountIsTiny_RewardIsZeroAndKeeperNotPaid() public {
        uint256 small = createUsd(bob, usdProviderId, 900); // 0.9 units of reward, rounded down to 0
        vm.warp(START_TIME + 9 + GRACE_PERIOD);
        uint256 keeperBefore = usd.balanceOf(keeper);

        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamSettled(small, 900, 0);
        vm.expectEmit(address(streamPay));
        emit IStreamPay.BatchSettled(keeper, address(usd), 1, 900, 0);
        vm.prank(keeper);
        uint256 settled = streamPay.batchUpdateStreams(ids1(small));

        assertEq(settled, 1, "settled");
        assertEq(usd.balanceOf(keeper), keeperBefore, "no reward");
        assertEq(streamPay.balanceOf(usdProvider, address(usd)), 900, "recipient credited in full");
    }

    function test_WhenManyStreamsPayOneRecipient_CreditsItOnce() public {
        uint256 s2 = createNative(bob, nativeProviderId, RATE * 100);
        uint256 s3 = createNative(eve, nativeProviderId, RATE * 100);
        vm.warp(abandonedAt);
        uint256[] memory ids = new uint256[](3);
        ids[0] = nativeStream;
        ids[1] = s2;
        ids[2] = s3;
        bytes32 slot = balanceSlot(provider, address(0));

        vm.record();
        vm.prank(keeper);
        streamPay.batchUpdateStreams(ids);
        (, bytes32[] memory writes) = vm.accesses(address(streamPay));

        uint256 credit = 3 * (RATE * 100 - keeperRewardOf(RATE * 100));
        assertEq(streamPay.balanceOf(provider, address(0)), credit, "credited the sum");
        assertEq(uint256(vm.load(address(streamPay), slot)), credit, "slot is the balance");
        assertEq(countWrites(writes, slot), 1, "one storage write for the recipient");
        assertStats(nativeProviderId, 3, RATE * 300, "three completions");
    }

    function test_WhenOneWalletRunsTwoProviders_CreditsItOnce() public {
        // The same wallet may register several models; each is its own provider id but one recipient.
        uint256 secondModelId = registerProvider(provider, "qwen2.5:7b", RATE, address(0));
        uint256 s2 = createNative(bob, secondModelId, RATE * 100);
        vm.warp(abandonedAt);
        bytes32 slot = balanceSlot(provider, address(0));

        vm.record();
        vm.prank(keeper);
        streamPay.batchUpdateStreams(ids2(nativeStream, s2));
        (, bytes32[] memory writes) = vm.accesses(address(streamPay));

        uint256 credit = 2 * (RATE * 100 - keeperRewardOf(RATE * 100));
        assertEq(streamPay.balanceOf(provider, address(0)), credit, "credited the sum");
        assertEq(uint256(vm.load(address(streamPay), slot)), credit, "slot is the balance");
        assertEq(countWrites(writes, slot), 1, "one storage write for the recipient");
        assertStats(nativeProviderId, 1, RATE * 100, "first model's completion");
        assertStats(secondModelId, 1, RATE * 100, "second model's completion");
    }

    function test_WhenKeeperRevertsOnReceive_RewardIsCredited() public {
        Actor keeperBot = newActor("keeperBot");
        keeperBot.setMode(Actor.ReceiveMode.Revert);
        vm.warp(abandonedAt);
        uint256 reward = keeperRewardOf(RATE * 100);

        vm.expectEmit(address(streamPay));
        emit IStreamPay.PaymentDeferred(address(keeperBot), address(0), reward);
        bytes memory ret =
            keeperBot.exec(address(streamPay), 0, abi.encodeCall(streamPay.batchUpdateStreams, (ids1(nativeStream))));

        assertEq(abi.decode(ret, (uint256)), 1, "settled");
        assertEq(streamPay.balanceOf(address(keeperBot), address(0)), reward, "reward credited");
        assertEq(streamPay.balanceOf(provider, address(0)), RATE * 100 - reward, "recipient credited");
        assertEq(address(streamPay).balance, RATE * 100, "everything still held");
    }

    function test_WhenKeeperBurnsGas_RewardIsCredited() public {
        Actor keeperBot = newActor("keeperBot");
        keeperBot.setMode(Actor.ReceiveMode.BurnGas);
        vm.warp(abandonedAt);
        uint256 keeperBotBefore = address(keeperBot).balance;

        keeperBot.exec(address(streamPay), 0, abi.encodeCall(streamPay.batchUpdateStreams, (ids1(nativeStream))));

        uint256 reward = keeperRewardOf(RATE * 100);
        assertEq(streamPay.balanceOf(address(keeperBot), address(0)), reward, "reward credited");
        assertEq(address(keeperBot).balance, keeperBotBefore, "push failed");
        assertEq(streamPay.balanceOf(provider, address(0)), RATE * 100 - reward, "recipient credited");
        assertEq(address(streamPay).balance, RATE * 100, "everything still held");
    }

    function test_WhenRecipientRevertsOnReceive_BatchStillSettles() public {
        Actor recipient = newActor("revertingProvider");
        uint256 providerId = registerActorProvider(recipient, MODEL, RATE, address(0));
        uint256 streamId = createNative(bob, providerId, RATE * 100);
        recipient.setMode(Actor.ReceiveMode.Revert);
        vm.warp(abandonedAt);
        uint256 keeperBefore = keeper.balance;
        uint256 reward = keeperRewardOf(RATE * 100);

        vm.prank(keeper);
        uint256 settled = streamPay.batchUpdateStreams(ids1(streamId));

        assertEq(settled, 1, "settled");
        assertEq(keeper.balance, keeperBefore + reward, "keeper paid");
        assertEq(address(streamPay).balance, RATE * 200 - reward, "alice's escrow + the credit");
        assertEq(streamPay.balanceOf(address(recipient), address(0)), RATE * 100 - reward, "recipient credited");
        assertStream(streamId, StreamStatus.Settled, RATE * 100, abandonedAt, "settled");
    }

    /*//////////////////////////////////////////////////////////////
                                 REVERTS
    //////////////////////////////////////////////////////////////*/

    function test_RevertWhen_TooLittleGasToPayTheKeeper() public {
        vm.warp(abandonedAt);
        uint256 keeperBefore = keeper.balance;

        (bool ok, bytes memory ret) =
            callStreamPayWithGas(keeper, 90_000, abi.encodeCall(streamPay.batchUpdateStreams, (ids1(nativeStream))));

        assertInsufficientGas(ok, ret);
        assertStream(nativeStream, StreamStatus.Open, 0, 0, "nothing settled");
        assertEq(keeper.balance, keeperBefore, "no reward");
        assertEq(streamPay.balanceOf(keeper, address(0)), 0, "reward not turned into a credit");
        assertEq(streamPay.balanceOf(provider, address(0)), 0, "no credit");
    }

    function test_RevertWhen_TooLittleGasToRefundTheSender() public {
        skipTime(10);
        vm.prank(alice);
        streamPay.cancelStream(nativeStream);
        skipTime(CHALLENGE_WINDOW);
        uint256 aliceBefore = alice.balance;

        (bool ok, bytes memory ret) =
            callStreamPayWithGas(keeper, 45_000, abi.encodeCall(streamPay.batchUpdateStreams, (ids1(nativeStream))));

        assertInsufficientGas(ok, ret);
        assertStream(nativeStream, StreamStatus.Cancelling, 0, START_TIME + 10, "not finalised");
        assertEq(alice.balance, aliceBefore, "nothing refunded");
        assertEq(streamPay.balanceOf(alice, address(0)), 0, "refund not turned into a credit");
    }
}
