// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {InvariantBase} from "./InvariantBase.sol";

/// @notice The five protocol invariants and the metered-stream guarantees G1-G4, checked after every step of
/// random sequences of every user action and every hostile actor (see handlers/StreamPayHandler.sol) across
/// several senders, providers, keepers, both assets and time. README.md in this folder states each in plain
/// maths and how it is checked. Each invariant_* function is its own campaign.
contract StreamPay_Invariant_Test is InvariantBase {
    struct FuzzSelector {
        address addr;
        bytes4[] selectors;
    }

    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    function targetSelectors() public view returns (FuzzSelector[] memory targets) {
        targets = new FuzzSelector[](1);
        targets[0] = FuzzSelector({addr: address(handler), selectors: handler.selectors()});
    }

    /*//////////////////////////////////////////////////////////////
                                INVARIANTS
    //////////////////////////////////////////////////////////////*/

    /// @notice (1) Per asset: StreamPay's balance = Σ escrow of open and cancelling streams + Σ claimable
    /// balances, and = ghost inflow − ghost outflow. The registry holds exactly the stakes.
    function invariant_1_SolvencyPerAsset() public {
        _check1_SolvencyPerAsset();
    }

    /// @notice (2) Per stream: withdrawn + refunded + remaining = deposited, each equal to the model's;
    /// nothing paid twice.
    function invariant_2_PerStreamAccounting() public {
        _check2_PerStreamAccounting();
    }

    /// @notice (3) streamed(t) is rate·elapsed up to the stop or end time, non-decreasing, ≤ deposit.
    function invariant_3_StreamedMonotone() public {
        _check3_StreamedMonotone();
    }

    /// @notice (4) No party's refusal to receive blocks another's exit.
    function invariant_4_NoPartyBlocksAnotherExit() public {
        _check4_NoPartyBlocksAnotherExit();
    }

    /// @notice (5) Only the right party cancels or closes; only StreamPay records completions; stats match.
    function invariant_5_AccessControlAndStats() public {
        _check5_AccessControlAndStats();
    }

    /// @notice G1: the sender pays at most max(largest voucher signed, final receipt closed with).
    function invariant_G1_SenderPaysAtMostWhatItSigned() public {
        _checkG1_SenderPaysAtMostWhatItSigned();
    }

    /// @notice G2: the recipient keeps min(best valid voucher, streamed) whenever it acts in time, and a cancel
    /// leaves it a whole challenge window from the cancel; after the window only finalisation is left.
    function invariant_G2_RecipientKeepsItsVouchers() public {
        _checkG2_RecipientKeepsItsVouchers();
    }

    /// @notice G3: recipient side ≤ streamed; every unit of a deposit to exactly one side, once.
    function invariant_G3_EveryUnitToOneSideOnce() public {
        _checkG3_EveryUnitToOneSideOnce();
    }

    /// @notice G4: an abandoned stream is settled by anyone: the whole deposit to the recipient side, 10 bps
    /// of what was settled to the keeper.
    function invariant_G4_AbandonedSettledByTime() public {
        _checkG4_AbandonedSettledByTime();
    }
}
