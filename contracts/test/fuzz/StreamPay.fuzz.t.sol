// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {BaseTest} from "../Base.t.sol";
import {Errors} from "../../src/libraries/Errors.sol";
import {IStreamPay} from "../../src/interfaces/IStreamPay.sol";
import {StreamStatus} from "../../src/types/DataTypes.sol";

/// @notice StreamPay's money paths with fuzzed rates, deposits, top-ups, times and amounts, in the native
/// coin and the ERC-20. Every test checks exact conservation: what the sender paid equals what the
/// recipient (wallet + claimable balance), the keeper and the contract hold, to the wei.
contract StreamPay_Fuzz_Test is BaseTest {
    uint256 internal constant MAX_NATIVE_RATE = 1e15;
    uint256 internal constant MAX_USD_RATE = 1e9;

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
        uint256 streamId;
        uint256 senderBefore;
        uint256 recipientBefore;
        uint256 keeperBefore;
    }

    /*//////////////////////////////////////////////////////////////
                                  CREATE
    //////////////////////////////////////////////////////////////*/

    function testFuzz_CreateStream(bool native, uint256 rate, uint256 secs, uint256 dust) public {
        Ctx memory c = _setUpProvider(native, rate, secs);
        dust = bound(dust, 0, c.rate - 1);
        c.streamId = _create(c, c.secs * c.rate + dust);

        IStreamPay.StreamView memory v = streamPay.getStreamView(c.streamId);
        assertEq(v.startTime, START_TIME, "start");
        assertEq(v.stopTime, START_TIME + c.secs, "stop = start + deposit / rate");
        assertEq(v.deposited, c.secs * c.rate, "deposited excludes the dust");
        assertEq(v.ratePerSecond, c.rate, "rate");
        assertEq(v.streamed, 0, "nothing streamed at the start");
        assertEq(streamPay.refundableAmountOf(c.streamId), c.secs * c.rate, "all refundable at the start");
        assertEq(_senderPaid(c), c.secs * c.rate, "sender paid exactly the used amount");
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
        Ctx memory c = _setUpProvider(native, rate, secs);
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
        assertEq(_senderPaid(c), c.deposit, "dust of the top-up not kept");
        _assertConserved(c, "after top-up");

        vm.warp(START_TIME + c.secs + extraSecs);
        streamPay.withdrawFromStream(c.streamId);
        assertEq(_recipientGot(c), c.deposit, "recipient got everything by the new stop");
        assertEq(_held(c), 0, "contract empty");
        _assertConserved(c, "after the final withdrawal");
    }

    /*//////////////////////////////////////////////////////////////
                                 WITHDRAW
    //////////////////////////////////////////////////////////////*/

    function testFuzz_WithdrawFromStream(
        bool native,
        uint256 rate,
        uint256 secs,
        uint256 t1,
        uint256 t2,
        uint256 callerSeed
    ) public {
        Ctx memory c = _setUpProvider(native, rate, secs);
        c.streamId = _create(c, c.secs * c.rate);
        t1 = bound(t1, 1, c.secs * 2);
        address[4] memory callers = [alice, bob, keeper, eve];
        address caller = callers[callerSeed % 4];

        vm.warp(START_TIME + t1);
        vm.prank(caller);
        uint256 paid = streamPay.withdrawFromStream(c.streamId);
        uint256 expected = c.rate * _min(t1, c.secs);
        assertEq(paid, expected, "pays rate * elapsed");
        assertEq(_recipientGot(c), expected, "to the recipient, whoever calls");
        _assertConserved(c, "after first withdrawal");

        if (t1 >= c.secs) {
            assertTrue(getStream(c.streamId).status == StreamStatus.Settled, "settled at stop");
            return;
        }
        t2 = bound(t2, t1 + 1, c.secs * 2);
        vm.warp(START_TIME + t2);
        vm.prank(caller);
        paid = streamPay.withdrawFromStream(c.streamId);
        assertEq(paid, c.rate * (_min(t2, c.secs) - t1), "only what streamed since");
        assertEq(_recipientGot(c), c.rate * _min(t2, c.secs), "cumulative, nothing twice");
        _assertConserved(c, "after second withdrawal");
    }

    /*//////////////////////////////////////////////////////////////
                                  CANCEL
    //////////////////////////////////////////////////////////////*/

    function testFuzz_CancelStream(
        bool native,
        uint256 rate,
        uint256 secs,
        uint256 withdrawAt,
        uint256 cancelAt,
        bool bySender
    ) public {
        Ctx memory c = _setUpProvider(native, rate, secs);
        c.streamId = _create(c, c.secs * c.rate);
        withdrawAt = _maybeWithdraw(c, withdrawAt);
        cancelAt = bound(cancelAt, withdrawAt, c.secs * 2);
        vm.warp(START_TIME + cancelAt);

        vm.prank(bySender ? alice : c.recipient);
        streamPay.cancelStream(c.streamId);

        uint256 streamed = c.rate * _min(cancelAt, c.secs);
        assertEq(_recipientGot(c), streamed, "recipient keeps what streamed by time");
        assertEq(_senderPaid(c), streamed, "sender got the rest back");
        assertEq(_held(c), streamPay.balanceOf(c.recipient, c.asset), "only the recipient's claim stays");
        IStreamPay.StreamView memory v = streamPay.getStreamView(c.streamId);
        assertEq(v.withdrawn + v.refunded, c.deposit, "withdrawn + refunded = deposited");
        _assertConserved(c, "after cancel");
    }

    /*//////////////////////////////////////////////////////////////
                             CLOSE WITH RECEIPT
    //////////////////////////////////////////////////////////////*/

    function testFuzz_CloseWithReceipt(
        bool native,
        uint256 rate,
        uint256 secs,
        uint256 withdrawAt,
        uint256 closeAt,
        uint256 amount
    ) public {
        Ctx memory c = _setUpProvider(native, rate, secs);
        c.streamId = _create(c, c.secs * c.rate);
        withdrawAt = _maybeWithdraw(c, withdrawAt);
        uint256 withdrawn = c.rate * withdrawAt;
        closeAt = bound(closeAt, withdrawAt, c.secs * 2);
        amount = bound(amount, 0, c.deposit * 2);
        vm.warp(START_TIME + closeAt);

        bytes memory sig = signFinalReceipt(c.recipientKey, c.streamId, amount);
        vm.prank(alice);
        streamPay.closeWithReceipt(c.streamId, amount, sig);

        uint256 streamed = c.rate * _min(closeAt, c.secs);
        uint256 expected = amount < streamed ? amount : streamed;
        if (expected < withdrawn) expected = withdrawn;
        assertEq(_recipientGot(c), expected, "recipient gets max(min(receipt, streamed), withdrawn)");
        assertEq(_senderPaid(c), expected, "sender pays exactly that");
        assertTrue(getStream(c.streamId).status == StreamStatus.Closed, "closed");
        _assertConserved(c, "after receipt close");
    }

    /*//////////////////////////////////////////////////////////////
                            CLOSE BY RECIPIENT
    //////////////////////////////////////////////////////////////*/

    function testFuzz_CloseByRecipient(
        bool native,
        uint256 rate,
        uint256 secs,
        uint256 withdrawAt,
        uint256 closeAt,
        uint256 amount
    ) public {
        Ctx memory c = _setUpProvider(native, rate, secs);
        c.streamId = _create(c, c.secs * c.rate);
        withdrawAt = _maybeWithdraw(c, withdrawAt);
        uint256 withdrawn = c.rate * withdrawAt;
        closeAt = bound(closeAt, withdrawAt, c.secs * 2);
        vm.warp(START_TIME + closeAt);
        uint256 streamed = c.rate * _min(closeAt, c.secs);
        amount = bound(amount, 0, streamed);

        vm.prank(c.recipient);
        streamPay.closeByRecipient(c.streamId, amount);

        uint256 expected = amount < withdrawn ? withdrawn : amount;
        assertEq(_recipientGot(c), expected, "recipient gets max(amount, withdrawn)");
        assertEq(_senderPaid(c), expected, "sender pays exactly that");
        _assertConserved(c, "after recipient close");
    }

    function testFuzz_CloseByRecipient_RevertWhen_AboveStreamed(
        bool native,
        uint256 rate,
        uint256 secs,
        uint256 closeAt,
        uint256 excess
    ) public {
        Ctx memory c = _setUpProvider(native, rate, secs);
        c.streamId = _create(c, c.secs * c.rate);
        closeAt = bound(closeAt, 0, c.secs * 2);
        vm.warp(START_TIME + closeAt);
        uint256 streamed = c.rate * _min(closeAt, c.secs);
        excess = bound(excess, 1, type(uint128).max);

        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.StreamPay_AmountExceedsStreamed.selector, c.streamId, streamed + excess, streamed
            )
        );
        vm.prank(c.recipient);
        streamPay.closeByRecipient(c.streamId, streamed + excess);
        _assertConserved(c, "a refused close moves nothing");
    }

    /*//////////////////////////////////////////////////////////////
                                  KEEPER
    //////////////////////////////////////////////////////////////*/

    function testFuzz_BatchUpdateStreams(bool native, uint256 rate, uint256 secs, uint256 t1, uint256 t2) public {
        Ctx memory c = _setUpProvider(native, rate, secs);
        c.streamId = _create(c, c.secs * c.rate);
        t1 = bound(t1, 1, c.secs * 2);
        t2 = bound(t2, t1, c.secs * 2);
        uint256[] memory ids = new uint256[](2);
        ids[0] = c.streamId;
        ids[1] = c.streamId; // a duplicate is skipped, never paid twice

        vm.warp(START_TIME + t1);
        vm.prank(keeper);
        streamPay.batchUpdateStreams(ids);
        uint256 settled1 = c.rate * _min(t1, c.secs);
        uint256 reward1 = _floorTenBps(settled1);
        assertEq(_keeperGot(c), reward1, "keeper earns floor(0.1%)");
        assertEq(_recipientGot(c), settled1 - reward1, "recipient credited the rest");
        _assertConserved(c, "after first batch");

        vm.warp(START_TIME + t2);
        vm.prank(keeper);
        streamPay.batchUpdateStreams(ids);
        uint256 settled2 = t1 >= c.secs ? 0 : c.rate * _min(t2, c.secs) - settled1;
        uint256 reward2 = _floorTenBps(settled2);
        assertEq(_keeperGot(c), reward1 + reward2, "keeper rewards per settlement");
        assertEq(_recipientGot(c) + _keeperGot(c), settled1 + settled2, "settled = recipient + keeper");
        if (t2 >= c.secs) {
            assertTrue(getStream(c.streamId).status == StreamStatus.Settled, "depleted stream closed");
            assertEq(_held(c), streamPay.balanceOf(c.recipient, c.asset), "only the recipient's claim stays");
        }
        _assertConserved(c, "after second batch");
    }

    /*//////////////////////////////////////////////////////////////
                         A MIXED LIFE, BOTH ASSETS
    //////////////////////////////////////////////////////////////*/

    function testFuzz_MixedLifecycle_BothAssets(uint256 rate, uint256 secs, uint256 seed, bool endWithReceipt)
        public
    {
        Ctx memory n = _setUpProvider(true, rate, secs);
        Ctx memory u = _setUpProvider(false, rate, secs);
        n.streamId = _create(n, n.secs * n.rate + n.rate / 2);
        u.streamId = _create(u, u.secs * u.rate);

        uint256 t = bound(seed, 0, n.secs - 1);
        vm.warp(START_TIME + t);
        vm.prank(alice);
        streamPay.topUp{value: n.rate * 3}(n.streamId, n.rate * 3);
        n.deposit += n.rate * 3;
        _assertConserved(n, "native after top-up");

        t = bound(uint256(keccak256(abi.encode(seed, 1))), t, n.secs * 2);
        vm.warp(START_TIME + t);
        uint256[] memory ids = new uint256[](2);
        ids[0] = n.streamId;
        ids[1] = u.streamId;
        vm.prank(keeper);
        streamPay.batchUpdateStreams(ids);
        _assertConserved(n, "native after batch");
        _assertConserved(u, "usd after batch");

        t = bound(uint256(keccak256(abi.encode(seed, 2))), t, (n.secs + u.secs) * 2);
        vm.warp(START_TIME + t);
        if (getStream(n.streamId).status == StreamStatus.Open) {
            if (endWithReceipt) {
                uint256 amount = bound(seed, 0, n.deposit);
                bytes memory sig = signFinalReceipt(n.recipientKey, n.streamId, amount);
                vm.prank(alice);
                streamPay.closeWithReceipt(n.streamId, amount, sig);
            } else {
                vm.prank(n.recipient);
                streamPay.cancelStream(n.streamId);
            }
        }
        if (getStream(u.streamId).status == StreamStatus.Open) {
            vm.prank(alice);
            streamPay.cancelStream(u.streamId);
        }
        _assertConserved(n, "native after close");
        _assertConserved(u, "usd after close");

        // Everyone takes their claimable balance out: the contract ends empty in both assets.
        _drain(n.recipient, n.asset);
        _drain(u.recipient, u.asset);
        _drain(keeper, n.asset);
        _drain(keeper, u.asset);
        assertEq(_held(n), 0, "no native coin left behind");
        assertEq(_held(u), 0, "no token left behind");
        _assertConserved(n, "native at the end");
        _assertConserved(u, "usd at the end");
    }

    /*//////////////////////////////////////////////////////////////
                                 HELPERS
    //////////////////////////////////////////////////////////////*/

    /// @dev Prices the fixture provider of the asset at a fuzzed rate and bounds the stream length so the
    /// sender (funded by the fixture) can afford it and top-ups of the same size.
    function _setUpProvider(bool native, uint256 rate, uint256 secs) private returns (Ctx memory c) {
        c.native = native;
        c.asset = native ? address(0) : address(usd);
        c.providerId = native ? nativeProviderId : usdProviderId;
        c.recipient = native ? provider : usdProvider;
        c.recipientKey = native ? providerKey : usdProviderKey;
        c.rate = bound(rate, 1, native ? MAX_NATIVE_RATE : MAX_USD_RATE);
        uint256 affordable = _wallet(alice, native) / (4 * c.rate);
        c.secs = bound(secs, 2, _min(affordable, 10_000_000));
        vm.prank(c.recipient);
        registry.updateProvider(c.providerId, c.rate, ENDPOINT, true);
        c.senderBefore = _wallet(alice, native);
        c.recipientBefore = _wallet(c.recipient, native);
        c.keeperBefore = _wallet(keeper, native);
    }

    function _create(Ctx memory c, uint256 amount) private returns (uint256 streamId) {
        vm.prank(alice);
        streamId = streamPay.createStream{value: c.native ? amount : 0}(c.providerId, c.rate, amount);
        c.deposit = (amount / c.rate) * c.rate;
    }

    /// @dev Optionally withdraws at a time strictly inside the stream; returns that time (0 = no withdrawal).
    function _maybeWithdraw(Ctx memory c, uint256 withdrawAt) private returns (uint256) {
        withdrawAt = bound(withdrawAt, 0, c.secs - 1);
        if (withdrawAt == 0) return 0;
        vm.warp(START_TIME + withdrawAt);
        streamPay.withdrawFromStream(c.streamId);
        assertEq(_recipientGot(c), c.rate * withdrawAt, "withdrawn by time");
        return withdrawAt;
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

    function _senderPaid(Ctx memory c) private view returns (uint256) {
        return c.senderBefore - _wallet(alice, c.native) - streamPay.balanceOf(alice, c.asset);
    }

    function _recipientGot(Ctx memory c) private view returns (uint256) {
        return _wallet(c.recipient, c.native) - c.recipientBefore + streamPay.balanceOf(c.recipient, c.asset);
    }

    function _keeperGot(Ctx memory c) private view returns (uint256) {
        return _wallet(keeper, c.native) - c.keeperBefore + streamPay.balanceOf(keeper, c.asset);
    }

    /// @dev sender paid = recipient got + keeper got + what is still escrowed in the open stream, where "got"
    /// counts wallet growth plus claimable balance; and the contract holds exactly the escrow plus the
    /// claimable balances.
    function _assertConserved(Ctx memory c, string memory where) private view {
        uint256 escrow;
        if (c.streamId != 0 && getStream(c.streamId).status == StreamStatus.Open) {
            escrow = streamPay.getStreamView(c.streamId).deposited - getStream(c.streamId).withdrawn;
        }
        assertEq(
            _senderPaid(c), _recipientGot(c) + _keeperGot(c) + escrow, string.concat("conservation ", where)
        );
        uint256 claims = streamPay.balanceOf(alice, c.asset) + streamPay.balanceOf(c.recipient, c.asset)
            + streamPay.balanceOf(keeper, c.asset);
        assertEq(_held(c), escrow + claims, string.concat("contract holds exactly what it owes ", where));
    }

    function _floorTenBps(uint256 amount) private pure returns (uint256) {
        return amount / 1000; // floor(amount * 10 / 10000)
    }

    function _min(uint256 a, uint256 b) private pure returns (uint256) {
        return a < b ? a : b;
    }
}
