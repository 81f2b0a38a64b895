import Foundation
import P2PCore
import Testing
@testable import Gossip

/// Lazy push: IHAVE/IWANT, its flood limits and promises, retransmission limits, IDONTWANT.
@Suite struct RouterGossipTests {
    typealias F = RouterFixture
    let t = RouterFixture.topic

    /// A router joined to `t` with peer `b` subscribed but kept out of the mesh: b pruned us, so
    /// we back off from it for a minute and the heartbeat does not graft it.
    func routerWithNonMeshPeer(scoring: PeerScoring? = F.penaltyScoring) throws -> (GossipSubRouter, PeerID) {
        var r = try F.router(1, scoring: scoring)
        let b = F.peer(2)
        _ = try r.join(t, now: F.second)
        _ = r.addPeer(b, protocol: .meshsub12, outbound: true, ip: nil, now: F.second)
        _ = r.handleRPC(from: b, rpc: F.subscribe(t), now: F.second)
        _ = r.handleRPC(from: b, rpc: F.prune(t), now: F.second)
        return (r, b)
    }

    @Test func ihaveIwantRoundTrip() throws {
        // Sender side: a message in the cache is advertised to the non-mesh peer at the heartbeat
        // and sent when asked for.
        var (r, b) = try routerWithNonMeshPeer()
        let now = 2 * F.second
        let published = try r.publish(topic: t, data: [9, 9, 9], now: now)
        #expect(published.sent(to: b).isEmpty, "not forwarded to a non-mesh peer")
        let hb = r.heartbeat(now: now + F.second / 2)
        #expect(r.meshPeers(of: t).isEmpty)
        let ihave = hb.sent(to: b).flatMap { $0.control.ihave }
        #expect(ihave.map(\.topicID) == [t])
        #expect(ihave.first?.messageIds == [Data([9, 9, 9])])
        let answer = r.handleRPC(from: b, rpc: F.iwant([[9, 9, 9]]), now: now + F.second)
        #expect(answer.sent(to: b).first?.publish.first?.data == Data([9, 9, 9]))
        // The gossip window is HistoryGossip (3) heartbeats: after 3 more shifts, no more IHAVE.
        for i in 2...4 { _ = r.heartbeat(now: now + UInt64(i) * F.second / 2) }
        let late = r.heartbeat(now: now + 5 * F.second / 2)
        #expect(late.sent(to: b).flatMap { $0.control.ihave }.isEmpty)

        // Receiver side: a real router asks for what it has not seen, then validates and delivers it.
        var (c, peer) = try routerWithNonMeshPeer()
        let reply = c.handleRPC(from: peer, rpc: F.ihave(t, [[9, 9, 9]]), now: now)
        #expect(reply.sent(to: peer).first?.control.iwant.first?.messageIds == [Data([9, 9, 9])])
        let got = c.handleRPC(from: peer, rpc: F.message([9, 9, 9]), now: now)
        let request = try #require(got.validations.first)
        let done = c.deliverValidationResult(request.id, outcome: .accept, now: now)
        #expect(done.deliveries.map(\.data) == [Data([9, 9, 9])])
    }

    @Test func ihaveFloodLimits() throws {
        var (r, b) = try routerWithNonMeshPeer()
        let now = 2 * F.second
        // One IHAVE with 6000 ids: at most MaxIHaveLength (5000) are asked for.
        let ids = (0..<6000).map { i in withUnsafeBytes(of: UInt32(i).bigEndian) { [UInt8]($0) } }
        let asked = r.handleRPC(from: b, rpc: F.ihave(t, ids), now: now).sent(to: b)
            .flatMap { $0.control.iwant }.flatMap(\.messageIds)
        #expect(asked.count == 5000)
        #expect(Set(asked).count == 5000)
        // The peer's budget for this heartbeat is spent.
        let more = r.handleRPC(from: b, rpc: F.ihave(t, [[0xff, 0xff]]), now: now)
        #expect(more.sent(to: b).isEmpty)
        // Next heartbeat: budget back, but at most MaxIHaveMessages (10) IHAVE RPCs are answered.
        _ = r.heartbeat(now: now + F.second / 2)
        var answered = 0
        for i in 0..<15 {
            let reply = r.handleRPC(from: b, rpc: F.ihave(t, [[0xee, UInt8(i)]]), now: now + F.second / 2)
            if !reply.sent(to: b).isEmpty { answered += 1 }
        }
        #expect(answered == 10)
        // Seen ids and topics we are not in are never asked for.
        _ = r.heartbeat(now: now + F.second)
        _ = r.handleRPC(from: b, rpc: F.message([7, 7]), now: now + F.second)
        let known = r.handleRPC(from: b, rpc: F.ihave(t, [[7, 7]]), now: now + F.second)
        #expect(known.sent(to: b).isEmpty)
        let other = r.handleRPC(from: b, rpc: F.ihave("/not/joined", [[1]]), now: now + F.second)
        #expect(other.sent(to: b).isEmpty)
    }

