import Testing
import P2PCore
import Rollup
@testable import ReqResp

/// The sync client core (spec §5.3 and the [project] decisions of §5.4): ordering, dedupe,
/// not-found handling, retry and back-off, quarantine without self-inflicted penalties, wrong-chain
/// blocks, rate limits as waits, stalls, cancellation, static-only. The scheduler trusts the host
/// to have verified each block's hash (`ResponseDecoder`), so blocks here carry synthetic hashes.
@Suite struct SyncSchedulerTests {
    // MARK: Fixtures

    /// A synthetic hash for block `n` of chain `chain`.
    private static func hash(_ n: UInt64, chain: UInt8) -> [UInt8] {
        var h = [UInt8](repeating: chain, count: 32)
        for i in 0..<8 { h[24 + i] = UInt8(truncatingIfNeeded: n >> (8 * UInt64(7 - i))) }
        h[0] = 0xb1
        return h
    }

    /// Block `n` of `chain`; blocks below `forkAt` belong to chain 0 (the chains share them).
    private static func block(_ n: UInt64, chain: UInt8 = 0, forkAt: UInt64 = 0) -> ExecutionPayloadEnvelope {
        func id(_ m: UInt64) -> UInt8 { m >= forkAt ? chain : 0 }
        let zero32 = [UInt8](repeating: 0, count: 32)
        let payload = ExecutionPayload(
            parentHash: hash(n &- 1, chain: id(n &- 1)), feeRecipient: [UInt8](repeating: 0, count: 20), stateRoot: zero32,
            receiptsRoot: zero32, logsBloom: [UInt8](repeating: 0, count: 256), prevRandao: zero32, blockNumber: n,
            gasLimit: 30_000_000, gasUsed: 0, timestamp: 1000 + 2 * n, extraData: [], baseFeePerGas: .zero,
            blockHash: hash(n, chain: id(n)), transactions: [], withdrawals: [], blobGasUsed: 0, excessBlobGas: 0,
            withdrawalsRoot: zero32)
        return ExecutionPayloadEnvelope(payload: payload, parentBeaconBlockRoot: zero32)
    }

    private static func target(_ n: UInt64, chain: UInt8 = 0) -> SyncTarget {
        SyncTarget(number: n, hash: hash(n, chain: chain), parentHash: hash(n - 1, chain: chain))
    }

    private static func start(_ n: UInt64) -> RollupConfig.BlockID { .init(hash: hash(n, chain: 0), number: n) }

    private static func peer(_ i: Int) throws -> PeerID { try PeerID(bytes: [0x00, 0x02, 0x07, UInt8(i)]) }

    private enum Reply {
        case block(ExecutionPayloadEnvelope)
        case fail(SyncRequestFailure)
        /// Leave the request unanswered for now.
        case hold
    }

    /// A host that performs the scheduler's actions synchronously and records what happened.
    private struct Host {
        var scheduler: SyncScheduler
        var now: Duration = .seconds(100)
        var pending: [(peer: PeerID, number: UInt64)] = []
        var sent: [(peer: PeerID, number: UInt64, at: Duration)] = []
        var delivered: [UInt64] = []
        var deliveredBlocks: [ExecutionPayloadEnvelope] = []
        var scores: [(peer: PeerID, delta: ApplicationScoreDelta)] = []
        var completed: [SyncRangeID] = []
        var stalls: [(id: SyncRangeID, reason: SyncStallReason)] = []

        init(_ config: SyncScheduler.Config = .init()) { scheduler = SyncScheduler(config: config) }

        mutating func absorb(_ actions: [SyncAction]) {
            for a in actions {
                switch a {
                case .sendRequest(let p, let n):
                    pending.append((p, n))
                    sent.append((p, n, now))
                case .deliver(let e):
                    delivered.append(e.payload.blockNumber)
                    deliveredBlocks.append(e)
                case .scoreUpdate(let p, let d): scores.append((p, d))
                case .rangeComplete(let id): completed.append(id)
                case .rangeStalled(let id, let r): stalls.append((id, r))
                }
            }
        }

