// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {StreamStatus} from "../types/DataTypes.sol";

/// @notice Every custom error of ClawCompute. Each names its contract and condition and carries the
/// values that caused it, so a client can tell the user what was wrong and what to do.
library Errors {
    /*//////////////////////////////////////////////////////////////
                              COMPUTE REGISTRY
    //////////////////////////////////////////////////////////////*/

    /// @notice The provider id does not exist.
    error Registry_UnknownProvider(uint256 providerId);
    /// @notice Only the provider's wallet may do this.
    error Registry_NotProviderWallet(uint256 providerId, address caller, address wallet);
    /// @notice Only StreamPay may record completions.
    error Registry_OnlyStreamPay(address caller);
    /// @notice This wallet already registered this model; update that provider instead.
    error Registry_AlreadyRegistered(address wallet, string model, uint256 existingProviderId);
    /// @notice A string field is empty or longer than allowed (`field`: "model", "endpoint" or "serviceType").
    error Registry_InvalidString(string field, uint256 length, uint256 maxLength);
    /// @notice The price per second must be > 0 and fit in 96 bits.
    error Registry_InvalidPrice(uint256 pricePerSecond);
    /// @notice The payment asset must be address(0) (native coin) or a contract.
    error Registry_InvalidAsset(address asset);
    /// @notice The stake sent is below the deploy-time minimum.
    error Registry_StakeTooLow(uint256 sent, uint256 minStake);
    /// @notice Staking needs a non-zero native amount.
    error Registry_ZeroStake();
    /// @notice The stake can only be taken back from an inactive provider.
    error Registry_ProviderActive(uint256 providerId);
    /// @notice The stake cooldown after deactivation has not passed yet.
    error Registry_StakeLocked(uint256 providerId, uint256 unlocksAt);
    /// @notice There is no stake to take back.
    error Registry_NoStake(uint256 providerId);
    /// @notice The native coin transfer to `to` failed.
    error Registry_TransferFailed(address to, uint256 amount);
    /// @notice No active provider serves this model in this asset.
    error Registry_NoActiveProvider(string model, address asset);
    /// @notice A rating must be 1..5.
    error Registry_InvalidRating(uint8 score);
    /// @notice Only the stream's sender may rate its provider.
    error Registry_NotStreamSender(uint256 streamId, address caller, address sender);
    /// @notice A stream can be rated once it is closed.
    error Registry_StreamNotClosed(uint256 streamId, StreamStatus status);
    /// @notice A stream that paid its provider nothing cannot rate it.
    error Registry_StreamPaidNothing(uint256 streamId);
    /// @notice This stream already rated its provider.
    error Registry_AlreadyRated(uint256 streamId);

    /*//////////////////////////////////////////////////////////////
                                 STREAM PAY
    //////////////////////////////////////////////////////////////*/

    /// @notice Grace period and challenge window must each be between 1 second and 30 days.
    error StreamPay_InvalidDuration(string what, uint256 durationSeconds);
    /// @notice No stream with this id.
    error StreamPay_UnknownStream(uint256 streamId);
    /// @notice The stream is not open (it is cancelling, or closed): this action needs an open stream.
    error StreamPay_StreamNotOpen(uint256 streamId, StreamStatus status);
    /// @notice The stream is closed: only open or cancelling streams can be paid from or closed.
    error StreamPay_StreamClosed(uint256 streamId, StreamStatus status);
    /// @notice The recipient's window to answer the sender's cancel has ended: only finalisation is left
    /// (`batchUpdateStreams`), which returns the rest to the sender.
    error StreamPay_ChallengeWindowClosed(uint256 streamId, uint256 challengeEndsAt);
    /// @notice The stream has run to its stop time; it can only be closed or settled now.
    error StreamPay_StreamDepleted(uint256 streamId, uint256 stopTime);
    /// @notice Nobody closed the stream before stopTime + grace period: it is abandoned and can only be
    /// settled by time (`batchUpdateStreams`).
    error StreamPay_StreamAbandoned(uint256 streamId, uint256 abandonedAt);
    /// @notice The provider is inactive and takes no new streams.
    error StreamPay_ProviderInactive(uint256 providerId);
    /// @notice The provider's current price is above the most the caller agreed to pay.
    error StreamPay_RateAboveMax(uint256 providerId, uint256 ratePerSecond, uint256 maxRatePerSecond);
    /// @notice The deposit must cover at least one second at the stream's rate.
    error StreamPay_DepositTooSmall(uint256 depositAmount, uint256 ratePerSecond);
    /// @notice The deposit would run past the supported time range (2106) or amount range (2^112).
    error StreamPay_DepositTooLarge(uint256 depositAmount, uint256 ratePerSecond);
    /// @notice For native-coin streams msg.value must equal the amount.
    error StreamPay_NativeValueMismatch(uint256 msgValue, uint256 amount);
    /// @notice An ERC-20 stream was sent native coin.
    error StreamPay_UnexpectedNativeValue(uint256 msgValue);
    /// @notice The token delivered a different amount than requested (fee-on-transfer or rebasing token).
    error StreamPay_FeeOnTransferToken(address asset, uint256 expected, uint256 received);
    /// @notice Only the stream's sender may do this.
    error StreamPay_NotSender(uint256 streamId, address caller, address sender);
    /// @notice Only the stream's recipient may do this.
    error StreamPay_NotRecipient(uint256 streamId, address caller, address recipient);
    /// @notice A provider cannot open a stream to itself.
    error StreamPay_SelfStream(uint256 providerId, address wallet);
    /// @notice The session key named at creation cannot be the recipient, who would then sign its own vouchers.
    error StreamPay_InvalidSessionKey(uint256 providerId, address sessionKey);
    /// @notice The voucher pays nothing more: min(cumulative, streamed) is not above what was already paid.
    error StreamPay_NothingToWithdraw(uint256 streamId, uint256 cumulative, uint256 streamed, uint256 withdrawn);
    /// @notice The final receipt's signature is not the recipient's.
    error StreamPay_InvalidReceiptSignature(uint256 streamId, address recipient);
    /// @notice The voucher's signature is not by `signer` (the sender, or the session key it names).
    error StreamPay_InvalidVoucherSignature(uint256 streamId, address signer);
    /// @notice The session key was not authorised by the sender for this stream (bad or missing signature).
    error StreamPay_InvalidSessionKeySignature(uint256 streamId, address sessionKey, address sender);
    /// @notice The session key's authorisation expired; vouchers it signs are void from `expiry` on.
    error StreamPay_SessionKeyExpired(uint256 streamId, address sessionKey, uint256 expiry);
    /// @notice The account has no balance in this asset.
    error StreamPay_NoBalance(address account, address asset);
    /// @notice Paying out to `to` failed; withdraw to another address.
    error StreamPay_TransferFailed(address asset, address to, uint256 amount);
    /// @notice A payout needs an address that can hold the funds: not address(0), not StreamPay itself.
    error StreamPay_InvalidPayoutAddress(address to);
    /// @notice Too little gas was left to pay another party; send the transaction with a higher gas limit.
    error StreamPay_InsufficientGas(uint256 gasLeft, uint256 needed);
}
