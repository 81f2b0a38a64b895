import Foundation
import P2PCore
import Gossip

/// A gossipsub network on the simulation harness: one `GossipSubRouter` per node, RPCs carried
/// as `SimNetwork` datagrams (seeded latency, jitter, loss, partitions), heartbeats scheduled per
/// node with a random phase, validation answered by a pluggable validator, and scripted
/// attacker nodes that are not routers at all.
final class GossipSim {
    static let second: UInt64 = 1_000_000_000
    static let topic = "/optimism/10/2/blocks"

    let net: SimNetwork
    let parameters: GossipSubParameters
    var routers: [GossipSubRouter?]
    let ids: [PeerID]
    let index: [PeerID: Int]
    var rng: SimRNG
    private(set) var links: Set<Int> = []   // a * count + b, a < b
    var neighbours: [[Int]]
    /// Links cut by `partition`, as (dialer, listener), restored by `heal`.
    private var cut: [(Int, Int)] = []
    /// The dialer of each link, by link key.
    private var dialer: [Int: Int] = [:]

    /// Nodes that are scripted attackers: their received RPCs go to `attackerReceive`.
    var attackers: Set<Int> = []
    var attackerReceive: (_ attacker: Int, _ from: Int, _ rpc: PBRPC) -> Void = { _, _, _ in }
    /// The application's verdict for a message at a node (default: accept).
    var validator: (_ node: Int, _ request: ValidationRequest) -> ValidationOutcome = { _, _ in .accept }
    /// How long validation takes (0: answered at once), as a block's checks would.
    var validationDelay: UInt64 = 0
    /// The gossipsub version every link negotiates.
    let protocolVersion: GossipSubProtocol

    /// node → ids of messages delivered there.
    var delivered: [Set<MessageID>]
    var validations = 0
    var rpcsDelivered = 0
    /// Sees every RPC as it arrives at any node.
    var observe: (_ node: Int, _ from: Int, _ rpc: PBRPC) -> Void = { _, _, _ in }
    /// Called after every heartbeat of an honest node.
    var afterHeartbeat: (_ node: Int) -> Void = { _ in }
    private var publishCounter: UInt64 = 0

    /// `messageID`: the first 8 bytes of the data, which `publish` fills with a unique counter.
    static let messageID = MessageIDFunction(contentBased: true) { Array($0.data.prefix(8)) }

    init(seed: UInt64, nodes: Int, parameters: GossipSubParameters = .opNode, scoring: PeerScoring? = nil,
         model: SimNetwork.LinkModel = .init(), attackers: Set<Int> = [],
         protocolVersion: GossipSubProtocol = .meshsub11) throws {
        self.protocolVersion = protocolVersion
        net = SimNetwork(seed: seed, model: model)
        rng = SimRNG(seed: seed ^ 0xa5a5_5a5a)
        self.parameters = parameters
        var ids: [PeerID] = []
        for i in 0..<nodes {
            var seedBytes = [UInt8](repeating: 0, count: 32)
            withUnsafeBytes(of: UInt64(i + 1).bigEndian) { seedBytes.replaceSubrange(24..<32, with: $0) }
            ids.append(PrivateKey.ed25519(try Ed25519PrivateKey(seed: seedBytes)).peerID)
        }
        self.ids = ids
        index = Dictionary(uniqueKeysWithValues: ids.enumerated().map { ($1, $0) })
        neighbours = Array(repeating: [], count: nodes)
        delivered = Array(repeating: [], count: nodes)
        self.attackers = attackers
        routers = []
        for i in 0..<nodes {
            if attackers.contains(i) {
                routers.append(nil)
                continue
            }
            let config = GossipSubConfiguration(
                localPeer: ids[i], parameters: parameters, scoring: scoring, signaturePolicy: .strictNoSign,
                messageID: Self.messageID, subscriptionFilter: .allowList([Self.topic]),
                randomSeed: seed &+ UInt64(i) &* 0x9e37_79b9, traceKinds: [])
            routers.append(try GossipSubRouter(configuration: config))
        }
    }

    var count: Int { ids.count }
    var honest: [Int] { (0..<count).filter { !attackers.contains($0) } }

    // MARK: topology

    func connect(_ a: Int, _ b: Int) {
        guard a != b else { return }
        let key = min(a, b) * count + max(a, b)
        guard links.insert(key).inserted else { return }
        neighbours[a].append(b)
        neighbours[b].append(a)
        dialer[key] = a
        attach(a, b)
    }

    private func attach(_ a: Int, _ b: Int) {
        if routers[a] != nil { apply(a, routers[a]?.addPeer(ids[b], protocol: protocolVersion, outbound: true, ip: nil, now: net.now) ?? []) }
        if routers[b] != nil { apply(b, routers[b]?.addPeer(ids[a], protocol: protocolVersion, outbound: false, ip: nil, now: net.now) ?? []) }
    }