        mutating func connect(_ p: PeerID, supports: Bool = true, isStatic: Bool = false) {
            absorb(scheduler.peerConnected(p, supportsProtocol: supports, isStatic: isStatic, now: now))
        }

        mutating func request(start: UInt64, end: UInt64, chain: UInt8 = 0) throws -> SyncRangeID {
            let (id, actions) = try scheduler.requestRange(start: SyncSchedulerTests.start(start),
                                                           end: SyncSchedulerTests.target(end, chain: chain), now: now)
            absorb(actions)
            return id
        }

        mutating func answer(_ p: PeerID, _ n: UInt64, _ reply: Reply) {
            pending.removeAll { $0.peer == p && $0.number == n }
            switch reply {
            case .block(let e): absorb(scheduler.responseReceived(peer: p, number: n, result: .success(e), now: now))
            case .fail(.timeout): absorb(scheduler.requestTimedOut(peer: p, number: n, now: now))
            case .fail(let f): absorb(scheduler.requestFailed(peer: p, number: n, failure: f, now: now))
            case .hold: pending.append((p, n))
            }
        }

        /// Answers pending requests with `policy` (oldest first) and ticks at each deadline until
        /// no range is active, nothing can happen any more, or `limit` virtual time passed.
        mutating func run(for limit: Duration = .seconds(600), _ policy: (PeerID, UInt64, Duration) -> Reply) {
            let end = now + limit
            var rounds = 0
            while !scheduler.activeRanges.isEmpty && now < end && rounds < 100_000 {
                rounds += 1
                let batch = pending
                pending.removeAll()
                var answered = false
                for (p, n) in batch {
                    let r = policy(p, n, now)
                    if case .hold = r { pending.append((p, n)) } else { answered = true; answer(p, n, r) }
                }
                if answered { continue }
                guard let d = scheduler.nextDeadline else { break }
                now = max(now, d)
                absorb(scheduler.tick(now: now))
            }
        }

        func count(_ delta: ApplicationScoreDelta, for p: PeerID? = nil) -> Int {
            scores.filter { $0.delta == delta && (p == nil || $0.peer == p) }.count
        }
    }

    private static func honest(_ p: PeerID, _ n: UInt64, _ now: Duration) -> Reply { .block(block(n)) }

    // MARK: Tests

    @Test func fetchesNewestFirstAndDeliversAscendingWithoutGaps() throws {
        var host = Host()
        let a = try Self.peer(1)
        host.connect(a)
        let id = try host.request(start: 100, end: 121)
        // Two in flight at a time per peer, newest first.
        #expect(host.pending.map(\.number) == [120, 119])
        host.run(Self.honest)
        #expect(host.sent.map(\.number) == Array((101...120).reversed()))
        #expect(host.delivered == Array(101...120))
        #expect(host.completed == [id])
        #expect(host.count(.validResponse, for: a) == 20)
        #expect(host.scores.count == 20)
        #expect(host.scheduler.activeRanges.isEmpty)
        #expect(host.scheduler.quarantineCount == 0)
        #expect(host.scheduler.nextDeadline == nil)
        // Each delivered block is the parent of the next.
        for (x, y) in zip(host.deliveredBlocks, host.deliveredBlocks.dropFirst()) {
            #expect(y.payload.parentHash == x.payload.blockHash)
        }
    }

    @Test func eachNumberIsRequestedOnceAcrossPeersAndRangesDedupe() throws {
        var host = Host()
        let peers = try (1...4).map(Self.peer)
        for p in peers { host.connect(p) }
        let id = try host.request(start: 0, end: 41)
        // Eight requests in parallel over four peers, all distinct.
        #expect(host.pending.count == 8)
        #expect(Set(host.pending.map(\.peer)).count == 4)
        // The same range again is the same range; nothing new is sent.
        let again = try host.request(start: 0, end: 41)
        #expect(again == id)
        #expect(host.pending.count == 8)
        host.run(Self.honest)
        #expect(host.sent.count == 40)
        #expect(Set(host.sent.map(\.number)).count == 40)
        #expect(host.delivered == Array(1...40))
    }

