// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {BaseTest} from "../../Base.t.sol";
import {Errors} from "../../../src/libraries/Errors.sol";
import {IComputeRegistry} from "../../../src/interfaces/IComputeRegistry.sol";
import {Vm} from "../../utils/Vm.sol";

/// @notice ComputeRegistry.recordCompletion: callable only by StreamPay; the stats it keeps come from real
/// stream closes and match what the provider was actually paid.
contract RecordCompletion_Test is BaseTest {
    uint256 internal constant SECONDS = 1000;

    /*//////////////////////////////////////////////////////////////
                                  ACCESS
    //////////////////////////////////////////////////////////////*/

    function test_RevertWhen_CallerIsAnOutsider() public {
        vm.expectRevert(abi.encodeWithSelector(Errors.Registry_OnlyStreamPay.selector, eve));
        vm.prank(eve);
        registry.recordCompletion(nativeProviderId, 1, 1 ether);
    }

    function test_RevertWhen_CallerIsTheProviderItself() public {
        vm.expectRevert(abi.encodeWithSelector(Errors.Registry_OnlyStreamPay.selector, provider));
        vm.prank(provider);
        registry.recordCompletion(nativeProviderId, 1, 1 ether);
    }

    function test_RevertWhen_CallerIsTheRegistry() public {
        vm.expectRevert(abi.encodeWithSelector(Errors.Registry_OnlyStreamPay.selector, address(registry)));
        vm.prank(address(registry));
        registry.recordCompletion(nativeProviderId, 1, 1);
    }

    function test_RevertWhen_CallerIsTheTestContract() public {
        vm.expectRevert(abi.encodeWithSelector(Errors.Registry_OnlyStreamPay.selector, address(this)));
        registry.recordCompletion(nativeProviderId, 1, 1);
    }

    function test_WhenCalledByStreamPay_UpdatesStatsAndEmits() public {
        vm.expectEmit(address(registry));
        emit IComputeRegistry.CompletionRecorded(nativeProviderId, 1, 5, 1, 5);
        vm.prank(address(streamPay));
        registry.recordCompletion(nativeProviderId, 1, 5);

        // A keeper batch reports several streams of one provider at once.
        vm.expectEmit(address(registry));
        emit IComputeRegistry.CompletionRecorded(nativeProviderId, 3, 7, 4, 12);
        vm.prank(address(streamPay));
        registry.recordCompletion(nativeProviderId, 3, 7);

        IComputeRegistry.ProviderView memory p = registry.getProvider(nativeProviderId);
        assertEq(p.requestsServed, 4, "requests");
        assertEq(p.totalEarned, 12, "earned");
        assertEq(registry.getProvider(usdProviderId).requestsServed, 0, "other provider untouched");
    }

    /*//////////////////////////////////////////////////////////////
                          STATS FROM REAL CLOSES
    //////////////////////////////////////////////////////////////*/

    function test_WhenCancelAnswered_RecordsTheVoucher() public {
        uint256 streamId = createNative(alice, nativeProviderId, RATE * SECONDS);
        vm.warp(START_TIME + 300);
        vm.prank(alice);
        streamPay.cancelStream(streamId);
        assertEq(registry.getProvider(nativeProviderId).requestsServed, 0, "a cancelling stream is no completion");

        vm.expectEmit(address(registry));
        emit IComputeRegistry.CompletionRecorded(nativeProviderId, 1, RATE * 250, 1, RATE * 250);
        vm.prank(provider);
        streamPay.closeByRecipient(streamId, voucher(aliceKey, streamId, RATE * 250));

        _assertStats(nativeProviderId, 1, _received(provider, address(0), provider.balance));
        assertEq(registry.getProvider(nativeProviderId).totalEarned, RATE * 250, "earned = the voucher");
    }

    function test_WhenCancelFinalised_RecordsWhatWasWithdrawn() public {
        uint256 walletBefore = provider.balance;
        uint256 streamId = createNative(alice, nativeProviderId, RATE * SECONDS);
        vm.warp(START_TIME + 300);
        streamPay.withdrawFromStream(streamId, voucher(aliceKey, streamId, RATE * 120));
        vm.prank(alice);
        streamPay.cancelStream(streamId);
        vm.warp(START_TIME + 300 + CHALLENGE_WINDOW);

        vm.expectEmit(address(registry));
        emit IComputeRegistry.CompletionRecorded(nativeProviderId, 1, RATE * 120, 1, RATE * 120);
        streamPay.batchUpdateStreams(_ids(streamId));

        _assertStats(nativeProviderId, 1, provider.balance - walletBefore);
    }

    function test_WhenClosedWithReceipt_RecordsReceiptAmount() public {
        uint256 streamId = createNative(alice, nativeProviderId, RATE * SECONDS);
        vm.warp(START_TIME + 600);
        uint256 charged = RATE * 421 / 10; // 42.1 seconds of compute

        bytes memory sig = signFinalReceipt(providerKey, streamId, charged);
        vm.expectEmit(address(registry));
        emit IComputeRegistry.CompletionRecorded(nativeProviderId, 1, charged, 1, charged);
        vm.prank(alice);
        streamPay.closeWithReceipt(streamId, charged, sig);

        _assertStats(nativeProviderId, 1, _received(provider, address(0), provider.balance));
        assertEq(registry.getProvider(nativeProviderId).totalEarned, charged, "earned = receipt amount");
    }

    function test_WhenClosedByRecipient_RecordsAmount() public {
        uint256 streamId = createUsd(alice, usdProviderId, USD_RATE * SECONDS);
        vm.warp(START_TIME + 500);
        uint256 charged = USD_RATE * 250 + 3;
        vm.prank(usdProvider);
        streamPay.closeByRecipient(streamId, voucher(aliceKey, streamId, charged));

        _assertStats(usdProviderId, 1, _received(usdProvider, address(usd), usd.balanceOf(usdProvider)));
        assertEq(registry.getProvider(usdProviderId).totalEarned, charged, "earned in token units");
    }

    function test_WhenAbandonedAfterAFullWithdrawal_RecordsWhatWasPaid() public {
        uint256 walletBefore = provider.balance;
        uint256 streamId = createNative(alice, nativeProviderId, RATE * SECONDS);
        vm.warp(START_TIME + SECONDS + 10);
        vm.prank(bob); // anyone may trigger the payout
        streamPay.withdrawFromStream(streamId, voucher(aliceKey, streamId, RATE * SECONDS));
        assertEq(registry.getProvider(nativeProviderId).requestsServed, 0, "a withdrawal is no completion");
        vm.warp(START_TIME + SECONDS + GRACE_PERIOD);

        vm.expectEmit(address(registry));
        emit IComputeRegistry.CompletionRecorded(nativeProviderId, 1, RATE * SECONDS, 1, RATE * SECONDS);
        streamPay.batchUpdateStreams(_ids(streamId));

        _assertStats(nativeProviderId, 1, provider.balance - walletBefore);
    }

    function test_WhenWithdrawnMidStream_NoCompletionUntilClose() public {
        uint256 walletBefore = provider.balance;
        uint256 streamId = createNative(alice, nativeProviderId, RATE * SECONDS);
        vm.warp(START_TIME + 200);
        streamPay.withdrawFromStream(streamId, voucher(aliceKey, streamId, RATE * 200));
        assertEq(registry.getProvider(nativeProviderId).requestsServed, 0, "an open stream is not a completion");

        vm.warp(START_TIME + 500);
        vm.prank(provider);
        streamPay.closeByRecipient(streamId, voucher(aliceKey, streamId, RATE * 500));
        // Paid 200 s by the withdrawal and 300 s by the close: one completion of 500 s.
        _assertStats(nativeProviderId, 1, _received(provider, address(0), walletBefore));
        assertEq(registry.getProvider(nativeProviderId).totalEarned, RATE * 500, "earned over the stream's life");
    }

    function test_WhenClosedHavingPaidNothing_NoCompletion() public {
        uint256 first = createNative(alice, nativeProviderId, RATE * SECONDS);
        vm.recordLogs();
        vm.prank(alice);
        streamPay.cancelStream(first); // at its start: nothing streamed

        vm.warp(START_TIME + 100);
        uint256 second = createNative(alice, nativeProviderId, RATE * SECONDS);
        vm.warp(START_TIME + 200);
        bytes memory sig = signFinalReceipt(providerKey, second, 0);
        vm.prank(alice);
        streamPay.closeWithReceipt(second, 0, sig); // receipt for nothing

        Vm.Log[] memory logs = vm.getRecordedLogs();
        for (uint256 i; i < logs.length; ++i) {
            assertTrue(logs[i].topics[0] != IComputeRegistry.CompletionRecorded.selector, "no completion event");
        }
        _assertStats(nativeProviderId, 0, 0);
    }

    function test_WhenManyStreams_StatsAccumulatePerProvider() public {
        uint256 walletBefore = provider.balance;
        uint256 usdWalletBefore = usd.balanceOf(usdProvider);
        uint256 a = createNative(alice, nativeProviderId, RATE * SECONDS);
        uint256 b = createNative(bob, nativeProviderId, RATE * 2 * SECONDS);
        uint256 u = createUsd(alice, usdProviderId, USD_RATE * SECONDS);

        vm.warp(START_TIME + 100);
        vm.prank(alice);
        streamPay.cancelStream(a);
        vm.prank(provider);
        streamPay.closeByRecipient(a, voucher(aliceKey, a, RATE * 100)); // 100 s
        vm.warp(START_TIME + 250);
        vm.prank(provider);
        streamPay.closeByRecipient(b, voucher(bobKey, b, RATE * 200)); // 200 s of 250 streamed
        vm.warp(START_TIME + SECONDS);
        bytes memory sig = signFinalReceipt(usdProviderKey, u, USD_RATE * SECONDS);
        vm.prank(alice);
        streamPay.closeWithReceipt(u, USD_RATE * SECONDS, sig); // the whole usd stream

        _assertStats(nativeProviderId, 2, _received(provider, address(0), walletBefore));
        assertEq(registry.getProvider(nativeProviderId).totalEarned, RATE * 300, "native earned");
        _assertStats(usdProviderId, 1, _received(usdProvider, address(usd), usdWalletBefore));
        assertEq(registry.getProvider(usdProviderId).totalEarned, USD_RATE * SECONDS, "usd earned");
    }

    /// @dev totalEarned is gross: the keeper's 0.1% comes out of what the stream paid on the provider's side.
    function test_WhenKeeperSettles_TotalEarnedIsGrossOfTheKeeperReward() public {
        uint256 streamId = createNative(alice, nativeProviderId, RATE * SECONDS);
        vm.warp(START_TIME + SECONDS + GRACE_PERIOD);
        vm.prank(keeper);
        streamPay.batchUpdateStreams(_ids(streamId));

        uint256 providerGot = streamPay.balanceOf(provider, address(0));
        assertEq(providerGot, RATE * SECONDS - RATE * SECONDS / 1000, "provider got the amount less 0.1%");
        assertEq(registry.getProvider(nativeProviderId).requestsServed, 1, "one completion");
        assertEq(
            registry.getProvider(nativeProviderId).totalEarned,
            providerGot + keeper.balance - 1_000 ether,
            "totalEarned = what the provider got + the keeper's reward"
        );
        assertEq(registry.getProvider(nativeProviderId).totalEarned, RATE * SECONDS, "the whole deposit, gross");
    }

    function test_WhenKeeperSettlesManyStreamsOfOneProvider_RecordsThemInOneCall() public {
        uint256 a = createNative(alice, nativeProviderId, RATE * SECONDS);
        uint256 b = createNative(bob, nativeProviderId, RATE * SECONDS);
        uint256 c = createNative(bob, nativeProviderId, RATE * SECONDS);
        vm.warp(START_TIME + 100);
        streamPay.withdrawFromStream(c, voucher(bobKey, c, RATE * 40));
        vm.prank(bob);
        streamPay.cancelStream(c);
        vm.warp(START_TIME + SECONDS + GRACE_PERIOD);
        uint256[] memory ids = new uint256[](3);
        ids[0] = a;
        ids[1] = b;
        ids[2] = c; // a finalised cancel counts too, with what it paid

        vm.expectEmit(address(registry));
        emit IComputeRegistry.CompletionRecorded(
            nativeProviderId, 3, RATE * (2 * SECONDS + 40), 3, RATE * (2 * SECONDS + 40)
        );
        vm.recordLogs();
        vm.prank(keeper);
        streamPay.batchUpdateStreams(ids);

        Vm.Log[] memory logs = vm.getRecordedLogs();
        uint256 recorded;
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].topics[0] == IComputeRegistry.CompletionRecorded.selector) ++recorded;
        }
        assertEq(recorded, 1, "one registry write for the provider");
        IComputeRegistry.ProviderView memory p = registry.getProvider(nativeProviderId);
        assertEq(p.requestsServed, 3, "three completions");
        assertEq(p.totalEarned, RATE * (2 * SECONDS + 40), "gross earned");
    }

    /*//////////////////////////////////////////////////////////////
                                 HELPERS
    //////////////////////////////////////////////////////////////*/

    function _ids(uint256 id) private pure returns (uint256[] memory ids) {
        ids = new uint256[](1);
        ids[0] = id;
    }

    /// @dev What `wallet` received in `asset`: wallet growth since `walletBefore` plus its claimable
    /// StreamPay balance.
    function _received(address wallet, address asset, uint256 walletBefore) private view returns (uint256) {
        return _walletBalance(wallet, asset) - walletBefore + streamPay.balanceOf(wallet, asset);
    }

    function _walletBalance(address wallet, address asset) private view returns (uint256) {
        return asset == address(0) ? wallet.balance : usd.balanceOf(wallet);
    }

    function _assertStats(uint256 providerId, uint256 requests, uint256 earned) private view {
        IComputeRegistry.ProviderView memory p = registry.getProvider(providerId);
        assertEq(p.requestsServed, requests, "requestsServed");
        assertEq(p.totalEarned, earned, "totalEarned = what the provider actually got");
    }
}
