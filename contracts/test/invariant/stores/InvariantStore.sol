// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @notice Ghost state of the invariant campaign: an independent model of what StreamPay and the registry
/// should hold, kept by the handler from the formulas of DESIGN §1 (never from the contracts' own
/// arithmetic), plus the violations the handler observed while acting. The invariant functions compare
/// the contracts' real state with this model.
/// @dev Written only by the handler. Not a fuzz target.
contract InvariantStore {
    /*//////////////////////////////////////////////////////////////
                                  TYPES
    //////////////////////////////////////////////////////////////*/

    /// @dev The model of one stream. `status` uses the StreamStatus numbering (1 Open .. 4 Closed).
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
        uint256 withdrawn; // everything paid on the recipient side (pushes, settlements incl. keeper, close)
        uint256 keeperRewards; // the keepers' part of `withdrawn`
        uint256 refunded; // what the close returned to the sender
        uint256 frozenStreamed; // streamed() once closed
        uint256 lastStreamed; // streamed() observed at the end of the last handler call
        uint8 status;
        address closedBy;
        uint256 recipientPayouts; // how many separate payouts credited or pushed recipient-side money
        uint256 senderRefunds; // how many times the sender was refunded (at most once)
        bool rated;
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
    mapping(address asset => uint256) public recipientSide; // Σ stream withdrawn
    mapping(address asset => uint256) public refunded; // Σ refunds to senders
    mapping(address asset => uint256) public keeperRewards; // Σ keeper rewards

    /// @notice Violations observed by the handler, per invariant number (1..5), with the first reason.
    mapping(uint256 invariant => uint256) public violations;
    mapping(uint256 invariant => string) public firstViolation;

    /// @notice Call statistics: how often each action ran and how often it ended as expected-success.
    mapping(bytes32 action => uint256) public calls;
    mapping(bytes32 action => uint256) public successes;

    /// @notice Attempts by legitimate parties to exit (cancel, close, withdraw, settle, withdraw balance)
    /// that the model said must succeed, and how many did.
    uint256 public exitAttempts;
    uint256 public exitSuccesses;
    /// @notice Attempts by outsiders (close, cancel, top up, record completions, provider admin), and how
    /// many of them the contracts wrongly accepted.
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

    /// @dev Cheap reads for the handler's target picking: status, and whether the sender may rate it.
    function statusOf(uint256 streamId) external view returns (uint8) {
        return _streams[streamId].status;
    }

    /// @dev What the per-step streamed check needs, without copying the whole ghost stream.
    function timeline(uint256 streamId)
        external
        view
        returns (
            uint8 status,
            uint256 rate,
            uint256 start,
            uint256 stop,
            uint256 deposited_,
            uint256 frozen,
            uint256 last
        )
    {
        GhostStream storage s = _streams[streamId];
        return (s.status, s.rate, s.start, s.stop, s.deposited, s.frozenStreamed, s.lastStreamed);
    }

    function isRateable(uint256 streamId) external view returns (bool) {
        GhostStream storage s = _streams[streamId];
        return s.status > 1 && !s.rated && s.withdrawn > 0;
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

    function addStream(GhostStream memory s) external onlyHandler {
        _streamIds.push(s.id);
        _streams[s.id] = s;
    }

    function setStream(GhostStream memory s) external onlyHandler {
        _streams[s.id] = s;
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

    function countExit(bool succeeded) external onlyHandler {
        ++exitAttempts;
        if (succeeded) ++exitSuccesses;
    }

    function countOutsider(bool succeeded) external onlyHandler {
        ++outsiderAttempts;
        if (succeeded) ++outsiderSuccesses;
    }
}