    @Test func notFoundIsNotPenalisedAndOtherPeersAreAsked() throws {
        var host = Host()
        let empty = try Self.peer(1), full = try Self.peer(2)
        host.connect(empty)
        host.connect(full)
        _ = try host.request(start: 10, end: 31)
        host.run { p, n, _ in p == empty ? .fail(.response(.resultCode(1))) : .block(Self.block(n)) }
        #expect(host.delivered == Array(11...30))
        #expect(host.scores.allSatisfy { $0.peer == full && $0.delta == .validResponse })
        // The empty peer was asked each number at most once (it is skipped for that number).
        let askedEmpty = host.sent.filter { $0.peer == empty }.map(\.number)
        #expect(askedEmpty.count == Set(askedEmpty).count)
        #expect(host.scheduler.stats.notFoundResponses == askedEmpty.count)
        #expect(host.stalls.isEmpty)
    }

    @Test func notFoundEverywhereStallsButDoesNotCancel() throws {
        var host = Host()
        let a = try Self.peer(1), b = try Self.peer(2)
        host.connect(a)
        host.connect(b)
        let id = try host.request(start: 10, end: 15)
        var available = false
        // Nobody has the blocks at first; after a minute they appear.
        let t0 = host.now
        host.run { _, n, now in
            if now >= t0 + .seconds(60) { available = true }
            return available ? .block(Self.block(n)) : .fail(.response(.resultCode(1)))
        }
        #expect(host.stalls.contains { $0.id == id && $0.reason == .notFound(number: 14) })
        #expect(host.delivered == [11, 12, 13, 14])
        #expect(host.completed == [id])
        #expect(host.count(.errorResponse) == 0)
    }

    @Test func failuresRetryOnAnotherPeerAndBackOffExponentially() throws {
        var host = Host()
        let bad = try Self.peer(1), good = try Self.peer(2)
        host.connect(bad)
        host.connect(good)
        _ = try host.request(start: 0, end: 3)
        // bad gets 2, good gets 1 (fewest in flight, then connection order).
        #expect(host.pending.map(\.peer) == [bad, good])
        #expect(host.pending.map(\.number) == [2, 1])
        let failedAt = host.now
        host.answer(bad, 2, .fail(.response(.resultCode(3))))
        // Retried at once, on the other peer.
        #expect(host.pending.last.map { $0.peer == good && $0.number == 2 } == true)
        #expect(host.count(.errorResponse, for: bad) == 1)
        host.answer(good, 1, .block(Self.block(1)))
        host.answer(good, 2, .block(Self.block(2)))
        #expect(host.delivered == [1, 2])

        // One peer that fails repeatedly: retries wait 1 s, 2 s, 4 s (no other peer to use).
        var solo = Host()
        solo.connect(bad)
        _ = try solo.request(start: 0, end: 2)
        var failures = 0
        solo.run { _, n, _ in
            failures += 1
            return failures <= 3 ? .fail(.timeout) : .block(Self.block(n))
        }
        #expect(solo.delivered == [1])
        let times = solo.sent.map(\.at)
        #expect(times.count == 4)
        #expect(times[1] - times[0] == .seconds(1))
        #expect(times[2] - times[1] == .seconds(2))
        #expect(times[3] - times[2] == .seconds(4))
        #expect(solo.count(.errorResponse) == 3)
        #expect(solo.scheduler.stats.timeouts == 3)
        _ = failedAt
    }

