// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {InvariantBase} from "./InvariantBase.sol";
import {StreamStatus} from "../../src/types/DataTypes.sol";

/// @notice The handler itself, driven through a fixed script: every action must be able to succeed (a
/// handler whose actions silently never succeed would make the invariant campaign vacuous), the model must
/// agree with the contracts after each step, and the refusing contracts' money must end up claimable.
contract StreamPayHandler_Test is InvariantBase {
    /// @dev Seed bits the handler reads: bit 200+ (pick the first fitting stream), bit 128+ (valid max rate,
    /// the sender as caller, the creditor scan).
    uint256 internal constant SCAN = 1 << 200;
    uint256 internal constant VALID = 1 << 128;

    string[12] internal actions = [
        "warp",
        "createStream",
        "topUp",
        "withdrawFromStream",
        "cancelStream",
        "closeWithReceipt",
        "closeByRecipient",
        "batchUpdateStreams",
        "withdrawBalance",
        "rateProvider",
        "updateProvider",
        "outsiderAttack"
    ];

    function test_ScriptedRun_EveryActionSucceedsAndTheModelHolds() public {
        // Four streams: alice → native EOA provider, refusing sender → stablecoin provider, refusing sender →
        // ERC-1271 wallet provider (with dust, deferred to its balance), bob → provider that refuses coin.
        handler.createStream(0, 0, 16 * 1000 + 1, VALID | 7);
        handler.createStream(2, 1, 16 * 2000 + 1, VALID | 3);
        handler.createStream(2, 2, 16 * 500 + 1, VALID | (RATE * 2 - 1));
        handler.createStream(1, 3, 16 * 800 + 1, VALID);
        assertEq(store.streamCount(), 4, "four streams");
        assertGt(store.credit(_refusingSender(), address(0)), 0, "dust refused by a contract sender is claimable");
        handler.outsiderAttack(SCAN, 3); // the recipient tries the sender's receipt close
        _checkAll("after creates");

        handler.warp((100 << 8) | 1);
        handler.topUp(SCAN, 16 * 100 + 1, VALID);
        handler.withdrawFromStream(SCAN | 3, 0); // to the provider that refuses: credited
        assertGt(store.credit(store.getStream(4).recipient, address(0)), 0, "refused payout is claimable");
        handler.cancelStream(SCAN | 1, 0); // the refusing sender cancels its stablecoin stream
        handler.closeWithReceipt(SCAN | 2, RATE * 2 * 50, (5 << 8) | 1); // ERC-1271 receipt; refund deferred
        handler.closeByRecipient(SCAN, (RATE * 10 << 3) | 1, 1);
        _checkAll("after closes");

        // Days later stream 4 is depleted: a keeper that refuses coin settles it (reward credited).
        handler.warp(0);
        for (uint256 i; i < 10 && store.statusOf(4) == uint8(StreamStatus.Open); ++i) {
            handler.batchUpdateStreams(i, 8, 1);
        }
        assertEq(store.statusOf(4), uint8(StreamStatus.Settled), "keeper settled the depleted stream");
        _checkAll("after the keeper");

        // Everyone with a balance takes it out (the refusing contracts to the sink).
        for (uint256 i; i < 8; ++i) {
            handler.withdrawBalance(i, VALID | i, 1);
        }
        handler.rateProvider(SCAN, 1, 1);
        _checkAll("after withdrawals and a rating");

        // Provider administration: a price change, a deactivation, then after the cooldown the stake back.
        handler.updateProvider(0, 0, RATE * 3 / 2);
        handler.updateProvider(4, 2, 0);
        handler.warp(uint256(8 days) << 8); // a seed divisible by 10 jumps days: here 8, past the cooldown
        handler.updateProvider(4, 4, 0);
        assertEq(store.getProvider(store.providerIdAt(4)).stake, 0, "stake withdrawn after the cooldown");
        handler.updateProvider(4, 3, 1 ether); // stake again ...
        handler.updateProvider(4, 2, 0); // ... and reactivate
        assertTrue(store.getProvider(store.providerIdAt(4)).active, "reactivated");
        for (uint256 kind; kind < 3; ++kind) {
            handler.outsiderAttack(kind, kind);
        }
        _checkAll("at the end");

        for (uint256 i; i < actions.length; ++i) {
            bytes32 action = bytes32(bytes(actions[i]));
            assertGt(store.successes(action), 0, string.concat(actions[i], " never succeeded"));
        }
        assertGt(store.exitAttempts(), 5, "exits were attempted");
        assertGe(store.outsiderAttempts(), 4, "outsiders were tried");
        assertEq(store.outsiderSuccesses(), 0, "and always refused");
    }

    function _checkAll(string memory) private {
        _check1_SolvencyPerAsset();
        _check2_PerStreamAccounting();
        _check3_StreamedMonotoneAndFrozen();
        _check4_NoPartyBlocksAnotherExit();
        _check5_AccessControlAndStats();
    }

    function _refusingSender() private view returns (address) {
        return handler.senders(2);
    }
}
