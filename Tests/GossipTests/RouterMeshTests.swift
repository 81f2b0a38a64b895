import Foundation
import P2PCore
import Testing
@testable import Gossip

/// Mesh maintenance: subscribe/GRAFT/PRUNE exchanges, backoff and its penalties, direct peers,
/// the Dhi/outbound rule and heartbeat bounds.
@Suite struct RouterMeshTests {
    typealias F = RouterFixture
    let t = RouterFixture.topic

    @Test func twoRoutersSubscribeAndGraftEachOther() throws {
        let net = RouterTestNet()
        let a = F.peer(1), b = F.peer(2)
        net.add(try F.router(1))
        net.add(try F.router(2))
        try net.join(a)
        net.connect(a, b)
        net.run()
        // b learned a's subscription from the hello; a grafts b only once b subscribes.
        #expect(net.routers[b]?.topicPeers(of: t) == [a])
        try net.join(b)
        // b's join grafts a straight away (a is subscribed); a accepts.
        #expect(net.routers[b]?.meshPeers(of: t) == [a])
        #expect(net.routers[a]?.meshPeers(of: t) == [b])
        #expect(net.traces[a]?.contains(.graft(b, topic: t)) == true)
        // Leaving prunes with the unsubscribe backoff (10 s) and announces the unsubscription.
        net.apply(net.routers[b]?.leave(t, now: net.now) ?? [], at: b)
        net.run()
        #expect(net.routers[a]?.meshPeers(of: t) == [])
        #expect(net.routers[a]?.topicPeers(of: t) == [])
        #expect(net.routers[a]?.isBackedOff(b, topic: t, now: net.now) == true)
        #expect(net.routers[a]?.isBackedOff(b, topic: t, now: net.now + 11 * F.second) == false)
        #expect(net.routers[b]?.isBackedOff(a, topic: t, now: net.now + 9 * F.second) == true)
    }

    @Test func heartbeatGraftsPeersThatSubscribedLater() throws {
        let net = RouterTestNet()
        let ids = (1...4).map(F.peer)
        for i in 1...4 { net.add(try F.router(i)) }
        try net.join(ids[0])
        for p in ids.dropFirst() { net.connect(ids[0], p) }
        for p in ids.dropFirst() { try net.join(p) }
        net.heartbeat()
        #expect(net.routers[ids[0]]?.meshPeers(of: t).count == 3)
    }

    @Test func graftDuringBackoffIsPrunedAndPenalised() throws {
        var r = try F.router(1, scoring: F.penaltyScoring)
        let b = F.peer(2)
        let second = F.second
        var now = 100 * second
        _ = try r.join(t, now: now)
        _ = r.addPeer(b, protocol: .meshsub11, outbound: false, ip: nil, now: now)
        _ = r.handleRPC(from: b, rpc: F.subscribe(t), now: now)
        _ = r.handleRPC(from: b, rpc: F.graft(t), now: now)
        #expect(r.meshPeers(of: t) == [b])
        // b prunes us without a backoff: we back off for PruneBackoff (60 s).
        _ = r.handleRPC(from: b, rpc: F.prune(t), now: now)
        #expect(r.meshPeers(of: t).isEmpty)
        #expect(r.isBackedOff(b, topic: t, now: now + 59 * second))
        // A GRAFT 1 s later: PRUNE back, P7 +1, and +1 more inside GraftFloodThreshold (10 s).
        now += second
        let actions = r.handleRPC(from: b, rpc: F.graft(t), now: now)
        #expect(actions.prunes.map(\.topicID) == [t])
        #expect(actions.prunes.first?.backoff == 60)
        #expect(r.meshPeers(of: t).isEmpty)
        #expect(r.scoreSnapshot(of: b)?.behaviourPenalty == 2)
        #expect(r.score(of: b) == -4)   // P7 = 2² × −1
        // The backoff was refreshed to now + 60 s; 20 s on (past the flood window) costs 1.
        now += 20 * second
        _ = r.handleRPC(from: b, rpc: F.graft(t), now: now)
        #expect(r.scoreSnapshot(of: b)?.behaviourPenalty == 3)
        #expect(r.isBackedOff(b, topic: t, now: now + 59 * second))
        // Once the backoff is over, the GRAFT is accepted only if the score is not negative.
        now += 61 * second
        let late = r.handleRPC(from: b, rpc: F.graft(t), now: now)
        #expect(late.prunes.count == 1, "negative score: still pruned")
        #expect(r.meshPeers(of: t).isEmpty)
    }

