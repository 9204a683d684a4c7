// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {BaseTest} from "../../Base.t.sol";
import {Errors} from "../../../src/libraries/Errors.sol";
import {IComputeRegistry} from "../../../src/interfaces/IComputeRegistry.sol";
import {ComputeRegistry} from "../../../src/ComputeRegistry.sol";
import {StreamPay} from "../../../src/StreamPay.sol";
import {Vm} from "../../utils/Vm.sol";

/// @notice ComputeRegistry.registerProvider: validation of every input, the (wallet, model) uniqueness rule,
/// the stake, the events and the state a registration leaves behind.
contract RegisterProvider_Test is BaseTest {
    string internal constant OTHER_MODEL = "qwen2.5:7b";

    /*//////////////////////////////////////////////////////////////
                                 SUCCESS
    //////////////////////////////////////////////////////////////*/

    function test_WhenNative_StoresProviderAndEmits() public {
        uint256 price = 3e12;
        uint256 expectedId = registry.providerCount() + 1;
        uint256 aliceBefore = alice.balance;
        uint256 registryBefore = address(registry).balance;

        vm.expectEmit(address(registry));
        emit IComputeRegistry.ProviderRegistered(
            expectedId, alice, keccak256(bytes(OTHER_MODEL)), OTHER_MODEL, address(0), price, ENDPOINT, SERVICE_TYPE
        );
        vm.expectEmit(address(registry));
        emit IComputeRegistry.Staked(expectedId, alice, MIN_STAKE, MIN_STAKE);
        vm.prank(alice);
        uint256 id =
            registry.registerProvider{value: MIN_STAKE}(OTHER_MODEL, price, ENDPOINT, SERVICE_TYPE, address(0));

        assertEq(id, expectedId, "returned id");
        assertEq(registry.providerCount(), expectedId, "provider count");
        IComputeRegistry.ProviderView memory p = registry.getProvider(id);
        assertEq(p.id, id, "id");
        assertEq(p.wallet, alice, "wallet is the caller");
        assertEq(p.asset, address(0), "native asset");
        assertEq(p.pricePerSecond, price, "price");
        assertTrue(p.active, "active");
        assertEq(p.stake, MIN_STAKE, "stake");
        assertEq(p.registeredAt, block.timestamp, "registeredAt");
        assertEq(p.deactivatedAt, 0, "never deactivated");
        assertEq(p.requestsServed, 0, "requests");
        assertEq(p.totalEarned, 0, "earned");
        assertEq(p.ratingCount, 0, "rating count");
        assertEq(p.ratingSum, 0, "rating sum");
        assertEq(p.model, OTHER_MODEL, "model");
        assertEq(p.endpoint, ENDPOINT, "endpoint");
        assertEq(p.serviceType, SERVICE_TYPE, "serviceType");
        assertEq(registry.providerIdOf(alice, OTHER_MODEL), id, "providerIdOf");
        assertTrue(_contains(registry.getActiveProviderIds(), id), "in active ids");
        assertTrue(_contains(registry.getActiveProviderIdsByModel(OTHER_MODEL), id), "in the model's active ids");
        assertEq(alice.balance, aliceBefore - MIN_STAKE, "stake left the wallet");
        assertEq(address(registry).balance, registryBefore + MIN_STAKE, "stake held by the registry");
    }

    function test_WhenErc20Asset_StoresAsset() public {
        vm.prank(alice);
        uint256 id = registry.registerProvider{value: MIN_STAKE}(OTHER_MODEL, 7, ENDPOINT, SERVICE_TYPE, address(usd));
        (address wallet, address asset) = registry.payoutOf(id);
        assertEq(wallet, alice, "wallet");
        assertEq(asset, address(usd), "asset is the token");
        assertEq(registry.getProvider(id).pricePerSecond, 7, "price in token units");
    }

    function test_WhenAssetIsAnyContract_Accepted() public {
        // The registry only requires code at the asset address; it does not vet the token.
        vm.prank(alice);
        uint256 id =
            registry.registerProvider{value: MIN_STAKE}(OTHER_MODEL, 1, ENDPOINT, SERVICE_TYPE, address(streamPay));
        assertEq(registry.getProvider(id).asset, address(streamPay), "asset");
    }

    function test_WhenStakeAboveMinimum_LocksWholeValue() public {
        uint256 stake = 3 ether + 17;
        uint256 expectedId = registry.providerCount() + 1;
        vm.expectEmit(address(registry));
        emit IComputeRegistry.Staked(expectedId, alice, stake, stake);
        vm.prank(alice);
        uint256 id = registry.registerProvider{value: stake}(OTHER_MODEL, RATE, ENDPOINT, SERVICE_TYPE, address(0));
        assertEq(registry.getProvider(id).stake, stake, "whole msg.value is the stake");
    }

    function test_WhenMinStakeZero_RegistersWithoutStakeAndNoStakedEvent() public {
        StreamPay localPay = new StreamPay(0, 1 days, GRACE_PERIOD, CHALLENGE_WINDOW);
        ComputeRegistry localRegistry = ComputeRegistry(address(localPay.registry()));

        vm.recordLogs();
        vm.prank(alice);
        uint256 id = localRegistry.registerProvider(MODEL, RATE, ENDPOINT, SERVICE_TYPE, address(0));
        Vm.Log[] memory logs = vm.getRecordedLogs();

        assertEq(id, 1, "first id of a fresh registry");
        assertEq(logs.length, 1, "only ProviderRegistered");
        assertEq(logs[0].topics[0], IComputeRegistry.ProviderRegistered.selector, "event");
        assertEq(localRegistry.getProvider(id).stake, 0, "no stake");
        assertTrue(localRegistry.getProvider(id).active, "active without stake");
    }

    function test_WhenSameWalletDifferentModel_Registers() public {
        uint256 id = registerProvider(provider, OTHER_MODEL, RATE, address(0));
        assertTrue(id != nativeProviderId, "new id");
        assertEq(registry.providerIdOf(provider, MODEL), nativeProviderId, "first registration kept");
        assertEq(registry.providerIdOf(provider, OTHER_MODEL), id, "second registration");
        assertEq(registry.getProvider(id).wallet, provider, "same wallet");
    }

    function test_WhenOtherWalletSameModel_Registers() public {
        uint256 id = registerProvider(alice, MODEL, RATE, address(0));
        assertEq(registry.providerIdOf(alice, MODEL), id, "alice's registration");
        assertEq(registry.providerIdOf(provider, MODEL), nativeProviderId, "provider's registration untouched");
        uint256[] memory byModel = registry.getActiveProviderIdsByModel(MODEL);
        assertEq(byModel.length, 3, "three providers of the model");
        assertTrue(_contains(byModel, id), "new one indexed");
    }

    function test_WhenBoundaryLengths_Accepted() public {
        vm.startPrank(alice);
        registry.registerProvider{value: MIN_STAKE}("m", RATE, "e", "s", address(0));
        registry.registerProvider{value: MIN_STAKE}(_repeat(64), RATE, _repeat(256), _repeat(32), address(0));
        vm.stopPrank();
        uint256 id = registry.providerCount();
        assertEq(bytes(registry.getProvider(id).model).length, 64, "64-byte model");
        assertEq(bytes(registry.getProvider(id).endpoint).length, 256, "256-byte endpoint");
        assertEq(bytes(registry.getProvider(id).serviceType).length, 32, "32-byte serviceType");
        assertEq(registry.providerIdOf(alice, "m"), id - 1, "1-byte model");
    }

    function test_WhenPriceIsMax96Bits_StoredExactly() public {
        uint256 price = uint256(type(uint96).max);
        vm.prank(alice);
        uint256 id =
            registry.registerProvider{value: MIN_STAKE}(OTHER_MODEL, price, ENDPOINT, SERVICE_TYPE, address(0));
        assertEq(registry.getProvider(id).pricePerSecond, price, "2^96 - 1 stored");
    }

    function test_IdsAreSequential() public {
        uint256 first = registry.providerCount() + 1;
        for (uint256 i; i < 5; ++i) {
            vm.prank(alice);
            uint256 id =
                registry.registerProvider{value: MIN_STAKE}(_repeat(i + 1), RATE, ENDPOINT, SERVICE_TYPE, address(0));
            assertEq(id, first + i, "sequential id");
        }
        assertEq(registry.providerCount(), first + 4, "count");
    }

    /*//////////////////////////////////////////////////////////////
                              DUPLICATES
    //////////////////////////////////////////////////////////////*/

    function test_RevertWhen_SameWalletSameModel() public {
        vm.expectRevert(
            abi.encodeWithSelector(Errors.Registry_AlreadyRegistered.selector, provider, MODEL, nativeProviderId)
        );
        vm.prank(provider);
        registry.registerProvider{value: MIN_STAKE}(MODEL, RATE, ENDPOINT, SERVICE_TYPE, address(0));
    }

    function test_RevertWhen_SameWalletSameModel_OtherPriceAssetAndEndpoint() public {
        // The key is (wallet, model) only: changing the other terms does not make a second registration.
        vm.expectRevert(
            abi.encodeWithSelector(Errors.Registry_AlreadyRegistered.selector, provider, MODEL, nativeProviderId)
        );
        vm.prank(provider);
        registry.registerProvider{value: 2 ether}(MODEL, 5, "https://other.example", "embeddings", address(usd));
    }

    function test_RevertWhen_SameWalletSameModel_AfterDeactivation() public {
        vm.prank(provider);
        registry.updateProvider(nativeProviderId, RATE, ENDPOINT, false);
        vm.expectRevert(
            abi.encodeWithSelector(Errors.Registry_AlreadyRegistered.selector, provider, MODEL, nativeProviderId)
        );
        vm.prank(provider);
        registry.registerProvider{value: MIN_STAKE}(MODEL, RATE, ENDPOINT, SERVICE_TYPE, address(0));
    }

    function test_RevertWhen_SecondRegistrationOfSecondModel() public {
        uint256 id = registerProvider(alice, OTHER_MODEL, RATE, address(0));
        vm.expectRevert(abi.encodeWithSelector(Errors.Registry_AlreadyRegistered.selector, alice, OTHER_MODEL, id));
        vm.prank(alice);
        registry.registerProvider{value: MIN_STAKE}(OTHER_MODEL, RATE, ENDPOINT, SERVICE_TYPE, address(0));
    }

    function test_WhenModelDiffersOnlyByCase_IsAnotherModel() public {
        uint256 id = registerProvider(provider, "LLAMA3.2:1B", RATE, address(0));
        assertTrue(id != nativeProviderId, "case-sensitive model names");
    }

    /*//////////////////////////////////////////////////////////////
                              STRING LENGTHS
    //////////////////////////////////////////////////////////////*/

    function test_RevertWhen_ModelEmpty() public {
        _expectInvalidString("model", 0, 64);
        _register("", ENDPOINT, SERVICE_TYPE);
    }

    function test_RevertWhen_ModelTooLong() public {
        _expectInvalidString("model", 65, 64);
        _register(_repeat(65), ENDPOINT, SERVICE_TYPE);
    }

    function test_RevertWhen_ModelTooLongInBytes() public {
        // 22 three-byte characters: 22 characters but 66 bytes. The limit counts bytes.
        string memory euros = string.concat(
            "\u20ac\u20ac\u20ac\u20ac\u20ac\u20ac\u20ac\u20ac\u20ac\u20ac\u20ac",
            "\u20ac\u20ac\u20ac\u20ac\u20ac\u20ac\u20ac\u20ac\u20ac\u20ac\u20ac"
        );
        _expectInvalidString("model", 66, 64);
        _register(euros, ENDPOINT, SERVICE_TYPE);
    }

    function test_RevertWhen_EndpointEmpty() public {
        _expectInvalidString("endpoint", 0, 256);
        _register(MODEL, "", SERVICE_TYPE);
    }

    function test_RevertWhen_EndpointTooLong() public {
        _expectInvalidString("endpoint", 257, 256);
        _register("new-model", _repeat(257), SERVICE_TYPE);
    }

    function test_RevertWhen_ServiceTypeEmpty() public {
        _expectInvalidString("serviceType", 0, 32);
        _register("new-model", ENDPOINT, "");
    }

    function test_RevertWhen_ServiceTypeTooLong() public {
        _expectInvalidString("serviceType", 33, 32);
        _register("new-model", ENDPOINT, _repeat(33));
    }

    /*//////////////////////////////////////////////////////////////
                            PRICE, ASSET, STAKE
    //////////////////////////////////////////////////////////////*/

    function test_RevertWhen_PriceZero() public {
        vm.expectRevert(abi.encodeWithSelector(Errors.Registry_InvalidPrice.selector, 0));
        vm.prank(alice);
        registry.registerProvider{value: MIN_STAKE}(OTHER_MODEL, 0, ENDPOINT, SERVICE_TYPE, address(0));
    }

    function test_RevertWhen_PriceIs2Pow96() public {
        uint256 price = uint256(type(uint96).max) + 1;
        vm.expectRevert(abi.encodeWithSelector(Errors.Registry_InvalidPrice.selector, price));
        vm.prank(alice);
        registry.registerProvider{value: MIN_STAKE}(OTHER_MODEL, price, ENDPOINT, SERVICE_TYPE, address(0));
    }

    function test_RevertWhen_PriceIsMaxUint() public {
        vm.expectRevert(abi.encodeWithSelector(Errors.Registry_InvalidPrice.selector, type(uint256).max));
        vm.prank(alice);
        registry.registerProvider{value: MIN_STAKE}(
            OTHER_MODEL, type(uint256).max, ENDPOINT, SERVICE_TYPE, address(0)
        );
    }

    function test_RevertWhen_AssetIsAnAccountWithoutCode() public {
        vm.expectRevert(abi.encodeWithSelector(Errors.Registry_InvalidAsset.selector, bob));
        vm.prank(alice);
        registry.registerProvider{value: MIN_STAKE}(OTHER_MODEL, RATE, ENDPOINT, SERVICE_TYPE, bob);
    }

    function test_RevertWhen_StakeBelowMinimum() public {
        vm.expectRevert(abi.encodeWithSelector(Errors.Registry_StakeTooLow.selector, MIN_STAKE - 1, MIN_STAKE));
        vm.prank(alice);
        registry.registerProvider{value: MIN_STAKE - 1}(OTHER_MODEL, RATE, ENDPOINT, SERVICE_TYPE, address(0));
    }

    function test_RevertWhen_NoStake() public {
        vm.expectRevert(abi.encodeWithSelector(Errors.Registry_StakeTooLow.selector, 0, MIN_STAKE));
        vm.prank(alice);
        registry.registerProvider(OTHER_MODEL, RATE, ENDPOINT, SERVICE_TYPE, address(0));
    }

    function test_RevertWhen_Invalid_NothingChanges() public {
        uint256 countBefore = registry.providerCount();
        uint256 activeBefore = registry.getActiveProviderIds().length;
        vm.prank(alice);
        (bool ok,) = address(registry).call{value: MIN_STAKE}(
            abi.encodeCall(registry.registerProvider, (OTHER_MODEL, 0, ENDPOINT, SERVICE_TYPE, address(0)))
        );
        assertFalse(ok, "reverted");
        assertEq(registry.providerCount(), countBefore, "no id used");
        assertEq(registry.getActiveProviderIds().length, activeBefore, "nothing indexed");
        assertEq(registry.providerIdOf(alice, OTHER_MODEL), 0, "not registered");
    }

    /// @dev The stake is stored in 128 bits. addStake uses SafeCast for that; registerProvider must not
    /// silently truncate a larger msg.value (which would lock the excess in the registry forever).
    function test_WhenStakeAbove128Bits_IsNotTruncated() public {
        uint256 stake = (uint256(1) << 128) + MIN_STAKE;
        vm.deal(alice, stake);
        vm.prank(alice);
        (bool ok,) = address(registry).call{value: stake}(
            abi.encodeCall(registry.registerProvider, (OTHER_MODEL, RATE, ENDPOINT, SERVICE_TYPE, address(0)))
        );
        if (ok) {
            uint256 id = registry.providerIdOf(alice, OTHER_MODEL);
            assertEq(registry.getProvider(id).stake, stake, "the registry recorded the whole stake it holds");
        } else {
            assertEq(alice.balance, stake, "a rejected stake stays with the wallet");
        }
    }

    /*//////////////////////////////////////////////////////////////
                                 HELPERS
    //////////////////////////////////////////////////////////////*/

    function _register(string memory model, string memory endpoint, string memory serviceType) private {
        vm.prank(alice);
        registry.registerProvider{value: MIN_STAKE}(model, RATE, endpoint, serviceType, address(0));
    }

    function _expectInvalidString(string memory field, uint256 length, uint256 maxLength) private {
        vm.expectRevert(abi.encodeWithSelector(Errors.Registry_InvalidString.selector, field, length, maxLength));
    }

    function _repeat(uint256 n) private pure returns (string memory) {
        bytes memory b = new bytes(n);
        for (uint256 i; i < n; ++i) {
            b[i] = "a";
        }
        return string(b);
    }

    function _contains(uint256[] memory list, uint256 value) private pure returns (bool) {
        for (uint256 i; i < list.length; ++i) {
            if (list[i] == value) return true;
        }
        return false;
    }
}
