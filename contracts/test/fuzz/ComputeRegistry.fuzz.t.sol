// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {BaseTest} from "../Base.t.sol";
import {Errors} from "../../src/libraries/Errors.sol";
import {IComputeRegistry} from "../../src/interfaces/IComputeRegistry.sol";

/// @notice ComputeRegistry under fuzzed inputs: registration validation against an independent model of the
/// rules, and the active indexes and cheapest-provider query through random activate/deactivate/price
/// sequences, compared with a brute-force scan of every provider.
contract ComputeRegistry_Fuzz_Test is BaseTest {
    string internal constant OTHER_MODEL = "qwen2.5:7b";
    uint256 internal constant N = 7;

    uint256[N] internal ids;
    address[N] internal wallets;
    bool[N] internal active;
    uint256[N] internal prices;
    bool[N] internal isOtherModel;
    address[N] internal assets;

    /*//////////////////////////////////////////////////////////////
                          REGISTRATION VALIDATION
    //////////////////////////////////////////////////////////////*/

    /// @dev One registration attempt's inputs, kept in memory so the legacy (non-IR) pipeline's stack holds.
    struct Registration {
        uint256 modelLen;
        uint256 endpointLen;
        uint256 serviceLen;
        uint256 price;
        uint256 stake;
        bool assetIsEoa;
        address asset;
    }

    function testFuzz_RegisterProvider_AcceptsExactlyTheValidInputs(
        uint256 modelLen,
        uint256 endpointLen,
        uint256 serviceLen,
        uint256 price,
        uint256 stake,
        bool assetIsEoa
    ) public {
        Registration memory r;
        r.modelLen = bound(modelLen, 0, 70);
        r.endpointLen = bound(endpointLen, 0, 262);
        r.serviceLen = bound(serviceLen, 0, 38);
        r.price = bound(price, 0, uint256(type(uint96).max) + 3);
        r.stake = bound(stake, 0, MIN_STAKE * 2);
        r.assetIsEoa = assetIsEoa;
        r.asset = assetIsEoa ? bob : address(usd);

        bytes memory expected = _expectedRegistrationError(r);
        uint256 countBefore = registry.providerCount();
        vm.prank(alice);
        (bool ok, bytes memory ret) = address(registry).call{value: r.stake}(
            abi.encodeCall(
                registry.registerProvider,
                (_repeat(r.modelLen), r.price, _repeat(r.endpointLen), _repeat(r.serviceLen), r.asset)
            )
        );
        if (expected.length != 0) {
            assertFalse(ok, "invalid input accepted");
            assertEq(keccak256(ret), keccak256(expected), "exact error and arguments");
            assertEq(registry.providerCount(), countBefore, "no id used");
        } else {
            assertTrue(ok, "valid input refused");
            _assertRegistered(r, abi.decode(ret, (uint256)), countBefore);
        }
    }

    /// @dev The registry's validation rules, written independently, in the order the registry checks them.
    function _expectedRegistrationError(Registration memory r) private view returns (bytes memory) {
        if (r.modelLen == 0 || r.modelLen > 64) {
            return abi.encodeWithSelector(Errors.Registry_InvalidString.selector, "model", r.modelLen, 64);
        }
        if (r.endpointLen == 0 || r.endpointLen > 256) {
            return abi.encodeWithSelector(Errors.Registry_InvalidString.selector, "endpoint", r.endpointLen, 256);
        }
        if (r.serviceLen == 0 || r.serviceLen > 32) {
            return abi.encodeWithSelector(Errors.Registry_InvalidString.selector, "serviceType", r.serviceLen, 32);
        }
        if (r.price == 0 || r.price >= 2 ** 96) {
            return abi.encodeWithSelector(Errors.Registry_InvalidPrice.selector, r.price);
        }
        if (r.assetIsEoa) return abi.encodeWithSelector(Errors.Registry_InvalidAsset.selector, bob);
        if (r.stake < MIN_STAKE) {
            return abi.encodeWithSelector(Errors.Registry_StakeTooLow.selector, r.stake, MIN_STAKE);
        }
        return "";
    }

    function _assertRegistered(Registration memory r, uint256 id, uint256 countBefore) private view {
        assertEq(id, countBefore + 1, "next id");
        IComputeRegistry.ProviderView memory p = registry.getProvider(id);
        assertEq(p.pricePerSecond, r.price, "price stored exactly");
        assertEq(p.stake, r.stake, "stake stored exactly");
        assertEq(bytes(p.model).length, r.modelLen, "model");
        assertEq(bytes(p.endpoint).length, r.endpointLen, "endpoint");
        assertEq(bytes(p.serviceType).length, r.serviceLen, "serviceType");
        assertEq(registry.providerIdOf(alice, _repeat(r.modelLen)), id, "findable");
    }

    /*//////////////////////////////////////////////////////////////
                        ACTIVE INDEXES AND CHEAPEST
    //////////////////////////////////////////////////////////////*/

    function testFuzz_ActiveIndexesAndCheapest_ThroughRandomUpdates(uint256 seed, uint256 steps) public {
        _setUpProviders(seed);
        _assertAll("after setup");
        steps = bound(steps, 1, 40);
        for (uint256 s; s < steps; ++s) {
            uint256 r = uint256(keccak256(abi.encode(seed, s)));
            uint256 i = r % N;
            if ((r >> 8) % 3 == 0) {
                prices[i] = bound(r >> 16, 1, 5); // few distinct prices: many ties
            } else {
                active[i] = !active[i];
            }
            vm.prank(wallets[i]);
            registry.updateProvider(ids[i], prices[i], ENDPOINT, active[i]);
            _assertAll("after an update");
        }
    }

    function _setUpProviders(uint256 seed) private {
        ids[0] = nativeProviderId;
        wallets[0] = provider;
        assets[0] = address(0);
        ids[1] = usdProviderId;
        wallets[1] = usdProvider;
        assets[1] = address(usd);
        for (uint256 i; i < N; ++i) {
            uint256 r = uint256(keccak256(abi.encode(seed, "provider", i)));
            prices[i] = bound(r, 1, 5);
            active[i] = true;
            if (i < 2) {
                vm.prank(wallets[i]);
                registry.updateProvider(ids[i], prices[i], ENDPOINT, true);
                continue;
            }
            wallets[i] = address(uint160(0x1000 + i));
            vm.deal(wallets[i], 10 ether);
            isOtherModel[i] = (r >> 8) % 2 == 0;
            assets[i] = (r >> 9) % 2 == 0 ? address(0) : address(usd);
            ids[i] = registerProvider(wallets[i], isOtherModel[i] ? OTHER_MODEL : MODEL, prices[i], assets[i]);
        }
    }

    function _assertAll(string memory where) private view {
        _assertIndex(registry.getActiveProviderIds(), false, false, where);
        _assertIndex(registry.getActiveProviderIdsByModel(MODEL), true, false, where);
        _assertIndex(registry.getActiveProviderIdsByModel(OTHER_MODEL), true, true, where);
        _assertCheapest(MODEL, false, address(0), where);
        _assertCheapest(MODEL, false, address(usd), where);
        _assertCheapest(OTHER_MODEL, true, address(0), where);
        _assertCheapest(OTHER_MODEL, true, address(usd), where);
    }

    function _assertIndex(uint256[] memory list, bool byModel, bool other, string memory where) private view {
        uint256 expected;
        for (uint256 i; i < N; ++i) {
            bool inScope = active[i] && (!byModel || isOtherModel[i] == other);
            if (inScope) ++expected;
            uint256 seen;
            for (uint256 j; j < list.length; ++j) {
                if (list[j] == ids[i]) ++seen;
            }
            assertEq(seen, inScope ? 1 : 0, string.concat("index holds each active id once ", where));
        }
        assertEq(list.length, expected, string.concat("index length ", where));
    }

    function _assertCheapest(string memory model, bool other, address asset, string memory where) private view {
        uint256 bestId;
        uint256 bestPrice;
        for (uint256 i; i < N; ++i) {
            if (!active[i] || isOtherModel[i] != other || assets[i] != asset) continue;
            if (bestId == 0 || prices[i] < bestPrice || (prices[i] == bestPrice && ids[i] < bestId)) {
                bestId = ids[i];
                bestPrice = prices[i];
            }
        }
        try registry.getCheapestProvider(model, asset) returns (uint256 id, uint256 price) {
            assertEq(id, bestId, string.concat("cheapest id (ties: lowest) ", where));
            assertEq(price, bestPrice, string.concat("cheapest price ", where));
        } catch (bytes memory err) {
            assertEq(bestId, 0, string.concat("reverted although a provider exists ", where));
            assertEq(
                keccak256(err),
                keccak256(abi.encodeWithSelector(Errors.Registry_NoActiveProvider.selector, model, asset)),
                "NoActiveProvider"
            );
        }
    }

    function _repeat(uint256 n) private pure returns (string memory) {
        bytes memory b = new bytes(n);
        for (uint256 i; i < n; ++i) {
            b[i] = "x";
        }
        return string(b);
    }
}
