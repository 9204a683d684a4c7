// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";

import {Test} from "../../utils/Test.sol";
import {Actor} from "../../mocks/Actor.sol";
import {ERC1271Wallet} from "../../mocks/ERC1271Wallet.sol";
import {InvariantStore} from "../stores/InvariantStore.sol";

import {StreamPay} from "../../../src/StreamPay.sol";
import {ComputeRegistry} from "../../../src/ComputeRegistry.sol";
import {IStreamPay} from "../../../src/interfaces/IStreamPay.sol";
import {IComputeRegistry} from "../../../src/interfaces/IComputeRegistry.sol";
import {TestToken} from "../../../src/dev/TestToken.sol";
import {Errors} from "../../../src/libraries/Errors.sol";
import {StreamStatus} from "../../../src/types/DataTypes.sol";

/// @notice What the invariant fuzzer calls. Every action picks its actors and bounds its inputs so most
/// calls are valid, predicts the outcome from an independent model (DESIGN §1's formulas, kept in the
/// store), performs the call as the chosen party, and records any difference between the prediction and
/// what happened — unexpected reverts, wrong errors, wrong amounts — as a violation of the invariant it
/// touches. It never reverts itself, so the fuzzer never discards a step.
///
/// Parties: EOA senders and an Actor sender that refuses native coin; providers paid in native coin (an
/// EOA, an ERC-1271 smart wallet, an Actor that refuses native coin) and in the ERC-20 (two EOAs); a
/// keeper EOA, a keeper Actor that refuses native coin, and an outsider (eve) who is also a keeper.
contract StreamPayHandler is Test {
    using Strings for uint256;

    /*//////////////////////////////////////////////////////////////
                                 CONSTANTS
    //////////////////////////////////////////////////////////////*/

    uint8 internal constant OPEN = uint8(StreamStatus.Open);
    uint8 internal constant SETTLED = uint8(StreamStatus.Settled);
    uint8 internal constant CANCELLED = uint8(StreamStatus.Cancelled);
    uint8 internal constant CLOSED = uint8(StreamStatus.Closed);

    uint256 internal constant MAX_STREAMS = 32;
    uint256 internal constant MAX_STREAM_SECONDS = 20_000;

    bytes32 internal constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 internal constant RECEIPT_TYPEHASH = keccak256("Receipt(uint256 streamId,uint256 amount,bool final)");
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

    address public immutable deployer;

    address[] public senders;
    address[] public keepers;
    address public outsider;
    uint256 internal outsiderKey;
    address public sink;

    mapping(address account => bool) public refusesNative;
    mapping(address account => bool) public isActor;
    mapping(address wallet => address owner) public walletOwner;
    /// @dev Each provider's starting price: price changes stay within [price/2, price*2] of it.
    mapping(uint256 providerId => uint256) internal basePrice;

    constructor(StreamPay streamPay_, TestToken usd_, uint256 startTime) {
        streamPay = streamPay_;
        registry = ComputeRegistry(address(streamPay_.registry()));
        usd = usd_;
        minStake = registry.minStake();
        stakeCooldown = registry.stakeCooldown();
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

    function addSender(address sender) external onlyDeployer {
        senders.push(sender);
        store.addAccount(sender);
        if (isActor[sender]) {
            Actor(payable(sender)).exec(
                address(usd), 0, abi.encodeCall(usd.approve, (address(streamPay), type(uint256).max))
            );
        } else {
            vm.prank(sender);
            usd.approve(address(streamPay), type(uint256).max);
        }
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
        s = new bytes4[](12);
        s[0] = this.createStream.selector;
        s[1] = this.topUp.selector;
        s[2] = this.withdrawFromStream.selector;
        s[3] = this.cancelStream.selector;
        s[4] = this.closeWithReceipt.selector;
        s[5] = this.closeByRecipient.selector;
        s[6] = this.batchUpdateStreams.selector;
        s[7] = this.withdrawBalance.selector;
        s[8] = this.rateProvider.selector;
        s[9] = this.updateProvider.selector;
        s[10] = this.outsiderAttack.selector;
        s[11] = this.warp.selector;
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
                                  ACTIONS
    //////////////////////////////////////////////////////////////*/

    function warp(uint256 seed) external step {
        // Mostly seconds to minutes (streams last up to ~5.5 hours); 1 in 10 jumps days (past every stop
        // time and, now and then, past the stake cooldown).
        uint256 dt = seed % 10 == 0 ? bound(seed >> 8, 1 days, 8 days) : bound(seed >> 8, 1, 900);
        store.advance(dt);
        vm.warp(store.time());
        store.countCall("warp", true);
    }

    function createStream(uint256 senderSeed, uint256 providerSeed, uint256 secondsSeed, uint256 dustSeed)
        external
        step
    {
        _createStream(senderSeed, providerSeed, secondsSeed, dustSeed);
    }

    function _createStream(uint256 senderSeed, uint256 providerSeed, uint256 secondsSeed, uint256 dustSeed)
        private
    {
        if (store.streamCount() >= MAX_STREAMS) return;
        address sender = senders[senderSeed % senders.length];
        InvariantStore.GhostProvider memory p = _pickProvider(providerSeed);
        uint256 rate = p.price;
        uint256 secs = secondsSeed % 16 == 0 ? 0 : bound(secondsSeed >> 4, 1, MAX_STREAM_SECONDS);
        uint256 dust = dustSeed % rate;
        uint256 amount = secs * rate + dust;
        uint256 maxRate = (dustSeed >> 128) % 16 == 0 ? rate - 1 : rate;

        bytes memory err;
        if (!p.active) err = abi.encodeWithSelector(Errors.StreamPay_ProviderInactive.selector, p.id);
        else if (rate > maxRate) {
            err = abi.encodeWithSelector(Errors.StreamPay_RateAboveMax.selector, p.id, rate, maxRate);
        }
        else if (secs == 0) err = abi.encodeWithSelector(Errors.StreamPay_DepositTooSmall.selector, amount, rate);

        _fund(sender, p.asset, amount);
        uint256 payBefore = _bal(address(streamPay), p.asset);
        uint256 senderBefore = _bal(sender, p.asset);
        (bool ok, bytes memory ret) = _as(
            sender,
            address(streamPay),
            p.asset == address(0) ? amount : 0,
            abi.encodeCall(IStreamPay.createStream, (p.id, maxRate, amount))
        );
        bool success = _outcome(2, ok, ret, err, "createStream");
        store.countCall("createStream", success);
        if (!success) return;

        uint256 streamId = abi.decode(ret, (uint256));
        _expectEq(2, streamId, store.streamCount() + 1, "createStream: id is the next id");
        uint256 used = secs * rate;
        bool deferred = p.asset == address(0) && dust > 0 && refusesNative[sender];
        uint256 kept = deferred ? amount : used;
        _expectEq(1, _bal(address(streamPay), p.asset), payBefore + kept, "createStream: contract balance");
        _expectEq(2, senderBefore - _bal(sender, p.asset), kept, "createStream: sender paid the used amount");
        if (deferred) store.addCredit(sender, address(0), dust, true);
        store.addInflow(p.asset, kept);
        store.addDeposited(p.asset, used);

        InvariantStore.GhostStream memory g;
        g.id = streamId;
        g.sender = sender;
        g.recipient = p.wallet;
        g.asset = p.asset;
        g.providerId = p.id;
        g.rate = rate;
        g.start = store.time();
        g.stop = store.time() + secs;
        g.deposited = used;
        g.status = OPEN;
        store.addStream(g);
    }

    function topUp(uint256 streamSeed, uint256 secondsSeed, uint256 dustSeed) external step {
        (bool found, InvariantStore.GhostStream memory g) = _pickStream(streamSeed, true);
        if (_createInstead(found, g, streamSeed)) return;
        address caller = (dustSeed >> 128) % 8 == 0 ? outsider : g.sender;
        uint256 secs = secondsSeed % 16 == 0 ? 0 : bound(secondsSeed >> 4, 1, MAX_STREAM_SECONDS);
        uint256 dust = dustSeed % g.rate;
        uint256 amount = secs * g.rate + dust;

        bytes memory err;
        if (g.status != OPEN) {
            err = abi.encodeWithSelector(Errors.StreamPay_StreamClosed.selector, g.id, g.status);
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
        bool success = _outcome(caller == outsider ? 5 : 2, ok, ret, err, "topUp");
        if (caller == outsider && g.status == OPEN) store.countOutsider(ok);
        store.countCall("topUp", success);
        if (!success) return;

        uint256 used = secs * g.rate;
        bool deferred = g.asset == address(0) && dust > 0 && refusesNative[caller];
        uint256 kept = deferred ? amount : used;
        _expectEq(1, _bal(address(streamPay), g.asset), payBefore + kept, "topUp: contract balance");
        _expectEq(2, callerBefore - _bal(caller, g.asset), kept, "topUp: sender paid the used amount");
        if (deferred) store.addCredit(caller, address(0), dust, true);
        store.addInflow(g.asset, kept);
        store.addDeposited(g.asset, used);
        g.stop += secs;
        g.deposited += used;
        store.setStream(g);
    }

    function withdrawFromStream(uint256 streamSeed, uint256 callerSeed) external step {
        (bool found, InvariantStore.GhostStream memory g) = _pickStream(streamSeed, true);
        if (_createInstead(found, g, streamSeed)) return;
        address caller = store.accountAt(callerSeed % store.accountCount());
        uint256 streamed = _streamedModel(g);
        uint256 amount = g.status == OPEN ? streamed - g.withdrawn : 0;

        bytes memory err;
        if (g.status != OPEN) err = abi.encodeWithSelector(Errors.StreamPay_StreamClosed.selector, g.id, g.status);
        else if (amount == 0) err = abi.encodeWithSelector(Errors.StreamPay_NothingToWithdraw.selector, g.id);

        uint256 payBefore = _bal(address(streamPay), g.asset);
        uint256 recipientBefore = _bal(g.recipient, g.asset);
        (bool ok, bytes memory ret) =
            _as(caller, address(streamPay), 0, abi.encodeCall(IStreamPay.withdrawFromStream, (g.id)));
        bool success = _outcome(4, ok, ret, err, "withdrawFromStream");
        if (err.length == 0) store.countExit(ok);
        store.countCall("withdrawFromStream", success);
        if (!success) return;

        _expectEq(2, abi.decode(ret, (uint256)), amount, "withdrawFromStream: returned amount");
        _payRecipientSide(g, amount, payBefore, recipientBefore, "withdrawFromStream");
        g.withdrawn = streamed;
        if (store.time() >= g.stop) _closeGhost(g, SETTLED, streamed, 0, caller);
        store.setStream(g);
    }

    function cancelStream(uint256 streamSeed, uint256 whoSeed) external step {
        (bool found, InvariantStore.GhostStream memory g) = _pickStream(streamSeed, true);
        if (_createInstead(found, g, streamSeed)) return;
        uint256 who = whoSeed % 5;
        address caller = who < 2 ? g.sender : who < 4 ? g.recipient : outsider;

        bytes memory err;
        if (g.status != OPEN) {
            err = abi.encodeWithSelector(Errors.StreamPay_StreamClosed.selector, g.id, g.status);
        } else if (caller == outsider) {
            err = abi.encodeWithSelector(Errors.StreamPay_NotSenderOrRecipient.selector, g.id, caller);
        }
        _closeAction(
            g,
            caller,
            caller != outsider,
            abi.encodeCall(IStreamPay.cancelStream, (g.id)),
            err,
            _streamedModel(g),
            CANCELLED,
            "cancelStream"
        );
    }

    function closeWithReceipt(uint256 streamSeed, uint256 amountSeed, uint256 whoSeed) external step {
        (bool found, InvariantStore.GhostStream memory g) = _pickStream(streamSeed, true);
        if (_createInstead(found, g, streamSeed)) return;
        address caller = whoSeed % 6 == 0 ? outsider : g.sender;
        uint256 amount = bound(amountSeed, 0, g.deposited + g.deposited / 4);
        uint256 signerKey = store.getProvider(g.providerId).signerKey;
        uint256 sigKind = (whoSeed >> 8) % 10;
        bool validSig = signerKey != 0 && sigKind > 1;
        bytes memory sig = _signReceipt(
            signerKey == 0 || sigKind == 0 ? outsiderKey : signerKey, g.id, amount, sigKind != 1 // 1: not final
        );

        bytes memory err;
        if (g.status != OPEN) {
            err = abi.encodeWithSelector(Errors.StreamPay_StreamClosed.selector, g.id, g.status);
        } else if (caller != g.sender) {
            err = abi.encodeWithSelector(Errors.StreamPay_NotSender.selector, g.id, caller, g.sender);
        } else if (!validSig) {
            err = abi.encodeWithSelector(Errors.StreamPay_InvalidReceiptSignature.selector, g.id, g.recipient);
        }
        uint256 streamed = _streamedModel(g);
        uint256 total = amount < streamed ? amount : streamed;
        if (total < g.withdrawn) total = g.withdrawn;
        _closeAction(
            g,
            caller,
            caller == g.sender,
            abi.encodeCall(IStreamPay.closeWithReceipt, (g.id, amount, sig)),
            err,
            total,
            CLOSED,
            "closeWithReceipt"
        );
    }

    function closeByRecipient(uint256 streamSeed, uint256 amountSeed, uint256 whoSeed) external step {
        (bool found, InvariantStore.GhostStream memory g) = _pickStream(streamSeed, true);
        if (_createInstead(found, g, streamSeed)) return;
        address caller = whoSeed % 6 != 0 ? g.recipient : whoSeed % 12 == 0 ? outsider : g.sender;
        uint256 streamed = _streamedModel(g);
        uint256 amount =
            amountSeed % 8 == 0 ? streamed + 1 + (amountSeed >> 3) % 1e18 : bound(amountSeed >> 3, 0, streamed);

        bytes memory err;
        if (g.status != OPEN) {
            err = abi.encodeWithSelector(Errors.StreamPay_StreamClosed.selector, g.id, g.status);
        } else if (caller != g.recipient) {
            err = abi.encodeWithSelector(Errors.StreamPay_NotRecipient.selector, g.id, caller, g.recipient);
        } else if (amount > streamed) {
            err = abi.encodeWithSelector(Errors.StreamPay_AmountExceedsStreamed.selector, g.id, amount, streamed);
        }
        uint256 total = amount < g.withdrawn ? g.withdrawn : amount;
        _closeAction(
            g,
            caller,
            caller == g.recipient,
            abi.encodeCall(IStreamPay.closeByRecipient, (g.id, amount)),
            err,
            total,
            CLOSED,
            "closeByRecipient"
        );
    }

    /// @dev Batch simulation state, kept in memory: the streams the batch touches, updated in order (so a
    /// duplicate id sees the first occurrence's effect), and the keeper's reward per asset.
    struct BatchSim {
        InvariantStore.GhostStream[] touched;
        uint256 touchedCount;
        uint256 settledCount;
        uint256 nativeReward;
        uint256 usdReward;
    }

    function batchUpdateStreams(uint256 seed, uint256 countSeed, uint256 keeperSeed) external step {
        address keeper = keepers[keeperSeed % keepers.length];
        uint256 n = bound(countSeed, 1, 8);
        uint256 known = store.streamCount();
        uint256[] memory ids = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            uint256 r = uint256(keccak256(abi.encode(seed, i)));
            ids[i] = known == 0 || r % 10 == 0 ? known + 1 + (r >> 8) % 3 : store.streamIdAt((r >> 8) % known);
        }

        BatchSim memory sim;
        sim.touched = new InvariantStore.GhostStream[](n);
        for (uint256 i; i < n; ++i) {
            if (ids[i] == 0 || ids[i] > known) continue; // unknown: skipped by the contract
            uint256 slot = _touch(sim, ids[i]);
            InvariantStore.GhostStream memory g = sim.touched[slot];
            if (g.status != OPEN) continue;
            uint256 streamed = _streamedModel(g);
            uint256 amount = streamed - g.withdrawn;
            bool depleted = store.time() >= g.stop;
            if (amount == 0 && !depleted) continue;
            uint256 reward = amount / 1000; // floor(amount * 10 bps)
            if (g.asset == address(0)) sim.nativeReward += reward;
            else sim.usdReward += reward;
            g.withdrawn = streamed;
            g.keeperRewards += reward;
            ++sim.settledCount;
            if (amount > 0) ++g.recipientPayouts;
            if (depleted) {
                g.status = SETTLED;
                g.frozenStreamed = streamed;
                g.closedBy = keeper;
            }
            // Remember the per-stream amounts for the commit below.
            sim.touched[slot] = g;
        }

        uint256 payNative = address(streamPay).balance;
        uint256 payUsd = usd.balanceOf(address(streamPay));
        uint256 keeperNative = keeper.balance;
        uint256 keeperUsd = usd.balanceOf(keeper);
        (bool ok, bytes memory ret) =
            _as(keeper, address(streamPay), 0, abi.encodeCall(IStreamPay.batchUpdateStreams, (ids)));
        bool success = _outcome(4, ok, ret, "", "batchUpdateStreams");
        if (sim.settledCount > 0) store.countExit(ok);
        store.countCall("batchUpdateStreams", success);
        if (!success) return;

        _expectEq(2, abi.decode(ret, (uint256)), sim.settledCount, "batchUpdateStreams: settled count");
        // Commit the touched streams: recipient credits, completions, totals.
        for (uint256 i; i < sim.touchedCount; ++i) {
            InvariantStore.GhostStream memory g = sim.touched[i];
            InvariantStore.GhostStream memory before = store.getStream(g.id);
            uint256 settled = g.withdrawn - before.withdrawn;
            uint256 reward = g.keeperRewards - before.keeperRewards;
            if (settled - reward > 0) store.addCredit(g.recipient, g.asset, settled - reward, false);
            store.addRecipientSide(g.asset, settled);
            store.addKeeperRewards(g.asset, reward);
            if (g.status == SETTLED && before.status == OPEN) _recordCompletion(g.providerId, g.withdrawn);
            store.setStream(g);
        }
        // The keeper's reward: pushed once per asset, or credited if the keeper refuses native coin.
        bool deferNative = refusesNative[keeper] && sim.nativeReward > 0;
        if (deferNative) store.addCredit(keeper, address(0), sim.nativeReward, true);
        else store.addPaidOut(address(0), sim.nativeReward);
        store.addPaidOut(address(usd), sim.usdReward);
        _expectEq(
            1,
            address(streamPay).balance,
            payNative - (deferNative ? 0 : sim.nativeReward),
            "batchUpdateStreams: native leaves only as the keeper's reward"
        );
        _expectEq(
            1, usd.balanceOf(address(streamPay)), payUsd - sim.usdReward, "batchUpdateStreams: token leaves as reward"
        );
        _expectEq(
            2,
            keeper.balance,
            keeperNative + (deferNative ? 0 : sim.nativeReward),
            "batchUpdateStreams: keeper native reward"
        );
        _expectEq(2, usd.balanceOf(keeper), keeperUsd + sim.usdReward, "batchUpdateStreams: keeper token reward");
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
        bool success = _outcome(4, ok, ret, err, "withdrawBalance");
        if (err.length == 0) store.countExit(ok);
        store.countCall("withdrawBalance", success);
        if (!success) return;

        _expectEq(2, abi.decode(ret, (uint256)), amount, "withdrawBalance: returned amount");
        _expectEq(1, _bal(address(streamPay), asset), payBefore - amount, "withdrawBalance: contract balance");
        _expectEq(2, _bal(to, asset), toBefore + amount, "withdrawBalance: paid to `to`");
        store.clearCredit(account, asset);
        store.addPaidOut(asset, amount);
    }

    function rateProvider(uint256 streamSeed, uint256 scoreSeed, uint256 whoSeed) external step {
        (bool found, InvariantStore.GhostStream memory g) = _pickStream(streamSeed, false);
        if (!found) return;
        address caller = whoSeed % 5 != 0 ? g.sender : whoSeed % 10 == 0 ? outsider : g.recipient;
        uint8 score = scoreSeed % 10 == 0 ? ((scoreSeed >> 4) % 2 == 0 ? 0 : 6) : uint8(1 + (scoreSeed >> 4) % 5);

        bytes memory err;
        if (score == 0 || score > 5) err = abi.encodeWithSelector(Errors.Registry_InvalidRating.selector, score);
        else if (g.rated) err = abi.encodeWithSelector(Errors.Registry_AlreadyRated.selector, g.id);
        else if (caller != g.sender) {
            err = abi.encodeWithSelector(Errors.Registry_NotStreamSender.selector, g.id, caller, g.sender);
        } else if (g.status == OPEN) {
            err = abi.encodeWithSelector(Errors.Registry_StreamNotClosed.selector, g.id, g.status);
        } else if (g.withdrawn == 0) {
            err = abi.encodeWithSelector(Errors.Registry_StreamPaidNothing.selector, g.id);
        }

        (bool ok, bytes memory ret) =
            _as(caller, address(registry), 0, abi.encodeCall(IComputeRegistry.rateProvider, (g.id, score)));
        bool success = _outcome(5, ok, ret, err, "rateProvider");
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
        bool success = _outcome(caller != p.wallet ? 5 : 1, ok, ret, err, "updateProvider");
        if (caller != p.wallet) store.countOutsider(ok);
        store.countCall("updateProvider", success);
        if (!success) return;

        if (op == 3) {
            p.stake += value;
        } else if (op == 4) {
            _expectEq(1, p.wallet.balance, walletBefore + p.stake, "withdrawStake: wallet got exactly the stake");
            _expectEq(1, address(registry).balance, registryBefore - p.stake, "withdrawStake: registry paid it");
            p.stake = 0;
        } else {
            if (p.active && !newActive) p.deactivatedAt = store.time();
            p.active = newActive;
            p.price = newPrice;
        }
        store.setProvider(p);
    }

    /// @notice Parties without the right try what only others may do; every attempt must revert.
    function outsiderAttack(uint256 seed, uint256 kindSeed) external step {
        uint256 kind = kindSeed % 4;
        uint256 providerId = store.providerIdAt(seed % store.providerCount());
        address wallet = store.getProvider(providerId).wallet;
        address caller;
        bytes memory data;
        address target = address(registry);
        bytes memory err;
        if (kind < 3) {
            // Nobody but StreamPay records completions: not an outsider, not the provider, not a keeper.
            caller = kind == 0 ? outsider : kind == 1 ? wallet : keepers[seed % keepers.length];
            data = abi.encodeCall(IComputeRegistry.recordCompletion, (providerId, bound(seed, 1, 1e30)));
            err = abi.encodeWithSelector(Errors.Registry_OnlyStreamPay.selector, caller);
        } else {
            // A recipient cannot close with the sender's powers: closeWithReceipt is the sender's.
            (bool found, InvariantStore.GhostStream memory g) = _pickStream(seed, true);
            if (!found || g.status != OPEN) return;
            uint256 key = store.getProvider(g.providerId).signerKey;
            if (key == 0) return;
            caller = g.recipient;
            target = address(streamPay);
            bytes memory sig = _signReceipt(key, g.id, g.deposited, true);
            data = abi.encodeCall(IStreamPay.closeWithReceipt, (g.id, g.deposited, sig));
            err = abi.encodeWithSelector(Errors.StreamPay_NotSender.selector, g.id, caller, g.sender);
        }
        (bool ok, bytes memory ret) = _as(caller, target, 0, data);
        _outcome(5, ok, ret, err, "outsiderAttack");
        store.countOutsider(ok);
        store.countCall("outsiderAttack", !ok);
    }

    /*//////////////////////////////////////////////////////////////
                              SHARED LOGIC
    //////////////////////////////////////////////////////////////*/

    /// @dev A cancel or close: the recipient's side totals `recipientTotal`, the sender gets the rest.
    /// `legit`: the caller is a party this function allows (else its attempt must revert).
    function _closeAction(
        InvariantStore.GhostStream memory g,
        address caller,
        bool legit,
        bytes memory data,
        bytes memory err,
        uint256 recipientTotal,
        uint8 status,
        string memory what
    ) private {
        uint256 payBefore = _bal(address(streamPay), g.asset);
        uint256 senderBefore = _bal(g.sender, g.asset);
        (bool ok, bytes memory ret) = _as(caller, address(streamPay), 0, data);
        bool success = _outcome(legit ? 4 : 5, ok, ret, err, what);
        if (g.status == OPEN) {
            if (err.length == 0) store.countExit(ok);
            else if (!legit) store.countOutsider(ok);
        }
        store.countCall(bytes32(bytes(what)), success);
        if (!success) return;

        uint256 recipientAmount = recipientTotal - g.withdrawn;
        uint256 senderAmount = g.deposited - recipientTotal;
        // The recipient's share is credited to its balance.
        if (recipientAmount > 0) {
            store.addCredit(g.recipient, g.asset, recipientAmount, false);
            ++g.recipientPayouts;
        }
        store.addRecipientSide(g.asset, recipientAmount);
        // The sender's refund is pushed, or credited if it refuses native coin.
        bool deferred = g.asset == address(0) && refusesNative[g.sender];
        if (senderAmount > 0) {
            ++g.senderRefunds;
            if (deferred) store.addCredit(g.sender, g.asset, senderAmount, true);
            else store.addPaidOut(g.asset, senderAmount);
        }
        store.addRefunded(g.asset, senderAmount);
        uint256 pushed = deferred ? 0 : senderAmount;
        _expectEq(1, _bal(address(streamPay), g.asset), payBefore - pushed, string.concat(what, ": contract balance"));
        _expectEq(2, _bal(g.sender, g.asset), senderBefore + pushed, string.concat(what, ": sender refund"));

        g.withdrawn = recipientTotal;
        _closeGhost(g, status, recipientTotal, senderAmount, caller);
        store.setStream(g);
    }

    /// @dev A withdrawal pushed to the recipient (credited instead if it refuses native coin).
    function _payRecipientSide(
        InvariantStore.GhostStream memory g,
        uint256 amount,
        uint256 payBefore,
        uint256 recipientBefore,
        string memory what
    ) private {
        store.addRecipientSide(g.asset, amount);
        ++g.recipientPayouts;
        if (g.asset == address(0) && refusesNative[g.recipient]) {
            store.addCredit(g.recipient, g.asset, amount, true);
            _expectEq(1, _bal(address(streamPay), g.asset), payBefore, string.concat(what, ": kept as a credit"));
        } else {
            store.addPaidOut(g.asset, amount);
            _expectEq(1, _bal(address(streamPay), g.asset), payBefore - amount, string.concat(what, ": contract paid"));
            _expectEq(2, _bal(g.recipient, g.asset), recipientBefore + amount, string.concat(what, ": recipient paid"));
        }
    }

    function _closeGhost(
        InvariantStore.GhostStream memory g,
        uint8 status,
        uint256 recipientTotal,
        uint256 senderAmount,
        address caller
    ) private {
        g.status = status;
        g.refunded = senderAmount;
        g.frozenStreamed = recipientTotal;
        g.closedBy = caller;
        if (recipientTotal > 0) _recordCompletion(g.providerId, recipientTotal);
    }

    function _recordCompletion(uint256 providerId, uint256 earned) private {
        InvariantStore.GhostProvider memory p = store.getProvider(providerId);
        ++p.completions;
        p.earned += earned;
        store.setProvider(p);
    }

    function _touch(BatchSim memory sim, uint256 streamId) private view returns (uint256 slot) {
        for (; slot < sim.touchedCount; ++slot) {
            if (sim.touched[slot].id == streamId) return slot;
        }
        sim.touched[slot] = store.getStream(streamId);
        ++sim.touchedCount;
    }

    /// @dev Checks every stream's streamed amount: equal to rate * elapsed and never below the previous
    /// observation while open, never above the deposit, frozen once closed. Records the observation.
    function _observeStreamed() private {
        uint256 count = store.streamCount();
        uint256 t = store.time();
        for (uint256 id = 1; id <= count; ++id) {
            (uint8 status, uint256 rate, uint256 start, uint256 stop, uint256 dep, uint256 frozen, uint256 last) =
                store.timeline(id);
            uint256 actual = streamPay.streamedAmountOf(id);
            if (status == OPEN) {
                uint256 expected = t <= start ? 0 : rate * ((t < stop ? t : stop) - start);
                _expectEq(3, actual, expected, "streamed = rate * (min(now, stop) - start)");
                if (actual < last) _flag(3, string.concat("streamed decreased on stream ", id.toString()));
                if (actual > dep) _flag(3, string.concat("streamed above deposit on stream ", id.toString()));
            } else {
                _expectEq(3, actual, frozen, "a closed stream's streamed is frozen");
            }
            if (actual != last) store.setLastStreamed(id, actual);
        }
    }

    /// @dev streamed(t) from the model: rate * (min(t, stop) - start), 0 until start; frozen once closed.
    function _streamedModel(InvariantStore.GhostStream memory g) private view returns (uint256) {
        if (g.status != OPEN) return g.frozenStreamed;
        uint256 t = store.time();
        if (t <= g.start) return 0;
        if (t > g.stop) t = g.stop;
        return g.rate * (t - g.start);
    }

    /// @dev A stream picked by seed. With `preferOpen`, the first open stream from there on (most actions
    /// are about open streams); else the first closed, unrated stream that paid something (ratings). Falls
    /// back to the seed's own pick, so invalid targets are still exercised now and then.
    function _pickStream(uint256 seed, bool preferOpen)
        private
        view
        returns (bool found, InvariantStore.GhostStream memory g)
    {
        uint256 count = store.streamCount();
        if (count == 0) return (false, g);
        // Stream ids run from 1 to count (every stream is created through this handler).
        uint256 first = seed % count;
        if ((seed >> 200) % 8 != 0) {
            // 7 in 8: the first fitting stream from the seed's pick on; 1 in 8: whatever the seed points at.
            for (uint256 i; i < count; ++i) {
                uint256 id = (first + i) % count + 1;
                if (preferOpen ? store.statusOf(id) == OPEN : store.isRateable(id)) {
                    first = id - 1;
                    break;
                }
            }
        }
        return (true, store.getStream(first + 1));
    }

    /// @dev When no stream is open (closes outnumber creates among the actions), three times in four the
    /// action opens one instead, so the campaign keeps live streams to act on.
    function _createInstead(bool found, InvariantStore.GhostStream memory g, uint256 seed) private returns (bool) {
        if (found && g.status == OPEN) return false;
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

    function _signReceipt(uint256 key, uint256 streamId, uint256 amount, bool isFinal)
        private
        view
        returns (bytes memory)
    {
        bytes32 domainSeparator = keccak256(
            abi.encode(DOMAIN_TYPEHASH, keccak256("StreamPay"), keccak256("1"), block.chainid, address(streamPay))
        );
        bytes32 digest = keccak256(
            abi.encodePacked(
                "\x19\x01", domainSeparator, keccak256(abi.encode(RECEIPT_TYPEHASH, streamId, amount, isFinal))
            )
        );
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }

    function _bal(address account, address asset) private view returns (uint256) {
        return asset == address(0) ? account.balance : usd.balanceOf(account);
    }

    function _expectEq(uint256 inv, uint256 actual, uint256 expected, string memory what) private {
        if (actual != expected) {
            _flag(inv, string.concat(what, ": ", actual.toString(), " != ", expected.toString()));
        }
    }

    function _flag(uint256 inv, string memory reason) private {
        store.flag(inv, reason);
    }

    function _selectorOf(bytes memory data) private pure returns (string memory) {
        if (data.length < 4) return "(no data)";
        return Strings.toHexString(uint32(bytes4(data)), 4);
    }
}
