// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";

import {InvariantBase} from "./InvariantBase.sol";
import {InvariantStore, Inv} from "./stores/InvariantStore.sol";

/// @notice The handler itself, driven through fixed scripts: every action and every hostile scenario must
/// happen at least once (a handler whose actions silently never succeed would make the invariant campaign
/// vacuous), and the model must agree with the contracts after each phase.
/// @dev Seeds follow the layout documented on each handler action. Scripts stay short: the whole script is
/// one transaction, whose trace the test runner keeps in memory.
contract StreamPayHandler_Test is InvariantBase {
    using Strings for uint256;

    /// @dev Bit 200+ of a stream seed: pick the first fitting stream from the seed's index on.
    uint256 internal constant SCAN = 1 << 200;
    /// @dev (dustSeed >> 128) % 32 >= 3: a valid create; (dustSeed >> 128) % 8 != 0: top-up by the sender.
    uint256 internal constant VALID = 3 << 128;
    /// @dev Bit 64 of a sender seed: no session key named at creation (for senders that can sign).
    uint256 internal constant NO_KEY = 1 << 64;
    /// @dev whoSeed of cancelStream: the sender cancels an open stream, signing nothing first, with no
    /// withdrawal just before, and the keeper front-runs the cancel.
    uint256 internal constant SENDER_CANCELS = 2 | (1 << 4) | (1 << 8) | (1 << 9) | (1 << 12);
    /// @dev answerSeed of cancelStream: the recipient answers (bit 0 clear) in the window's last minutes (2)
    /// or too late (3), `secs` after the cancel; KEEPER_ANSWER: the keeper front-runs the answer.
    uint256 internal constant ANSWER_LAST_MINUTES = 2 << 1;
    uint256 internal constant ANSWER_TOO_LATE = 3 << 1;
    uint256 internal constant KEEPER_ANSWER = 1 << 64;

    string[16] internal actions = [
        "warp",
        "createStream",
        "topUp",
        "signVoucher",
        "withdrawFromStream",
        "cancelStream",
        "closeWithReceipt",
        "closeByRecipient",
        "providerGreedy",
        "badVoucher",
        "batchUpdateStreams",
        "withdrawBalance",
        "rateProvider",
        "updateProvider",
        "outsiderAttack",
        "setProviderDown"
    ];

    /*//////////////////////////////////////////////////////////////
                                  SCRIPTS
    //////////////////////////////////////////////////////////////*/

    function test_ScriptedRun_EveryActionSucceedsAndTheModelHolds() public {
        // Five streams: alice → native EOA provider (no named key), the refusing sender → stablecoin provider
        // (named key), the ERC-1271 sender → ERC-1271 provider (named key, native dust back to the wallet), bob →
        // provider that refuses coin, the refusing sender → native EOA provider (dust deferred to its balance).
        handler.createStream(0 | NO_KEY, 0, _long(4000), VALID | 7);
        handler.createStream(2, 1, _long(3000), VALID | 3);
        handler.createStream(3, 2, _short(500), VALID | (RATE * 2 - 1));
        handler.createStream(1 | NO_KEY, 3, _short(600), VALID);
        handler.createStream(2, 0, _short(300), VALID | 5);
        assertEq(store.streamCount(), 5, "five streams");
        assertGt(store.credit(handler.senders(2), address(0)), 0, "dust refused by a contract sender is claimable");
        _checkAll();

        // Vouchers by every kind of signer, then the recipients take them.
        handler.warp(_seconds(200));
        handler.topUp(_at(1), (100 << 4) | 1, VALID);
        handler.signVoucher(_at(1), _more(50 * RATE), 0); // alice herself
        handler.signVoucher(_at(1), _more(20 * RATE), 1 | (600 << 8)); // alice's session key, for 10 minutes
        handler.signVoucher(_at(2), _more(100 * USD_RATE), 0); // the key named by the refusing sender
        handler.signVoucher(_at(3), _more(100 * RATE), 0); // the ERC-1271 sender
        handler.signVoucher(_at(4), _more(50 * RATE), 0); // bob
        for (uint256 id = 1; id <= 4; ++id) {
            handler.withdrawFromStream(_at(id), 1, 2 | (1 << 8)); // the recipient, with its best voucher
        }
        assertGt(store.credit(store.getStream(4).recipient, address(0)), 0, "refused payout is claimable");
        _checkAll();

        // Closes: a receipt close front-run by the keeper (refund deferred to the refusing sender), a recipient
        // close, and a cancel after a newer voucher that the recipient answers at once.
        handler.closeWithReceipt(_at(5), (10 * RATE << 2) | 1, 2 | (1 << 4) | (5 << 8));
        handler.closeByRecipient(_at(3), 2, 1 | (2 << 1) | (1 << 4));
        handler.cancelStream(_at(2), 2 | (1 << 4) | (1 << 9) | (1 << 12), (1 << 64) | (2 << 16));
        assertEq(store.statusOf(2), CANCELLED, "the answer closed the cancel");
        assertEq(store.statusOf(3), CLOSED, "recipient closed");
        assertEq(store.statusOf(5), CLOSED, "receipt closed");
        _checkAll();

        // The greedy provider withdraws and closes; the keeper settles an abandoned stream days later.
        handler.providerGreedy(_at(1), 1 | (1 << 8));
        assertEq(store.statusOf(1), CLOSED, "the greedy provider closed");
        handler.warp(0); // a day
        _keepUntil(4, SETTLED, 2); // the refusing keeper: its reward is credited
        _checkAll();

        // Everyone with a balance takes it out (the refusing contracts to the sink); a rating.
        for (uint256 i; i < 8; ++i) {
            handler.withdrawBalance(i, VALID | i, 1);
        }
        handler.rateProvider(SCAN, 1, 1);
        _checkAll();

        // Provider administration: a price change, a deactivation, then after the cooldown the stake back.
        handler.updateProvider(0, 0, RATE * 3 / 2);
        handler.updateProvider(4, 2, 0);
        handler.warp(uint256(8 days) << 8); // 8 days: past the stake cooldown
        handler.updateProvider(4, 4, 0);
        assertEq(store.getProvider(store.providerIdAt(4)).stake, 0, "stake withdrawn after the cooldown");
        handler.updateProvider(4, 3, 1 ether); // stake again ...
        handler.updateProvider(4, 2, 0); // ... and reactivate
        assertTrue(store.getProvider(store.providerIdAt(4)).active, "reactivated");

        // Parties without the right, a bad voucher, and a provider going down.
        handler.createStream(1 | NO_KEY, 0, _short(300), VALID);
        handler.signVoucher(_at(6), _more(10 * RATE), 0);
        handler.warp(_seconds(100));
        for (uint256 kind; kind < 6; ++kind) {
            handler.outsiderAttack(SCAN | 5, kind);
        }
        handler.badVoucher(_at(6), 0, 2);
        handler.setProviderDown(0, 0);
        _checkAll();

        for (uint256 i; i < actions.length; ++i) {
            bytes32 action = bytes32(bytes(actions[i]));
            assertGt(store.successes(action), 0, string.concat(actions[i], " never succeeded"));
        }
        assertGt(store.scenarios("receipt close after front-run"), 0, "a receipt close in time after a front-run");
        assertGt(store.scenarios("answered a cancel in the window"), 0, "a cancel answered in the window");
        assertGt(store.scenarios("cancel after newer vouchers"), 0, "a cancel after newer vouchers");
        assertGt(store.exitAttempts(), 10, "exits were attempted");
        assertGe(store.outsiderAttempts(), 6, "outsiders were tried");
        assertEq(store.outsiderSuccesses(), 0, "and always refused");
    }

    function test_ScriptedRun_EveryHostileScenarioHappens() public {
        // 1: alice (named key) → native EOA provider; 2: bob → provider that refuses coin; 3: ERC-1271 sender →
        // stablecoin provider (cancelled after its stop time); 4: alice → stablecoin provider (to be abandoned).
        handler.createStream(0, 0, _long(4000), VALID);
        handler.createStream(1 | NO_KEY, 3, _long(3000), VALID);
        handler.createStream(3 | NO_KEY, 1, _long(900), VALID);
        handler.createStream(0 | NO_KEY, 1, _short(60), VALID);
        handler.warp(_seconds(300));

        // Vouchers: the named key, alice, a lower one after a higher one; a session key that runs out and is
        // renewed; the ERC-1271 sender.
        handler.signVoucher(_at(1), _more(100 * RATE), 1); // able: alice, named key, session key → named
        handler.withdrawFromStream(_at(1), 1, 2 | (1 << 8));
        handler.signVoucher(_at(1), _more(20 * RATE), 0); // alice: 120
        handler.signVoucher(_at(1), (10 * RATE << 3) | 0, 0); // alice goes back to 10: the provider keeps 120
        handler.signVoucher(_at(1), _more(30 * RATE), 2 | (300 << 8)); // session key for 5 minutes: 150
        handler.warp(_seconds(400)); // the session key expired
        handler.signVoucher(_at(1), _more(10 * RATE), 2 | (900 << 8)); // renewed: 160
        handler.signVoucher(_at(3), _more(100 * USD_RATE), 0);
        handler.withdrawFromStream(_at(3), 1, 2 | (1 << 8));

        // Every bad voucher on stream 1, refused with its exact error; one through closeByRecipient.
        for (uint256 kind; kind < 6; ++kind) {
            handler.badVoucher(_at(1), kind, 2);
        }
        handler.badVoucher(_at(1), 2, 0);
        _checkAll();

        // Bob signs, the provider withdraws, bob signs newer vouchers and cancels while the provider is down:
        // after the window anyone (alice) finalises.
        handler.signVoucher(_at(2), _more(100 * RATE), 0);
        handler.withdrawFromStream(_at(2), 1, 2 | (1 << 8));
        handler.setProviderDown(3, 0);
        handler.cancelStream(_at(2), 2 | (1 << 4) | (1 << 9) | (1 << 12), (50 * RATE << 19) | (2 << 16) | 1);
        handler.warp(_seconds(1800 + 60));
        _finaliseBy(2, 1); // alice, who is not a keeper
        handler.setProviderDown(3, 1);

        // Stream 1: the greedy provider withdraws in the same block as the cancel, with a voucher above all
        // that streamed: nothing is left to answer, so the cancel is final at once.
        handler.signVoucher(_at(1), (4000 * RATE << 3) | 1, 0); // an overshoot: far above what streamed
        handler.cancelStream(_at(1), 2 | (1 << 4) | (1 << 8) | (1 << 12), 1);
        assertEq(store.statusOf(1), CANCELLED, "final at once");

        // Stream 3, past its stop time: cancelled (a whole window from the cancel), not answered. After the window,
        // with no keeper awake, the recipient's withdrawal and its answer are refused and move nothing; only the
        // finalisation is left.
        handler.cancelStream(_at(3), SENDER_CANCELS, 1);
        handler.warp(_seconds(1800 + 30));
        handler.withdrawFromStream(2, 1, 2 | (1 << 8)); // stream 3 as it is (no scan), past its window
        handler.closeByRecipient(_at(3), 2, 0 | (2 << 1));
        assertEq(store.statusOf(3), CANCELLING, "late withdrawals and answers change nothing");
        _checkAll();

        // Stream 4 is abandoned: the keeper's front-run settles it before the sender's receipt close.
        handler.warp(0); // a day
        handler.closeWithReceipt(_at(4), 1, 2 | (1 << 4) | (5 << 8));
        assertEq(store.statusOf(4), SETTLED, "settled by the front-running keeper");
        // Another abandoned stream, settled by someone who is not a keeper.
        handler.createStream(0 | NO_KEY, 0, _short(60), VALID);
        handler.warp(0);
        _keepUntil(5, SETTLED, 1);
        _finaliseBy(3, 0); // stream 3's cancel, past its window, if those batches did not already
        _checkAll();

        bytes32[25] memory scenarios = [
            bytes32("signed lower after higher"),
            "session key renewed",
            "paid: named key's voucher",
            "paid: ERC-1271 sender's voucher",
            "paid: sender's voucher",
            "bad key: expired",
            "bad key: another stream's",
            "bad key: not the sender's",
            "bad key: not the named one",
            "bad voucher: amount raised",
            "bad voucher: another stream's",
            "cancel while provider down",
            "cancel after newer vouchers",
            "down provider's cancel finalised",
            "cancel final at once",
            "late answer refused",
            "late withdrawal refused",
            "front-run closed the stream",
            "front-run changed nothing",
            "abandoned settled by a keeper",
            "abandoned settled by anyone",
            "recipient took its best voucher",
            "cancel after the stop time",
            "receipt close after front-run",
            "answered a cancel in the window"
        ];
        // The last two need a close in time after a front-run and an answer within the window (first script).
        for (uint256 i; i < scenarios.length - 2; ++i) {
            assertGt(store.scenarios(scenarios[i]), 0, string.concat(_text(scenarios[i]), " never happened"));
        }
    }

    /// @dev Regression (G2): a sender that cancelled after stopTime + challengeWindow, but before stopTime +
    /// grace, used to get a window that had already ended, because StreamPay counted it from endTime = stopTime:
    /// a keeper finalised the cancel in the same block and the provider's immediate answer failed, keeping
    /// nothing of a 200-second voucher it had earned in full. endTime is now the time of the cancel, so the
    /// window is whole: the keeper's front-run changes nothing and the answer keeps the whole voucher.
    function test_G2_AnswerAtOnceToACancelAfterTheStopTime() public {
        handler.createStream(0 | NO_KEY, 0, _short(300), VALID); // alice → native EOA provider, 300 s
        handler.signVoucher(_at(1), _more(200 * RATE), 0); // alice signs for 200 s of compute
        handler.warp((2200 << 8) | 1); // past stopTime + window (2100 s), before stopTime + grace (3900 s)
        // Alice cancels; the provider answers at once with its voucher; the keeper runs just before it.
        handler.cancelStream(_at(1), SENDER_CANCELS, KEEPER_ANSWER);
        InvariantStore.GhostStream memory g = store.getStream(1);
        uint256 window = streamPay.challengeWindow();
        assertGt(g.cancelAt, g.stop + window, "cancelled after stopTime + window");
        assertEq(streamPay.getStream(1).endTime, g.cancelAt, "endTime = the cancel's time, not the stop time");
        assertEq(streamPay.getStreamView(1).challengeEndsAt, g.cancelAt + window, "a whole window from the cancel");
        assertEq(g.status, CANCELLED, "the cancel is final");
        assertEq(g.closedBy, g.recipient, "by the recipient's answer, not by the keeper");
        assertEq(streamPay.getStream(1).withdrawn, 200 * g.rate, "the recipient kept its whole voucher");
        assertEq(store.deposited(address(0)) - g.senderReceived, 200 * g.rate, "the sender paid exactly that");
        _checkAll();
    }

    /// @dev G2: the window is a deadline both ways. An answer in its last second keeps min(voucher, streamed)
    /// though the keeper front-runs it; from the second it ends, the answer and any withdrawal are refused with
    /// StreamPay_ChallengeWindowClosed, moving nothing, and only finalisation is left (the recipient keeps what
    /// it had withdrawn: nothing here; the sender gets the rest).
    function test_G2_TheWindowIsADeadline() public {
        uint256 window = streamPay.challengeWindow();
        handler.createStream(0 | NO_KEY, 0, _short(300), VALID); // 1: alice → native EOA provider
        handler.createStream(1 | NO_KEY, 0, _short(300), VALID); // 2: bob → native EOA provider
        handler.signVoucher(_at(1), _more(200 * RATE), 0);
        handler.signVoucher(_at(2), _more(200 * RATE), 0);
        handler.warp(_seconds(100));

        // Stream 1: answered in the window's last second, the keeper front-running the answer.
        handler.cancelStream(_at(1), SENDER_CANCELS, KEEPER_ANSWER | ((window - 1) << 3) | ANSWER_LAST_MINUTES);
        InvariantStore.GhostStream memory g = store.getStream(1);
        assertEq(g.status, CANCELLED, "answered in the last second");
        assertEq(g.closedBy, g.recipient, "by the recipient");
        assertEq(g.closedAt, g.cancelAt + window - 1, "in the window's last second");
        uint256 streamed = g.rate * (g.cancelAt - g.start);
        uint256 voucher = store.getVouchers(1).maxSigned;
        assertEq(g.withdrawn, voucher < streamed ? voucher : streamed, "the recipient kept min(voucher, streamed)");

        // Stream 2: the answer comes exactly when the window ends, with no keeper awake: refused. So is a
        // withdrawal a few seconds later. Then anyone finalises.
        handler.cancelStream(_at(2), SENDER_CANCELS, (window << 3) | ANSWER_TOO_LATE);
        g = store.getStream(2);
        assertEq(g.status, CANCELLING, "the late answer changed nothing");
        assertEq(store.scenarios("late answer refused"), 1, "refused with StreamPay_ChallengeWindowClosed");
        handler.withdrawFromStream(1, 1, 2 | (1 << 8)); // stream 2 as it is (no scan), by the recipient
        assertEq(store.scenarios("late withdrawal refused"), 1, "refused with StreamPay_ChallengeWindowClosed");
        assertEq(streamPay.getStream(2).withdrawn, 0, "nothing was paid after the window");
        _finaliseBy(2, 0);
        g = store.getStream(2);
        assertEq(g.senderReceived, g.deposited, "finalised: the sender got everything no voucher claimed in time");
        _checkAll();
    }

    /*//////////////////////////////////////////////////////////////
                                  HELPERS
    //////////////////////////////////////////////////////////////*/

    function _checkAll() private {
        _check1_SolvencyPerAsset();
        _check2_PerStreamAccounting();
        _check3_StreamedMonotone();
        _check4_NoPartyBlocksAnotherExit();
        _check5_AccessControlAndStats();
        _checkG1_SenderPaysAtMostWhatItSigned();
        _checkG2_RecipientKeepsItsVouchers();
        _checkG3_EveryUnitToOneSideOnce();
        _checkG4_AbandonedSettledByTime();
    }

    /// @dev Runs batches by the caller `callerSeed` picks until stream `id` reaches `status`.
    function _keepUntil(uint256 id, uint8 status, uint256 callerSeed) private {
        for (uint256 i; i < 12 && store.statusOf(id) != status; ++i) {
            handler.batchUpdateStreams(i, 8, callerSeed);
        }
        assertEq(store.statusOf(id), status, string.concat("batches closed stream ", id.toString()));
    }

    function _finaliseBy(uint256 id, uint256 callerSeed) private {
        _keepUntil(id, CANCELLED, callerSeed);
    }

    /// @dev Stream seed that picks stream `id` when it fits the action.
    function _at(uint256 id) private pure returns (uint256) {
        return SCAN | (id - 1);
    }

    /// @dev Seconds seed of createStream: a short stream (up to 600 s) or a long one (up to 7200 s).
    function _short(uint256 secs) private pure returns (uint256) {
        return (secs << 5) | 1;
    }

    function _long(uint256 secs) private pure returns (uint256) {
        return (secs << 5) | 16 | 1;
    }

    /// @dev Warp seed for up to 900 seconds.
    function _seconds(uint256 secs) private pure returns (uint256) {
        if (secs > 900) return (secs << 8) | 1; // 30 minutes to 2 hours
        return (secs << 8) | 2;
    }

    /// @dev Amount seed of signVoucher: `increment` more than the largest voucher signed so far.
    function _more(uint256 increment) private pure returns (uint256) {
        return (increment << 3) | 2;
    }

    function _text(bytes32 label) private pure returns (string memory) {
        uint256 n;
        while (n < 32 && label[n] != 0) ++n;
        bytes memory out = new bytes(n);
        for (uint256 i; i < n; ++i) {
            out[i] = label[i];
        }
        return string(out);
    }
}
