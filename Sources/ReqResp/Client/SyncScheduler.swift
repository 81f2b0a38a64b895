import P2PCore
import Rollup

/// The `payload_by_number` sync client as a sans-IO core: op-node's removed `SyncClient` (spec
/// §5.3, `op-node/p2p/sync.go`) rebuilt without the weaknesses of optimism issue #11779.
///
/// What it keeps from op-node: blocks are fetched newest first, from `end − 1` down to
/// `start + 1`, in parallel across peers, one request per number at a time; fetched blocks wait
/// in a bounded quarantine (LRU by hash, 100) until parent-hash chaining from the trusted target
/// reaches them (trusted hashes: LRU of 10,000); the client rate limits are op-node's (global
/// 20/s burst 40, per peer 4/s burst 15); the application-score events are op-node's.
///
/// What it does differently (spec §5.4 [project]):
/// - a rate-limit wait is not an error: work waits for tokens (see `nextDeadline`);
/// - the quarantine never costs a peer anything for the client's own buffer pressure: an evicted
///   block is penalised (−20) only if it is *proven wrong* — a trusted hash at its height differs
///   and no active range still has that height undetermined. Fetching is also kept within
///   `lookahead` blocks below the chain's next needed block, so the quarantine rarely fills;
/// - failures (timeouts, code 2/3, stream errors, undecodable or unverifiable responses) are
///   retried on another peer when there is one; the failing peer backs off exponentially
///   (`backoffBase`·2^(k−1) up to `backoffMax`, reset by a success);
/// - "not found" (code 1) is not penalised and does not cancel the range: that peer is skipped for
///   that number for `notFoundRetryAfter`, others are asked;
/// - stalls always recover: a number whose requests are all `hedgeAfter` old is requested again
///   from another peer without slow requests of its own (at most `maxRequestsPerNumber` at once);
///   a slow request stops counting against its peer's in-flight bound (up to
///   `maxSlowRequestsPerPeer` of them) and ranks the peer last for new work; the core times
///   requests out itself after `requestDeadline` if the host never reports; a range with no
///   progress for `stallTimeout` reports `.noProgress` and forgets which peers to skip;
/// - delivery is in ascending order without gaps once the chain from the target reaches the start,
///   checked against `start.hash` when it is known.
///
/// Host contract: feed every input with the current time; perform the returned actions in order;
/// after each call, arm a timer for `nextDeadline` (if any) and call `tick` when it fires.
/// Peer-controlled state is bounded: peers (`maxPeers`), per-peer skip lists, the quarantine,
/// trusted hashes, ranges (`maxActiveRanges` × `maxRangeLength` promoted blocks).
public struct SyncScheduler: Sendable {
    public struct Config: Sendable, Equatable {
        public var quarantineCapacity = 100
        public var trustedCapacity = 10_000
        public var globalRate: Double = 20
        public var globalBurst = 40
        public var peerRate: Double = 4
        public var peerBurst = 15
        /// Requests outstanding at one peer at a time (op-node: 1), not counting slow ones.
        public var maxInFlightPerPeer = 2
        /// Requests outstanding longer than `hedgeAfter` that a peer may hold on top: one lost
        /// datagram does not idle an honest peer until its timeout, a slow peer gets little work.
        public var maxSlowRequestsPerPeer = 2
        /// How far below the chain's next needed block requests may run ahead. Above
        /// `hedgeAfter` × `globalRate` (40), a re-issued request never idles the rate limit.
        public var lookahead = 64
        /// Most blocks between start and end (exclusive); they are held until delivered.
        public var maxRangeLength = 4096
        public var maxActiveRanges = 4
        public var maxPeers = 1000
        /// op-node's `--p2p.sync.onlyreqtostatic`.
        public var onlyRequestFromStatic = false
        /// A number whose requests are all this old is requested again from another peer.
        public var hedgeAfter: Duration = .seconds(2)
        /// Most requests outstanding for one number (the first plus re-issues).
        public var maxRequestsPerNumber = 3
        /// Backstop when the host never reports a request (§5.2 timeouts add up to 25 s).
        public var requestDeadline: Duration = .seconds(30)
        public var stallTimeout: Duration = .seconds(10)
        public var backoffBase: Duration = .seconds(1)
        public var backoffMax: Duration = .seconds(32)
        public var notFoundRetryAfter: Duration = .seconds(30)
        public var maxSkippedNumbersPerPeer = 512

