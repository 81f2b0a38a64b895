import Foundation
import P2PCore
import Testing
@testable import Gossip

/// The validation pipeline: hand-off, outcomes, throttling, timeouts.
@Suite struct RouterValidationTests {
    typealias F = RouterFixture
    let t = RouterFixture.topic

    func joinedRouter(_ parameters: GossipSubParameters = .opNode, scoring: PeerScoring? = nil,
                      topics: [String] = [RouterFixture.topic]) throws -> (GossipSubRouter, [PeerID]) {
        var r = try F.router(1, parameters: parameters, scoring: scoring)
        let peers = (2...4).map(F.peer)
        for topic in topics { _ = try r.join(topic, now: 0) }
        for p in peers {
            _ = r.addPeer(p, protocol: .meshsub11, outbound: true, ip: nil, now: 0)
            var rpc = PBRPC()
            rpc.subscriptions = topics.map { PBRPC.SubOpts(topic: $0, subscribe: true) }
            _ = r.handleRPC(from: p, rpc: rpc, now: 0)
        }
        _ = r.heartbeat(now: 1)
        return (r, peers)
    }

    @Test func outcomesDeliverForwardOrDrop() throws {
        var (r, peers) = try joinedRouter()
        #expect(r.meshPeers(of: t).count == 3)
        let a = r.handleRPC(from: peers[0], rpc: F.message([1]), now: 2)
        let req = try #require(a.validations.first)
        #expect(req.topic == t && req.from == peers[0] && req.message.data == Data([1]))
        #expect(a.sends.isEmpty, "nothing forwarded before validation")
        let accepted = r.deliverValidationResult(req.id, outcome: .accept, now: 3)
        #expect(Set(accepted.sends.map(\.0)) == Set(peers.dropFirst()), "forwarded to the mesh except the sender")
        #expect(accepted.deliveries.count == 1)
        #expect(accepted.traces.contains(.deliverMessage(id: req.id, topic: t, from: peers[0])))
        // A second answer for the same id is ignored.
        #expect(r.deliverValidationResult(req.id, outcome: .accept, now: 3).isEmpty)

        let b = r.handleRPC(from: peers[1], rpc: F.message([2]), now: 4).validations[0]
        let rejected = r.deliverValidationResult(b.id, outcome: .reject, now: 5)
        #expect(rejected.sends.isEmpty && rejected.deliveries.isEmpty)
        #expect(rejected.rejectReasons == [.validationFailed])
        let c = r.handleRPC(from: peers[1], rpc: F.message([3]), now: 4).validations[0]
        let ignored = r.deliverValidationResult(c.id, outcome: .ignore, now: 5)
        #expect(ignored.sends.isEmpty && ignored.deliveries.isEmpty)
        #expect(ignored.rejectReasons == [.validationIgnored])
        // Rejected messages stay seen: a re-delivery is a duplicate, not validated again.
        #expect(r.handleRPC(from: peers[2], rpc: F.message([2]), now: 6).validations.isEmpty)
    }

    @Test func boundedInFlightPerTopicAndInTotalWithABoundedQueue() throws {
        var p = GossipSubParameters.opNode
        p.validationConcurrency = 4
        p.validationThrottle = 6
        p.validationQueueSize = 3
        var (r, peers) = try joinedRouter(p, topics: [t, "/other"])
        // Six messages in one RPC: 4 handed out (per-topic limit), 2 queued.
        var burst = PBRPC()
        burst.publish = (0..<6).map { F.message([1, UInt8($0)]).publish[0] }
        let first = r.handleRPC(from: peers[0], rpc: burst, now: 2)
        #expect(first.validations.map(\.message.data) == (0..<4).map { Data([1, UInt8($0)]) })
        #expect(r.stats.queuedValidations == 2)
        // Another topic has its own 4 slots, but the total (6) allows only 2 more; one more fits
        // the queue (3), and the next is dropped: "validation queue full", not marked seen.
        var requested = 0
        var reasons: [RejectReason] = []
        for i in 0..<4 {
            let a = r.handleRPC(from: peers[0], rpc: F.message([2, UInt8(i)], topic: "/other"), now: 2)
            requested += a.validations.count
            reasons += a.rejectReasons
        }
        #expect(requested == 2)
        #expect(reasons == [.validationQueueFull])
        #expect(r.stats.pendingValidations == 9)
        // Answering a /test/topic validation hands out the oldest queued message of that topic.
        let next = r.deliverValidationResult(first.validations[0].id, outcome: .accept, now: 3)
        #expect(next.validations.map(\.message.data) == [Data([1, 4])])
        // The dropped message was not marked seen: a later copy is accepted for validation.
        for v in first.validations.dropFirst() { _ = r.deliverValidationResult(v.id, outcome: .accept, now: 3) }
        let retry = r.handleRPC(from: peers[1], rpc: F.message([2, 3], topic: "/other"), now: 4)
        #expect(retry.rejectReasons.isEmpty)
        #expect(r.stats.pendingValidations <= 9)
    }

    @Test func burstsAnsweredSynchronouslyAreAllValidated() throws {
        // A host that answers each request at once still sees every message of a big RPC.
        let net = RouterTestNet()
        let a = F.peer(1), b = F.peer(2)
        net.add(try F.router(1))
        net.add(try F.router(2))
        try net.join(a)
        try net.join(b)
        net.connect(a, b)
        net.run()
        var rpc = PBRPC()
        rpc.publish = (0..<20).map { F.message([3, UInt8($0)]).publish[0] }
        net.apply(net.routers[b]?.handleRPC(from: a, rpc: rpc, now: net.now) ?? [], at: b)
        #expect(net.delivered[b]?.count == 20)
    }

    @Test func unansweredValidationsTimeOutAsIgnore() throws {
        var (r, peers) = try joinedRouter()
        let req = try #require(r.handleRPC(from: peers[0], rpc: F.message([1]), now: F.second).validations.first)
        _ = r.heartbeat(now: 3 * F.second)
        #expect(r.stats.pendingValidations == 1)
        let hb = r.heartbeat(now: 4 * F.second + 1)
        #expect(hb.rejectReasons == [.validationIgnored])
        #expect(r.stats.pendingValidations == 0)
        #expect(r.deliverValidationResult(req.id, outcome: .accept, now: 5 * F.second).isEmpty, "too late")
    }

    @Test func messagesForTopicsWeDidNotJoinAreIgnored() throws {
        var (r, peers) = try joinedRouter()
        let a = r.handleRPC(from: peers[0], rpc: F.message([1], topic: "/elsewhere"), now: 2)
        #expect(a.validations.isEmpty && a.rejectReasons.isEmpty)
    }
}