    @Test func rateLimitWaitsAreNotErrors() throws {
        var host = Host()
        let a = try Self.peer(1)
        host.connect(a)
        let t0 = host.now
        _ = try host.request(start: 0, end: 101)
        host.run(Self.honest)
        #expect(host.delivered == Array(1...100))
        #expect(host.count(.errorResponse) == 0)
        // Burst of 15, then one request every 250 ms (4/s per peer).
        let times = host.sent.map { $0.at - t0 }
        #expect(times.prefix(15).allSatisfy { $0 == .zero })
        #expect(times[15] == .milliseconds(250))
        #expect(times[16] == .milliseconds(500))
        #expect(times.last == .milliseconds(250 * 85))

        // Many peers: the global limiter (burst 40, then 20/s) is the cap.
        var wide = Host()
        for i in 1...10 { wide.connect(try Self.peer(i)) }
        let w0 = wide.now
        _ = try wide.request(start: 0, end: 201)
        wide.run(Self.honest)
        #expect(wide.delivered.count == 200)
        let wt = wide.sent.map { $0.at - w0 }
        #expect(wt.filter { $0 == .zero }.count == 40)
        #expect(wt.last == .milliseconds(50 * 160))
    }

    @Test func quarantineEvictionUnderOwnBufferPressureIsNotPenalised() throws {
        var config = SyncScheduler.Config()
        config.quarantineCapacity = 3
        config.lookahead = 12
        config.maxInFlightPerPeer = 6
        var host = Host(config)
        let peers = try (1...3).map(Self.peer)
        for p in peers { host.connect(p) }
        let id = try host.request(start: 0, end: 31)
        // Answer the lowest numbers first and the one the chain needs last: the quarantine
        // overflows with perfectly good blocks.
        var rounds = 0
        while !host.scheduler.activeRanges.isEmpty && rounds < 1000 {
            rounds += 1
            let next = host.scheduler.nextNeeded(in: id)
            let order = host.pending.sorted { ($0.number == next ? 1 : 0, $0.number) < ($1.number == next ? 1 : 0, $1.number) }
            guard let (p, n) = order.first else {
                guard let d = host.scheduler.nextDeadline else { break }
                host.now = d
                host.absorb(host.scheduler.tick(now: host.now))
                continue
            }
            host.answer(p, n, .block(Self.block(n)))
        }
        #expect(host.delivered == Array(1...30))
        #expect(host.scheduler.stats.quarantineEvictions > 0)
        #expect(host.count(.rejectedPayload) == 0)
        #expect(host.count(.errorResponse) == 0)
        #expect(host.scheduler.quarantineCount <= 3)
    }

    @Test func wrongChainBlockIsRejectedWhenProvenWrong() throws {
        var host = Host()
        let liar = try Self.peer(1), honest = try Self.peer(2)
        host.connect(liar)
        host.connect(honest)
        let id = try host.request(start: 0, end: 21)
        // The liar serves self-consistent blocks of another chain (chain 9, forked at block 1).
        host.run { p, n, _ in p == liar ? .block(Self.block(n, chain: 9, forkAt: 1)) : .block(Self.block(n)) }
        #expect(host.completed == [id])
        #expect(host.delivered == Array(1...20))
        #expect(host.deliveredBlocks.allSatisfy { $0.payload.blockHash == Self.hash($0.payload.blockNumber, chain: 0) })
        let rejected = host.count(.rejectedPayload, for: liar)
        #expect(rejected >= 1)
        #expect(host.count(.rejectedPayload, for: honest) == 0)
        #expect(host.scheduler.stats.rejectedPayloads == rejected)
        // Scored as op-node would: each response +0.5, each proven-wrong payload −20.
        var table = ApplicationScore(params: .opNode(blockTime: 2))
        for (p, d) in host.scores { table.record(d, for: p) }
        #expect(table.score(of: liar) < 0)
        #expect(table.score(of: honest) > 0)
    }

    @Test func lateWrongBlockForACompletedHeightIsRejectedAtOnce() throws {
        var host = Host()
        let a = try Self.peer(1), b = try Self.peer(2)
        host.connect(a)
        host.connect(b)
        _ = try host.request(start: 0, end: 3)
        // a holds 2; b answers 1. After the hedge delay, 2 is re-issued to b and answered.
        #expect(host.pending.map(\.number) == [2, 1])
        host.answer(b, 1, .block(Self.block(1)))
        host.now += .seconds(2)
        host.absorb(host.scheduler.tick(now: host.now))
        #expect(host.pending.contains { $0.peer == b && $0.number == 2 })
        #expect(host.scheduler.stats.hedgedRequests == 1)
        host.answer(b, 2, .block(Self.block(2)))
        #expect(host.delivered == [1, 2])
        // Then a's late answer arrives with a block from another chain: proven wrong, −20.
        host.answer(a, 2, .block(Self.block(2, chain: 5, forkAt: 2)))
        #expect(host.count(.validResponse, for: a) == 1)
        #expect(host.count(.rejectedPayload, for: a) == 1)
    }

