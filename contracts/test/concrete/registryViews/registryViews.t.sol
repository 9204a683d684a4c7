// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {BaseTest} from "../../Base.t.sol";
import {Errors} from "../../../src/libraries/Errors.sol";
import {IComputeRegistry} from "../../../src/interfaces/IComputeRegistry.sol";
import {TestToken} from "../../../src/dev/TestToken.sol";

/// @notice ComputeRegistry's views: getProvider, providerIdOf, the active indexes, getCheapestProvider,
/// streamTerms, payoutOf, walletOf, isRated, providerCount and the deploy-time constants.
contract RegistryViews_Test is BaseTest {
    string internal constant OTHER_MODEL = "qwen2.5:7b";

    /*//////////////////////////////////////////////////////////////
                           CONSTANTS AND COUNT
    //////////////////////////////////////////////////////////////*/

    function test_DeployTimeConstants() public view {
        assertEq(registry.streamPay(), address(streamPay), "streamPay is the deployer");
        assertEq(address(streamPay.registry()), address(registry), "and StreamPay points back");
        assertEq(registry.minStake(), MIN_STAKE, "minStake");
        assertEq(registry.stakeCooldown(), STAKE_COOLDOWN, "stakeCooldown");
    }

    function test_ProviderCount_CountsEveryRegistration() public {
        assertEq(registry.providerCount(), 2, "fixture registered two");
        registerProvider(alice, OTHER_MODEL, RATE, address(0));
        vm.prank(provider);
        registry.updateProvider(nativeProviderId, RATE, ENDPOINT, false); // inactive ones still count
        assertEq(registry.providerCount(), 3, "count includes inactive providers");
    }

    /*//////////////////////////////////////////////////////////////
                               getProvider
    //////////////////////////////////////////////////////////////*/

    function test_GetProvider_RevertWhen_IdZero() public {
        vm.expectRevert(abi.encodeWithSelector(Errors.Registry_UnknownProvider.selector, 0));
        registry.getProvider(0);
    }

    function test_GetProvider_RevertWhen_IdAboveCount() public {
        vm.expectRevert(abi.encodeWithSelector(Errors.Registry_UnknownProvider.selector, 3));
        registry.getProvider(3);
    }

    function test_GetProvider_ReflectsStatsRatingsAndUpdates() public {
        uint256 streamId = createUsd(alice, usdProviderId, USD_RATE * 1000);
        vm.warp(START_TIME + 400);
        bytes memory sig = signFinalReceipt(usdProviderKey, streamId, USD_RATE * 400);
        vm.prank(alice);
        streamPay.closeWithReceipt(streamId, USD_RATE * 400, sig);
        vm.prank(alice);
        registry.rateProvider(streamId, 4);
        vm.warp(START_TIME + 500);
        vm.prank(usdProvider);
        registry.updateProvider(usdProviderId, USD_RATE + 1, "https://new.example", false);

        IComputeRegistry.ProviderView memory p = registry.getProvider(usdProviderId);
        assertEq(p.id, usdProviderId, "id");
        assertEq(p.wallet, usdProvider, "wallet");
        assertEq(p.asset, address(usd), "asset");
        assertEq(p.pricePerSecond, USD_RATE + 1, "price");
        assertFalse(p.active, "inactive");
        assertEq(p.stake, MIN_STAKE, "stake");
        assertEq(p.registeredAt, START_TIME, "registeredAt");
        assertEq(p.deactivatedAt, START_TIME + 500, "deactivatedAt");
        assertEq(p.requestsServed, 1, "requestsServed");
        assertEq(p.totalEarned, USD_RATE * 400, "totalEarned");
        assertEq(p.ratingCount, 1, "ratingCount");
        assertEq(p.ratingSum, 4, "ratingSum");
        assertEq(p.model, MODEL, "model");
        assertEq(p.endpoint, "https://new.example", "endpoint");
        assertEq(p.serviceType, SERVICE_TYPE, "serviceType");
    }

    /*//////////////////////////////////////////////////////////////
                               providerIdOf
    //////////////////////////////////////////////////////////////*/

    function test_ProviderIdOf() public {
        uint256 second = registerProvider(provider, OTHER_MODEL, RATE, address(0));
        assertEq(registry.providerIdOf(provider, MODEL), nativeProviderId, "first model");
        assertEq(registry.providerIdOf(provider, OTHER_MODEL), second, "second model");
        assertEq(registry.providerIdOf(usdProvider, MODEL), usdProviderId, "other wallet");
        assertEq(registry.providerIdOf(alice, MODEL), 0, "unregistered wallet");
        assertEq(registry.providerIdOf(usdProvider, OTHER_MODEL), 0, "unregistered model for that wallet");
        assertEq(registry.providerIdOf(provider, "LLAMA3.2:1B"), 0, "case-sensitive");
        assertEq(registry.providerIdOf(provider, ""), 0, "empty model");
    }

    /*//////////////////////////////////////////////////////////////
                              ACTIVE INDEXES
    //////////////////////////////////////////////////////////////*/

    function test_GetActiveProviderIds() public {
        uint256[] memory ids = registry.getActiveProviderIds();
        assertEq(ids.length, 2, "two active");
        assertTrue(_contains(ids, nativeProviderId) && _contains(ids, usdProviderId), "both fixture providers");

        uint256 third = registerProvider(alice, OTHER_MODEL, RATE, address(0));
        vm.prank(provider);
        registry.updateProvider(nativeProviderId, RATE, ENDPOINT, false);
        ids = registry.getActiveProviderIds();
        assertEq(ids.length, 2, "one in, one out");
        assertTrue(_contains(ids, third) && _contains(ids, usdProviderId), "third and usd");
        assertFalse(_contains(ids, nativeProviderId), "deactivated left");
    }

    function test_GetActiveProviderIdsByModel() public {
        uint256 other = registerProvider(alice, OTHER_MODEL, RATE, address(0));
        uint256[] memory byModel = registry.getActiveProviderIdsByModel(MODEL);
        assertEq(byModel.length, 2, "two of MODEL");
        assertFalse(_contains(byModel, other), "other model not listed");
        uint256[] memory byOther = registry.getActiveProviderIdsByModel(OTHER_MODEL);
        assertEq(byOther.length, 1, "one of OTHER_MODEL");
        assertEq(byOther[0], other, "its id");
        assertEq(registry.getActiveProviderIdsByModel("unknown").length, 0, "unknown model: empty");

        vm.prank(alice);
        registry.updateProvider(other, RATE, ENDPOINT, false);
        assertEq(registry.getActiveProviderIdsByModel(OTHER_MODEL).length, 0, "emptied by deactivation");
    }

    /*//////////////////////////////////////////////////////////////
                           getCheapestProvider
    //////////////////////////////////////////////////////////////*/

    function test_GetCheapestProvider_PicksLowestPriceInTheAsset() public {
        uint256 cheap = registerProvider(alice, MODEL, RATE / 2, address(0));
        registerProvider(bob, MODEL, RATE * 2, address(0));
        (uint256 id, uint256 price) = registry.getCheapestProvider(MODEL, address(0));
        assertEq(id, cheap, "cheapest native");
        assertEq(price, RATE / 2, "its price");

        (id, price) = registry.getCheapestProvider(MODEL, address(usd));
        assertEq(id, usdProviderId, "only usd provider");
        assertEq(price, USD_RATE, "usd price");
    }

    function test_GetCheapestProvider_SkipsOtherAssetEvenIfNumericallyCheaper() public {
        // The usd provider's price (100) is numerically far below RATE (1e12) but is in another asset.
        (uint256 id,) = registry.getCheapestProvider(MODEL, address(0));
        assertEq(id, nativeProviderId, "native query ignores the usd provider");

        TestToken other = new TestToken("Other", "OTH", 18);
        registerProvider(alice, MODEL, 1, address(other));
        (id,) = registry.getCheapestProvider(MODEL, address(usd));
        assertEq(id, usdProviderId, "usd query ignores another token");
    }

    function test_GetCheapestProvider_SkipsInactive() public {
        uint256 cheap = registerProvider(alice, MODEL, 1, address(0));
        vm.prank(alice);
        registry.updateProvider(cheap, 1, ENDPOINT, false);
        (uint256 id, uint256 price) = registry.getCheapestProvider(MODEL, address(0));
        assertEq(id, nativeProviderId, "inactive cheapest skipped");
        assertEq(price, RATE, "price");

        vm.prank(alice);
        registry.updateProvider(cheap, 1, ENDPOINT, true);
        (id,) = registry.getCheapestProvider(MODEL, address(0));
        assertEq(id, cheap, "back once reactivated");
    }

    function test_GetCheapestProvider_FollowsPriceUpdates() public {
        uint256 second = registerProvider(alice, MODEL, RATE + 1, address(0));
        vm.prank(alice);
        registry.updateProvider(second, RATE - 1, ENDPOINT, true);
        (uint256 id, uint256 price) = registry.getCheapestProvider(MODEL, address(0));
        assertEq(id, second, "after a price cut");
        assertEq(price, RATE - 1, "new price");
    }

    function test_GetCheapestProvider_TiesGoToLowestId() public {
        uint256 b = registerProvider(alice, MODEL, RATE, address(0));
        uint256 c = registerProvider(bob, MODEL, RATE, address(0));
        (uint256 id,) = registry.getCheapestProvider(MODEL, address(0));
        assertEq(id, nativeProviderId, "lowest id of three at the same price");

        // Reorder the index by swap-and-pop: after this the lowest id is no longer first in the list.
        vm.prank(provider);
        registry.updateProvider(nativeProviderId, RATE, ENDPOINT, false);
        vm.prank(provider);
        registry.updateProvider(nativeProviderId, RATE, ENDPOINT, true);
        uint256[] memory order = registry.getActiveProviderIdsByModel(MODEL);
        assertTrue(order[0] != nativeProviderId, "lowest id not first in the index");
        (id,) = registry.getCheapestProvider(MODEL, address(0));
        assertEq(id, nativeProviderId, "still the lowest id");

        vm.prank(provider);
        registry.updateProvider(nativeProviderId, RATE, ENDPOINT, false);
        (id,) = registry.getCheapestProvider(MODEL, address(0));
        assertEq(id, b < c ? b : c, "next lowest id");
    }

    function test_GetCheapestProvider_RevertWhen_UnknownModel() public {
        vm.expectRevert(abi.encodeWithSelector(Errors.Registry_NoActiveProvider.selector, "nobody", address(0)));
        registry.getCheapestProvider("nobody", address(0));
    }

    function test_GetCheapestProvider_RevertWhen_AllInactive() public {
        vm.prank(provider);
        registry.updateProvider(nativeProviderId, RATE, ENDPOINT, false);
        vm.expectRevert(abi.encodeWithSelector(Errors.Registry_NoActiveProvider.selector, MODEL, address(0)));
        registry.getCheapestProvider(MODEL, address(0));
    }

    function test_GetCheapestProvider_RevertWhen_OnlyOtherAssets() public {
        TestToken other = new TestToken("Other", "OTH", 18);
        vm.expectRevert(abi.encodeWithSelector(Errors.Registry_NoActiveProvider.selector, MODEL, address(other)));
        registry.getCheapestProvider(MODEL, address(other));
    }

    /*//////////////////////////////////////////////////////////////
                      streamTerms, payoutOf, walletOf
    //////////////////////////////////////////////////////////////*/

    function test_StreamTerms() public {
        (address wallet, address asset, uint256 price, bool active) = registry.streamTerms(usdProviderId);
        assertEq(wallet, usdProvider, "wallet");
        assertEq(asset, address(usd), "asset");
        assertEq(price, USD_RATE, "price");
        assertTrue(active, "active");

        vm.prank(usdProvider);
        registry.updateProvider(usdProviderId, USD_RATE * 2, ENDPOINT, false);
        (wallet, asset, price, active) = registry.streamTerms(usdProviderId);
        assertEq(price, USD_RATE * 2, "updated price");
        assertFalse(active, "inactive");
        assertEq(wallet, usdProvider, "wallet immutable");
        assertEq(asset, address(usd), "asset immutable");
    }

    function test_StreamTerms_RevertWhen_Unknown() public {
        vm.expectRevert(abi.encodeWithSelector(Errors.Registry_UnknownProvider.selector, 9));
        registry.streamTerms(9);
    }

    function test_PayoutOfAndWalletOf() public view {
        (address wallet, address asset) = registry.payoutOf(nativeProviderId);
        assertEq(wallet, provider, "native wallet");
        assertEq(asset, address(0), "native asset");
        (wallet, asset) = registry.payoutOf(usdProviderId);
        assertEq(wallet, usdProvider, "usd wallet");
        assertEq(asset, address(usd), "usd asset");
        assertEq(registry.walletOf(nativeProviderId), provider, "walletOf native");
        assertEq(registry.walletOf(usdProviderId), usdProvider, "walletOf usd");
    }

    function test_PayoutOfAndWalletOf_UnknownIsZero() public view {
        (address wallet, address asset) = registry.payoutOf(99);
        assertEq(wallet, address(0), "no wallet");
        assertEq(asset, address(0), "no asset");
        assertEq(registry.walletOf(0), address(0), "walletOf(0)");
        assertEq(registry.walletOf(99), address(0), "walletOf(unknown)");
    }

    /*//////////////////////////////////////////////////////////////
                                 isRated
    //////////////////////////////////////////////////////////////*/

    function test_IsRated() public {
        assertFalse(registry.isRated(1), "unknown stream not rated");
        uint256 streamId = createNative(alice, nativeProviderId, RATE * 100);
        vm.warp(START_TIME + 10);
        vm.prank(provider);
        streamPay.closeByRecipient(streamId, voucher(aliceKey, streamId, RATE * 10));
        assertFalse(registry.isRated(streamId), "closed, not rated");
        vm.prank(alice);
        registry.rateProvider(streamId, 3);
        assertTrue(registry.isRated(streamId), "rated");
        assertFalse(registry.isRated(streamId + 1), "other ids unaffected");
    }

    function _contains(uint256[] memory list, uint256 value) private pure returns (bool) {
        for (uint256 i; i < list.length; ++i) {
            if (list[i] == value) return true;
        }
        return false;
    }
}
