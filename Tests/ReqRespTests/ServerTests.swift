import Testing
import P2PCore
import Rollup
@testable import ReqResp

/// The `payload_by_number` server core: result codes (spec §5.1), rate limits and throttling
/// (§5.2) with an injected clock, concurrency bounds, metrics.
@Suite struct ServerTests {
    /// Genesis block 100 at t = 1000 s, 2 s blocks: TargetBlockNumber(t) = 100 + (t − 1000) / 2.
    let config = RollupConfig.forTesting(chainID: 10, genesisTime: 1000, genesisNumber: 100, blockTime: 2)
    /// t = 1200 s: target block 200.
    let t0 = Duration.seconds(1200)

    private struct Store: PayloadSource {
        struct Broken: Error {}
        var blocks: [UInt64: ServedPayload] = [:]
        var failing: Set<UInt64> = []
        func payload(number: UInt64) throws -> ServedPayload? {
            if failing.contains(number) { throw Broken() }
            return blocks[number]
        }
    }

    private final class MetricsLog: PayloadByNumberServerMetrics, @unchecked Sendable {
        // @unchecked: only touched from the test's own thread.
        var events: [(UInt64?, PayloadByNumber.ResultCode, Duration)] = []
        func serverRequestCompleted(number: UInt64?, code: PayloadByNumber.ResultCode, duration: Duration) {
            events.append((number, code, duration))
        }
    }

    private func store() -> Store {
        var s = Store()
        for n in UInt64(100)...200 where n != 150 {
            s.blocks[n] = ServedPayload(version: 1, ssz: [UInt8](repeating: UInt8(truncatingIfNeeded: n), count: 64))
        }
        s.failing = [160]
        s.blocks[170] = ServedPayload(version: 7, ssz: [1, 2, 3])
        return s
    }

    /// Distinct peer ids (identity multihashes; the server never looks inside).
    private func peer(_ i: Int) throws -> PeerID { try PeerID(bytes: [0x00, 0x02, UInt8(i >> 8), UInt8(i & 0xff)]) }

    private func immediate(_ h: ServerRequestHandling) -> ServerResponse? {
        if case .respond(let r) = h.action { return r }
        return nil
    }

    @Test func resultCodesForEveryCase() throws {
        var server = PayloadByNumberServer(config: config, source: store())
        func ask(_ n: UInt64, from i: Int) throws -> ServerResponse? {
            let h = server.handleRequest(from: try peer(i), request: .success(PayloadByNumber.encodeRequest(n)), now: t0)
            server.finished(h.ticket, now: t0)
            return immediate(h)
        }
        // Success: 5-byte header raw, then the snappy framed SSZ.
        let ok = try #require(try ask(123, from: 1))
        #expect(ok.code == .success)
        #expect(ok.bytes == PayloadByNumber.encodeSuccess(version: 1, ssz: [UInt8](repeating: 123, count: 64)))
        #expect(Array(ok.bytes.prefix(5)) == [0, 1, 0, 0, 0])
        #expect(Array(ok.bytes[5..<15]) == SnappyFramed.streamIdentifier)
        // Genesis and the target itself are served; one either side is invalid (code 2).
        #expect(try ask(100, from: 2)?.code == .success)
        #expect(try ask(200, from: 3)?.code == .success)
        #expect(try ask(99, from: 4)?.bytes == [2])
        #expect(try ask(201, from: 5)?.bytes == [2])
        #expect(try ask(.max, from: 6)?.bytes == [2])
        // Not in the store: 1. Store failure or an unservable version: 3. Only the byte is sent.
        #expect(try ask(150, from: 7)?.bytes == [1])
        #expect(try ask(160, from: 8)?.bytes == [3])
        #expect(try ask(170, from: 9)?.bytes == [3])
        // A read error or a request that is not 8 bytes: 3.
        struct ReadFailed: Error {}
        let failed = server.handleRequest(from: try peer(10), request: .failure(ReadFailed()), now: t0)
        #expect(immediate(failed)?.bytes == [3])
        let short = server.handleRequest(from: try peer(11), request: .success([1, 2, 3, 4, 5, 6, 7]), now: t0)
        #expect(immediate(short)?.bytes == [3])
        let long = server.handleRequest(from: try peer(12), request: .success([UInt8](repeating: 0, count: 9)), now: t0)
        #expect(immediate(long)?.bytes == [3])
        #expect(server.stats.count(.success) == 3)
        #expect(server.stats.count(.invalidRequest) == 3)
        #expect(server.stats.count(.notFound) == 1)
        #expect(server.stats.count(.otherError) == 5)
        #expect(server.activeRequests == 0)
    }

