// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {BaseTest} from "../Base.t.sol";
import {Actor} from "../mocks/Actor.sol";
import {ERC1271Wallet} from "../mocks/ERC1271Wallet.sol";
import {StreamPayHandler} from "./handlers/StreamPayHandler.sol";
import {InvariantStore, Inv} from "./stores/InvariantStore.sol";

import {IStreamPay} from "../../src/interfaces/IStreamPay.sol";
import {IComputeRegistry} from "../../src/interfaces/IComputeRegistry.sol";
import {StreamStatus} from "../../src/types/DataTypes.sol";

/// @notice The invariant campaign's world (StreamPay, registry, the handler and its parties) and the checks
/// of the five protocol invariants and the four metered-stream guarantees (G1-G4), shared by the invariant
/// test and the handler's own scripted test. README.md in this folder states each in plain maths.
abstract contract InvariantBase is BaseTest {
    string internal constant OTHER_MODEL = "qwen2.5:7b";

    uint8 internal constant OPEN = uint8(StreamStatus.Open);
    uint8 internal constant SETTLED = uint8(StreamStatus.Settled);
    uint8 internal constant CANCELLED = uint8(StreamStatus.Cancelled);
    uint8 internal constant CLOSED = uint8(StreamStatus.Closed);
    uint8 internal constant CANCELLING = uint8(StreamStatus.Cancelling);

    StreamPayHandler internal handler;
    InvariantStore internal store;
    address[2] internal assets;

    function setUp() public override {
        super.setUp();
        handler = new StreamPayHandler(streamPay, usd, START_TIME);
        store = handler.store();
        assets = [address(0), address(usd)];

        // Senders: two EOAs; a contract that refuses native coin and cannot sign, so each of its streams names
        // a session key that signs its vouchers; an ERC-1271 wallet whose owner signs vouchers and session-key
        // authorisations for it.
        Actor refusingSender = new Actor();
        refusingSender.setMode(Actor.ReceiveMode.Revert);
        handler.addActor(address(refusingSender), true);
        handler.addSender(alice, aliceKey);
        handler.addSender(bob, bobKey);
        handler.addSender(address(refusingSender), 0);
        (address senderWalletOwner, uint256 senderWalletOwnerKey) = makeAddrAndKey("senderWalletOwner");
        ERC1271Wallet senderWallet = new ERC1271Wallet(senderWalletOwner);
        handler.addWallet(address(senderWallet), senderWalletOwner);
        handler.addSender(address(senderWallet), senderWalletOwnerKey);

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

        // Keepers: an EOA (the one that front-runs closes), a contract that refuses native coin, and the
        // outsider eve (anyone may keep).
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
                          THE FIVE INVARIANTS
    //////////////////////////////////////////////////////////////*/

    /// @notice (1) Per asset: StreamPay's balance = Σ open streams (deposited − withdrawn) + Σ cancelling
    /// streams (streamed − withdrawn) + Σ claimable balances (so ≥ holds), and = ghost inflow − ghost outflow.
    /// The registry holds exactly the stakes.
    function _check1_SolvencyPerAsset() internal {
        vm.warp(store.time());
        for (uint256 a; a < assets.length; ++a) {
            address asset = assets[a];
            uint256 held = asset == address(0) ? address(streamPay).balance : usd.balanceOf(address(streamPay));
            uint256 escrow;
            for (uint256 i; i < store.streamCount(); ++i) {
                IStreamPay.StreamView memory v = streamPay.getStreamView(store.streamIdAt(i));
                if (v.asset == asset) escrow += _escrow(v);
            }
            uint256 claims;
            for (uint256 i; i < store.accountCount(); ++i) {
                claims += streamPay.balanceOf(store.accountAt(i), asset);
            }
            assertGe(held, escrow + claims, "balance covers open and cancelling streams and claimable balances");
            assertEq(held, escrow + claims, "and nothing else is held");
            assertEq(held, store.inflow(asset) - store.paidOut(asset), "balance = ghost inflow - ghost outflow");
        }
        uint256 stakes;
        for (uint256 i; i < store.providerCount(); ++i) {
            stakes += store.getProvider(store.providerIdAt(i)).stake;
        }
        assertEq(address(registry).balance, stakes, "registry holds exactly the stakes");
        _assertNoViolation(Inv.SOLVENCY);
    }

    /// @notice (2) Per stream: withdrawn + refunded + remaining = deposited, each equal to the model's, as are
    /// status, end time, the named session key and every derived view; per account, claimable = ghost
    /// credits (nothing paid twice); per asset, the ghost totals add up.
    function _check2_PerStreamAccounting() internal {
        vm.warp(store.time());
        uint256[2] memory depositedSum;
        uint256[2] memory withdrawnSum;
        uint256[2] memory refundedSum;
        for (uint256 i; i < store.streamCount(); ++i) {
            InvariantStore.GhostStream memory g = store.getStream(store.streamIdAt(i));
            _check2_Stream(g);
            uint256 k = g.asset == address(0) ? 0 : 1;
            depositedSum[k] += g.deposited;
            withdrawnSum[k] += g.withdrawn;
            refundedSum[k] += g.senderReceived;
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
        _assertNoViolation(Inv.ACCOUNTING);
    }

    function _check2_Stream(InvariantStore.GhostStream memory g) private view {
        IStreamPay.StreamView memory v = streamPay.getStreamView(g.id);
        assertEq(v.withdrawn + v.refunded + _escrow(v), v.deposited, "withdrawn + refunded + remaining = deposited");
        assertEq(v.deposited, g.deposited, "deposited = create + top-ups (ghost)");
        assertEq(v.withdrawn, g.withdrawn, "withdrawn = ghost recipient side");
        assertEq(v.refunded, g.senderReceived, "refunded = what the sender got back (ghost)");
        assertEq(uint256(v.status), uint256(g.status), "status = ghost status");
        assertEq(v.endTime, g.endTime, "endTime = ghost end time");
        assertEq(v.sender, g.sender, "sender");
        assertEq(v.recipient, g.recipient, "recipient");
        assertEq(v.asset, g.asset, "asset");
        assertEq(v.ratePerSecond, g.rate, "rate locked at creation");
        assertEq(v.startTime, g.start, "start");
        assertEq(v.stopTime, g.stop, "stop = start + deposited / rate");
        assertEq(v.deposited, g.rate * (g.stop - g.start), "deposited = rate * (stop - start)");
        assertEq(v.abandonedAt, g.stop + streamPay.gracePeriod(), "abandonedAt = stop + grace");
        bool cancelled = g.status == CANCELLING || g.status == CANCELLED;
        uint256 challengeEndsAt = cancelled ? g.endTime + streamPay.challengeWindow() : 0;
        assertEq(v.challengeEndsAt, challengeEndsAt, "challengeEndsAt = endTime + window after a cancel");
        if (g.status != OPEN) {
            assertEq(g.endTime, g.cancelAt != 0 ? g.cancelAt : g.closedAt, "endTime = time of the cancel or close");
        }
        address named = store.getVouchers(g.id).namedKey;
        assertEq(v.sessionKey, named, "named session key (view)");
        assertEq(streamPay.namedSessionKeyOf(g.id), named, "named session key");
    }

    /// @notice (3) streamed(t) = rate·(min(t, stop, endTime) − start), never decreases, never exceeds the
    /// deposit, stays frozen once a cancel or close stopped it; refundable, withdrawable and the depleted flag
    /// follow from it. (The handler checks streamed after every step; here, once more with every view.)
    function _check3_StreamedMonotone() internal {
        vm.warp(store.time());
        for (uint256 i; i < store.streamCount(); ++i) {
            InvariantStore.GhostStream memory g = store.getStream(store.streamIdAt(i));
            uint256 streamed = streamPay.streamedAmountOf(g.id);
            assertLe(streamed, g.deposited, "streamed <= deposit");
            assertEq(streamed, g.lastStreamed, "same as observed at the end of the last step");
            uint256 end = g.endTime != 0 && g.endTime < g.stop ? g.endTime : g.stop;
            uint256 t = store.time() < end ? store.time() : end;
            assertEq(streamed, t <= g.start ? 0 : g.rate * (t - g.start), "streamed = rate * elapsed, capped");
            if (g.status != OPEN) assertTrue(g.endTime != 0, "stopped streams have an end time");
            assertEq(
                streamPay.refundableAmountOf(g.id),
                g.status == OPEN ? g.deposited - streamed : 0,
                "refundable = deposited - streamed while open, else 0"
            );
            assertEq(
                streamPay.getStreamView(g.id).depleted,
                g.status == OPEN && store.time() >= g.stop,
                "depleted = open and past its stop time"
            );
            _check3_Withdrawable(g, streamed);
        }
        _assertNoViolation(Inv.STREAMED);
    }

    function _check3_Withdrawable(InvariantStore.GhostStream memory g, uint256 streamed) private view {
        InvariantStore.GhostVouchers memory vb = store.getVouchers(g.id);
        // A cancel pays only inside its window: from cancel time + challengeWindow on, only finalisation is left.
        bool payable_ = g.status == OPEN
            || (g.status == CANCELLING && store.time() < g.cancelAt + streamPay.challengeWindow());
        uint256[2] memory claims = [vb.maxSigned, vb.bestPermanent];
        for (uint256 j; j < claims.length; ++j) {
            uint256 total = claims[j] < streamed ? claims[j] : streamed;
            uint256 expected = payable_ && total > g.withdrawn ? total - g.withdrawn : 0;
            assertEq(streamPay.withdrawableAmountOf(g.id, claims[j]), expected, "withdrawable = min(c, streamed) - wd");
        }
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
        _assertNoViolation(Inv.EXITS);
    }

    /// @notice (5) Only the sender cancels or closes with a receipt, only the recipient closes with a voucher,
    /// and anyone only settles an abandoned stream or finalises a cancel whose window is over (outsiders'
    /// attempts all reverted); only StreamPay records completions, so each provider's stats equal the ghost
    /// sum of its completed streams; ratings equal the ghost's.
    function _check5_AccessControlAndStats() internal {
        vm.warp(store.time());
        assertEq(store.outsiderSuccesses(), 0, "no outsider attempt succeeded");
        for (uint256 i; i < store.streamCount(); ++i) {
            _check5_Stream(store.getStream(store.streamIdAt(i)));
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
        _assertNoViolation(Inv.ACCESS);
    }

    function _check5_Stream(InvariantStore.GhostStream memory g) private view {
        if (g.status == CLOSED) {
            assertTrue(
                (g.closedBy == g.sender && g.receiptUsed) || (g.closedBy == g.recipient && !g.receiptUsed),
                "closed by the sender with a receipt, or by the recipient with a voucher"
            );
        } else if (g.status == CANCELLING || g.status == CANCELLED) {
            assertTrue(g.cancelAt != 0, "a cancelled stream was cancelled by its sender");
            if (g.status == CANCELLED) {
                assertTrue(
                    g.closedBy == g.sender || g.closedBy == g.recipient
                        || g.closedAt >= g.cancelAt + streamPay.challengeWindow(),
                    "a cancel is final by the sender at once, the recipient's answer, or anyone after the window"
                );
            }
        } else if (g.status == SETTLED) {
            assertGe(g.closedAt, g.stop + streamPay.gracePeriod(), "settled by time only once abandoned");
        }
        assertEq(registry.isRated(g.id), g.rated, "rated flag");
    }

    /*//////////////////////////////////////////////////////////////
                          THE FOUR GUARANTEES
    //////////////////////////////////////////////////////////////*/

    /// @notice G1: the sender never pays more than it signed. For every stream not settled as abandoned:
    /// recipient side ≤ max(largest voucher signed, final receipt closed with); once closed, what the sender
    /// paid (deposit − what came back) equals the recipient side; after a cancel, the bound is the largest
    /// voucher alone. Bad session keys and forged vouchers were always refused and moved nothing.
    function _checkG1_SenderPaysAtMostWhatItSigned() internal {
        vm.warp(store.time());
        for (uint256 i; i < store.streamCount(); ++i) {
            InvariantStore.GhostStream memory g = store.getStream(store.streamIdAt(i));
            if (g.status == SETTLED) continue; // G1 holds for streams closed before stopTime + grace
            uint256 maxSigned = store.getVouchers(g.id).maxSigned;
            uint256 cap = g.receiptUsed && g.receiptAmount > maxSigned ? g.receiptAmount : maxSigned;
            uint256 withdrawn = streamPay.getStream(g.id).withdrawn;
            assertLe(withdrawn, cap, "G1: recipient side <= max(largest voucher, final receipt)");
            if (g.status == CANCELLING || g.status == CANCELLED) {
                assertLe(withdrawn, maxSigned, "G1: after a cancel, recipient side <= largest voucher");
            }
            if (g.status == CLOSED || g.status == CANCELLED) {
                assertLe(g.deposited - g.senderReceived, cap, "G1: the sender's net payment <= what it signed");
            }
        }
        _assertNoViolation(Inv.G1);
    }

    /// @notice G2: whenever the recipient acted with its best valid voucher (withdrew, closed, or answered a
    /// cancel before cancel time + challengeWindow), the recipient side holds at least min(that voucher,
    /// streamed then), and keeps it. A cancel leaves the recipient a whole window however late it comes: the
    /// window the contract reports ends at cancel time + challengeWindow, and nobody but the two parties made
    /// a cancel final before then. (Late withdrawals and answers, refused, are checked by the handler.)
    function _checkG2_RecipientKeepsItsVouchers() internal {
        vm.warp(store.time());
        uint256 window = streamPay.challengeWindow();
        for (uint256 i; i < store.streamCount(); ++i) {
            InvariantStore.GhostStream memory g = store.getStream(store.streamIdAt(i));
            assertGe(
                streamPay.getStream(g.id).withdrawn,
                store.getVouchers(g.id).g2Entitled,
                "G2: recipient side >= min(best voucher, streamed) when it acted"
            );
            if (g.cancelAt == 0) continue;
            assertEq(
                streamPay.getStreamView(g.id).challengeEndsAt,
                g.cancelAt + window,
                "G2: a cancel leaves the recipient a whole window: challengeEndsAt = cancel time + window"
            );
            if (g.status == CANCELLED) {
                assertTrue(
                    g.closedAt == g.cancelAt || g.closedBy == g.recipient || g.closedAt >= g.cancelAt + window,
                    "G2: a cancel is final at once, by the recipient's answer, or only after the whole window"
                );
            }
        }
        _assertNoViolation(Inv.G2);
    }

    /// @notice G3: nobody takes more than streamed; per stream, what the sender, the recipient and keepers
    /// received plus what is still in escrow is exactly the deposit (each unit to one side, once).
    function _checkG3_EveryUnitToOneSideOnce() internal {
        vm.warp(store.time());
        for (uint256 i; i < store.streamCount(); ++i) {
            InvariantStore.GhostStream memory g = store.getStream(store.streamIdAt(i));
            IStreamPay.StreamView memory v = streamPay.getStreamView(g.id);
            assertLe(v.withdrawn, v.streamed, "G3: recipient side <= streamed");
            assertEq(g.recipientReceived + g.keeperReceived, v.withdrawn, "G3: recipient side = what it received");
            assertEq(
                g.senderReceived + g.recipientReceived + g.keeperReceived + _escrow(v),
                v.deposited,
                "G3: sender + recipient + keeper + escrow = deposited"
            );
        }
        _assertNoViolation(Inv.G3);
    }

    /// @notice G4: an abandoned stream settled by anyone paid the recipient side the whole deposit, of which
    /// the keeper got exactly 10 bps of what the settlement paid; no stream was settled before it was abandoned.
    function _checkG4_AbandonedSettledByTime() internal {
        vm.warp(store.time());
        for (uint256 i; i < store.streamCount(); ++i) {
            InvariantStore.GhostStream memory g = store.getStream(store.streamIdAt(i));
            if (g.status != SETTLED) continue;
            assertGe(g.closedAt, g.stop + streamPay.gracePeriod(), "G4: settled only after stopTime + grace");
            assertEq(streamPay.getStream(g.id).withdrawn, g.deposited, "G4: the recipient side got all the deposit");
            assertEq(g.recipientReceived + g.keeperReceived, g.deposited, "G4: received in all = deposited");
            assertEq(g.keeperReceived, g.settledAmount * 10 / 10_000, "G4: keeper got exactly 10 bps");
        }
        _assertNoViolation(Inv.G4);
    }

    /*//////////////////////////////////////////////////////////////
                                  HELPERS
    //////////////////////////////////////////////////////////////*/

    /// @dev What a stream still holds: deposited − withdrawn while open; streamed − withdrawn while a cancel
    /// waits for an answer (the rest went back at the cancel); nothing once closed.
    function _escrow(IStreamPay.StreamView memory v) internal pure returns (uint256) {
        if (v.status == StreamStatus.Open) return v.deposited - v.withdrawn;
        if (v.status == StreamStatus.Cancelling) return v.streamed - v.withdrawn;
        return 0;
    }

    function _assertNoViolation(uint256 inv) internal view {
        assertEq(store.violations(inv), 0, store.firstViolation(inv));
    }
}
