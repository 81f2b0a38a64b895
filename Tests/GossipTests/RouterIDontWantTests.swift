import Foundation
import P2PCore
import Testing
@testable import Gossip

private typealias F = RouterFixture

/// gossipsub v1.2 IDONTWANT (`gossipsub-v1.2.md`; go-libp2p-pubsub `gossipsub.go`
/// `PreValidation`, `handleIDontWant`) and the p2pnode behaviour penalties for IWANT and
/// duplicate spam (docs/ARCHITECTURE.md, "Where each gossipsub rule lives").
@Suite struct RouterIDontWantTests {
    let t = F.topic

    /// A router joined to `t` with `peers` (protocol each) subscribed and grafted.
    private func meshRouter(_ peers: [(PeerID, GossipSubProtocol)], scoring: PeerScoring? = nil) throws -> GossipSubRouter {
        var r = try F.router(1, scoring: scoring)
        _ = try r.join(t, now: 0)
        for (peer, proto) in peers {
            _ = r.addPeer(peer, protocol: proto, outbound: true, ip: nil, now: 0)
            _ = r.handleRPC(from: peer, rpc: F.subscribe(t), now: 0)
        }
        _ = r.heartbeat(now: F.second / 2)
        return r
    }

    private func idontwant(_ ids: [[UInt8]]) -> PBRPC {
        F.control { var d = PBControlIDontWant(); d.messageIds = ids.map { Data($0) }; $0.idontwant = [d] }
    }

    private func unwanted(_ r: GossipSubRouter, _ peer: PeerID) -> Int {
        r.slotOf[peer].flatMap { r.peers[$0]?.unwanted.count } ?? -1
    }

    @Test func idontwantGoesToV12MeshPeersOnlyBeforeValidation() throws {
        let b = F.peer(2), c = F.peer(3), d = F.peer(4), e = F.peer(5)
        var r = try meshRouter([(b, .meshsub12), (c, .meshsub12), (d, .meshsub11)])
        // e speaks 1.2 and is subscribed but joins after the mesh was built: not a mesh peer.
        _ = r.addPeer(e, protocol: .meshsub12, outbound: false, ip: nil, now: F.second)
        _ = r.handleRPC(from: e, rpc: F.subscribe(t), now: F.second)
        #expect(Set(r.meshPeers(of: t)) == [b, c, d])
        let big = [UInt8](repeating: 7, count: 5000)
        let actions = r.handleRPC(from: b, rpc: F.message(big), now: F.second)
        // Announced while the message waits for validation (no forward yet).
        #expect(actions.validations.count == 1)
        #expect(actions.sent(to: c).flatMap(\.publish).isEmpty)
        #expect(actions.sent(to: c).flatMap(\.control.idontwant).flatMap(\.messageIds) == [Data(big)])
        #expect(actions.sent(to: b).isEmpty, "not to the sender")
        #expect(actions.sent(to: d).isEmpty, "not to a 1.1 peer")
        #expect(actions.sent(to: e).isEmpty, "not to a peer outside the mesh")
        // Just under the 1 KiB threshold: no IDONTWANT.
        let small = r.handleRPC(from: b, rpc: F.message([UInt8](repeating: 8, count: 1023)), now: F.second)
        #expect(small.sends.allSatisfy { $0.1.control.idontwant.isEmpty })
    }

    @Test func unwantedMessagesAreNeitherForwardedNorServedByIWant() throws {
        let b = F.peer(2), c = F.peer(3)
        var r = try meshRouter([(b, .meshsub12), (c, .meshsub12)])
        let data = [UInt8](repeating: 9, count: 100)   // the test id function: id = data
        /// c sends `m`; the validation is accepted; returns what the router sent.
        func receiveAndAccept(_ m: [UInt8]) -> [GossipAction] {
            let validations = r.handleRPC(from: c, rpc: F.message(m), now: F.second).validations
            return validations.flatMap { r.deliverValidationResult($0.id, outcome: .accept, now: F.second) }
        }
        _ = r.handleRPC(from: b, rpc: idontwant([data]), now: F.second)
        let forwarded = receiveAndAccept(data)
        #expect(forwarded.deliveries.count == 1)
        #expect(forwarded.sent(to: b).flatMap(\.publish).isEmpty, "b said it does not want it")
        #expect(r.handleRPC(from: b, rpc: F.iwant([data]), now: F.second).sends.isEmpty, "nor by IWANT")
        // Another message still reaches b.
        #expect(receiveAndAccept([1, 2, 3]).sent(to: b).flatMap(\.publish).count == 1)
    }

