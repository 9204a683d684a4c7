// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";

import {Test} from "../../utils/Test.sol";
import {Vm} from "../../utils/Vm.sol";
import {Actor} from "../../mocks/Actor.sol";
import {ERC1271Wallet} from "../../mocks/ERC1271Wallet.sol";
import {InvariantStore, Inv} from "../stores/InvariantStore.sol";

import {StreamPay} from "../../../src/StreamPay.sol";
import {ComputeRegistry} from "../../../src/ComputeRegistry.sol";
import {IStreamPay} from "../../../src/interfaces/IStreamPay.sol";
import {IComputeRegistry} from "../../../src/interfaces/IComputeRegistry.sol";
import {TestToken} from "../../../src/dev/TestToken.sol";
import {Errors} from "../../../src/libraries/Errors.sol";
import {StreamStatus} from "../../../src/types/DataTypes.sol";

/// @notice What the invariant fuzzer calls. Every action picks its actors and bounds its inputs so most
/// calls are valid, predicts the outcome from an independent model (the formulas of IStreamPay, kept in the
/// store), performs the call as the chosen party, and records any difference between the prediction and
/// what happened (unexpected reverts, wrong errors, wrong amounts) as a violation of the invariant or
/// guarantee it touches. It never reverts itself, so the fuzzer never discards a step.
///
/// Hostile parties:
/// - a provider that withdraws with its best voucher and closes whenever it can ({providerGreedy});
/// - a keeper that front-runs every close in the same block: it calls batchUpdateStreams on the stream just
///   before the close, at the same timestamp (7 closes in 8; in the 8th no keeper is awake);
/// - a consumer that signs newer vouchers and then cancels, so all the recipient withdrew with is older,
///   and one that signs a lower voucher after a higher one ({signVoucher}, {cancelStream});
/// - session keys that are expired, authorised for another stream, authorised by someone other than the
///   sender, or posing as the key named at creation, and vouchers whose amount was raised or that were
///   signed for another stream ({badVoucher}): each must be refused with its exact error and move nothing;
/// - a provider that is down while its stream is cancelled, and so never answers ({setProviderDown}), and one
///   that answers or withdraws after the challenge window ended: refused with StreamPay_ChallengeWindowClosed,
///   moving nothing, so only finalisation is left.
contract StreamPayHandler is Test {
    using Strings for uint256;
    using Strings for address;

    /*//////////////////////////////////////////////////////////////
                                 CONSTANTS
    //////////////////////////////////////////////////////////////*/

    uint8 internal constant OPEN = uint8(StreamStatus.Open);
    uint8 internal constant SETTLED = uint8(StreamStatus.Settled);
    uint8 internal constant CANCELLED = uint8(StreamStatus.Cancelled);
    uint8 internal constant CLOSED = uint8(StreamStatus.Closed);
    uint8 internal constant CANCELLING = uint8(StreamStatus.Cancelling);

    /// @notice Who signed a voucher. Nobody: an unsigned claim, valid only up to what was already paid.
    uint8 public constant BY_NOBODY = 0;
    uint8 public constant BY_SENDER = 1;
    uint8 public constant BY_NAMED_KEY = 2;
    uint8 public constant BY_SESSION_KEY = 3;

    /// @dev Which streams an action looks for.
    uint8 internal constant PICK_OPEN = 0;
    uint8 internal constant PICK_PAYABLE = 1; // open, or cancelling inside its challenge window
    uint8 internal constant PICK_CANCELLING = 2; // cancelling (in its window or past it) if any, else payable
    uint8 internal constant PICK_RATEABLE = 3;
    uint8 internal constant PICK_DEPLETED = 4; // open, past its stop time, not abandoned yet; else open

    uint256 internal constant MAX_STREAMS = 32;
    uint256 internal constant MAX_STREAM_SECONDS = 7200;
    /// @dev The keeper's share of what it settles, in basis points, as the interface documents it.
    uint256 internal constant KEEPER_BPS = 10;
    uint256 internal constant SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;

    bytes32 internal constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 internal constant RECEIPT_TYPEHASH = keccak256("Receipt(uint256 streamId,uint256 amount,bool final)");
    bytes32 internal constant REQUEST_TYPEHASH = keccak256("Request(bytes32 bodyHash,uint256 nonce,uint256 expiry)");
    bytes32 internal constant SPEND_TYPEHASH = keccak256(
        "Spend(uint256 streamId,uint256 cumulative,Request request)"
        "Request(bytes32 bodyHash,uint256 nonce,uint256 expiry)"
    );
    bytes32 internal constant SESSION_KEY_TYPEHASH =
        keccak256("SessionKey(uint256 streamId,address key,uint256 expiry)");
    string internal constant ENDPOINT = "https://provider.example";

    /*//////////////////////////////////////////////////////////////
                                   STATE
    //////////////////////////////////////////////////////////////*/

    StreamPay public immutable streamPay;
    ComputeRegistry public immutable registry;
    TestToken public immutable usd;
    InvariantStore public immutable store;
    uint256 public immutable minStake;
    uint256 public immutable stakeCooldown;
    uint256 public immutable gracePeriod;
    uint256 public immutable challengeWindow;

    address public immutable deployer;

    address[] public senders;
    /// @dev keepers[0] is the keeper that front-runs closes.
    address[] public keepers;
    address public outsider;
    uint256 internal outsiderKey;
    address public sink;

    /// @dev The key that signs for a sender: its own (EOA) or its owner's (ERC-1271 wallet); 0 = cannot sign.
    mapping(address sender => uint256) internal signerKeyOf;
    mapping(address account => bool) public refusesNative;
    mapping(address account => bool) public isActor;
    mapping(address wallet => address owner) public walletOwner;
    /// @dev Each provider's starting price: price changes stay within [price/2, price*2] of it.
    mapping(uint256 providerId => uint256) internal basePrice;
    /// @notice A provider that is down does not answer cancels (nor act greedily) until it is up again.
    mapping(uint256 providerId => bool) public providerDown;

    constructor(StreamPay streamPay_, TestToken usd_, uint256 startTime) {
        streamPay = streamPay_;
        registry = ComputeRegistry(address(streamPay_.registry()));
        usd = usd_;
        minStake = registry.minStake();
        stakeCooldown = registry.stakeCooldown();
        gracePeriod = streamPay_.gracePeriod();
        challengeWindow = streamPay_.challengeWindow();
        store = new InvariantStore(address(this), startTime);
        deployer = msg.sender;
    }

    /*//////////////////////////////////////////////////////////////
                        SET-UP (called by the test only)
    //////////////////////////////////////////////////////////////*/

    modifier onlyDeployer() {
        require(msg.sender == deployer, "handler: set-up only");
        _;
    }

    /// @dev `signerKey` signs vouchers and session-key authorisations for the sender (0: it cannot sign, so
    /// every stream it opens names a session key).
    function addSender(address sender, uint256 signerKey) external onlyDeployer {
        senders.push(sender);
        signerKeyOf[sender] = signerKey;
        store.addAccount(sender);
        (bool ok,) =
            _as(sender, address(usd), 0, abi.encodeCall(usd.approve, (address(streamPay), type(uint256).max)));
        require(ok, "handler: approval failed");
    }

    /// @dev Marks `actor` as a contract account driven through Actor.exec, refusing native coin or not.
    function addActor(address actor, bool refuses) external onlyDeployer {
        isActor[actor] = true;
        refusesNative[actor] = refuses;
    }

    function addWallet(address wallet, address owner) external onlyDeployer {
        walletOwner[wallet] = owner;
    }

    function addKeeper(address keeper) external onlyDeployer {
        keepers.push(keeper);
        store.addAccount(keeper);
    }

    function setOutsider(address account, uint256 key) external onlyDeployer {
        outsider = account;
        outsiderKey = key;
        store.addAccount(account);
    }

    function setSink(address account) external onlyDeployer {
        sink = account;
        store.addAccount(account);
    }

    /// @dev Registers a provider as `wallet` (EOA, ERC-1271 wallet or Actor) and adds it to the model.
    function registerProvider(
        address wallet,
        uint256 signerKey,
        string calldata model,
        uint256 price,
        address asset
    ) external onlyDeployer returns (uint256 providerId) {
        vm.deal(wallet, wallet.balance + minStake);
        (bool ok, bytes memory ret) = _as(
            wallet,
            address(registry),
            minStake,
            abi.encodeCall(registry.registerProvider, (model, price, ENDPOINT, "llm", asset))
        );
        require(ok, "handler: registration failed");
        providerId = abi.decode(ret, (uint256));
        _trackProvider(providerId, signerKey);
    }

    /// @dev Adds an already registered provider to the model.
    function trackProvider(uint256 providerId, uint256 signerKey) external onlyDeployer {
        _trackProvider(providerId, signerKey);
    }

    function _trackProvider(uint256 providerId, uint256 signerKey) private {
        IComputeRegistry.ProviderView memory v = registry.getProvider(providerId);
        store.addProvider(
            InvariantStore.GhostProvider({
                id: providerId,
                wallet: v.wallet,
                asset: v.asset,
                signerKey: signerKey,
                price: v.pricePerSecond,
                active: v.active,
                stake: v.stake,
                deactivatedAt: v.deactivatedAt,
                completions: v.requestsServed,
                earned: v.totalEarned,
                ratingCount: v.ratingCount,
                ratingSum: v.ratingSum
            })
        );
        basePrice[providerId] = v.pricePerSecond;
        store.addAccount(v.wallet);
    }

    /// @notice The actions the fuzzer may call.
    function selectors() external pure returns (bytes4[] memory s) {
        s = new bytes4[](16);
        s[0] = this.warp.selector;
        s[1] = this.createStream.selector;
        s[2] = this.topUp.selector;
        s[3] = this.signVoucher.selector;
        s[4] = this.withdrawFromStream.selector;
        s[5] = this.cancelStream.selector;
        s[6] = this.closeWithReceipt.selector;
        s[7] = this.closeByRecipient.selector;
        s[8] = this.providerGreedy.selector;
        s[9] = this.badVoucher.selector;
        s[10] = this.batchUpdateStreams.selector;
        s[11] = this.withdrawBalance.selector;
        s[12] = this.rateProvider.selector;
        s[13] = this.updateProvider.selector;
        s[14] = this.outsiderAttack.selector;
        s[15] = this.setProviderDown.selector;
    }

    /// @notice The session key named at creation of stream `streamId`, when one is named (its private key is
    /// derived from the id, so the handler can sign with it).
    function namedKeyOf(uint256 streamId) public pure returns (address) {
        return vm.addr(_key("named", streamId));
    }

    /*//////////////////////////////////////////////////////////////
                                 MODIFIERS
    //////////////////////////////////////////////////////////////*/

    /// @dev Runs the action at the ghost time (moved on by a few seconds), then checks every stream's
    /// streamed amount against the model and the previous observation (invariant 3) and records it.
    modifier step() {
        // Every transaction lands a few seconds after the previous one (0..30 s, from the call's input).
        store.advance(uint256(keccak256(msg.data)) % 31);
        vm.warp(store.time());
        _;
        _observeStreamed();
    }

    /*//////////////////////////////////////////////////////////////
                            ACTIONS: TIME, STREAMS
    //////////////////////////////////////////////////////////////*/

    function warp(uint256 seed) external step {
        // Mostly seconds to minutes; 1 in 10 jumps half an hour to two hours (across stop times, challenge
        // windows and grace periods); 1 in 10 jumps days (everything abandoned; past the stake cooldown).
        uint256 kind = seed % 10;
        uint256 dt = kind == 0
            ? bound(seed >> 8, 1 days, 8 days)
            : kind == 1 ? bound(seed >> 8, 30 minutes, 2 hours) : bound(seed >> 8, 1, 900);
        _advance(dt);
        store.countCall("warp", true);
    }

    function createStream(uint256 senderSeed, uint256 providerSeed, uint256 secondsSeed, uint256 dustSeed)
        external
        step
    {
        _createStream(senderSeed, providerSeed, secondsSeed, dustSeed);
    }

    /// @dev Locals of a create, in memory (the legacy pipeline's stack is small).
    struct Create {
        InvariantStore.GhostProvider p;
        uint256 variant;
        address sender;
        uint256 rate;
        uint256 secs;
        uint256 amount;
        uint256 maxRate;
        uint256 id;
        address sessionKey;
        uint256 payBefore;
        uint256 senderBefore;
    }

    /// @dev Seeds: sender = senders[senderSeed % n], no named key if bit 64 of senderSeed is set (a sender that
    /// cannot sign always names one); secondsSeed % 16 == 0: too small; bit 4: long (up to 2 h) or short (up
    /// to 10 min), seconds from bit 5; dust = dustSeed % rate; (dustSeed >> 128) % 32: 0 max rate below the
    /// price, 1 the recipient as session key, 2 the provider paying itself, else valid.
    function _createStream(uint256 senderSeed, uint256 providerSeed, uint256 secondsSeed, uint256 dustSeed)
        private
    {
        if (store.streamCount() >= MAX_STREAMS) return;
        Create memory c;
        c.p = _pickProvider(providerSeed);
        c.variant = (dustSeed >> 128) % 32;
        c.sender = c.variant == 2 ? c.p.wallet : senders[senderSeed % senders.length];
        c.rate = c.p.price;
        if (secondsSeed % 16 != 0) {
            c.secs = bound(secondsSeed >> 5, 1, (secondsSeed >> 4) % 2 == 0 ? 600 : MAX_STREAM_SECONDS);
        }
        c.amount = c.secs * c.rate + dustSeed % c.rate;
        c.maxRate = c.variant == 0 ? c.rate - 1 : c.rate;
        c.id = store.streamCount() + 1;
        if (c.variant == 1) c.sessionKey = c.p.wallet;
        else if (signerKeyOf[c.sender] == 0 || (senderSeed >> 64) % 2 == 0) c.sessionKey = namedKeyOf(c.id);

        bytes memory err;
        if (!c.p.active) {
            err = abi.encodeWithSelector(Errors.StreamPay_ProviderInactive.selector, c.p.id);
        } else if (c.rate > c.maxRate) {
            err = abi.encodeWithSelector(Errors.StreamPay_RateAboveMax.selector, c.p.id, c.rate, c.maxRate);
        } else if (c.sender == c.p.wallet) {
            err = abi.encodeWithSelector(Errors.StreamPay_SelfStream.selector, c.p.id, c.sender);
        } else if (c.sessionKey == c.p.wallet) {
            err = abi.encodeWithSelector(Errors.StreamPay_InvalidSessionKey.selector, c.p.id, c.sessionKey);
        } else if (c.secs == 0) {
            err = abi.encodeWithSelector(Errors.StreamPay_DepositTooSmall.selector, c.amount, c.rate);
        }

        _fund(c.sender, c.p.asset, c.amount);
        c.payBefore = _bal(address(streamPay), c.p.asset);
        c.senderBefore = _bal(c.sender, c.p.asset);
        (bool ok, bytes memory ret) = _as(
            c.sender,
            address(streamPay),
            c.p.asset == address(0) ? c.amount : 0,
            abi.encodeCall(IStreamPay.createStream, (c.p.id, c.maxRate, c.amount, c.sessionKey))
        );
        bool success = _outcome(Inv.ACCOUNTING, ok, ret, err, "createStream");
        store.countCall("createStream", success);
        if (!success) return;
        _expectEq(Inv.ACCOUNTING, abi.decode(ret, (uint256)), c.id, "createStream: id is the next id");
        _bookCreate(c);
    }

    function _bookCreate(Create memory c) private {
        uint256 used = c.secs * c.rate;
        bool deferred = c.p.asset == address(0) && c.amount > used && refusesNative[c.sender];
        uint256 kept = deferred ? c.amount : used;
        _expectEq(Inv.SOLVENCY, _bal(address(streamPay), c.p.asset), c.payBefore + kept, "createStream: balance");
        _expectEq(Inv.ACCOUNTING, c.senderBefore - _bal(c.sender, c.p.asset), kept, "createStream: sender paid");
        if (streamPay.namedSessionKeyOf(c.id) != c.sessionKey) _flag(Inv.ACCOUNTING, "createStream: named key");
        if (deferred) store.addCredit(c.sender, address(0), c.amount - used, true);
        store.addInflow(c.p.asset, kept);
        store.addDeposited(c.p.asset, used);

        InvariantStore.GhostStream memory g;
        g.id = c.id;
        g.sender = c.sender;
        g.recipient = c.p.wallet;
        g.asset = c.p.asset;
        g.providerId = c.p.id;
        g.rate = c.rate;
        g.start = store.time();
        g.stop = store.time() + c.secs;
        g.deposited = used;
        g.status = OPEN;
        InvariantStore.GhostVouchers memory vb;
        vb.namedKey = c.sessionKey;
        store.addStream(g, vb);
    }

    function topUp(uint256 streamSeed, uint256 secondsSeed, uint256 dustSeed) external step {
        (bool found, InvariantStore.GhostStream memory g) = _pickStream(streamSeed, PICK_OPEN);
        if (_createInstead(found, g, streamSeed, PICK_OPEN)) return;
        address caller = (dustSeed >> 128) % 8 == 0 ? outsider : g.sender;
        uint256 secs = secondsSeed % 16 == 0 ? 0 : bound(secondsSeed >> 4, 1, MAX_STREAM_SECONDS);
        uint256 amount = secs * g.rate + dustSeed % g.rate;

        bytes memory err;
        if (g.status != OPEN) {
            err = abi.encodeWithSelector(Errors.StreamPay_StreamNotOpen.selector, g.id, g.status);
        } else if (caller != g.sender) {
            err = abi.encodeWithSelector(Errors.StreamPay_NotSender.selector, g.id, caller, g.sender);
        } else if (store.time() >= g.stop) {
            err = abi.encodeWithSelector(Errors.StreamPay_StreamDepleted.selector, g.id, g.stop);
        } else if (secs == 0) {
            err = abi.encodeWithSelector(Errors.StreamPay_DepositTooSmall.selector, amount, g.rate);
        }

        _fund(caller, g.asset, amount);
        uint256 payBefore = _bal(address(streamPay), g.asset);
        uint256 callerBefore = _bal(caller, g.asset);
        (bool ok, bytes memory ret) = _as(
            caller,
            address(streamPay),
            g.asset == address(0) ? amount : 0,
            abi.encodeCall(IStreamPay.topUp, (g.id, amount))
        );
        bool success = _outcome(caller == outsider ? Inv.ACCESS : Inv.ACCOUNTING, ok, ret, err, "topUp");
        if (caller == outsider && g.status == OPEN) store.countOutsider(ok);
        store.countCall("topUp", success);
        if (!success) return;
        _bookTopUp(g, caller, amount, secs * g.rate, payBefore, callerBefore);
    }

    function _bookTopUp(
        InvariantStore.GhostStream memory g,
        address caller,
        uint256 amount,
        uint256 used,
        uint256 payBefore,
        uint256 callerBefore
    ) private {
        bool deferred = g.asset == address(0) && amount > used && refusesNative[caller];
        uint256 kept = deferred ? amount : used;
        _expectEq(Inv.SOLVENCY, _bal(address(streamPay), g.asset), payBefore + kept, "topUp: contract balance");
        _expectEq(Inv.ACCOUNTING, callerBefore - _bal(caller, g.asset), kept, "topUp: sender paid the used amount");
        if (deferred) store.addCredit(caller, address(0), amount - used, true);
        store.addInflow(g.asset, kept);
        store.addDeposited(g.asset, used);
        g.stop += used / g.rate;
        g.deposited += used;
        store.setStream(g);
    }

    /*//////////////////////////////////////////////////////////////
                        ACTIONS: THE CONSUMER SIGNS
    //////////////////////////////////////////////////////////////*/

    /// @notice The consumer signs a voucher (with its request) and hands it to the provider: by itself, by
    /// the key named at creation, or by a key it authorises by signature with an expiry. Usually a little
    /// more than before; 1 in 8 far more (an overshoot the time cap must catch); 1 in 8 lower than the last
    /// one (a consumer going back on its word: the provider keeps its best).
    function signVoucher(uint256 streamSeed, uint256 amountSeed, uint256 kindSeed) external step {
        (bool found, InvariantStore.GhostStream memory g) = _pickStream(streamSeed, PICK_OPEN);
        if (_createInstead(found, g, streamSeed, PICK_OPEN)) return;
        // A consumer signs only while its stream is open (it is not served once it cancelled).
        bool signed = g.status == OPEN && _signVoucher(g, amountSeed, kindSeed);
        store.countCall("signVoucher", signed);
    }

    function _signVoucher(InvariantStore.GhostStream memory g, uint256 amountSeed, uint256 kindSeed)
        private
        returns (bool)
    {
        InvariantStore.GhostVouchers memory vb = store.getVouchers(g.id);
        uint8 by = _signerFor(g, vb, kindSeed);
        if (by == BY_NOBODY) return false;
        uint256 mode = amountSeed % 8;
        uint256 cumulative;
        if (mode == 0 && vb.last > 0) {
            cumulative = bound(amountSeed >> 3, 0, vb.last - 1);
            store.countScenario("signed lower after higher");
        } else if (mode == 1) {
            cumulative = vb.maxSigned + bound(amountSeed >> 3, 0, 2 * g.deposited);
        } else {
            cumulative = vb.maxSigned + bound(amountSeed >> 3, 0, 600 * g.rate);
        }
        if (by == BY_SESSION_KEY && store.time() > vb.sessionExpiry) {
            // The sender (re-)authorises its session key until a later expiry: from 5 minutes to an hour (so
            // it often runs out while the stream lives). Earlier vouchers of the key count again with it.
            if (vb.sessionExpiry != 0) store.countScenario("session key renewed");
            vb.sessionExpiry = store.time() + bound(kindSeed >> 8, 5 minutes, 2 * challengeWindow);
            address key = vm.addr(_key("session", g.id));
            if (streamPay.hashSessionKey(g.id, key, vb.sessionExpiry) != _sessionDigest(g.id, key, vb.sessionExpiry))
            {
                _flag(Inv.ACCOUNTING, "hashSessionKey differs from the EIP-712 digest");
            }
        }
        bytes32 request = _requestHash(g.id, cumulative);
        if (streamPay.hashSpend(g.id, cumulative, request) != _spendDigest(g.id, cumulative, request)) {
            _flag(Inv.ACCOUNTING, "hashSpend differs from the EIP-712 digest");
        }
        if (cumulative > vb.maxSigned) vb.maxSigned = cumulative;
        if (by == BY_SESSION_KEY) {
            if (cumulative > vb.bestSession) vb.bestSession = cumulative;
        } else if (cumulative > vb.bestPermanent || vb.bestPermanentBy == BY_NOBODY) {
            vb.bestPermanent = cumulative;
            vb.bestPermanentBy = by;
        }
        vb.last = cumulative;
        vb.lastBy = by;
        ++vb.signedCount;
        store.setVouchers(g.id, vb);
        return true;
    }

    /// @dev Who signs the next voucher: one of those able to on this stream, picked by seed.
    function _signerFor(
        InvariantStore.GhostStream memory g,
        InvariantStore.GhostVouchers memory vb,
        uint256 seed
    ) private view returns (uint8) {
        uint8[3] memory able;
        uint256 n;
        if (signerKeyOf[g.sender] != 0) able[n++] = BY_SENDER;
        if (vb.namedKey != address(0)) able[n++] = BY_NAMED_KEY;
        if (signerKeyOf[g.sender] != 0) able[n++] = BY_SESSION_KEY;
        return n == 0 ? BY_NOBODY : able[seed % n];
    }

    /*//////////////////////////////////////////////////////////////
                      ACTIONS: THE PROVIDER TAKES ITS PAY
    //////////////////////////////////////////////////////////////*/

    /// @notice Anyone withdraws for the recipient: usually with its best valid voucher; 1 in 8 with the
    /// latest voucher (maybe lower, maybe of an expired key); 1 in 8 with an unsigned claim at or below what
    /// was already paid.
    function withdrawFromStream(uint256 streamSeed, uint256 callerSeed, uint256 whichSeed) external step {
        (bool found, InvariantStore.GhostStream memory g) = _pickStream(streamSeed, PICK_PAYABLE);
        if (_createInstead(found, g, streamSeed, PICK_PAYABLE)) return;
        address caller =
            callerSeed % 4 == 0 ? store.accountAt((callerSeed >> 2) % store.accountCount()) : g.recipient;
        _servedARequest(g, whichSeed >> 8);
        InvariantStore.GhostVouchers memory vb = store.getVouchers(g.id);
        (uint256 cumulative, uint8 by, bool best) = _chooseVoucher(g, vb, whichSeed);
        G2Context memory c = _g2Context(g, cumulative, best && caller == g.recipient);
        _withdraw(g, vb, caller, cumulative, by, "withdrawFromStream");
        _checkG2(c, "withdrawFromStream");
    }

    /// @notice The greedy provider: withdraws with its best voucher whenever that pays anything, then closes
    /// (or answers a cancel) at once, front-run by the keeper. A provider that is down does nothing.
    function providerGreedy(uint256 streamSeed, uint256 seed) external step {
        (bool found, InvariantStore.GhostStream memory g) = _pickStream(streamSeed, PICK_PAYABLE);
        if (_createInstead(found, g, streamSeed, PICK_PAYABLE)) return;
        if (providerDown[g.providerId]) return;
        _servedARequest(g, seed >> 8);
        _greedyWithdraw(g.id);
        store.countCall("providerGreedy", _recipientActs(g.id, seed, "providerGreedy"));
    }

    /// @dev The greedy provider's withdrawal: with its best voucher, whenever that pays anything.
    function _greedyWithdraw(uint256 streamId) private {
        InvariantStore.GhostStream memory g = store.getStream(streamId);
        InvariantStore.GhostVouchers memory vb = store.getVouchers(streamId);
        (uint256 best, uint8 by) = _best(vb, store.time());
        if (!_payableNow(g) || _min(best, _streamedModel(g)) <= g.withdrawn) return;
        G2Context memory c = _g2Context(g, best, true);
        _withdraw(g, vb, g.recipient, best, by, "providerGreedy");
        _checkG2(c, "providerGreedy: withdraw");
    }

    /// @dev Half the time the consumer sent a request since the last action, and with it a voucher.
    function _servedARequest(InvariantStore.GhostStream memory g, uint256 seed) private {
        if (seed % 2 == 0 && g.status == OPEN) _signVoucher(g, seed >> 1, seed >> 100);
    }

    /// @notice The recipient closes an open stream, or answers a cancel, with a voucher (as in
    /// {withdrawFromStream}); 1 in 8 by the outsider, 1 in 8 by the sender (both refused). The keeper
    /// front-runs it. A provider that is down does not answer cancels. Half the time it picks a cancelling
    /// stream, whose window may be over: then the answer must be refused (finalised by the front-run, or
    /// StreamPay_ChallengeWindowClosed when no keeper is awake).
    function closeByRecipient(uint256 streamSeed, uint256 whichSeed, uint256 whoSeed) external step {
        (bool found, InvariantStore.GhostStream memory g) =
            _pickStream(streamSeed, whoSeed % 2 == 0 ? PICK_CANCELLING : PICK_PAYABLE);
        if (_createInstead(found, g, streamSeed, PICK_PAYABLE)) return;
        uint256 who = (whoSeed >> 1) % 8;
        address caller = who == 0 ? outsider : who == 1 ? g.sender : g.recipient;
        if (caller == g.recipient && g.status == CANCELLING && providerDown[g.providerId]) return;
        InvariantStore.GhostVouchers memory vb = store.getVouchers(g.id);
        (uint256 cumulative, uint8 by, bool best) = _chooseVoucher(g, vb, whichSeed);
        G2Context memory c = _g2Context(g, cumulative, best && caller == g.recipient);
        if (_keeperAwake(whoSeed >> 4)) g = _frontRun(g.id);
        _recipientClose(g, vb, caller, cumulative, by, "closeByRecipient");
        _checkG2(c, "closeByRecipient");
    }

    /*//////////////////////////////////////////////////////////////
                         ACTIONS: THE CONSUMER LEAVES
    //////////////////////////////////////////////////////////////*/

    /// @notice The sender cancels unilaterally (1 in 8 the recipient, 1 in 8 the outsider try: refused), half
    /// the time a stream past its stop time (the consumer cancels late, before it is abandoned). Half the time
    /// it first signs a newer voucher, so what the recipient withdrew with is older; 1 in 4 the greedy
    /// provider withdraws just before it, in the same block. The keeper front-runs the cancel. If the
    /// provider is up, half the time it answers (front-run again): within a minute, in the window's last two
    /// minutes, or up to a minute too late (at or after the window's end: refused, only finalisation is left).
    /// The window is a whole challenge window from the cancel, however late the cancel. If the provider is
    /// down it never answers, and someone finalises after the window.
    /// Seeds: who = whoSeed % 8 (0 recipient, 1 outsider, else sender); bit 8 clear: sign first; bits 9-10
    /// clear: the provider withdraws first; bits 4-6 clear: no keeper awake; bit 12 clear: prefer a stream past
    /// its stop time. answerSeed bit 0 clear: answer; bits 1-2: when (0, 1 promptly, 2 in the last two
    /// minutes, 3 too late), seconds from bits 3-63; bits 64-66 clear: no keeper.
    function cancelStream(uint256 streamSeed, uint256 whoSeed, uint256 answerSeed) external step {
        (bool found, InvariantStore.GhostStream memory g) =
            _pickStream(streamSeed, (whoSeed >> 12) % 2 == 0 ? PICK_DEPLETED : PICK_OPEN);
        if (_createInstead(found, g, streamSeed, PICK_OPEN)) return;
        uint256 who = whoSeed % 8;
        address caller = who == 0 ? g.recipient : who == 1 ? outsider : g.sender;
        if (caller == g.sender && g.status == OPEN && (whoSeed >> 8) % 2 == 0) {
            _signVoucher(g, answerSeed >> 16, whoSeed >> 16);
        }
        if ((whoSeed >> 9) % 4 == 0 && !providerDown[g.providerId]) {
            // The greedy provider withdraws in the same block, just before the cancel.
            _greedyWithdraw(g.id);
            g = store.getStream(g.id);
        }
        if (_keeperAwake(whoSeed >> 4)) g = _frontRun(g.id);
        if (!_cancel(g, caller)) return;
        g = store.getStream(g.id);
        if (g.status != CANCELLING) return;
        if (providerDown[g.providerId]) {
            store.countScenario("cancel while provider down");
            return;
        }
        if (answerSeed % 2 != 0) return; // it answers later (closeByRecipient, providerGreedy), or not at all
        // Counted from the cancel: promptly; back from a short outage in the window's last minutes; or back too
        // late, from the very second the window ends.
        uint256 when = (answerSeed >> 1) % 4;
        uint256 secs = uint64(answerSeed) >> 3;
        if (when < 2) secs = bound(secs, 0, 60);
        else if (when == 2) secs = bound(secs, challengeWindow - 120, challengeWindow - 1);
        else secs = bound(secs, challengeWindow, challengeWindow + 60);
        _advance(secs);
        _recipientActs(g.id, answerSeed >> 64, "cancelStream: the answer");
    }

    /// @notice The sender closes with the provider's final receipt: 1 in 4 for exactly the largest voucher
    /// it signed (an honest consumer), else any amount up to 125% of the deposit. 1 in 10 receipts are
    /// signed by someone else, 1 in 10 are not final. 1 in 8 calls by the outsider, 1 in 8 by the recipient
    /// (refused). The keeper front-runs it.
    function closeWithReceipt(uint256 streamSeed, uint256 amountSeed, uint256 whoSeed) external step {
        (bool found, InvariantStore.GhostStream memory g) = _pickStream(streamSeed, PICK_OPEN);
        if (_createInstead(found, g, streamSeed, PICK_OPEN)) return;
        uint256 who = whoSeed % 8;
        address caller = who == 0 ? outsider : who == 1 ? g.recipient : g.sender;
        uint256 amount = amountSeed % 4 == 0
            ? store.getVouchers(g.id).maxSigned
            : bound(amountSeed >> 2, 0, g.deposited + g.deposited / 4);
        uint256 signerKey = store.getProvider(g.providerId).signerKey;
        uint256 sigKind = (whoSeed >> 8) % 10;
        bool validSig = signerKey != 0 && sigKind > 1;
        bytes memory sig =
            _signReceipt(signerKey == 0 || sigKind == 0 ? outsiderKey : signerKey, g.id, amount, sigKind != 1);
        bool frontRun = _keeperAwake(whoSeed >> 4);
        if (frontRun) g = _frontRun(g.id);
        if (_receiptClose(g, caller, amount, sig, validSig) && frontRun) {
            store.countScenario("receipt close after front-run");
        }
    }

    /*//////////////////////////////////////////////////////////////
                       ACTIONS: KEEPERS, BAD KEYS, OTHERS
    //////////////////////////////////////////////////////////////*/

    /// @notice Anyone runs the keeper: up to 8 ids with duplicates and unknown ones, a third of them picked
    /// among the streams due (abandoned, or cancelled with the window over).
    function batchUpdateStreams(uint256 seed, uint256 countSeed, uint256 callerSeed) external step {
        address caller = callerSeed % 2 == 0
            ? keepers[(callerSeed >> 1) % keepers.length]
            : store.accountAt((callerSeed >> 1) % store.accountCount());
        uint256 n = bound(countSeed, 1, 8);
        uint256 known = store.streamCount();
        uint256[] memory ids = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            uint256 r = uint256(keccak256(abi.encode(seed, i)));
            if (known == 0 || r % 10 == 0) ids[i] = known + 1 + (r >> 8) % 3;
            else if (r % 3 == 0) ids[i] = _dueStream(r >> 8);
            else ids[i] = store.streamIdAt((r >> 8) % known);
        }
        _runBatch(caller, ids, "batchUpdateStreams");
    }

    /// @notice A voucher that must be refused, with its exact error, moving nothing: a session key whose
    /// authorisation expired; one authorised for another stream; one authorised by someone other than the
    /// sender; one posing as the key named at creation; a genuine voucher whose amount was raised; a voucher
    /// signed for another stream. Each claims more than anything the sender signed.
    function badVoucher(uint256 streamSeed, uint256 kindSeed, uint256 callerSeed) external step {
        (bool found, InvariantStore.GhostStream memory g) = _pickStream(streamSeed, PICK_PAYABLE);
        if (_createInstead(found, g, streamSeed, PICK_PAYABLE)) return;
        (IStreamPay.Voucher memory v, bytes memory err, bytes32 label) =
            _badVoucher(g, store.getVouchers(g.id), kindSeed);
        uint256 streamed = _streamedModel(g);
        bytes memory closed = _payableError(g);
        bool reachesCheck = closed.length == 0 && _min(v.cumulative, streamed) > g.withdrawn;
        bool viaClose = reachesCheck && callerSeed % 4 == 0;
        address caller = viaClose || callerSeed % 4 != 1 ? g.recipient : outsider;
        if (closed.length != 0) {
            err = closed;
        } else if (!reachesCheck) {
            err = abi.encodeWithSelector(
                Errors.StreamPay_NothingToWithdraw.selector, g.id, v.cumulative, streamed, g.withdrawn
            );
        }

        Plan memory p = _newPlan(0);
        _watch(p, g.recipient, g.asset);
        _watch(p, g.sender, g.asset);
        _snapshot(p);
        (bool ok, bytes memory ret) = _as(
            caller,
            address(streamPay),
            0,
            viaClose
                ? abi.encodeCall(IStreamPay.closeByRecipient, (g.id, v))
                : abi.encodeCall(IStreamPay.withdrawFromStream, (g.id, v))
        );
        _outcome(Inv.G1, ok, ret, err, string.concat("badVoucher (", _text(label), ")"));
        _verify(p, Inv.G1, "badVoucher: nothing moves");
        bool refused = !ok && keccak256(ret) == keccak256(err);
        if (refused && reachesCheck) store.countScenario(label);
        store.countCall("badVoucher", refused);
    }

    /// @notice A provider goes down (1 in 3) or comes back up.
    function setProviderDown(uint256 providerSeed, uint256 downSeed) external step {
        uint256 providerId = store.providerIdAt(providerSeed % store.providerCount());
        providerDown[providerId] = downSeed % 3 == 0;
        store.countCall("setProviderDown", true);
    }

    function withdrawBalance(uint256 accountSeed, uint256 assetSeed, uint256 toSeed) external step {
        (address account, address asset) = _pickCreditor(accountSeed, assetSeed);
        address to;
        if (toSeed % 10 == 0) to = address(0);
        else if (refusesNative[account] && asset == address(0)) to = toSeed % 3 == 0 ? account : sink;
        else to = toSeed % 4 == 0 ? sink : account;
        uint256 amount = store.credit(account, asset);

        bytes memory err;
        if (to == address(0)) err = abi.encodeWithSelector(Errors.StreamPay_InvalidPayoutAddress.selector, to);
        else if (amount == 0) err = abi.encodeWithSelector(Errors.StreamPay_NoBalance.selector, account, asset);
        else if (asset == address(0) && refusesNative[to]) {
            err = abi.encodeWithSelector(Errors.StreamPay_TransferFailed.selector, asset, to, amount);
        }

        uint256 payBefore = _bal(address(streamPay), asset);
        uint256 toBefore = to == address(0) ? 0 : _bal(to, asset);
        (bool ok, bytes memory ret) =
            _as(account, address(streamPay), 0, abi.encodeCall(IStreamPay.withdrawBalance, (asset, to)));
        bool success = _outcome(Inv.EXITS, ok, ret, err, "withdrawBalance");
        if (err.length == 0) store.countExit(ok);
        store.countCall("withdrawBalance", success);
        if (!success) return;

        _expectEq(Inv.ACCOUNTING, abi.decode(ret, (uint256)), amount, "withdrawBalance: returned amount");
        _expectEq(Inv.SOLVENCY, _bal(address(streamPay), asset), payBefore - amount, "withdrawBalance: balance");
        _expectEq(Inv.ACCOUNTING, _bal(to, asset), toBefore + amount, "withdrawBalance: paid to `to`");
        store.clearCredit(account, asset);
        store.addPaidOut(asset, amount);
    }

    function rateProvider(uint256 streamSeed, uint256 scoreSeed, uint256 whoSeed) external step {
        (bool found, InvariantStore.GhostStream memory g) = _pickStream(streamSeed, PICK_RATEABLE);
        if (!found) return;
        address caller = whoSeed % 5 != 0 ? g.sender : whoSeed % 10 == 0 ? outsider : g.recipient;
        uint8 score = scoreSeed % 10 == 0 ? ((scoreSeed >> 4) % 2 == 0 ? 0 : 6) : uint8(1 + (scoreSeed >> 4) % 5);

        bytes memory err;
        if (score == 0 || score > 5) err = abi.encodeWithSelector(Errors.Registry_InvalidRating.selector, score);
        else if (g.rated) err = abi.encodeWithSelector(Errors.Registry_AlreadyRated.selector, g.id);
        else if (caller != g.sender) {
            err = abi.encodeWithSelector(Errors.Registry_NotStreamSender.selector, g.id, caller, g.sender);
        } else if (g.status == OPEN || g.status == CANCELLING) {
            err = abi.encodeWithSelector(Errors.Registry_StreamNotClosed.selector, g.id, g.status);
        } else if (g.withdrawn == 0) {
            err = abi.encodeWithSelector(Errors.Registry_StreamPaidNothing.selector, g.id);
        }

        (bool ok, bytes memory ret) =
            _as(caller, address(registry), 0, abi.encodeCall(IComputeRegistry.rateProvider, (g.id, score)));
        bool success = _outcome(Inv.ACCESS, ok, ret, err, "rateProvider");
        if (caller != g.sender && score >= 1 && score <= 5 && !g.rated) store.countOutsider(ok);
        store.countCall("rateProvider", success);
        if (!success) return;

        g.rated = true;
        store.setStream(g);
        InvariantStore.GhostProvider memory p = store.getProvider(g.providerId);
        ++p.ratingCount;
        p.ratingSum += score;
        store.setProvider(p);
    }

    function updateProvider(uint256 providerSeed, uint256 opSeed, uint256 valueSeed) external step {
        InvariantStore.GhostProvider memory p =
            store.getProvider(store.providerIdAt(providerSeed % store.providerCount()));
        uint256 op = opSeed % 8;
        address caller = op >= 6 ? outsider : p.wallet;
        bytes memory data;
        bytes memory err;
        uint256 value;
        uint256 newPrice = p.price;
        bool newActive = p.active;

        if (op <= 1 || op == 6) {
            uint256 base = basePrice[p.id];
            newPrice = bound(valueSeed, base / 2 == 0 ? 1 : base / 2, base * 2);
            data = abi.encodeCall(registry.updateProvider, (p.id, newPrice, ENDPOINT, p.active));
        } else if (op == 2) {
            newActive = !p.active;
            data = abi.encodeCall(registry.updateProvider, (p.id, p.price, ENDPOINT, newActive));
            if (newActive && p.stake < minStake) {
                err = abi.encodeWithSelector(Errors.Registry_StakeTooLow.selector, p.stake, minStake);
            }
        } else if (op == 3) {
            value = bound(valueSeed, 1, 2 ether);
            vm.deal(caller, caller.balance + value);
            data = abi.encodeCall(registry.addStake, (p.id));
        } else if (op == 4 || op == 7) {
            data = abi.encodeCall(registry.withdrawStake, (p.id));
            uint256 unlocksAt = p.deactivatedAt + stakeCooldown;
            if (p.active) err = abi.encodeWithSelector(Errors.Registry_ProviderActive.selector, p.id);
            else if (store.time() < unlocksAt) {
                err = abi.encodeWithSelector(Errors.Registry_StakeLocked.selector, p.id, unlocksAt);
            } else if (p.stake == 0) {
                err = abi.encodeWithSelector(Errors.Registry_NoStake.selector, p.id);
            } else if (refusesNative[p.wallet]) {
                err = abi.encodeWithSelector(Errors.Registry_TransferFailed.selector, p.wallet, p.stake);
            }
        } else {
            // op 5: an invalid price is refused
            data = abi.encodeCall(registry.updateProvider, (p.id, 0, ENDPOINT, p.active));
            err = abi.encodeWithSelector(Errors.Registry_InvalidPrice.selector, 0);
        }
        if (caller != p.wallet) {
            // Access is checked before anything else.
            err = abi.encodeWithSelector(Errors.Registry_NotProviderWallet.selector, p.id, caller, p.wallet);
        }

        uint256 registryBefore = address(registry).balance;
        uint256 walletBefore = p.wallet.balance;
        (bool ok, bytes memory ret) = _as(caller, address(registry), value, data);
        bool success = _outcome(caller != p.wallet ? Inv.ACCESS : Inv.SOLVENCY, ok, ret, err, "updateProvider");
        if (caller != p.wallet) store.countOutsider(ok);
        store.countCall("updateProvider", success);
        if (!success) return;

        if (op == 3) {
            p.stake += value;
        } else if (op == 4) {
            _expectEq(Inv.SOLVENCY, p.wallet.balance, walletBefore + p.stake, "withdrawStake: wallet got the stake");
            _expectEq(Inv.SOLVENCY, address(registry).balance, registryBefore - p.stake, "withdrawStake: registry");
            p.stake = 0;
        } else {
            if (p.active && !newActive) p.deactivatedAt = store.time();
            p.active = newActive;
            p.price = newPrice;
        }
        store.setProvider(p);
    }

    /// @notice Parties without the right try what only others may do; every attempt must revert with the
    /// exact error: recordCompletion by anyone but StreamPay (0-2), the sender's receipt close by the
    /// recipient (3), the sender's cancel by the recipient (4), the recipient's close by the sender (5).
    function outsiderAttack(uint256 seed, uint256 kindSeed) external step {
        uint256 kind = kindSeed % 6;
        address caller;
        bytes memory data;
        bytes memory err;
        address target = address(registry);
        if (kind < 3) {
            uint256 providerId = store.providerIdAt(seed % store.providerCount());
            address wallet = store.getProvider(providerId).wallet;
            caller = kind == 0 ? outsider : kind == 1 ? wallet : keepers[seed % keepers.length];
            data = abi.encodeCall(
                IComputeRegistry.recordCompletion, (providerId, 1 + seed % 3, bound(seed, 1, 1e30))
            );
            err = abi.encodeWithSelector(Errors.Registry_OnlyStreamPay.selector, caller);
        } else {
            (bool found, InvariantStore.GhostStream memory g) =
                _pickStream(seed, kind == 5 ? PICK_PAYABLE : PICK_OPEN);
            // The recipient's close by the sender is an access test only while the stream can pay (open, or a
            // cancel inside its window); after that StreamPay refuses everyone with the window's own error.
            if (!found || !_payableNow(g) || (kind != 5 && g.status != OPEN)) return;
            target = address(streamPay);
            if (kind == 3) {
                uint256 key = store.getProvider(g.providerId).signerKey;
                if (key == 0) return;
                caller = g.recipient;
                data = abi.encodeCall(
                    IStreamPay.closeWithReceipt, (g.id, g.deposited, _signReceipt(key, g.id, g.deposited, true))
                );
                err = abi.encodeWithSelector(Errors.StreamPay_NotSender.selector, g.id, caller, g.sender);
            } else if (kind == 4) {
                caller = g.recipient;
                data = abi.encodeCall(IStreamPay.cancelStream, (g.id));
                err = abi.encodeWithSelector(Errors.StreamPay_NotSender.selector, g.id, caller, g.sender);
            } else {
                caller = g.sender;
                InvariantStore.GhostVouchers memory vb = store.getVouchers(g.id);
                (uint256 cumulative, uint8 by) = _best(vb, store.time());
                data = abi.encodeCall(IStreamPay.closeByRecipient, (g.id, _voucher(g, vb, by, cumulative)));
                err = abi.encodeWithSelector(Errors.StreamPay_NotRecipient.selector, g.id, caller, g.recipient);
            }
        }
        (bool ok, bytes memory ret) = _as(caller, target, 0, data);
        _outcome(Inv.ACCESS, ok, ret, err, "outsiderAttack");
        store.countOutsider(ok);
        store.countCall("outsiderAttack", !ok);
    }

    /*//////////////////////////////////////////////////////////////
                          SHARED LOGIC: PAYMENTS
    //////////////////////////////////////////////////////////////*/

    /// @dev The payments a call must make (pushes, where native coin a receiver refuses becomes a credit,
    /// and credits), and the balances before the call of every account a push goes to and of StreamPay.
    struct Plan {
        address[] to;
        address[] asset;
        uint256[] amount;
        bool[] credited;
        bool[] deferred;
        uint256 n;
        address[] watched;
        address[] watchedAsset;
        uint256[] before;
        uint256 nw;
    }

    function _newPlan(uint256 size) private pure returns (Plan memory p) {
        p.to = new address[](size);
        p.asset = new address[](size);
        p.amount = new uint256[](size);
        p.credited = new bool[](size);
        p.deferred = new bool[](size);
        p.watched = new address[](size + 4);
        p.watchedAsset = new address[](size + 4);
        p.before = new uint256[](size + 4);
    }

    /// @dev A push to `to`; native coin to a party that refuses it is credited to its balance instead.
    function _planPush(Plan memory p, address to, address asset, uint256 amount) private view {
        bool deferred = asset == address(0) && refusesNative[to];
        _planAdd(p, to, asset, amount, deferred, deferred);
    }

    /// @dev A credit to `to`'s claimable balance.
    function _planCredit(Plan memory p, address to, address asset, uint256 amount) private pure {
        _planAdd(p, to, asset, amount, true, false);
    }

    function _planAdd(Plan memory p, address to, address asset, uint256 amount, bool credited, bool deferred)
        private
        pure
    {
        if (amount == 0) return;
        p.to[p.n] = to;
        p.asset[p.n] = asset;
        p.amount[p.n] = amount;
        p.credited[p.n] = credited;
        p.deferred[p.n] = deferred;
        ++p.n;
    }

    /// @dev Records the balances before the call: StreamPay's and every push receiver's.
    function _snapshot(Plan memory p) private view {
        _watch(p, address(streamPay), address(0));
        _watch(p, address(streamPay), address(usd));
        for (uint256 i; i < p.n; ++i) {
            if (!p.credited[i]) _watch(p, p.to[i], p.asset[i]);
        }
    }

    /// @dev Also watches the stream's two parties, for a call that must move nothing.
    function _watchParties(Plan memory p, InvariantStore.GhostStream memory g) private view {
        _watch(p, g.recipient, g.asset);
        _watch(p, g.sender, g.asset);
    }

    function _watch(Plan memory p, address who, address asset) private view {
        for (uint256 i; i < p.nw; ++i) {
            if (p.watched[i] == who && p.watchedAsset[i] == asset) return;
        }
        p.watched[p.nw] = who;
        p.watchedAsset[p.nw] = asset;
        p.before[p.nw] = _bal(who, asset);
        ++p.nw;
    }

    /// @dev Every watched balance moved by exactly the planned pushes: StreamPay's down, each receiver's up.
    function _verify(Plan memory p, uint256 inv, string memory what) private {
        for (uint256 w; w < p.nw; ++w) {
            bool isPay = p.watched[w] == address(streamPay);
            uint256 into;
            uint256 out;
            for (uint256 i; i < p.n; ++i) {
                if (p.credited[i] || p.asset[i] != p.watchedAsset[w]) continue;
                if (isPay) out += p.amount[i];
                else if (p.to[i] == p.watched[w]) into += p.amount[i];
            }
            uint256 actual = _bal(p.watched[w], p.watchedAsset[w]);
            if (actual + out != p.before[w] + into) {
                _flag(
                    isPay ? Inv.SOLVENCY : inv,
                    string.concat(
                        what,
                        ": balance of ",
                        p.watched[w].toHexString(),
                        " is ",
                        actual.toString(),
                        ", expected ",
                        p.before[w] + into >= out ? (p.before[w] + into - out).toString() : "less than 0"
                    )
                );
            }
        }
    }

    /// @dev Books a successful call's payments in the model.
    function _commit(Plan memory p) private {
        for (uint256 i; i < p.n; ++i) {
            if (p.credited[i]) store.addCredit(p.to[i], p.asset[i], p.amount[i], p.deferred[i]);
            else store.addPaidOut(p.asset[i], p.amount[i]);
        }
    }

    /*//////////////////////////////////////////////////////////////
                     SHARED LOGIC: WITHDRAWALS AND CLOSES
    //////////////////////////////////////////////////////////////*/

    /// @dev The locals of one predicted call (the legacy pipeline's stack is small).
    struct Act {
        uint256 streamed; // streamed by time now, from the model
        uint256 total; // the recipient side in all after the call
        uint256 amount; // what the call pays the recipient side
        uint256 senderAmount; // what it returns to the sender
        bytes err; // the predicted revert, or empty
        bool ok;
        bytes ret;
        bool success; // succeeded, as predicted
        bool legit; // the caller is the party allowed to make this call
        bool late; // a cancelling stream whose challenge window is over: StreamPay must refuse the call
    }

    /// @dev withdrawFromStream with a voucher for `cumulative` signed `by`.
    function _withdraw(
        InvariantStore.GhostStream memory g,
        InvariantStore.GhostVouchers memory vb,
        address caller,
        uint256 cumulative,
        uint8 by,
        string memory what
    ) private returns (bool) {
        Act memory a;
        a.streamed = _streamedModel(g);
        a.total = _min(cumulative, a.streamed);
        a.late = _pastWindow(g);
        a.err = _payableError(g); // closed, or a cancel whose window is over: checked before anything else
        if (a.err.length == 0 && a.total <= g.withdrawn) {
            a.err = abi.encodeWithSelector(
                Errors.StreamPay_NothingToWithdraw.selector, g.id, cumulative, a.streamed, g.withdrawn
            );
        } else if (a.err.length == 0) {
            a.err = _voucherError(g, vb, by);
        }
        if (a.err.length == 0) a.amount = a.total - g.withdrawn;
        Plan memory p = _newPlan(1);
        _planPush(p, g.recipient, g.asset, a.amount);
        if (a.late) _watchParties(p, g);
        _snapshot(p);
        bytes memory data = abi.encodeCall(IStreamPay.withdrawFromStream, (g.id, _voucher(g, vb, by, cumulative)));
        (a.ok, a.ret) = _as(caller, address(streamPay), 0, data);
        a.success = _outcome(a.late ? Inv.G2 : Inv.EXITS, a.ok, a.ret, a.err, what);
        if (a.err.length == 0) store.countExit(a.ok);
        store.countCall("withdrawFromStream", a.success);
        if (a.late) _refusedAfterWindow(g, p, a, what, "late withdrawal refused");
        if (!a.success) return false;

        _expectEq(Inv.ACCOUNTING, abi.decode(a.ret, (uint256)), a.amount, string.concat(what, ": returned amount"));
        _verify(p, Inv.ACCOUNTING, what);
        _commit(p);
        store.addRecipientSide(g.asset, a.amount);
        g.withdrawn = a.total;
        g.recipientReceived += a.amount;
        store.setStream(g);
        if (a.total > vb.maxSigned) _flag(Inv.G1, string.concat(what, ": paid above every voucher signed"));
        _countPaidBy(g, by);
        return true;
    }

    /// @dev The sender's unilateral cancel. Returns whether it succeeded.
    function _cancel(InvariantStore.GhostStream memory g, address caller) private returns (bool) {
        Act memory a;
        uint256 t = store.time();
        if (g.status != OPEN) {
            a.err = abi.encodeWithSelector(Errors.StreamPay_StreamNotOpen.selector, g.id, g.status);
        } else if (caller != g.sender) {
            a.err = abi.encodeWithSelector(Errors.StreamPay_NotSender.selector, g.id, caller, g.sender);
        } else if (t >= g.stop + gracePeriod) {
            a.err = abi.encodeWithSelector(Errors.StreamPay_StreamAbandoned.selector, g.id, g.stop + gracePeriod);
        }
        a.streamed = _streamedModel(g);
        if (a.err.length == 0) a.senderAmount = g.deposited - a.streamed;
        Plan memory p = _newPlan(1);
        _planPush(p, g.sender, g.asset, a.senderAmount);
        _snapshot(p);
        vm.recordLogs();
        (a.ok, a.ret) = _as(caller, address(streamPay), 0, abi.encodeCall(IStreamPay.cancelStream, (g.id)));
        Vm.Log[] memory logs = vm.getRecordedLogs();
        a.legit = caller == g.sender;
        a.success = _outcome(a.legit ? Inv.EXITS : Inv.ACCESS, a.ok, a.ret, a.err, "cancelStream");
        if (!a.legit && g.status == OPEN) store.countOutsider(a.ok);
        else if (a.legit && a.err.length == 0) store.countExit(a.ok);
        store.countCall("cancelStream", a.success);
        if (!a.success) return false;

        _verify(p, Inv.ACCOUNTING, "cancelStream");
        _commit(p);
        store.addRefunded(g.asset, a.senderAmount);
        g.senderReceived += a.senderAmount;
        // Streaming stops now, or stopped at the stop time (streamed caps there): endTime is the cancel's time.
        g.endTime = t;
        g.cancelAt = t;
        if (store.getVouchers(g.id).maxSigned > g.withdrawn) store.countScenario("cancel after newer vouchers");
        if (t > g.stop) store.countScenario("cancel after the stop time");
        if (t >= g.stop + challengeWindow) store.countScenario("cancel after stop + window");
        if (a.streamed == g.withdrawn) {
            // Everything streamed was already paid: nothing to answer, final at once.
            store.countScenario("cancel final at once");
            g.status = CANCELLED;
            g.closedBy = caller;
            g.closedAt = t;
            _finish(g);
        } else {
            g.status = CANCELLING;
            store.setStream(g);
        }
        _checkWholeWindow(g, a.senderAmount, logs);
        return true;
    }

    /// @dev G2: a cancel leaves the recipient a whole challenge window from the cancel, however late it comes:
    /// the stream's view (and StreamCancelling, when there is something to answer) say the window ends at
    /// cancel time + challengeWindow.
    function _checkWholeWindow(InvariantStore.GhostStream memory g, uint256 senderAmount, Vm.Log[] memory logs)
        private
    {
        uint256 endsAt = _challengeEndsAt(g);
        uint256 seen;
        for (uint256 i; i < logs.length; ++i) {
            Vm.Log memory log = logs[i];
            if (log.emitter != address(streamPay) || log.topics.length < 3) continue;
            if (log.topics[0] != IStreamPay.StreamCancelling.selector || uint256(log.topics[1]) != g.id) continue;
            ++seen;
            (uint256 amount, uint256 challengeEndsAt) = abi.decode(log.data, (uint256, uint256));
            _expectEq(Inv.ACCOUNTING, amount, senderAmount, "StreamCancelling: the sender's amount");
            _expectEq(Inv.G2, challengeEndsAt, endsAt, "StreamCancelling: challengeEndsAt = cancel time + window");
        }
        _expectEq(Inv.ACCOUNTING, seen, g.status == CANCELLING ? 1 : 0, "StreamCancelling once, unless final at once");
        _expectEq(
            Inv.G2,
            streamPay.getStreamView(g.id).challengeEndsAt,
            endsAt,
            "cancelStream: the view's challengeEndsAt = cancel time + window"
        );
    }

    /// @dev closeWithReceipt. Returns whether it succeeded.
    function _receiptClose(
        InvariantStore.GhostStream memory g,
        address caller,
        uint256 amount,
        bytes memory sig,
        bool validSig
    ) private returns (bool) {
        Act memory a;
        if (g.status != OPEN) {
            a.err = abi.encodeWithSelector(Errors.StreamPay_StreamNotOpen.selector, g.id, g.status);
        } else if (caller != g.sender) {
            a.err = abi.encodeWithSelector(Errors.StreamPay_NotSender.selector, g.id, caller, g.sender);
        } else if (!validSig) {
            a.err = abi.encodeWithSelector(Errors.StreamPay_InvalidReceiptSignature.selector, g.id, g.recipient);
        }
        a.total = _min(amount, _streamedModel(g));
        if (a.total < g.withdrawn) a.total = g.withdrawn; // what was paid stays paid
        a.amount = a.total - g.withdrawn;
        a.senderAmount = g.deposited - a.total;
        Plan memory p = _newPlan(2);
        if (a.err.length == 0) {
            _planCredit(p, g.recipient, g.asset, a.amount);
            _planPush(p, g.sender, g.asset, a.senderAmount);
        }
        _snapshot(p);
        (a.ok, a.ret) = _as(
            caller, address(streamPay), 0, abi.encodeCall(IStreamPay.closeWithReceipt, (g.id, amount, sig))
        );
        a.legit = caller == g.sender;
        a.success = _outcome(a.legit ? Inv.EXITS : Inv.ACCESS, a.ok, a.ret, a.err, "closeWithReceipt");
        if (!a.legit && g.status == OPEN) store.countOutsider(a.ok);
        else if (a.legit && a.err.length == 0) store.countExit(a.ok);
        store.countCall("closeWithReceipt", a.success);
        if (!a.success) return false;

        _verify(p, Inv.ACCOUNTING, "closeWithReceipt");
        _commit(p);
        g.receiptUsed = true;
        g.receiptAmount = amount;
        g.endTime = store.time();
        _bookClose(g, a, CLOSED, caller);
        return true;
    }

    /// @dev closeByRecipient with a voucher for `cumulative` signed `by`: a close of an open stream or the
    /// answer to a cancel. Returns whether it succeeded.
    function _recipientClose(
        InvariantStore.GhostStream memory g,
        InvariantStore.GhostVouchers memory vb,
        address caller,
        uint256 cumulative,
        uint8 by,
        string memory what
    ) private returns (bool) {
        Act memory a;
        a.streamed = _streamedModel(g);
        a.total = _min(cumulative, a.streamed);
        a.late = _pastWindow(g);
        a.err = _payableError(g); // closed, or a cancel whose window is over: checked before the caller
        if (a.err.length == 0 && caller != g.recipient) {
            a.err = abi.encodeWithSelector(Errors.StreamPay_NotRecipient.selector, g.id, caller, g.recipient);
        } else if (a.err.length == 0 && a.total > g.withdrawn) {
            a.err = _voucherError(g, vb, by);
        }
        if (a.total < g.withdrawn) a.total = g.withdrawn; // a claim at or below what was paid releases the stream
        bool answers = g.status == CANCELLING;
        a.amount = a.total - g.withdrawn;
        // A cancel already returned everything unstreamed: only streamed - total is left for the sender.
        a.senderAmount = (answers ? a.streamed : g.deposited) - a.total;
        Plan memory p = _newPlan(2);
        if (a.err.length == 0) {
            _planCredit(p, g.recipient, g.asset, a.amount);
            _planPush(p, g.sender, g.asset, a.senderAmount);
        }
        if (a.late) _watchParties(p, g);
        _snapshot(p);
        bytes memory data = abi.encodeCall(IStreamPay.closeByRecipient, (g.id, _voucher(g, vb, by, cumulative)));
        (a.ok, a.ret) = _as(caller, address(streamPay), 0, data);
        a.legit = caller == g.recipient;
        a.success = _outcome(a.late ? Inv.G2 : a.legit ? Inv.EXITS : Inv.ACCESS, a.ok, a.ret, a.err, what);
        if (!a.legit && _payableNow(g)) store.countOutsider(a.ok);
        else if (a.legit && a.err.length == 0) store.countExit(a.ok);
        store.countCall("closeByRecipient", a.success);
        if (a.late) {
            _refusedAfterWindow(g, p, a, what, a.legit ? bytes32("late answer refused") : bytes32(0));
        }
        if (!a.success) return false;

        _verify(p, Inv.ACCOUNTING, what);
        _commit(p);
        if (a.amount > 0) _countPaidBy(g, by);
        if (!answers) g.endTime = store.time(); // an answer keeps the cancel's time
        _bookClose(g, a, answers ? CANCELLED : CLOSED, caller);
        return true;
    }

    /// @dev Books a close by a party: the recipient side grows to `a.total`, the sender gets `a.senderAmount`.
    function _bookClose(InvariantStore.GhostStream memory g, Act memory a, uint8 status, address caller) private {
        store.addRecipientSide(g.asset, a.amount);
        store.addRefunded(g.asset, a.senderAmount);
        g.recipientReceived += a.amount;
        g.senderReceived += a.senderAmount;
        g.withdrawn = a.total;
        g.status = status;
        g.closedBy = caller;
        g.closedAt = store.time();
        _finish(g);
    }

    /// @dev The recipient closes (or answers a cancel) with its best valid voucher; the keeper front-runs it
    /// unless `seed` says no keeper is awake. G2 is checked against what it saw before the front-run.
    function _recipientActs(uint256 streamId, uint256 seed, string memory what) private returns (bool closed) {
        InvariantStore.GhostStream memory g = store.getStream(streamId);
        InvariantStore.GhostVouchers memory vb = store.getVouchers(streamId);
        (uint256 cumulative, uint8 by) = _best(vb, store.time());
        G2Context memory c = _g2Context(g, cumulative, true);
        if (_keeperAwake(seed)) g = _frontRun(streamId);
        closed = _recipientClose(g, vb, g.recipient, cumulative, by, what);
        _checkG2(c, what);
    }

    /// @dev A stream reached a final status: record the completion StreamPay reports to the registry, store
    /// it, and check G1 (the sender paid at most what it signed) and G3 (what it paid is the recipient side).
    function _finish(InvariantStore.GhostStream memory g) private {
        if (g.withdrawn > 0) _recordCompletion(g.providerId, g.withdrawn);
        store.setStream(g);
        if (g.recipientReceived + g.keeperReceived != g.withdrawn) {
            _flag(Inv.G3, string.concat("stream ", g.id.toString(), ": recipient side received != withdrawn"));
        }
        if (g.status == SETTLED) return;
        uint256 net = g.deposited - g.senderReceived;
        if (net != g.withdrawn) {
            _flag(Inv.G3, string.concat("stream ", g.id.toString(), ": sender paid != recipient side"));
        }
        uint256 maxSigned = store.getVouchers(g.id).maxSigned;
        uint256 cap = g.receiptUsed && g.receiptAmount > maxSigned ? g.receiptAmount : maxSigned;
        if (net > cap) {
            _flag(
                Inv.G1,
                string.concat(
                    "stream ",
                    g.id.toString(),
                    ": sender paid ",
                    net.toString(),
                    " but signed at most ",
                    maxSigned.toString(),
                    g.receiptUsed ? string.concat(" (final receipt ", g.receiptAmount.toString(), ")") : ""
                )
            );
        }
    }

    function _recordCompletion(uint256 providerId, uint256 earned) private {
        InvariantStore.GhostProvider memory p = store.getProvider(providerId);
        ++p.completions;
        p.earned += earned;
        store.setProvider(p);
    }

    /*//////////////////////////////////////////////////////////////
                          SHARED LOGIC: THE KEEPER
    //////////////////////////////////////////////////////////////*/

    /// @dev Batch simulation: the streams the batch touches, updated in order (a duplicate id sees the first
    /// occurrence's effect), and the keeper's reward per asset.
    struct BatchSim {
        InvariantStore.GhostStream[] touched;
        uint256 touchedCount;
        uint256 count;
        uint256 nativeReward;
        uint256 usdReward;
        uint256 settledEvents; // abandoned streams settled: one StreamSettled each
    }

    /// @dev batchUpdateStreams(ids) by `caller`, predicted stream by stream. Returns the number closed.
    function _runBatch(address caller, uint256[] memory ids, bytes32 action) private returns (uint256) {
        BatchSim memory sim;
        sim.touched = new InvariantStore.GhostStream[](ids.length);
        Plan memory p = _newPlan(ids.length + 2);
        uint256 known = store.streamCount();
        for (uint256 i; i < ids.length; ++i) {
            if (ids[i] == 0 || ids[i] > known) continue; // unknown: skipped by the contract
            _simulate(sim, p, _touch(sim, ids[i]), caller);
        }
        _planPush(p, caller, address(0), sim.nativeReward);
        _planPush(p, caller, address(usd), sim.usdReward);
        _snapshot(p);
        vm.recordLogs();
        (bool ok, bytes memory ret) =
            _as(caller, address(streamPay), 0, abi.encodeCall(IStreamPay.batchUpdateStreams, (ids)));
        Vm.Log[] memory logs = vm.getRecordedLogs();
        bool success = _outcome(Inv.EXITS, ok, ret, "", "batchUpdateStreams");
        if (sim.count > 0) store.countExit(ok);
        if (!ok && sim.settledEvents > 0) _flag(Inv.G4, "batchUpdateStreams reverted with abandoned streams due");
        store.countCall(action, success);
        if (!success) return 0;

        _expectEq(Inv.ACCOUNTING, abi.decode(ret, (uint256)), sim.count, "batchUpdateStreams: count closed");
        _verify(p, Inv.ACCOUNTING, "batchUpdateStreams");
        _commit(p);
        _checkSettledEvents(sim, logs);
        _commitBatch(sim, caller);
        return sim.count;
    }

    /// @dev One id of a batch: an abandoned open stream is settled by time (the recipient side gets the whole
    /// deposit, the keeper 10 bps of what it settles); a cancel whose window is over is finalised (the sender
    /// gets streamed - withdrawn); anything else is skipped.
    function _simulate(BatchSim memory sim, Plan memory p, uint256 slot, address caller) private view {
        InvariantStore.GhostStream memory g = sim.touched[slot];
        uint256 t = store.time();
        if (g.status == OPEN && t >= g.stop + gracePeriod) {
            uint256 amount = g.deposited - g.withdrawn;
            uint256 reward = amount * KEEPER_BPS / 10_000;
            _planCredit(p, g.recipient, g.asset, amount - reward);
            if (g.asset == address(0)) sim.nativeReward += reward;
            else sim.usdReward += reward;
            g.recipientReceived += amount - reward;
            g.keeperReceived += reward;
            g.settledAmount = amount;
            g.withdrawn = g.deposited;
            g.endTime = t; // the settlement's time; streamed stays capped at the stop time
            g.status = SETTLED;
        } else if (g.status == CANCELLING && t >= _challengeEndsAt(g)) {
            uint256 senderAmount = _streamedModel(g) - g.withdrawn;
            _planPush(p, g.sender, g.asset, senderAmount);
            g.senderReceived += senderAmount;
            g.status = CANCELLED;
        } else {
            return;
        }
        g.closedBy = caller;
        g.closedAt = t;
        ++sim.count;
        if (g.status == SETTLED) ++sim.settledEvents;
    }

    /// @dev G4 from the events: each StreamSettled names a stream the model settled, with the amount it
    /// settled and exactly 10 bps of it as the keeper's reward.
    function _checkSettledEvents(BatchSim memory sim, Vm.Log[] memory logs) private {
        uint256 seen;
        for (uint256 i; i < logs.length; ++i) {
            Vm.Log memory log = logs[i];
            if (log.emitter != address(streamPay) || log.topics.length < 2) continue;
            if (log.topics[0] != IStreamPay.StreamSettled.selector) continue;
            ++seen;
            uint256 streamId = uint256(log.topics[1]);
            (uint256 amount, uint256 reward) = abi.decode(log.data, (uint256, uint256));
            uint256 expected = type(uint256).max;
            for (uint256 s; s < sim.touchedCount; ++s) {
                if (sim.touched[s].id == streamId && sim.touched[s].status == SETTLED) {
                    expected = sim.touched[s].settledAmount;
                }
            }
            _expectEq(Inv.G4, amount, expected, string.concat("StreamSettled amount of stream ", streamId.toString()));
            _expectEq(Inv.G4, reward, amount * KEEPER_BPS / 10_000, "StreamSettled reward = 10 bps of the amount");
        }
        _expectEq(Inv.G4, seen, sim.settledEvents, "one StreamSettled per abandoned stream settled");
    }

    /// @dev Books the streams a successful batch closed.
    function _commitBatch(BatchSim memory sim, address caller) private {
        bool isKeeper;
        for (uint256 k; k < keepers.length; ++k) {
            if (keepers[k] == caller) isKeeper = true;
        }
        for (uint256 i; i < sim.touchedCount; ++i) {
            InvariantStore.GhostStream memory g = sim.touched[i];
            InvariantStore.GhostStream memory before = store.getStream(g.id);
            if (g.status == before.status) continue;
            if (g.status == SETTLED) {
                store.addRecipientSide(g.asset, g.settledAmount);
                store.addKeeperRewards(g.asset, g.keeperReceived - before.keeperReceived);
                store.countScenario(
                    isKeeper ? bytes32("abandoned settled by a keeper") : bytes32("abandoned settled by anyone")
                );
                if (g.recipientReceived + g.keeperReceived != g.deposited) {
                    _flag(Inv.G4, string.concat("stream ", g.id.toString(), ": settled, but not all of the deposit"));
                }
            } else {
                store.addRefunded(g.asset, g.senderReceived - before.senderReceived);
                store.countScenario(
                    providerDown[g.providerId]
                        ? bytes32("down provider's cancel finalised")
                        : isKeeper ? bytes32("cancel finalised by a keeper") : bytes32("cancel finalised by anyone")
                );
            }
            _finish(g);
        }
    }

    /// @dev The keeper front-runs a close: batchUpdateStreams on that stream, same block, just before it.
    function _frontRun(uint256 streamId) private returns (InvariantStore.GhostStream memory) {
        uint256[] memory ids = new uint256[](1);
        ids[0] = streamId;
        uint256 closed = _runBatch(keepers[0], ids, "keeper front-run");
        store.countScenario(closed > 0 ? bytes32("front-run closed the stream") : bytes32("front-run changed nothing"));
        return store.getStream(streamId);
    }

    /// @dev 7 closes in 8 have the keeper awake to front-run them.
    function _keeperAwake(uint256 seed) private pure returns (bool) {
        return seed % 8 != 0;
    }

    function _touch(BatchSim memory sim, uint256 streamId) private view returns (uint256 slot) {
        for (; slot < sim.touchedCount; ++slot) {
            if (sim.touched[slot].id == streamId) return slot;
        }
        sim.touched[slot] = store.getStream(streamId);
        ++sim.touchedCount;
    }

    /// @dev A stream a keeper may close now (abandoned, or cancelled with its window over), searched from
    /// the seed's pick; else the seed's pick.
    function _dueStream(uint256 seed) private view returns (uint256) {
        uint256 count = store.streamCount();
        uint256 t = store.time();
        for (uint256 i; i < count; ++i) {
            uint256 id = (seed + i) % count + 1;
            InvariantStore.GhostStream memory g = store.getStream(id);
            if (g.status == OPEN && t >= g.stop + gracePeriod) return id;
            if (g.status == CANCELLING && t >= _challengeEndsAt(g)) return id;
        }
        return seed % count + 1;
    }

    /*//////////////////////////////////////////////////////////////
                            SHARED LOGIC: G2
    //////////////////////////////////////////////////////////////*/

    /// @dev What the recipient saw when it acted: the stream's state and min(its voucher, streamed).
    struct G2Context {
        bool active; // the recipient acted with its best valid voucher on an open or cancelling stream
        uint256 streamId;
        uint8 status;
        uint256 time;
        uint256 cancelAt;
        uint256 entitled;
    }

    function _g2Context(InvariantStore.GhostStream memory g, uint256 cumulative, bool recipientWithBest)
        private
        view
        returns (G2Context memory c)
    {
        c.active = recipientWithBest && _isPayable(g.status);
        c.streamId = g.id;
        c.status = g.status;
        c.time = store.time();
        c.cancelAt = g.cancelAt;
        c.entitled = _min(cumulative, _streamedModel(g));
    }

    /// @dev G2: after the recipient acted with its best valid voucher, the recipient side holds at least
    /// min(that voucher, streamed). Promised while the stream is open, and for an answer to a cancel before
    /// cancel time + challengeWindow: the whole window the interface promises, counted from the cancel by the
    /// model (never from the contract's endTime), so a keeper that finalises early shows up here.
    function _checkG2(G2Context memory c, string memory what) private {
        if (!c.active) return;
        if (c.status != OPEN && c.time >= c.cancelAt + challengeWindow) return; // late: refused, checked apart
        InvariantStore.GhostVouchers memory vb = store.getVouchers(c.streamId);
        if (c.entitled > vb.g2Entitled) {
            vb.g2Entitled = c.entitled;
            store.setVouchers(c.streamId, vb);
        }
        store.countScenario(
            c.status == CANCELLING
                ? bytes32("answered a cancel in the window")
                : bytes32("recipient took its best voucher")
        );
        uint256 held = streamPay.getStream(c.streamId).withdrawn;
        if (held >= c.entitled) return;
        string memory reason = string.concat(
            what,
            ": stream ",
            c.streamId.toString(),
            ": the recipient side holds ",
            held.toString(),
            " < min(best voucher, streamed) = ",
            c.entitled.toString(),
            " at ",
            c.time.toString()
        );
        if (c.status == CANCELLING) {
            reason = string.concat(
                reason,
                "; cancelled at ",
                c.cancelAt.toString(),
                ", window until ",
                (c.cancelAt + challengeWindow).toString()
            );
        }
        _flag(Inv.G2, reason);
    }

    /// @dev After a cancel's window, only finalisation is left: a withdrawal or an answer must have been refused
    /// (StreamPay_ChallengeWindowClosed, predicted in `a.err`), moving nothing: every watched balance (StreamPay,
    /// the recipient, the sender) is unchanged, and withdrawableAmountOf says 0 whatever the claim.
    function _refusedAfterWindow(
        InvariantStore.GhostStream memory g,
        Plan memory p,
        Act memory a,
        string memory what,
        bytes32 scenario
    ) private {
        _verify(p, Inv.G2, string.concat(what, " after the window: nothing moves"));
        _expectEq(
            Inv.G2, streamPay.withdrawableAmountOf(g.id, type(uint256).max), 0, "withdrawable after the window is 0"
        );
        if (!a.ok && keccak256(a.ret) == keccak256(a.err) && scenario != bytes32(0)) store.countScenario(scenario);
    }

    /// @dev When the recipient's window to answer the cancel of `g` ends: a whole challenge window from the
    /// moment its sender cancelled, however late that was.
    function _challengeEndsAt(InvariantStore.GhostStream memory g) private view returns (uint256) {
        return g.cancelAt + challengeWindow;
    }

    /// @dev A cancelling stream whose window is over: nobody may pay from it or answer it any more.
    function _pastWindow(InvariantStore.GhostStream memory g) private view returns (bool) {
        return g.status == CANCELLING && store.time() >= _challengeEndsAt(g);
    }

    /// @dev Whether `g` can still pay its recipient: open, or cancelling inside its window.
    function _payableNow(InvariantStore.GhostStream memory g) private view returns (bool) {
        return _isPayable(g.status) && !_pastWindow(g);
    }

    /// @dev The error StreamPay must give, before any other check, to a withdrawal from or a recipient's close
    /// of `g` now; empty while it can pay.
    function _payableError(InvariantStore.GhostStream memory g) private view returns (bytes memory) {
        if (!_isPayable(g.status)) {
            return abi.encodeWithSelector(Errors.StreamPay_StreamClosed.selector, g.id, g.status);
        }
        if (_pastWindow(g)) {
            return abi.encodeWithSelector(Errors.StreamPay_ChallengeWindowClosed.selector, g.id, _challengeEndsAt(g));
        }
        return "";
    }

    /*//////////////////////////////////////////////////////////////
                          SHARED LOGIC: VOUCHERS
    //////////////////////////////////////////////////////////////*/

    /// @dev A private key derived from a tag and a stream id, inside the secp256k1 range.
    function _key(string memory tag, uint256 streamId) internal pure returns (uint256) {
        return uint256(keccak256(abi.encode(tag, streamId))) % (SECP256K1_N - 1) + 1;
    }

    /// @dev The hashStruct of the Request a voucher was sent with: the all-zero Request for a voucher sent on
    /// its own (one in three), else a request of its own.
    function _requestHash(uint256 streamId, uint256 cumulative) private pure returns (bytes32) {
        if (cumulative % 3 == 0) return keccak256(abi.encode(REQUEST_TYPEHASH, bytes32(0), uint256(0), uint256(0)));
        bytes32 bodyHash = keccak256(abi.encode("body", streamId, cumulative));
        return keccak256(abi.encode(REQUEST_TYPEHASH, bodyHash, cumulative, uint256(type(uint32).max)));
    }

    /// @dev A genuine voucher for `cumulative` signed `by` the sender, its named key or its authorised key.
    function _voucher(
        InvariantStore.GhostStream memory g,
        InvariantStore.GhostVouchers memory vb,
        uint8 by,
        uint256 cumulative
    ) private view returns (IStreamPay.Voucher memory v) {
        v.cumulative = cumulative;
        v.request = _requestHash(g.id, cumulative);
        if (by == BY_NOBODY) return v;
        bytes32 digest = _spendDigest(g.id, cumulative, v.request);
        if (by == BY_SENDER) {
            v.signature = _sign(signerKeyOf[g.sender], digest);
            return v;
        }
        uint256 pk = _key(by == BY_NAMED_KEY ? "named" : "session", g.id);
        v.signature = _sign(pk, digest);
        v.sessionKey = vm.addr(pk);
        if (by == BY_SESSION_KEY) {
            v.sessionExpiry = vb.sessionExpiry;
            v.sessionSignature = _sign(signerKeyOf[g.sender], _sessionDigest(g.id, v.sessionKey, vb.sessionExpiry));
        }
    }

    /// @dev Why StreamPay must refuse a genuine voucher signed `by` when it claims more than was paid: an
    /// unsigned claim, or an authorised key past its expiry. Empty when it is valid.
    function _voucherError(InvariantStore.GhostStream memory g, InvariantStore.GhostVouchers memory vb, uint8 by)
        private
        view
        returns (bytes memory)
    {
        if (by == BY_NOBODY) {
            return abi.encodeWithSelector(Errors.StreamPay_InvalidVoucherSignature.selector, g.id, g.sender);
        }
        if (by == BY_SESSION_KEY && store.time() > vb.sessionExpiry) {
            return abi.encodeWithSelector(
                Errors.StreamPay_SessionKeyExpired.selector, g.id, vm.addr(_key("session", g.id)), vb.sessionExpiry
            );
        }
        return "";
    }

    /// @dev The recipient's best voucher valid at `t`: its best permanent one, or its best session-key one
    /// while the key's authorisation lasts. (0, BY_NOBODY) when it holds none.
    function _best(InvariantStore.GhostVouchers memory vb, uint256 t) private pure returns (uint256, uint8) {
        if (vb.bestSession > vb.bestPermanent && t <= vb.sessionExpiry) return (vb.bestSession, BY_SESSION_KEY);
        return (vb.bestPermanent, vb.bestPermanentBy);
    }

    /// @dev The voucher a recipient-side call presents: its best valid one (6 in 8), the latest one signed
    /// (1 in 8), or an unsigned claim at or below what was already paid (1 in 8).
    function _chooseVoucher(
        InvariantStore.GhostStream memory g,
        InvariantStore.GhostVouchers memory vb,
        uint256 seed
    ) private view returns (uint256 cumulative, uint8 by, bool best) {
        uint256 which = seed % 8;
        if (which == 0 && vb.lastBy != BY_NOBODY) return (vb.last, vb.lastBy, false);
        if (which == 1) return (bound(seed >> 3, 0, g.withdrawn), BY_NOBODY, false);
        (cumulative, by) = _best(vb, store.time());
        best = true;
    }

    /// @dev A voucher StreamPay must refuse (see {badVoucher}), the error it must give, and its scenario.
    function _badVoucher(
        InvariantStore.GhostStream memory g,
        InvariantStore.GhostVouchers memory vb,
        uint256 seed
    ) private view returns (IStreamPay.Voucher memory v, bytes memory err, bytes32 label) {
        uint256 kind = seed % 6;
        uint256 t = store.time();
        uint256 otherId = g.id + 1 + (seed >> 4) % 3;
        // The sender's own key, or, for a sender that cannot sign, the outsider's (refused all the same).
        uint256 authKey = signerKeyOf[g.sender] != 0 ? signerKeyOf[g.sender] : outsiderKey;
        uint256 cumulative = vb.maxSigned + 1 + bound(seed >> 8, 0, g.deposited);
        if (kind == 4) {
            // A genuine voucher whose amount was raised after signing.
            (uint256 base, uint8 by) = _best(vb, t);
            if (by == BY_NOBODY) by = vb.namedKey != address(0) ? BY_NAMED_KEY : BY_SENDER;
            v = _voucher(g, vb, by, base);
            v.cumulative = cumulative;
            address signer = by == BY_SENDER ? g.sender : v.sessionKey;
            err = abi.encodeWithSelector(Errors.StreamPay_InvalidVoucherSignature.selector, g.id, signer);
            return (v, err, "bad voucher: amount raised");
        }
        v.cumulative = cumulative;
        v.request = _requestHash(g.id, cumulative);
        if (kind == 5) {
            // A voucher the sender (or its named key) signed for another stream.
            uint256 pk = signerKeyOf[g.sender] != 0 ? signerKeyOf[g.sender] : _key("named", g.id);
            v.signature = _sign(pk, _spendDigest(otherId, cumulative, v.request));
            if (signerKeyOf[g.sender] == 0) v.sessionKey = vm.addr(pk);
            address signer = v.sessionKey == address(0) ? g.sender : v.sessionKey;
            err = abi.encodeWithSelector(Errors.StreamPay_InvalidVoucherSignature.selector, g.id, signer);
            return (v, err, "bad voucher: another stream's");
        }
        // A session key (not one the sender authorised for this stream) signs the voucher itself.
        uint256 rogue = _key(kind == 3 ? "named" : "rogue", kind == 3 ? otherId : g.id);
        v.sessionKey = vm.addr(rogue);
        v.signature = _sign(rogue, _spendDigest(g.id, cumulative, v.request));
        err = abi.encodeWithSelector(
            Errors.StreamPay_InvalidSessionKeySignature.selector, g.id, v.sessionKey, g.sender
        );
        if (kind == 3) return (v, err, "bad key: not the named one"); // no authorisation: claims to be named
        v.sessionExpiry = t + bound(seed >> 16, 0, 1 hours);
        if (kind == 0) {
            // Authorised by the sender, but that authorisation expired.
            v.sessionExpiry = t - 1 - bound(seed >> 16, 0, 1 hours);
            v.sessionSignature = _sign(authKey, _sessionDigest(g.id, v.sessionKey, v.sessionExpiry));
            err = abi.encodeWithSelector(
                Errors.StreamPay_SessionKeyExpired.selector, g.id, v.sessionKey, v.sessionExpiry
            );
            return (v, err, "bad key: expired");
        }
        if (kind == 1) {
            // Authorised by the sender, for another stream.
            v.sessionSignature = _sign(authKey, _sessionDigest(otherId, v.sessionKey, v.sessionExpiry));
            return (v, err, "bad key: another stream's");
        }
        // Authorised by someone other than the sender: the outsider, the recipient or another sender.
        bytes32 authDigest = _sessionDigest(g.id, v.sessionKey, v.sessionExpiry);
        v.sessionSignature = _sign(_otherAuthoriser(g, seed >> 32), authDigest);
        return (v, err, "bad key: not the sender's");
    }

    /// @dev A signing key that is not the sender's: the outsider's, the recipient's, or another sender's.
    function _otherAuthoriser(InvariantStore.GhostStream memory g, uint256 seed) private view returns (uint256) {
        uint256 pick = seed % 3;
        if (pick == 1) {
            uint256 recipientKey = store.getProvider(g.providerId).signerKey;
            if (recipientKey != 0) return recipientKey;
        } else if (pick == 2) {
            for (uint256 i; i < senders.length; ++i) {
                uint256 key = signerKeyOf[senders[(seed + i) % senders.length]];
                if (key != 0 && senders[(seed + i) % senders.length] != g.sender) return key;
            }
        }
        return outsiderKey;
    }

    function _countPaidBy(InvariantStore.GhostStream memory g, uint8 by) private {
        if (by == BY_SENDER) {
            store.countScenario(
                walletOwner[g.sender] != address(0)
                    ? bytes32("paid: ERC-1271 sender's voucher")
                    : bytes32("paid: sender's voucher")
            );
        } else if (by == BY_NAMED_KEY) {
            store.countScenario("paid: named key's voucher");
        } else if (by == BY_SESSION_KEY) {
            store.countScenario("paid: session key's voucher");
        }
    }

    function _domainSeparator() private view returns (bytes32) {
        return keccak256(
            abi.encode(DOMAIN_TYPEHASH, keccak256("StreamPay"), keccak256("1"), block.chainid, address(streamPay))
        );
    }

    function _spendDigest(uint256 streamId, uint256 cumulative, bytes32 request) private view returns (bytes32) {
        bytes32 structHash = keccak256(abi.encode(SPEND_TYPEHASH, streamId, cumulative, request));
        return keccak256(abi.encodePacked("\x19\x01", _domainSeparator(), structHash));
    }

    function _sessionDigest(uint256 streamId, address key, uint256 expiry) private view returns (bytes32) {
        bytes32 structHash = keccak256(abi.encode(SESSION_KEY_TYPEHASH, streamId, key, expiry));
        return keccak256(abi.encodePacked("\x19\x01", _domainSeparator(), structHash));
    }

    function _signReceipt(uint256 key, uint256 streamId, uint256 amount, bool isFinal)
        private
        view
        returns (bytes memory)
    {
        bytes32 structHash = keccak256(abi.encode(RECEIPT_TYPEHASH, streamId, amount, isFinal));
        return _sign(key, keccak256(abi.encodePacked("\x19\x01", _domainSeparator(), structHash)));
    }

    function _sign(uint256 key, bytes32 digest) private pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }

    /*//////////////////////////////////////////////////////////////
                          SHARED LOGIC: THE MODEL
    //////////////////////////////////////////////////////////////*/

    /// @dev Checks every stream's streamed amount: rate * (min(now, stop, endTime) - start), never below the
    /// previous observation, never above the deposit, and never below what the recipient side took (G3).
    /// Records the observation.
    function _observeStreamed() private {
        uint256 count = store.streamCount();
        uint256 t = store.time();
        for (uint256 id = 1; id <= count; ++id) {
            (uint256 rate, uint256 start, uint256 stop, uint256 endTime, uint256 dep, uint256 wd, uint256 last) =
                store.timeline(id);
            uint256 actual = streamPay.streamedAmountOf(id);
            uint256 end = endTime != 0 && endTime < stop ? endTime : stop;
            uint256 expected = t <= start ? 0 : rate * ((t < end ? t : end) - start);
            _expectEq(Inv.STREAMED, actual, expected, "streamed = rate * (min(now, stop, endTime) - start)");
            if (actual < last) _flag(Inv.STREAMED, string.concat("streamed decreased on stream ", id.toString()));
            if (actual > dep) _flag(Inv.STREAMED, string.concat("streamed above deposit on stream ", id.toString()));
            if (wd > actual) _flag(Inv.G3, string.concat("recipient side above streamed on stream ", id.toString()));
            if (actual != last) store.setLastStreamed(id, actual);
        }
    }

    /// @dev streamed(t) from the model: rate * (min(t, stop, endTime) - start), 0 until start.
    function _streamedModel(InvariantStore.GhostStream memory g) private view returns (uint256) {
        uint256 t = store.time();
        uint256 end = g.endTime != 0 && g.endTime < g.stop ? g.endTime : g.stop;
        if (t <= g.start) return 0;
        if (t > end) t = end;
        return g.rate * (t - g.start);
    }

    function _isPayable(uint8 status) private pure returns (bool) {
        return status == OPEN || status == CANCELLING;
    }

    function _fits(uint256 streamId, uint8 mode) private view returns (bool) {
        if (mode == PICK_RATEABLE) return store.isRateable(streamId);
        uint8 status = store.statusOf(streamId);
        if (mode == PICK_OPEN) return status == OPEN;
        if (mode == PICK_CANCELLING) return status == CANCELLING;
        if (mode == PICK_DEPLETED) {
            InvariantStore.GhostStream memory g = store.getStream(streamId);
            return status == OPEN && store.time() >= g.stop && store.time() < g.stop + gracePeriod;
        }
        return status == OPEN || (status == CANCELLING && _payableNow(store.getStream(streamId)));
    }

    /// @dev A stream picked by seed (index: low 128 bits modulo the count): 7 in 8 ((seed >> 200) % 8 != 0),
    /// the first from the seed's pick on that fits `mode` (for PICK_CANCELLING and PICK_DEPLETED, falling back
    /// to payable and open streams); 1 in 8, whatever the seed points at, so invalid targets are still
    /// exercised now and then.
    function _pickStream(uint256 seed, uint8 mode)
        private
        view
        returns (bool found, InvariantStore.GhostStream memory g)
    {
        uint256 count = store.streamCount();
        if (count == 0) return (false, g);
        // Stream ids run from 1 to count (every stream is created through this handler). The index comes from
        // the low 128 bits only, so the scan flag in bit 200 does not move it.
        uint256 first = uint128(seed) % count;
        if ((seed >> 200) % 8 != 0) {
            (bool hit, uint256 id) = _scan(first, count, mode);
            if (!hit && mode == PICK_CANCELLING) (hit, id) = _scan(first, count, PICK_PAYABLE);
            if (!hit && mode == PICK_DEPLETED) (hit, id) = _scan(first, count, PICK_OPEN);
            if (hit) first = id - 1;
        }
        return (true, store.getStream(first + 1));
    }

    function _scan(uint256 first, uint256 count, uint8 mode) private view returns (bool, uint256) {
        for (uint256 i; i < count; ++i) {
            uint256 id = (first + i) % count + 1;
            if (_fits(id, mode)) return (true, id);
        }
        return (false, 0);
    }

    /// @dev When the picked stream does not fit (closes outnumber creates among the actions), three times in
    /// four the action opens a stream instead, so the campaign keeps live streams to act on. A cancelling
    /// stream past its window still fits a payable pick here, so late withdrawals and answers are tried.
    function _createInstead(bool found, InvariantStore.GhostStream memory g, uint256 seed, uint8 mode)
        private
        returns (bool)
    {
        if (found && (mode == PICK_OPEN ? g.status == OPEN : _isPayable(g.status))) return false;
        if (seed % 4 == 0) return !found;
        uint256 r = uint256(keccak256(abi.encode(seed, "create")));
        _createStream(r, r >> 64, r >> 128, r >> 32);
        return true;
    }

    /// @dev An account and asset picked by seed, preferring one with a claimable balance (1 in 8 picks
    /// take the seed's as they are).
    function _pickCreditor(uint256 accountSeed, uint256 assetSeed) private view returns (address, address) {
        uint256 count = store.accountCount();
        address asset = assetSeed % 2 == 0 ? address(0) : address(usd);
        address first = store.accountAt(accountSeed % count);
        if ((assetSeed >> 128) % 8 == 0) return (first, asset);
        for (uint256 i; i < count * 2; ++i) {
            address account = store.accountAt((accountSeed + i / 2) % count);
            address a = (assetSeed + i) % 2 == 0 ? address(0) : address(usd);
            if (store.credit(account, a) > 0) return (account, a);
        }
        return (first, asset);
    }

    /// @dev A provider picked by seed, preferring an active one (1 in 16 picks take the seed's as it is).
    function _pickProvider(uint256 seed) private view returns (InvariantStore.GhostProvider memory p) {
        uint256 count = store.providerCount();
        for (uint256 i; i < count; ++i) {
            p = store.getProvider(store.providerIdAt((seed + i) % count));
            if (p.active || (seed >> 128) % 16 == 0) return p;
        }
    }

    /*//////////////////////////////////////////////////////////////
                             SHARED LOGIC: CALLS
    //////////////////////////////////////////////////////////////*/

    function _advance(uint256 secondsToSkip) private {
        store.advance(secondsToSkip);
        vm.warp(store.time());
    }

    /// @dev Gives `account` what it is about to pay.
    function _fund(address account, address asset, uint256 amount) private {
        if (asset == address(0)) vm.deal(account, account.balance + amount);
        else usd.mint(account, amount);
    }

    /// @dev Calls `target` as `account`: an EOA by prank, an Actor through its exec, an ERC-1271 wallet
    /// through its owner. Never reverts; returns the call's outcome and return or revert data.
    function _as(address account, address target, uint256 value, bytes memory data)
        private
        returns (bool ok, bytes memory ret)
    {
        if (isActor[account]) {
            try Actor(payable(account)).exec(target, value, data) returns (bytes memory r) {
                return (true, r);
            } catch (bytes memory e) {
                return (false, e);
            }
        }
        address owner = walletOwner[account];
        if (owner != address(0)) {
            vm.prank(owner);
            try ERC1271Wallet(payable(account)).exec(target, value, data) returns (bytes memory r) {
                return (true, r);
            } catch (bytes memory e) {
                return (false, e);
            }
        }
        vm.prank(account);
        (ok, ret) = target.call{value: value}(data);
    }

    /// @dev Compares a call's outcome with the prediction; returns whether it succeeded as predicted.
    function _outcome(uint256 inv, bool ok, bytes memory ret, bytes memory err, string memory what)
        private
        returns (bool)
    {
        if (err.length == 0) {
            if (!ok) _flag(inv, string.concat(what, ": unexpected revert ", _selectorOf(ret)));
            return ok;
        }
        if (ok) _flag(inv, string.concat(what, ": succeeded but must revert with ", _selectorOf(err)));
        else if (keccak256(ret) != keccak256(err)) {
            _flag(inv, string.concat(what, ": reverted with ", _selectorOf(ret), " instead of ", _selectorOf(err)));
        }
        return false;
    }

    function _bal(address account, address asset) private view returns (uint256) {
        return asset == address(0) ? account.balance : usd.balanceOf(account);
    }

    function _min(uint256 a, uint256 b) private pure returns (uint256) {
        return a < b ? a : b;
    }

    function _expectEq(uint256 inv, uint256 actual, uint256 expected, string memory what) private {
        if (actual != expected) {
            _flag(inv, string.concat(what, ": ", actual.toString(), " != ", expected.toString()));
        }
    }

    function _flag(uint256 inv, string memory reason) private {
        store.flag(inv, reason);
    }

    /// @dev A bytes32 label as text, without its zero padding.
    function _text(bytes32 label) private pure returns (string memory) {
        uint256 n;
        while (n < 32 && label[n] != 0) ++n;
        bytes memory out = new bytes(n);
        for (uint256 i; i < n; ++i) {
            out[i] = label[i];
        }
        return string(out);
    }

    function _selectorOf(bytes memory data) private pure returns (string memory) {
        if (data.length < 4) return "(no data)";
        return Strings.toHexString(uint32(bytes4(data)), 4);
    }
}
