// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Test} from "./utils/Test.sol";
import {StreamPay} from "../src/StreamPay.sol";
import {ComputeRegistry} from "../src/ComputeRegistry.sol";
import {Stream, StreamStatus} from "../src/types/DataTypes.sol";
import {TestToken} from "../src/dev/TestToken.sol";

/// @notice Shared fixture: StreamPay + its registry, a 6-decimal test stablecoin, two providers (one paid in
/// native coin, one in the stablecoin), two consumers, a keeper and an attacker, all funded.
abstract contract BaseTest is Test {
    uint256 internal constant MIN_STAKE = 1 ether;
    uint256 internal constant STAKE_COOLDOWN = 7 days;
    uint256 internal constant START_TIME = 1_700_000_000;
    uint256 internal constant RATE = 1e12; // wei per second of the native provider (0.0036 ETH/hour)
    uint256 internal constant USD_RATE = 100; // 0.0001 TUSD per second of the stablecoin provider (0.36/hour)
    string internal constant MODEL = "llama3.2:1b";
    string internal constant ENDPOINT = "https://provider.example";
    string internal constant SERVICE_TYPE = "llm";

    bytes32 internal constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 internal constant RECEIPT_TYPEHASH = keccak256("Receipt(uint256 streamId,uint256 amount,bool final)");

    StreamPay internal streamPay;
    ComputeRegistry internal registry;
    TestToken internal usd;

    address internal alice; // consumer
    address internal bob; // consumer
    address internal keeper;
    address internal eve; // attacker
    address internal provider; // native-coin provider wallet
    uint256 internal providerKey;
    address internal usdProvider; // stablecoin provider wallet
    uint256 internal usdProviderKey;

    uint256 internal nativeProviderId;
    uint256 internal usdProviderId;

    function setUp() public virtual {
        vm.warp(START_TIME);
        streamPay = new StreamPay(MIN_STAKE, STAKE_COOLDOWN);
        registry = ComputeRegistry(address(streamPay.registry()));
        usd = new TestToken("Test USD", "TUSD", 6);

        alice = makeAddr("alice");
        bob = makeAddr("bob");
        keeper = makeAddr("keeper");
        eve = makeAddr("eve");
        (provider, providerKey) = makeAddrAndKey("provider");
        (usdProvider, usdProviderKey) = makeAddrAndKey("usdProvider");
        address[6] memory everyone = [alice, bob, keeper, eve, provider, usdProvider];
        for (uint256 i; i < everyone.length; ++i) {
            vm.deal(everyone[i], 1_000 ether);
            usd.mint(everyone[i], 1e15); // 1 billion TUSD
            vm.prank(everyone[i]);
            usd.approve(address(streamPay), type(uint256).max);
        }

        nativeProviderId = registerProvider(provider, MODEL, RATE, address(0));
        usdProviderId = registerProvider(usdProvider, MODEL, USD_RATE, address(usd));
    }

    /*//////////////////////////////////////////////////////////////
                                  HELPERS
    //////////////////////////////////////////////////////////////*/

    function registerProvider(address wallet, string memory model, uint256 price, address asset)
        internal
        returns (uint256 providerId)
    {
        vm.prank(wallet);
        providerId = registry.registerProvider{value: MIN_STAKE}(model, price, ENDPOINT, SERVICE_TYPE, asset);
    }

    /// @dev Opens a native-coin stream from `sender` to `providerId` at its current price.
    function createNative(address sender, uint256 providerId, uint256 deposit) internal returns (uint256) {
        (,, uint256 price,) = registry.streamTerms(providerId);
        vm.prank(sender);
        return streamPay.createStream{value: deposit}(providerId, price, deposit);
    }

    /// @dev Opens a stablecoin stream from `sender` (already approved) to `providerId`.
    function createUsd(address sender, uint256 providerId, uint256 deposit) internal returns (uint256) {
        (,, uint256 price,) = registry.streamTerms(providerId);
        vm.prank(sender);
        return streamPay.createStream(providerId, price, deposit);
    }

    /// @dev EIP-712 digest of a receipt, computed here independently of the contract.
    function receiptDigest(uint256 streamId, uint256 amount, bool isFinal) internal view returns (bytes32) {
        bytes32 domainSeparator = keccak256(
            abi.encode(DOMAIN_TYPEHASH, keccak256("StreamPay"), keccak256("1"), block.chainid, address(streamPay))
        );
        bytes32 structHash = keccak256(abi.encode(RECEIPT_TYPEHASH, streamId, amount, isFinal));
        return keccak256(abi.encodePacked("\x19\x01", domainSeparator, structHash));
    }

    function signReceipt(uint256 key, uint256 streamId, uint256 amount, bool isFinal)
        internal
        view
        returns (bytes memory)
    {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, receiptDigest(streamId, amount, isFinal));
        return abi.encodePacked(r, s, v);
    }

    function signFinalReceipt(uint256 key, uint256 streamId, uint256 amount) internal view returns (bytes memory) {
        return signReceipt(key, streamId, amount, true);
    }

    function getStream(uint256 streamId) internal view returns (Stream memory) {
        return streamPay.getStream(streamId);
    }

    function skipTime(uint256 secondsToSkip) internal {
        // Through the cheatcode: the via-IR optimizer may move a `block.timestamp` read across a warp.
        vm.warp(vm.getBlockTimestamp() + secondsToSkip);
    }
}
