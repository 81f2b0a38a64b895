import Foundation
import P2PCore
import Testing
@testable import Gossip

/// op-node's peer monitor policy (spec §4.3).
@Suite struct RouterBanningTests {
    typealias F = RouterFixture

    @Test func checksOnePeerPerCallRoundRobinAndBansAtOrBelowThreshold() {
        var policy = PeerBanPolicy()
        let peers = (1...4).map(F.peer)
        let scores: [PeerID: Double] = [peers[0]: 0, peers[1]: -100, peers[2]: -150, peers[3]: -99.9]
        var listCalls = 0
        var bans: [PeerID] = []
        for second in 0..<8 {
            let d = policy.checkNext(connected: { listCalls += 1; return peers }, score: { scores[$0] ?? 0 },
                                     now: UInt64(second) * F.second)
            if let d { bans.append(d.peer) }
        }
        #expect(listCalls == 2, "the list is refreshed only when exhausted")
        #expect(bans == [peers[1], peers[2], peers[1], peers[2]], "−100 is banned (op-node passes only score > −100)")
        let during = policy.isBanned(peers[1], now: 3600 * F.second)
        let after = policy.isBanned(peers[1], now: 3600 * F.second + 6 * F.second)
        #expect(during)
        #expect(!after, "1 h from the last ban")
        #expect(policy.bannedPeers[peers[1]] == nil, "expired ban cleared lazily")
    }

    @Test func protectedPeersAndDisabledPolicyNeverBan() {
        let p = F.peer(1)
        var policy = PeerBanPolicy(threshold: -10, banDuration: .seconds(60))
        policy.protect(p)
        let spared = policy.checkNext(connected: { [p] }, score: { _ in -1000 }, now: 0)
        #expect(spared == nil)
        policy.unprotect(p)
        let d = policy.checkNext(connected: { [p] }, score: { _ in -1000 }, now: 0)
        #expect(d == BanDecision(peer: p, score: -1000, until: 60 * F.second))
        var off = PeerBanPolicy(enabled: false)
        let disabled = off.checkNext(connected: { [p] }, score: { _ in -1000 }, now: 0)
        #expect(disabled == nil)
        var empty = PeerBanPolicy()
        let nobody = empty.checkNext(connected: { [] }, score: { _ in -1000 }, now: 0)
        #expect(nobody == nil)
    }

    @Test func worksWithTheRoutersScores() throws {
        var r = try F.router(1, scoring: .opNodeLight(blockTime: 2))
        let b = F.peer(2)
        _ = try r.join(RouterFixture.topic, now: 0)
        _ = r.addPeer(b, protocol: .meshsub11, outbound: true, ip: nil, now: 0)
        _ = r.handleRPC(from: b, rpc: F.subscribe(RouterFixture.topic), now: 0)
        _ = r.handleRPC(from: b, rpc: F.prune(RouterFixture.topic), now: 0)
        // GRAFT spam during backoff: +2 P7 each, until the peer is graylisted at −40 and ignored:
        // 4 GRAFTs → P7 8 → (8 − 6)² × −16 = −64. That is not enough for a ban (−100)…
        for _ in 0..<8 { _ = r.handleRPC(from: b, rpc: F.graft(RouterFixture.topic), now: 1) }
        #expect(r.score(of: b) == -64)
        var spare = PeerBanPolicy()
        let snapshot = r
        let none = spare.checkNext(connected: { snapshot.connectedPeers }, score: { snapshot.score(of: $0) }, now: 5)
        #expect(none == nil)
        // …but a bad application (req-resp) score is: −64 + (−50 × 1).
        r.setApplicationScore(b, -50)
        #expect(r.score(of: b) == -114)
        var policy = PeerBanPolicy()
        let router = r
        let d = policy.checkNext(connected: { router.connectedPeers }, score: { router.score(of: $0) }, now: 5)
        #expect(d?.peer == b)
    }
}
