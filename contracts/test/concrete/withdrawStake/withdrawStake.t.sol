// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {BaseTest} from "../../Base.t.sol";
import {Errors} from "../../../src/libraries/Errors.sol";
import {IComputeRegistry} from "../../../src/interfaces/IComputeRegistry.sol";
import {Actor} from "../../mocks/Actor.sol";

/// @notice ComputeRegistry.withdrawStake: only after deactivation and the cooldown, pays exactly the stake to
/// the wallet, once; a wallet that refuses the payment keeps its stake.
contract WithdrawStake_Test is BaseTest {
    function test_RevertWhen_UnknownProvider() public {
        vm.expectRevert(abi.encodeWithSelector(Errors.Registry_UnknownProvider.selector, 0));
        vm.prank(provider);
        registry.withdrawStake(0);
    }

    function test_RevertWhen_CallerIsNotTheWallet() public {
        _deactivate(provider, nativeProviderId);
        vm.warp(START_TIME + STAKE_COOLDOWN);
        vm.expectRevert(
            abi.encodeWithSelector(Errors.Registry_NotProviderWallet.selector, nativeProviderId, eve, provider)
        );
        vm.prank(eve);
        registry.withdrawStake(nativeProviderId);
    }

    function test_RevertWhen_ProviderActive() public {
        vm.warp(START_TIME + 365 days);
        vm.expectRevert(abi.encodeWithSelector(Errors.Registry_ProviderActive.selector, nativeProviderId));
        vm.prank(provider);
        registry.withdrawStake(nativeProviderId);
    }

    function test_RevertWhen_JustDeactivated() public {
        vm.warp(START_TIME + 50);
        _deactivate(provider, nativeProviderId);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.Registry_StakeLocked.selector, nativeProviderId, START_TIME + 50 + STAKE_COOLDOWN
            )
        );
        vm.prank(provider);
        registry.withdrawStake(nativeProviderId);
    }

    function test_RevertWhen_OneSecondBeforeCooldownEnds() public {
        _deactivate(provider, nativeProviderId);
        vm.warp(START_TIME + STAKE_COOLDOWN - 1);
        vm.expectRevert(
            abi.encodeWithSelector(Errors.Registry_StakeLocked.selector, nativeProviderId, START_TIME + STAKE_COOLDOWN)
        );
        vm.prank(provider);
        registry.withdrawStake(nativeProviderId);
    }

    function test_WhenCooldownEndsExactly_PaysExactlyTheStake() public {
        vm.prank(provider);
        registry.addStake{value: 0.5 ether + 7}(nativeProviderId);
        uint256 stake = MIN_STAKE + 0.5 ether + 7;
        _deactivate(provider, nativeProviderId);
        vm.warp(START_TIME + STAKE_COOLDOWN);

        uint256 walletBefore = provider.balance;
        uint256 registryBefore = address(registry).balance;
        vm.expectEmit(address(registry));
        emit IComputeRegistry.Unstaked(nativeProviderId, provider, stake);
        vm.prank(provider);
        registry.withdrawStake(nativeProviderId);

        assertEq(provider.balance, walletBefore + stake, "wallet got exactly the stake");
        assertEq(address(registry).balance, registryBefore - stake, "registry paid exactly the stake");
        assertEq(registry.getProvider(nativeProviderId).stake, 0, "stake cleared");
        assertEq(registry.getProvider(usdProviderId).stake, MIN_STAKE, "other stakes untouched");
    }

    function test_RevertWhen_WithdrawnTwice() public {
        _deactivate(provider, nativeProviderId);
        vm.warp(START_TIME + STAKE_COOLDOWN);
        vm.prank(provider);
        registry.withdrawStake(nativeProviderId);

        uint256 registryBefore = address(registry).balance;
        vm.expectRevert(abi.encodeWithSelector(Errors.Registry_NoStake.selector, nativeProviderId));
        vm.prank(provider);
        registry.withdrawStake(nativeProviderId);
        assertEq(address(registry).balance, registryBefore, "nothing paid twice");
    }

    function test_WhenReactivatedAndDeactivatedAgain_CooldownRestarts() public {
        _deactivate(provider, nativeProviderId);
        vm.warp(START_TIME + 1 days);
        vm.prank(provider);
        registry.updateProvider(nativeProviderId, RATE, ENDPOINT, true);
        vm.warp(START_TIME + 2 days);
        _deactivate(provider, nativeProviderId);

        vm.warp(START_TIME + STAKE_COOLDOWN); // would have unlocked the first deactivation
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.Registry_StakeLocked.selector, nativeProviderId, START_TIME + 2 days + STAKE_COOLDOWN
            )
        );
        vm.prank(provider);
        registry.withdrawStake(nativeProviderId);

        vm.warp(START_TIME + 2 days + STAKE_COOLDOWN);
        vm.prank(provider);
        registry.withdrawStake(nativeProviderId);
        assertEq(registry.getProvider(nativeProviderId).stake, 0, "withdrawn after the new cooldown");
    }

    function test_RevertWhen_WalletRefusesPayment_KeepsStake() public {
        Actor wallet = new Actor();
        vm.deal(address(wallet), 10 ether);
        uint256 id = abi.decode(
            wallet.exec(
                address(registry),
                MIN_STAKE,
                abi.encodeCall(registry.registerProvider, ("actor-model", RATE, ENDPOINT, SERVICE_TYPE, address(0)))
            ),
            (uint256)
        );
        wallet.exec(address(registry), 0, abi.encodeCall(registry.updateProvider, (id, RATE, ENDPOINT, false)));
        vm.warp(START_TIME + STAKE_COOLDOWN);
        wallet.setMode(Actor.ReceiveMode.Revert);

        uint256 registryBefore = address(registry).balance;
        vm.expectRevert(abi.encodeWithSelector(Errors.Registry_TransferFailed.selector, address(wallet), MIN_STAKE));
        wallet.exec(address(registry), 0, abi.encodeCall(registry.withdrawStake, (id)));
        assertEq(registry.getProvider(id).stake, MIN_STAKE, "stake kept");
        assertEq(address(registry).balance, registryBefore, "nothing left the registry");

        // Once it accepts payments again, the same call succeeds.
        wallet.setMode(Actor.ReceiveMode.Accept);
        uint256 walletBefore = address(wallet).balance;
        wallet.exec(address(registry), 0, abi.encodeCall(registry.withdrawStake, (id)));
        assertEq(address(wallet).balance, walletBefore + MIN_STAKE, "paid once it accepts");
        assertEq(registry.getProvider(id).stake, 0, "stake cleared");
    }

    function test_WhenWithdrawn_ProviderStaysRegisteredAndInactive() public {
        _deactivate(provider, nativeProviderId);
        vm.warp(START_TIME + STAKE_COOLDOWN);
        vm.prank(provider);
        registry.withdrawStake(nativeProviderId);
        assertFalse(registry.getProvider(nativeProviderId).active, "inactive");
        assertEq(registry.providerIdOf(provider, MODEL), nativeProviderId, "still registered");
        assertEq(registry.getActiveProviderIdsByModel(MODEL).length, 1, "only the usd provider is active");
    }

    function _deactivate(address wallet, uint256 id) private {
        (,, uint256 price,) = registry.streamTerms(id);
        vm.prank(wallet);
        registry.updateProvider(id, price, ENDPOINT, false);
    }
}