    @Test func slowPeerIsHedgedAndTimedOutByTheBackstop() throws {
        var host = Host()
        let slow = try Self.peer(1), fast = try Self.peer(2)
        host.connect(slow)
        host.connect(fast)
        let t0 = host.now
        let id = try host.request(start: 0, end: 11)
        host.run { p, n, _ in p == slow ? .hold : .block(Self.block(n)) }
        #expect(host.completed == [id])
        #expect(host.delivered == Array(1...10))
        // Finished shortly after the 2 s hedge delay, not after a timeout.
        #expect(host.now - t0 <= .seconds(3))
        #expect(host.scheduler.stats.hedgedRequests >= 1)
        // The slow peer got two requests, then at most two more once the first were slow.
        let toSlow = host.sent.filter { $0.peer == slow }
        #expect(toSlow.count <= 4)
        #expect(toSlow.filter { $0.at == t0 }.count == 2)
        // The host never reports the slow requests: the core's deadline does (error −1 each).
        #expect(host.scheduler.outstandingRequests == toSlow.count)
        host.now = t0 + .seconds(33)
        host.absorb(host.scheduler.tick(now: host.now))
        #expect(host.scheduler.outstandingRequests == 0)
        #expect(host.count(.errorResponse, for: slow) == toSlow.count)
        #expect(host.scheduler.nextDeadline == nil)
    }

    @Test func noProgressIsReportedAndRecovered() throws {
        var config = SyncScheduler.Config()
        config.stallTimeout = .seconds(10)
        var host = Host(config)
        let a = try Self.peer(1)
        host.connect(a)
        let id = try host.request(start: 0, end: 4)
        let t0 = host.now
        host.run { _, n, now in now < t0 + .seconds(12) ? .hold : .block(Self.block(n)) }
        #expect(host.stalls.contains { $0.id == id && $0.reason == .noProgress(number: 3) })
        #expect(host.delivered == [1, 2, 3])
    }

    @Test func cancelledRangeDeliversNothing() throws {
        var host = Host()
        let a = try Self.peer(1)
        host.connect(a)
        let id = try host.request(start: 0, end: 6)
        let cancelled = host.scheduler.cancel(id)
        let again = host.scheduler.cancel(id)
        #expect(cancelled && !again)
        #expect(host.scheduler.activeRanges.isEmpty)
        // Outstanding answers are still credited but deliver nothing and trigger no new work.
        for (p, n) in host.pending { host.answer(p, n, .block(Self.block(n))) }
        #expect(host.delivered.isEmpty)
        #expect(host.completed.isEmpty)
        #expect(host.sent.count == 2)
        #expect(host.count(.validResponse) == 2)
        // A new range for the same target reuses nothing unsafe and completes.
        _ = try host.request(start: 0, end: 6)
        host.run(Self.honest)
        #expect(host.delivered == [1, 2, 3, 4, 5])
    }

