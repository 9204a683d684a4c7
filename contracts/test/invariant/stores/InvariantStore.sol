// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @notice Numbers of the invariants and guarantees that the handler's violations count against.
library Inv {
    uint256 internal constant SOLVENCY = 1;
    uint256 internal constant ACCOUNTING = 2;
    uint256 internal constant STREAMED = 3;
    uint256 internal constant EXITS = 4;
    uint256 internal constant ACCESS = 5;
    /// @dev G1: the sender pays at most what it signed (largest voucher, or the final receipt it closed with).
    uint256 internal constant G1 = 6;
    /// @dev G2: the recipient keeps min(best valid voucher, streamed) when it acts while the stream is open or
    /// before its challenge window ends, and a cancel leaves it a whole window (cancel time + challengeWindow).
    /// After the window only finalisation is left: a late withdrawal or answer is refused and moves nothing.
    uint256 internal constant G2 = 7;
    /// @dev G3: nobody takes more than streamed; every unit of a deposit goes to exactly one side, once.
    uint256 internal constant G3 = 8;
    /// @dev G4: an abandoned stream is settled by time by anyone, with exactly the keeper's 10 bps.
    uint256 internal constant G4 = 9;
    uint256 internal constant COUNT = 9;
}

/// @notice Ghost state of the invariant campaign: an independent model of what StreamPay and the registry
/// should hold, kept by the handler from the contract's documented formulas (never from its own
/// arithmetic), plus what each party signed and received, and the violations the handler observed.
/// The invariant functions compare the contracts' real state with this model.
/// @dev Written only by the handler. Not a fuzz target.
contract InvariantStore {
    /*//////////////////////////////////////////////////////////////
                                  TYPES
    //////////////////////////////////////////////////////////////*/

    /// @dev The model of one stream. `status` uses the StreamStatus numbering (1 Open .. 5 Cancelling).
    struct GhostStream {
        uint256 id;
        address sender;
        address recipient;
        address asset;
        uint256 providerId;
        uint256 rate; // locked at creation
        uint256 start;
        uint256 stop; // start + deposited / rate; moved by top-ups
        uint256 deposited; // used amounts of create + top-ups
        uint256 withdrawn; // recipient side in all: withdrawals, close credits, settlement (keeper reward included)
        uint256 endTime; // when it was cancelled or closed (settled included): that block's time; 0 while open
        uint8 status;
        uint256 cancelAt; // when the sender cancelled (0: never)
        address closedBy; // who made the stream final (Closed, Cancelled or Settled)
        uint256 closedAt;
        bool receiptUsed; // closed by the sender with the provider's final receipt ...
        uint256 receiptAmount; // ... for this amount
        uint256 settledAmount; // abandoned: what the keeper's settlement paid to the recipient side (reward incl.)
        // What each side received from this stream's deposit, as observed in balances and credits.
        uint256 senderReceived;
        uint256 recipientReceived;
        uint256 keeperReceived;
        uint256 lastStreamed; // streamedAmountOf observed at the end of the last handler call
        bool rated;
    }

    /// @dev What the sender (or its keys) signed on a stream, and the best of it the recipient holds.
    /// Every voucher signed is handed to the recipient, which keeps the largest one per kind of signer.
    struct GhostVouchers {
        address namedKey; // the session key named at creation (address(0): none)
        uint256 maxSigned; // largest cumulative the sender, its named key or its authorised key ever signed
        uint256 bestPermanent; // recipient's largest voucher that never expires (sender's or named key's)
        uint8 bestPermanentBy; // who signed it (0: no voucher yet)
        uint256 bestSession; // recipient's largest voucher by the key the sender authorised by signature
        uint256 sessionExpiry; // that key's authorisation, as last renewed (0: never authorised)
        uint256 last; // the latest voucher signed, possibly lower than an earlier one
        uint8 lastBy;
        uint256 signedCount;
        // G2: the largest min(best valid voucher, streamed) at a moment the recipient acted in time (open, or
        // before cancel time + challengeWindow); what the recipient side holds must never be below it.
        uint256 g2Entitled;
    }

    /// @dev The model of one provider.
    struct GhostProvider {
        uint256 id;
        address wallet;
        address asset;
        uint256 signerKey; // 0: cannot sign receipts (a plain contract wallet)
        uint256 price;
        bool active;
        uint256 stake;
        uint256 deactivatedAt;
        uint256 completions; // closes that paid something
        uint256 earned; // sum of recipient-side totals of those closes
        uint256 ratingCount;
        uint256 ratingSum;
    }

    /*//////////////////////////////////////////////////////////////
                                  STATE
    //////////////////////////////////////////////////////////////*/

    address public immutable handler;

    /// @notice Ghost clock: every handler call and invariant check runs at this time.
    uint256 public time;

    uint256[] internal _streamIds;
    mapping(uint256 streamId => GhostStream) internal _streams;
    mapping(uint256 streamId => GhostVouchers) internal _vouchers;

    uint256[] internal _providerIds;
    mapping(uint256 providerId => GhostProvider) internal _providers;

    address[] internal _accounts;
    mapping(address account => bool) public isAccount;

    /// @notice Expected claimable StreamPay balance of an account in an asset.
    mapping(address account => mapping(address asset => uint256)) public credit;
    /// @notice Running total of what was ever credited (not pushed) to an account, per asset.
    mapping(address account => mapping(address asset => uint256)) public creditedTotal;
    /// @notice Of `creditedTotal`, what was credited because the account refused a native push.
    mapping(address account => mapping(address asset => uint256)) public deferredTotal;

    /// @notice Per-asset running totals of money into and out of StreamPay, and where it went.
    mapping(address asset => uint256) public inflow; // all that entered and stayed (deposits + deferred dust)
    mapping(address asset => uint256) public deposited; // used amounts of creates and top-ups
    mapping(address asset => uint256) public paidOut; // actually left StreamPay (pushes + withdrawBalance)
    mapping(address asset => uint256) public recipientSide; // Σ stream withdrawn (keeper rewards included)
    mapping(address asset => uint256) public refunded; // Σ what went back to senders from streams
    mapping(address asset => uint256) public keeperRewards; // Σ keeper rewards

    /// @notice Violations observed by the handler, per number of `Inv` (1..9), with the first reason.
    mapping(uint256 invariant => uint256) public violations;
    mapping(uint256 invariant => string) public firstViolation;

    /// @notice Call statistics: how often each action ran and how often it ended as expected-success.
    mapping(bytes32 action => uint256) public calls;
    mapping(bytes32 action => uint256) public successes;
    /// @notice How often each hostile scenario (a front-run, a bad session key refused, ...) happened.
    mapping(bytes32 scenario => uint256) public scenarios;

    /// @notice Attempts by legitimate parties to exit (cancel, close, withdraw, settle, withdraw balance)
    /// that the model said must succeed, and how many did.
    uint256 public exitAttempts;
    uint256 public exitSuccesses;
    /// @notice Attempts by parties without the right (close, cancel, top up, record completions, provider
    /// admin), and how many of them the contracts wrongly accepted.
    uint256 public outsiderAttempts;
    uint256 public outsiderSuccesses;

    constructor(address handler_, uint256 startTime) {
        handler = handler_;
        time = startTime;
    }

    modifier onlyHandler() {
        require(msg.sender == handler, "store: only handler");
        _;
    }

    /*//////////////////////////////////////////////////////////////
                                  READS
    //////////////////////////////////////////////////////////////*/

    function streamCount() external view returns (uint256) {
        return _streamIds.length;
    }

    function streamIdAt(uint256 index) external view returns (uint256) {
        return _streamIds[index];
    }

    function getStream(uint256 streamId) external view returns (GhostStream memory) {
        return _streams[streamId];
    }

    function getVouchers(uint256 streamId) external view returns (GhostVouchers memory) {
        return _vouchers[streamId];
    }

    /// @dev Cheap read for the handler's target picking.
    function statusOf(uint256 streamId) external view returns (uint8) {
        return _streams[streamId].status;
    }

    /// @dev What the per-step streamed check needs, without copying the whole ghost stream.
    function timeline(uint256 streamId)
        external
        view
        returns (
            uint256 rate,
            uint256 start,
            uint256 stop,
            uint256 endTime,
            uint256 deposited_,
            uint256 withdrawn,
            uint256 last
        )
    {
        GhostStream storage s = _streams[streamId];
        return (s.rate, s.start, s.stop, s.endTime, s.deposited, s.withdrawn, s.lastStreamed);
    }

    /// @dev Closed (not open, not cancelling), not rated yet, and paid the provider something.
    function isRateable(uint256 streamId) external view returns (bool) {
        GhostStream storage s = _streams[streamId];
        return s.status >= 2 && s.status <= 4 && !s.rated && s.withdrawn > 0;
    }

    function providerCount() external view returns (uint256) {
        return _providerIds.length;
    }

    function providerIdAt(uint256 index) external view returns (uint256) {
        return _providerIds[index];
    }

    function getProvider(uint256 providerId) external view returns (GhostProvider memory) {
        return _providers[providerId];
    }

    function accountCount() external view returns (uint256) {
        return _accounts.length;
    }

    function accountAt(uint256 index) external view returns (address) {
        return _accounts[index];
    }

    /*//////////////////////////////////////////////////////////////
                                  WRITES
    //////////////////////////////////////////////////////////////*/

    function advance(uint256 secondsToSkip) external onlyHandler {
        time += secondsToSkip;
    }

    function addAccount(address account) external onlyHandler {
        if (isAccount[account]) return;
        isAccount[account] = true;
        _accounts.push(account);
    }

    function addStream(GhostStream memory s, GhostVouchers memory v) external onlyHandler {
        _streamIds.push(s.id);
        _streams[s.id] = s;
        _vouchers[s.id] = v;
    }

    function setStream(GhostStream memory s) external onlyHandler {
        _streams[s.id] = s;
    }

    function setVouchers(uint256 streamId, GhostVouchers memory v) external onlyHandler {
        _vouchers[streamId] = v;
    }

    function setLastStreamed(uint256 streamId, uint256 value) external onlyHandler {
        _streams[streamId].lastStreamed = value;
    }

    function addProvider(GhostProvider memory p) external onlyHandler {
        _providerIds.push(p.id);
        _providers[p.id] = p;
    }

    function setProvider(GhostProvider memory p) external onlyHandler {
        _providers[p.id] = p;
    }

    /// @dev Money that StreamPay keeps as claimable balance for `account`.
    function addCredit(address account, address asset, uint256 amount, bool deferred) external onlyHandler {
        credit[account][asset] += amount;
        creditedTotal[account][asset] += amount;
        if (deferred) deferredTotal[account][asset] += amount;
    }

    function clearCredit(address account, address asset) external onlyHandler {
        credit[account][asset] = 0;
    }

    function addDeposited(address asset, uint256 amount) external onlyHandler {
        deposited[asset] += amount;
    }

    function addInflow(address asset, uint256 amount) external onlyHandler {
        inflow[asset] += amount;
    }

    function addPaidOut(address asset, uint256 amount) external onlyHandler {
        paidOut[asset] += amount;
    }

    function addRecipientSide(address asset, uint256 amount) external onlyHandler {
        recipientSide[asset] += amount;
    }

    function addRefunded(address asset, uint256 amount) external onlyHandler {
        refunded[asset] += amount;
    }

    function addKeeperRewards(address asset, uint256 amount) external onlyHandler {
        keeperRewards[asset] += amount;
    }

    function flag(uint256 invariant, string calldata reason) external onlyHandler {
        if (violations[invariant] == 0) firstViolation[invariant] = reason;
        ++violations[invariant];
    }

    function countCall(bytes32 action, bool success) external onlyHandler {
        ++calls[action];
        if (success) ++successes[action];
    }

    function countScenario(bytes32 scenario) external onlyHandler {
        ++scenarios[scenario];
    }

    function countExit(bool succeeded) external onlyHandler {
        ++exitAttempts;
        if (succeeded) ++exitSuccesses;
    }

    function countOutsider(bool succeeded) external onlyHandler {
        ++outsiderAttempts;
        if (succeeded) ++outsiderSuccesses;
    }
}
