// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @notice An ERC-20 that, once armed, calls `target` with `data` in the middle of every transfer (as a
/// hook-bearing token such as ERC-777 could), and records whether the re-entrant call succeeded.
contract ReentrantToken is ERC20 {
    address public target;
    bytes public data;
    bool public attacked;
    bool public reentrySucceeded;
    bytes public reentryRevertData;

    constructor() ERC20("Reentrant Token", "RE") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function arm(address target_, bytes calldata data_) external {
        target = target_;
        data = data_;
        attacked = false;
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        if (target != address(0) && !attacked && from != address(0)) {
            attacked = true; // one attempt per arming, so the hook cannot loop
            (reentrySucceeded, reentryRevertData) = target.call(data);
        }
    }
}
