// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IComputeRegistry} from "./interfaces/IComputeRegistry.sol";
import {IStreamPay} from "./interfaces/IStreamPay.sol";
import {Provider, Stream, StreamStatus} from "./types/DataTypes.sol";
import {Errors} from "./libraries/Errors.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

/// @title ComputeRegistry
/// @notice Directory of inference providers. Deployed by StreamPay, which is the only account that can
/// record completions, so requests served and total earned cannot be faked. There is no owner.
contract ComputeRegistry is IComputeRegistry {
    /*//////////////////////////////////////////////////////////////
                                  STORAGE
    //////////////////////////////////////////////////////////////*/

    uint256 internal constant MAX_MODEL_LENGTH = 64;
    uint256 internal constant MAX_ENDPOINT_LENGTH = 256;
    uint256 internal constant MAX_SERVICE_TYPE_LENGTH = 32;

    /// @inheritdoc IComputeRegistry
    address public immutable override streamPay;
    /// @inheritdoc IComputeRegistry
    uint256 public immutable override minStake;
    /// @inheritdoc IComputeRegistry
    uint256 public immutable override stakeCooldown;

    /// @inheritdoc IComputeRegistry
    uint256 public override providerCount;

    mapping(uint256 providerId => Provider) internal _providers;
    /// @dev keccak256(wallet, keccak256(model)) => provider id: one registration per (wallet, model).
    mapping(bytes32 walletModelKey => uint256 providerId) internal _idByWalletModel;

    /// @dev Active providers, with 1-based positions for O(1) removal (swap and pop).
    uint256[] internal _activeIds;
    mapping(uint256 providerId => uint256 position) internal _activePosition;
    /// @dev Active providers per model: the index that keeps cheapest-by-model from scanning everyone.
    mapping(bytes32 modelHash => uint256[] providerIds) internal _activeIdsByModel;
    mapping(uint256 providerId => uint256 position) internal _modelPosition;

    mapping(uint256 streamId => bool) internal _rated;

    /*//////////////////////////////////////////////////////////////
                                CONSTRUCTOR
    //////////////////////////////////////////////////////////////*/

    /// @param minStake_ Native-coin stake an active provider must lock, in wei (0 allowed).
    /// @param stakeCooldown_ Seconds between deactivation and taking the stake back.
    /// @dev The deployer (StreamPay) becomes {streamPay}.
    constructor(uint256 minStake_, uint256 stakeCooldown_) {
        streamPay = msg.sender;
        minStake = minStake_;
        stakeCooldown = stakeCooldown_;
    }

    /*//////////////////////////////////////////////////////////////
                                 MODIFIERS
    //////////////////////////////////////////////////////////////*/

    modifier onlyStreamPay() {
        if (msg.sender != streamPay) revert Errors.Registry_OnlyStreamPay(msg.sender);
        _;
    }

    /*//////////////////////////////////////////////////////////////
                                VIEW FUNCTIONS
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IComputeRegistry
    function getProvider(uint256 providerId) external view override returns (ProviderView memory v) {
        Provider storage p = _existing(providerId);
        v.id = providerId;
        v.wallet = p.wallet;
        v.asset = p.asset;
        v.pricePerSecond = p.pricePerSecond;
        v.active = p.active;
        v.stake = p.stake;
        v.registeredAt = p.registeredAt;
        v.deactivatedAt = p.deactivatedAt;
        v.requestsServed = p.requestsServed;
        v.totalEarned = p.totalEarned;
        v.ratingCount = p.ratingCount;
        v.ratingSum = p.ratingSum;
        v.model = p.model;
        v.endpoint = p.endpoint;
        v.serviceType = p.serviceType;
    }

    /// @inheritdoc IComputeRegistry
    function providerIdOf(address wallet, string calldata model) external view override returns (uint256) {
        return _idByWalletModel[_walletModelKey(wallet, keccak256(bytes(model)))];
    }

    /// @inheritdoc IComputeRegistry
    function getActiveProviderIds() external view override returns (uint256[] memory) {
        return _activeIds;
    }

    /// @inheritdoc IComputeRegistry
    function getActiveProviderIdsByModel(string calldata model) external view override returns (uint256[] memory) {
        return _activeIdsByModel[keccak256(bytes(model))];
    }

    /// @inheritdoc IComputeRegistry
    function getCheapestProvider(string calldata model, address asset)
        external
        view
        override
        returns (uint256 providerId, uint256 pricePerSecond)
    {
        uint256[] storage ids = _activeIdsByModel[keccak256(bytes(model))];
        uint256 count = ids.length;
        for (uint256 i; i < count; ++i) {
            uint256 id = ids[i];
            Provider storage p = _providers[id];
            if (p.asset != asset) continue;
            uint256 price = p.pricePerSecond;
            if (providerId == 0 || price < pricePerSecond || (price == pricePerSecond && id < providerId)) {
                providerId = id;
                pricePerSecond = price;
            }
        }
        if (providerId == 0) revert Errors.Registry_NoActiveProvider(model, asset);
    }

    /// @inheritdoc IComputeRegistry
    function streamTerms(uint256 providerId)
        external
        view
        override
        returns (address wallet, address asset, uint256 pricePerSecond, bool active)
    {
        Provider storage p = _existing(providerId);
        return (p.wallet, p.asset, p.pricePerSecond, p.active);
    }

    /// @inheritdoc IComputeRegistry
    function payoutOf(uint256 providerId) external view override returns (address wallet, address asset) {
        Provider storage p = _providers[providerId];
        return (p.wallet, p.asset);
    }

    /// @inheritdoc IComputeRegistry
    function walletOf(uint256 providerId) external view override returns (address wallet) {
        return _providers[providerId].wallet;
    }

    /// @inheritdoc IComputeRegistry
    function isRated(uint256 streamId) external view override returns (bool) {
        return _rated[streamId];
    }

    /*//////////////////////////////////////////////////////////////
                              STATE-CHANGING
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IComputeRegistry
    function registerProvider(
        string calldata model,
        uint256 pricePerSecond,
        string calldata endpoint,
        string calldata serviceType,
        address asset
    ) external payable override returns (uint256 providerId) {
        // Checks
        _checkString("model", bytes(model).length, MAX_MODEL_LENGTH);
        _checkString("endpoint", bytes(endpoint).length, MAX_ENDPOINT_LENGTH);
        _checkString("serviceType", bytes(serviceType).length, MAX_SERVICE_TYPE_LENGTH);
        _checkPrice(pricePerSecond);
        if (asset != address(0) && asset.code.length == 0) revert Errors.Registry_InvalidAsset(asset);
        if (msg.value < minStake) revert Errors.Registry_StakeTooLow(msg.value, minStake);
        bytes32 modelHash = keccak256(bytes(model));
        {
            bytes32 key = _walletModelKey(msg.sender, modelHash);
            uint256 existing = _idByWalletModel[key];
            if (existing != 0) revert Errors.Registry_AlreadyRegistered(msg.sender, model, existing);

            // Effects
            providerId = ++providerCount;
            _idByWalletModel[key] = providerId;
        }
        _store(_providers[providerId], model, pricePerSecond, endpoint, serviceType, asset);
        _activate(providerId, modelHash);

        emit ProviderRegistered(
            providerId, msg.sender, modelHash, model, asset, pricePerSecond, endpoint, serviceType
        );
        if (msg.value > 0) emit Staked(providerId, msg.sender, msg.value, msg.value);
    }

    /// @inheritdoc IComputeRegistry
    function updateProvider(uint256 providerId, uint256 pricePerSecond, string calldata endpoint, bool active)
        external
        override
    {
        // Checks
        Provider storage p = _ownedBy(providerId, msg.sender);
        _checkPrice(pricePerSecond);
        _checkString("endpoint", bytes(endpoint).length, MAX_ENDPOINT_LENGTH);

        // Effects
        p.pricePerSecond = uint96(pricePerSecond);
        if (keccak256(bytes(p.endpoint)) != keccak256(bytes(endpoint))) p.endpoint = endpoint;
        if (active != p.active) {
            bytes32 modelHash = keccak256(bytes(p.model));
            if (active) {
                if (p.stake < minStake) revert Errors.Registry_StakeTooLow(p.stake, minStake);
                p.active = true;
                _activate(providerId, modelHash);
                emit ProviderReactivated(providerId);
            } else {
                p.active = false;
                p.deactivatedAt = uint40(block.timestamp);
                _deactivate(providerId, modelHash);
                emit ProviderDeactivated(providerId, block.timestamp + stakeCooldown);
            }
        }
        emit ProviderUpdated(providerId, pricePerSecond, endpoint, active);
    }

    /// @inheritdoc IComputeRegistry
    function addStake(uint256 providerId) external payable override {
        Provider storage p = _ownedBy(providerId, msg.sender);
        if (msg.value == 0) revert Errors.Registry_ZeroStake();
        uint256 total = p.stake + msg.value;
        p.stake = SafeCast.toUint128(total);
        emit Staked(providerId, msg.sender, msg.value, total);
    }

    /// @inheritdoc IComputeRegistry
    function withdrawStake(uint256 providerId) external override {
        // Checks
        Provider storage p = _ownedBy(providerId, msg.sender);
        if (p.active) revert Errors.Registry_ProviderActive(providerId);
        uint256 unlocksAt = uint256(p.deactivatedAt) + stakeCooldown;
        if (block.timestamp < unlocksAt) revert Errors.Registry_StakeLocked(providerId, unlocksAt);
        uint256 amount = p.stake;
        if (amount == 0) revert Errors.Registry_NoStake(providerId);

        // Effects
        p.stake = 0;

        // Interactions
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert Errors.Registry_TransferFailed(msg.sender, amount);
        emit Unstaked(providerId, msg.sender, amount);
    }

    /// @inheritdoc IComputeRegistry
    function recordCompletion(uint256 providerId, uint256 streams, uint256 earned) external override onlyStreamPay {
        Provider storage p = _providers[providerId];
        uint256 totalEarned = p.totalEarned + earned;
        uint256 requestsServed = p.requestsServed + streams;
        p.totalEarned = uint160(totalEarned);
        p.requestsServed = uint64(requestsServed);
        emit CompletionRecorded(providerId, streams, earned, requestsServed, totalEarned);
    }

    /// @inheritdoc IComputeRegistry
    function rateProvider(uint256 streamId, uint8 score) external override {
        // Checks
        if (score == 0 || score > 5) revert Errors.Registry_InvalidRating(score);
        if (_rated[streamId]) revert Errors.Registry_AlreadyRated(streamId);
        Stream memory s = IStreamPay(streamPay).getStream(streamId);
        if (msg.sender != s.sender) revert Errors.Registry_NotStreamSender(streamId, msg.sender, s.sender);
        if (s.status == StreamStatus.Open || s.status == StreamStatus.Cancelling) {
            revert Errors.Registry_StreamNotClosed(streamId, s.status);
        }
        if (s.withdrawn == 0) revert Errors.Registry_StreamPaidNothing(streamId);

        // Effects
        _rated[streamId] = true;
        Provider storage p = _providers[s.providerId];
        uint256 ratingCount = p.ratingCount + 1;
        uint256 ratingSum = p.ratingSum + score;
        p.ratingCount = uint32(ratingCount);
        p.ratingSum = uint64(ratingSum);
        emit ProviderRated(s.providerId, streamId, msg.sender, score, ratingCount, ratingSum);
    }

    /*//////////////////////////////////////////////////////////////
                                  PRIVATE
    //////////////////////////////////////////////////////////////*/

    /// @dev Writes a new provider: the caller's wallet, active, staked with msg.value.
    function _store(
        Provider storage p,
        string calldata model,
        uint256 pricePerSecond,
        string calldata endpoint,
        string calldata serviceType,
        address asset
    ) private {
        p.wallet = msg.sender;
        p.pricePerSecond = uint96(pricePerSecond);
        p.asset = asset;
        p.active = true;
        p.registeredAt = uint40(block.timestamp);
        p.stake = SafeCast.toUint128(msg.value);
        p.model = model;
        p.endpoint = endpoint;
        p.serviceType = serviceType;
    }

    function _existing(uint256 providerId) private view returns (Provider storage p) {
        p = _providers[providerId];
        if (p.wallet == address(0)) revert Errors.Registry_UnknownProvider(providerId);
    }

    function _ownedBy(uint256 providerId, address caller) private view returns (Provider storage p) {
        p = _existing(providerId);
        if (p.wallet != caller) revert Errors.Registry_NotProviderWallet(providerId, caller, p.wallet);
    }

    function _activate(uint256 providerId, bytes32 modelHash) private {
        _activeIds.push(providerId);
        _activePosition[providerId] = _activeIds.length;
        uint256[] storage byModel = _activeIdsByModel[modelHash];
        byModel.push(providerId);
        _modelPosition[providerId] = byModel.length;
    }

    function _deactivate(uint256 providerId, bytes32 modelHash) private {
        _removeAt(_activeIds, _activePosition, providerId);
        _removeAt(_activeIdsByModel[modelHash], _modelPosition, providerId);
    }

    /// @dev Swap-and-pop removal of `providerId` from `list`, keeping the 1-based `position` map right.
    function _removeAt(
        uint256[] storage list,
        mapping(uint256 => uint256) storage position,
        uint256 providerId
    ) private {
        uint256 index = position[providerId] - 1;
        uint256 lastIndex = list.length - 1;
        if (index != lastIndex) {
            uint256 lastId = list[lastIndex];
            list[index] = lastId;
            position[lastId] = index + 1;
        }
        list.pop();
        delete position[providerId];
    }

    function _checkString(string memory field, uint256 length, uint256 maxLength) private pure {
        if (length == 0 || length > maxLength) revert Errors.Registry_InvalidString(field, length, maxLength);
    }

    function _checkPrice(uint256 pricePerSecond) private pure {
        if (pricePerSecond == 0 || pricePerSecond > type(uint96).max) {
            revert Errors.Registry_InvalidPrice(pricePerSecond);
        }
    }

    function _walletModelKey(address wallet, bytes32 modelHash) private pure returns (bytes32) {
        return keccak256(abi.encode(wallet, modelHash));
    }
}
