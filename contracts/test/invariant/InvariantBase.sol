// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {BaseTest} from "../Base.t.sol";
import {Actor} from "../mocks/Actor.sol";
import {ERC1271Wallet} from "../mocks/ERC1271Wallet.sol";
import {StreamPayHandler} from "./handlers/StreamPayHandler.sol";
import {InvariantStore} from "./stores/InvariantStore.sol";

import {IStreamPay} from "../../src/interfaces/IStreamPay.sol";
import {IComputeRegistry} from "../../src/interfaces/IComputeRegistry.sol";
import {StreamStatus} from "../../src/types/DataTypes.sol";

/// @notice The invariant campaign's world (StreamPay, registry, the handler and its parties) and the checks
/// of DESIGN §1's five invariants, shared by the invariant test and the handler's own test.
abstract contract InvariantBase is BaseTest {
    string internal constant OTHER_MODEL = "qwen2.5:7b";

    StreamPayHandler internal handler;
    InvariantStore internal store;
    address[2] internal assets;

    function setUp() public override {
        super.setUp();
        handler = new StreamPayHandler(streamPay, usd, START_TIME);
        store = handler.store();
        assets = [address(0), address(usd)];

        // Senders: two EOAs and a contract that refuses native coin.
        Actor refusingSender = new Actor();
        refusingSender.setMode(Actor.ReceiveMode.Revert);
        handler.addActor(address(refusingSender), true);
        handler.addSender(alice);
        handler.addSender(bob);
        handler.addSender(address(refusingSender));

        // Providers: the fixture's native and stablecoin EOAs, an ERC-1271 smart wallet (native), a contract
        // that refuses native coin (native; cannot sign receipts), and a second stablecoin EOA.
        handler.trackProvider(nativeProviderId, providerKey);
        handler.trackProvider(usdProviderId, usdProviderKey);
        (address walletOwner, uint256 walletOwnerKey) = makeAddrAndKey("walletOwner");
        ERC1271Wallet smartWallet = new ERC1271Wallet(walletOwner);
        handler.addWallet(address(smartWallet), walletOwner);
        handler.registerProvider(address(smartWallet), walletOwnerKey, MODEL, RATE * 2, address(0));
        Actor refusingProvider = new Actor();
        handler.addActor(address(refusingProvider), true);
        handler.registerProvider(address(refusingProvider), 0, OTHER_MODEL, RATE / 2, address(0));
        refusingProvider.setMode(Actor.ReceiveMode.Revert);
        (address usdProvider2, uint256 usdProvider2Key) = makeAddrAndKey("usdProvider2");
        handler.registerProvider(usdProvider2, usdProvider2Key, OTHER_MODEL, USD_RATE * 3, address(usd));

        // Keepers: an EOA, a contract that refuses native coin, and the outsider eve (anyone may keep).
        Actor refusingKeeper = new Actor();
        refusingKeeper.setMode(Actor.ReceiveMode.Revert);
        handler.addActor(address(refusingKeeper), true);
        handler.addKeeper(keeper);
        handler.addKeeper(address(refusingKeeper));
        (, uint256 eveKey) = makeAddrAndKey("eve");
        handler.setOutsider(eve, eveKey);
        handler.addKeeper(eve);
        handler.setSink(makeAddr("sink"));
    }

    /*//////////////////////////////////////////////////////////////
                                  CHECKS
    //////////////////////////////////////////////////////////////*/

    /// @notice (1) Per asset: StreamPay's balance = Σ open streams (deposited − withdrawn) + Σ claimable
    /// balances (so ≥ holds), and = ghost inflow − ghost outflow. The registry holds exactly the stakes.
    function _check1_SolvencyPerAsset() internal {
        vm.warp(store.time());
        for (uint256 a; a < assets.length; ++a) {
            address asset = assets[a];
            uint256 held = asset == address(0) ? address(streamPay).balance : usd.balanceOf(address(streamPay));
            uint256 escrow;
            for (uint256 i; i < store.streamCount(); ++i) {
                IStreamPay.StreamView memory v = streamPay.getStreamView(store.streamIdAt(i));
                if (v.asset == asset && v.status == StreamStatus.Open) escrow += v.deposited - v.withdrawn;
            }
            uint256 claims;
            for (uint256 i; i < store.accountCount(); ++i) {
                claims += streamPay.balanceOf(store.accountAt(i), asset);
            }
            assertGe(held, escrow + claims, "balance covers open streams and claimable balances");
            assertEq(held, escrow + claims, "and nothing else is held");
            assertEq(held, store.inflow(asset) - store.paidOut(asset), "balance = ghost inflow - ghost outflow");
        }
        uint256 stakes;
        for (uint256 i; i < store.providerCount(); ++i) {
            stakes += store.getProvider(store.providerIdAt(i)).stake;
        }
        assertEq(address(registry).balance, stakes, "registry holds exactly the stakes");
        _assertNoViolation(1);
    }

    /// @notice (2) Per stream: withdrawn + refunded + remaining = deposited, each equal to the ghost's; a
    /// sender is refunded at most once; per account, claimable = ghost credits (nothing paid twice); per
    /// asset, the ghost totals add up.
    function _check2_PerStreamAccounting() internal {
        vm.warp(store.time());
        uint256[2] memory depositedSum;
        uint256[2] memory withdrawnSum;
        uint256[2] memory refundedSum;
        for (uint256 i; i < store.streamCount(); ++i) {
            InvariantStore.GhostStream memory g = store.getStream(store.streamIdAt(i));
            IStreamPay.StreamView memory v = streamPay.getStreamView(g.id);
            uint256 remaining = v.status == StreamStatus.Open ? v.deposited - v.withdrawn : 0;
            assertEq(v.withdrawn + v.refunded + remaining, v.deposited, "withdrawn + refunded + remaining = deposited");
            assertEq(v.deposited, g.deposited, "deposited = create + top-ups (ghost)");
            assertEq(v.withdrawn, g.withdrawn, "withdrawn = ghost recipient-side payouts");
            assertEq(v.refunded, g.refunded, "refunded = ghost refund");
            assertEq(uint256(v.status), uint256(g.status), "status = ghost status");
            assertEq(v.sender, g.sender, "sender");
            assertEq(v.recipient, g.recipient, "recipient");
            assertEq(v.ratePerSecond, g.rate, "rate locked at creation");
            assertEq(v.stopTime, g.stop, "stop = start + deposited / rate");
            assertEq(v.deposited, g.rate * (g.stop - g.start), "deposited = rate * (stop - start)");
            assertLe(g.senderRefunds, 1, "a sender is refunded at most once");
            assertLe(g.keeperRewards * 1000, g.withdrawn, "keeper took at most 0.1% of the recipient side");
            uint256 k = g.asset == address(0) ? 0 : 1;
            depositedSum[k] += g.deposited;
            withdrawnSum[k] += g.withdrawn;
            refundedSum[k] += g.refunded;
        }
        for (uint256 a; a < assets.length; ++a) {
            assertEq(store.deposited(assets[a]), depositedSum[a], "ghost deposits add up");
            assertEq(store.recipientSide(assets[a]), withdrawnSum[a], "ghost recipient side adds up");
            assertEq(store.refunded(assets[a]), refundedSum[a], "ghost refunds add up");
            for (uint256 i; i < store.accountCount(); ++i) {
                address account = store.accountAt(i);
                assertEq(
                    streamPay.balanceOf(account, assets[a]),
                    store.credit(account, assets[a]),
                    "claimable balance = ghost credits"
                );
            }
        }
        _assertNoViolation(2);
    }

    /// @notice (3) streamed(t) = rate·(min(t, stop) − start) while open, never decreases, never exceeds the
    /// deposit; once closed it is frozen. (The handler checks this after every step; here, once more.)
    function _check3_StreamedMonotoneAndFrozen() internal {
        vm.warp(store.time());
        for (uint256 i; i < store.streamCount(); ++i) {
            InvariantStore.GhostStream memory g = store.getStream(store.streamIdAt(i));
            uint256 streamed = streamPay.streamedAmountOf(g.id);
            IStreamPay.StreamView memory v = streamPay.getStreamView(g.id);
            assertLe(streamed, v.deposited, "streamed <= deposit");
            assertEq(streamed, g.lastStreamed, "same as observed at the end of the last step");
            if (g.status == uint8(StreamStatus.Open)) {
                uint256 t = store.time() < g.stop ? store.time() : g.stop;
                assertEq(streamed, g.rate * (t - g.start), "streamed = rate * (min(now, stop) - start)");
                assertEq(streamPay.refundableAmountOf(g.id), v.deposited - streamed, "refundable = deposit - streamed");
                assertEq(v.depleted, store.time() >= g.stop, "depleted flag");
            } else {
                assertEq(streamed, g.frozenStreamed, "closed: frozen at what the recipient side got");
                assertEq(streamed, v.withdrawn, "closed: streamed = withdrawn");
                assertEq(streamPay.refundableAmountOf(g.id), 0, "closed: nothing refundable");
            }
        }
        _assertNoViolation(3);
    }

    /// @notice (4) Nobody's refusal to receive blocks another's exit: every cancel, close, withdrawal,
    /// settlement and balance withdrawal that a legitimate party attempted succeeded; what could not be
    /// pushed to a refusing contract sits in its claimable balance.
    function _check4_NoPartyBlocksAnotherExit() internal {
        vm.warp(store.time());
        assertEq(store.exitSuccesses(), store.exitAttempts(), "every legitimate exit succeeded");
        for (uint256 i; i < store.accountCount(); ++i) {
            address account = store.accountAt(i);
            if (!handler.refusesNative(account)) continue;
            assertEq(
                streamPay.balanceOf(account, address(0)),
                store.credit(account, address(0)),
                "a refusing contract's refunds, payouts and rewards are claimable"
            );
            assertLe(store.deferredTotal(account, address(0)), store.creditedTotal(account, address(0)), "deferred");
        }
        _assertNoViolation(4);
    }

    /// @notice (5) Only the sender or recipient closes a stream (outsiders' attempts all reverted; every
    /// cancelled/closed stream was closed by a party); only StreamPay records completions, so each
    /// provider's stats equal the ghost sum of its completed streams; ratings equal the ghost's.
    function _check5_AccessControlAndStats() internal {
        vm.warp(store.time());
        assertEq(store.outsiderSuccesses(), 0, "no outsider attempt succeeded");
        for (uint256 i; i < store.streamCount(); ++i) {
            InvariantStore.GhostStream memory g = store.getStream(store.streamIdAt(i));
            if (g.status == uint8(StreamStatus.Cancelled) || g.status == uint8(StreamStatus.Closed)) {
                assertTrue(g.closedBy == g.sender || g.closedBy == g.recipient, "closed by a party");
            }
            assertEq(registry.isRated(g.id), g.rated, "rated flag");
        }
        for (uint256 i; i < store.providerCount(); ++i) {
            InvariantStore.GhostProvider memory p = store.getProvider(store.providerIdAt(i));
            IComputeRegistry.ProviderView memory v = registry.getProvider(p.id);
            assertEq(v.requestsServed, p.completions, "requestsServed = completed streams that paid");
            assertEq(v.totalEarned, p.earned, "totalEarned = sum of their recipient-side totals");
            assertEq(v.ratingCount, p.ratingCount, "ratingCount");
            assertEq(v.ratingSum, p.ratingSum, "ratingSum");
            assertEq(v.stake, p.stake, "stake");
            assertEq(v.pricePerSecond, p.price, "price");
            assertEq(v.active, p.active, "active");
        }
        _assertNoViolation(5);
    }

    function _assertNoViolation(uint256 inv) internal view {
        assertEq(store.violations(inv), 0, store.firstViolation(inv));
    }
}