        public init() {}
    }

    public let config: Config
    public private(set) var stats = SyncSchedulerStats()
    /// When the host should call `tick` next (nil: only when another input arrives).
    public private(set) var nextDeadline: Duration?

    private struct Skip: Sendable {
        let until: Duration
        let notFound: Bool
    }

    private struct PeerState: Sendable {
        var supportsProtocol: Bool
        var isStatic: Bool
        var bucket: TokenBucket
        /// Outstanding numbers and when they were sent.
        var inFlight: [UInt64: Duration] = [:]
        var consecutiveFailures = 0
        var backoffUntil: Duration = .zero
        var skip: LRUCache<UInt64, Skip>
        var lastAssigned: Duration = .zero
    }

    private struct Outstanding: Sendable {
        let peer: PeerID
        let sentAt: Duration
    }

    private struct RangeState: Sendable {
        let id: SyncRangeID
        let start: RollupConfig.BlockID
        let end: SyncTarget
        /// The number the chain needs next; equals `start.number` once complete.
        var next: UInt64
        /// The trusted hash of block `next`.
        var expected: [UInt8]
        var lastProgress: Duration
        var reportedNoPeers = false
        var reportedNotFound: UInt64?

        func covers(_ n: UInt64) -> Bool { start.number < n && n < end.number }
    }

    private var peers: [PeerID: PeerState] = [:]
    /// Connection order: every iteration that affects output follows it (determinism).
    private var peerOrder: [PeerID] = []
    private var global: TokenBucket
    private var ranges: [RangeState] = []
    private var lastRangeID: UInt64 = 0
    private var quarantine: Quarantine
    private var trusted: TrustedHashes
    /// Blocks on a range's trusted chain, held until the range is delivered.
    private var promoted: [[UInt8]: ExecutionPayloadEnvelope] = [:]
    private var outstanding: [UInt64: [Outstanding]] = [:]

    public init(config: Config = Config()) {
        var c = config
        c.quarantineCapacity = max(1, c.quarantineCapacity)
        c.trustedCapacity = max(2, c.trustedCapacity)
        c.maxInFlightPerPeer = max(1, c.maxInFlightPerPeer)
        c.maxSlowRequestsPerPeer = max(0, c.maxSlowRequestsPerPeer)
        c.maxRequestsPerNumber = max(1, c.maxRequestsPerNumber)
        c.lookahead = max(1, c.lookahead)
        c.maxRangeLength = max(0, c.maxRangeLength)
        c.maxActiveRanges = max(1, c.maxActiveRanges)
        c.maxPeers = max(1, c.maxPeers)
        c.maxSkippedNumbersPerPeer = max(1, c.maxSkippedNumbersPerPeer)
        self.config = c
        global = TokenBucket(rate: c.globalRate, burst: c.globalBurst)
        quarantine = Quarantine(capacity: c.quarantineCapacity)
        trusted = TrustedHashes(capacity: c.trustedCapacity)
    }

    // MARK: Queries

    public var activeRanges: [SyncRangeID] { ranges.map(\.id) }
    public var quarantineCount: Int { quarantine.count }
    public var outstandingRequests: Int { outstanding.values.reduce(0) { $0 + $1.count } }
    /// The number the range's chain needs next (nil if the range is not active).
    public func nextNeeded(in id: SyncRangeID) -> UInt64? { ranges.first { $0.id == id }?.next }

    // MARK: Inputs