    @Test func perPeerLimitThrottlesAfterTheBurst() throws {
        let metrics = MetricsLog()
        var server = PayloadByNumberServer(config: config, source: store(), metrics: metrics)
        let a = try peer(1)
        let req = Result<[UInt8], any Error>.success(PayloadByNumber.encodeRequest(180))
        // Burst 15: all immediate.
        for _ in 0..<15 {
            let h = server.handleRequest(from: a, request: req, now: t0)
            #expect(immediate(h)?.code == .success)
            server.finished(h.ticket, now: t0)
        }
        // 16th: wait one token at 4/s = 250 ms; 17th: 500 ms.
        let h16 = server.handleRequest(from: a, request: req, now: t0)
        #expect(h16.action == .respondAfter(.milliseconds(250)))
        let h17 = server.handleRequest(from: a, request: req, now: t0)
        #expect(h17.action == .respondAfter(.milliseconds(500)))
        #expect(server.activeRequests(for: a) == 2)
        // After the wait the answer is produced; the duration covers the wait and the write.
        let r16 = server.resume(h16.ticket, now: t0 + .milliseconds(250))
        #expect(r16.code == .success && r16.number == 180)
        server.finished(h16.ticket, now: t0 + .milliseconds(300))
        #expect(metrics.events.last?.2 == .milliseconds(300))
        #expect(metrics.events.last?.1 == .success)
        // A stream that dies while throttled counts as code 3 and frees its slot.
        server.finished(h17.ticket, now: t0 + .milliseconds(100), delivered: false)
        #expect(metrics.events.last?.1 == .otherError)
        #expect(server.activeRequests == 0)
        #expect(server.stats.throttled == 2)
        // Another peer is not throttled by a's limiter.
        let b = server.handleRequest(from: try peer(2), request: req, now: t0)
        #expect(immediate(b)?.code == .success)
    }

    @Test func globalLimitThrottlesAcrossPeers() throws {
        var server = PayloadByNumberServer(config: config, source: store())
        let req = Result<[UInt8], any Error>.success(PayloadByNumber.encodeRequest(180))
        // 40 requests from 40 peers (each peer's first): the global burst.
        for i in 0..<40 {
            let h = server.handleRequest(from: try peer(i), request: req, now: t0)
            #expect(immediate(h)?.code == .success)
            server.finished(h.ticket, now: t0)
        }
        // The 41st waits 1/20 s on the global limiter, the 42nd 2/20 s.
        let h41 = server.handleRequest(from: try peer(100), request: req, now: t0)
        #expect(h41.action == .respondAfter(.milliseconds(50)))
        let h42 = server.handleRequest(from: try peer(101), request: req, now: t0)
        #expect(h42.action == .respondAfter(.milliseconds(100)))
        // Later, the global bucket has refilled.
        let later = server.handleRequest(from: try peer(102), request: req, now: t0 + .seconds(10))
        #expect(immediate(later)?.code == .success)
    }

    @Test func waitBeyondMaxThrottleIsCode3AtOnce() throws {
        var options = PayloadByNumberServer.Options()
        options.maxConcurrentPerPeer = 1000
        options.maxConcurrentTotal = 1000
        options.globalBurst = 1000   // isolate the per-peer limiter
        var server = PayloadByNumberServer(config: config, source: store(), options: options)
        let a = try peer(1)
        let req = Result<[UInt8], any Error>.success(PayloadByNumber.encodeRequest(180))
        // 15 free, then 80 more up to exactly 20 s (4/s), then refusal.
        var last: ServerAction?
        for _ in 0..<95 { last = server.handleRequest(from: a, request: req, now: t0).action }
        #expect(last == .respondAfter(.seconds(20)))
        let refused = server.handleRequest(from: a, request: req, now: t0)
        #expect(immediate(refused)?.bytes == [3])
        #expect(server.stats.rateLimited == 1)
        // The refusal took no token: a second later four more fit in the budget again.
        let h = server.handleRequest(from: a, request: req, now: t0 + .seconds(1))
        #expect(h.action == .respondAfter(.milliseconds(19_250)))
    }

