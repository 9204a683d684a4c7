// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title IComputeRegistry
/// @notice On-chain directory of inference providers: their model, price per second, payment asset,
/// endpoint, stake, and stats that only StreamPay can write.
/// @dev Amounts are in the payment asset's smallest unit (wei for the native coin). The provider's wallet
/// (the registering address) and payment asset never change after registration; StreamPay relies on that.
interface IComputeRegistry {
    /*//////////////////////////////////////////////////////////////
                                   TYPES
    //////////////////////////////////////////////////////////////*/

    /// @notice A provider as returned by {getProvider}.
    struct ProviderView {
        uint256 id;
        address wallet;
        address asset;
        uint256 pricePerSecond;
        bool active;
        uint256 stake;
        uint256 registeredAt;
        uint256 deactivatedAt;
        uint256 requestsServed;
        uint256 totalEarned; // gross: keeper rewards taken out of keeper-settled parts are included
        uint256 ratingCount;
        uint256 ratingSum;
        string model;
        string endpoint;
        string serviceType;
    }

    /*//////////////////////////////////////////////////////////////
                                   EVENTS
    //////////////////////////////////////////////////////////////*/

    event ProviderRegistered(
        uint256 indexed providerId,
        address indexed wallet,
        bytes32 indexed modelHash,
        string model,
        address asset,
        uint256 pricePerSecond,
        string endpoint,
        string serviceType
    );
    event ProviderUpdated(uint256 indexed providerId, uint256 pricePerSecond, string endpoint, bool active);
    event ProviderDeactivated(uint256 indexed providerId, uint256 unstakeAvailableAt);
    event ProviderReactivated(uint256 indexed providerId);
    event Staked(uint256 indexed providerId, address indexed wallet, uint256 amount, uint256 totalStake);
    event Unstaked(uint256 indexed providerId, address indexed wallet, uint256 amount);
    /// @notice `streams` closed streams paid provider `providerId` `earned` in all (a keeper batch reports all of
    /// a provider's streams at once); `requestsServed` and `totalEarned` are the new running totals.
    event CompletionRecorded(
        uint256 indexed providerId, uint256 streams, uint256 earned, uint256 requestsServed, uint256 totalEarned
    );
    event ProviderRated(
        uint256 indexed providerId,
        uint256 indexed streamId,
        address indexed rater,
        uint8 score,
        uint256 ratingCount,
        uint256 ratingSum
    );

    /*//////////////////////////////////////////////////////////////
                                VIEW FUNCTIONS
    //////////////////////////////////////////////////////////////*/

    /// @notice The StreamPay contract that deployed this registry: the only caller of {recordCompletion}.
    function streamPay() external view returns (address);

    /// @notice Minimum native-coin stake a provider must lock while active, in wei. 0 disables staking.
    function minStake() external view returns (uint256);

    /// @notice Seconds a provider must stay deactivated before it can take its stake back.
    function stakeCooldown() external view returns (uint256);

    /// @notice Number of providers ever registered; ids run from 1 to this value.
    function providerCount() external view returns (uint256);

    /// @notice The provider with id `providerId`. Reverts for an unknown id.
    function getProvider(uint256 providerId) external view returns (ProviderView memory);

    /// @notice The provider id that `wallet` registered for `model`, or 0.
    function providerIdOf(address wallet, string calldata model) external view returns (uint256);

    /// @notice Ids of all active providers, in no particular order.
    function getActiveProviderIds() external view returns (uint256[] memory);

    /// @notice Ids of the active providers of `model`, in no particular order.
    function getActiveProviderIdsByModel(string calldata model) external view returns (uint256[] memory);

    /// @notice The cheapest active provider of `model` priced in `asset` (ties: lowest id).
    /// @dev Scans only the active providers of that model (an index kept per model), never all providers.
    /// Prices in different assets are not comparable, hence the asset parameter.
    /// Requirements: at least one such provider, else {Errors.Registry_NoActiveProvider}.
    /// @return providerId The provider's id.
    /// @return pricePerSecond Its price, in `asset` units per second.
    function getCheapestProvider(string calldata model, address asset)
        external
        view
        returns (uint256 providerId, uint256 pricePerSecond);

