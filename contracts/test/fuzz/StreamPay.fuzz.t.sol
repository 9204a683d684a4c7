// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {BaseTest} from "../Base.t.sol";
import {Errors} from "../../src/libraries/Errors.sol";
import {IStreamPay} from "../../src/interfaces/IStreamPay.sol";
import {StreamStatus} from "../../src/types/DataTypes.sol";

/// @notice StreamPay's money paths with fuzzed rates, deposits, top-ups, times, voucher and receipt amounts,
/// in the native coin and the ERC-20, with vouchers signed by the sender, by a session key named at creation
/// or by one the sender authorised. Every test checks, to the wei:
/// - G1: the sender pays no more than max(the receipt it closed with, the largest voucher it signed);
/// - G2: a recipient answering in time gets at least min(its largest voucher, streamed);
/// - G3: the recipient side never exceeds what streamed, and what the sender paid equals what the recipient
///   (wallet + claimable balance), the keeper and the open escrow hold, while the contract holds exactly the
///   escrow and the claimable balances.
contract StreamPay_Fuzz_Test is BaseTest {
    uint256 internal constant MAX_NATIVE_RATE = 1e15;
    uint256 internal constant MAX_USD_RATE = 1e9;
    uint256 internal constant SESSION_PK = uint256(keccak256("fuzzSessionKey"));

    /// @dev One stream under test and the balances it is measured against.
    struct Ctx {
        bool native;
        address asset;
        uint256 providerId;
        address recipient;
        uint256 recipientKey;
        uint256 rate;
        uint256 secs;
        uint256 deposit; // what the stream holds: secs * rate (+ top-ups)
        uint256 signer; // who signs the sender's vouchers: 0 the sender, 1 a named key, 2 an authorised key
        uint256 streamId;
        uint256 senderBefore;
        uint256 recipientBefore;
        uint256 keeperBefore;
        uint256 largestVoucher; // the largest cumulative the sender (or its key) signed so far
    }

    /*//////////////////////////////////////////////////////////////
                                  CREATE
    //////////////////////////////////////////////////////////////*/

    function testFuzz_CreateStream(bool native, uint256 rate, uint256 secs, uint256 dust, uint256 signer) public {
        Ctx memory c = _setUpProvider(native, rate, secs, signer);
        dust = bound(dust, 0, c.rate - 1);
        c.streamId = _create(c, c.secs * c.rate + dust);

        IStreamPay.StreamView memory v = streamPay.getStreamView(c.streamId);
        assertEq(v.startTime, START_TIME, "start");
        assertEq(v.stopTime, START_TIME + c.secs, "stop = start + deposit / rate");
        assertEq(v.deposited, c.secs * c.rate, "deposited excludes the dust");
        assertEq(v.ratePerSecond, c.rate, "rate");
        assertEq(v.streamed, 0, "nothing streamed at the start");
        assertEq(v.sessionKey, c.signer == 1 ? vm.addr(SESSION_PK) : address(0), "named key");
        assertEq(streamPay.refundableAmountOf(c.streamId), c.secs * c.rate, "all refundable at the start");
        assertEq(_senderOut(c), c.secs * c.rate, "sender paid exactly the used amount");
        _assertConserved(c, "after create");
    }

    function testFuzz_TopUp(
        bool native,
        uint256 rate,
        uint256 secs,
        uint256 extraSecs,
        uint256 dust,
        uint256 topUpAt
    ) public {
        Ctx memory c = _setUpProvider(native, rate, secs, 0);
        c.streamId = _create(c, c.secs * c.rate);
        extraSecs = bound(extraSecs, 1, c.secs);
        dust = bound(dust, 0, c.rate - 1);
        topUpAt = bound(topUpAt, 0, c.secs - 1);
        vm.warp(START_TIME + topUpAt);

        uint256 amount = extraSecs * c.rate + dust;
        vm.prank(alice);
        streamPay.topUp{value: c.native ? amount : 0}(c.streamId, amount);
        c.deposit += extraSecs * c.rate;

        assertEq(getStream(c.streamId).stopTime, START_TIME + c.secs + extraSecs, "stop moved by amount / rate");
        assertEq(streamPay.getStreamView(c.streamId).deposited, c.deposit, "deposited grows by the used amount");
        assertEq(_senderOut(c), c.deposit, "dust of the top-up not kept");
        _assertConserved(c, "after top-up");

        // Nobody closes it: at the new stop + grace it is settled by time.
        vm.warp(START_TIME + c.secs + extraSecs + GRACE_PERIOD);
        vm.prank(keeper);
        assertEq(streamPay.batchUpdateStreams(_ids(c.streamId)), 1, "settled");
        assertEq(_keeperGot(c), c.deposit / 1000, "keeper earns floor(0.1%)");
        assertEq(_recipientGot(c), c.deposit - c.deposit / 1000, "recipient got the rest of the whole deposit");
        _assertConserved(c, "after settlement");
    }

    /*//////////////////////////////////////////////////////////////
                                 WITHDRAW
    //////////////////////////////////////////////////////////////*/

    function testFuzz_WithdrawFromStream(
        bool native,
        uint256 rate,
        uint256 secs,
        uint256 signer,
        uint256[2] memory vouchers,
        uint256[2] memory times,
        uint256 callerSeed
    ) public {
        Ctx memory c = _setUpProvider(native, rate, secs, signer);
        c.streamId = _create(c, c.secs * c.rate);
        address[4] memory callers = [alice, c.recipient, keeper, eve];
        uint256 t = START_TIME;
        for (uint256 i; i < 2; ++i) {
            t = bound(times[i], t, START_TIME + c.secs * 2);
            vm.warp(t);
            uint256 cumulative = bound(vouchers[i], 0, c.deposit * 2);
            uint256 withdrawn = getStream(c.streamId).withdrawn;
            uint256 streamed = _streamedAt(c, t);
            uint256 total = _min(cumulative, streamed);
            IStreamPay.Voucher memory v = _voucher(c, cumulative);
            address caller = callers[(callerSeed >> (8 * i)) % 4];
            if (total <= withdrawn) {
                vm.expectRevert(
                    abi.encodeWithSelector(
                        Errors.StreamPay_NothingToWithdraw.selector, c.streamId, cumulative, streamed, withdrawn
                    )
                );
                vm.prank(caller);
                streamPay.withdrawFromStream(c.streamId, v);
            } else {
                vm.prank(caller);
                uint256 paid = streamPay.withdrawFromStream(c.streamId, v);
                assertEq(paid, total - withdrawn, "pays min(voucher, streamed) - withdrawn");
            }
            assertEq(_recipientGot(c), _max(withdrawn, total), "to the recipient, whoever calls");
            assertLe(_recipientGot(c), streamed, "G3: never above what streamed");
            assertLe(_senderPaidSoFar(c), c.largestVoucher, "G1: never above the largest voucher");
            _assertConserved(c, "after a withdrawal");
        }
        assertTrue(getStream(c.streamId).status == StreamStatus.Open, "a withdrawal never closes");
    }

    /*//////////////////////////////////////////////////////////////
                                  CANCEL
    //////////////////////////////////////////////////////////////*/

    /// @dev A cancel at any time before the stop, after an optional withdrawal, answered (at once, or in the
    /// window's last second), finalised unanswered by a keeper after the window, or answered too late (refused)
    /// and then finalised.
    function testFuzz_CancelStream(
        bool native,
        uint256 rate,
        uint256 secs,
        uint256 signer,
        uint256[2] memory vouchers, // withdrawn with, answered with
        uint256 withdrawAt,
        uint256 cancelAt,
        uint256 answerMode
    ) public {
        Ctx memory c = _setUpProvider(native, rate, secs, signer);
        c.streamId = _create(c, c.secs * c.rate);
        withdrawAt = _maybeWithdraw(c, withdrawAt, vouchers[0]);
        cancelAt = bound(cancelAt, withdrawAt, c.secs - 1);
        uint256 withdrawn = getStream(c.streamId).withdrawn;
        _cancelAndSettle(c, cancelAt, bound(vouchers[1], 0, c.deposit * 2), answerMode, withdrawn);
    }

    /// @dev The same, with the cancel between the stop time and stopTime + grace.
    function testFuzz_CancelStream_AfterTheStopTime(
        bool native,
        uint256 rate,
        uint256 secs,
        uint256 signer,
        uint256[2] memory vouchers,
        uint256 withdrawAt,
        uint256 cancelAfterStop,
        uint256 answerMode
    ) public {
        Ctx memory c = _setUpProvider(native, rate, secs, signer);
        c.streamId = _create(c, c.secs * c.rate);
        _maybeWithdraw(c, withdrawAt, vouchers[0]);
        uint256 cancelAt = c.secs + bound(cancelAfterStop, 0, GRACE_PERIOD - 1);
        uint256 withdrawn = getStream(c.streamId).withdrawn;
        _cancelAndSettle(c, cancelAt, bound(vouchers[1], 0, c.deposit * 2), answerMode, withdrawn);
    }

    /// @dev G2 against a hostile keeper: a keeper runs in the same block as the cancel and again just
    /// before the recipient answers, late in its window. The cancel comes before the stop time.
    function testFuzz_G2_KeeperFrontRunsTheAnswer(
        bool native,
        uint256 rate,
        uint256 secs,
        uint256 signer,
        uint256 best,
        uint256 cancelAt,
        uint256 answerDelay
    ) public {
        Ctx memory c = _setUpProvider(native, rate, secs, signer);
        c.streamId = _create(c, c.secs * c.rate);
        cancelAt = bound(cancelAt, 1, c.secs - 1);
        _keeperFrontRunsTheAnswer(c, cancelAt, bound(best, 1, c.deposit * 2), answerDelay);
    }

    /// @dev The same with the cancel after the stop time (still before stopTime + grace), as a sender that
    /// has already been served everything may do. Regression: the window used to be counted from the stop
    /// time, so a late cancel left the recipient a shortened window or none, and the keeper's run in the
    /// cancel's own block finalised it (see cancelStream's test_WhenDepleted_RecipientGetsAFullChallengeWindow).
    function testFuzz_G2_KeeperFrontRunsTheAnswer_CancelAfterTheStopTime(
        bool native,
        uint256 rate,
        uint256 secs,
        uint256 signer,
        uint256 best,
        uint256 cancelAfterStop,
        uint256 answerDelay
    ) public {
        Ctx memory c = _setUpProvider(native, rate, secs, signer);
        c.streamId = _create(c, c.secs * c.rate);
        uint256 cancelAt = c.secs + bound(cancelAfterStop, 0, GRACE_PERIOD - 1);
        _keeperFrontRunsTheAnswer(c, cancelAt, bound(best, 1, c.deposit * 2), answerDelay);
    }

    /*//////////////////////////////////////////////////////////////
                             CLOSE WITH RECEIPT
    //////////////////////////////////////////////////////////////*/

    function testFuzz_CloseWithReceipt(
        bool native,
        uint256 rate,
        uint256 secs,
        uint256 signer,
        uint256 withdrawVoucher,
        uint256 withdrawAt,
        uint256 closeAt,
        uint256 amount
    ) public {
        Ctx memory c = _setUpProvider(native, rate, secs, signer);
        c.streamId = _create(c, c.secs * c.rate);
        withdrawAt = _maybeWithdraw(c, withdrawAt, withdrawVoucher);
        uint256 withdrawn = getStream(c.streamId).withdrawn;
        closeAt = bound(closeAt, withdrawAt, c.secs + GRACE_PERIOD - 1);
        amount = bound(amount, 0, c.deposit * 2);
        vm.warp(START_TIME + closeAt);

        bytes memory sig = signFinalReceipt(c.recipientKey, c.streamId, amount);
        vm.prank(keeper);
        assertEq(streamPay.batchUpdateStreams(_ids(c.streamId)), 0, "a keeper in the same block settles nothing");
        vm.prank(alice);
        streamPay.closeWithReceipt(c.streamId, amount, sig);

        uint256 streamed = _streamedAt(c, START_TIME + closeAt);
        uint256 expected = _max(withdrawn, _min(amount, streamed));
        assertEq(_recipientGot(c), expected, "recipient gets max(withdrawn, min(receipt, streamed))");
        assertEq(_senderPaid(c), expected, "sender pays exactly that");
        assertLe(_senderPaid(c), _max(amount, c.largestVoucher), "G1: max(receipt, largest voucher)");
        assertLe(_recipientGot(c), streamed, "G3: never above what streamed");
        assertEq(_keeperGot(c), 0, "no keeper reward");
        assertTrue(getStream(c.streamId).status == StreamStatus.Closed, "closed");
        assertEq(streamPay.streamedAmountOf(c.streamId), streamed, "streamed stays what time allowed");
        assertEq(getStream(c.streamId).endTime, START_TIME + closeAt, "endTime is the close");
        _assertConserved(c, "after receipt close");
    }

    /*//////////////////////////////////////////////////////////////
                            CLOSE BY RECIPIENT
    //////////////////////////////////////////////////////////////*/

    function testFuzz_CloseByRecipient(
        bool native,
        uint256 rate,
        uint256 secs,
        uint256 signer,
        uint256 withdrawVoucher,
        uint256 withdrawAt,
        uint256 closeAt,
        uint256 cumulative,
        bool signed
    ) public {
        Ctx memory c = _setUpProvider(native, rate, secs, signer);
        c.streamId = _create(c, c.secs * c.rate);
        withdrawAt = _maybeWithdraw(c, withdrawAt, withdrawVoucher);
        uint256 withdrawn = getStream(c.streamId).withdrawn;
        closeAt = bound(closeAt, withdrawAt, c.secs + GRACE_PERIOD - 1);
        vm.warp(START_TIME + closeAt);
        uint256 streamed = _streamedAt(c, START_TIME + closeAt);
        cumulative = bound(cumulative, 0, c.deposit * 2);
        uint256 total = _min(cumulative, streamed);
        IStreamPay.Voucher memory v;
        v.cumulative = cumulative;
        if (signed) v = _voucher(c, cumulative);

        if (!signed && total > withdrawn) {
            // An unsigned voucher may only release what was already paid.
            vm.expectRevert(
                abi.encodeWithSelector(Errors.StreamPay_InvalidVoucherSignature.selector, c.streamId, alice)
            );
            vm.prank(c.recipient);
            streamPay.closeByRecipient(c.streamId, v);
            _assertConserved(c, "a refused close moves nothing");
            return;
        }
        vm.prank(c.recipient);
        streamPay.closeByRecipient(c.streamId, v);

        uint256 expected = _max(withdrawn, total);
        assertEq(_recipientGot(c), expected, "recipient gets max(withdrawn, min(voucher, streamed))");
        assertEq(_senderPaid(c), expected, "sender pays exactly that");
        assertLe(_senderPaid(c), c.largestVoucher, "G1: never above the largest voucher");
        assertLe(_recipientGot(c), streamed, "G3: never above what streamed");
        assertTrue(getStream(c.streamId).status == StreamStatus.Closed, "closed");
        assertEq(getStream(c.streamId).endTime, START_TIME + closeAt, "endTime is the close");
        assertEq(streamPay.streamedAmountOf(c.streamId), streamed, "streamed stays what time allowed");
        _assertConserved(c, "after recipient close");
    }

    /*//////////////////////////////////////////////////////////////
                                  KEEPER
    //////////////////////////////////////////////////////////////*/

    function testFuzz_BatchUpdateStreams_Abandoned(
        bool native,
        uint256 rate,
        uint256 secs,
        uint256 signer,
        uint256 withdrawVoucher,
        uint256 withdrawAt,
        uint256 batchAt
    ) public {
        Ctx memory c = _setUpProvider(native, rate, secs, signer);
        c.streamId = _create(c, c.secs * c.rate);
        withdrawAt = _maybeWithdraw(c, withdrawAt, withdrawVoucher);
        uint256 withdrawn = getStream(c.streamId).withdrawn;
        batchAt = bound(batchAt, withdrawAt, c.secs + GRACE_PERIOD * 2);
        vm.warp(START_TIME + batchAt);
        uint256[] memory ids = new uint256[](2);
        ids[0] = c.streamId;
        ids[1] = c.streamId; // a duplicate is skipped, never paid twice

        vm.prank(keeper);
        uint256 settled = streamPay.batchUpdateStreams(ids);

        if (batchAt < c.secs + GRACE_PERIOD) {
            assertEq(settled, 0, "still the parties' to close");
            assertEq(_recipientGot(c), withdrawn, "nothing settled by time");
            assertEq(_keeperGot(c), 0, "no reward");
        } else {
            uint256 amount = c.deposit - withdrawn;
            assertEq(settled, 1, "settled once");
            assertEq(_keeperGot(c), amount / 1000, "keeper earns floor(0.1%) of what it settles");
            assertEq(_recipientGot(c), c.deposit - amount / 1000, "recipient side gets the whole deposit");
            assertEq(_senderPaid(c), c.deposit, "an abandoned stream is paid by time");
            assertTrue(getStream(c.streamId).status == StreamStatus.Settled, "settled");
            assertEq(getStream(c.streamId).endTime, START_TIME + batchAt, "endTime is the settlement");
            assertEq(streamPay.streamedAmountOf(c.streamId), c.deposit, "streamed caps at the stop time");
        }
        _assertConserved(c, "after a batch");
    }

    function testFuzz_BatchUpdateStreams_ExpiredCancel(
        bool native,
        uint256 rate,
        uint256 secs,
        uint256 signer,
        uint256 withdrawVoucher,
        uint256 withdrawAt,
        uint256 cancelAt,
        uint256 batchDelay
    ) public {
        Ctx memory c = _setUpProvider(native, rate, secs, signer);
        c.streamId = _create(c, c.secs * c.rate);
        withdrawAt = _maybeWithdraw(c, withdrawAt, withdrawVoucher);
        uint256 withdrawn = getStream(c.streamId).withdrawn;
        cancelAt = bound(cancelAt, withdrawAt, c.secs + GRACE_PERIOD - 1); // before or after the stop time
        vm.warp(START_TIME + cancelAt);
        vm.prank(alice);
        streamPay.cancelStream(c.streamId);
        uint256 streamed = _streamedAt(c, START_TIME + cancelAt);
        assertEq(getStream(c.streamId).endTime, START_TIME + cancelAt, "endTime is the cancel");
        bool finalAtOnce = streamed == withdrawn;
        batchDelay = bound(batchDelay, 0, CHALLENGE_WINDOW * 2);
        vm.warp(START_TIME + cancelAt + batchDelay);

        vm.prank(keeper);
        uint256 settled = streamPay.batchUpdateStreams(_ids(c.streamId));

        if (finalAtOnce || batchDelay < CHALLENGE_WINDOW) {
            assertEq(settled, 0, "cancelled already, or the recipient may still answer");
            assertEq(_senderOut(c), streamed, "sender is out only what streamed");
        } else {
            assertEq(settled, 1, "finalised");
            assertEq(_senderOut(c), withdrawn, "sender is out only what was withdrawn by voucher");
            assertTrue(getStream(c.streamId).status == StreamStatus.Cancelled, "cancelled");
        }
        assertEq(_senderPaid(c), withdrawn, "G1: paid only what the vouchers took");
        assertEq(_recipientGot(c), withdrawn, "recipient keeps what it took");
        assertEq(_keeperGot(c), 0, "no reward for finalising");
        assertEq(getStream(c.streamId).endTime, START_TIME + cancelAt, "endTime stays the cancel");
        _assertConserved(c, "after a batch");
    }

    /*//////////////////////////////////////////////////////////////
                G1-G3 THROUGH RANDOM SEQUENCES WITH HOSTILE PARTIES
    //////////////////////////////////////////////////////////////*/

    /// @dev A session: the consumer accepts what the provider bills (never more than streamed) and signs a
    /// voucher for it, now and then carelessly a lower one; the provider withdraws at every chance with its
    /// best voucher and sometimes closes the stream itself; a keeper tries to settle before every step; the
    /// consumer may cancel (the provider answers at once, or never) or close with a final receipt. All before
    /// stopTime + grace. At the end: G1, G2 and G3.
    function testFuzz_Guarantees_HostileProviderAndKeeper(
        bool native,
        uint256 rate,
        uint256 secs,
        uint256 signer,
        uint256 seed,
        uint256 steps
    ) public {
        Ctx memory c = _setUpProvider(native, rate, secs, signer);
        c.streamId = _create(c, c.secs * c.rate);
        Session memory s;
        steps = bound(steps, 1, 24);
        for (uint256 i; i < steps && s.ended == 0; ++i) {
            _step(c, s, uint256(keccak256(abi.encode(seed, i))));
        }
        if (s.ended == 0) {
            // The consumer ends the session with the provider's final receipt for what it accepted.
            s.receipt = s.accepted;
            _closeWithReceipt(c, s);
        }
        if (getStream(c.streamId).status == StreamStatus.Cancelling) {
            skipTime(CHALLENGE_WINDOW);
            vm.prank(keeper);
            assertEq(streamPay.batchUpdateStreams(_ids(c.streamId)), 1, "finalised after the window");
        }

        IStreamPay.StreamView memory v = streamPay.getStreamView(c.streamId);
        assertTrue(v.status != StreamStatus.Open && v.status != StreamStatus.Cancelling, "closed");
        assertTrue(v.status != StreamStatus.Settled, "closed in time: never settled by time");
        assertLe(_senderPaid(c), _max(s.receipt, c.largestVoucher), "G1: receipt or largest voucher");
        if (s.ended == ANSWERED || s.ended == PROVIDER_CLOSED) {
            assertGe(_recipientGot(c), _min(c.largestVoucher, v.streamed), "G2: largest voucher, capped");
        }
        assertLe(v.withdrawn, v.streamed, "G3: never above what streamed");
        assertEq(_recipientGot(c), v.withdrawn, "the recipient side is all the recipient's");
        assertEq(_keeperGot(c), 0, "no keeper reward in a session closed in time");
        _assertConserved(c, "at the end");
    }

    /*//////////////////////////////////////////////////////////////
                         A MIXED LIFE, BOTH ASSETS
    //////////////////////////////////////////////////////////////*/

    function testFuzz_MixedLifecycle_BothAssets(uint256 rate, uint256 secs, uint256 seed, bool endWithReceipt)
        public
    {
        Ctx memory n = _setUpProvider(true, rate, secs, seed % 3);
        Ctx memory u = _setUpProvider(false, rate, secs, (seed >> 8) % 3);
        n.streamId = _create(n, n.secs * n.rate + n.rate / 2);
        u.streamId = _create(u, u.secs * u.rate);

        uint256 shorter = _min(n.secs, u.secs);
        uint256 t = bound(seed, 0, shorter - 1);
        vm.warp(START_TIME + t);
        vm.prank(alice);
        streamPay.topUp{value: n.rate * 3}(n.streamId, n.rate * 3);
        n.deposit += n.rate * 3;
        _assertConserved(n, "native after top-up");

        t = bound(uint256(keccak256(abi.encode(seed, 1))), t, shorter + 3); // both still in their grace period
        vm.warp(START_TIME + t);
        _withdrawIfAny(n, bound(seed >> 16, 0, n.deposit));
        _withdrawIfAny(u, bound(seed >> 32, 0, u.deposit));
        vm.prank(keeper);
        streamPay.batchUpdateStreams(_ids2(n.streamId, u.streamId));
        _assertConserved(n, "native after withdrawals and a batch");
        _assertConserved(u, "usd after withdrawals and a batch");

        uint256 amount;
        if (endWithReceipt) {
            amount = bound(seed >> 48, 0, n.deposit);
            bytes memory sig = signFinalReceipt(n.recipientKey, n.streamId, amount);
            vm.prank(alice);
            streamPay.closeWithReceipt(n.streamId, amount, sig);
        } else {
            vm.prank(alice);
            streamPay.cancelStream(n.streamId);
        }
        vm.prank(alice);
        streamPay.cancelStream(u.streamId);
        _assertConserved(n, "native after close");
        _assertConserved(u, "usd after close");

        // Windows pass unanswered and anyone finalises; then everyone takes their claimable balance out.
        skipTime(CHALLENGE_WINDOW);
        vm.prank(eve);
        streamPay.batchUpdateStreams(_ids2(n.streamId, u.streamId));
        _drain(n.recipient, n.asset);
        _drain(u.recipient, u.asset);
        _drain(keeper, n.asset);
        _drain(keeper, u.asset);
        assertEq(_held(n), 0, "no native coin left behind");
        assertEq(_held(u), 0, "no token left behind");
        assertLe(_senderPaid(n), _max(amount, n.largestVoucher), "G1: native sender, receipt or vouchers");
        assertLe(_senderPaid(u), u.largestVoucher, "G1: usd sender paid only its vouchers");
        _assertConserved(n, "native at the end");
        _assertConserved(u, "usd at the end");
    }

    /*//////////////////////////////////////////////////////////////
                            SESSION MODEL (G1-G3)
    //////////////////////////////////////////////////////////////*/

    uint256 internal constant ANSWERED = 1; // the consumer cancelled and the provider answered at once
    uint256 internal constant UNANSWERED = 2; // the consumer cancelled and the provider never answered
    uint256 internal constant PROVIDER_CLOSED = 3; // the provider closed the stream itself
    uint256 internal constant RECEIPT = 4; // the consumer closed with a final receipt

    struct Session {
        uint256 accepted; // what the consumer accepted so far
        uint256 best; // the provider's best voucher (the largest it received)
        uint256 receipt; // the final receipt the consumer closed with, if any
        uint256 ended; // how the session ended (0 = still open)
    }

    function _step(Ctx memory c, Session memory s, uint256 r) private {
        // A keeper tries to settle before every step, in the same block.
        vm.prank(keeper);
        assertEq(streamPay.batchUpdateStreams(_ids(c.streamId)), 0, "keeper settles nothing in time");
        uint256 action = r % 8;
        if (action <= 1) {
            // Serving: time passes, the provider bills at most what streamed, the consumer accepts it.
            uint256 dt = bound(r >> 8, 0, c.secs / 3 + 1);
            _skipWithinGrace(c, dt);
            uint256 streamed = streamPay.streamedAmountOf(c.streamId);
            if (streamed > s.accepted) s.accepted += bound(r >> 64, 0, streamed - s.accepted);
        } else if (action <= 3) {
            // The consumer vouches for what it accepted, or carelessly for less (a lower voucher after a
            // higher one); the provider keeps its best.
            uint256 cumulative = action == 2 ? s.accepted : bound(r >> 8, 0, s.accepted);
            _voucher(c, cumulative); // signed: counted in the largest voucher
            if (cumulative > s.best) s.best = cumulative;
        } else if (action == 4) {
            _withdrawBest(c, s);
        } else if (action == 5 && (r >> 8) % 4 != 0) {
            _withdrawBest(c, s);
        } else if (action == 5) {
            vm.prank(c.recipient);
            streamPay.closeByRecipient(c.streamId, _voucher(c, s.best));
            s.ended = PROVIDER_CLOSED;
        } else if (action == 6) {
            vm.prank(alice);
            streamPay.cancelStream(c.streamId);
            if ((r >> 8) % 3 == 0) {
                s.ended = UNANSWERED;
                return;
            }
            if (getStream(c.streamId).status == StreamStatus.Cancelling) {
                vm.prank(keeper);
                assertEq(streamPay.batchUpdateStreams(_ids(c.streamId)), 0, "no finalising in the window");
                vm.prank(c.recipient);
                streamPay.closeByRecipient(c.streamId, _voucher(c, s.best));
            }
            s.ended = ANSWERED;
        } else {
            s.receipt = bound(r >> 8, 0, c.deposit * 2);
            _closeWithReceipt(c, s);
        }
    }

    /// @dev The hostile provider withdraws with its best voucher whenever that pays anything; afterwards it
    /// holds at least min(best, streamed) (G2, at every moment).
    function _withdrawBest(Ctx memory c, Session memory s) private {
        uint256 streamed = streamPay.streamedAmountOf(c.streamId);
        if (_min(s.best, streamed) > getStream(c.streamId).withdrawn) {
            vm.prank(c.recipient);
            streamPay.withdrawFromStream(c.streamId, _voucher(c, s.best));
        }
        assertGe(getStream(c.streamId).withdrawn, _min(s.best, streamed), "G2: the recipient takes its voucher");
    }

    function _closeWithReceipt(Ctx memory c, Session memory s) private {
        bytes memory sig = signFinalReceipt(c.recipientKey, c.streamId, s.receipt);
        vm.prank(keeper);
        assertEq(streamPay.batchUpdateStreams(_ids(c.streamId)), 0, "keeper front-runs the close: nothing");
        vm.prank(alice);
        streamPay.closeWithReceipt(c.streamId, s.receipt, sig);
        s.ended = RECEIPT;
    }

    /// @dev Moves time on by `dt`, but never to stopTime + grace: the consumer closes in time.
    function _skipWithinGrace(Ctx memory c, uint256 dt) private {
        uint256 last = START_TIME + c.secs + GRACE_PERIOD - 1;
        uint256 to = vm.getBlockTimestamp() + dt;
        vm.warp(to < last ? to : last);
    }

    /*//////////////////////////////////////////////////////////////
                                 HELPERS
    //////////////////////////////////////////////////////////////*/

    /// @dev Sender cancels at `cancelAt`; then per `answerMode % 4` the recipient answers with its best voucher
    /// (the larger of `answer` and the one it withdrew with) at once (0), at the last second of its window (1),
    /// never, and a keeper finalises at the window's end (2), or too late: at or after the window's end its
    /// withdrawal and its answer are refused, and a keeper finalises (3). Asserts the amounts, the end time and
    /// window, G1, G2 and G3.
    function _cancelAndSettle(Ctx memory c, uint256 cancelAt, uint256 answer, uint256 answerMode, uint256 withdrawn)
        private
    {
        vm.warp(START_TIME + cancelAt);
        uint256 streamed = _streamedAt(c, START_TIME + cancelAt);
        vm.prank(alice);
        streamPay.cancelStream(c.streamId);
        assertEq(_senderOut(c), streamed, "refund at once = deposited - streamed");
        IStreamPay.StreamView memory v = streamPay.getStreamView(c.streamId);
        assertEq(v.endTime, START_TIME + cancelAt, "endTime is the cancel, however late");
        assertEq(v.challengeEndsAt, START_TIME + cancelAt + CHALLENGE_WINDOW, "a whole window from the cancel");
        uint256 mode = answerMode % 4;
        if (streamed == withdrawn) {
            assertTrue(v.status == StreamStatus.Cancelled, "nothing owed: cancelled at once");
            mode = NOTHING_TO_ANSWER;
        }
        uint256 expected = withdrawn;
        if (mode < 2) {
            if (mode == 1) vm.warp(v.challengeEndsAt - 1);
            answer = _max(answer, c.largestVoucher); // the recipient answers with the best voucher it holds
            IStreamPay.Voucher memory av = _voucher(c, answer);
            vm.prank(c.recipient);
            streamPay.closeByRecipient(c.streamId, av);
            expected = _max(withdrawn, _min(answer, streamed));
            assertGe(_recipientGot(c), _min(c.largestVoucher, streamed), "G2: answered in time");
        } else if (mode == 2) {
            vm.warp(v.challengeEndsAt);
            vm.prank(keeper);
            assertEq(streamPay.batchUpdateStreams(_ids(c.streamId)), 1, "finalised");
        } else if (mode == 3) {
            vm.warp(v.challengeEndsAt + (answerMode >> 8) % GRACE_PERIOD);
            _answerTooLate(c, v.challengeEndsAt, _max(answer, c.largestVoucher), withdrawn);
            vm.prank(keeper);
            assertEq(streamPay.batchUpdateStreams(_ids(c.streamId)), 1, "finalised after a refused answer");
        }
        assertTrue(getStream(c.streamId).status == StreamStatus.Cancelled, "cancelled");
        assertEq(getStream(c.streamId).endTime, START_TIME + cancelAt, "endTime stays the cancel");
        assertEq(_recipientGot(c), expected, "recipient side");
        assertEq(_senderPaid(c), expected, "sender paid exactly the recipient side");
        assertLe(_senderPaid(c), c.largestVoucher, "G1: never above the largest voucher");
        assertLe(_recipientGot(c), streamed, "G3: never above what streamed");
        assertEq(_keeperGot(c), 0, "no keeper reward");
        assertEq(streamPay.streamedAmountOf(c.streamId), streamed, "streamed frozen at the cancel");
        _assertConserved(c, "after the cancel settled");
    }

    /// @dev _cancelAndSettle's mode for a cancel that was final at once (everything streamed already paid).
    uint256 internal constant NOTHING_TO_ANSWER = 4;

    /// @dev At or after `challengeEndsAt` the recipient withdraws and answers with its best voucher: both are
    /// refused with StreamPay_ChallengeWindowClosed(streamId, challengeEndsAt), and no money moves.
    function _answerTooLate(Ctx memory c, uint256 challengeEndsAt, uint256 best, uint256 withdrawn) private {
        IStreamPay.Voucher memory av = _voucher(c, best);
        bytes memory tooLate =
            abi.encodeWithSelector(Errors.StreamPay_ChallengeWindowClosed.selector, c.streamId, challengeEndsAt);
        uint256 held = _held(c);
        uint256 senderOut = _senderOut(c);
        assertEq(streamPay.withdrawableAmountOf(c.streamId, best), 0, "nothing withdrawable after the window");
        vm.expectRevert(tooLate);
        vm.prank(c.recipient);
        streamPay.withdrawFromStream(c.streamId, av);
        vm.expectRevert(tooLate);
        vm.prank(c.recipient);
        streamPay.closeByRecipient(c.streamId, av);
        assertEq(_held(c), held, "a late withdrawal or answer moves nothing");
        assertEq(_senderOut(c), senderOut, "the sender neither pays nor gets anything");
        assertEq(_recipientGot(c), withdrawn, "the recipient keeps only what it took in time");
        assertTrue(getStream(c.streamId).status == StreamStatus.Cancelling, "only finalisation is left");
    }

    /// @dev The provider holds an unused voucher for `best`; the sender cancels at `cancelAt`; a keeper runs in
    /// the same block and again right before the provider answers, some time inside the window it was given.
    function _keeperFrontRunsTheAnswer(Ctx memory c, uint256 cancelAt, uint256 best, uint256 answerDelay) private {
        IStreamPay.Voucher memory v = _voucher(c, best);
        vm.warp(START_TIME + cancelAt);
        uint256 streamed = _streamedAt(c, START_TIME + cancelAt);
        vm.prank(alice);
        streamPay.cancelStream(c.streamId);
        vm.prank(keeper);
        streamPay.batchUpdateStreams(_ids(c.streamId));
        assertTrue(
            getStream(c.streamId).status == StreamStatus.Cancelling,
            "a keeper finalised the cancel in its own block: the recipient had no window"
        );
        assertEq(
            streamPay.getStreamView(c.streamId).challengeEndsAt,
            START_TIME + cancelAt + CHALLENGE_WINDOW,
            "a whole window from the cancel"
        );
        skipTime(bound(answerDelay, 0, CHALLENGE_WINDOW - 1));
        vm.prank(keeper);
        streamPay.batchUpdateStreams(_ids(c.streamId));
        vm.prank(c.recipient);
        streamPay.closeByRecipient(c.streamId, v);

        assertEq(_recipientGot(c), _min(best, streamed), "G2: min(largest voucher, streamed)");
        assertEq(_senderPaid(c), _min(best, streamed), "G1: the sender paid that voucher, capped");
        _assertConserved(c, "after the answer");
    }

    /// @dev Prices the fixture provider of the asset at a fuzzed rate and bounds the stream length so the
    /// sender (funded by the fixture) can afford it and top-ups of the same size.
    function _setUpProvider(bool native, uint256 rate, uint256 secs, uint256 signer)
        private
        returns (Ctx memory c)
    {
        c.native = native;
        c.asset = native ? address(0) : address(usd);
        c.providerId = native ? nativeProviderId : usdProviderId;
        c.recipient = native ? provider : usdProvider;
        c.recipientKey = native ? providerKey : usdProviderKey;
        c.rate = bound(rate, 1, native ? MAX_NATIVE_RATE : MAX_USD_RATE);
        uint256 affordable = _wallet(alice, native) / (4 * c.rate);
        c.secs = bound(secs, 2, _min(affordable, 10_000_000));
        c.signer = signer % 3;
        vm.prank(c.recipient);
        registry.updateProvider(c.providerId, c.rate, ENDPOINT, true);
        c.senderBefore = _wallet(alice, native);
        c.recipientBefore = _wallet(c.recipient, native);
        c.keeperBefore = _wallet(keeper, native);
    }

    function _create(Ctx memory c, uint256 amount) private returns (uint256 streamId) {
        address key = c.signer == 1 ? vm.addr(SESSION_PK) : address(0);
        vm.prank(alice);
        streamId = streamPay.createStream{value: c.native ? amount : 0}(c.providerId, c.rate, amount, key);
        c.deposit = (amount / c.rate) * c.rate;
    }

    /// @dev A voucher for `cumulative` on the stream, signed the way the context says; counted as signed.
    function _voucher(Ctx memory c, uint256 cumulative) private view returns (IStreamPay.Voucher memory) {
        if (cumulative > c.largestVoucher) c.largestVoucher = cumulative;
        if (c.signer == 1) return namedKeyVoucher(SESSION_PK, c.streamId, cumulative);
        if (c.signer == 2) return sessionVoucher(SESSION_PK, aliceKey, c.streamId, cumulative, START_TIME + 365 days);
        return voucher(aliceKey, c.streamId, cumulative);
    }

    /// @dev Optionally withdraws, at a time strictly inside the stream, with a voucher for a random amount;
    /// returns that time (0 = no withdrawal).
    function _maybeWithdraw(Ctx memory c, uint256 withdrawAt, uint256 cumulative) private returns (uint256) {
        withdrawAt = bound(withdrawAt, 0, c.secs - 1);
        if (withdrawAt == 0) return 0;
        vm.warp(START_TIME + withdrawAt);
        _withdrawIfAny(c, bound(cumulative, 1, c.deposit * 2));
        return withdrawAt;
    }

    function _withdrawIfAny(Ctx memory c, uint256 cumulative) private {
        uint256 withdrawn = getStream(c.streamId).withdrawn;
        uint256 total = _min(cumulative, streamPay.streamedAmountOf(c.streamId));
        if (total <= withdrawn) return;
        uint256 paid = streamPay.withdrawFromStream(c.streamId, _voucher(c, cumulative));
        assertEq(paid, total - withdrawn, "withdrawn by voucher, capped by streamed");
    }

    function _streamedAt(Ctx memory c, uint256 t) private view returns (uint256) {
        if (t <= START_TIME) return 0;
        return c.rate * _min(t - START_TIME, getStream(c.streamId).stopTime - START_TIME);
    }

    function _drain(address account, address asset) private {
        if (streamPay.balanceOf(account, asset) == 0) return;
        vm.prank(account);
        streamPay.withdrawBalance(asset, account);
    }

    function _wallet(address account, bool native) private view returns (uint256) {
        return native ? account.balance : usd.balanceOf(account);
    }

    function _held(Ctx memory c) private view returns (uint256) {
        return _wallet(address(streamPay), c.native);
    }

    /// @dev What left the sender for good: wallet decrease minus its claimable balance, and minus what an open
    /// or cancelling stream still escrows (which may come back).
    function _senderPaid(Ctx memory c) private view returns (uint256) {
        return _senderOut(c) - _escrow(c);
    }

    /// @dev What the sender's wallet is out, escrow included (its claimable balance counts as its own).
    function _senderOut(Ctx memory c) private view returns (uint256) {
        return c.senderBefore - _wallet(alice, c.native) - streamPay.balanceOf(alice, c.asset);
    }

    /// @dev What the sender has irrevocably paid so far on a stream still open: its recipient side.
    function _senderPaidSoFar(Ctx memory c) private view returns (uint256) {
        return getStream(c.streamId).withdrawn;
    }

    function _recipientGot(Ctx memory c) private view returns (uint256) {
        return _wallet(c.recipient, c.native) - c.recipientBefore + streamPay.balanceOf(c.recipient, c.asset);
    }

    function _keeperGot(Ctx memory c) private view returns (uint256) {
        return _wallet(keeper, c.native) - c.keeperBefore + streamPay.balanceOf(keeper, c.asset);
    }

    /// @dev What the stream still escrows: deposited - withdrawn while open; streamed - withdrawn while
    /// cancelling (the rest already went back); 0 once closed.
    function _escrow(Ctx memory c) private view returns (uint256) {
        if (c.streamId == 0) return 0;
        IStreamPay.StreamView memory v = streamPay.getStreamView(c.streamId);
        if (v.status == StreamStatus.Open) return v.deposited - v.withdrawn;
        if (v.status == StreamStatus.Cancelling) return v.streamed - v.withdrawn;
        return 0;
    }

    /// @dev G3, to the wei: what left the sender went to the recipient or the keeper (the escrow is counted
    /// on neither side), and the contract holds exactly the escrow and the claimable balances.
    function _assertConserved(Ctx memory c, string memory where) private view {
        assertEq(_senderPaid(c), _recipientGot(c) + _keeperGot(c), string.concat("conservation ", where));
        uint256 claims = streamPay.balanceOf(alice, c.asset) + streamPay.balanceOf(c.recipient, c.asset)
            + streamPay.balanceOf(keeper, c.asset);
        assertEq(_held(c), _escrow(c) + claims, string.concat("contract holds exactly what it owes ", where));
    }

    function _ids(uint256 id) private pure returns (uint256[] memory ids) {
        ids = new uint256[](1);
        ids[0] = id;
    }

    function _ids2(uint256 a, uint256 b) private pure returns (uint256[] memory ids) {
        ids = new uint256[](2);
        ids[0] = a;
        ids[1] = b;
    }

    function _min(uint256 a, uint256 b) private pure returns (uint256) {
        return a < b ? a : b;
    }

    function _max(uint256 a, uint256 b) private pure returns (uint256) {
        return a > b ? a : b;
    }
}