    /// Starts syncing the blocks strictly between `start` (the local head; an empty hash means
    /// "do not check that the chain connects to it") and `end` (the trusted target). A request
    /// identical to an active range returns that range.
    public mutating func requestRange(start: RollupConfig.BlockID, end: SyncTarget,
                                      now: Duration) throws(SyncSchedulerError) -> (id: SyncRangeID, actions: [SyncAction]) {
        guard end.number > start.number else { throw .emptyRange(start: start.number, end: end.number) }
        guard end.hash.count == 32 else { throw .invalidHash(field: "end.hash", length: end.hash.count) }
        guard end.parentHash.count == 32 else { throw .invalidHash(field: "end.parentHash", length: end.parentHash.count) }
        guard start.hash.isEmpty || start.hash.count == 32 else { throw .invalidHash(field: "start.hash", length: start.hash.count) }
        let blocks = end.number - start.number - 1
        guard blocks <= UInt64(config.maxRangeLength) else { throw .rangeTooLong(blocks: blocks, max: config.maxRangeLength) }
        if let same = ranges.first(where: { $0.start == start && $0.end == end }) {
            return (same.id, step(now: now))
        }
        guard ranges.count < config.maxActiveRanges else { throw .tooManyRanges(max: config.maxActiveRanges) }

        lastRangeID += 1
        let id = SyncRangeID(rawValue: lastRangeID)
        trusted.insert(end.hash, number: end.number)
        trusted.insert(end.parentHash, number: end.number - 1)
        ranges.append(RangeState(id: id, start: start, end: end, next: end.number - 1,
                                 expected: end.parentHash, lastProgress: now))
        var out: [SyncAction] = []
        judge(number: end.number - 1, now: now, &out)
        advanceRanges(now: now, &out)
        out += step(now: now)
        return (id, out)
    }

    /// Stops a range: nothing more is delivered for it. Outstanding requests run to completion
    /// (their blocks may serve a later range). Returns false for an unknown id.
    @discardableResult
    public mutating func cancel(_ id: SyncRangeID) -> Bool {
        guard let i = ranges.firstIndex(where: { $0.id == id }) else { return false }
        ranges.remove(at: i)
        collectPromoted()
        return true
    }

    /// A peer connected, or its protocols or static flag changed (call again to update).
    public mutating func peerConnected(_ peer: PeerID, supportsProtocol: Bool, isStatic: Bool,
                                       now: Duration) -> [SyncAction] {
        if peers[peer] != nil {
            peers[peer]?.supportsProtocol = supportsProtocol
            peers[peer]?.isStatic = isStatic
        } else {
            guard peers.count < config.maxPeers else { return [] }
            peers[peer] = PeerState(supportsProtocol: supportsProtocol, isStatic: isStatic,
                                    bucket: TokenBucket(rate: config.peerRate, burst: config.peerBurst),
                                    skip: LRUCache(capacity: config.maxSkippedNumbersPerPeer))
            peerOrder.append(peer)
        }
        return step(now: now)
    }

    /// The peer has no connection left. Its outstanding requests are re-issued elsewhere, without
    /// penalty.
    public mutating func peerDisconnected(_ peer: PeerID, now: Duration) -> [SyncAction] {
        guard let state = peers.removeValue(forKey: peer) else { return [] }
        peerOrder.removeAll { $0 == peer }
        for n in state.inFlight.keys { dropOutstanding(peer: peer, number: n) }
        return step(now: now)
    }

    /// Time passed: expire overdue requests, re-issue slow ones, detect stalls, send what the rate
    /// limits now allow.
    public mutating func tick(now: Duration) -> [SyncAction] { step(now: now) }

    /// The outcome of a `.sendRequest`. A success must be decoded and verified (`ResponseDecoder`);
    /// the number is checked again here. Reports for requests that are not outstanding (already
    /// timed out, unsolicited) are ignored.
    public mutating func responseReceived(peer: PeerID, number: UInt64,
                                          result: Result<ExecutionPayloadEnvelope, PayloadByNumberError>,
                                          now: Duration) -> [SyncAction] {
        switch result {
        case .failure(let error):
            return requestFailed(peer: peer, number: number, failure: .response(error), now: now)
        case .success(let envelope):
            guard envelope.payload.blockNumber == number else {
                let wrong = PayloadByNumberError.wrongBlockNumber(expected: number, got: envelope.payload.blockNumber)
                return requestFailed(peer: peer, number: number, failure: .response(wrong), now: now)
            }
            guard takeOutstanding(peer: peer, number: number) else { return [] }
            var out: [SyncAction] = []
            stats.validResponses += 1
            out.append(.scoreUpdate(peer: peer, .validResponse))
            peers[peer]?.consecutiveFailures = 0
            accept(envelope, from: peer, now: now, &out)
            out += step(now: now)
            return out
        }
    }

