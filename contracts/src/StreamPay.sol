// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {ComputeRegistry} from "./ComputeRegistry.sol";
import {IComputeRegistry} from "./interfaces/IComputeRegistry.sol";
import {IStreamPay} from "./interfaces/IStreamPay.sol";
import {Stream, StreamStatus} from "./types/DataTypes.sol";
import {Errors} from "./libraries/Errors.sol";
import {StreamMath} from "./libraries/StreamMath.sol";

/// @title StreamPay
/// @notice Escrows a consumer's deposit for an inference provider and pays it out by the payer's signatures:
/// spend vouchers from the sender, final receipts from the provider, with time as the cap. Deploys its own
/// ComputeRegistry. No owner, no pause, no path for anyone but a stream's parties to move its money.
contract StreamPay is IStreamPay, EIP712, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /*//////////////////////////////////////////////////////////////
                                  STORAGE
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IStreamPay
    uint256 public constant override KEEPER_FEE_BPS = StreamMath.KEEPER_FEE_BPS;

    /// @notice EIP-712 type of a usage receipt. Only receipts with final = true close a stream.
    bytes32 public constant RECEIPT_TYPEHASH = keccak256("Receipt(uint256 streamId,uint256 amount,bool final)");

    /// @notice EIP-712 type of a spend voucher; the nested Request is what the voucher was sent with.
    bytes32 public constant SPEND_TYPEHASH = keccak256(
        "Spend(uint256 streamId,uint256 cumulative,Request request)Request(bytes32 bodyHash,uint256 nonce,uint256 expiry)"
    );

    /// @notice EIP-712 type of the sender's authorisation of a session key.
    bytes32 public constant SESSION_KEY_TYPEHASH = keccak256("SessionKey(uint256 streamId,address key,uint256 expiry)");

    /// @notice Gas forwarded to a native-coin push; enough for smart-contract wallets, bounded so a
    /// receiver cannot burn the caller's gas. A push that fails is credited to the receiver's balance.
    uint256 public constant PUSH_GAS = 50_000;

    /// @dev A push runs only with this much gas left, so a caller cannot starve it on purpose to turn
    /// another party's payment into a balance credit.
    uint256 internal constant MIN_GAS_FOR_PUSH = 60_000;

    /// @dev Longest grace period or challenge window a deployment may choose.
    uint256 internal constant MAX_DURATION = 30 days;

    /// @inheritdoc IStreamPay
    IComputeRegistry public immutable override registry;

    /// @inheritdoc IStreamPay
    uint256 public immutable override gracePeriod;

    /// @inheritdoc IStreamPay
    uint256 public immutable override challengeWindow;

    /// @inheritdoc IStreamPay
    uint256 public override nextStreamId = 1;

    mapping(uint256 streamId => Stream) internal _streams;

    /// @inheritdoc IStreamPay
    mapping(address account => mapping(address asset => uint256 amount)) public override balanceOf;

    /// @dev Written only for streams created with a session key, so other streams pay nothing for it.
    mapping(uint256 streamId => address key) internal _namedSessionKeys;

    /*//////////////////////////////////////////////////////////////
                                CONSTRUCTOR
    //////////////////////////////////////////////////////////////*/

    /// @param minStake Native-coin stake a provider must lock while active (0 allowed, e.g. local chains).
    /// @param stakeCooldown Seconds a provider stays deactivated before it can take its stake back.
    /// @param gracePeriod_ Seconds after a stream's stop time during which its parties may still close it
    /// before anyone may settle it by time. Long enough for a consumer to close after its last answer.
    /// @param challengeWindow_ Seconds a recipient has to answer a sender's cancel with its best voucher.
    /// Long enough for a provider that was briefly down to come back and answer.
    constructor(uint256 minStake, uint256 stakeCooldown, uint256 gracePeriod_, uint256 challengeWindow_)
        EIP712("StreamPay", "1")
    {
        if (gracePeriod_ == 0 || gracePeriod_ > MAX_DURATION) {
            revert Errors.StreamPay_InvalidDuration("gracePeriod", gracePeriod_);
        }
        if (challengeWindow_ == 0 || challengeWindow_ > MAX_DURATION) {
            revert Errors.StreamPay_InvalidDuration("challengeWindow", challengeWindow_);
        }
        gracePeriod = gracePeriod_;
        challengeWindow = challengeWindow_;
        registry = new ComputeRegistry(minStake, stakeCooldown);
    }

    /*//////////////////////////////////////////////////////////////
                                VIEW FUNCTIONS
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IStreamPay
    function getStream(uint256 streamId) external view override returns (Stream memory) {
        return _existing(streamId);
    }

    /// @inheritdoc IStreamPay
    function getStreamView(uint256 streamId) external view override returns (StreamView memory v) {
        Stream memory s = _existing(streamId);
        (v.recipient, v.asset) = _payoutOf(s);
        v.id = streamId;
        v.sender = s.sender;
        v.providerId = s.providerId;
        v.ratePerSecond = s.ratePerSecond;
        v.startTime = s.startTime;
        v.stopTime = s.stopTime;
        v.endTime = s.endTime;
        v.deposited = _deposited(s);
        v.streamed = _streamed(s);
        v.withdrawn = s.withdrawn;
        v.refunded = _refunded(s, v.deposited, v.streamed);
        v.status = s.status;
        v.depleted = s.status == StreamStatus.Open && block.timestamp >= s.stopTime;
        v.abandonedAt = uint256(s.stopTime) + gracePeriod;
        if (s.status == StreamStatus.Cancelling || s.status == StreamStatus.Cancelled) {
            v.challengeEndsAt = uint256(s.endTime) + challengeWindow;
        }
        v.sessionKey = _namedSessionKeys[streamId];
    }

    /// @inheritdoc IStreamPay
    function streamedAmountOf(uint256 streamId) external view override returns (uint256) {
        return _streamed(_existing(streamId));
    }

    /// @inheritdoc IStreamPay
    function withdrawableAmountOf(uint256 streamId, uint256 cumulative) external view override returns (uint256) {
        Stream memory s = _existing(streamId);
        if (s.status == StreamStatus.Cancelling) {
            if (block.timestamp >= uint256(s.endTime) + challengeWindow) return 0;
        } else if (s.status != StreamStatus.Open) {
            return 0;
        }
        uint256 streamed = _streamed(s);
        uint256 total = cumulative < streamed ? cumulative : streamed;
        return total > s.withdrawn ? total - s.withdrawn : 0;
    }

    /// @inheritdoc IStreamPay
    function refundableAmountOf(uint256 streamId) external view override returns (uint256) {
        Stream memory s = _existing(streamId);
        if (s.status != StreamStatus.Open) return 0;
        return _deposited(s) - _streamed(s);
    }

    /// @inheritdoc IStreamPay
    function namedSessionKeyOf(uint256 streamId) external view override returns (address) {
        return _namedSessionKeys[streamId];
    }

    /// @inheritdoc IStreamPay
    function hashReceipt(uint256 streamId, uint256 amount, bool isFinal) public view override returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(RECEIPT_TYPEHASH, streamId, amount, isFinal)));
    }

    /// @inheritdoc IStreamPay
    function hashSpend(uint256 streamId, uint256 cumulative, bytes32 request) public view override returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(SPEND_TYPEHASH, streamId, cumulative, request)));
    }

    /// @inheritdoc IStreamPay
    function hashSessionKey(uint256 streamId, address key, uint256 expiry) public view override returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(SESSION_KEY_TYPEHASH, streamId, key, expiry)));
    }

    /*//////////////////////////////////////////////////////////////
                              STATE-CHANGING
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IStreamPay
    function createStream(uint256 providerId, uint256 maxRatePerSecond, uint256 depositAmount, address sessionKey)
        external
        payable
        override
        nonReentrant
        returns (uint256 streamId)
    {
        // Checks
        (address recipient, address asset, uint256 rate, bool active) = registry.streamTerms(providerId);
        if (!active) revert Errors.StreamPay_ProviderInactive(providerId);
        if (rate > maxRatePerSecond) revert Errors.StreamPay_RateAboveMax(providerId, rate, maxRatePerSecond);
        if (recipient == msg.sender) revert Errors.StreamPay_SelfStream(providerId, msg.sender);
        if (sessionKey == recipient) revert Errors.StreamPay_InvalidSessionKey(providerId, sessionKey);
        _checkPayment(asset, depositAmount);
        (uint256 durationSeconds, uint256 usedAmount) = StreamMath.buySeconds(depositAmount, rate);
        if (durationSeconds == 0) revert Errors.StreamPay_DepositTooSmall(depositAmount, rate);
        uint256 stopTime = block.timestamp + durationSeconds;
        if (stopTime > type(uint32).max || usedAmount > type(uint112).max) {
            revert Errors.StreamPay_DepositTooLarge(depositAmount, rate);
        }

        // Effects
        unchecked {
            streamId = nextStreamId++;
        }
        _streams[streamId] = Stream({
            sender: msg.sender,
            providerId: uint32(providerId), // ids are sequential from 1; 2^32 registrations is out of reach
            startTime: uint32(block.timestamp),
            stopTime: uint32(stopTime),
            withdrawn: 0,
            ratePerSecond: uint96(rate), // the registry keeps prices below 2^96
            endTime: 0,
            status: StreamStatus.Open,
            isNative: asset == address(0)
        });
        if (sessionKey != address(0)) _namedSessionKeys[streamId] = sessionKey;

        // Interactions
        _collect(asset, usedAmount, depositAmount - usedAmount);
        _emitCreated(streamId, recipient, asset, usedAmount, depositAmount - usedAmount, sessionKey);
    }

    /// @inheritdoc IStreamPay
    function topUp(uint256 streamId, uint256 amount) external payable override nonReentrant {
        // Checks
        Stream memory s = _open(streamId);
        if (msg.sender != s.sender) revert Errors.StreamPay_NotSender(streamId, msg.sender, s.sender);
        if (block.timestamp >= s.stopTime) revert Errors.StreamPay_StreamDepleted(streamId, s.stopTime);
        address asset = s.isNative ? address(0) : _assetOf(s.providerId);
        _checkPayment(asset, amount);
        uint256 rate = s.ratePerSecond;
        (uint256 durationSeconds, uint256 usedAmount) = StreamMath.buySeconds(amount, rate);
        if (durationSeconds == 0) revert Errors.StreamPay_DepositTooSmall(amount, rate);
        uint256 newStopTime = uint256(s.stopTime) + durationSeconds;
        if (newStopTime > type(uint32).max || rate * (newStopTime - s.startTime) > type(uint112).max) {
            revert Errors.StreamPay_DepositTooLarge(amount, rate);
        }

        // Effects
        _streams[streamId].stopTime = uint32(newStopTime);

        // Interactions
        uint256 dust = amount - usedAmount;
        _collect(asset, usedAmount, dust);
        emit StreamToppedUp(streamId, msg.sender, usedAmount, dust, newStopTime);
    }

    /// @inheritdoc IStreamPay
    function withdrawFromStream(uint256 streamId, Voucher calldata voucher)
        external
        override
        nonReentrant
        returns (uint256 amount)
    {
        // Checks
        Stream memory s = _payable(streamId);
        uint256 streamed = _streamed(s);
        uint256 total = voucher.cumulative < streamed ? voucher.cumulative : streamed;
        if (total <= s.withdrawn) {
            revert Errors.StreamPay_NothingToWithdraw(streamId, voucher.cumulative, streamed, s.withdrawn);
        }
        _checkVoucher(streamId, s.sender, voucher);
        (address recipient, address asset) = _payoutOf(s);
        amount = total - s.withdrawn;

        // Effects
        _streams[streamId].withdrawn = uint112(total); // <= streamed <= deposited < 2^112

        // Interactions
        _push(recipient, asset, amount);
        emit StreamWithdrawn(streamId, recipient, msg.sender, amount, voucher.cumulative);
    }

    /// @inheritdoc IStreamPay
    function cancelStream(uint256 streamId) external override nonReentrant {
        // Checks
        Stream memory s = _open(streamId);
        if (msg.sender != s.sender) revert Errors.StreamPay_NotSender(streamId, msg.sender, s.sender);
        uint256 abandonedAt = uint256(s.stopTime) + gracePeriod;
        if (block.timestamp >= abandonedAt) revert Errors.StreamPay_StreamAbandoned(streamId, abandonedAt);
        uint256 streamed = _streamed(s);
        uint256 senderAmount = _deposited(s) - streamed;
        address asset = s.isNative ? address(0) : _assetOf(s.providerId);

        // Effects: streaming stops now (or stopped at the stop time), and the recipient's window to answer
        // runs from now, however late the cancel. With everything streamed already paid there is nothing
        // the recipient could answer, so the cancel is final at once.
        bool final_ = streamed == s.withdrawn;
        _record(streamId, s.withdrawn, block.timestamp, final_ ? StreamStatus.Cancelled : StreamStatus.Cancelling);

        // Interactions
        if (final_ && s.withdrawn > 0) registry.recordCompletion(s.providerId, 1, s.withdrawn);
        if (senderAmount > 0) _push(s.sender, asset, senderAmount);
        if (final_) {
            emit StreamClosed(streamId, msg.sender, StreamStatus.Cancelled, 0, senderAmount);
        } else {
            emit StreamCancelling(streamId, msg.sender, senderAmount, block.timestamp + challengeWindow);
        }
    }

    /// @inheritdoc IStreamPay
    function closeWithReceipt(uint256 streamId, uint256 amount, bytes calldata signature)
        external
        override
        nonReentrant
    {
        // Checks
        Stream memory s = _open(streamId);
        if (msg.sender != s.sender) revert Errors.StreamPay_NotSender(streamId, msg.sender, s.sender);
        (address recipient, address asset) = _payoutOf(s);
        bytes32 digest = _hashTypedDataV4(keccak256(abi.encode(RECEIPT_TYPEHASH, streamId, amount, true)));
        if (!SignatureChecker.isValidSignatureNowCalldata(recipient, digest, signature)) {
            revert Errors.StreamPay_InvalidReceiptSignature(streamId, recipient);
        }
        uint256 streamed = _streamed(s);
        uint256 recipientTotal = amount < streamed ? amount : streamed;
        if (recipientTotal < s.withdrawn) recipientTotal = s.withdrawn; // what was paid stays paid

        _close(streamId, s, recipientTotal, StreamStatus.Closed, recipient, asset);
    }

    /// @inheritdoc IStreamPay
    function closeByRecipient(uint256 streamId, Voucher calldata voucher) external override nonReentrant {
        // Checks
        Stream memory s = _payable(streamId);
        (address recipient, address asset) = _payoutOf(s);
        if (msg.sender != recipient) revert Errors.StreamPay_NotRecipient(streamId, msg.sender, recipient);
        uint256 streamed = _streamed(s);
        uint256 recipientTotal = voucher.cumulative < streamed ? voucher.cumulative : streamed;
        if (recipientTotal > s.withdrawn) _checkVoucher(streamId, s.sender, voucher);
        else recipientTotal = s.withdrawn; // what was paid stays paid; nothing to verify

        bool answersCancel = s.status == StreamStatus.Cancelling;
        _close(streamId, s, recipientTotal, answersCancel ? StreamStatus.Cancelled : StreamStatus.Closed, recipient, asset);
    }

    /// @inheritdoc IStreamPay
    function batchUpdateStreams(uint256[] calldata streamIds)
        external
        override
        nonReentrant
        returns (uint256 settledCount)
    {
        Batch memory b = _newBatch(streamIds.length);
        uint256 grace = gracePeriod;
        uint256 window = challengeWindow;
        for (uint256 i; i < streamIds.length; ++i) {
            uint256 streamId = streamIds[i];
            Stream storage st = _streams[streamId];
            StreamStatus status = st.status;
            if (status == StreamStatus.Open) {
                uint256 stopTime = st.stopTime;
                if (block.timestamp < stopTime + grace) continue; // still the parties' to close
                // Abandoned: settled by time. Everything has streamed, so the recipient side gets it all.
                uint256 deposited = uint256(st.ratePerSecond) * (stopTime - st.startTime);
                uint256 amount = deposited - st.withdrawn;
                uint256 provider = _providerIndex(b, st.providerId);
                uint256 payee = b.providerPayee[provider];
                uint256 reward = StreamMath.keeperReward(amount);

                // Effects (payouts and the registry's stats happen once per recipient and provider, below)
                st.withdrawn = uint112(deposited);
                st.endTime = uint32(block.timestamp);
                st.status = StreamStatus.Settled;
                unchecked {
                    // Sums of amounts below 2^112 over at most 2^64 streams: no overflow is possible.
                    b.settled[payee] += amount;
                    b.rewards[payee] += reward;
                    ++b.streams[payee];
                    ++b.completions[provider];
                    b.earned[provider] += deposited;
                    ++settledCount;
                }
                // The one event of an abandoned stream's close: the keeper and the totals are in {BatchSettled}.
                emit StreamSettled(streamId, amount, reward);
                continue;
            }
            if (status == StreamStatus.Cancelling) {
                Stream memory s = st;
                if (block.timestamp < uint256(s.endTime) + window) continue; // the recipient may still answer
                // Unanswered cancel: the recipient keeps what it was paid, the sender gets the rest.
                uint256 senderAmount = _streamed(s) - s.withdrawn;
                uint256 provider = _providerIndex(b, s.providerId);

                // Effects
                _record(streamId, s.withdrawn, s.endTime, StreamStatus.Cancelled);
                if (s.withdrawn > 0) {
                    ++b.completions[provider];
                    b.earned[provider] += s.withdrawn;
                }
                ++settledCount;

                // Interactions
                if (senderAmount > 0) _push(s.sender, b.assets[b.providerPayee[provider]], senderAmount);
                emit StreamClosed(streamId, msg.sender, StreamStatus.Cancelled, 0, senderAmount);
            }
        }
        _payBatch(b);
    }

    /// @inheritdoc IStreamPay
    function withdrawBalance(address asset, address to) external override nonReentrant returns (uint256 amount) {
        // Checks
        if (to == address(0) || to == address(this)) revert Errors.StreamPay_InvalidPayoutAddress(to);
        amount = balanceOf[msg.sender][asset];
        if (amount == 0) revert Errors.StreamPay_NoBalance(msg.sender, asset);

        // Effects
        balanceOf[msg.sender][asset] = 0;

        // Interactions
        bool ok;
        if (asset == address(0)) {
            (ok,) = to.call{value: amount}("");
        } else {
            ok = IERC20(asset).trySafeTransfer(to, amount);
        }
        if (!ok) revert Errors.StreamPay_TransferFailed(asset, to, amount);
        emit BalanceWithdrawn(msg.sender, asset, to, amount);
    }

    /*//////////////////////////////////////////////////////////////
                                  PRIVATE
    //////////////////////////////////////////////////////////////*/

    /// @dev Working memory of one batchUpdateStreams call. One entry ("payee") per recipient and asset,
    /// with running totals; a provider cache maps each provider id seen to its payee, so the registry is
    /// asked once per provider and a wallet serving several models is still credited once. Completions
    /// are counted per provider and recorded in the registry once per provider at the end.
    struct Batch {
        uint256 providerCount;
        uint256[] providerIds;
        uint256[] providerPayee;
        uint256[] completions; // per provider: closed streams that paid it something
        uint256[] earned; // per provider: what those streams paid on its side, gross
        uint256 count;
        address[] recipients;
        address[] assets;
        uint256[] settled; // gross amount settled, reward included
        uint256[] rewards; // keeper's share of `settled`
        uint256[] streams;
    }

    function _newBatch(uint256 size) private pure returns (Batch memory b) {
        b.providerIds = new uint256[](size);
        b.providerPayee = new uint256[](size);
        b.completions = new uint256[](size);
        b.earned = new uint256[](size);
        b.recipients = new address[](size);
        b.assets = new address[](size);
        b.settled = new uint256[](size);
        b.rewards = new uint256[](size);
        b.streams = new uint256[](size);
    }

    /// @dev The provider-cache entry of `providerId`, added (with one registry read, and its payee entry for
    /// its recipient and asset) the first time the provider is seen in this batch.
    function _providerIndex(Batch memory b, uint256 providerId) private view returns (uint256) {
        for (uint256 i; i < b.providerCount; ++i) {
            if (b.providerIds[i] == providerId) return i;
        }
        (address recipient, address asset) = registry.payoutOf(providerId);
        uint256 payee;
        while (payee < b.count && (b.recipients[payee] != recipient || b.assets[payee] != asset)) ++payee;
        if (payee == b.count) {
            b.recipients[payee] = recipient;
            b.assets[payee] = asset;
            b.count = payee + 1;
        }
        uint256 index = b.providerCount++;
        b.providerIds[index] = providerId;
        b.providerPayee[index] = payee;
        return index;
    }

    /// @dev Records each provider's completions once, credits each recipient once, then pays the keeper's
    /// reward and reports totals once per asset.
    function _payBatch(Batch memory b) private {
        for (uint256 i; i < b.providerCount; ++i) {
            if (b.completions[i] > 0) registry.recordCompletion(b.providerIds[i], b.completions[i], b.earned[i]);
        }
        for (uint256 i; i < b.count; ++i) {
            uint256 credit = b.settled[i] - b.rewards[i];
            if (credit > 0) balanceOf[b.recipients[i]][b.assets[i]] += credit;
        }
        for (uint256 i; i < b.count; ++i) {
            address asset = b.assets[i];
            if (b.streams[i] == 0) continue; // already folded into an earlier entry of the same asset
            uint256 settled;
            uint256 reward;
            uint256 streams;
            for (uint256 j = i; j < b.count; ++j) {
                if (b.assets[j] != asset) continue;
                settled += b.settled[j];
                reward += b.rewards[j];
                streams += b.streams[j];
                b.streams[j] = 0;
            }
            if (reward > 0) _push(msg.sender, asset, reward);
            emit BatchSettled(msg.sender, asset, streams, settled, reward);
        }
    }

        /// @dev Closes an open or cancelling stream, paying the recipient `recipientTotal` in all (credited to its
    /// balance) and pushing what is left in escrow back to the sender.
    function _close(
        uint256 streamId,
        Stream memory s,
        uint256 recipientTotal,
        StreamStatus status,
        address recipient,
        address asset
    ) private {
        uint256 deposited = _deposited(s);
        uint256 streamed = _streamed(s);
        bool wasCancelling = s.status == StreamStatus.Cancelling;
        // A cancel already returned everything that had not streamed.
        uint256 refundedBefore = wasCancelling ? deposited - streamed : 0;
        uint256 recipientAmount = recipientTotal - s.withdrawn;
        uint256 senderAmount = deposited - refundedBefore - recipientTotal;
        // The protocol invariant: every unit of the deposit goes to exactly one side, exactly once.
        assert(s.withdrawn + recipientAmount + refundedBefore + senderAmount == deposited);
        assert(recipientTotal <= streamed);

        // Effects
        _record(streamId, recipientTotal, wasCancelling ? s.endTime : block.timestamp, status);
        if (recipientAmount > 0) balanceOf[recipient][asset] += recipientAmount;

        // Interactions
        if (recipientTotal > 0) registry.recordCompletion(s.providerId, 1, recipientTotal);
        if (senderAmount > 0) _push(s.sender, asset, senderAmount);
        emit StreamClosed(streamId, msg.sender, status, recipientAmount, senderAmount);
    }

    /// @dev Writes a stream's recipient-side total, end time and status: one storage slot.
    function _record(uint256 streamId, uint256 withdrawn, uint256 endTime, StreamStatus status) private {
        Stream storage s = _streams[streamId];
        s.withdrawn = uint112(withdrawn); // <= deposited < 2^112
        s.endTime = uint32(endTime); // a block timestamp: < 2^32 until 2106
        s.status = status;
    }

    /// @dev Reverts unless `v` is a spend voucher for `streamId` signed by `sender`, or by a session key that
    /// `sender` named at creation or authorised by an unexpired signature. Session keys are plain ECDSA keys.
    function _checkVoucher(uint256 streamId, address sender, Voucher calldata v) private view {
        bytes32 digest = _hashTypedDataV4(keccak256(abi.encode(SPEND_TYPEHASH, streamId, v.cumulative, v.request)));
        address key = v.sessionKey;
        if (key == address(0)) {
            if (!SignatureChecker.isValidSignatureNowCalldata(sender, digest, v.signature)) {
                revert Errors.StreamPay_InvalidVoucherSignature(streamId, sender);
            }
            return;
        }
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecoverCalldata(digest, v.signature);
        if (err != ECDSA.RecoverError.NoError || signer != key) {
            revert Errors.StreamPay_InvalidVoucherSignature(streamId, key);
        }
        if (v.sessionSignature.length == 0) {
            // Only the key named in createStream needs no authorisation signature.
            if (_namedSessionKeys[streamId] != key) {
                revert Errors.StreamPay_InvalidSessionKeySignature(streamId, key, sender);
            }
            return;
        }
        if (block.timestamp > v.sessionExpiry) {
            revert Errors.StreamPay_SessionKeyExpired(streamId, key, v.sessionExpiry);
        }
        bytes32 authDigest =
            _hashTypedDataV4(keccak256(abi.encode(SESSION_KEY_TYPEHASH, streamId, key, v.sessionExpiry)));
        if (!SignatureChecker.isValidSignatureNowCalldata(sender, authDigest, v.sessionSignature)) {
            revert Errors.StreamPay_InvalidSessionKeySignature(streamId, key, sender);
        }
    }

    /// @dev Emits {StreamCreated} from the stored stream; apart from createStream so that its locals fit the
    /// stack of the legacy (non-IR) pipeline as well.
    function _emitCreated(
        uint256 streamId,
        address recipient,
        address asset,
        uint256 usedAmount,
        uint256 dust,
        address sessionKey
    ) private {
        Stream storage s = _streams[streamId];
        emit StreamCreated(
            streamId,
            msg.sender,
            recipient,
            s.providerId,
            asset,
            s.ratePerSecond,
            s.startTime,
            s.stopTime,
            usedAmount,
            dust,
            sessionKey
        );
    }

    /// @dev Requires msg.value to match the payment: the amount for native coin, 0 for an ERC-20.
    function _checkPayment(address asset, uint256 amount) private view {
        if (asset == address(0)) {
            if (msg.value != amount) revert Errors.StreamPay_NativeValueMismatch(msg.value, amount);
        } else if (msg.value != 0) {
            revert Errors.StreamPay_UnexpectedNativeValue(msg.value);
        }
    }

    /// @dev Takes `usedAmount` from the caller: native coin already arrived (the dust goes back), an ERC-20
    /// is pulled for exactly `usedAmount` (the dust is never taken) and must arrive in full.
    function _collect(address asset, uint256 usedAmount, uint256 dust) private {
        if (asset == address(0)) {
            if (dust > 0) _push(msg.sender, address(0), dust);
            return;
        }
        IERC20 token = IERC20(asset);
        uint256 balanceBefore = token.balanceOf(address(this));
        token.safeTransferFrom(msg.sender, address(this), usedAmount);
        uint256 received = token.balanceOf(address(this)) - balanceBefore;
        if (received != usedAmount) revert Errors.StreamPay_FeeOnTransferToken(asset, usedAmount, received);
    }

    /// @dev Pays `amount` to `to` now; if the transfer fails (a reverting receiver, a blacklisting token),
    /// credits it to `to`'s balance instead, so nobody's failure blocks anyone else's exit.
    function _push(address to, address asset, uint256 amount) private {
        uint256 gasLeft = gasleft();
        if (gasLeft < MIN_GAS_FOR_PUSH) revert Errors.StreamPay_InsufficientGas(gasLeft, MIN_GAS_FOR_PUSH);
        bool ok;
        if (asset == address(0)) {
            // No return data is copied: a receiver cannot bloat our memory.
            assembly ("memory-safe") {
                ok := call(PUSH_GAS, to, amount, 0, 0, 0, 0)
            }
        } else {
            ok = IERC20(asset).trySafeTransfer(to, amount);
        }
        if (!ok) {
            balanceOf[to][asset] += amount;
            emit PaymentDeferred(to, asset, amount);
        }
    }

    function _existing(uint256 streamId) private view returns (Stream memory s) {
        s = _streams[streamId];
        if (s.status == StreamStatus.None) revert Errors.StreamPay_UnknownStream(streamId);
    }

    function _open(uint256 streamId) private view returns (Stream memory s) {
        s = _existing(streamId);
        if (s.status != StreamStatus.Open) revert Errors.StreamPay_StreamNotOpen(streamId, s.status);
    }

    /// @dev An open stream, or a cancelling one inside its challenge window: one whose escrow can still pay
    /// the recipient. After the window only finalisation ({batchUpdateStreams}) is left.
    function _payable(uint256 streamId) private view returns (Stream memory s) {
        s = _existing(streamId);
        if (s.status == StreamStatus.Cancelling) {
            uint256 challengeEndsAt = uint256(s.endTime) + challengeWindow;
            if (block.timestamp >= challengeEndsAt) {
                revert Errors.StreamPay_ChallengeWindowClosed(streamId, challengeEndsAt);
            }
        } else if (s.status != StreamStatus.Open) {
            revert Errors.StreamPay_StreamClosed(streamId, s.status);
        }
    }

    /// @dev The stream's recipient and asset. Native-coin streams skip the registry's asset read.
    function _payoutOf(Stream memory s) private view returns (address recipient, address asset) {
        if (s.isNative) return (registry.walletOf(s.providerId), address(0));
        return registry.payoutOf(s.providerId);
    }

    function _assetOf(uint256 providerId) private view returns (address asset) {
        (, asset) = registry.payoutOf(providerId);
    }

    function _deposited(Stream memory s) private pure returns (uint256) {
        return uint256(s.ratePerSecond) * (uint256(s.stopTime) - s.startTime);
    }

    /// @dev What time allows as of now: streaming stops at the stop time, or earlier at a cancel or close.
    function _streamed(Stream memory s) private view returns (uint256) {
        uint256 end = s.stopTime;
        if (s.endTime != 0 && s.endTime < end) end = s.endTime;
        return StreamMath.streamedAt(s.ratePerSecond, s.startTime, end, block.timestamp);
    }

    /// @dev What went back to the sender so far: the unstreamed part at a cancel, all but the recipient's
    /// side once closed.
    function _refunded(Stream memory s, uint256 deposited, uint256 streamed) private pure returns (uint256) {
        if (s.status == StreamStatus.Open) return 0;
        if (s.status == StreamStatus.Cancelling) return deposited - streamed;
        return deposited - s.withdrawn;
    }
}
