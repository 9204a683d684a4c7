// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {BaseTest} from "../Base.t.sol";
import {Actor} from "../mocks/Actor.sol";
import {ERC1271Wallet} from "../mocks/ERC1271Wallet.sol";
import {Errors} from "../../src/libraries/Errors.sol";
import {IComputeRegistry} from "../../src/interfaces/IComputeRegistry.sol";
import {IStreamPay} from "../../src/interfaces/IStreamPay.sol";
import {StreamStatus} from "../../src/types/DataTypes.sol";

/// @notice Helpers shared by the concrete and regression tests of StreamPay: contract actors (senders and
/// providers that accept, revert or burn gas on receiving), smart-contract wallets (ERC-1271) as senders and
/// providers, vouchers sent with a request, registry stats, storage-slot accounting for "one credit per
/// recipient", gas-limited calls, and the keeper-reward formula written independently.
abstract contract ConcreteTest is BaseTest {
    /// @dev Storage slot of `StreamPay.balanceOf` (EIP712 keeps two string fallbacks in slots 0 and 1,
    /// `nextStreamId` is slot 2, `_streams` slot 3; `_namedSessionKeys` follows in slot 5). Checked against
    /// the getters by {balanceSlot}'s users and by createStream's session-key tests.
    uint256 internal constant BALANCES_SLOT = 4;
    uint256 internal constant MIN_GAS_FOR_PUSH = 60_000;

    /*//////////////////////////////////////////////////////////////
                                  ACTORS
    //////////////////////////////////////////////////////////////*/

    /// @dev A contract account funded with native coin and TUSD, with TUSD approved to StreamPay.
    function newActor(string memory name) internal returns (Actor actor) {
        actor = new Actor();
        vm.label(address(actor), name);
        vm.deal(address(actor), 1_000 ether);
        usd.mint(address(actor), 1e15);
        actor.exec(address(usd), 0, abi.encodeCall(usd.approve, (address(streamPay), type(uint256).max)));
    }

    /// @dev Registers `actor` as a provider (staking from its own balance) and returns the provider id.
    function registerActorProvider(Actor actor, string memory model, uint256 price, address asset)
        internal
        returns (uint256 providerId)
    {
        bytes memory ret = actor.exec(
            address(registry),
            MIN_STAKE,
            abi.encodeCall(registry.registerProvider, (model, price, ENDPOINT, SERVICE_TYPE, asset))
        );
        providerId = abi.decode(ret, (uint256));
    }

    /// @dev `actor` opens a native-coin stream, paying from its own balance.
    function createNativeFrom(Actor actor, uint256 providerId, uint256 deposit) internal returns (uint256) {
        (,, uint256 price,) = registry.streamTerms(providerId);
        bytes memory ret = actor.exec(
            address(streamPay),
            deposit,
            abi.encodeCall(streamPay.createStream, (providerId, price, deposit, address(0)))
        );
        return abi.decode(ret, (uint256));
    }

    /// @dev `actor` opens an ERC-20 stream (it approved StreamPay in {newActor}).
    function createUsdFrom(Actor actor, uint256 providerId, uint256 deposit) internal returns (uint256) {
        (,, uint256 price,) = registry.streamTerms(providerId);
        bytes memory ret = actor.exec(
            address(streamPay), 0, abi.encodeCall(streamPay.createStream, (providerId, price, deposit, address(0)))
        );
        return abi.decode(ret, (uint256));
    }

    /*//////////////////////////////////////////////////////////////
                        SMART-CONTRACT WALLETS (ERC-1271)
    //////////////////////////////////////////////////////////////*/

    /// @dev A one-owner ERC-1271 wallet funded with native coin; returns the wallet and its owner's key.
    function newWallet(string memory ownerName) internal returns (ERC1271Wallet wallet, uint256 ownerKey) {
        address owner;
        (owner, ownerKey) = makeAddrAndKey(ownerName);
        wallet = new ERC1271Wallet(owner);
        vm.label(address(wallet), string.concat(ownerName, "Wallet"));
        vm.deal(address(wallet), 1_000 ether);
    }

    /// @dev `wallet` (through its owner) opens a native-coin stream naming `sessionKey` (or address(0)).
    function createNativeFromWallet(ERC1271Wallet wallet, uint256 providerId, uint256 deposit, address sessionKey)
        internal
        returns (uint256)
    {
        (,, uint256 price,) = registry.streamTerms(providerId);
        bytes memory ret = walletExec(
            address(wallet),
            address(streamPay),
            deposit,
            abi.encodeCall(streamPay.createStream, (providerId, price, deposit, sessionKey))
        );
        return abi.decode(ret, (uint256));
    }

    /// @dev Registers `wallet` (through its owner, staking from the wallet) as a native-coin provider.
    function registerWalletProvider(address wallet, uint256 price) internal returns (uint256 providerId) {
        bytes memory ret = walletExec(
            wallet,
            address(registry),
            MIN_STAKE,
            abi.encodeCall(registry.registerProvider, (MODEL, price, ENDPOINT, SERVICE_TYPE, address(0)))
        );
        providerId = abi.decode(ret, (uint256));
    }

    /// @dev `wallet`'s owner makes it call `target` (an ERC1271Wallet or a GasBurningWallet).
    function walletExec(address wallet, address target, uint256 value, bytes memory data)
        internal
        returns (bytes memory)
    {
        vm.prank(IOwnedWallet(wallet).owner());
        return IOwnedWallet(wallet).exec(target, value, data);
    }

    /*//////////////////////////////////////////////////////////////
                                 VOUCHERS
    //////////////////////////////////////////////////////////////*/

    /// @dev hashStruct of the Request a voucher was sent with.
    function requestHash(bytes32 bodyHash, uint256 nonce, uint256 expiry) internal pure returns (bytes32) {
        return keccak256(abi.encode(REQUEST_TYPEHASH, bodyHash, nonce, expiry));
    }

    /// @dev The sender's voucher for `cumulative` carried by an HTTP request (one signature for both).
    function requestVoucher(uint256 senderKey, uint256 streamId, uint256 cumulative, bytes32 request)
        internal
        view
        returns (IStreamPay.Voucher memory v)
    {
        v.cumulative = cumulative;
        v.request = request;
        v.signature = sign(senderKey, spendDigest(streamId, cumulative, request));
    }

    /*//////////////////////////////////////////////////////////////
                                  READS
    //////////////////////////////////////////////////////////////*/

    /// @dev Asserts a stream's stored status, recipient-side total and end time.
    function assertStream(uint256 streamId, StreamStatus status, uint256 withdrawn, uint256 endTime, string memory what)
        internal
        view
    {
        IStreamPay.StreamView memory v = streamPay.getStreamView(streamId);
        assertEq(uint256(v.status), uint256(status), string.concat(what, ": status"));
        assertEq(v.withdrawn, withdrawn, string.concat(what, ": withdrawn"));
        assertEq(v.endTime, endTime, string.concat(what, ": endTime"));
    }

    function ids1(uint256 id) internal pure returns (uint256[] memory ids) {
        ids = new uint256[](1);
        ids[0] = id;
    }

    function ids2(uint256 a, uint256 b) internal pure returns (uint256[] memory ids) {
        ids = new uint256[](2);
        ids[0] = a;
        ids[1] = b;
    }

    function now_() internal view returns (uint256) {
        return vm.getBlockTimestamp();
    }

    function providerStats(uint256 providerId) internal view returns (uint256 requestsServed, uint256 totalEarned) {
        IComputeRegistry.ProviderView memory p = registry.getProvider(providerId);
        return (p.requestsServed, p.totalEarned);
    }

    function assertStats(uint256 providerId, uint256 requestsServed, uint256 totalEarned, string memory what)
        internal
        view
    {
        (uint256 served, uint256 earned) = providerStats(providerId);
        assertEq(served, requestsServed, string.concat(what, ": requests served"));
        assertEq(earned, totalEarned, string.concat(what, ": total earned"));
    }

    /// @dev Only the completion count. Where a keeper took its reward out of a stream, whether `totalEarned`
    /// should count that reward is asserted by the registry's recordCompletion tests, not here.
    function assertServed(uint256 providerId, uint256 requestsServed, string memory what) internal view {
        (uint256 served,) = providerStats(providerId);
        assertEq(served, requestsServed, string.concat(what, ": requests served"));
    }

    /// @dev The keeper reward of a settled amount: 10 bps, rounded down (written here, not read from the contract).
    function keeperRewardOf(uint256 amount) internal pure returns (uint256) {
        return amount * 10 / 10_000;
    }

    /// @dev Storage slot of `streamPay.balanceOf[account][asset]`.
    function balanceSlot(address account, address asset) internal pure returns (bytes32) {
        bytes32 inner = keccak256(abi.encode(account, uint256(BALANCES_SLOT)));
        return keccak256(abi.encode(asset, inner));
    }

    function countWrites(bytes32[] memory writes, bytes32 slot) internal pure returns (uint256 n) {
        for (uint256 i; i < writes.length; ++i) {
            if (writes[i] == slot) ++n;
        }
    }

    /*//////////////////////////////////////////////////////////////
                               GAS-LIMITED CALLS
    //////////////////////////////////////////////////////////////*/

    /// @dev Calls StreamPay as `caller` with an explicit gas limit, returning the raw outcome.
    function callStreamPayWithGas(address caller, uint256 gasLimit, bytes memory data)
        internal
        returns (bool ok, bytes memory ret)
    {
        vm.prank(caller);
        (ok, ret) = address(streamPay).call{gas: gasLimit}(data);
    }

    /// @dev Asserts a raw call reverted with exactly `expected` (selector and arguments).
    function assertRevertData(bool ok, bytes memory ret, bytes memory expected, string memory what) internal pure {
        assertFalse(ok, string.concat(what, ": must revert"));
        assertEq(keccak256(ret), keccak256(expected), string.concat(what, ": exact error and arguments"));
    }

    /// @dev Asserts `ret` is StreamPay_InsufficientGas(gasLeft, 60_000) with gasLeft < 60_000.
    function assertInsufficientGas(bool ok, bytes memory ret) internal pure {
        assertFalse(ok, "call with too little gas must revert");
        assertEq(ret.length, 4 + 64, "revert data is InsufficientGas(uint256,uint256)");
        bytes4 selector;
        uint256 gasLeft;
        uint256 needed;
        assembly ("memory-safe") {
            selector := mload(add(ret, 0x20))
            gasLeft := mload(add(ret, 0x24))
            needed := mload(add(ret, 0x44))
        }
        assertEq(bytes32(selector), bytes32(Errors.StreamPay_InsufficientGas.selector), "error selector");
        assertEq(needed, MIN_GAS_FOR_PUSH, "needed gas");
        assertLt(gasLeft, MIN_GAS_FOR_PUSH, "gas left at the push");
        assertGt(gasLeft, 0, "reached the push");
    }
}

/// @dev The test wallets' owner-only entry point.
interface IOwnedWallet {
    function owner() external view returns (address);
    function exec(address target, uint256 value, bytes calldata data) external payable returns (bytes memory);
}