    @Test func idontwantIsBoundedPerRPCPerHeartbeatAndInTotal() throws {
        let b = F.peer(2)
        var p = GossipSubParameters.opNode
        p.maxIDontWantMessages = 3
        var r = try F.router(1, parameters: p)
        _ = try r.join(t, now: 0)
        _ = r.addPeer(b, protocol: .meshsub12, outbound: true, ip: nil, now: 0)
        // MaxIDontWantLength (10): only the first 10 ids of one RPC count.
        _ = r.handleRPC(from: b, rpc: idontwant((0..<25).map { [UInt8(1), UInt8($0)] }), now: 0)
        #expect(unwanted(r, b) == 10)
        // Ids longer than 128 bytes are ignored (but count toward the 10).
        _ = r.handleRPC(from: b, rpc: idontwant([[UInt8](repeating: 2, count: 129), [2, 1]]), now: 0)
        #expect(unwanted(r, b) == 11)
        // MaxIDontWantMessages (3 here) RPCs per heartbeat: the fourth is ignored.
        _ = r.handleRPC(from: b, rpc: idontwant([[3, 1]]), now: 0)
        _ = r.handleRPC(from: b, rpc: idontwant([[3, 2]]), now: 0)
        #expect(unwanted(r, b) == 12)
        _ = r.heartbeat(now: F.second / 2)
        _ = r.handleRPC(from: b, rpc: idontwant([[3, 3]]), now: F.second / 2)
        #expect(unwanted(r, b) == 13, "the counter resets at the heartbeat")
        // The table never exceeds maxUnwantedIDs, however many heartbeats pass.
        var q = GossipSubParameters.opNode
        q.idontwantMessageTTL = 1000
        var big = try F.router(1, parameters: q)
        _ = big.addPeer(b, protocol: .meshsub12, outbound: true, ip: nil, now: 0)
        var counter: UInt32 = 0
        for hb in 0..<12 {
            for _ in 0..<50 {
                let ids = (0..<10).map { _ -> [UInt8] in counter += 1; return withUnsafeBytes(of: counter) { [UInt8]($0) } }
                _ = big.handleRPC(from: b, rpc: idontwant(ids), now: UInt64(hb) * F.second)
            }
            _ = big.heartbeat(now: UInt64(hb) * F.second + 1)
        }
        #expect(counter == 6000)
        #expect(unwanted(big, b) == GossipSubRouter.maxUnwantedIDs)
    }

    @Test func iwantBeyondRetransmissionAddsBehaviourPenalty() throws {
        let b = F.peer(2)
        var r = try F.router(1, scoring: F.penaltyScoring)
        _ = try r.join(t, now: 0)
        _ = r.addPeer(b, protocol: .meshsub11, outbound: false, ip: nil, now: 0)
        _ = try r.publish(topic: t, data: [4, 2], now: 0)
        var served = 0
        for _ in 0..<5 {
            served += r.handleRPC(from: b, rpc: F.iwant([[4, 2]]), now: 0).sent(to: b).flatMap(\.publish).count
        }
        #expect(served == 3)
        // Two requests beyond GossipRetransmission: P7 = 2, weight −1, no threshold → −4.
        #expect(r.scoreSnapshot(of: b)?.behaviourPenalty == 2)
        #expect(r.score(of: b) == -4)
        // Unknown ids and the first three asks of another message cost nothing.
        _ = try r.publish(topic: t, data: [4, 3], now: 0)
        for _ in 0..<3 { _ = r.handleRPC(from: b, rpc: F.iwant([[4, 3], [0, 0]]), now: 0) }
        #expect(r.scoreSnapshot(of: b)?.behaviourPenalty == 2)
    }

