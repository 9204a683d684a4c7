// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IComputeRegistry} from "./IComputeRegistry.sol";
import {Stream, StreamStatus} from "../types/DataTypes.sol";

/// @title IStreamPay
/// @notice Metered per-second payment streams from consumers (senders) to inference providers (recipients).
/// @dev Amounts are in the stream's asset's smallest unit; times in unix seconds.
///
/// Time is only a cap: streamed(t) = ratePerSecond * (min(t, stopTime, endTime) - startTime). What the
/// recipient is actually paid is decided by signatures of the party who pays:
/// - a **spend voucher**, EIP-712 `Spend{streamId, cumulative, request}` signed by the sender (ECDSA or
///   ERC-1271) or by a session key the sender authorised, says "I agree to pay `cumulative` in all";
///   the recipient can take min(voucher, streamed) at any time ({withdrawFromStream}, {closeByRecipient});
/// - a **final receipt**, EIP-712 `Receipt{streamId, amount, final: true}` signed by the recipient, lets
///   the sender close at once paying min(amount, streamed) ({closeWithReceipt});
/// - a sender that has no final receipt cancels unilaterally ({cancelStream}); the recipient then has a
///   challenge window to answer with its best voucher, after which anyone finalises the cancel;
/// - a stream nobody closes before stopTime + grace period is *abandoned* and is settled by time by
///   anyone ({batchUpdateStreams}), who earns {KEEPER_FEE_BPS} of what it settles.
///
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

    /// @notice A spend voucher as presented on-chain: the payer agrees to pay `cumulative` in all on a stream.
    /// @dev The signed EIP-712 message is `Spend(uint256 streamId,uint256 cumulative,Request request)` with
    /// `Request(bytes32 bodyHash,uint256 nonce,uint256 expiry)`: the consumer signs one message per HTTP
    /// request that both authorises the request and carries its voucher, so a request costs one signature.
    /// On-chain only `streamId` and `cumulative` matter; `request` is passed as its EIP-712 struct hash.
    struct Voucher {
        // Total asset units the payer agrees to pay on the stream (not an increment).
        uint256 cumulative;
        // EIP-712 hashStruct of the Request the voucher was sent with (that of an all-zero Request for a
        // voucher sent on its own).
        bytes32 request;
        // The Spend signature: by the sender (65-byte ECDSA, or what its ERC-1271 wallet accepts), or by
        // `sessionKey` (65-byte ECDSA).
        bytes signature;
        // address(0) when the sender signed; else the session key that did.
        address sessionKey;
        // SessionKey.expiry (unix seconds) of a key authorised by signature; unused for the key named at creation.
        uint256 sessionExpiry;
        // The sender's EIP-712 `SessionKey{streamId, key, expiry}` signature; empty for the key named in
        // {createStream}.
        bytes sessionSignature;
    }

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
        uint256 endTime; // when it was cancelled or closed (streaming stops there, or at stopTime); 0 while open
        uint256 deposited; // every unit escrowed, top-ups included (never goes down)
        uint256 streamed; // what time allows as of now: the cap on what the recipient can be paid
        uint256 withdrawn; // what the recipient side was paid (keeper rewards included)
        uint256 refunded; // what went back to the sender so far
        StreamStatus status;
        bool depleted; // open and past its stop time
        uint256 abandonedAt; // stopTime + grace period: from then on an open stream is settled by time
        uint256 challengeEndsAt; // Cancelling/Cancelled: when the recipient's window to answer ends; else 0
        address sessionKey; // the session key named at creation, or address(0)
    }

    /*//////////////////////////////////////////////////////////////
                                   EVENTS
    //////////////////////////////////////////////////////////////*/

    /// @notice A stream was opened. `depositAmount` was kept; `dustReturned` went straight back to the sender.
    /// `sessionKey` (or address(0)) may sign vouchers for the sender on this stream.
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
        uint256 dustReturned,
        address sessionKey
    );
    /// @notice The sender added `amount` (dust already returned) and moved the stop time.
    event StreamToppedUp(
        uint256 indexed streamId, address indexed sender, uint256 amount, uint256 dustReturned, uint256 newStopTime
    );
    /// @notice `amount` was paid out to the recipient by `caller`, against a voucher for `cumulative` in all.
    event StreamWithdrawn(
        uint256 indexed streamId, address indexed recipient, address indexed caller, uint256 amount, uint256 cumulative
    );
    /// @notice The sender cancelled unilaterally: the unstreamed `senderAmount` went back at once, and the
    /// recipient may answer with a voucher until `challengeEndsAt`.
    event StreamCancelling(uint256 indexed streamId, address indexed sender, uint256 senderAmount, uint256 challengeEndsAt);
    /// @notice A keeper settled an abandoned stream by time and closed it (status `Settled`): the recipient side
    /// got `amount` more (all of the deposit is now on its side), of which the keeper took `keeperReward` and
    /// the recipient was credited the rest. The stream's only close event: the keeper and the per-asset
    /// totals are in the same transaction's {BatchSettled}. (No {StreamClosed}: one event per stream keeps a
    /// keeper batch under 15k gas per stream.)
    event StreamSettled(uint256 indexed streamId, uint256 amount, uint256 keeperReward);
    /// @notice A stream closed with `status` (`Cancelled` or `Closed`; an abandoned stream's close is
    /// {StreamSettled}). The recipient was credited `recipientAmount` by the close itself
    /// (on top of what earlier withdrawals already paid), and the sender got `senderAmount` back (on top of
    /// what a cancel already returned).
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

    /// @notice Seconds after a stream's stop time during which either party may still close it; after that
    /// an open stream is abandoned and settled by time. Fixed at deployment.
    function gracePeriod() external view returns (uint256);

    /// @notice Seconds a recipient has to answer a sender's unilateral cancel with its best voucher.
    /// Fixed at deployment.
    function challengeWindow() external view returns (uint256);

    /// @notice The provider registry this contract deployed and reads terms from.
    function registry() external view returns (IComputeRegistry);

    /// @notice The id the next stream will get (ids start at 1).
    function nextStreamId() external view returns (uint256);

    /// @notice The stored stream; reverts for an unknown id.
    function getStream(uint256 streamId) external view returns (Stream memory);

    /// @notice The stream with recipient, asset and amounts derived as of now; reverts for an unknown id.
    function getStreamView(uint256 streamId) external view returns (StreamView memory);

    /// @notice What time allows as of now: rate * (min(now, stopTime, endTime) - startTime). Never decreases.
    function streamedAmountOf(uint256 streamId) external view returns (uint256);

    /// @notice What {withdrawFromStream} would pay now with a valid voucher for `cumulative`:
    /// min(cumulative, streamed) - withdrawn, or 0. Always 0 once the stream is closed or its cancel's
    /// challenge window has ended.
    function withdrawableAmountOf(uint256 streamId, uint256 cumulative) external view returns (uint256);

    /// @notice What a cancel now would return to the sender at once: deposited - streamed (0 unless open).
    function refundableAmountOf(uint256 streamId) external view returns (uint256);

    /// @notice The session key named when the stream was created, or address(0).
    function namedSessionKeyOf(uint256 streamId) external view returns (address);

    /// @notice Claimable balance of `account` in `asset` (address(0) = native coin).
    function balanceOf(address account, address asset) external view returns (uint256);

    /// @notice EIP-712 digest of a usage receipt `{streamId, amount, final}` under this contract's domain.
    function hashReceipt(uint256 streamId, uint256 amount, bool isFinal) external view returns (bytes32);

    /// @notice EIP-712 digest of a spend voucher `{streamId, cumulative, request}`; `request` is the
    /// hashStruct of its Request.
    function hashSpend(uint256 streamId, uint256 cumulative, bytes32 request) external view returns (bytes32);

    /// @notice EIP-712 digest of a session-key authorisation `{streamId, key, expiry}`.
    function hashSessionKey(uint256 streamId, address key, uint256 expiry) external view returns (bytes32);

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
    /// - `depositAmount` >= the rate (one second); the stop time fits in 32 bits and the deposit in 112;
    /// - `sessionKey` is not the recipient.
    /// @param providerId ComputeRegistry id of the provider.
    /// @param maxRatePerSecond Most the caller will pay, in asset units per second.
    /// @param depositAmount Asset units to escrow.
    /// @param sessionKey A key that may sign vouchers for the sender on this stream for as long as it lives
    /// (address(0) for none). Lets a browser sign every message with a local key and no wallet prompt.
    /// @return streamId The new stream's id.
    function createStream(uint256 providerId, uint256 maxRatePerSecond, uint256 depositAmount, address sessionKey)
        external
        payable
        returns (uint256 streamId);

    /// @notice Adds `amount` to a live stream, moving its stop time by amount / rate (dust returned).
    /// @dev Emits {StreamToppedUp}. Requirements: caller is the sender; the stream is open and not
    /// depleted; payment as in {createStream}; amount >= the rate.
    function topUp(uint256 streamId, uint256 amount) external payable;

    /// @notice Pays the recipient min(voucher.cumulative, streamed) minus what it was already paid. Anyone may
    /// call; the money always goes to the recipient. The stream stays as it is.
    /// @dev Emits {StreamWithdrawn}. Requirements: the stream is open, or cancelling and inside its challenge
    /// window; something is withdrawable; the voucher is valid (see {Voucher}; a session key authorised by signature must not
    /// have expired).
    /// @return amount Asset units paid.
    function withdrawFromStream(uint256 streamId, Voucher calldata voucher) external returns (uint256 amount);

    /// @notice The sender cancels without the recipient: streaming stops now, the unstreamed part goes back at
    /// once, and the recipient may answer with its best voucher until now + {challengeWindow} (a whole window,
    /// however late the cancel). Then anyone
    /// finalises ({batchUpdateStreams}) and the sender gets what no voucher claimed. If everything streamed
    /// was already paid there is nothing to answer, and the stream is `Cancelled` at once.
    /// @dev Emits {StreamCancelling}, or {StreamClosed} with status `Cancelled`. Requirements: caller is the
    /// sender; the stream is open and not abandoned (now < stopTime + grace period). Never calls the recipient.
    function cancelStream(uint256 streamId) external;

    /// @notice Exact billing: the sender closes with the provider's signed *final* receipt. The recipient
    /// gets min(amount, streamed) (never less than it was already paid), the sender the rest.
    /// @dev Emits {StreamClosed} with status `Closed`. The signature is EIP-712 over
    /// Receipt(uint256 streamId,uint256 amount,bool final) with final = true, checked against the recipient
    /// with ERC-1271 support. Requirements: caller is the sender; the stream is open; the signature is valid.
    /// @param amount Cumulative asset units the provider charges for the whole stream.
    /// @param signature The recipient's signature (65-byte ECDSA, or whatever its ERC-1271 wallet accepts).
    function closeWithReceipt(uint256 streamId, uint256 amount, bytes calldata signature) external;

    /// @notice The recipient closes with the sender's voucher, charging min(voucher, streamed) in all (never
    /// less than it was already paid); the sender gets the rest. On an open stream this is a cooperative
    /// close (`Closed`); on a cancelling one it is the answer to the cancel (`Cancelled`). A voucher at or
    /// below what was already paid needs no signature, so a recipient can always release a stream.
    /// @dev Emits {StreamClosed}. Requirements: caller is the recipient; the stream is open, or cancelling and
    /// inside its challenge window (now < challengeEndsAt); the voucher is valid when it claims more than was
    /// already paid.
    function closeByRecipient(uint256 streamId, Voucher calldata voucher) external;

    /// @notice Keeper entry point: settles abandoned streams (open past stopTime + grace period) by time into
    /// their recipients' balances, and finalises cancels whose challenge window has passed (the sender gets
    /// what no voucher claimed). The caller earns {KEEPER_FEE_BPS} of what it settles to recipients, paid out
    /// of it. Other ids (unknown, closed, still in time) are skipped, so a batch never fails on a stale id.
    /// @dev Emits {StreamSettled} per abandoned stream settled, {StreamClosed} per cancel finalised, {BatchSettled}
    /// per asset, and one {IComputeRegistry.CompletionRecorded} per provider.
    /// @return settledCount Number of streams closed.
    function batchUpdateStreams(uint256[] calldata streamIds) external returns (uint256 settledCount);

    /// @notice Pays the caller's whole claimable balance in `asset` to `to`.
    /// @dev Emits {BalanceWithdrawn}. Requirements: a non-zero balance; `to` is neither address(0) nor
    /// StreamPay itself (funds sent there could never leave); the transfer succeeds.
    /// @return amount Asset units paid.
    function withdrawBalance(address asset, address to) external returns (uint256 amount);
}
