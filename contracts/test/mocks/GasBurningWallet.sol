// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";

/// @notice A one-owner smart-contract wallet whose ERC-1271 check burns all the gas it is given, as a hostile
/// or broken provider wallet could: every signature it is asked about costs the caller 63/64 of its gas and
/// is then refused. Its owner still acts through it, and it accepts native coin, so it can be a provider that
/// registers, answers cancels and takes its balance.
contract GasBurningWallet is IERC1271 {
    address public immutable owner;

    constructor(address owner_) {
        owner = owner_;
    }

    function exec(address target, uint256 value, bytes calldata data) external payable returns (bytes memory) {
        require(msg.sender == owner, "GasBurningWallet: not owner");
        (bool ok, bytes memory ret) = target.call{value: value}(data);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(ret, 0x20), mload(ret))
            }
        }
        return ret;
    }

    /// @dev INVALID consumes every unit of gas the frame was given, at once (a loop would do the same, slowly).
    function isValidSignature(bytes32, bytes calldata) external pure returns (bytes4) {
        assembly ("memory-safe") {
            invalid()
        }
    }

    receive() external payable {}
}
