// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ConcreteTest} from "../Concrete.t.sol";
import {Actor} from "../../mocks/Actor.sol";
import {ERC1271Wallet} from "../../mocks/ERC1271Wallet.sol";
import {GasBurningWallet} from "../../mocks/GasBurningWallet.sol";
import {Errors} from "../../../src/libraries/Errors.sol";
import {IStreamPay} from "../../../src/interfaces/IStreamPay.sol";
import {IComputeRegistry} from "../../../src/interfaces/IComputeRegistry.sol";
import {Stream, StreamStatus} from "../../../src/types/DataTypes.sol";

/// @notice closeWithReceipt: the sender closes at once with the provider's final receipt, paying
/// max(withdrawn, min(receipt, streamed)): exactly the receipt, unless a voucher it signed already paid more.
contract CloseWithReceipt_Test is ConcreteTest {
    uint256 internal nativeStream; // alice -> provider, 100 s
    uint256 internal usdStream; // alice -> usdProvider, 100 s

    function setUp() public override {
        super.setUp();
        nativeStream = createNative(alice, nativeProviderId, RATE * 100);
        usdStream = createUsd(alice, usdProviderId, USD_RATE * 100);
    }

    /*//////////////////////////////////////////////////////////////
                               SUCCESS PATHS
    //////////////////////////////////////////////////////////////*/

    function test_WhenReceiptBelowStreamed_BillsExactlyTheReceipt() public {
        skipTime(60);
        uint256 charged = RATE * 42 + RATE / 5; // 42.2 s of compute out of 60 s streamed
        uint256 aliceBefore = alice.balance;
        uint256 providerBefore = provider.balance;
        bytes memory sig = signFinalReceipt(providerKey, nativeStream, charged);

        vm.expectEmit(address(registry));
        emit IComputeRegistry.CompletionRecorded(nativeProviderId, 1, charged, 1, charged);
        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamClosed(nativeStream, alice, StreamStatus.Closed, charged, RATE * 100 - charged);
        vm.prank(alice);
        streamPay.closeWithReceipt(nativeStream, charged, sig);

        assertEq(alice.balance, aliceBefore + RATE * 100 - charged, "sender refunded all but the receipt");
        assertEq(streamPay.balanceOf(provider, address(0)), charged, "recipient credited the receipt");
        assertEq(provider.balance, providerBefore, "recipient not pushed");
        assertEq(address(streamPay).balance, charged, "contract holds the credit");
        Stream memory s = getStream(nativeStream);
        assertTrue(s.status == StreamStatus.Closed, "closed");
        assertEq(s.withdrawn, charged, "recipient total");
        assertEq(streamPay.getStreamView(nativeStream).endTime, START_TIME + 60, "streaming stopped now");
        assertEq(streamPay.streamedAmountOf(nativeStream), RATE * 60, "streamed stays what time allowed");
        skipTime(100);
        assertEq(streamPay.streamedAmountOf(nativeStream), RATE * 60, "and never moves again");
        assertStats(nativeProviderId, 1, charged, "completion");
    }

    function test_WhenERC20Receipt_BillsExactly() public {
        skipTime(50);
        uint256 charged = USD_RATE * 33 + 7;
        uint256 aliceBefore = usd.balanceOf(alice);
        bytes memory sig = signFinalReceipt(usdProviderKey, usdStream, charged);

        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamClosed(usdStream, alice, StreamStatus.Closed, charged, USD_RATE * 100 - charged);
        vm.prank(alice);
        streamPay.closeWithReceipt(usdStream, charged, sig);

        assertEq(usd.balanceOf(alice), aliceBefore + USD_RATE * 100 - charged, "sender refunded");
        assertEq(streamPay.balanceOf(usdProvider, address(usd)), charged, "recipient credited");
        assertEq(usd.balanceOf(address(streamPay)), charged, "contract holds the credit");
        assertStats(usdProviderId, 1, charged, "completion");
    }

    function test_WhenReceiptAboveStreamed_CapsAtStreamed() public {
        skipTime(30);
        uint256 aliceBefore = alice.balance;
        bytes memory sig = signFinalReceipt(providerKey, nativeStream, RATE * 80);

        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamClosed(nativeStream, alice, StreamStatus.Closed, RATE * 30, RATE * 70);
        vm.prank(alice);
        streamPay.closeWithReceipt(nativeStream, RATE * 80, sig);

        assertEq(alice.balance, aliceBefore + RATE * 70, "sender pays only what streamed");
        assertEq(streamPay.balanceOf(provider, address(0)), RATE * 30, "recipient capped at streamed");
        assertEq(address(streamPay).balance, RATE * 30, "contract holds the credit");
        assertStats(nativeProviderId, 1, RATE * 30, "completion");
    }

    function test_WhenReceiptBelowWithdrawn_RecipientKeepsWhatItWasPaid() public {
        skipTime(50);
        uint256 providerBefore = provider.balance;
        // The recipient already took 50 s with alice's voucher: she agreed to pay that much.
        streamPay.withdrawFromStream(nativeStream, voucher(aliceKey, nativeStream, RATE * 50));
        uint256 aliceBefore = alice.balance;
        bytes memory sig = signFinalReceipt(providerKey, nativeStream, RATE * 20);

        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamClosed(nativeStream, alice, StreamStatus.Closed, 0, RATE * 50);
        vm.prank(alice);
        streamPay.closeWithReceipt(nativeStream, RATE * 20, sig);

        assertEq(alice.balance, aliceBefore + RATE * 50, "sender gets deposited - withdrawn");
        assertEq(provider.balance, providerBefore + RATE * 50, "recipient keeps its withdrawal");
        assertEq(streamPay.balanceOf(provider, address(0)), 0, "nothing more credited");
        assertEq(address(streamPay).balance, 0, "escrow empty");
        assertEq(getStream(nativeStream).withdrawn, RATE * 50, "recipient total = what was paid");
        assertStats(nativeProviderId, 1, RATE * 50, "completion");
    }

    function test_WhenReceiptAboveWithdrawn_PaysTheReceiptInAll() public {
        // The provider withdrew 30 with a voucher, then charges 40 in all: the close credits only the 10
        // left, so the consumer pays max(receipt, withdrawn) = 40, never 30 + 40.
        skipTime(50);
        uint256 providerBefore = provider.balance;
        streamPay.withdrawFromStream(nativeStream, voucher(aliceKey, nativeStream, RATE * 30));
        skipTime(10);
        uint256 aliceBefore = alice.balance;
        bytes memory sig = signFinalReceipt(providerKey, nativeStream, RATE * 40);

        vm.expectEmit(address(registry));
        emit IComputeRegistry.CompletionRecorded(nativeProviderId, 1, RATE * 40, 1, RATE * 40);
        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamClosed(nativeStream, alice, StreamStatus.Closed, RATE * 10, RATE * 60);
        vm.prank(alice);
        streamPay.closeWithReceipt(nativeStream, RATE * 40, sig);

        assertEq(alice.balance, aliceBefore + RATE * 60, "sender paid 40 in all");
        assertEq(provider.balance, providerBefore + RATE * 30, "the withdrawal");
        assertEq(streamPay.balanceOf(provider, address(0)), RATE * 10, "the rest of the receipt, credited");
        assertEq(address(streamPay).balance, RATE * 10, "contract holds the credit");
        assertStream(nativeStream, StreamStatus.Closed, RATE * 40, START_TIME + 60, "closed");
    }

    function test_WhenPastTheGracePeriodButNotYetSettled_ReceiptStillCloses() public {
        // cancelStream refuses an abandoned stream, but a receipt close is not refused: until a keeper
        // settles the stream by time, the sender can still close it exactly.
        skipTime(100 + GRACE_PERIOD + 10);
        uint256 aliceBefore = alice.balance;
        bytes memory sig = signFinalReceipt(providerKey, nativeStream, RATE * 40);

        vm.prank(alice);
        streamPay.closeWithReceipt(nativeStream, RATE * 40, sig);

        assertEq(alice.balance, aliceBefore + RATE * 60, "sender paid the receipt");
        assertEq(streamPay.balanceOf(provider, address(0)), RATE * 40, "recipient credited");
        assertStream(
            nativeStream, StreamStatus.Closed, RATE * 40, START_TIME + 100 + GRACE_PERIOD + 10, "endTime is the close"
        );
        assertEq(streamPay.streamedAmountOf(nativeStream), RATE * 100, "streamed caps at the stop time");
    }

    function test_WhenReceiptIsZero_RefundsEverything() public {
        skipTime(30);
        uint256 aliceBefore = alice.balance;
        bytes memory sig = signFinalReceipt(providerKey, nativeStream, 0);

        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamClosed(nativeStream, alice, StreamStatus.Closed, 0, RATE * 100);
        vm.prank(alice);
        streamPay.closeWithReceipt(nativeStream, 0, sig);

        assertEq(alice.balance, aliceBefore + RATE * 100, "full refund");
        assertEq(streamPay.balanceOf(provider, address(0)), 0, "nothing credited");
        assertEq(address(streamPay).balance, 0, "escrow empty");
        assertStats(nativeProviderId, 0, 0, "no completion for a stream that paid nothing");
    }

    function test_WhenDepleted_ReceiptStillBillsExactly() public {
        skipTime(500);
        uint256 aliceBefore = alice.balance;
        bytes memory sig = signFinalReceipt(providerKey, nativeStream, RATE * 60);

        vm.prank(alice);
        streamPay.closeWithReceipt(nativeStream, RATE * 60, sig);

        assertEq(alice.balance, aliceBefore + RATE * 40, "unused compute refunded");
        assertEq(streamPay.balanceOf(provider, address(0)), RATE * 60, "recipient credited");
        assertEq(address(streamPay).balance, RATE * 60, "contract holds the credit");
        assertTrue(getStream(nativeStream).status == StreamStatus.Closed, "closed");
        assertStream(nativeStream, StreamStatus.Closed, RATE * 60, START_TIME + 500, "endTime is the close");
        assertEq(streamPay.streamedAmountOf(nativeStream), RATE * 100, "streamed caps at the stop time");
    }

    function test_WhenProviderIsAnERC1271Wallet_AcceptsItsOwnersSignature() public {
        (ERC1271Wallet wallet, uint256 ownerKey) = newWallet("walletOwner");
        address owner = wallet.owner();
        uint256 walletProviderId = registerWalletProvider(address(wallet), RATE);
        assertEq(registry.walletOf(walletProviderId), address(wallet), "the wallet is the provider");

        uint256 streamId = createNative(bob, walletProviderId, RATE * 100);
        skipTime(40);
        uint256 bobBefore = bob.balance;
        bytes memory sig = signFinalReceipt(ownerKey, streamId, RATE * 25);

        vm.expectEmit(address(streamPay));
        emit IStreamPay.StreamClosed(streamId, bob, StreamStatus.Closed, RATE * 25, RATE * 75);
        vm.prank(bob);
        streamPay.closeWithReceipt(streamId, RATE * 25, sig);

        assertEq(bob.balance, bobBefore + RATE * 75, "sender refunded");
        assertEq(streamPay.balanceOf(address(wallet), address(0)), RATE * 25, "wallet credited");
        assertEq(address(streamPay).balance, RATE * 125, "alice's escrow + the credit");
        assertStats(walletProviderId, 1, RATE * 25, "completion");

        // The wallet takes its earnings through its owner.
        uint256 walletBefore = address(wallet).balance;
        vm.prank(owner);
        wallet.exec(address(streamPay), 0, abi.encodeCall(streamPay.withdrawBalance, (address(0), address(wallet))));
        assertEq(address(wallet).balance, walletBefore + RATE * 25, "wallet paid");
    }

    function test_WhenSenderRevertsOnReceive_RefundIsCredited() public {
        Actor sender = newActor("revertingSender");
        uint256 streamId = createNativeFrom(sender, nativeProviderId, RATE * 100);
        sender.setMode(Actor.ReceiveMode.Revert);
        skipTime(20);
        bytes memory sig = signFinalReceipt(providerKey, streamId, RATE * 15);

        vm.expectEmit(address(streamPay));
        emit IStreamPay.PaymentDeferred(address(sender), address(0), RATE * 85);
        sender.exec(address(streamPay), 0, abi.encodeCall(streamPay.closeWithReceipt, (streamId, RATE * 15, sig)));

        assertEq(streamPay.balanceOf(address(sender), address(0)), RATE * 85, "refund credited");
        assertEq(streamPay.balanceOf(provider, address(0)), RATE * 15, "recipient credited");
        assertEq(address(streamPay).balance, RATE * 200, "alice's escrow + both credits");
    }

    /*//////////////////////////////////////////////////////////////
                                 REVERTS
    //////////////////////////////////////////////////////////////*/

    function test_RevertWhen_StreamUnknown() public {
        bytes memory sig = signFinalReceipt(providerKey, 9, 1);
        vm.expectRevert(abi.encodeWithSelector(Errors.StreamPay_UnknownStream.selector, 9));
        vm.prank(alice);
        streamPay.closeWithReceipt(9, 1, sig);
    }

    function test_RevertWhen_StreamAlreadyClosed() public {
        skipTime(10);
        bytes memory sig = signFinalReceipt(providerKey, nativeStream, RATE * 5);
        vm.prank(alice);
        streamPay.closeWithReceipt(nativeStream, RATE * 5, sig);
        uint256 aliceBefore = alice.balance;

        vm.expectRevert(
            abi.encodeWithSelector(Errors.StreamPay_StreamNotOpen.selector, nativeStream, StreamStatus.Closed)
        );
        vm.prank(alice);
        streamPay.closeWithReceipt(nativeStream, RATE * 5, sig); // replaying the receipt
        assertEq(alice.balance, aliceBefore, "no second refund");
    }

    function test_RevertWhen_StreamCancelled() public {
        vm.prank(alice);
        streamPay.cancelStream(nativeStream); // nothing streamed: Cancelled at once
        bytes memory sig = signFinalReceipt(providerKey, nativeStream, 0);

        vm.expectRevert(
            abi.encodeWithSelector(Errors.StreamPay_StreamNotOpen.selector, nativeStream, StreamStatus.Cancelled)
        );
        vm.prank(alice);
        streamPay.closeWithReceipt(nativeStream, 0, sig);
    }

    function test_RevertWhen_StreamCancelling() public {
        // Once it cancelled, the sender waits for the recipient's answer or the window's end.
        skipTime(30);
        vm.prank(alice);
        streamPay.cancelStream(nativeStream);
        bytes memory sig = signFinalReceipt(providerKey, nativeStream, RATE * 5);

        vm.expectRevert(
            abi.encodeWithSelector(Errors.StreamPay_StreamNotOpen.selector, nativeStream, StreamStatus.Cancelling)
        );
        vm.prank(alice);
        streamPay.closeWithReceipt(nativeStream, RATE * 5, sig);
    }

    function test_RevertWhen_StreamSettled() public {
        skipTime(100 + GRACE_PERIOD);
        vm.prank(keeper);
        streamPay.batchUpdateStreams(ids1(nativeStream));
        bytes memory sig = signFinalReceipt(providerKey, nativeStream, RATE * 5);

        vm.expectRevert(
            abi.encodeWithSelector(Errors.StreamPay_StreamNotOpen.selector, nativeStream, StreamStatus.Settled)
        );
        vm.prank(alice);
        streamPay.closeWithReceipt(nativeStream, RATE * 5, sig);
    }

    function test_RevertWhen_CallerIsRecipient() public {
        skipTime(10);
        bytes memory sig = signFinalReceipt(providerKey, nativeStream, RATE * 10);
        vm.expectRevert(abi.encodeWithSelector(Errors.StreamPay_NotSender.selector, nativeStream, provider, alice));
        vm.prank(provider);
        streamPay.closeWithReceipt(nativeStream, RATE * 10, sig);
    }

    function test_RevertWhen_CallerIsAStranger() public {
        bytes memory sig = signFinalReceipt(providerKey, nativeStream, 0);
        vm.expectRevert(abi.encodeWithSelector(Errors.StreamPay_NotSender.selector, nativeStream, eve, alice));
        vm.prank(eve);
        streamPay.closeWithReceipt(nativeStream, 0, sig);
    }

    function test_RevertWhen_SignedByTheWrongKey() public {
        skipTime(10);
        (, uint256 eveKey) = makeAddrAndKey("eve");
        bytes memory sig = signFinalReceipt(eveKey, nativeStream, 1);

        vm.expectRevert(
            abi.encodeWithSelector(Errors.StreamPay_InvalidReceiptSignature.selector, nativeStream, provider)
        );
        vm.prank(alice);
        streamPay.closeWithReceipt(nativeStream, 1, sig);
    }

    function test_RevertWhen_SignedByAnotherProvider() public {
        bytes memory sig = signFinalReceipt(usdProviderKey, nativeStream, 0);
        vm.expectRevert(
            abi.encodeWithSelector(Errors.StreamPay_InvalidReceiptSignature.selector, nativeStream, provider)
        );
        vm.prank(alice);
        streamPay.closeWithReceipt(nativeStream, 0, sig);
    }

    function test_RevertWhen_ReceiptNotFinal() public {
        skipTime(10);
        bytes memory sig = signReceipt(providerKey, nativeStream, RATE * 2, false);
        vm.expectRevert(
            abi.encodeWithSelector(Errors.StreamPay_InvalidReceiptSignature.selector, nativeStream, provider)
        );
        vm.prank(alice);
        streamPay.closeWithReceipt(nativeStream, RATE * 2, sig);
    }

    function test_RevertWhen_ReceiptForAnotherStream() public {
        uint256 other = createNative(bob, nativeProviderId, RATE * 100);
        skipTime(10);
        bytes memory sig = signFinalReceipt(providerKey, other, 0); // a valid receipt, for bob's stream

        vm.expectRevert(
            abi.encodeWithSelector(Errors.StreamPay_InvalidReceiptSignature.selector, nativeStream, provider)
        );
        vm.prank(alice);
        streamPay.closeWithReceipt(nativeStream, 0, sig);
    }

    function test_RevertWhen_AmountDiffersFromTheSignedOne() public {
        skipTime(10);
        bytes memory sig = signFinalReceipt(providerKey, nativeStream, RATE * 5);
        vm.expectRevert(
            abi.encodeWithSelector(Errors.StreamPay_InvalidReceiptSignature.selector, nativeStream, provider)
        );
        vm.prank(alice);
        streamPay.closeWithReceipt(nativeStream, RATE * 5 - 1, sig);
    }

    function test_RevertWhen_ReceiptForAnotherDeployment() public {
        // Same chain, same stream id, but signed under another StreamPay's EIP-712 domain.
        bytes32 otherDomain = keccak256(
            abi.encode(DOMAIN_TYPEHASH, keccak256("StreamPay"), keccak256("1"), block.chainid, address(0xBEEF))
        );
        bytes32 structHash = keccak256(abi.encode(RECEIPT_TYPEHASH, nativeStream, uint256(0), true));
        (uint8 v, bytes32 r, bytes32 s) =
            vm.sign(providerKey, keccak256(abi.encodePacked("\x19\x01", otherDomain, structHash)));

        vm.expectRevert(
            abi.encodeWithSelector(Errors.StreamPay_InvalidReceiptSignature.selector, nativeStream, provider)
        );
        vm.prank(alice);
        streamPay.closeWithReceipt(nativeStream, 0, abi.encodePacked(r, s, v));
    }

    function test_RevertWhen_SignatureMalformed() public {
        bytes memory sig = signFinalReceipt(providerKey, nativeStream, 0);
        bytes memory truncated = new bytes(64);
        for (uint256 i; i < 64; ++i) {
            truncated[i] = sig[i];
        }
        vm.expectRevert(
            abi.encodeWithSelector(Errors.StreamPay_InvalidReceiptSignature.selector, nativeStream, provider)
        );
        vm.prank(alice);
        streamPay.closeWithReceipt(nativeStream, 0, truncated);

        vm.expectRevert(
            abi.encodeWithSelector(Errors.StreamPay_InvalidReceiptSignature.selector, nativeStream, provider)
        );
        vm.prank(alice);
        streamPay.closeWithReceipt(nativeStream, 0, "");
    }

    function test_RevertWhen_ERC1271WalletRejectsTheSigner() public {
        (ERC1271Wallet wallet,) = newWallet("walletOwner");
        uint256 walletProviderId = registerWalletProvider(address(wallet), RATE);
        uint256 streamId = createNative(bob, walletProviderId, RATE * 100);
        bytes memory sig = signFinalReceipt(providerKey, streamId, 0); // not the wallet's owner

        vm.expectRevert(
            abi.encodeWithSelector(Errors.StreamPay_InvalidReceiptSignature.selector, streamId, address(wallet))
        );
        vm.prank(bob);
        streamPay.closeWithReceipt(streamId, 0, sig);
    }

    function test_RevertWhen_ProviderWalletBurnsAllGas_ThenTheSenderCancelsAndPaysItsLargestVoucher() public {
        (address owner,) = makeAddrAndKey("burnerOwner");
        GasBurningWallet burner = new GasBurningWallet(owner);
        vm.deal(address(burner), 10 ether);
        uint256 providerId = registerWalletProvider(address(burner), RATE);
        uint256 streamId = createNative(bob, providerId, RATE * 100);
        IStreamPay.Voucher memory largest = voucher(bobKey, streamId, RATE * 25); // all bob ever signed
        skipTime(40);
        uint256 bobBefore = bob.balance;

        // The receipt check asks the wallet, which burns 63/64 of the gas and refuses.
        uint256 gasLimit = 3_000_000;
        uint256 gasBefore = gasleft();
        (bool ok, bytes memory ret) = callStreamPayWithGas(
            bob, gasLimit, abi.encodeCall(streamPay.closeWithReceipt, (streamId, RATE * 20, hex"01"))
        );
        uint256 gasUsed = gasBefore - gasleft();
        assertRevertData(
            ok,
            ret,
            abi.encodeWithSelector(Errors.StreamPay_InvalidReceiptSignature.selector, streamId, address(burner)),
            "receipt close"
        );
        assertGt(gasUsed, gasLimit * 62 / 64, "the wallet burned nearly all the gas");
        assertStream(streamId, StreamStatus.Open, 0, 0, "still open");

        // The sender is not forced to wait for the stream to be settled by time: it cancels.
        vm.prank(bob);
        streamPay.cancelStream(streamId);
        assertEq(bob.balance, bobBefore + RATE * 60, "unstreamed part back at once");

        // The provider answers with the largest voucher: bob pays exactly that.
        walletExec(
            address(burner), address(streamPay), 0, abi.encodeCall(streamPay.closeByRecipient, (streamId, largest))
        );
        assertEq(bob.balance, bobBefore + RATE * 75, "sender paid its largest voucher, 25 s of 40 streamed");
        assertEq(streamPay.balanceOf(address(burner), address(0)), RATE * 25, "wallet credited the voucher");
        assertEq(address(streamPay).balance, RATE * 125, "alice's escrow + the wallet's credit");
        assertStream(streamId, StreamStatus.Cancelled, RATE * 25, START_TIME + 40, "cancelled");
    }

    function test_RevertWhen_ProviderWalletBurnsAllGasAndNeverAnswers_SenderPaysNothingUnvouched() public {
        (address owner,) = makeAddrAndKey("burnerOwner");
        GasBurningWallet burner = new GasBurningWallet(owner);
        vm.deal(address(burner), 10 ether);
        uint256 providerId = registerWalletProvider(address(burner), RATE);
        uint256 streamId = createNative(bob, providerId, RATE * 100);
        skipTime(40);
        streamPay.withdrawFromStream(streamId, voucher(bobKey, streamId, RATE * 10)); // pushed to the wallet
        uint256 bobBefore = bob.balance;
        (bool ok,) = callStreamPayWithGas(
            bob, 3_000_000, abi.encodeCall(streamPay.closeWithReceipt, (streamId, RATE * 20, hex"01"))
        );
        assertFalse(ok, "receipt close refused");

        vm.prank(bob);
        streamPay.cancelStream(streamId);
        skipTime(CHALLENGE_WINDOW);
        vm.prank(keeper);
        assertEq(streamPay.batchUpdateStreams(ids1(streamId)), 1, "finalised");

        assertEq(bob.balance, bobBefore + RATE * 90, "sender paid only the 10 it vouched and was taken");
        assertEq(address(burner).balance, 10 ether - MIN_STAKE + RATE * 10, "wallet got the withdrawal only");
        assertStream(streamId, StreamStatus.Cancelled, RATE * 10, START_TIME + 40, "cancelled");
    }

    function test_RevertWhen_TooLittleGasToRefundTheSender() public {
        skipTime(10);
        bytes memory sig = signFinalReceipt(providerKey, nativeStream, RATE * 5);
        uint256 aliceBefore = alice.balance;

        (bool ok, bytes memory ret) = callStreamPayWithGas(
            alice, 90_000, abi.encodeCall(streamPay.closeWithReceipt, (nativeStream, RATE * 5, sig))
        );

        assertInsufficientGas(ok, ret);
        assertStream(nativeStream, StreamStatus.Open, 0, 0, "still open");
        assertEq(alice.balance, aliceBefore, "nothing refunded");
    }
}
