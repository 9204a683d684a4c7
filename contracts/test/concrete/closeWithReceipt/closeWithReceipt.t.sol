// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ConcreteTest} from "../Concrete.t.sol";
import {Actor} from "../../mocks/Actor.sol";
import {ERC1271Wallet} from "../../mocks/ERC1271Wallet.sol";
import {Errors} from "../../../src/libraries/Errors.sol";
import {IStreamPay} from "../../../src/interfaces/IStreamPay.sol";
import {IComputeRegistry} from "../../../src/interfaces/IComputeRegistry.sol";
import {Stream, StreamStatus} from "../../../src/types/DataTypes.sol";

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
        emit IComputeRegistry.CompletionRecorded(nativeProviderId, charged, 1, charged);
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
        assertEq(streamPay.streamedAmountOf(nativeStream), charged, "streamed frozen at the receipt");
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
        streamPay.withdrawFromStream(nativeStream); // recipient already got 50 s
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
    }

    function test_WhenProviderIsAnERC1271Wallet_AcceptsItsOwnersSignature() public {
        (address owner, uint256 ownerKey) = makeAddrAndKey("walletOwner");
        ERC1271Wallet wallet = new ERC1271Wallet(owner);
        vm.deal(owner, MIN_STAKE);
        vm.prank(owner);
        bytes memory ret = wallet.exec{value: MIN_STAKE}(
            address(registry),
            MIN_STAKE,
            abi.encodeCall(registry.registerProvider, (MODEL, RATE, ENDPOINT, SERVICE_TYPE, address(0)))
        );
        uint256 walletProviderId = abi.decode(ret, (uint256));
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
            abi.encodeWithSelector(Errors.StreamPay_StreamClosed.selector, nativeStream, StreamStatus.Closed)
        );
        vm.prank(alice);
        streamPay.closeWithReceipt(nativeStream, RATE * 5, sig); // replaying the receipt
        assertEq(alice.balance, aliceBefore, "no second refund");
    }

    function test_RevertWhen_StreamCancelled() public {
        vm.prank(alice);
        streamPay.cancelStream(nativeStream);
        bytes memory sig = signFinalReceipt(providerKey, nativeStream, 0);

        vm.expectRevert(
            abi.encodeWithSelector(Errors.StreamPay_StreamClosed.selector, nativeStream, StreamStatus.Cancelled)
        );
        vm.prank(alice);
        streamPay.closeWithReceipt(nativeStream, 0, sig);
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
        (address owner,) = makeAddrAndKey("walletOwner");
        ERC1271Wallet wallet = new ERC1271Wallet(owner);
        vm.deal(owner, MIN_STAKE);
        vm.prank(owner);
        bytes memory ret = wallet.exec{value: MIN_STAKE}(
            address(registry),
            MIN_STAKE,
            abi.encodeCall(registry.registerProvider, (MODEL, RATE, ENDPOINT, SERVICE_TYPE, address(0)))
        );
        uint256 walletProviderId = abi.decode(ret, (uint256));
        uint256 streamId = createNative(bob, walletProviderId, RATE * 100);
        bytes memory sig = signFinalReceipt(providerKey, streamId, 0); // not the wallet's owner

        vm.expectRevert(
            abi.encodeWithSelector(Errors.StreamPay_InvalidReceiptSignature.selector, streamId, address(wallet))
        );
        vm.prank(bob);
        streamPay.closeWithReceipt(streamId, 0, sig);
    }
}