    @Test func iwantSpamBelowTheGossipThresholdStillCounts() throws {
        let b = F.peer(2)
        var scoring = F.penaltyScoring
        scoring.thresholds.gossip = -0.5
        var r = try F.router(1, scoring: scoring)
        _ = try r.join(t, now: 0)
        _ = r.addPeer(b, protocol: .meshsub11, outbound: false, ip: nil, now: 0)
        _ = try r.publish(topic: t, data: [5], now: 0)
        for _ in 0..<4 { _ = r.handleRPC(from: b, rpc: F.iwant([[5]]), now: 0) }
        #expect(r.score(of: b) == -1, "the fourth ask: below the gossip threshold now")
        for _ in 0..<3 {
            #expect(r.handleRPC(from: b, rpc: F.iwant([[5]]), now: 0).sends.isEmpty, "not served")
        }
        #expect(r.scoreSnapshot(of: b)?.behaviourPenalty == 4)
    }

    @Test func thirdAndLaterCopiesFromOnePeerAddBehaviourPenalty() throws {
        let b = F.peer(2), c = F.peer(3)
        var r = try meshRouter([(b, .meshsub11), (c, .meshsub11)], scoring: F.penaltyScoring)
        let m = F.message([6, 6, 6])
        for _ in 0..<2 { _ = r.handleRPC(from: b, rpc: m, now: F.second) }
        _ = r.handleRPC(from: c, rpc: m, now: F.second)
        #expect(r.scoreSnapshot(of: b)?.behaviourPenalty == 0, "first delivery plus one race are free")
        for _ in 0..<3 { _ = r.handleRPC(from: b, rpc: m, now: F.second) }
        #expect(r.scoreSnapshot(of: b)?.behaviourPenalty == 3)
        #expect(r.scoreSnapshot(of: c)?.behaviourPenalty == 0, "counted per peer")
        // A new connection of the same peer starts from zero for the same id.
        _ = r.removePeer(c, now: F.second)
        _ = r.addPeer(c, protocol: .meshsub11, outbound: false, ip: nil, now: F.second)
        for _ in 0..<2 { _ = r.handleRPC(from: c, rpc: m, now: F.second) }
        #expect(r.scoreSnapshot(of: c)?.behaviourPenalty == 0)
    }

    @Test func forwardedMessagesAreEncodedOnceAndFramedIdentically() throws {
        let peers = (2..<8).map { F.peer($0) }
        var r = try meshRouter(peers.map { ($0, .meshsub12) })
        let actions = try r.publish(topic: t, data: [UInt8](repeating: 0x5a, count: 100_000), now: F.second)
        var encodings: [[UInt8]] = []
        for case .send(_, let rpc, let encoded, let ids) in actions where !rpc.publish.isEmpty {
            #expect(ids.count == rpc.publish.count)
            #expect(encoded.count == rpc.publish.count)
            let plain = try RPCFraming.encode(rpc, maxSize: 1 << 20)
            let shared = try RPCFraming.encode(rpc, encodedMessages: encoded, maxSize: 1 << 20)
            #expect(plain == shared)
            encodings += encoded
        }
        #expect(encodings.count == r.meshPeers(of: t).count && encodings.count >= 6)
        // One buffer shared by every peer's RPC.
        let addresses = Set(encodings.map { $0.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) } })
        #expect(addresses.count == 1)
    }

    @Test func accessorsReportProtocolAndUnwantedIDsUntilTheyExpire() throws {
        let b = F.peer(2), c = F.peer(3), stranger = F.peer(9)
        var r = try meshRouter([(b, .meshsub12), (c, .meshsub11)])
        #expect(r.protocolOf(b) == .meshsub12)
        #expect(r.protocolOf(c) == .meshsub11)
        #expect(r.protocolOf(stranger) == nil)
        let ids: [[UInt8]] = [[UInt8](repeating: 1, count: 20), [UInt8](repeating: 2, count: 20)]
        _ = r.handleRPC(from: b, rpc: idontwant(ids), now: F.second)
        #expect(r.unwantedIDs(of: b) == Set(ids.map { MessageID($0) }))
        #expect(r.unwantedIDs(of: c).isEmpty)
        #expect(r.unwantedIDs(of: stranger).isEmpty)
        // Remembered IDontWantMessageTTL (3) heartbeats: still there after two, gone after three.
        let half = F.second / 2
        for i: UInt64 in 1...2 { _ = r.heartbeat(now: F.second + i * half) }
        #expect(r.unwantedIDs(of: b).count == 2)
        _ = r.heartbeat(now: F.second + 3 * half)
        #expect(r.unwantedIDs(of: b).isEmpty)
        _ = r.removePeer(b, now: 3 * F.second)
        #expect(r.protocolOf(b) == nil)
    }
}
