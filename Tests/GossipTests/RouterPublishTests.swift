import Foundation
import P2PCore
import Testing
@testable import Gossip

/// Publishing: mesh forwarding, fanout and its TTL, flood publishing, size limit, the per-peer
/// outbound queue bound.
@Suite struct RouterPublishTests {
    typealias F = RouterFixture
    let t = RouterFixture.topic

    /// A router (not joined) with `n` peers subscribed to `t`.
    func routerWithSubscribers(_ n: Int, parameters: GossipSubParameters = .opNode,
                               scoring: PeerScoring? = nil) throws -> (GossipSubRouter, [PeerID]) {
        var r = try F.router(1, parameters: parameters, scoring: scoring)
        let peers = (0..<n).map { F.peer(10 + $0) }
        for p in peers {
            _ = r.addPeer(p, protocol: .meshsub11, outbound: true, ip: nil, now: 0)
            _ = r.handleRPC(from: p, rpc: F.subscribe(t), now: 0)
        }
        return (r, peers)
    }

    @Test func fanoutPublishAndExpiry() throws {
        var (r, _) = try routerWithSubscribers(12)
        let actions = try r.publish(topic: t, data: [1], now: F.second)
        // Not joined: D (8) fanout peers get it; nothing is delivered locally.
        #expect(actions.sends.count == 8)
        #expect(actions.deliveries.isEmpty)
        let fanout = r.fanoutPeers(of: t)
        #expect(fanout.count == 8)
        #expect(Set(actions.sends.map(\.0)) == Set(fanout))
        // The same fanout is reused.
        let again = try r.publish(topic: t, data: [2], now: 2 * F.second)
        #expect(Set(again.sends.map(\.0)) == Set(fanout))
        // FanoutTTL (24 s) after the last publish, the heartbeat forgets it.
        _ = r.heartbeat(now: 25 * F.second)
        #expect(r.fanoutPeers(of: t).count == 8)
        _ = r.heartbeat(now: 27 * F.second)
        #expect(r.fanoutPeers(of: t).isEmpty)
    }

    @Test func joiningTurnsFanoutIntoMesh() throws {
        var (r, _) = try routerWithSubscribers(10)
        _ = try r.publish(topic: t, data: [1], now: F.second)
        let fanout = Set(r.fanoutPeers(of: t))
        let actions = try r.join(t, now: 2 * F.second)
        #expect(Set(r.meshPeers(of: t)) == fanout)
        #expect(r.fanoutPeers(of: t).isEmpty)
        #expect(Set(actions.sends.filter { !$0.1.control.graft.isEmpty }.map(\.0)) == fanout)
        // Everyone hears the subscription.
        #expect(actions.sends.filter { !$0.1.subscriptions.isEmpty }.count == 10)
    }

    @Test func floodPublishOnAndOff() throws {
        var flood = GossipSubParameters.opNode
        flood.floodPublish = true
        var (r, peers) = try routerWithSubscribers(20, parameters: flood)
        _ = try r.join(t, now: 0)
        #expect(r.meshPeers(of: t).count == 8)
        let all = try r.publish(topic: t, data: [1], now: F.second)
        #expect(Set(all.sends.map(\.0)) == Set(peers), "flood publish: every topic peer")
        // Forwarded (not our own) messages still go to the mesh only.
        let fwd = r.handleRPC(from: peers[0], rpc: F.message([2]), now: F.second)
        let req = try #require(fwd.validations.first)
        let out = r.deliverValidationResult(req.id, outcome: .accept, now: F.second)
        #expect(out.sends.count <= 8)

        var (m, _) = try routerWithSubscribers(20)   // op-node: flood publish off
        _ = try m.join(t, now: 0)
        let meshOnly = try m.publish(topic: t, data: [1], now: F.second)
        #expect(Set(meshOnly.sends.map(\.0)) == Set(m.meshPeers(of: t)))
        #expect(meshOnly.deliveries.count == 1, "delivered to the local subscriber")
    }