    @Test func onlyStaticPeersAndOnlyPeersWithTheProtocolGetWork() throws {
        var config = SyncScheduler.Config()
        config.onlyRequestFromStatic = true
        var host = Host(config)
        let dynamic = try Self.peer(1), staticNoProto = try Self.peer(2), staticPeer = try Self.peer(3)
        host.connect(dynamic)
        host.connect(staticNoProto, supports: false, isStatic: true)
        let id = try host.request(start: 0, end: 6)
        #expect(host.pending.isEmpty)
        #expect(host.stalls.map(\.reason) == [.noPeers])
        host.connect(staticPeer, isStatic: true)
        host.run(Self.honest)
        #expect(host.completed == [id])
        #expect(Set(host.sent.map(\.peer)) == [staticPeer])
        // A peer found not to speak the protocol stops getting work, without penalty.
        var open = Host()
        let kona = try Self.peer(4), op = try Self.peer(5)
        open.connect(kona)
        open.connect(op)
        _ = try open.request(start: 0, end: 6)
        open.run { p, n, _ in p == kona ? .fail(.protocolNotSupported) : .block(Self.block(n)) }
        #expect(open.delivered == [1, 2, 3, 4, 5])
        // kona took two numbers in the first parallel round and nothing after saying "na".
        #expect(open.sent.filter { $0.peer == kona }.map(\.number) == [5, 3])
        #expect(open.count(.errorResponse) == 0)
    }

    @Test func disconnectReissuesWithoutPenalty() throws {
        var host = Host()
        let a = try Self.peer(1), b = try Self.peer(2)
        host.connect(a)
        _ = try host.request(start: 0, end: 4)
        #expect(host.pending.map(\.number) == [3, 2])
        host.connect(b)
        #expect(host.pending.map(\.number) == [3, 2, 1])
        host.absorb(host.scheduler.peerDisconnected(a, now: host.now))
        host.pending.removeAll { $0.peer == a }
        // a's numbers went to b (within b's in-flight bound, newest first).
        host.run(Self.honest)
        #expect(host.delivered == [1, 2, 3])
        #expect(host.scores.allSatisfy { $0.peer == b && $0.delta == .validResponse })
        // A late answer from the disconnected peer is ignored.
        let late = host.scheduler.responseReceived(peer: a, number: 3, result: .success(Self.block(3)), now: host.now)
        #expect(late.isEmpty)
    }

    @Test func chainThatDoesNotReachTheStartIsReported() throws {
        var host = Host()
        host.connect(try Self.peer(1))
        // Our head (block 3 of chain 0) is not an ancestor of chain 7's block 8.
        let id = try host.request(start: 3, end: 8, chain: 7)
        host.run { _, n, _ in .block(Self.block(n, chain: 7, forkAt: 2)) }
        #expect(host.delivered.isEmpty)
        #expect(host.stalls.first?.id == id)
        if case .doesNotConnect(let expected, let got)? = host.stalls.first?.reason {
            #expect(expected == Self.hash(3, chain: 0))
            #expect(got == Self.hash(3, chain: 7))
        } else {
            Issue.record("expected doesNotConnect, got \(host.stalls)")
        }
        #expect(host.scheduler.activeRanges.isEmpty)
    }

    @Test func wrongNumberAndUndecodableResponsesAreErrors() throws {
        var host = Host()
        let a = try Self.peer(1), b = try Self.peer(2)
        host.connect(a)
        host.connect(b)
        _ = try host.request(start: 0, end: 3)
        host.answer(a, 2, .block(Self.block(7)))
        host.answer(b, 1, .fail(.response(.invalidBlockHash)))
        #expect(host.count(.errorResponse, for: a) == 1)
        #expect(host.count(.errorResponse, for: b) == 1)
        host.run(Self.honest)
        #expect(host.delivered == [1, 2])
        // An unsolicited response changes nothing.
        let unsolicited = host.scheduler.responseReceived(peer: a, number: 9, result: .success(Self.block(9)), now: host.now)
        #expect(unsolicited.isEmpty)
    }

