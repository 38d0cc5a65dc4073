// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ModelRegistry} from "./ModelRegistry.sol";

/// @title Jobs on registered models, executed by staked executors who commit, then reveal, their
/// result. A majority quorum of matching reveals finalises a job: the fee (and whatever the
/// minority forfeits) is split among the matching executors, dissenting revealers are slashed,
/// and executors who committed but never revealed lose part of their stake. Payments are pulled
/// with withdraw(); no other function sends ether.
contract JobMarket {
    ModelRegistry public immutable registry;
    uint256 public immutable minStake;
    uint64 public immutable unbondingDelay;
    /// share of stake (basis points) a revealer who disagrees with the quorum loses
    uint16 public immutable slashBps;
    /// share of stake (basis points) a seated executor who committed but never revealed loses
    uint16 public immutable noRevealBps;
    uint8 public constant MAX_SEATS = 16;

    struct Executor {
        uint256 stake;
        uint64 unbondingEnds; // 0 while active
        uint32 activeSeats; // seats in jobs not yet finalised: stake cannot leave meanwhile
        bool known;
    }

    enum JobState {
        None,
        Open,
        Finalized,
        Refunded
    }

    struct Job {
        address requester;
        bytes32 modelHash;
        bytes32 inputHash;
        uint256 fee;
        uint64 commitDeadline;
        uint64 revealDeadline;
        uint8 quorum;
        JobState state;
        bytes32 outputHash;
        bytes32 traceRoot;
        string inputURI;
        address[] seats;
    }

    struct Seat {
        bool seated;
        bool revealed;
        bytes32 commitment;
        bytes32 outputHash;
        bytes32 traceRoot;
    }

    mapping(address => Executor) public executors;
    address[] public executorList;
    uint256 public jobCount;
    mapping(uint256 => Job) private jobs;
    mapping(uint256 => mapping(address => Seat)) public seats;
    /// pull payments: fees, refunds, forfeits and withdrawn stake
    mapping(address => uint256) public balances;

    event ExecutorStaked(address indexed executor, uint256 amount, uint256 stake);
    event UnbondingStarted(address indexed executor, uint64 endsAt);
    event StakeWithdrawn(address indexed executor, uint256 amount);
    event JobPosted(
        uint256 indexed jobId,
        address indexed requester,
        bytes32 indexed modelHash,
        bytes32 inputHash,
        string inputURI,
        uint256 fee,
        uint8 quorum,
        uint64 commitDeadline,
        uint64 revealDeadline,
        address[] seats
    );
    event Committed(uint256 indexed jobId, address indexed executor, bytes32 commitment);
    event Revealed(uint256 indexed jobId, address indexed executor, bytes32 outputHash, bytes32 traceRoot);
    event Slashed(uint256 indexed jobId, address indexed executor, uint256 amount, bool silent);
    event Paid(uint256 indexed jobId, address indexed executor, uint256 amount);
    event JobFinalized(uint256 indexed jobId, bytes32 outputHash, bytes32 traceRoot, uint256 matching);
    event JobRefunded(uint256 indexed jobId, uint256 amount);
    event Withdrawn(address indexed account, uint256 amount);

    error InsufficientStake(uint256 required, uint256 provided);
    error ExecutorUnbonding(address executor);
    error NotExecutor(address account);
    error AlreadyUnbonding(uint64 endsAt);
    error NotUnbonding();
    error StillUnbonding(uint64 endsAt);
    error SeatsStillOpen(uint32 seats);
    error NothingToWithdraw();
    error TransferFailed();
    error UnknownModel(bytes32 modelHash);
    error ZeroFee();
    error BadQuorum(uint8 quorum, uint8 seatCount);
    error BadDeadlines();
    error NotEnoughExecutors(uint256 available, uint8 needed);
    error JobNotOpen(uint256 jobId);
    error CommitClosed(uint64 deadline);
    error NotSeated(uint256 jobId, address account);
    error AlreadyCommitted();
    error ZeroCommitment();
    error RevealNotOpen(uint64 opensAfter);
    error RevealClosed(uint64 deadline);
    error NotCommitted();
    error AlreadyRevealed();
    error CommitmentMismatch();
    error TooEarly(uint64 revealDeadline);
    error BadParameters();

    constructor(ModelRegistry registry_, uint256 minStake_, uint64 unbondingDelay_, uint16 slashBps_, uint16 noRevealBps_) {
        if (address(registry_) == address(0) || minStake_ == 0 || slashBps_ > 10_000 || noRevealBps_ > 10_000) revert BadParameters();
        registry = registry_;
        minStake = minStake_;
        unbondingDelay = unbondingDelay_;
        slashBps = slashBps_;
        noRevealBps = noRevealBps_;
    }

    // ---------------------------------------------------------------- executors

    /// Registers the sender as an executor, or adds to its stake. The total must reach minStake.
    function stake() external payable {
        Executor storage e = executors[msg.sender];
        if (e.unbondingEnds != 0) revert ExecutorUnbonding(msg.sender);
        uint256 total = e.stake + msg.value;
        if (total < minStake) revert InsufficientStake(minStake, total);
        e.stake = total;
        if (!e.known) {
            e.known = true;
            executorList.push(msg.sender);
        }
        emit ExecutorStaked(msg.sender, msg.value, total);
    }

    /// Stops taking seats; the stake can be withdrawn after unbondingDelay once no seat is open.
    function requestUnbonding() external {
        Executor storage e = executors[msg.sender];
        if (e.stake == 0) revert NotExecutor(msg.sender);
        if (e.unbondingEnds != 0) revert AlreadyUnbonding(e.unbondingEnds);
        e.unbondingEnds = uint64(block.timestamp) + unbondingDelay;
        emit UnbondingStarted(msg.sender, e.unbondingEnds);
    }

    /// Moves the whole stake to the sender's withdrawable balance.
    function withdrawStake() external {
        Executor storage e = executors[msg.sender];
        if (e.unbondingEnds == 0) revert NotUnbonding();
        if (block.timestamp < e.unbondingEnds) revert StillUnbonding(e.unbondingEnds);
        if (e.activeSeats != 0) revert SeatsStillOpen(e.activeSeats);
        uint256 amount = e.stake;
        e.stake = 0;
        e.unbondingEnds = 0;
        balances[msg.sender] += amount;
        emit StakeWithdrawn(msg.sender, amount);
    }

    /// Sends the sender its balance (fees, refunds, forfeits, withdrawn stake).
    function withdraw() external {
        uint256 amount = balances[msg.sender];
        if (amount == 0) revert NothingToWithdraw();
        balances[msg.sender] = 0; // effects before the interaction: a reentrant call finds nothing
        (bool ok, ) = msg.sender.call{value: amount}("");
        if (!ok) revert TransferFailed();
        emit Withdrawn(msg.sender, amount);
    }

    function executorCount() external view returns (uint256) {
        return executorList.length;
    }

    // ---------------------------------------------------------------- jobs

    /// Posts a job; msg.value is the fee. Seats are drawn from the eligible executors with equal
    /// chance each (stake size does not matter), one seat per address.
    function postJob(
        bytes32 modelHash,
        bytes32 inputHash,
        string calldata inputURI,
        uint8 quorum,
        uint8 seatCount,
        uint64 commitDeadline,
        uint64 revealDeadline
    ) external payable returns (uint256 jobId) {
        if (!registry.isRegistered(modelHash)) revert UnknownModel(modelHash);
        if (msg.value == 0) revert ZeroFee();
        // A strict majority: two different answers can never both reach the quorum.
        if (seatCount == 0 || seatCount > MAX_SEATS || quorum > seatCount || uint16(quorum) * 2 <= seatCount) {
            revert BadQuorum(quorum, seatCount);
        }
        if (commitDeadline <= block.timestamp || revealDeadline <= commitDeadline) revert BadDeadlines();

        address[] memory eligible = new address[](executorList.length);
        uint256 n = 0;
        for (uint256 i = 0; i < executorList.length; i++) {
            Executor storage e = executors[executorList[i]];
            if (e.stake >= minStake && e.unbondingEnds == 0) eligible[n++] = executorList[i];
        }
        if (n < seatCount) revert NotEnoughExecutors(n, seatCount);

        jobId = ++jobCount;
        Job storage job = jobs[jobId];
        job.requester = msg.sender;
        job.modelHash = modelHash;
        job.inputHash = inputHash;
        job.fee = msg.value;
        job.commitDeadline = commitDeadline;
        job.revealDeadline = revealDeadline;
        job.quorum = quorum;
        job.state = JobState.Open;
        job.inputURI = inputURI;

        // Partial Fisher-Yates shuffle over the eligible executors, seeded by the chain.
        bytes32 seed = keccak256(abi.encode(block.prevrandao, blockhash(block.number - 1), jobId, msg.sender));
        for (uint256 i = 0; i < seatCount; i++) {
            uint256 j = i + (uint256(keccak256(abi.encode(seed, i))) % (n - i));
            (eligible[i], eligible[j]) = (eligible[j], eligible[i]);
            address chosen = eligible[i];
            seats[jobId][chosen].seated = true;
            executors[chosen].activeSeats += 1;
            job.seats.push(chosen);
        }
        emit JobPosted(jobId, msg.sender, modelHash, inputHash, inputURI, msg.value, quorum, commitDeadline, revealDeadline, job.seats);
    }

    /// The commitment a seated executor sends: binds its address, so nobody can copy another's.
    function commitmentOf(uint256 jobId, bytes32 outputHash, bytes32 traceRoot, bytes32 salt, address executor)
        public
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(jobId, outputHash, traceRoot, salt, executor));
    }

    function commit(uint256 jobId, bytes32 commitment) external {
        Job storage job = jobs[jobId];
        if (job.state != JobState.Open) revert JobNotOpen(jobId);
        if (block.timestamp > job.commitDeadline) revert CommitClosed(job.commitDeadline);
        Seat storage s = seats[jobId][msg.sender];
        if (!s.seated) revert NotSeated(jobId, msg.sender);
        if (s.commitment != bytes32(0)) revert AlreadyCommitted();
        if (commitment == bytes32(0)) revert ZeroCommitment();
        s.commitment = commitment;
        emit Committed(jobId, msg.sender, commitment);
    }

    /// Reveals after the commit deadline (so reveals cannot be copied into commitments).
    function reveal(uint256 jobId, bytes32 outputHash, bytes32 traceRoot, bytes32 salt) external {
        Job storage job = jobs[jobId];
        if (job.state != JobState.Open) revert JobNotOpen(jobId);
        if (block.timestamp <= job.commitDeadline) revert RevealNotOpen(job.commitDeadline);
        if (block.timestamp > job.revealDeadline) revert RevealClosed(job.revealDeadline);
        Seat storage s = seats[jobId][msg.sender];
        if (!s.seated) revert NotSeated(jobId, msg.sender);
        if (s.commitment == bytes32(0)) revert NotCommitted();
        if (s.revealed) revert AlreadyRevealed();
        if (commitmentOf(jobId, outputHash, traceRoot, salt, msg.sender) != s.commitment) revert CommitmentMismatch();
        s.revealed = true;
        s.outputHash = outputHash;
        s.traceRoot = traceRoot;
        emit Revealed(jobId, msg.sender, outputHash, traceRoot);
    }

    /// Settles a job after its reveal deadline, or earlier once every seat has revealed.
    function finalize(uint256 jobId) external {
        Job storage job = jobs[jobId];
        if (job.state != JobState.Open) revert JobNotOpen(jobId);
        (uint256 best, bytes32 bestOutput, bytes32 bestRoot, bool everyoneRevealed) = _tally(jobId);
        if (block.timestamp <= job.revealDeadline && !(everyoneRevealed && block.timestamp > job.commitDeadline)) {
            revert TooEarly(job.revealDeadline);
        }
        bool agreed = best >= job.quorum;
        uint256 forfeited = _settleSeats(jobId, agreed, bestOutput, bestRoot);
        uint256 pot = job.fee + forfeited;
        if (!agreed) {
            job.state = JobState.Refunded;
            balances[job.requester] += pot;
            emit JobRefunded(jobId, pot);
            return;
        }
        job.state = JobState.Finalized;
        job.outputHash = bestOutput;
        job.traceRoot = bestRoot;
        uint256 share = pot / best;
        address[] storage seated = job.seats;
        for (uint256 i = 0; i < seated.length; i++) {
            Seat storage s = seats[jobId][seated[i]];
            if (s.revealed && s.outputHash == bestOutput && s.traceRoot == bestRoot) {
                balances[seated[i]] += share;
                emit Paid(jobId, seated[i], share);
            }
        }
        balances[job.requester] += pot - share * best; // rounding dust goes back to the requester
        emit JobFinalized(jobId, bestOutput, bestRoot, best);
    }

    /// The answer with the most matching reveals (a strict-majority quorum makes an agreed one unique).
    function _tally(uint256 jobId) private view returns (uint256 best, bytes32 bestOutput, bytes32 bestRoot, bool everyoneRevealed) {
        address[] storage seated = jobs[jobId].seats;
        everyoneRevealed = true;
        for (uint256 i = 0; i < seated.length; i++) {
            Seat storage a = seats[jobId][seated[i]];
            if (!a.revealed) {
                everyoneRevealed = false;
                continue;
            }
            uint256 matching = 0;
            for (uint256 k = 0; k < seated.length; k++) {
                Seat storage b = seats[jobId][seated[k]];
                if (b.revealed && b.outputHash == a.outputHash && b.traceRoot == a.traceRoot) matching++;
            }
            if (matching > best) (best, bestOutput, bestRoot) = (matching, a.outputHash, a.traceRoot);
        }
    }

    /// Frees every seat and takes the forfeits: dissenting revealers (when there is an agreed
    /// answer) lose slashBps of their stake, silent committers noRevealBps. Returns the total.
    function _settleSeats(uint256 jobId, bool agreed, bytes32 bestOutput, bytes32 bestRoot) private returns (uint256 forfeited) {
        address[] storage seated = jobs[jobId].seats;
        for (uint256 i = 0; i < seated.length; i++) {
            Seat storage s = seats[jobId][seated[i]];
            Executor storage e = executors[seated[i]];
            e.activeSeats -= 1;
            bool silent = s.commitment != bytes32(0) && !s.revealed;
            bool dissent = agreed && s.revealed && (s.outputHash != bestOutput || s.traceRoot != bestRoot);
            uint256 bps = silent ? noRevealBps : (dissent ? slashBps : 0);
            if (bps == 0) continue;
            uint256 amount = (e.stake * bps) / 10_000;
            e.stake -= amount;
            forfeited += amount;
            emit Slashed(jobId, seated[i], amount, silent);
        }
    }

    struct JobView {
        address requester;
        bytes32 modelHash;
        bytes32 inputHash;
        string inputURI;
        uint256 fee;
        uint8 quorum;
        uint64 commitDeadline;
        uint64 revealDeadline;
        JobState state;
        bytes32 outputHash;
        bytes32 traceRoot;
        address[] seats;
    }

    function getJob(uint256 jobId) external view returns (JobView memory) {
        Job storage j = jobs[jobId];
        return JobView(j.requester, j.modelHash, j.inputHash, j.inputURI, j.fee, j.quorum, j.commitDeadline, j.revealDeadline, j.state, j.outputHash, j.traceRoot, j.seats);
    }
}
