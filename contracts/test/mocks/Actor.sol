// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @notice A contract account that can act as a stream sender or a provider, and receives native coin
/// normally, by reverting, or by burning all the gas it is given.
contract Actor {
    enum ReceiveMode {
        Accept,
        Revert,
        BurnGas
    }

    ReceiveMode public mode;

    function setMode(ReceiveMode mode_) external {
        mode = mode_;
    }

    /// @notice Calls `target` with `data` and `value`, bubbling up a revert.
    function exec(address target, uint256 value, bytes calldata data) external payable returns (bytes memory) {
        (bool ok, bytes memory ret) = target.call{value: value}(data);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(ret, 0x20), mload(ret))
            }
        }
        return ret;
    }

    receive() external payable {
        if (mode == ReceiveMode.Revert) revert("Actor: refusing payment");
        if (mode == ReceiveMode.BurnGas) {
            while (true) {}
        }
    }
}