    @Test func invalidRangeRequestsAreTypedErrors() throws {
        var config = SyncScheduler.Config()
        config.maxRangeLength = 10
        config.maxActiveRanges = 1
        var s = SyncScheduler(config: config)
        let now = Duration.seconds(1)
        #expect(throws: SyncSchedulerError.emptyRange(start: 5, end: 5)) {
            _ = try s.requestRange(start: Self.start(5), end: Self.target(5), now: now)
        }
        #expect(throws: SyncSchedulerError.rangeTooLong(blocks: 11, max: 10)) {
            _ = try s.requestRange(start: Self.start(0), end: Self.target(12), now: now)
        }
        #expect(throws: SyncSchedulerError.invalidHash(field: "end.parentHash", length: 3)) {
            _ = try s.requestRange(start: Self.start(0), end: SyncTarget(number: 5, hash: Self.hash(5, chain: 0), parentHash: [1, 2, 3]), now: now)
        }
        _ = try s.requestRange(start: Self.start(0), end: Self.target(5), now: now)
        #expect(throws: SyncSchedulerError.tooManyRanges(max: 1)) {
            _ = try s.requestRange(start: Self.start(1), end: Self.target(5), now: now)
        }
        // Adjacent start and end: nothing to fetch, complete at once.
        var t = SyncScheduler()
        let (id, actions) = try t.requestRange(start: Self.start(4), end: Self.target(5), now: now)
        #expect(actions == [.rangeComplete(id)])
    }

    @Test func applicationScoreMatchesOpNode() throws {
        let params = ApplicationScore.Params.opNode(blockTime: 2)
        #expect(abs(params.decay - 0.9261187) < 1e-6)
        #expect(params.decayInterval == .seconds(2))
        #expect(ApplicationScore.Params.opNode(blockTime: 0).decayInterval == .seconds(2))
        var table = ApplicationScore(params: params)
        let a = try Self.peer(1), b = try Self.peer(2)
        for _ in 0..<30 { table.record(.validResponse, for: a) }
        #expect(table.score(of: a) == 5)                      // capped at 10 × 0.5
        for _ in 0..<30 { table.record(.errorResponse, for: b) }
        #expect(table.score(of: b) == -9)                     // capped at 9
        table.record(.rejectedPayload, for: b)
        #expect(table.score(of: b) == -29)
        // Decay per slot, connected peers only; small values drop to 0.
        table.tick(now: .seconds(0)) { _ in true }
        table.tick(now: .seconds(2)) { $0 == a }
        #expect(abs(table.score(of: a) - 5 * params.decay) < 1e-9)
        #expect(table.score(of: b) == -29)
        table.tick(now: .seconds(2 + 2 * 200)) { _ in true }
        #expect(table.score(of: a) == 0)
        #expect(table.score(of: b) == 0)
        #expect(table.counters(of: b) == ApplicationScore.Counters())
    }

    @Test func randomBehaviourNeverTrapsAndAlwaysCompletes() throws {
        for seed in UInt64(1)...12 {
            var rng = SplitMix(seed: seed)
            var config = SyncScheduler.Config()
            config.quarantineCapacity = Int(rng.next() % 8) + 2
            config.lookahead = Int(rng.next() % 20) + 1
            config.maxInFlightPerPeer = Int(rng.next() % 3) + 1
            var host = Host(config)
            let peers = try (1...5).map(Self.peer)
            for p in peers { host.connect(p) }
            let id = try host.request(start: 50, end: 50 + 2 + rng.next() % 60)
            host.run(for: .seconds(3600)) { p, n, _ in
                if p == peers[0] { return .block(Self.block(n)) }   // one peer is always honest
                switch rng.next() % 8 {
                case 0: return .fail(.timeout)
                case 1: return .fail(.response(.resultCode(1)))
                case 2: return .block(Self.block(n, chain: 3, forkAt: 50))
                case 3: return .block(Self.block(n &+ 1))
                case 4: return .hold
                case 5: return .fail(.stream("reset"))
                default: return .block(Self.block(n))
                }
            }
            #expect(host.completed == [id], "seed \(seed)")
            let expected = host.delivered.isEmpty ? [] : Array(host.delivered[0]...host.delivered[host.delivered.count - 1])
            #expect(host.delivered == expected && host.delivered.first == 51, "seed \(seed)")
            #expect(host.count(.rejectedPayload, for: peers[0]) == 0, "seed \(seed)")
            #expect(host.scheduler.quarantineCount <= config.quarantineCapacity)
        }
    }
}

private typealias SplitMix = P2PCore.SplitMix64
