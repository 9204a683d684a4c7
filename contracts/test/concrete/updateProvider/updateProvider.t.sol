// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {BaseTest} from "../../Base.t.sol";
import {Errors} from "../../../src/libraries/Errors.sol";
import {IComputeRegistry} from "../../../src/interfaces/IComputeRegistry.sol";
import {ComputeRegistry} from "../../../src/ComputeRegistry.sol";
import {StreamPay} from "../../../src/StreamPay.sol";
import {StreamStatus} from "../../../src/types/DataTypes.sol";
import {Vm} from "../../utils/Vm.sol";
import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";

/// @notice ComputeRegistry.updateProvider: access, validation, price/endpoint changes, and the
/// deactivate/reactivate flips with the active indexes (global and per model) they maintain.
contract UpdateProvider_Test is BaseTest {
    string internal constant NEW_ENDPOINT = "https://moved.example/v1";
    string internal constant OTHER_MODEL = "qwen2.5:7b";

    /*//////////////////////////////////////////////////////////////
                                  ACCESS
    //////////////////////////////////////////////////////////////*/

    function test_RevertWhen_UnknownProvider() public {
        vm.expectRevert(abi.encodeWithSelector(Errors.Registry_UnknownProvider.selector, 0));
        vm.prank(provider);
        registry.updateProvider(0, RATE, ENDPOINT, true);

        uint256 unknown = registry.providerCount() + 1;
        vm.expectRevert(abi.encodeWithSelector(Errors.Registry_UnknownProvider.selector, unknown));
        vm.prank(provider);
        registry.updateProvider(unknown, RATE, ENDPOINT, true);
    }

    function test_RevertWhen_CallerIsNotTheWallet() public {
        vm.expectRevert(
            abi.encodeWithSelector(Errors.Registry_NotProviderWallet.selector, nativeProviderId, eve, provider)
        );
        vm.prank(eve);
        registry.updateProvider(nativeProviderId, 1, ENDPOINT, false);
    }

    function test_RevertWhen_CallerIsAnotherProvider() public {
        vm.expectRevert(
            abi.encodeWithSelector(Errors.Registry_NotProviderWallet.selector, nativeProviderId, usdProvider, provider)
        );
        vm.prank(usdProvider);
        registry.updateProvider(nativeProviderId, RATE, ENDPOINT, true);
    }

    function test_RevertWhen_CallerIsStreamPay() public {
        // StreamPay has no say over provider terms either.
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.Registry_NotProviderWallet.selector, nativeProviderId, address(streamPay), provider
            )
        );
        vm.prank(address(streamPay));
        registry.updateProvider(nativeProviderId, RATE, ENDPOINT, false);
    }

    function test_RevertWhen_NotWalletAndInvalidPrice_AccessCheckedFirst() public {
        vm.expectRevert(
            abi.encodeWithSelector(Errors.Registry_NotProviderWallet.selector, nativeProviderId, eve, provider)
        );
        vm.prank(eve);
        registry.updateProvider(nativeProviderId, 0, "", true);
    }

    /*//////////////////////////////////////////////////////////////
                                VALIDATION
    //////////////////////////////////////////////////////////////*/

    function test_RevertWhen_PriceZero() public {
        vm.expectRevert(abi.encodeWithSelector(Errors.Registry_InvalidPrice.selector, 0));
        vm.prank(provider);
        registry.updateProvider(nativeProviderId, 0, ENDPOINT, true);
    }

    function test_RevertWhen_PriceIs2Pow96() public {
        uint256 price = uint256(type(uint96).max) + 1;
        vm.expectRevert(abi.encodeWithSelector(Errors.Registry_InvalidPrice.selector, price));
        vm.prank(provider);
        registry.updateProvider(nativeProviderId, price, ENDPOINT, true);
    }

    function test_RevertWhen_EndpointEmpty() public {
        vm.expectRevert(abi.encodeWithSelector(Errors.Registry_InvalidString.selector, "endpoint", 0, 256));
        vm.prank(provider);
        registry.updateProvider(nativeProviderId, RATE, "", true);
    }

    function test_RevertWhen_EndpointTooLong() public {
        vm.expectRevert(abi.encodeWithSelector(Errors.Registry_InvalidString.selector, "endpoint", 257, 256));
        vm.prank(provider);
        registry.updateProvider(nativeProviderId, RATE, _repeat(257), true);
    }

    /*//////////////////////////////////////////////////////////////
                            PRICE AND ENDPOINT
    //////////////////////////////////////////////////////////////*/

    function test_WhenPriceChanged_StoresAndEmitsOnlyUpdated() public {
        uint256 newPrice = RATE * 3;
        vm.expectEmit(address(registry));
        emit IComputeRegistry.ProviderUpdated(nativeProviderId, newPrice, ENDPOINT, true);
        vm.recordLogs();
        vm.prank(provider);
        registry.updateProvider(nativeProviderId, newPrice, ENDPOINT, true);

        assertEq(_registryLogs(vm.getRecordedLogs()), 1, "no activation event when the flag does not flip");
        (address wallet, address asset, uint256 price, bool active) = registry.streamTerms(nativeProviderId);
        assertEq(wallet, provider, "wallet unchanged");
        assertEq(asset, address(0), "asset unchanged");
        assertEq(price, newPrice, "new price");
        assertTrue(active, "still active");
    }

    function test_WhenPriceChanged_OpenStreamsKeepTheirRate() public {
        uint256 streamId = createNative(alice, nativeProviderId, RATE * 1000);
        vm.prank(provider);
        registry.updateProvider(nativeProviderId, RATE * 5, ENDPOINT, true);

        assertEq(getStream(streamId).ratePerSecond, RATE, "locked rate");
        skipTime(100);
        assertEq(streamPay.streamedAmountOf(streamId), RATE * 100, "streams at the locked rate");

        // A new stream at the old maximum is refused: the new price applies to new streams.
        vm.expectRevert(
            abi.encodeWithSelector(Errors.StreamPay_RateAboveMax.selector, nativeProviderId, RATE * 5, RATE)
        );
        vm.prank(bob);
        streamPay.createStream{value: RATE * 10}(nativeProviderId, RATE, RATE * 10, address(0));
        uint256 newStream = createNative(bob, nativeProviderId, RATE * 50);
        assertEq(getStream(newStream).ratePerSecond, RATE * 5, "new stream at the new price");
    }

    function test_WhenEndpointChanged_Stored() public {
        vm.expectEmit(address(registry));
        emit IComputeRegistry.ProviderUpdated(nativeProviderId, RATE, NEW_ENDPOINT, true);
        vm.prank(provider);
        registry.updateProvider(nativeProviderId, RATE, NEW_ENDPOINT, true);
        assertEq(registry.getProvider(nativeProviderId).endpoint, NEW_ENDPOINT, "endpoint");

        string memory longest = _repeat(256);
        vm.prank(provider);
        registry.updateProvider(nativeProviderId, RATE, longest, true);
        assertEq(registry.getProvider(nativeProviderId).endpoint, longest, "256 bytes accepted");
    }

    function test_WhenUpdated_ModelAssetWalletAndStatsUnchanged() public {
        vm.prank(provider);
        registry.updateProvider(nativeProviderId, 42, NEW_ENDPOINT, true);
        IComputeRegistry.ProviderView memory p = registry.getProvider(nativeProviderId);
        assertEq(p.model, MODEL, "model");
        assertEq(p.serviceType, SERVICE_TYPE, "serviceType");
        assertEq(p.wallet, provider, "wallet");
        assertEq(p.asset, address(0), "asset");
        assertEq(p.stake, MIN_STAKE, "stake");
        assertEq(p.registeredAt, START_TIME, "registeredAt");
        assertEq(registry.providerIdOf(provider, MODEL), nativeProviderId, "still found by (wallet, model)");
    }

    /*//////////////////////////////////////////////////////////////
                          DEACTIVATE / REACTIVATE
    //////////////////////////////////////////////////////////////*/

    function test_WhenDeactivated_LeavesIndexesAndEmits() public {
        vm.warp(START_TIME + 123);
        vm.expectEmit(address(registry));
        emit IComputeRegistry.ProviderDeactivated(nativeProviderId, START_TIME + 123 + STAKE_COOLDOWN);
        vm.expectEmit(address(registry));
        emit IComputeRegistry.ProviderUpdated(nativeProviderId, RATE, ENDPOINT, false);
        vm.prank(provider);
        registry.updateProvider(nativeProviderId, RATE, ENDPOINT, false);

        IComputeRegistry.ProviderView memory p = registry.getProvider(nativeProviderId);
        assertFalse(p.active, "inactive");
        assertEq(p.deactivatedAt, START_TIME + 123, "deactivatedAt");
        assertEq(p.stake, MIN_STAKE, "stake stays locked");
        assertFalse(_contains(registry.getActiveProviderIds(), nativeProviderId), "out of active ids");
        assertFalse(_contains(registry.getActiveProviderIdsByModel(MODEL), nativeProviderId), "out of model index");
        assertTrue(_contains(registry.getActiveProviderIds(), usdProviderId), "others stay");

        vm.expectRevert(abi.encodeWithSelector(Errors.StreamPay_ProviderInactive.selector, nativeProviderId));
        vm.prank(alice);
        streamPay.createStream{value: RATE * 10}(nativeProviderId, RATE, RATE * 10, address(0));
    }

    function test_WhenDeactivated_OpenStreamsStillExit() public {
        uint256 streamId = createNative(alice, nativeProviderId, RATE * 1000);
        skipTime(100);
        vm.prank(provider);
        registry.updateProvider(nativeProviderId, RATE, ENDPOINT, false);
        skipTime(100);

        uint256 aliceBefore = alice.balance;
        vm.prank(alice);
        streamPay.cancelStream(streamId);
        assertEq(alice.balance, aliceBefore + RATE * 800, "sender refunded the unstreamed part");
        // The deactivated provider still answers with its voucher and is paid.
        vm.prank(provider);
        streamPay.closeByRecipient(streamId, voucher(aliceKey, streamId, RATE * 150));
        assertEq(streamPay.balanceOf(provider, address(0)), RATE * 150, "provider keeps its voucher");
        assertEq(alice.balance, aliceBefore + RATE * 850, "sender paid exactly its voucher");
    }

    function test_WhenDeactivatedAgain_NoEventAndCooldownNotRestarted() public {
        vm.prank(provider);
        registry.updateProvider(nativeProviderId, RATE, ENDPOINT, false);
        uint256 deactivatedAt = vm.getBlockTimestamp();
        skipTime(3 days);

        vm.recordLogs();
        vm.prank(provider);
        registry.updateProvider(nativeProviderId, RATE * 2, ENDPOINT, false);
        Vm.Log[] memory logs = vm.getRecordedLogs();

        assertEq(_registryLogs(logs), 1, "only ProviderUpdated");
        assertEq(logs[0].topics[0], IComputeRegistry.ProviderUpdated.selector, "event");
        assertEq(registry.getProvider(nativeProviderId).deactivatedAt, deactivatedAt, "cooldown not restarted");
        assertEq(registry.getProvider(nativeProviderId).pricePerSecond, RATE * 2, "price still updatable");
        assertEq(registry.getActiveProviderIdsByModel(MODEL).length, 1, "not re-added or double-removed");
    }

    function test_WhenReactivated_BackInIndexesAndEmits() public {
        vm.prank(provider);
        registry.updateProvider(nativeProviderId, RATE, ENDPOINT, false);
        skipTime(1 days);

        vm.expectEmit(address(registry));
        emit IComputeRegistry.ProviderReactivated(nativeProviderId);
        vm.expectEmit(address(registry));
        emit IComputeRegistry.ProviderUpdated(nativeProviderId, RATE, ENDPOINT, true);
        vm.prank(provider);
        registry.updateProvider(nativeProviderId, RATE, ENDPOINT, true);

        assertTrue(registry.getProvider(nativeProviderId).active, "active");
        assertTrue(_contains(registry.getActiveProviderIds(), nativeProviderId), "in active ids");
        assertTrue(_contains(registry.getActiveProviderIdsByModel(MODEL), nativeProviderId), "in model index");
        assertEq(registry.getActiveProviderIds().length, 2, "no duplicate entry");
        uint256 streamId = createNative(alice, nativeProviderId, RATE * 10);
        assertTrue(getStream(streamId).status == StreamStatus.Open, "takes streams again");
    }

    function test_RevertWhen_ReactivatingWithoutStake() public {
        _deactivateAndUnstake();
        vm.expectRevert(abi.encodeWithSelector(Errors.Registry_StakeTooLow.selector, 0, MIN_STAKE));
        vm.prank(provider);
        registry.updateProvider(nativeProviderId, RATE, ENDPOINT, true);
    }

    function test_RevertWhen_ReactivatingWithStakeBelowMinimum() public {
        _deactivateAndUnstake();
        vm.prank(provider);
        registry.addStake{value: MIN_STAKE - 1}(nativeProviderId);
        vm.expectRevert(abi.encodeWithSelector(Errors.Registry_StakeTooLow.selector, MIN_STAKE - 1, MIN_STAKE));
        vm.prank(provider);
        registry.updateProvider(nativeProviderId, RATE, ENDPOINT, true);
    }

    function test_WhenReactivatingAfterRestaking_Succeeds() public {
        _deactivateAndUnstake();
        vm.prank(provider);
        registry.addStake{value: MIN_STAKE}(nativeProviderId);
        vm.prank(provider);
        registry.updateProvider(nativeProviderId, RATE, ENDPOINT, true);
        assertTrue(registry.getProvider(nativeProviderId).active, "reactivated");
    }

    function test_WhenMinStakeZero_ReactivatesWithoutStake() public {
        StreamPay localPay = new StreamPay(0, 0, GRACE_PERIOD, CHALLENGE_WINDOW);
        ComputeRegistry localRegistry = ComputeRegistry(address(localPay.registry()));
        vm.startPrank(alice);
        uint256 id = localRegistry.registerProvider(MODEL, RATE, ENDPOINT, SERVICE_TYPE, address(0));
        localRegistry.updateProvider(id, RATE, ENDPOINT, false);
        localRegistry.updateProvider(id, RATE, ENDPOINT, true);
        vm.stopPrank();
        assertTrue(localRegistry.getProvider(id).active, "reactivated with zero stake");
    }

    /*//////////////////////////////////////////////////////////////
                      SWAP-AND-POP INDEX, MANY CYCLES
    //////////////////////////////////////////////////////////////*/

    function test_WhenManyActivationCycles_IndexesStayExact() public {
        // 8 providers over two models (ids 1 and 2 from the fixture are MODEL).
        uint256 n = 8;
        uint256[] memory ids = new uint256[](n);
        address[] memory wallets = new address[](n);
        ids[0] = nativeProviderId;
        wallets[0] = provider;
        ids[1] = usdProviderId;
        wallets[1] = usdProvider;
        for (uint256 i = 2; i < n; ++i) {
            wallets[i] = makeAddr(string.concat("wallet", Strings.toString(i)));
            vm.deal(wallets[i], 10 ether);
            ids[i] = registerProvider(wallets[i], i % 2 == 0 ? MODEL : OTHER_MODEL, RATE + i, address(0));
        }
        bool[] memory active = new bool[](n);
        for (uint256 i; i < n; ++i) {
            active[i] = true;
        }
        _assertIndexes(ids, active);

        for (uint256 step; step < 120; ++step) {
            uint256 i = uint256(keccak256(abi.encode("cycle", step))) % n;
            active[i] = !active[i];
            vm.prank(wallets[i]);
            registry.updateProvider(ids[i], RATE + i, ENDPOINT, active[i]);
            _assertIndexes(ids, active);
        }

        // Everything off, then everything back on in reverse order.
        for (uint256 i; i < n; ++i) {
            if (!active[i]) continue;
            active[i] = false;
            vm.prank(wallets[i]);
            registry.updateProvider(ids[i], RATE + i, ENDPOINT, false);
        }
        _assertIndexes(ids, active);
        assertEq(registry.getActiveProviderIds().length, 0, "all inactive");
        for (uint256 i = n; i > 0; --i) {
            active[i - 1] = true;
            vm.prank(wallets[i - 1]);
            registry.updateProvider(ids[i - 1], RATE + i - 1, ENDPOINT, true);
            _assertIndexes(ids, active);
        }
    }

    /*//////////////////////////////////////////////////////////////
                                 HELPERS
    //////////////////////////////////////////////////////////////*/

    function _deactivateAndUnstake() private {
        vm.prank(provider);
        registry.updateProvider(nativeProviderId, RATE, ENDPOINT, false);
        skipTime(STAKE_COOLDOWN);
        vm.prank(provider);
        registry.withdrawStake(nativeProviderId);
    }

    /// @dev The global and per-model lists hold exactly the active ids, each once.
    function _assertIndexes(uint256[] memory ids, bool[] memory active) private view {
        _assertSet(registry.getActiveProviderIds(), ids, active, "", false);
        _assertSet(registry.getActiveProviderIdsByModel(MODEL), ids, active, MODEL, true);
        _assertSet(registry.getActiveProviderIdsByModel(OTHER_MODEL), ids, active, OTHER_MODEL, true);
    }

    function _assertSet(
        uint256[] memory list,
        uint256[] memory ids,
        bool[] memory active,
        string memory model,
        bool byModel
    ) private view {
        uint256 expected;
        for (uint256 i; i < ids.length; ++i) {
            bool inScope = active[i] && (!byModel || _eq(registry.getProvider(ids[i]).model, model));
            if (inScope) ++expected;
            assertEq(_count(list, ids[i]), inScope ? 1 : 0, string.concat("index membership ", model));
        }
        assertEq(list.length, expected, string.concat("index length ", model));
    }

    function _registryLogs(Vm.Log[] memory logs) private view returns (uint256 n) {
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].emitter == address(registry)) ++n;
        }
    }

    function _count(uint256[] memory list, uint256 value) private pure returns (uint256 c) {
        for (uint256 i; i < list.length; ++i) {
            if (list[i] == value) ++c;
        }
    }

    function _contains(uint256[] memory list, uint256 value) private pure returns (bool) {
        return _count(list, value) > 0;
    }

    function _eq(string memory a, string memory b) private pure returns (bool) {
        return keccak256(bytes(a)) == keccak256(bytes(b));
    }

    function _repeat(uint256 n) private pure returns (string memory) {
        bytes memory b = new bytes(n);
        for (uint256 i; i < n; ++i) {
            b[i] = "a";
        }
        return string(b);
    }
}
