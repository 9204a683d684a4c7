// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {BaseTest} from "../../Base.t.sol";
import {Errors} from "../../../src/libraries/Errors.sol";
import {IComputeRegistry} from "../../../src/interfaces/IComputeRegistry.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

/// @notice ComputeRegistry.addStake: only the provider's wallet, a non-zero amount, and a running total.
contract AddStake_Test is BaseTest {
    function test_RevertWhen_UnknownProvider() public {
        uint256 unknown = registry.providerCount() + 1;
        vm.expectRevert(abi.encodeWithSelector(Errors.Registry_UnknownProvider.selector, unknown));
        vm.prank(provider);
        registry.addStake{value: 1 ether}(unknown);
    }

    function test_RevertWhen_CallerIsNotTheWallet() public {
        vm.expectRevert(
            abi.encodeWithSelector(Errors.Registry_NotProviderWallet.selector, nativeProviderId, eve, provider)
        );
        vm.prank(eve);
        registry.addStake{value: 1 ether}(nativeProviderId);
    }

    function test_RevertWhen_ZeroValue() public {
        vm.expectRevert(Errors.Registry_ZeroStake.selector);
        vm.prank(provider);
        registry.addStake(nativeProviderId);
    }

    function test_RevertWhen_NotWalletAndZeroValue_AccessCheckedFirst() public {
        vm.expectRevert(
            abi.encodeWithSelector(Errors.Registry_NotProviderWallet.selector, nativeProviderId, eve, provider)
        );
        vm.prank(eve);
        registry.addStake(nativeProviderId);
    }

    function test_WhenWallet_AddsToStakeAndEmits() public {
        uint256 amount = 0.25 ether + 3;
        uint256 registryBefore = address(registry).balance;
        uint256 walletBefore = provider.balance;

        vm.expectEmit(address(registry));
        emit IComputeRegistry.Staked(nativeProviderId, provider, amount, MIN_STAKE + amount);
        vm.prank(provider);
        registry.addStake{value: amount}(nativeProviderId);

        assertEq(registry.getProvider(nativeProviderId).stake, MIN_STAKE + amount, "stake total");
        assertEq(address(registry).balance, registryBefore + amount, "registry holds it");
        assertEq(provider.balance, walletBefore - amount, "paid by the wallet");
    }

    function test_WhenCalledRepeatedly_TotalAccumulates() public {
        uint256 total = MIN_STAKE;
        for (uint256 i = 1; i <= 4; ++i) {
            total += i * 1 gwei;
            vm.expectEmit(address(registry));
            emit IComputeRegistry.Staked(usdProviderId, usdProvider, i * 1 gwei, total);
            vm.prank(usdProvider);
            registry.addStake{value: i * 1 gwei}(usdProviderId);
        }
        assertEq(registry.getProvider(usdProviderId).stake, total, "running total");
        assertEq(registry.getProvider(nativeProviderId).stake, MIN_STAKE, "other provider untouched");
    }

    function test_WhenProviderInactive_StillAccepted() public {
        vm.prank(provider);
        registry.updateProvider(nativeProviderId, RATE, ENDPOINT, false);
        vm.prank(provider);
        registry.addStake{value: 1 ether}(nativeProviderId);
        assertEq(registry.getProvider(nativeProviderId).stake, MIN_STAKE + 1 ether, "stake grows while inactive");
        assertFalse(registry.getProvider(nativeProviderId).active, "staking does not reactivate");
    }

    function test_RevertWhen_TotalOverflows128Bits() public {
        uint256 amount = type(uint128).max - MIN_STAKE + 1; // total = 2^128
        vm.deal(provider, amount);
        vm.expectRevert(
            abi.encodeWithSelector(SafeCast.SafeCastOverflowedUintDowncast.selector, 128, MIN_STAKE + amount)
        );
        vm.prank(provider);
        registry.addStake{value: amount}(nativeProviderId);
    }
}
