// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IComputeRegistry} from "./IComputeRegistry.sol";
import {Stream, StreamStatus} from "../types/DataTypes.sol";

/// @title IStreamPay
/// @notice Per-second payment streams from consumers (senders) to inference providers (recipients).
/// @dev Amounts are in the stream's asset's smallest unit; times in unix seconds.
/// streamed(t) = ratePerSecond * (min(t, stopTime) - startTime) while open; frozen at close.
/// Where money goes:
/// - the sender's money (dust, refunds) is pushed to the sender, or credited to its balance if the push fails;
/// - {withdrawFromStream} pushes to the recipient (credited if the push fails);
/// - every close and {batchUpdateStreams} credit the recipient's balance, which it takes with
///   {withdrawBalance} (one payout for many streams);
/// - keeper rewards are pushed to the keeper (credited if the push fails).
/// No owner or admin exists: nobody but the parties can move a stream's money.
interface IStreamPay {
    /*//////////////////////////////////////////////////////////////
                                   TYPES
    //////////////////////////////////////////////////////////////*/

    /// @notice A stream with its derived amounts, as returned by {getStreamView}.
    struct StreamView {
        uint256 id;
        address sender;
        address recipient;
        address asset;
        uint256 providerId;
        uint256 ratePerSecond;
        uint256 startTime;
        uint256 stopTime;
        uint256 deposited;
        uint256 streamed; // as of now
        uint256 withdrawn;
        uint256 refunded; // what went back to the sender (0 while open)
        StreamStatus status;
        bool depleted; // open but past its stop time
    }

    /*//////////////////////////////////////////////////////////////
                                   EVENTS
    //////////////////////////////////////////////////////////////*/

    /// @notice A stream was opened. `depositAmount` was kept; `dustReturned` went straight back to the sender.
    event StreamCreated(
        uint256 indexed streamId,
        address indexed sender,
        address indexed recipient,
        uint256 providerId,
        address asset,
        uint256 ratePerSecond,
        uint256 startTime,
        uint256 stopTime,
        uint256 depositAmount,
        uint256 dustReturned
    );
    /// @notice The sender added `amount` (dust already returned) and moved the stop time.
    event StreamToppedUp(
        uint256 indexed streamId, address indexed sender, uint256 amount, uint256 dustReturned, uint256 newStopTime
    );
    /// @notice `amount` streamed so far was paid out to the recipient by `caller`.
    event StreamWithdrawn(uint256 indexed streamId, address indexed recipient, address indexed caller, uint256 amount);
    /// @notice A keeper settled `amount` of a stream: the recipient was credited `amount - keeperReward`.
    event StreamSettled(uint256 indexed streamId, uint256 amount, uint256 keeperReward);
    /// @notice A stream closed with `status`. The recipient was credited `recipientAmount` by the close itself
    /// (on top of what earlier withdrawals and settlements, including any in the same call, already paid),
    /// and the sender got `senderAmount` back.
    event StreamClosed(
        uint256 indexed streamId,
        address indexed closedBy,
        StreamStatus status,
        uint256 recipientAmount,
        uint256 senderAmount
    );
    /// @notice A keeper ran {batchUpdateStreams}: per asset, how many streams, how much settled, its reward.
    event BatchSettled(
        address indexed keeper, address indexed asset, uint256 streamCount, uint256 settledAmount, uint256 reward
    );
    /// @notice `account`'s claimable balance grew by `amount` because a direct payment to it failed.
    event PaymentDeferred(address indexed account, address indexed asset, uint256 amount);
    /// @notice `account` took `amount` of its balance to `to`.
    event BalanceWithdrawn(address indexed account, address indexed asset, address to, uint256 amount);

    /*//////////////////////////////////////////////////////////////
                                VIEW FUNCTIONS
    //////////////////////////////////////////////////////////////*/

    /// @notice Keeper reward, in basis points of the amount a keeper settles (10 = 0.1%).
    function KEEPER_FEE_BPS() external view returns (uint256);

    /// @notice The provider registry this contract deployed and reads terms from.
    function registry() external view returns (IComputeRegistry);

    /// @notice The id the next stream will get (ids start at 1).
    function nextStreamId() external view returns (uint256);

    /// @notice The stored stream; reverts for an unknown id.
    function getStream(uint256 streamId) external view returns (Stream memory);

    /// @notice The stream with recipient, asset and amounts derived as of now; reverts for an unknown id.
    function getStreamView(uint256 streamId) external view returns (StreamView memory);

    /// @notice Amount streamed to the recipient as of now (frozen once closed).
    function streamedAmountOf(uint256 streamId) external view returns (uint256);

    /// @notice What {withdrawFromStream} would pay now: streamed - withdrawn.
    function withdrawableAmountOf(uint256 streamId) external view returns (uint256);

