// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ConcreteTest} from "../Concrete.t.sol";
import {Actor} from "../../mocks/Actor.sol";
import {BlacklistToken} from "../../mocks/BlacklistToken.sol";
import {Errors} from "../../../src/libraries/Errors.sol";
import {IStreamPay} from "../../../src/interfaces/IStreamPay.sol";

contract WithdrawBalance_Test is ConcreteTest {
    uint256 internal nativeCredit; // provider's native balance after setUp
    uint256 internal usdCredit; // usdProvider's stablecoin balance after setUp

    /// @dev Gives both providers a balance: alice closes her streams after 30 s with their final receipts.
    function setUp() public override {
        super.setUp();
        uint256 nativeStream = createNative(alice, nativeProviderId, RATE * 100);
        uint256 usdStream = createUsd(alice, usdProviderId, USD_RATE * 100);
        skipTime(30);
        bytes memory nativeSig = signFinalReceipt(providerKey, nativeStream, RATE * 30);
        bytes memory usdSig = signFinalReceipt(usdProviderKey, usdStream, USD_RATE * 30);
        vm.startPrank(alice);
        streamPay.closeWithReceipt(nativeStream, RATE * 30, nativeSig);
        streamPay.closeWithReceipt(usdStream, USD_RATE * 30, usdSig);
        vm.stopPrank();
        nativeCredit = RATE * 30;
        usdCredit = USD_RATE * 30;
        assertEq(streamPay.balanceOf(provider, address(0)), nativeCredit, "setUp: native credit");
        assertEq(streamPay.balanceOf(usdProvider, address(usd)), usdCredit, "setUp: usd credit");
    }

    /*//////////////////////////////////////////////////////////////
                               SUCCESS PATHS
    //////////////////////////////////////////////////////////////*/

    function test_WhenNative_PaysTheWholeBalanceToTheCaller() public {
        uint256 providerBefore = provider.balance;

        vm.expectEmit(address(streamPay));
        emit IStreamPay.BalanceWithdrawn(provider, address(0), provider, nativeCredit);
        vm.prank(provider);
        uint256 paid = streamPay.withdrawBalance(address(0), provider);

        assertEq(paid, nativeCredit, "returned amount");
        assertEq(provider.balance, providerBefore + nativeCredit, "paid");
        assertEq(streamPay.balanceOf(provider, address(0)), 0, "balance emptied");
        assertEq(address(streamPay).balance, 0, "contract empty");
    }

    function test_WhenNative_PaysToAnotherAddress() public {
        address coldWallet = makeAddr("coldWallet");
        uint256 providerBefore = provider.balance;

        vm.expectEmit(address(streamPay));
        emit IStreamPay.BalanceWithdrawn(provider, address(0), coldWallet, nativeCredit);
        vm.prank(provider);
        streamPay.withdrawBalance(address(0), coldWallet);

        assertEq(coldWallet.balance, nativeCredit, "destination paid");
        assertEq(provider.balance, providerBefore, "caller not paid");
        assertEq(streamPay.balanceOf(provider, address(0)), 0, "balance emptied");
        assertEq(streamPay.balanceOf(coldWallet, address(0)), 0, "no credit moved to the destination");
        assertEq(address(streamPay).balance, 0, "contract empty");
    }

    function test_WhenERC20_PaysTheWholeBalance() public {
        address coldWallet = makeAddr("coldWallet");

        vm.expectEmit(address(streamPay));
        emit IStreamPay.BalanceWithdrawn(usdProvider, address(usd), coldWallet, usdCredit);
        vm.prank(usdProvider);
        uint256 paid = streamPay.withdrawBalance(address(usd), coldWallet);

        assertEq(paid, usdCredit, "returned amount");
        assertEq(usd.balanceOf(coldWallet), usdCredit, "destination paid");
        assertEq(usd.balanceOf(usdProvider), 1e15, "caller not paid");
        assertEq(streamPay.balanceOf(usdProvider, address(usd)), 0, "balance emptied");
        assertEq(usd.balanceOf(address(streamPay)), 0, "contract empty");
    }

    function test_WhenOneAssetWithdrawn_OtherAssetsUntouched() public {
        // The native provider also earns in the stablecoin through a second registration.
        uint256 usdId = registerProvider(provider, "other-model", USD_RATE, address(usd));
        uint256 streamId = createUsd(bob, usdId, USD_RATE * 10);
        skipTime(5);
        vm.prank(provider);
        streamPay.closeByRecipient(streamId, voucher(bobKey, streamId, USD_RATE * 5));
        assertEq(streamPay.balanceOf(provider, address(usd)), USD_RATE * 5, "usd credit");

        vm.prank(provider);
        streamPay.withdrawBalance(address(0), provider);

        assertEq(streamPay.balanceOf(provider, address(0)), 0, "native taken");
        assertEq(streamPay.balanceOf(provider, address(usd)), USD_RATE * 5, "usd left");
    }

    function test_WhenCreditCameFromAFailedPush_RevertingContractTakesItElsewhere() public {
        Actor sender = newActor("revertingSender");
        uint256 streamId = createNativeFrom(sender, nativeProviderId, RATE * 100);
        sender.setMode(Actor.ReceiveMode.Revert);
        skipTime(10);
        vm.prank(provider);
        streamPay.closeByRecipient(streamId, unsignedVoucher(0)); // the refund push fails and is credited
        assertEq(streamPay.balanceOf(address(sender), address(0)), RATE * 100, "refund credited");
        address coldWallet = makeAddr("senderColdWallet");

        sender.exec(address(streamPay), 0, abi.encodeCall(streamPay.withdrawBalance, (address(0), coldWallet)));

        assertEq(coldWallet.balance, RATE * 100, "refund reached another address");
        assertEq(streamPay.balanceOf(address(sender), address(0)), 0, "balance emptied");
    }

    /*//////////////////////////////////////////////////////////////
                                 REVERTS
    //////////////////////////////////////////////////////////////*/

    function test_RevertWhen_ToIsTheZeroAddress() public {
        vm.expectRevert(abi.encodeWithSelector(Errors.StreamPay_InvalidPayoutAddress.selector, address(0)));
        vm.prank(provider);
        streamPay.withdrawBalance(address(0), address(0));
        assertEq(streamPay.balanceOf(provider, address(0)), nativeCredit, "balance kept");
    }

    function test_RevertWhen_ToIsStreamPayItself() public {
        // Tokens sent to StreamPay itself would be stuck there forever: refused.
        vm.expectRevert(abi.encodeWithSelector(Errors.StreamPay_InvalidPayoutAddress.selector, address(streamPay)));
        vm.prank(usdProvider);
        streamPay.withdrawBalance(address(usd), address(streamPay));
        assertEq(streamPay.balanceOf(usdProvider, address(usd)), usdCredit, "balance kept");
        assertEq(usd.balanceOf(address(streamPay)), usdCredit, "funds kept");
    }

    function test_RevertWhen_NoBalance() public {
        vm.expectRevert(abi.encodeWithSelector(Errors.StreamPay_NoBalance.selector, eve, address(0)));
        vm.prank(eve);
        streamPay.withdrawBalance(address(0), eve);
    }

    function test_RevertWhen_NoBalanceInThatAsset() public {
        vm.expectRevert(abi.encodeWithSelector(Errors.StreamPay_NoBalance.selector, provider, address(usd)));
        vm.prank(provider);
        streamPay.withdrawBalance(address(usd), provider);
    }

    function test_RevertWhen_AlreadyWithdrawn() public {
        vm.prank(provider);
        streamPay.withdrawBalance(address(0), provider);
        uint256 providerBefore = provider.balance;

        vm.expectRevert(abi.encodeWithSelector(Errors.StreamPay_NoBalance.selector, provider, address(0)));
        vm.prank(provider);
        streamPay.withdrawBalance(address(0), provider);
        assertEq(provider.balance, providerBefore, "not paid twice");
    }

    function test_RevertWhen_NativeTransferFails() public {
        Actor refuser = newActor("refuser");
        refuser.setMode(Actor.ReceiveMode.Revert);

        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.StreamPay_TransferFailed.selector, address(0), address(refuser), nativeCredit
            )
        );
        vm.prank(provider);
        streamPay.withdrawBalance(address(0), address(refuser));

        assertEq(streamPay.balanceOf(provider, address(0)), nativeCredit, "balance kept for another try");
        assertEq(address(streamPay).balance, nativeCredit, "funds kept");
    }

    function test_RevertWhen_NativeSentToStreamPayItself() public {
        vm.expectRevert(abi.encodeWithSelector(Errors.StreamPay_InvalidPayoutAddress.selector, address(streamPay)));
        vm.prank(provider);
        streamPay.withdrawBalance(address(0), address(streamPay));
        assertEq(streamPay.balanceOf(provider, address(0)), nativeCredit, "balance kept");
    }

    function test_RevertWhen_ERC20TransferFails() public {
        BlacklistToken busd = new BlacklistToken();
        address bProvider = makeAddr("bProvider");
        vm.deal(bProvider, MIN_STAKE);
        uint256 providerId = registerProvider(bProvider, MODEL, 10, address(busd));
        busd.mint(bob, 1000);
        vm.prank(bob);
        busd.approve(address(streamPay), type(uint256).max);
        uint256 streamId = createUsd(bob, providerId, 1000);
        skipTime(30);
        vm.prank(bProvider);
        streamPay.closeByRecipient(streamId, voucher(bobKey, streamId, 300));
        busd.setBlacklisted(bProvider, true);

        vm.expectRevert(
            abi.encodeWithSelector(Errors.StreamPay_TransferFailed.selector, address(busd), bProvider, 300)
        );
        vm.prank(bProvider);
        streamPay.withdrawBalance(address(busd), bProvider);
        assertEq(streamPay.balanceOf(bProvider, address(busd)), 300, "balance kept");

        // A blacklisted provider takes its earnings to another address.
        address elsewhere = makeAddr("elsewhere");
        vm.prank(bProvider);
        streamPay.withdrawBalance(address(busd), elsewhere);
        assertEq(busd.balanceOf(elsewhere), 300, "paid elsewhere");
        assertEq(busd.balanceOf(address(streamPay)), 0, "contract empty");
    }
}