    public mutating func requestTimedOut(peer: PeerID, number: UInt64, now: Duration) -> [SyncAction] {
        requestFailed(peer: peer, number: number, failure: .timeout, now: now)
    }

    /// A request produced no block.
    public mutating func requestFailed(peer: PeerID, number: UInt64, failure: SyncRequestFailure,
                                       now: Duration) -> [SyncAction] {
        guard takeOutstanding(peer: peer, number: number) else { return [] }
        var out: [SyncAction] = []
        fail(peer: peer, number: number, failure: failure, now: now, &out)
        out += step(now: now)
        return out
    }

    // MARK: Results

    /// A verified block from `peer`: promote it, quarantine it, or reject it.
    private mutating func accept(_ envelope: ExecutionPayloadEnvelope, from peer: PeerID, now: Duration,
                                 _ out: inout [SyncAction]) {
        let n = envelope.payload.blockNumber
        let hash = envelope.payload.blockHash
        if promoted[hash] != nil || quarantine.contains(hash) { return }   // a duplicate (hedged request)
        if trusted.contains(hash) {
            guard ranges.contains(where: { $0.covers(n) && n <= $0.next }) else { return }
        } else if provenWrong(number: n, hash: hash) {
            reject(peer: peer, number: n, now: now, &out)
            return
        }
        if let evicted = quarantine.insert(Quarantine.Entry(envelope: envelope, peer: peer)) {
            stats.quarantineEvictions += 1
            // Buffer pressure alone costs the peer nothing (#11779); a proven-wrong block does.
            if !trusted.contains(evicted.hash), provenWrong(number: evicted.number, hash: evicted.hash) {
                reject(peer: evicted.peer, number: evicted.number, now: now, &out)
            }
        }
        advanceRanges(now: now, &out)
    }

    /// True when a trusted hash is known at `number`, `hash` is not one of them, and no active
    /// range still has `number` undetermined (it might be on that range's chain).
    private func provenWrong(number: UInt64, hash: [UInt8]) -> Bool {
        let known = trusted.hashes(at: number)
        guard !known.isEmpty, !known.contains(hash) else { return false }
        return !ranges.contains { $0.start.number < number && number < $0.next }
    }

    /// A payload from `peer` is not on the trusted chain: −20, and the peer backs off.
    private mutating func reject(peer: PeerID, number: UInt64, now: Duration, _ out: inout [SyncAction]) {
        stats.rejectedPayloads += 1
        out.append(.scoreUpdate(peer: peer, .rejectedPayload))
        guard peers[peer] != nil else { return }
        backOff(peer, now: now)
        peers[peer]?.skip.set(number, Skip(until: now + config.notFoundRetryAfter, notFound: false))
    }

    /// Rejects quarantined blocks at `number` that are proven wrong.
    private mutating func judge(number: UInt64, now: Duration, _ out: inout [SyncAction]) {
        for hash in quarantine.hashes(at: number) where !trusted.contains(hash) && provenWrong(number: number, hash: hash) {
            if let entry = quarantine.remove(hash) { reject(peer: entry.peer, number: number, now: now, &out) }
        }
    }