    @Test func rangeIsCheckedAfterTheWaitAsOpNodeDoes() throws {
        var s = store()
        s.blocks[201] = ServedPayload(version: 1, ssz: [9])
        var server = PayloadByNumberServer(config: config, source: s)
        let a = try peer(1)
        // Block 200 is the target at t0 (1200 s); block 201 may exist from 1202 s.
        let near = t0 + .milliseconds(1900)
        for _ in 0..<15 {
            server.finished(server.handleRequest(from: a, request: .success(PayloadByNumber.encodeRequest(180)), now: near).ticket, now: near)
        }
        let h = server.handleRequest(from: a, request: .success(PayloadByNumber.encodeRequest(201)), now: near)
        #expect(h.action == .respondAfter(.milliseconds(250)))
        // Answered at 1202.15 s, when block 201 is within TargetBlockNumber.
        let r = server.resume(h.ticket, now: near + .milliseconds(250))
        #expect(r.code == .success)
        // Without the wait it would have been invalid.
        let other = server.handleRequest(from: try peer(2), request: .success(PayloadByNumber.encodeRequest(201)), now: near)
        #expect(immediate(other)?.bytes == [2])
        // Resuming again returns the same answer; unknown tickets get 3.
        #expect(server.resume(h.ticket, now: near + .seconds(1)) == r)
        server.finished(h.ticket, now: near + .seconds(1))
        #expect(server.resume(h.ticket, now: near + .seconds(2)).bytes == [3])
    }

    @Test func firstRequestOnlyReservesNuance() throws {
        var options = PayloadByNumberServer.Options()
        options.peerBurst = 0
        let req = Result<[UInt8], any Error>.success(PayloadByNumber.encodeRequest(180))
        // op-node: a peer's first request is served whatever its limiter says; later ones wait,
        // and with a burst of 0 that wait can never succeed.
        var server = PayloadByNumberServer(config: config, source: store(), options: options)
        do { let h = server.handleRequest(from: try peer(1), request: req, now: t0); #expect(immediate(h)?.code == .success) }
        do { let h = server.handleRequest(from: try peer(1), request: req, now: t0); #expect(immediate(h)?.bytes == [3]) }
        options.firstRequestOnlyReserves = false
        server = PayloadByNumberServer(config: config, source: store(), options: options)
        do { let h = server.handleRequest(from: try peer(1), request: req, now: t0); #expect(immediate(h)?.bytes == [3]) }
    }

    @Test func concurrencyIsBoundedPerPeerAndInTotal() throws {
        var options = PayloadByNumberServer.Options()
        options.maxConcurrentPerPeer = 2
        options.maxConcurrentTotal = 3
        let metrics = MetricsLog()
        var server = PayloadByNumberServer(config: config, source: store(), options: options, metrics: metrics)
        let req = Result<[UInt8], any Error>.success(PayloadByNumber.encodeRequest(180))
        let a1 = server.handleRequest(from: try peer(1), request: req, now: t0)
        _ = server.handleRequest(from: try peer(1), request: req, now: t0)
        // Third from the same peer while two are unfinished: refused with 3, nothing reserved.
        let a3 = server.handleRequest(from: try peer(1), request: req, now: t0)
        #expect(immediate(a3)?.bytes == [3])
        #expect(metrics.events.last?.0 == 180 && metrics.events.last?.1 == .otherError)
        _ = server.handleRequest(from: try peer(2), request: req, now: t0)
        // Total of 3 reached: another peer is refused too.
        do { let h = server.handleRequest(from: try peer(3), request: req, now: t0); #expect(immediate(h)?.bytes == [3]) }
        #expect(server.stats.rejectedBusy == 2)
        // Finishing one frees a slot; finishing twice or an unknown ticket is harmless.
        server.finished(a1.ticket, now: t0)
        server.finished(a1.ticket, now: t0)
        server.finished(a3.ticket, now: t0)
        #expect(server.activeRequests == 2)
        do { let h = server.handleRequest(from: try peer(3), request: req, now: t0); #expect(immediate(h)?.code == .success) }
    }

    @Test func randomRequestsNeverTrap() throws {
        var rng = SplitMix(seed: 0x5eed)
        var server = PayloadByNumberServer(config: config, source: store())
        var tickets: [ServerTicket] = []
        var now = t0
        for _ in 0..<2000 {
            now += .milliseconds(Int64(rng.next() % 40))
            let len = Int(rng.next() % 12)
            let bytes = (0..<len).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let h = server.handleRequest(from: try peer(Int(rng.next() % 5)), request: .success(bytes), now: now)
            switch h.action {
            case .respond(let r): #expect(r.code == .success || r.bytes.count == 1)
            case .respondAfter(let d): #expect(d > .zero && d <= .seconds(20))
            }
            tickets.append(h.ticket)
            if rng.next() % 3 == 0, let t = tickets.randomElement(using: &rng) {
                _ = server.resume(t, now: now)
                server.finished(t, now: now)
            }
        }
        #expect(server.activeRequests <= server.options.maxConcurrentTotal)
    }
}

private typealias SplitMix = P2PCore.SplitMix64