    /// Each honest node dials `dials` random other honest nodes (a connected graph in practice;
    /// checked by the caller with `isConnected`).
    func randomTopology(dials: ClosedRange<Int>) {
        let h = honest
        for a in h {
            let n = dials.lowerBound + Int(rng.next() % UInt64(dials.count))
            var made = 0
            var tries = 0
            while made < n && tries < 10 * n {
                tries += 1
                let b = h[Int(rng.next() % UInt64(h.count))]
                let key = min(a, b) * count + max(a, b)
                if b != a && !links.contains(key) {
                    connect(a, b)
                    made += 1
                }
            }
        }
    }

    /// Cuts `nodes` off from the rest: traffic is dropped and, as TCP connections would, every
    /// link across the cut closes (both routers remove the peer).
    func partition(_ nodes: [Int]) {
        let inside = Set(nodes)
        net.partition(nodes, into: 1)
        for key in links.sorted() {
            let a = key / count, b = key % count
            guard inside.contains(a) != inside.contains(b) else { continue }
            let d = dialer[key] ?? a
            let l = d == a ? b : a
            cut.append((d, l))
            if routers[d] != nil { apply(d, routers[d]?.removePeer(ids[l], now: net.now) ?? []) }
            if routers[l] != nil { apply(l, routers[l]?.removePeer(ids[d], now: net.now) ?? []) }
        }
    }

    /// Ends the partition; the cut links are redialled at once.
    func heal() {
        net.heal()
        for (d, l) in cut { attach(d, l) }
        cut.removeAll()
    }

    func isConnected() -> Bool {
        let h = honest
        guard let start = h.first else { return true }
        var seen: Set<Int> = [start]
        var stack = [start]
        while let n = stack.popLast() {
            for m in neighbours[n] where !attackers.contains(m) && seen.insert(m).inserted { stack.append(m) }
        }
        return seen.count == h.count
    }

    // MARK: driving

    func joinAll() throws {
        for i in honest { apply(i, try routers[i]?.join(Self.topic, now: net.now) ?? []) }
    }

    /// Schedules every honest node's heartbeat at a random phase, forever (until the run stops).
    func startHeartbeats() {
        let interval = parameters.heartbeatInterval.clampedNanoseconds
        for i in honest {
            let phase = rng.next() % interval
            net.scheduler.schedule(after: phase) { [weak self] in self?.heartbeat(i, every: interval) }
        }
    }

    private func heartbeat(_ node: Int, every interval: UInt64) {
        apply(node, routers[node]?.heartbeat(now: net.now) ?? [])
        afterHeartbeat(node)
        net.scheduler.schedule(after: interval) { [weak self] in self?.heartbeat(node, every: interval) }
    }

    /// Publishes a unique message from `node`; returns its id.
    @discardableResult
    func publish(from node: Int, size: Int = 64) throws -> MessageID {
        publishCounter += 1
        var data = withUnsafeBytes(of: publishCounter.bigEndian) { [UInt8]($0) }
        data += [UInt8](repeating: UInt8(truncatingIfNeeded: node), count: max(0, size - 8))
        apply(node, try routers[node]?.publish(topic: Self.topic, data: data, now: net.now) ?? [])
        return MessageID(Array(data.prefix(8)))
    }

    /// Sends `rpc` from `from` (an attacker, usually) to `to` over the simulated network.
    func send(from: Int, to: Int, _ rpc: PBRPC) {
        net.send(from: from, to: to) { [weak self] in self?.receive(at: to, from: from, rpc) }
    }

    func apply(_ node: Int, _ actions: [GossipAction]) {
        for action in actions {
            switch action {
            case .send(let peer, let rpc, _, _):
                routers[node]?.rpcWritten(to: peer)
                guard let to = index[peer] else { continue }
                send(from: node, to: to, rpc)
            case .validate(let request):
                validations += 1
                let outcome = validator(node, request)
                if validationDelay == 0 {
                    apply(node, routers[node]?.deliverValidationResult(request.id, outcome: outcome, now: net.now) ?? [])
                } else {
                    net.scheduler.schedule(after: validationDelay) { [weak self] in
                        guard let self else { return }
                        self.apply(node, self.routers[node]?.deliverValidationResult(request.id, outcome: outcome, now: self.net.now) ?? [])
                    }
                }
            case .deliver(_, let message, _, _):
                delivered[node].insert(MessageID(Array(message.data.prefix(8))))
            case .trace, .graylisted, .peerExchange:
                break
            }
        }
    }

    private func receive(at node: Int, from: Int, _ rpc: PBRPC) {
        rpcsDelivered += 1
        observe(node, from, rpc)
        if attackers.contains(node) {
            attackerReceive(node, from, rpc)
            return
        }
        apply(node, routers[node]?.handleRPC(from: ids[from], rpc: rpc, now: net.now) ?? [])
    }

    func run(for duration: UInt64) {
        net.scheduler.run(until: net.now + duration)
    }

    /// Honest nodes that have not delivered `id`.
    func missing(_ id: MessageID) -> [Int] {
        honest.filter { !delivered[$0].contains(id) }
    }

    func meshSize(_ node: Int) -> Int { routers[node]?.meshPeers(of: Self.topic).count ?? 0 }

    /// `node`'s score of `peer`.
    func score(at node: Int, of peer: Int) -> Double { routers[node]?.score(of: ids[peer]) ?? 0 }
}