    /// Walks every range's chain down through promoted and quarantined blocks; completes ranges
    /// that reach their start.
    private mutating func advanceRanges(now: Duration, _ out: inout [SyncAction]) {
        var i = 0
        while i < ranges.count {
            let before = ranges[i].next
            while ranges[i].next > ranges[i].start.number {
                let expected = ranges[i].expected
                let envelope: ExecutionPayloadEnvelope
                if let p = promoted[expected] {
                    envelope = p
                } else if let q = quarantine.entry(expected) {
                    envelope = q.envelope
                } else {
                    break
                }
                guard envelope.payload.blockNumber == ranges[i].next else { break }  // a hash commits to its number
                quarantine.remove(expected)
                promoted[expected] = envelope
                ranges[i].next -= 1
                ranges[i].expected = envelope.payload.parentHash
                trusted.insert(envelope.payload.parentHash, number: ranges[i].next)
            }
            let after = ranges[i].next
            if after != before {
                ranges[i].lastProgress = now
                ranges[i].reportedNotFound = nil
                for n in after...before { judge(number: n, now: now, &out) }
            }
            if ranges[i].next == ranges[i].start.number {
                complete(rangeAt: i, now: now, &out)
            } else {
                i += 1
            }
        }
    }

    /// Delivers a range that reached its start (or reports that it does not connect) and removes it.
    private mutating func complete(rangeAt i: Int, now: Duration, _ out: inout [SyncAction]) {
        let r = ranges.remove(at: i)
        if !r.start.hash.isEmpty && r.expected != r.start.hash {
            out.append(.rangeStalled(r.id, .doesNotConnect(expected: r.start.hash, got: r.expected)))
        } else {
            var chain: [ExecutionPayloadEnvelope] = []
            chain.reserveCapacity(Int(r.end.number - r.start.number - 1))
            var hash = r.end.parentHash
            while let block = promoted[hash], block.payload.blockNumber > r.start.number {
                chain.append(block)
                hash = block.payload.parentHash
            }
            for block in chain.reversed() { out.append(.deliver(block)) }
            stats.delivered += chain.count
            stats.rangesCompleted += 1
            out.append(.rangeComplete(r.id))
        }
        // Judge what is left in quarantine for this span, then drop blocks no range needs.
        if r.end.number - r.start.number > 1 {
            for n in (r.start.number + 1)..<r.end.number {
                for hash in quarantine.hashes(at: n) {
                    if trusted.contains(hash) {
                        if !ranges.contains(where: { $0.covers(n) && n <= $0.next }) { quarantine.remove(hash) }
                    } else if provenWrong(number: n, hash: hash), let entry = quarantine.remove(hash) {
                        reject(peer: entry.peer, number: n, now: now, &out)
                    }
                }
            }
        }
        collectPromoted()
    }

    /// Drops promoted blocks that no active range covers.
    private mutating func collectPromoted() {
        let keep = ranges
        promoted = promoted.filter { _, block in keep.contains { $0.covers(block.payload.blockNumber) } }
    }

    // MARK: Failures

    private mutating func fail(peer: PeerID, number: UInt64, failure: SyncRequestFailure, now: Duration,
                               _ out: inout [SyncAction]) {
        switch failure {
        case .response(let e) where e.isNotFound:
            stats.notFoundResponses += 1
            peers[peer]?.skip.set(number, Skip(until: now + config.notFoundRetryAfter, notFound: true))
        case .protocolNotSupported:
            peers[peer]?.supportsProtocol = false
        default:
            if failure == .timeout { stats.timeouts += 1 }
            stats.failedResponses += 1
            out.append(.scoreUpdate(peer: peer, .errorResponse))
            guard peers[peer] != nil else { return }
            backOff(peer, now: now)
            let until = peers[peer]?.backoffUntil ?? now
            peers[peer]?.skip.set(number, Skip(until: until, notFound: false))
        }
    }

    private mutating func backOff(_ peer: PeerID, now: Duration) {
        guard var s = peers[peer] else { return }
        s.consecutiveFailures += 1
        let exponent = min(s.consecutiveFailures - 1, 30)
        let delay = min(config.backoffBase * (1 << exponent), config.backoffMax)
        s.backoffUntil = max(s.backoffUntil, now + delay)
        peers[peer] = s
    }

    // MARK: Outstanding requests

    /// Removes the outstanding request (`peer`, `number`); false if there was none.
    private mutating func takeOutstanding(peer: PeerID, number: UInt64) -> Bool {
        guard peers[peer]?.inFlight.removeValue(forKey: number) != nil else { return false }
        dropOutstanding(peer: peer, number: number)
        return true
    }

