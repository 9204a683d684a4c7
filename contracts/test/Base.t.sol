// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Test} from "./utils/Test.sol";
import {StreamPay} from "../src/StreamPay.sol";
import {IStreamPay} from "../src/interfaces/IStreamPay.sol";
import {ComputeRegistry} from "../src/ComputeRegistry.sol";
import {Stream, StreamStatus} from "../src/types/DataTypes.sol";
import {TestToken} from "../src/dev/TestToken.sol";

/// @notice Shared fixture: StreamPay + its registry, a 6-decimal test stablecoin, two providers (one paid in
/// native coin, one in the stablecoin), two consumers (with keys, so they sign vouchers), a keeper and an
/// attacker, all funded; EIP-712 digests computed here independently of the contract.
abstract contract BaseTest is Test {
    uint256 internal constant MIN_STAKE = 1 ether;
    uint256 internal constant STAKE_COOLDOWN = 7 days;
    uint256 internal constant GRACE_PERIOD = 1 hours;
    uint256 internal constant CHALLENGE_WINDOW = 30 minutes;
    uint256 internal constant START_TIME = 1_700_000_000;
    uint256 internal constant RATE = 1e12; // wei per second of the native provider (0.0036 ETH/hour)
    uint256 internal constant USD_RATE = 100; // 0.0001 TUSD per second of the stablecoin provider (0.36/hour)
    string internal constant MODEL = "llama3.2:1b";
    string internal constant ENDPOINT = "https://provider.example";
    string internal constant SERVICE_TYPE = "llm";

    bytes32 internal constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 internal constant RECEIPT_TYPEHASH = keccak256("Receipt(uint256 streamId,uint256 amount,bool final)");
    bytes32 internal constant REQUEST_TYPEHASH = keccak256("Request(bytes32 bodyHash,uint256 nonce,uint256 expiry)");
    bytes32 internal constant SPEND_TYPEHASH = keccak256(
        "Spend(uint256 streamId,uint256 cumulative,Request request)Request(bytes32 bodyHash,uint256 nonce,uint256 expiry)"
    );
    bytes32 internal constant SESSION_KEY_TYPEHASH =
        keccak256("SessionKey(uint256 streamId,address key,uint256 expiry)");

    StreamPay internal streamPay;
    ComputeRegistry internal registry;
    TestToken internal usd;

    address internal alice; // consumer
    uint256 internal aliceKey;
    address internal bob; // consumer
    uint256 internal bobKey;
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
        streamPay = new StreamPay(MIN_STAKE, STAKE_COOLDOWN, GRACE_PERIOD, CHALLENGE_WINDOW);
        registry = ComputeRegistry(address(streamPay.registry()));
        usd = new TestToken("Test USD", "TUSD", 6);

        (alice, aliceKey) = makeAddrAndKey("alice");
        (bob, bobKey) = makeAddrAndKey("bob");
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
        return streamPay.createStream{value: deposit}(providerId, price, deposit, address(0));
    }

    /// @dev Opens a native-coin stream that names `sessionKey` as a key that may sign its vouchers.
    function createNativeWithKey(address sender, uint256 providerId, uint256 deposit, address sessionKey)
        internal
        returns (uint256)
    {
        (,, uint256 price,) = registry.streamTerms(providerId);
        vm.prank(sender);
        return streamPay.createStream{value: deposit}(providerId, price, deposit, sessionKey);
    }

    /// @dev Opens a stablecoin stream from `sender` (already approved) to `providerId`.
    function createUsd(address sender, uint256 providerId, uint256 deposit) internal returns (uint256) {
        (,, uint256 price,) = registry.streamTerms(providerId);
        vm.prank(sender);
        return streamPay.createStream(providerId, price, deposit, address(0));
    }

    /// @dev EIP-712 digest of a receipt, computed here independently of the contract.
    function receiptDigest(uint256 streamId, uint256 amount, bool isFinal) internal view returns (bytes32) {
        bytes32 structHash = keccak256(abi.encode(RECEIPT_TYPEHASH, streamId, amount, isFinal));
        return keccak256(abi.encodePacked("\x19\x01", domainSeparator(), structHash));
    }

    function domainSeparator() internal view returns (bytes32) {
        return keccak256(
            abi.encode(DOMAIN_TYPEHASH, keccak256("StreamPay"), keccak256("1"), block.chainid, address(streamPay))
        );
    }

    /// @dev hashStruct of the all-zero Request: what a voucher sent on its own carries.
    function noRequest() internal pure returns (bytes32) {
        return keccak256(abi.encode(REQUEST_TYPEHASH, bytes32(0), uint256(0), uint256(0)));
    }

    /// @dev EIP-712 digest of a spend voucher, computed here independently of the contract.
    function spendDigest(uint256 streamId, uint256 cumulative, bytes32 request) internal view returns (bytes32) {
        bytes32 structHash = keccak256(abi.encode(SPEND_TYPEHASH, streamId, cumulative, request));
        return keccak256(abi.encodePacked("\x19\x01", domainSeparator(), structHash));
    }

    function sessionKeyDigest(uint256 streamId, address key, uint256 expiry) internal view returns (bytes32) {
        bytes32 structHash = keccak256(abi.encode(SESSION_KEY_TYPEHASH, streamId, key, expiry));
        return keccak256(abi.encodePacked("\x19\x01", domainSeparator(), structHash));
    }

    function sign(uint256 key, bytes32 digest) internal pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }

    /// @dev A voucher for `cumulative` signed by the sender's own key.
    function voucher(uint256 senderKey, uint256 streamId, uint256 cumulative)
        internal
        view
        returns (IStreamPay.Voucher memory v)
    {
        v.cumulative = cumulative;
        v.request = noRequest();
        v.signature = sign(senderKey, spendDigest(streamId, cumulative, v.request));
    }

    /// @dev A voucher signed by session key `sessionPk`, which the sender (`senderKey`) authorised until `expiry`.
    function sessionVoucher(uint256 sessionPk, uint256 senderKey, uint256 streamId, uint256 cumulative, uint256 expiry)
        internal
        view
        returns (IStreamPay.Voucher memory v)
    {
        v.cumulative = cumulative;
        v.request = noRequest();
        v.signature = sign(sessionPk, spendDigest(streamId, cumulative, v.request));
        v.sessionKey = vm.addr(sessionPk);
        v.sessionExpiry = expiry;
        v.sessionSignature = sign(senderKey, sessionKeyDigest(streamId, v.sessionKey, expiry));
    }

    /// @dev A voucher signed by the session key `sessionPk` that was named when the stream was created.
    function namedKeyVoucher(uint256 sessionPk, uint256 streamId, uint256 cumulative)
        internal
        view
        returns (IStreamPay.Voucher memory v)
    {
        v.cumulative = cumulative;
        v.request = noRequest();
        v.signature = sign(sessionPk, spendDigest(streamId, cumulative, v.request));
        v.sessionKey = vm.addr(sessionPk);
    }

    /// @dev A voucher claiming `cumulative` with no signature: valid only up to what was already paid.
    function unsignedVoucher(uint256 cumulative) internal pure returns (IStreamPay.Voucher memory v) {
        v.cumulative = cumulative;
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