    @Test func pruneBackoffFromPeerIsHonouredAndBounded() throws {
        var r = try F.router(1)
        let b = F.peer(2)
        let now = 100 * F.second
        _ = try r.join(t, now: now)
        _ = r.addPeer(b, protocol: .meshsub11, outbound: true, ip: nil, now: now)
        _ = r.handleRPC(from: b, rpc: F.subscribe(t), now: now)
        _ = r.handleRPC(from: b, rpc: F.prune(t, backoff: 300), now: now)
        #expect(r.isBackedOff(b, topic: t, now: now + 299 * F.second))
        #expect(!r.isBackedOff(b, topic: t, now: now + 301 * F.second))
        _ = r.handleRPC(from: b, rpc: F.prune(t, backoff: .max), now: now)
        #expect(!r.isBackedOff(b, topic: t, now: now + 86_401 * F.second))
        // Heartbeats do not graft a backed-off peer.
        for i in 1...4 { _ = r.heartbeat(now: now + UInt64(i) * F.second / 2) }
        #expect(r.meshPeers(of: t).isEmpty)
    }

    @Test func graftsForUnknownTopicsAreIgnoredAndV10PrunesCarryNoBackoff() throws {
        var r = try F.router(1)
        let b = F.peer(2)
        _ = r.addPeer(b, protocol: .meshsub10, outbound: false, ip: nil, now: 0)
        let actions = r.handleRPC(from: b, rpc: F.graft("/other"), now: 0)
        #expect(actions.sends.isEmpty)
        _ = try r.join(t, now: 0)
        // A direct-peer-like refusal path: at Dhi, inbound peers are pruned; v1.0 gets no backoff field.
        var full = try F.router(1, parameters: { var p = GossipSubParameters.opNode; p.dhi = 8; return p }())
        _ = try full.join(t, now: 0)
        for i in 10..<18 {
            let p = F.peer(i)
            _ = full.addPeer(p, protocol: .meshsub11, outbound: false, ip: nil, now: 0)
            _ = full.handleRPC(from: p, rpc: F.graft(t), now: 0)
        }
        #expect(full.meshPeers(of: t).count == 8)
        _ = full.addPeer(b, protocol: .meshsub10, outbound: false, ip: nil, now: 0)
        let refused = full.handleRPC(from: b, rpc: F.graft(t), now: 0)
        #expect(refused.prunes.count == 1)
        #expect(refused.prunes.first?.hasBackoff == false)
        #expect(full.meshPeers(of: t).count == 8)
        // An outbound peer may still graft at Dhi.
        let o = F.peer(30)
        _ = full.addPeer(o, protocol: .meshsub11, outbound: true, ip: nil, now: 0)
        _ = full.handleRPC(from: o, rpc: F.graft(t), now: 0)
        #expect(full.meshPeers(of: t).contains(o))
    }

    @Test func directPeersAreNeverGraftedButAlwaysForwardedTo() throws {
        let net = RouterTestNet()
        let a = F.peer(1), d = F.peer(2), m = F.peer(3)
        net.add(try F.router(1, direct: [d]))
        net.add(try F.router(2, direct: [a]))
        net.add(try F.router(3))
        for n in [a, d, m] { try net.join(n) }
        net.connect(a, d)
        net.connect(a, m)
        net.run()
        net.heartbeat()
        #expect(net.routers[a]?.meshPeers(of: t) == [m])
        #expect(net.routers[d]?.meshPeers(of: t) == [])
        // A GRAFT from a direct peer is answered with PRUNE.
        let answer = net.routers[a]?.handleRPC(from: d, rpc: F.graft(t), now: net.now) ?? []
        #expect(answer.prunes.count == 1)
        // Messages still reach the direct peer.
        try net.publish(m, Array("hello".utf8))
        #expect(net.delivered[d]?.map { [UInt8]($0.data) } == [Array("hello".utf8)])
    }

