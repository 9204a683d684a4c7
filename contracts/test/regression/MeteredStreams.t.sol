// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ConcreteTest} from "../concrete/Concrete.t.sol";
import {Errors} from "../../src/libraries/Errors.sol";
import {IStreamPay} from "../../src/interfaces/IStreamPay.sol";
import {StreamStatus} from "../../src/types/DataTypes.sol";

/// @notice The two failures measured on the first version, which let anyone settle an open stream by
/// wall-clock time: a keeper batch ordered before the consumer's receipt close made it pay 100 units for 40
/// used, and in a chat with idle minutes a provider withdrawing at every chance took the whole wall-clock
/// time. With metered streams the consumer pays what it signed for, whatever the others do.
contract MeteredStreams_Regression_Test is ConcreteTest {
    /*//////////////////////////////////////////////////////////////
                  KEEPER BATCH BEFORE THE RECEIPT CLOSE
    //////////////////////////////////////////////////////////////*/

    /// @dev A 100-unit stream, fully streamed, and a final receipt for 40. The keeper's batch lands first in
    /// the same block; the consumer still pays exactly 40 (the first version: 100).
    function test_Regression_KeeperBatchBeforeReceiptClose_ConsumerPaysTheReceipt() public {
        _keeperBatchThenReceiptClose(100); // at the stop time
    }

    function test_Regression_KeeperBatchBeforeReceiptClose_LastSecondOfTheGracePeriod() public {
        _keeperBatchThenReceiptClose(100 + GRACE_PERIOD - 1);
    }

    function test_Regression_KeeperBatchBeforeReceiptClose_MidStream() public {
        _keeperBatchThenReceiptClose(60);
    }

    function test_Regression_KeeperBatchBeforeReceiptClose_ERC20() public {
        uint256 aliceBefore = usd.balanceOf(alice);
        uint256 keeperBefore = usd.balanceOf(keeper);
        uint256 streamId = createUsd(alice, usdProviderId, USD_RATE * 100);
        vm.warp(START_TIME + 100);
        bytes memory receipt = signFinalReceipt(usdProviderKey, streamId, USD_RATE * 40);

        vm.prank(keeper);
        assertEq(streamPay.batchUpdateStreams(ids1(streamId)), 0, "the keeper settles nothing");
        vm.prank(alice);
        streamPay.closeWithReceipt(streamId, USD_RATE * 40, receipt);

        assertEq(aliceBefore - usd.balanceOf(alice), USD_RATE * 40, "consumer paid exactly the receipt");
        assertEq(streamPay.balanceOf(usdProvider, address(usd)), USD_RATE * 40, "provider credited the receipt");
        assertEq(usd.balanceOf(keeper), keeperBefore, "keeper earned nothing");
        assertEq(usd.balanceOf(address(streamPay)), USD_RATE * 40, "contract holds exactly the credit");
    }

    /// @dev The same race with a hostile provider as well: in the same block it withdraws with the best
    /// voucher it holds (the consumer vouched for 40 as it accepted receipts), then the keeper, then the close.
    function test_Regression_ProviderAndKeeperBeforeReceiptClose_ConsumerPaysTheReceipt() public {
        uint256 aliceBefore = alice.balance;
        uint256 providerBefore = provider.balance;
        uint256 keeperBefore = keeper.balance;
        uint256 streamId = createNative(alice, nativeProviderId, RATE * 100);
        IStreamPay.Voucher memory best = voucher(aliceKey, streamId, RATE * 40);
        vm.warp(START_TIME + 100);
        bytes memory receipt = signFinalReceipt(providerKey, streamId, RATE * 40);

        vm.prank(provider);
        streamPay.withdrawFromStream(streamId, best);
        vm.prank(keeper);
        assertEq(streamPay.batchUpdateStreams(ids1(streamId)), 0, "the keeper settles nothing");
        vm.prank(alice);
        streamPay.closeWithReceipt(streamId, RATE * 40, receipt);

        assertEq(aliceBefore - alice.balance, RATE * 40, "consumer paid exactly 40, not 40 twice nor 100");
        assertEq(provider.balance - providerBefore, RATE * 40, "provider got its 40 by the withdrawal");
        assertEq(streamPay.balanceOf(provider, address(0)), 0, "and nothing more at the close");
        assertEq(keeper.balance, keeperBefore, "keeper earned nothing");
        assertEq(address(streamPay).balance, 0, "nothing left");
    }

    /*//////////////////////////////////////////////////////////////
                     A CHAT WITH IDLE MINUTES BETWEEN PROMPTS
    //////////////////////////////////////////////////////////////*/

    uint256 internal constant PROMPTS = 20;

    /// @dev State of the chat as both sides see it.
    struct Chat {
        uint256 streamId;
        uint256 accepted; // what the consumer accepted (and vouched for) so far
        IStreamPay.Voucher best; // the provider's best voucher
        uint256 signedMax; // the largest voucher the consumer ever signed
        uint256 served; // seconds actually served
        uint256 attempts; // withdrawals the provider tried
    }

    /// @dev 20 prompts of 2-6 s of serving each, with 30-120 s of reading between them. Every request carries
    /// the consumer's voucher for what it accepted so far; the provider withdraws at every chance (on each
    /// request, and every 10 s while idle) and a keeper runs at every chance too. The consumer closes with the
    /// final receipt. The provider ends with exactly the vouchers; the first version paid the wall-clock time.
    function test_Regression_ChatWithIdleMinutes_ProviderTakesNoMoreThanTheVouchers() public {
        uint256 aliceBefore = alice.balance;
        uint256 providerBefore = provider.balance;
        Chat memory c = _chat();

        // The session ends: the consumer asks for the final receipt (it matches what it measured) and closes.
        uint256 total = c.served * RATE;
        assertEq(c.accepted, total, "the consumer accepted exactly what it measured");
        bytes memory receipt = signFinalReceipt(providerKey, c.streamId, total);
        uint256 takenBeforeClose = getStream(c.streamId).withdrawn;
        vm.prank(keeper);
        assertEq(streamPay.batchUpdateStreams(ids1(c.streamId)), 0, "keeper front-runs the close: nothing");
        vm.prank(alice);
        streamPay.closeWithReceipt(c.streamId, total, receipt);

        uint256 wallClock = now_() - START_TIME;
        assertGt(wallClock * RATE, 10 * total, "mostly idle: wall-clock time is many times the compute");
        assertEq(aliceBefore - alice.balance, total, "consumer paid exactly the compute it used");
        assertEq(
            provider.balance - providerBefore + streamPay.balanceOf(provider, address(0)),
            total,
            "provider got exactly the compute it served"
        );
        assertEq(takenBeforeClose, c.signedMax, "before the close, the provider took exactly the vouchers");
        assertGt(c.attempts, PROMPTS, "the provider did try at every chance");
        assertEq(address(streamPay).balance, streamPay.balanceOf(provider, address(0)), "contract holds the credit");
    }

    /// @dev The same chat, but the hostile provider ends it itself with the best voucher it holds, before the
    /// consumer's last voucher arrives: it gets exactly that voucher (it extended one request of credit).
    function test_Regression_ChatWithIdleMinutes_ProviderClosingItselfGetsItsBestVoucher() public {
        uint256 aliceBefore = alice.balance;
        uint256 providerBefore = provider.balance;
        Chat memory c = _chat();
        uint256 lastVoucher = c.best.cumulative;
        assertLt(lastVoucher, c.accepted, "the last prompt's charge is not vouched yet");

        vm.prank(provider);
        streamPay.closeByRecipient(c.streamId, c.best);

        assertEq(aliceBefore - alice.balance, lastVoucher, "consumer paid exactly its largest voucher");
        assertEq(
            provider.balance - providerBefore + streamPay.balanceOf(provider, address(0)),
            lastVoucher,
            "provider got exactly the vouchers"
        );
        assertEq(lastVoucher, c.signedMax, "the largest voucher signed");
        assertStream(c.streamId, StreamStatus.Closed, lastVoucher, now_(), "closed");
    }

    /*//////////////////////////////////////////////////////////////
                                 HELPERS
    //////////////////////////////////////////////////////////////*/

    function _keeperBatchThenReceiptClose(uint256 closeAt) private {
        uint256 aliceBefore = alice.balance;
        uint256 providerBefore = provider.balance;
        uint256 keeperBefore = keeper.balance;
        uint256 streamId = createNative(alice, nativeProviderId, RATE * 100);
        vm.warp(START_TIME + closeAt);
        bytes memory receipt = signFinalReceipt(providerKey, streamId, RATE * 40);

        // Same block: the keeper's transaction first, then the consumer's.
        vm.prank(keeper);
        assertEq(streamPay.batchUpdateStreams(ids1(streamId)), 0, "the keeper settles nothing");
        vm.prank(alice);
        streamPay.closeWithReceipt(streamId, RATE * 40, receipt);

        assertEq(aliceBefore - alice.balance, RATE * 40, "consumer paid exactly the receipt's 40 units");
        assertEq(streamPay.balanceOf(provider, address(0)), RATE * 40, "provider credited the receipt");
        assertEq(provider.balance, providerBefore, "and nothing else");
        assertEq(keeper.balance, keeperBefore, "keeper earned nothing");
        assertEq(address(streamPay).balance, RATE * 40, "contract holds exactly the credit");
        assertStream(streamId, StreamStatus.Closed, RATE * 40, START_TIME + closeAt, "closed: endTime is the close");
        assertEq(
            streamPay.streamedAmountOf(streamId), RATE * (closeAt < 100 ? closeAt : 100), "streamed caps at the stop"
        );
    }

    /// @dev Plays the 20 prompts; returns with the last answer served and its charge accepted but not yet
    /// vouched (the next request would carry that voucher).
    function _chat() private returns (Chat memory c) {
        c.streamId = createNative(alice, nativeProviderId, RATE * 3600); // an hour of runway
        for (uint256 i; i < PROMPTS; ++i) {
            // The request carries the voucher for everything accepted so far (one signature for both).
            bytes32 request = requestHash(keccak256(abi.encode("prompt", i)), i, now_() + 60);
            IStreamPay.Voucher memory v = requestVoucher(aliceKey, c.streamId, c.accepted, request);
            if (c.accepted > c.signedMax) c.signedMax = c.accepted;
            if (v.cumulative > c.best.cumulative) c.best = v;
            _providerTriesToWithdraw(c);

            // Serving: 2-6 s, billed by the provider's receipt, checked and accepted by the consumer.
            uint256 serving = 2 + (i * 7) % 5;
            skipTime(serving);
            c.served += serving;
            c.accepted += serving * RATE;

            // Reading: 30-120 s, with the provider and the keeper trying every 10 s.
            uint256 idle = 30 + (i * 37) % 91;
            for (uint256 t; t + 10 <= idle; t += 10) {
                skipTime(10);
                _providerTriesToWithdraw(c);
                vm.prank(keeper);
                assertEq(streamPay.batchUpdateStreams(ids1(c.streamId)), 0, "no settlement by time");
            }
            skipTime(idle % 10);
            assertLe(getStream(c.streamId).withdrawn, c.signedMax, "never above what the consumer signed");
        }
    }

    /// @dev The hostile provider withdraws with its best voucher whenever that pays anything.
    function _providerTriesToWithdraw(Chat memory c) private {
        ++c.attempts;
        uint256 withdrawn = getStream(c.streamId).withdrawn;
        uint256 streamed = streamPay.streamedAmountOf(c.streamId);
        uint256 payable_ = c.best.cumulative < streamed ? c.best.cumulative : streamed;
        if (payable_ > withdrawn) {
            vm.prank(provider);
            assertEq(streamPay.withdrawFromStream(c.streamId, c.best), payable_ - withdrawn, "paid the voucher");
        } else {
            vm.expectRevert(
                abi.encodeWithSelector(
                    Errors.StreamPay_NothingToWithdraw.selector, c.streamId, c.best.cumulative, streamed, withdrawn
                )
            );
            vm.prank(provider);
            streamPay.withdrawFromStream(c.streamId, c.best);
        }
    }
}
