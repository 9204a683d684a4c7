// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {InvariantBase} from "./InvariantBase.sol";

/// @notice DESIGN §1's five invariants, checked after every step of random sequences of every user action
/// (see handlers/StreamPayHandler.sol) across several senders, providers, keepers, both assets and time.
/// README.md in this folder states each invariant in plain maths and how it is checked.
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

    /// @notice (1) Per asset: StreamPay's balance = Σ open streams (deposited − withdrawn) + Σ claimable
    /// balances (so ≥ holds), and = ghost inflow − ghost outflow. The registry holds exactly the stakes.
    function invariant_1_SolvencyPerAsset() public {
        _check1_SolvencyPerAsset();
    }

    /// @notice (2) Per stream: withdrawn + refunded + remaining = deposited, each equal to the model's;
    /// nothing paid twice.
    function invariant_2_PerStreamAccounting() public {
        _check2_PerStreamAccounting();
    }

    /// @notice (3) streamed(t) is rate·elapsed while open, non-decreasing, ≤ deposit; frozen once closed.
    function invariant_3_StreamedMonotoneAndFrozen() public {
        _check3_StreamedMonotoneAndFrozen();
    }

    /// @notice (4) No party's refusal to receive blocks another's exit.
    function invariant_4_NoPartyBlocksAnotherExit() public {
        _check4_NoPartyBlocksAnotherExit();
    }

    /// @notice (5) Only sender/recipient close; only StreamPay records completions; stats match.
    function invariant_5_AccessControlAndStats() public {
        _check5_AccessControlAndStats();
    }
}
