// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @notice Lifecycle of a stream as stored on-chain.
/// @dev An `Open` stream whose stop time has passed is *depleted*: it streams nothing more. Either party
/// may still close it until stopTime + grace period; after that it is *abandoned* and anyone may settle
/// it by time (`batchUpdateStreams`), which marks it `Settled`. Values are stable: new ones are appended.
enum StreamStatus {
    None, // no stream with this id
    Open, // streaming (or depleted, or abandoned and not yet settled)
    Settled, // abandoned: nobody closed it before stopTime + grace, so it was settled by time
    Cancelled, // the sender cancelled unilaterally; the recipient kept its best voucher (answered or not)
    Closed, // closed at an agreed amount: the sender with a final receipt, or the recipient with a voucher
    Cancelling // the sender cancelled; the recipient may answer with a voucher until the challenge window ends
}

/// @notice A provider as stored by ComputeRegistry.
/// @dev Packed into four slots plus three strings. Units: amounts in the payment asset's smallest unit.
struct Provider {
    // slot 0 — read by every createStream and close
    address wallet; // payout address: the registering wallet, never changes
    uint96 pricePerSecond; // asset units per second
    // slot 1
    address asset; // payment asset: address(0) = native coin, else an ERC-20; fixed at registration
    bool active;
    uint40 registeredAt; // unix seconds
    uint40 deactivatedAt; // unix seconds of the last deactivation (0 if never)
    // slot 2 — written by every recordCompletion
    uint160 totalEarned; // asset units, gross: what closed streams paid on the provider's side (keeper rewards included)
    uint64 requestsServed; // closed streams that paid this provider anything
    uint32 ratingCount;
    // slot 3
    uint128 stake; // native coin, locked while registered
    uint64 ratingSum; // sum of 1..5 scores
    // slots 4.. (dynamic)
    string model;
    string endpoint;
    string serviceType;
}

/// @notice A payment stream as stored by StreamPay.
/// @dev Two slots, both written at creation. Recipient and asset are the provider's wallet and asset,
/// which the registry never changes, so the provider id locks them; the rate is copied and locked here.
/// Everything that changes after creation except the stop time (withdrawn, end time, status) sits in
/// slot 1, so a withdrawal, a cancel, a settlement or a close writes one slot.
/// deposited = ratePerSecond * (stopTime - startTime) always holds (dust is returned at once).
/// streamed = ratePerSecond * (min(now, stopTime, endTime) - startTime): what time allows, a cap only;
/// what the recipient is paid (`withdrawn`) is decided by the payer's signatures and never exceeds it.
/// Times are unix seconds in 32 bits (until 2106), which is what lets both slots stay full.
struct Stream {
    // slot 0
    address sender; // who deposited and gets the rest back
    uint32 providerId; // ComputeRegistry id; fixes recipient and asset
    uint32 startTime; // unix seconds
    uint32 stopTime; // unix seconds; startTime + deposited / ratePerSecond
    // slot 1
    uint112 withdrawn; // everything paid on the recipient's side (incl. keeper rewards)
    uint96 ratePerSecond; // asset units per second, locked at creation
    uint32 endTime; // unix seconds of the cancel or close (streaming stops there, or at stopTime), 0 while open
    StreamStatus status;
    bool isNative; // asset is the native coin (saves a registry read on every payout)
}