    /// @notice What a cancel now would return to the sender: deposited - streamed (0 once closed).
    function refundableAmountOf(uint256 streamId) external view returns (uint256);

    /// @notice Claimable balance of `account` in `asset` (address(0) = native coin).
    function balanceOf(address account, address asset) external view returns (uint256);

    /// @notice EIP-712 digest of a usage receipt `{streamId, amount, final}` under this contract's domain.
    function hashReceipt(uint256 streamId, uint256 amount, bool isFinal) external view returns (bytes32);

    /*//////////////////////////////////////////////////////////////
                              STATE-CHANGING
    //////////////////////////////////////////////////////////////*/

    /// @notice Opens a stream to provider `providerId` at its current price, funded with `depositAmount`.
    /// @dev Emits {StreamCreated}. Recipient (provider wallet), asset and rate are locked now.
    /// stopTime = now + depositAmount / rate; the remainder (dust) is returned at once (native) or never
    /// pulled (ERC-20). Requirements:
    /// - the provider exists and is active, and is not the caller's own;
    /// - its price <= `maxRatePerSecond` (protects against a price change racing this call);
    /// - native coin: msg.value == `depositAmount`; ERC-20: msg.value == 0, allowance >= depositAmount,
    ///   and the token delivers exactly what is pulled (fee-on-transfer tokens are rejected);
    /// - `depositAmount` >= the rate (one second), and the stop time fits in 40 bits.
    /// @param providerId ComputeRegistry id of the provider.
    /// @param maxRatePerSecond Most the caller will pay, in asset units per second.
    /// @param depositAmount Asset units to escrow.
    /// @return streamId The new stream's id.
    function createStream(uint256 providerId, uint256 maxRatePerSecond, uint256 depositAmount)
        external
        payable
        returns (uint256 streamId);

    /// @notice Adds `amount` to a live stream, moving its stop time by amount / rate (dust returned).
    /// @dev Emits {StreamToppedUp}. Requirements: caller is the sender; the stream is open and not
    /// depleted; payment as in {createStream}; amount >= the rate.
    function topUp(uint256 streamId, uint256 amount) external payable;

    /// @notice Pays the recipient what has streamed since the last withdrawal. Anyone may call; the money
    /// always goes to the recipient. A depleted stream paid in full becomes `Settled`.
    /// @dev Emits {StreamWithdrawn} (and {StreamClosed} when it settles). Requirements: the stream is open
    /// and something is withdrawable.
    /// @return amount Asset units paid.
    function withdrawFromStream(uint256 streamId) external returns (uint256 amount);

    /// @notice Closes a stream early: the recipient keeps what has streamed by time, the sender gets the rest.
    /// @dev Emits {StreamClosed} with status `Cancelled`. Requirements: caller is sender or recipient; open.
    function cancelStream(uint256 streamId) external;

    /// @notice Exact billing: the sender closes with the provider's signed *final* receipt. The recipient
    /// gets min(amount, streamed) (never less than it was already paid), the sender the rest.
    /// @dev Emits {StreamClosed} with status `Closed`. The signature is EIP-712 over
    /// Receipt(uint256 streamId,uint256 amount,bool final) with final = true, checked against the recipient
    /// with ERC-1271 support. Requirements: caller is the sender; the stream is open; the signature is valid.
    /// @param amount Cumulative asset units the provider charges for the whole stream.
    /// @param signature The recipient's signature (65-byte ECDSA, or whatever its ERC-1271 wallet accepts).
    function closeWithReceipt(uint256 streamId, uint256 amount, bytes calldata signature) external;

    /// @notice The recipient closes its own stream, charging `amount` in total (giving up the difference).
    /// @dev Emits {StreamClosed} with status `Closed`. Requirements: caller is the recipient; the stream is
    /// open; amount <= streamed. An amount below what was already paid charges what was already paid.
    function closeByRecipient(uint256 streamId, uint256 amount) external;

    /// @notice Keeper entry point: settles what has streamed on each open stream into its recipient's
    /// balance and closes depleted ones. The caller earns {KEEPER_FEE_BPS} of the settled amount, paid out
    /// of it. Unknown, closed, or fully-settled ids are skipped, so a batch never fails on a stale id.
    /// @dev Emits {StreamSettled} per settled stream, {StreamClosed} per closed one, {BatchSettled} per asset.
    /// @return settledCount Number of streams that had something settled or were closed.
    function batchUpdateStreams(uint256[] calldata streamIds) external returns (uint256 settledCount);

    /// @notice Pays the caller's whole claimable balance in `asset` to `to`.
    /// @dev Emits {BalanceWithdrawn}. Requirements: a non-zero balance; `to` is neither address(0) nor
    /// StreamPay itself (funds sent there could never leave); the transfer succeeds.
    /// @return amount Asset units paid.
    function withdrawBalance(address asset, address to) external returns (uint256 amount);
}
