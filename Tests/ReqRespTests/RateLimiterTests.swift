import Testing
import P2PCore
@testable import ReqResp

/// Token-bucket math against golang.org/x/time/rate semantics (spec §5.2).
@Suite struct RateLimiterTests {
    private func ms(_ v: Int64) -> Duration { .milliseconds(v) }

    @Test func startsFullAndRefillsAtRateUpToBurst() {
        var b = TokenBucket(rate: 4, burst: 15)
        let t0 = Duration.seconds(1000)
        #expect(b.tokens(at: t0) == 15)
        for _ in 0..<15 { do { let got = b.allow(now: t0); #expect(got) } }
        do { let got = b.allow(now: t0); #expect(!(got)) }
        #expect(b.tokens(at: t0) == 0)
        // 4 tokens per second: one every 250 ms.
        #expect(b.timeUntilAvailable(now: t0) == ms(250))
        do { let got = b.allow(now: t0 + ms(249)); #expect(!(got)) }
        do { let got = b.allow(now: t0 + ms(250)); #expect(got) }
        // Refill never exceeds the burst.
        #expect(b.tokens(at: t0 + .seconds(3600)) == 15)
    }

    @Test func reservationsQueueUpWaitsLikeGoReserve() {
        var b = TokenBucket(rate: 20, burst: 40)
        let t0 = Duration.seconds(5)
        for _ in 0..<40 { do { let got = b.reserve(now: t0); #expect(got == .zero) } }
        // The next reservations go into debt: 50 ms, 100 ms, 150 ms …
        do { let got = b.reserve(now: t0); #expect(got == ms(50)) }
        do { let got = b.reserve(now: t0); #expect(got == ms(100)) }
        do { let got = b.reserve(now: t0); #expect(got == ms(150)) }
        #expect(b.tokens(at: t0) == -3)
        // Later, the debt has been partly paid off.
        do { let got = b.reserve(now: t0 + ms(100)); #expect(got == ms(100)) }
    }

    @Test func waitBeyondBoundFailsAndChangesNothing() {
        var b = TokenBucket(rate: 20, burst: 40)
        let t0 = Duration.seconds(0)
        // 40 free, then 400 more within a 20 s bound (the last one waits exactly 20 s).
        for _ in 0..<440 { do { let got = b.reserve(now: t0, maxWait: .seconds(20)); #expect(got != nil) } }
        let before = b
        do { let got = b.reserve(now: t0, maxWait: .seconds(20)); #expect(got == nil) }
        #expect(b == before)
        do { let got = b.reserve(now: t0, maxWait: nil); #expect(got == .milliseconds(20_050)) }
        // More than the burst can never be reserved; zero-rate buckets never refill.
        do { let got = b.reserve(41, now: t0); #expect(got == nil) }
        var frozen = TokenBucket(rate: 0, burst: 1)
        do { let got = frozen.allow(now: t0); #expect(got) }
        do { let got = frozen.reserve(now: t0 + .seconds(100)); #expect(got == nil) }
        #expect(frozen.timeUntilAvailable(now: t0) == nil)
    }

    @Test func multiTokenReservationAndBackwardsTime() {
        var b = TokenBucket(rate: 4, burst: 15)
        let t0 = Duration.seconds(10)
        do { let got = b.reserve(15, now: t0); #expect(got == .zero) }
        do { let got = b.reserve(15, now: t0); #expect(got == .milliseconds(3750)) }   // op-node's clientErrRateCost back-off
        // A clock that steps backwards adds no tokens and does not break the bucket.
        #expect(b.tokens(at: t0 - .seconds(5)) == -15)
        do { let got = b.allow(now: t0 - .seconds(5)); #expect(!(got)) }
        #expect(b.tokens(at: t0 + .milliseconds(7500)) == 15)
    }

    @Test func fractionalRatesRoundWaitsUp() {
        var b = TokenBucket(rate: 3, burst: 1)
        let t0 = Duration.zero
        do { let got = b.allow(now: t0); #expect(got) }
        let wait = b.reserve(now: t0)
        // 1/3 s rounded up to whole nanoseconds: acting after the wait is never early.
        #expect(wait == .nanoseconds(333_333_334))
    }

    @Test func perPeerLimitersAreBoundedByAnLRU() throws {
        var set = PeerRateLimiters(rate: 4, burst: 15, capacity: 3)
        let peers = try (0..<5).map { i in try PeerID(bytes: [0x00, 0x02, 0x08, UInt8(i)]) }
        let t0 = Duration.seconds(1)
        for p in peers.prefix(3) { for _ in 0..<15 { do { let got = set.reserve(for: p, now: t0, maxWait: .zero); #expect(got == .zero) } } }
        do { let got = set.reserve(for: peers[0], now: t0, maxWait: .zero); #expect(got == nil) }
        #expect(set.count == 3)
        // A fourth peer evicts the least recently used (peers[1]); it comes back full.
        do { let got = set.reserve(for: peers[3], now: t0); #expect(got == .zero) }
        #expect(set.count == 3)
        #expect(!set.isKnown(peers[1]))
        #expect(set.tokens(for: peers[1], at: t0) == 15)
        #expect(set.tokens(for: peers[0], at: t0) == 0)
        #expect(set.isKnown(peers[0]))
    }
}