    @Test func floodPublishSkipsPeersBelowPublishThreshold() throws {
        var flood = GossipSubParameters.opNode
        flood.floodPublish = true
        var scoring = F.penaltyScoring
        scoring.thresholds = PeerScoreThresholds(gossip: -1, publish: -2, graylist: -100, acceptPX: 0, opportunisticGraft: 0)
        var (r, peers) = try routerWithSubscribers(4, parameters: flood, scoring: scoring)
        _ = try r.join(t, now: 0)
        // peers[0] grafts right after pruning: P7 = 2 (backoff + flood) → score −4 < −2.
        _ = r.handleRPC(from: peers[0], rpc: F.prune(t), now: 0)
        _ = r.handleRPC(from: peers[0], rpc: F.graft(t), now: 0)
        #expect(r.score(of: peers[0]) < -2)
        let actions = try r.publish(topic: t, data: [1], now: F.second)
        #expect(Set(actions.sends.map(\.0)) == Set(peers.dropFirst()))
    }

    @Test func oversizedPublishIsRefused() throws {
        var p = GossipSubParameters.opNode
        p.maxMessageSize = 4096
        var r = try F.router(1, parameters: p)
        #expect(throws: GossipRouterError.self) { _ = try r.publish(topic: t, data: [UInt8](repeating: 0, count: 4096), now: 0) }
        _ = try r.publish(topic: t, data: [UInt8](repeating: 0, count: 4000), now: 0)
    }

    @Test func outboundQueueIsBounded() throws {
        var p = GossipSubParameters.opNode
        p.outboundQueueSize = 5
        var (r, peers) = try routerWithSubscribers(1, parameters: p)
        _ = try r.join(t, now: 0)
        #expect(r.meshPeers(of: t) == peers)
        // join sent one RPC (GRAFT + subscription); the host never reports writes.
        #expect(r.outboundQueueLength(of: peers[0]) == 1)
        var sent = 0, dropped = 0
        for i in 0..<10 {
            let a = try r.publish(topic: t, data: [UInt8(i)], now: F.second)
            sent += a.sends.count
            dropped += a.traces.filter { $0 == .dropRPC(to: peers[0]) }.count
        }
        #expect(sent == 4)
        #expect(dropped == 6)
        // Once the host reports writes, sending resumes.
        r.rpcWritten(to: peers[0], count: 5)
        #expect(r.outboundQueueLength(of: peers[0]) == 0)
        #expect(try r.publish(topic: t, data: [99], now: F.second).sends.count == 1)
    }

    @Test func droppedPruneIsRetriedAfterTheQueueDrains() throws {
        var p = GossipSubParameters.opNode
        p.outboundQueueSize = 1
        var (r, peers) = try routerWithSubscribers(1, parameters: p)
        _ = try r.join(t, now: 0)        // GRAFT fills the queue
        let leave = r.leave(t, now: 0)   // PRUNE dropped
        #expect(leave.sends.isEmpty)
        #expect(leave.traces.contains(.dropRPC(to: peers[0])))
        r.rpcWritten(to: peers[0])
        let hb = r.heartbeat(now: F.second / 2)
        #expect(hb.sent(to: peers[0]).first?.control.prune.map(\.topicID) == [t])
    }

    @Test func bigBatchesAreFragmentedUnderTheFrameLimit() throws {
        var p = GossipSubParameters.opNode
        p.maxMessageSize = 4096
        var r = try F.router(1, parameters: p)
        let b = F.peer(2)
        _ = try r.join(t, now: 0)
        _ = r.addPeer(b, protocol: .meshsub11, outbound: true, ip: nil, now: 0)
        _ = r.handleRPC(from: b, rpc: F.subscribe(t), now: 0)
        _ = r.handleRPC(from: b, rpc: F.prune(t), now: 0)
        for i in 0..<5 { _ = try r.publish(topic: t, data: [UInt8](repeating: UInt8(i), count: 3000), now: 0) }
        // Five 3 KB messages asked for at once cannot go in one 4 KiB frame.
        let ids = (0..<5).map { [UInt8](repeating: UInt8($0), count: 3000) }
        let answer = r.handleRPC(from: b, rpc: F.iwant(ids), now: 0).sent(to: b)
        #expect(answer.count == 5)
        #expect(answer.allSatisfy { $0.encodedSize <= 4096 })
        #expect(answer.flatMap(\.publish).count == 5)
    }
}

/// The two halves of a local publish: the copies before the id, the id once, IDONTWANT honoured
/// through held-back peers, duplicates found cheaply or late.
@Suite struct RouterPublishSplitTests {
    typealias F = RouterFixture
    let t = RouterFixture.topic