    private mutating func dropOutstanding(peer: PeerID, number: UInt64) {
        guard var list = outstanding[number] else { return }
        list.removeAll { $0.peer == peer }
        outstanding[number] = list.isEmpty ? nil : list
    }

    // MARK: Scheduling

    private mutating func step(now: Duration) -> [SyncAction] {
        var out: [SyncAction] = []
        expireOverdue(now: now, &out)
        detectStalls(now: now, &out)
        let wake = schedule(now: now, &out)
        nextDeadline = deadline(now: now, wake: wake)
        return out
    }

    /// Requests the host never reported within `requestDeadline` count as timeouts.
    private mutating func expireOverdue(now: Duration, _ out: inout [SyncAction]) {
        var overdue: [(UInt64, PeerID)] = []
        for (n, list) in outstanding {
            for o in list where now - o.sentAt >= config.requestDeadline { overdue.append((n, o.peer)) }
        }
        overdue.sort { $0.0 != $1.0 ? $0.0 > $1.0 : $0.1 < $1.1 }
        for (n, peer) in overdue where takeOutstanding(peer: peer, number: n) {
            fail(peer: peer, number: n, failure: .timeout, now: now, &out)
        }
    }

    private mutating func detectStalls(now: Duration, _ out: inout [SyncAction]) {
        for i in ranges.indices where now - ranges[i].lastProgress >= config.stallTimeout && ranges[i].next > ranges[i].start.number {
            let r = ranges[i]
            out.append(.rangeStalled(r.id, .noProgress(number: r.next)))
            ranges[i].lastProgress = now
            ranges[i].reportedNotFound = nil
            // Ask again everyone who was skipped for this window.
            let low = windowLow(r)
            for peer in peerOrder {
                for n in low...r.next { peers[peer]?.skip.remove(n) }
            }
        }
    }

    private func windowLow(_ r: RangeState) -> UInt64 {
        let lookahead = UInt64(config.lookahead)
        let low = r.next >= lookahead ? r.next - lookahead + 1 : 0
        return max(r.start.number + 1, low)
    }

    /// Numbers to request now, highest first, with whether each would be a second request.
    private func neededNumbers(now: Duration) -> [(number: UInt64, hedge: Bool)] {
        var seen = Set<UInt64>()
        var needed: [(number: UInt64, hedge: Bool)] = []
        for r in ranges where r.next > r.start.number {
            var n = r.next
            let low = windowLow(r)
            while n >= low {
                if seen.insert(n).inserted, n == r.next || !quarantine.hasBlock(at: n) {
                    let list = outstanding[n] ?? []
                    if list.isEmpty {
                        needed.append((n, false))
                    } else if list.count < config.maxRequestsPerNumber,
                              list.allSatisfy({ now - $0.sentAt >= config.hedgeAfter }) {
                        needed.append((n, true))
                    }
                }
                if n == low { break }
                n -= 1
            }
        }
        if ranges.count > 1 { needed.sort { $0.number > $1.number } }
        return needed
    }

    /// Outstanding requests of `s` younger than `hedgeAfter`; older ones (a lost datagram, a slow
    /// peer) free their slot for new work, up to `maxSlowRequestsPerPeer` of them.
    private func freshRequests(_ s: PeerState, now: Duration) -> Int {
        s.inFlight.values.reduce(0) { $0 + (now - $1 < config.hedgeAfter ? 1 : 0) }
    }

    /// When `s` can take another request: nil while its slots are full (a response or a request
    /// turning slow frees one), else the end of its back-off or its next token.
    private func readyTime(_ s: PeerState, now: Duration) -> Duration? {
        guard s.inFlight.count < config.maxInFlightPerPeer + config.maxSlowRequestsPerPeer,
              freshRequests(s, now: now) < config.maxInFlightPerPeer,
              let refill = s.bucket.timeUntilAvailable(now: now) else { return nil }
        return max(s.backoffUntil, now + refill)
    }

    private func isUsable(_ s: PeerState) -> Bool {
        s.supportsProtocol && (!config.onlyRequestFromStatic || s.isStatic)
    }