    @Test func brokenIWantPromiseIsPenalised() throws {
        var (r, b) = try routerWithNonMeshPeer()
        let now = 2 * F.second
        let reply = r.handleRPC(from: b, rpc: F.ihave(t, [[1], [2], [3]]), now: now)
        #expect(reply.sent(to: b).first?.control.iwant.first?.messageIds.count == 3)
        // Within IWantFollowupTime (3 s): no penalty.
        _ = r.heartbeat(now: now + 2 * F.second)
        #expect(r.scoreSnapshot(of: b)?.behaviourPenalty == 0)
        // After it: one broken promise (one tracked id per IWANT) → P7 +1.
        _ = r.heartbeat(now: now + 4 * F.second)
        let penalty = try #require(r.scoreSnapshot(of: b)?.behaviourPenalty)
        #expect(penalty > 0.8 && penalty <= 1, "1, maybe decayed once: \(penalty)")
        // A kept promise costs nothing: advertise, get asked, deliver.
        var (r2, b2) = try routerWithNonMeshPeer()
        _ = r2.handleRPC(from: b2, rpc: F.ihave(t, [[5]]), now: now)
        _ = r2.handleRPC(from: b2, rpc: F.message([5]), now: now + F.second)
        _ = r2.heartbeat(now: now + 10 * F.second)
        #expect(r2.scoreSnapshot(of: b2)?.behaviourPenalty == 0)
    }

    @Test func iwantRetransmissionIsLimited() throws {
        var (r, b) = try routerWithNonMeshPeer()
        let now = 2 * F.second
        _ = try r.publish(topic: t, data: [4, 2], now: now)
        var served = 0
        for _ in 0..<6 {
            let a = r.handleRPC(from: b, rpc: F.iwant([[4, 2]]), now: now)
            served += a.sent(to: b).flatMap(\.publish).count
        }
        #expect(served == 3, "GossipRetransmission = 3")
        // Unknown ids are not answered.
        #expect(r.handleRPC(from: b, rpc: F.iwant([[0, 0, 0]]), now: now).sends.isEmpty)
    }

    @Test func gossipThresholdGatesIHaveAndIWant() throws {
        // P7 weight −1 with no threshold; gossip threshold −0.5: one broken promise is enough.
        var scoring = F.penaltyScoring
        scoring.thresholds.gossip = -0.5
        var (r, b) = try routerWithNonMeshPeer(scoring: scoring)
        let now = 2 * F.second
        _ = r.handleRPC(from: b, rpc: F.ihave(t, [[1]]), now: now)
        _ = r.heartbeat(now: now + 4 * F.second)
        #expect(r.score(of: b) < -0.5)
        _ = try r.publish(topic: t, data: [3], now: now + 4 * F.second)
        let hb = r.heartbeat(now: now + 9 * F.second / 2)
        #expect(hb.sent(to: b).flatMap { $0.control.ihave }.isEmpty, "no gossip to b")
        #expect(r.handleRPC(from: b, rpc: F.ihave(t, [[2]]), now: now + 5 * F.second).sends.isEmpty, "b's IHAVE ignored")
        #expect(r.handleRPC(from: b, rpc: F.iwant([[3]]), now: now + 5 * F.second).sends.isEmpty, "b's IWANT ignored")
    }

    @Test func idontwantSuppressesForwarding() throws {
        var r = try F.router(1)
        let b = F.peer(2)
        let now = 2 * F.second
        _ = try r.join(t, now: now)
        _ = r.addPeer(b, protocol: .meshsub12, outbound: true, ip: nil, now: now)
        _ = r.handleRPC(from: b, rpc: F.subscribe(t), now: now)
        _ = r.heartbeat(now: now)   // grafts b (outbound, subscribed)
        #expect(r.meshPeers(of: t) == [b])
        let big = [UInt8](repeating: 0xab, count: 100)   // the test id function: id = data
        var d = PBControlIDontWant()
        d.messageIds = [Data(big)]
        _ = r.handleRPC(from: b, rpc: F.control { $0.idontwant = [d] }, now: now)
        let actions = try r.publish(topic: t, data: big, now: now)
        #expect(actions.sent(to: b).isEmpty)
        // The IDONTWANT expires after IDontWantMessageTTL (3) heartbeats.
        #expect(r.peers.compactMap { $0 }.map(\.unwanted.count) == [1])
        for i in 1...2 { _ = r.heartbeat(now: now + UInt64(i) * F.second / 2) }
        #expect(r.peers.compactMap { $0 }.map(\.unwanted.count) == [1])
        _ = r.heartbeat(now: now + 3 * F.second / 2)
        #expect(r.peers.compactMap { $0 }.map(\.unwanted.count) == [0])
        let small = try r.publish(topic: t, data: [1], now: now + 2 * F.second)
        #expect(small.sent(to: b).count == 1)
    }

    @Test func largeMessagesTriggerIDontWantToV12MeshPeers() throws {
        var r = try F.router(1)
        let b = F.peer(2), c = F.peer(3), d = F.peer(4)
        _ = try r.join(t, now: 0)
        for (peer, proto) in [(b, GossipSubProtocol.meshsub12), (c, .meshsub12), (d, .meshsub11)] {
            _ = r.addPeer(peer, protocol: proto, outbound: true, ip: nil, now: 0)
            _ = r.handleRPC(from: peer, rpc: F.subscribe(t), now: 0)
        }
        _ = r.heartbeat(now: F.second / 2)
        #expect(r.meshPeers(of: t).count == 3)
        let big = [UInt8](repeating: 1, count: 1024)
        let actions = r.handleRPC(from: b, rpc: F.message(big), now: F.second)
        #expect(actions.sent(to: c).first?.control.idontwant.first?.messageIds == [Data(big)])
        #expect(actions.sent(to: b).isEmpty, "not to the sender")
        #expect(actions.sent(to: d).isEmpty, "not to v1.1 peers")
        let small = r.handleRPC(from: b, rpc: F.message([1, 2, 3]), now: F.second)
        #expect(small.sent(to: c).allSatisfy { $0.control.idontwant.isEmpty })
    }
}