    /// @notice The terms StreamPay locks into a new stream.
    function streamTerms(uint256 providerId)
        external
        view
        returns (address wallet, address asset, uint256 pricePerSecond, bool active);

    /// @notice Where a provider is paid: its wallet and payment asset (both immutable).
    function payoutOf(uint256 providerId) external view returns (address wallet, address asset);

    /// @notice A provider's payout wallet (immutable), without the asset: one storage read.
    function walletOf(uint256 providerId) external view returns (address wallet);

    /// @notice Whether the sender of `streamId` has rated its provider.
    function isRated(uint256 streamId) external view returns (bool);

    /*//////////////////////////////////////////////////////////////
                              STATE-CHANGING
    //////////////////////////////////////////////////////////////*/

    /// @notice Registers the caller as a provider of `model`; the caller's wallet is the payout address.
    /// @dev Emits {ProviderRegistered} and, with a stake, {Staked}.
    /// Requirements:
    /// - the caller has not registered `model` before (update that provider instead);
    /// - `model` 1..64 bytes, `endpoint` 1..256 bytes, `serviceType` 1..32 bytes;
    /// - `pricePerSecond` > 0 and < 2^96;
    /// - `asset` is address(0) (native coin) or a contract;
    /// - msg.value (the stake, native coin) >= {minStake}.
    /// @param model Model name served, e.g. "llama3.2:1b".
    /// @param pricePerSecond Price, in `asset` units per second of serving time.
    /// @param endpoint Public base URL of the provider agent.
    /// @param serviceType Kind of service, e.g. "llm".
    /// @param asset Payment asset: address(0) for the native coin, else an ERC-20. Fixed forever.
    /// @return providerId The new provider's id.
    function registerProvider(
        string calldata model,
        uint256 pricePerSecond,
        string calldata endpoint,
        string calldata serviceType,
        address asset
    ) external payable returns (uint256 providerId);

    /// @notice Changes a provider's price, endpoint and active flag. Open streams keep their locked rate.
    /// @dev Emits {ProviderUpdated}, and {ProviderDeactivated} or {ProviderReactivated} when `active` flips.
    /// Requirements: caller is the provider's wallet; price and endpoint as in {registerProvider};
    /// reactivating needs a stake >= {minStake}.
    function updateProvider(uint256 providerId, uint256 pricePerSecond, string calldata endpoint, bool active)
        external;

    /// @notice Adds msg.value (native coin) to a provider's stake.
    /// @dev Emits {Staked}. Requirements: caller is the provider's wallet; msg.value > 0.
    function addStake(uint256 providerId) external payable;

    /// @notice Pays the provider's whole stake back to its wallet.
    /// @dev Emits {Unstaked}. Requirements: caller is the provider's wallet; the provider is inactive and
    /// has been for {stakeCooldown} seconds; the stake is non-zero.
    function withdrawStake(uint256 providerId) external;

    /// @notice Records that `streams` streams to `providerId` closed having paid it `earned` in total.
    /// @dev Emits {CompletionRecorded}. Requirements: caller is {streamPay}. A keeper batch records all the
    /// streams of one provider in one call, so its stats cost one write per provider, not per stream.
    /// @param streams Number of closed streams that paid the provider something (each counts as a request served).
    /// @param earned Asset units those streams paid on the provider's side over their lives, gross: when a
    /// keeper settled them, its 0.1% reward came out of this amount.
    function recordCompletion(uint256 providerId, uint256 streams, uint256 earned) external;

    /// @notice The sender of a closed stream rates that stream's provider, once.
    /// @dev Emits {ProviderRated}. Requirements: caller is the stream's sender; the stream is closed
    /// (settled, cancelled or closed) and paid its provider something; not rated before; 1 <= score <= 5.
    function rateProvider(uint256 streamId, uint8 score) external;
}