    /// A content id that counts its computations and knows the contents listed in `known`.
    final class CountingID: @unchecked Sendable {  // safe: the counters are behind `lock`
        let lock = Locked((computed: 0, local: 0, known: Set<[UInt8]>()))
        var function: MessageIDFunction {
            MessageIDFunction(contentBased: true, { [lock] m in lock.withLock { $0.computed += 1 }; return [UInt8](m.data) },
                              local: { [lock] m in lock.withLock { $0.local += 1 }; return [UInt8](m.data) },
                              known: { [lock] m in lock.withLock { $0.known.contains([UInt8](m.data)) } ? [UInt8](m.data) : nil })
        }
    }

    func router(_ ids: CountingID, peers n: Int) throws -> (GossipSubRouter, [PeerID]) {
        var config = F.config(1)
        config.messageID = ids.function
        var r = try GossipSubRouter(configuration: config)
        _ = try r.join(t, now: 0)
        let peers = (0..<n).map { F.peer(10 + $0) }
        for p in peers {
            _ = r.addPeer(p, protocol: .meshsub12, outbound: true, ip: nil, now: 0)
            _ = r.handleRPC(from: p, rpc: F.subscribe(t), now: 0)
        }
        _ = r.heartbeat(now: 0)
        return (r, peers)
    }

    @Test func copiesLeaveBeforeTheIdAndTheIdIsComputedOnce() throws {
        let ids = CountingID()
        var (r, peers) = try router(ids, peers: 4)
        #expect(r.meshPeers(of: t).count == 4)
        let (pending, sends) = try r.beginPublish(topic: t, data: Data([7, 7]), now: F.second)
        #expect(Set(sends.sends.map(\.0)) == Set(peers))
        #expect(ids.lock.withLock { ($0.computed, $0.local) } == (0, 0))
        let finish = r.finishPublish(pending, now: F.second)
        #expect(ids.lock.withLock { ($0.computed, $0.local) } == (0, 1))
        #expect(finish.sends.isEmpty && finish.deliveries.map(\.data) == [Data([7, 7])])
        #expect(finish.traces.contains { if case .publishMessage = $0 { true } else { false } })
        // Answered from the message cache under its real id.
        let iwant = r.handleRPC(from: peers[0], rpc: F.iwant([[7, 7]]), now: F.second)
        #expect(iwant.sent(to: peers[0]).flatMap(\.publish).map(\.data) == [Data([7, 7])])
        // Published again: unknown content goes out before the id shows the duplicate; nothing
        // is delivered or cached twice.
        let again = try r.publish(topic: t, data: [7, 7], now: 2 * F.second)
        #expect(again.sends.count == 4 && again.deliveries.isEmpty)
        #expect(again.traces.contains { if case .duplicateMessage = $0 { true } else { false } })
        // Content the id function knows: a no-op, nothing sent, no hashing.
        ids.lock.withLock { _ = $0.known.insert([7, 7]) }
        let known = try r.publish(topic: t, data: [7, 7], now: 3 * F.second)
        #expect(known.sends.isEmpty && known.deliveries.isEmpty)
        #expect(ids.lock.withLock { $0.local } == 2)
    }

    @Test func peersWithIDontWantsOutstandingWaitForTheId() throws {
        let ids = CountingID()
        var (r, peers) = try router(ids, peers: 3)
        // peers[0] does not want [1, 1] (ours, about to be published); peers[1] does not want
        // something else; peers[2] has sent nothing.
        for (p, unwanted) in [(peers[0], [UInt8]([1, 1])), (peers[1], [9, 9])] {
            var d = PBControlIDontWant()
            d.messageIds = [Data(unwanted)]
            _ = r.handleRPC(from: p, rpc: F.control { $0.idontwant = [d] }, now: F.second)
        }
        let (pending, sends) = try r.beginPublish(topic: t, data: Data([1, 1]), now: F.second)
        #expect(sends.sends.map(\.0) == [peers[2]])
        let finish = r.finishPublish(pending, now: F.second)
        #expect(finish.sends.map(\.0) == [peers[1]])
        #expect(finish.sent(to: peers[1]).flatMap(\.publish).map(\.data) == [Data([1, 1])])
    }
}
