import Foundation
import P2PCore
@testable import Gossip

/// Helpers for the router unit tests: deterministic peer ids and keys, configurations, and a
/// synchronous in-memory network that carries actions between routers.
enum RouterFixture {
    static let second: UInt64 = 1_000_000_000
    static let topic = "/test/topic"

    /// A deterministic Ed25519 key.
    static func key(_ i: Int) -> PrivateKey {
        var seed = [UInt8](repeating: 0, count: 32)
        withUnsafeBytes(of: UInt64(i + 1).bigEndian) { seed.replaceSubrange(24..<32, with: $0) }
        return .ed25519((try? Ed25519PrivateKey(seed: seed)) ?? Ed25519PrivateKey())
    }

    static func peer(_ i: Int) -> PeerID { key(i).peerID }

    /// A content-based id for StrictNoSign tests: the data itself (test messages are unique).
    static let dataID = MessageIDFunction(contentBased: true) { [UInt8]($0.data) }

    static func config(_ i: Int, parameters: GossipSubParameters = .opNode, scoring: PeerScoring? = nil,
                       policy: SignaturePolicy = .strictNoSign, filter: SubscriptionFilter = .unrestricted,
                       direct: Set<PeerID> = []) -> GossipSubConfiguration {
        let id: MessageIDFunction = policy.signs ? .fromAndSeqno : dataID
        return GossipSubConfiguration(localPeer: peer(i), parameters: parameters, scoring: scoring,
                                      signaturePolicy: policy, messageID: id, subscriptionFilter: filter,
                                      directPeers: direct, randomSeed: UInt64(i) &* 7919 &+ 1)
    }

    static func router(_ i: Int, parameters: GossipSubParameters = .opNode, scoring: PeerScoring? = nil,
                       policy: SignaturePolicy = .strictNoSign, filter: SubscriptionFilter = .unrestricted,
                       direct: Set<PeerID> = []) throws -> GossipSubRouter {
        try GossipSubRouter(configuration: config(i, parameters: parameters, scoring: scoring, policy: policy,
                                                  filter: filter, direct: direct))
    }

    /// Scoring with only P7 active (weight −1, no threshold) and permissive thresholds, so
    /// behaviour penalties can be read from the score.
    static let penaltyScoring = PeerScoring(
        parameters: PeerScoreParameters(behaviourPenaltyWeight: -1, behaviourPenaltyThreshold: 0,
                                        behaviourPenaltyDecay: 0.9, decayInterval: .seconds(1)),
        thresholds: PeerScoreThresholds(gossip: -100, publish: -500, graylist: -1000, acceptPX: 0, opportunisticGraft: 0))

    static func subscribe(_ topics: String..., subscribe: Bool = true) -> PBRPC {
        var rpc = PBRPC()
        rpc.subscriptions = topics.map { PBRPC.SubOpts(topic: $0, subscribe: subscribe) }
        return rpc
    }

    static func control(_ build: (inout PBControlMessage) -> Void) -> PBRPC {
        var c = PBControlMessage()
        build(&c)
        var rpc = PBRPC()
        rpc.control = c
        return rpc
    }

    static func graft(_ topic: String) -> PBRPC {
        control { var g = PBControlGraft(); g.topicID = topic; $0.graft = [g] }
    }

    static func prune(_ topic: String, backoff: UInt64? = nil) -> PBRPC {
        control { var p = PBControlPrune(); p.topicID = topic; if let b = backoff { p.backoff = b }; $0.prune = [p] }
    }

    static func ihave(_ topic: String, _ ids: [[UInt8]]) -> PBRPC {
        control { var h = PBControlIHave(); h.topicID = topic; h.messageIds = ids.map { Data($0) }; $0.ihave = [h] }
    }

    static func iwant(_ ids: [[UInt8]]) -> PBRPC {
        control { var w = PBControlIWant(); w.messageIds = ids.map { Data($0) }; $0.iwant = [w] }
    }

    /// A StrictNoSign message.
    static func message(_ data: [UInt8], topic: String = topic) -> PBRPC {
        var m = PBMessage()
        m.data = Data(data)
        m.topic = topic
        return PBRPC(message: m)
    }
}

