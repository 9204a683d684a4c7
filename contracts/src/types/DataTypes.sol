// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @notice Lifecycle of a stream as stored on-chain.
/// @dev An `Open` stream whose stop time has passed is *depleted*: it streams nothing more and
/// waits for anyone to settle it (`withdrawFromStream` or `batchUpdateStreams`), which marks it `Settled`.
enum StreamStatus {
    None, // no stream with this id
    Open, // streaming (or depleted and not yet settled)
    Settled, // ran to its stop time and everything was paid to the recipient
    Cancelled, // closed early by sender or recipient; split by time
    Closed // closed early at an agreed amount: the provider's final receipt, or the recipient's own settle
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
/// Everything that changes after creation except the stop time (withdrawn, status) sits in slot 1, so a
/// withdrawal, a settlement or a close writes one slot.
/// deposited = ratePerSecond * (stopTime - startTime) always holds (dust is returned at once),
/// and once the stream is closed, refunded = deposited - withdrawn.
struct Stream {
    // slot 0
    address sender; // who deposited and gets the unstreamed rest back
    uint40 startTime; // unix seconds
    uint40 stopTime; // unix seconds; startTime + deposited / ratePerSecond
    bool isNative; // asset is the native coin (saves a registry read on every payout)
    // slot 1
    uint120 withdrawn; // everything that left the stream on the recipient's side (incl. keeper rewards)
    uint96 ratePerSecond; // asset units per second, locked at creation
    uint32 providerId; // ComputeRegistry id; fixes recipient and asset
    StreamStatus status;
}
