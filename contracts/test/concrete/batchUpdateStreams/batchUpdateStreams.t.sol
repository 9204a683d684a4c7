// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ConcreteTest} from "../Concrete.t.sol";
import {Actor} from "../../mocks/Actor.sol";
import {Vm} from "../../utils/Vm.sol";
import {Errors} from "../../../src/libraries/Errors.sol";
import {IStreamPay} from "../../../src/interfaces/IStreamPay.sol";
import {IComputeRegistry} from "../../../src/interfaces/IComputeRegistry.sol";
import {Stream, StreamStatus} from "../../../src/types/DataTypes.sol";

contract BatchUpdateStreams_Test is ConcreteTest {
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

    function test_WhenNativeStreamStreamed_CreditsRecipientAndPaysKeeper() public {
        skipTime(30);
        uint256 amount = RATE * 30;
        uint256 reward = keeperRewardOf(amount);
        uint256 keeperBefore = keeper.balance;
        uint256 aliceBefore = alice.balance;
        uint256 providerBefore = provider.balance;

        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamSettled(nativeStream, amount, reward);
        vm.expectEmit(address(streamPay));
        emit IStreamPay.BatchSettled(keeper, address(0), 1, amount, reward);
        vm.prank(keeper);
        uint256 settled = streamPay.batchUpdateStreams(ids1(nativeStream));

        assertEq(settled, 1, "one stream settled");
        assertEq(reward, 3e10, "10 bps of 3e13");
        assertEq(streamPay.balanceOf(provider, address(0)), amount - reward, "recipient credited net of reward");
        assertEq(provider.balance, providerBefore, "recipient not pushed");
        assertEq(keeper.balance, keeperBefore + reward, "keeper paid its reward");
        assertEq(streamPay.balanceOf(keeper, address(0)), 0, "keeper pushed, not credited");
        assertEq(alice.balance, aliceBefore, "sender untouched");
        assertEq(address(streamPay).balance, RATE * 100 - reward, "escrow minus the reward");
        Stream memory s = getStream(nativeStream);
        assertEq(s.withdrawn, amount, "withdrawn includes the reward");
        assertTrue(s.status == StreamStatus.Open, "still open");
        assertEq(streamPay.refundableAmountOf(nativeStream), RATE * 70, "refundable unchanged");
        assertStats(nativeProviderId, 0, 0, "no completion yet");
    }

    function test_WhenERC20StreamStreamed_CreditsRecipientAndPaysKeeper() public {
        skipTime(50);
        uint256 amount = USD_RATE * 50; // 5000
        uint256 reward = keeperRewardOf(amount); // 5
        uint256 keeperBefore = usd.balanceOf(keeper);

        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamSettled(usdStream, amount, reward);
        vm.expectEmit(address(streamPay));
        emit IStreamPay.BatchSettled(keeper, address(usd), 1, amount, reward);
        vm.prank(keeper);
        uint256 settled = streamPay.batchUpdateStreams(ids1(usdStream));

        assertEq(settled, 1, "settled");
        assertEq(reward, 5, "10 bps of 5000");
        assertEq(streamPay.balanceOf(usdProvider, address(usd)), amount - reward, "recipient credited");
        assertEq(usd.balanceOf(keeper), keeperBefore + reward, "keeper paid");
        assertEq(usd.balanceOf(address(streamPay)), USD_RATE * 100 - reward, "escrow");
    }

    function test_WhenStreamDepleted_ClosesItAsSettled() public {
        skipTime(150);
        uint256 amount = RATE * 100;
        uint256 reward = keeperRewardOf(amount);
        uint256 aliceBefore = alice.balance;

        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamSettled(nativeStream, amount, reward);
        vm.expectEmit(true, false, false, false, address(registry)); // the provider id; amounts: see assertServed
        emit IComputeRegistry.CompletionRecorded(nativeProviderId, 0, 0, 0);
        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamClosed(nativeStream, keeper, StreamStatus.Settled, 0, 0);
        vm.expectEmit(address(streamPay));
        emit IStreamPay.BatchSettled(keeper, address(0), 1, amount, reward);
        vm.prank(keeper);
        uint256 settled = streamPay.batchUpdateStreams(ids1(nativeStream));

        assertEq(settled, 1, "settled");
        Stream memory s = getStream(nativeStream);
        assertTrue(s.status == StreamStatus.Settled, "status Settled");
        assertEq(s.withdrawn, amount, "all withdrawn");
        assertEq(streamPay.balanceOf(provider, address(0)), amount - reward, "recipient credited");
        assertEq(alice.balance, aliceBefore, "sender gets nothing");
        assertEq(address(streamPay).balance, amount - reward, "contract holds exactly the credit");
        assertServed(nativeProviderId, 1, "registry stats updated");
        assertEq(streamPay.getStreamView(nativeStream).refunded, 0, "nothing refunded");
    }

    function test_WhenDepletedAfterAnEarlierSettlement_SettlesTheRestAndCloses() public {
        skipTime(30);
        vm.prank(keeper);
        streamPay.batchUpdateStreams(ids1(nativeStream));
        skipTime(100);
        uint256 keeperBefore = keeper.balance;

        vm.prank(keeper);
        uint256 settled = streamPay.batchUpdateStreams(ids1(nativeStream));

        uint256 r1 = keeperRewardOf(RATE * 30);
        uint256 r2 = keeperRewardOf(RATE * 70);
        assertEq(settled, 1, "settled");
        assertEq(keeper.balance, keeperBefore + r2, "second reward on the rest only");
        assertEq(streamPay.balanceOf(provider, address(0)), RATE * 100 - r1 - r2, "recipient credited");
        assertEq(address(streamPay).balance, RATE * 100 - r1 - r2, "contract holds the credit");
        assertTrue(getStream(nativeStream).status == StreamStatus.Settled, "settled");
        assertServed(nativeProviderId, 1, "one completion");
    }

    function test_WhenIdsUnknownClosedOrFullySettled_SkipsThem() public {
        uint256 cancelled = createNative(bob, nativeProviderId, RATE * 100);
        uint256 settledEarlier = createNative(bob, nativeProviderId, RATE * 10);
        uint256 withdrawnNow = createUsd(bob, usdProviderId, USD_RATE * 100);
        skipTime(20);
        vm.prank(bob);
        streamPay.cancelStream(cancelled);
        streamPay.withdrawFromStream(settledEarlier); // depleted -> Settled
        streamPay.withdrawFromStream(withdrawnNow); // open, nothing left this second
        uint256 keeperBefore = keeper.balance;
        uint256 keeperUsdBefore = usd.balanceOf(keeper);
        uint256 recipientCreditBefore = streamPay.balanceOf(provider, address(0));

        uint256[] memory ids = new uint256[](6);
        ids[0] = 0;
        ids[1] = 999;
        ids[2] = cancelled;
        ids[3] = settledEarlier;
        ids[4] = withdrawnNow;
        ids[5] = usdStream; // the only one with something to settle
        vm.prank(keeper);
        uint256 settled = streamPay.batchUpdateStreams(ids);

        assertEq(settled, 1, "only the live stream counted");
        assertEq(getStream(usdStream).withdrawn, USD_RATE * 20, "live stream settled");
        assertEq(getStream(withdrawnNow).withdrawn, USD_RATE * 20, "skipped stream untouched");
        assertTrue(getStream(cancelled).status == StreamStatus.Cancelled, "cancelled stays cancelled");
        assertTrue(getStream(settledEarlier).status == StreamStatus.Settled, "settled stays settled");
        assertEq(streamPay.balanceOf(provider, address(0)), recipientCreditBefore, "no credit from skipped ids");
        assertEq(keeper.balance, keeperBefore, "no native reward");
        assertEq(usd.balanceOf(keeper), keeperUsdBefore + keeperRewardOf(USD_RATE * 20), "usd reward");
    }

    function test_WhenNothingToSettle_ReturnsZeroAndEmitsNothing() public {
        uint256[] memory ids = new uint256[](3);
        ids[0] = nativeStream; // nothing streamed yet
        ids[1] = usdStream;
        ids[2] = 12345;
        uint256 keeperBefore = keeper.balance;

        vm.recordLogs();
        vm.prank(keeper);
        uint256 settled = streamPay.batchUpdateStreams(ids);
        Vm.Log[] memory logs = vm.getRecordedLogs();

        assertEq(settled, 0, "nothing settled");
        assertEq(logs.length, 0, "no events");
        assertEq(keeper.balance, keeperBefore, "no reward");
        assertEq(getStream(nativeStream).withdrawn, 0, "untouched");
    }

    function test_WhenEmptyBatch_ReturnsZero() public {
        vm.recordLogs();
        vm.prank(keeper);
        uint256 settled = streamPay.batchUpdateStreams(new uint256[](0));
        assertEq(settled, 0, "nothing settled");
        assertEq(vm.getRecordedLogs().length, 0, "no events");
    }

    function test_WhenIdRepeated_SettlesItOnce() public {
        skipTime(40);
        uint256[] memory ids = new uint256[](3);
        ids[0] = nativeStream;
        ids[1] = nativeStream;
        ids[2] = nativeStream;
        uint256 keeperBefore = keeper.balance;

        vm.prank(keeper);
        uint256 settled = streamPay.batchUpdateStreams(ids);

        uint256 reward = keeperRewardOf(RATE * 40);
        assertEq(settled, 1, "counted once");
        assertEq(keeper.balance, keeperBefore + reward, "rewarded once");
        assertEq(streamPay.balanceOf(provider, address(0)), RATE * 40 - reward, "credited once");
        assertEq(getStream(nativeStream).withdrawn, RATE * 40, "withdrawn once");
        assertEq(address(streamPay).balance, RATE * 100 - reward, "escrow minus one reward");
    }

    function test_WhenDepletedIdRepeated_ClosesItOnce() public {
        skipTime(100);
        uint256[] memory ids = new uint256[](2);
        ids[0] = nativeStream;
        ids[1] = nativeStream;
        uint256 keeperBefore = keeper.balance;

        vm.prank(keeper);
        uint256 settled = streamPay.batchUpdateStreams(ids);

        uint256 reward = keeperRewardOf(RATE * 100);
        assertEq(settled, 1, "counted once");
        assertServed(nativeProviderId, 1, "one completion");
        assertEq(keeper.balance, keeperBefore + reward, "rewarded once");
        assertEq(streamPay.balanceOf(provider, address(0)), RATE * 100 - reward, "credited once");
        assertEq(address(streamPay).balance, RATE * 100 - reward, "contract holds the credit");
    }

    function test_KeeperReward_IsTenBpsPerStreamRoundedDown() public {
        // Three stablecoin streams of 1500 units each: 1.5 units of reward each, rounded down to 1.
        // Rounding per stream gives 3; rounding the 4500 total would give 4.
        uint256 a = createUsd(bob, usdProviderId, USD_RATE * 100);
        uint256 b = createUsd(eve, usdProviderId, USD_RATE * 100);
        skipTime(15);
        uint256[] memory ids = new uint256[](3);
        ids[0] = usdStream;
        ids[1] = a;
        ids[2] = b;
        uint256 keeperBefore = usd.balanceOf(keeper);
        uint256 recipientBefore = usd.balanceOf(usdProvider);

        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamSettled(usdStream, 1500, 1);
        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamSettled(a, 1500, 1);
        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamSettled(b, 1500, 1);
        vm.expectEmit(address(streamPay));
        emit IStreamPay.BatchSettled(keeper, address(usd), 3, 4500, 3);
        vm.prank(keeper);
        uint256 settled = streamPay.batchUpdateStreams(ids);

        assertEq(settled, 3, "three settled");
        assertEq(usd.balanceOf(keeper), keeperBefore + 3, "keeper gets exactly 1 per stream");
        assertEq(streamPay.balanceOf(usdProvider, address(usd)), 4497, "recipient keeps the rounding");
        assertEq(usd.balanceOf(usdProvider), recipientBefore, "recipient credited, not pushed");
        assertEq(usd.balanceOf(address(streamPay)), USD_RATE * 300 - 3, "escrow");
    }

    function test_WhenSettledAmountIsTiny_RewardIsZeroAndKeeperNotPaid() public {
        skipTime(9); // 900 units: 0.9 units of reward, rounded down to 0
        uint256 keeperBefore = usd.balanceOf(keeper);

        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamSettled(usdStream, 900, 0);
        vm.expectEmit(address(streamPay));
        emit IStreamPay.BatchSettled(keeper, address(usd), 1, 900, 0);
        vm.prank(keeper);
        uint256 settled = streamPay.batchUpdateStreams(ids1(usdStream));

        assertEq(settled, 1, "settled");
        assertEq(usd.balanceOf(keeper), keeperBefore, "no reward");
        assertEq(streamPay.balanceOf(usdProvider, address(usd)), 900, "recipient credited in full");
    }

    function test_WhenMixedAssets_SettlesEachAndPaysKeeperOncePerAsset() public {
        (address provider2,) = makeAddrAndKey("provider2");
        vm.deal(provider2, MIN_STAKE);
        uint256 provider2Id = registerProvider(provider2, MODEL, RATE * 2, address(0));
        uint256 other = createNative(bob, provider2Id, RATE * 400);
        skipTime(40);

        uint256 n1 = RATE * 40;
        uint256 n2 = RATE * 80;
        uint256 u = USD_RATE * 40;
        uint256[] memory ids = new uint256[](3);
        ids[0] = nativeStream;
        ids[1] = usdStream;
        ids[2] = other;
        uint256 keeperBefore = keeper.balance;
        uint256 keeperUsdBefore = usd.balanceOf(keeper);

        vm.expectEmit(address(streamPay));
        emit IStreamPay.BatchSettled(
            keeper, address(0), 2, n1 + n2, keeperRewardOf(n1) + keeperRewardOf(n2)
        );
        vm.expectEmit(address(streamPay));
        emit IStreamPay.BatchSettled(keeper, address(usd), 1, u, keeperRewardOf(u));
        vm.prank(keeper);
        uint256 settled = streamPay.batchUpdateStreams(ids);

        assertEq(settled, 3, "three settled");
        assertEq(streamPay.balanceOf(provider, address(0)), n1 - keeperRewardOf(n1), "provider credited");
        assertEq(streamPay.balanceOf(provider2, address(0)), n2 - keeperRewardOf(n2), "provider2 credited");
        assertEq(streamPay.balanceOf(usdProvider, address(usd)), u - keeperRewardOf(u), "usd provider credited");
        assertEq(keeper.balance, keeperBefore + keeperRewardOf(n1) + keeperRewardOf(n2), "native reward");
        assertEq(usd.balanceOf(keeper), keeperUsdBefore + keeperRewardOf(u), "usd reward");
        assertEq(
            address(streamPay).balance,
            RATE * 500 - keeperRewardOf(n1) - keeperRewardOf(n2),
            "native escrow minus rewards"
        );
        assertEq(usd.balanceOf(address(streamPay)), USD_RATE * 100 - keeperRewardOf(u), "usd escrow minus reward");
    }

    function test_WhenManyStreamsPayOneRecipient_CreditsItOnce() public {
        uint256 s2 = createNative(bob, nativeProviderId, RATE * 100);
        uint256 s3 = createNative(eve, nativeProviderId, RATE * 100);
        skipTime(10);
        uint256[] memory ids = new uint256[](3);
        ids[0] = nativeStream;
        ids[1] = s2;
        ids[2] = s3;
        bytes32 slot = balanceSlot(provider, address(0));

        vm.record();
        vm.prank(keeper);
        streamPay.batchUpdateStreams(ids);
        (, bytes32[] memory writes) = vm.accesses(address(streamPay));

        uint256 credit = 3 * (RATE * 10 - keeperRewardOf(RATE * 10));
        assertEq(streamPay.balanceOf(provider, address(0)), credit, "credited the sum");
        assertEq(uint256(vm.load(address(streamPay), slot)), credit, "slot is the balance");
        assertEq(countWrites(writes, slot), 1, "one storage write for the recipient");
    }

    function test_WhenOneWalletRunsTwoProviders_CreditsItOnce() public {
        // The same wallet may register several models; each is its own provider id but one recipient.
        uint256 secondModelId = registerProvider(provider, "qwen2.5:7b", RATE, address(0));
        uint256 s2 = createNative(bob, secondModelId, RATE * 100);
        skipTime(10);
        uint256[] memory ids = new uint256[](2);
        ids[0] = nativeStream;
        ids[1] = s2;
        bytes32 slot = balanceSlot(provider, address(0));

        vm.record();
        vm.prank(keeper);
        streamPay.batchUpdateStreams(ids);
        (, bytes32[] memory writes) = vm.accesses(address(streamPay));

        uint256 credit = 2 * (RATE * 10 - keeperRewardOf(RATE * 10));
        assertEq(streamPay.balanceOf(provider, address(0)), credit, "credited the sum");
        assertEq(uint256(vm.load(address(streamPay), slot)), credit, "slot is the balance");
        assertEq(countWrites(writes, slot), 1, "one storage write for the recipient");
    }

    function test_WhenKeeperRevertsOnReceive_RewardIsCredited() public {
        Actor keeperBot = newActor("keeperBot");
        keeperBot.setMode(Actor.ReceiveMode.Revert);
        skipTime(30);
        uint256 reward = keeperRewardOf(RATE * 30);

        vm.expectEmit(address(streamPay));
        emit IStreamPay.PaymentDeferred(address(keeperBot), address(0), reward);
        bytes memory ret = keeperBot.exec(
            address(streamPay), 0, abi.encodeCall(streamPay.batchUpdateStreams, (ids1(nativeStream)))
        );

        assertEq(abi.decode(ret, (uint256)), 1, "settled");
        assertEq(streamPay.balanceOf(address(keeperBot), address(0)), reward, "reward credited");
        assertEq(streamPay.balanceOf(provider, address(0)), RATE * 30 - reward, "recipient credited");
        assertEq(address(streamPay).balance, RATE * 100, "everything still held");
    }

    function test_WhenKeeperBurnsGas_RewardIsCredited() public {
        Actor keeperBot = newActor("keeperBot");
        keeperBot.setMode(Actor.ReceiveMode.BurnGas);
        skipTime(30);

        uint256 keeperBotBefore = address(keeperBot).balance;
        keeperBot.exec(address(streamPay), 0, abi.encodeCall(streamPay.batchUpdateStreams, (ids1(nativeStream))));

        uint256 reward = keeperRewardOf(RATE * 30);
        assertEq(streamPay.balanceOf(address(keeperBot), address(0)), reward, "reward credited");
        assertEq(address(keeperBot).balance, keeperBotBefore, "push failed");
        assertEq(streamPay.balanceOf(provider, address(0)), RATE * 30 - reward, "recipient credited");
        assertEq(address(streamPay).balance, RATE * 100, "everything still held");
    }

    function test_WhenRecipientRevertsOnReceive_BatchStillSettles() public {
        Actor recipient = newActor("revertingProvider");
        uint256 providerId = registerActorProvider(recipient, MODEL, RATE, address(0));
        uint256 streamId = createNative(bob, providerId, RATE * 100);
        recipient.setMode(Actor.ReceiveMode.Revert);
        skipTime(100);
        uint256 keeperBefore = keeper.balance;

        vm.prank(keeper);
        uint256 settled = streamPay.batchUpdateStreams(ids1(streamId));

        assertEq(settled, 1, "settled");
        assertEq(keeper.balance, keeperBefore + keeperRewardOf(RATE * 100), "keeper paid");
        assertEq(
            address(streamPay).balance, RATE * 200 - keeperRewardOf(RATE * 100), "alice's escrow + the credit"
        );
        assertEq(
            streamPay.balanceOf(address(recipient), address(0)),
            RATE * 100 - keeperRewardOf(RATE * 100),
            "recipient credited"
        );
        assertTrue(getStream(streamId).status == StreamStatus.Settled, "closed");
    }

    /*//////////////////////////////////////////////////////////////
                                 REVERTS
    //////////////////////////////////////////////////////////////*/

    function test_RevertWhen_TooLittleGasToPayTheKeeper() public {
        skipTime(30);
        uint256 keeperBefore = keeper.balance;

        (bool ok, bytes memory ret) = callStreamPayWithGas(
            keeper, 70_000, abi.encodeCall(streamPay.batchUpdateStreams, (ids1(nativeStream)))
        );

        assertInsufficientGas(ok, ret);
        assertEq(getStream(nativeStream).withdrawn, 0, "nothing settled");
        assertEq(keeper.balance, keeperBefore, "no reward");
        assertEq(streamPay.balanceOf(keeper, address(0)), 0, "reward not turned into a credit");
        assertEq(streamPay.balanceOf(provider, address(0)), 0, "no credit");
    }

    /*//////////////////////////////////////////////////////////////
                                 HELPERS
    //////////////////////////////////////////////////////////////*/

    function ids1(uint256 id) internal pure returns (uint256[] memory ids) {
        ids = new uint256[](1);
        ids[0] = id;
    }
}