    /// Assigns needed numbers to peers within the rate limits. Returns the earliest time a number
    /// that is waiting now could be assigned.
    private mutating func schedule(now: Duration, _ out: inout [SyncAction]) -> Duration? {
        guard !ranges.isEmpty else { return nil }
        let usable = peerOrder.filter { peers[$0].map(isUsable) ?? false }
        guard !usable.isEmpty else {
            for i in ranges.indices where !ranges[i].reportedNoPeers {
                ranges[i].reportedNoPeers = true
                out.append(.rangeStalled(ranges[i].id, .noPeers))
            }
            return nil
        }
        for i in ranges.indices { ranges[i].reportedNoPeers = false }

        var wake: Duration?
        func wakeAt(_ t: Duration) { if t > now { wake = min(wake ?? t, t) } }
        // Peers that can take a request now, whatever the number (capacity, back-off, tokens).
        var available: [(peer: PeerID, index: Int)] = []
        for (index, peer) in usable.enumerated() {
            guard let s = peers[peer] else { continue }
            if let ready = readyTime(s, now: now) {
                if ready > now { wakeAt(ready) } else { available.append((peer, index)) }
            }
        }
        for (n, hedge) in neededNumbers(now: now) {
            guard !available.isEmpty else { break }
            guard global.tokens(at: now) >= 1 else {
                if let t = global.timeUntilAvailable(now: now) { wakeAt(now + t) }
                break
            }
            var best: (slot: Int, rank: (Int, Int, Duration, Int))?
            for (slot, candidate) in available.enumerated() {
                guard let s = peers[candidate.peer], s.inFlight[n] == nil else { continue }
                if let skip = s.skip.peek(n), skip.until > now { wakeAt(skip.until); continue }
                let fresh = freshRequests(s, now: now)
                let slow = s.inFlight.count - fresh
                if hedge && slow > 0 { continue }   // re-issuing to a peer that is slow itself is no help
                // Prefer peers without slow requests, then the least busy, then the least recently
                // used (failing peers are held back by their back-off, not starved afterwards).
                let rank = (slow, fresh, s.lastAssigned, candidate.index)
                if best.map({ rank < $0.rank }) ?? true { best = (slot, rank) }
            }
            guard let slot = best?.slot else { continue }
            let chosen = available[slot].peer
            _ = global.allow(now: now)
            _ = peers[chosen]?.bucket.allow(now: now)
            peers[chosen]?.inFlight[n] = now
            peers[chosen]?.lastAssigned = now
            outstanding[n, default: []].append(Outstanding(peer: chosen, sentAt: now))
            stats.requestsSent += 1
            if hedge { stats.hedgedRequests += 1 }
            out.append(.sendRequest(peer: chosen, number: n))
            if let ready = peers[chosen].flatMap({ readyTime($0, now: now) }) {
                if ready <= now { continue }
                wakeAt(ready)
            }
            available.remove(at: slot)
        }

        // Every usable peer said "not found" for the block the chain needs next.
        for i in ranges.indices where ranges[i].next > ranges[i].start.number {
            let n = ranges[i].next
            guard outstanding[n] == nil, ranges[i].reportedNotFound != n else { continue }
            let allSaidNo = usable.allSatisfy { peer in
                guard let skip = peers[peer]?.skip.peek(n) else { return false }
                return skip.notFound && skip.until > now
            }
            if allSaidNo {
                ranges[i].reportedNotFound = n
                out.append(.rangeStalled(ranges[i].id, .notFound(number: n)))
            }
        }
        return wake
    }

    private func deadline(now: Duration, wake: Duration?) -> Duration? {
        guard !ranges.isEmpty || !outstanding.isEmpty else { return nil }
        var d = wake
        func consider(_ t: Duration) { if t > now { d = min(d ?? t, t) } }
        for list in outstanding.values {
            for o in list {
                consider(o.sentAt + config.requestDeadline)
                consider(o.sentAt + config.hedgeAfter)   // hedge, or a slot freed
            }
        }
        for r in ranges { consider(r.lastProgress + config.stallTimeout) }
        return d
    }
}