extension Array where Element == GossipAction {
    /// RPCs sent to `peer`.
    func sent(to peer: PeerID) -> [PBRPC] {
        compactMap { if case .send(let p, let rpc, _, _) = $0, p == peer { return rpc } else { return nil } }
    }

    var sends: [(PeerID, PBRPC)] {
        compactMap { if case .send(let p, let rpc, _, _) = $0 { return (p, rpc) } else { return nil } }
    }

    var validations: [ValidationRequest] {
        compactMap { if case .validate(let r) = $0 { return r } else { return nil } }
    }

    var deliveries: [PBMessage] {
        compactMap { if case .deliver(_, let m, _, _) = $0 { return m } else { return nil } }
    }

    var traces: [GossipTraceEvent] {
        compactMap { if case .trace(let e) = $0 { return e } else { return nil } }
    }

    var rejectReasons: [RejectReason] {
        traces.compactMap { if case .rejectMessage(_, _, _, let r) = $0 { return r } else { return nil } }
    }

    var grafts: [String] { sends.flatMap { $0.1.control.graft.map(\.topicID) } }
    var prunes: [PBControlPrune] { sends.flatMap { $0.1.control.prune } }
}

/// A synchronous network of routers: RPCs are delivered in FIFO order when `run` is called;
/// validations are answered at once with `outcome` (nil: left pending in `pendingValidations`).
final class RouterTestNet {
    var routers: [PeerID: GossipSubRouter] = [:]
    var now: UInt64 = 1_000 * RouterFixture.second
    var outcome: ValidationOutcome? = .accept
    var queue: [(from: PeerID, to: PeerID, rpc: PBRPC)] = []
    var delivered: [PeerID: [PBMessage]] = [:]
    var traces: [PeerID: [GossipTraceEvent]] = [:]
    var pendingValidations: [PeerID: [ValidationRequest]] = [:]
    var sentCount = 0

    func add(_ router: GossipSubRouter) { routers[router.localPeer] = router }

    /// Connects `a` → `b` (outbound from a).
    func connect(_ a: PeerID, _ b: PeerID) {
        apply(routers[a]?.addPeer(b, protocol: .meshsub11, outbound: true, ip: nil, now: now) ?? [], at: a)
        apply(routers[b]?.addPeer(a, protocol: .meshsub11, outbound: false, ip: nil, now: now) ?? [], at: b)
    }

    func apply(_ actions: [GossipAction], at node: PeerID) {
        for action in actions {
            switch action {
            case .send(let to, let rpc, _, _):
                queue.append((node, to, rpc))
                sentCount += 1
                routers[node]?.rpcWritten(to: to)
            case .validate(let request):
                if let outcome {
                    apply(routers[node]?.deliverValidationResult(request.id, outcome: outcome, now: now) ?? [], at: node)
                } else {
                    pendingValidations[node, default: []].append(request)
                }
            case .deliver(_, let message, _, _):
                delivered[node, default: []].append(message)
            case .trace(let e):
                traces[node, default: []].append(e)
            case .graylisted, .peerExchange:
                break
            }
        }
    }

    /// Delivers queued RPCs until none are left (bounded).
    func run(maxSteps: Int = 100_000) {
        var steps = 0
        while !queue.isEmpty && steps < maxSteps {
            let (from, to, rpc) = queue.removeFirst()
            if routers[to] != nil {
                apply(routers[to]?.handleRPC(from: from, rpc: rpc, now: now) ?? [], at: to)
            }
            steps += 1
        }
    }

    func heartbeat(advance: UInt64 = RouterFixture.second / 2) {
        now += advance
        for id in routers.keys.sorted() {
            apply(routers[id]?.heartbeat(now: now) ?? [], at: id)
        }
        run()
    }

    func publish(_ node: PeerID, _ data: [UInt8], topic: String = RouterFixture.topic) throws {
        let actions = try routers[node]?.publish(topic: topic, data: data, now: now) ?? []
        apply(actions, at: node)
        run()
    }

    func join(_ node: PeerID, _ topic: String = RouterFixture.topic) throws {
        apply(try routers[node]?.join(topic, now: now) ?? [], at: node)
        run()
    }
}