    @Test func heartbeatKeepsMeshWithinBoundsWithOutboundQuota() throws {
        var p = GossipSubParameters.opNode
        p.opportunisticGraftTicks = 1_000
        var r = try F.router(1, parameters: p)
        var now = F.second
        _ = try r.join(t, now: now)
        // 20 inbound peers graft us, then 2 outbound ones are available.
        for i in 10..<30 {
            let peer = F.peer(i)
            _ = r.addPeer(peer, protocol: .meshsub11, outbound: i >= 28, ip: nil, now: now)
            _ = r.handleRPC(from: peer, rpc: F.subscribe(t), now: now)
            if i < 22 { _ = r.handleRPC(from: peer, rpc: F.graft(t), now: now) }
        }
        #expect(r.meshPeers(of: t).count == 12)
        now += F.second / 2
        _ = r.heartbeat(now: now)
        let mesh = r.meshPeers(of: t)
        // At Dhi (12) it is not above Dhi, so no trim; but Dout (2) outbound peers are grafted.
        #expect(mesh.count == 14)
        #expect(mesh.contains(F.peer(28)) && mesh.contains(F.peer(29)))
        now += F.second / 2
        let actions = r.heartbeat(now: now)
        let after = r.meshPeers(of: t)
        #expect(after.count == 8, "trimmed to D")
        #expect(after.contains(F.peer(28)) && after.contains(F.peer(29)), "outbound quota kept")
        #expect(actions.prunes.count == 6)
        for peer in mesh where !after.contains(peer) { #expect(r.isBackedOff(peer, topic: t, now: now)) }
    }

    @Test func negativeScorePeersArePrunedAtHeartbeat() throws {
        var r = try F.router(1, scoring: F.penaltyScoring)
        let b = F.peer(2)
        _ = try r.join(t, now: 0)
        _ = r.addPeer(b, protocol: .meshsub11, outbound: true, ip: nil, now: 0)
        _ = r.handleRPC(from: b, rpc: F.subscribe(t), now: 0)
        _ = r.heartbeat(now: F.second / 2)
        #expect(r.meshPeers(of: t) == [b])
        // Broken promises give b a negative score: advertise, never deliver.
        _ = r.leave(t, now: F.second)
        _ = try r.join(t, now: 200 * F.second)
        #expect(r.meshPeers(of: t) == [b])
        _ = r.handleRPC(from: b, rpc: F.ihave(t, [[1, 2, 3]]), now: 200 * F.second)
        _ = r.heartbeat(now: 204 * F.second)
        #expect(r.score(of: b) < 0)
        #expect(r.meshPeers(of: t).isEmpty)
    }

    @Test func peerExchangeOnlyWhenEnabledAndTrusted() throws {
        func prunedWithPX(_ px: Bool, scoring: PeerScoring?) throws -> [GossipAction] {
            var p = GossipSubParameters.opNode
            p.peerExchange = px
            var r = try F.router(1, parameters: p, scoring: scoring)
            let b = F.peer(2)
            _ = try r.join(t, now: 0)
            _ = r.addPeer(b, protocol: .meshsub11, outbound: true, ip: nil, now: 0)
            var prune = PBControlPrune()
            prune.topicID = t
            prune.peers = [F.peer(7), F.peer(8), F.peer(2)].map { var i = PBPeerInfo(); i.peerID = Data($0.bytes); return i }
            var rpc = PBRPC()
            rpc.control.prune = [prune]
            return r.handleRPC(from: b, rpc: rpc, now: 0)
        }
        func exchanged(_ a: [GossipAction]) -> [PeerID] {
            a.flatMap { if case .peerExchange(_, let peers) = $0 { return peers } else { return [] } }
        }
        // op-node: PX off, so PX in a PRUNE is not followed.
        #expect(exchanged(try prunedWithPX(false, scoring: nil)).isEmpty)
        // On, from a peer at or above acceptPX (0 without scoring): connected peers left out.
        #expect(exchanged(try prunedWithPX(true, scoring: nil)) == [F.peer(7), F.peer(8)])
        // On, but the peer's score (0) is below op-node's acceptPX (20).
        #expect(exchanged(try prunedWithPX(true, scoring: .opNodeLight(blockTime: 2))).isEmpty)

        // Our own PRUNEs carry PX only when enabled.
        var p = GossipSubParameters.opNode
        p.peerExchange = true
        var r = try F.router(1, parameters: p)
        _ = try r.join(t, now: 0)
        for i in 2...5 {
            _ = r.addPeer(F.peer(i), protocol: .meshsub11, outbound: true, ip: nil, now: 0)
            _ = r.handleRPC(from: F.peer(i), rpc: F.subscribe(t), now: 0)
        }
        _ = r.heartbeat(now: 1)
        let leave = r.leave(t, now: 2)
        let px = leave.prunes.first?.peers.map { [UInt8]($0.peerID) } ?? []
        #expect(px.count == 3)
        var off = try F.router(1)
        _ = try off.join(t, now: 0)
        for i in 2...5 {
            _ = off.addPeer(F.peer(i), protocol: .meshsub11, outbound: true, ip: nil, now: 0)
            _ = off.handleRPC(from: F.peer(i), rpc: F.subscribe(t), now: 0)
        }
        _ = off.heartbeat(now: 1)
        #expect(off.leave(t, now: 2).prunes.allSatisfy { $0.peers.isEmpty && $0.backoff == 10 })
    }
}
