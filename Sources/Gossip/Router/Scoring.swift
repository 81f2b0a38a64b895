import P2PCore

/// Gossipsub v1.1 peer scoring (libp2p specs `gossipsub-v1.1.md` "The Score Function";
/// go-libp2p-pubsub `score.go`):
///
///     score = min(Σ_topics topicWeight·(P1·w1 + P2·w2 + P3·w3 + P3b·w3b + P4·w4), TopicScoreCap)
///             + P5·w5 + Σ_ips P6·w6 + P7·w7
///
/// - P1 time in mesh (quanta, capped); P2 first deliveries (capped); P3 the squared deficit of
///   mesh deliveries below the threshold once active; P3b the sticky squared deficit added when
///   the peer leaves the mesh under-delivering; P4 invalid messages squared;
/// - P5 the application score; P6 the squared surplus of peers sharing an IP beyond the threshold;
///   P7 the squared excess of behaviour penalties over the threshold.
///
/// Counters decay every DecayInterval (to 0 below DecayToZero). A disconnected peer's score is
/// retained for RetainScore if it is not positive, so reconnecting does not clear a penalty.
/// Only topics with parameters are tracked (op-node sets none, spec §3 "Score effects").
struct PeerScore {
    struct TopicStats {
        var inMesh = false
        var graftTime: UInt64 = 0
        var meshTime: UInt64 = 0
        var firstMessageDeliveries = 0.0
        var meshMessageDeliveries = 0.0
        var meshMessageDeliveriesActive = false
        var meshFailurePenalty = 0.0
        var invalidMessageDeliveries = 0.0
    }

    struct PeerStats {
        var connected = true
        var expires: UInt64 = 0
        /// In insertion order, so sums are computed in a deterministic order.
        var topics: [(name: String, stats: TopicStats)] = []
        var ips: [String] = []
        var behaviourPenalty = 0.0
        var applicationScore = 0.0
        var cached: Double?
        var cachedEpoch: UInt64 = 0

        func topicIndex(_ name: String) -> Int? { topics.firstIndex { $0.name == name } }
    }

    enum DeliveryStatus { case unknown, valid, invalid, ignored }

    struct DeliveryRecord {
        var status = DeliveryStatus.unknown
        var validated: UInt64 = 0
        var peers: Set<PeerID> = []
    }

    /// Nanosecond forms of a topic's durations.
    private struct TopicTimes {
        let quantum: UInt64
        let window: UInt64
        let activation: UInt64
    }

    let params: PeerScoreParameters
    let decayInterval: UInt64
    private let retain: UInt64
    private let deliveryTTL: UInt64
    private let deliveryCapacity: Int
    private let times: [String: TopicTimes]
    private let whitelist: Set<String>

    private var stats: [PeerID: PeerStats] = [:]
    private var peersByIP: [String: Set<PeerID>] = [:]
    private var deliveries: [MessageID: DeliveryRecord] = [:]
    private var deliveryOrder: [(id: MessageID, expires: UInt64)] = []
    private var deliveryHead = 0
    /// Bumped whenever a change can move scores of peers other than the one touched (IP
    /// colocation, decay); per-peer caches from an older epoch are stale.
    private var epoch: UInt64 = 1
    /// Bumped on every change that can move any score, so callers can cache scores cheaply.
    private(set) var version: UInt64 = 1

    init(params: PeerScoreParameters, deliveryTTL: UInt64, deliveryCapacity: Int) {
        self.params = params
        self.decayInterval = params.decayInterval.clampedNanoseconds
        self.retain = params.retainScore.clampedNanoseconds
        self.deliveryTTL = deliveryTTL
        self.deliveryCapacity = max(1, deliveryCapacity)
        self.times = params.topics.mapValues {
            TopicTimes(quantum: max(1, $0.timeInMeshQuantum.clampedNanoseconds),
                       window: $0.meshMessageDeliveriesWindow.clampedNanoseconds,
                       activation: $0.meshMessageDeliveriesActivation.clampedNanoseconds)
        }
        self.whitelist = Set(params.ipColocationFactorWhitelist.flatMap(Self.colocationKeys))
    }

    func isScored(_ topic: String) -> Bool { times[topic] != nil }

    var trackedPeers: Int { stats.count }

    // MARK: score

    mutating func score(_ peer: PeerID) -> Double {
        guard let i = stats.index(forKey: peer) else { return 0 }
        if let c = stats.values[i].cached, stats.values[i].cachedEpoch == epoch { return c }
        let s = compute(stats.values[i]).total
        stats.values[i].cached = s
        stats.values[i].cachedEpoch = epoch
        return s
    }

    /// The score without updating the cache (for read-only callers).
    func peekScore(_ peer: PeerID) -> Double {
        guard let ps = stats[peer] else { return 0 }
        if let c = ps.cached, ps.cachedEpoch == epoch { return c }
        return compute(ps).total
    }

    func snapshot(_ peer: PeerID) -> PeerScoreSnapshot? {
        guard let ps = stats[peer] else { return nil }
        let c = compute(ps)
        var topics: [String: TopicScoreSnapshot] = [:]
        for (name, t) in ps.topics {
            topics[name] = TopicScoreSnapshot(
                timeInMesh: t.inMesh ? .nanoseconds(Int64(clamping: t.meshTime)) : .zero,
                firstMessageDeliveries: t.firstMessageDeliveries, meshMessageDeliveries: t.meshMessageDeliveries,
                meshFailurePenalty: t.meshFailurePenalty, invalidMessageDeliveries: t.invalidMessageDeliveries)
        }
        return PeerScoreSnapshot(score: c.total, topicScore: c.topics, topics: topics,
                                 applicationScore: ps.applicationScore, ipColocationFactor: c.colocationSurplus,
                                 behaviourPenalty: ps.behaviourPenalty, connected: ps.connected)
    }

    var snapshotPeers: [PeerID] { Array(stats.keys) }

    private func compute(_ ps: PeerStats) -> (total: Double, topics: Double, colocationSurplus: Int) {
        var score = 0.0
        for (name, t) in ps.topics {
            guard let tp = params.topics[name], let tt = times[name] else { continue }
            var topicScore = 0.0
            if t.inMesh {   // P1
                let p1 = min(Double(t.meshTime / tt.quantum), tp.timeInMeshCap)
                topicScore += p1 * tp.timeInMeshWeight
            }
            topicScore += t.firstMessageDeliveries * tp.firstMessageDeliveriesWeight   // P2
            if t.meshMessageDeliveriesActive && t.meshMessageDeliveries < tp.meshMessageDeliveriesThreshold {   // P3
                let deficit = tp.meshMessageDeliveriesThreshold - t.meshMessageDeliveries
                topicScore += deficit * deficit * tp.meshMessageDeliveriesWeight
            }
            topicScore += t.meshFailurePenalty * tp.meshFailurePenaltyWeight   // P3b
            topicScore += t.invalidMessageDeliveries * t.invalidMessageDeliveries * tp.invalidMessageDeliveriesWeight   // P4
            score += topicScore * tp.topicWeight
        }
        if params.topicScoreCap > 0 && score > params.topicScoreCap { score = params.topicScoreCap }
        let topics = score
        score += ps.applicationScore * params.appSpecificWeight   // P5
        var surplusTotal = 0
        for ip in ps.ips where !whitelist.contains(ip) {   // P6
            let n = peersByIP[ip]?.count ?? 0
            if n > params.ipColocationFactorThreshold {
                let surplus = n - params.ipColocationFactorThreshold
                surplusTotal += surplus
                score += Double(surplus * surplus) * params.ipColocationFactorWeight
            }
        }
        if ps.behaviourPenalty > params.behaviourPenaltyThreshold {   // P7
            let excess = ps.behaviourPenalty - params.behaviourPenaltyThreshold
            score += excess * excess * params.behaviourPenaltyWeight
        }
        return (score, topics, surplusTotal)
    }

    // MARK: peers

    mutating func addPeer(_ peer: PeerID, ip: IPAddress?) {
        let ips = ip.map(Self.colocationKeys) ?? []
        var ps = stats[peer] ?? PeerStats()
        ps.connected = true
        setIPs(peer, new: ips, old: ps.ips)
        ps.ips = ips
        ps.cached = nil
        stats[peer] = ps
        epoch &+= 1
        version &+= 1
    }

    mutating func removePeer(_ peer: PeerID, now: UInt64) {
        guard var ps = stats[peer] else { return }
        if compute(ps).total > 0 {
            removeIPs(peer, ps.ips)
            stats[peer] = nil
            epoch &+= 1
            version &+= 1
            return
        }
        for i in ps.topics.indices {
            ps.topics[i].stats.firstMessageDeliveries = 0
            if ps.topics[i].stats.inMesh, let tp = params.topics[ps.topics[i].name] {
                Self.applyMeshFailurePenalty(&ps.topics[i].stats, threshold: tp.meshMessageDeliveriesThreshold)
            }
            ps.topics[i].stats.inMesh = false
        }
        ps.connected = false
        ps.expires = now &+ retain
        ps.cached = nil
        stats[peer] = ps
        version &+= 1
    }

    mutating func addPenalty(_ peer: PeerID, _ count: Int) {
        guard stats[peer] != nil else { return }
        stats[peer]?.behaviourPenalty += Double(count)
        stats[peer]?.cached = nil
        version &+= 1
    }

    mutating func setApplicationScore(_ peer: PeerID, _ value: Double) {
        guard stats[peer] != nil else { return }
        stats[peer]?.applicationScore = value
        stats[peer]?.cached = nil
        version &+= 1
    }

    // MARK: mesh

    mutating func graft(_ peer: PeerID, topic: String, now: UInt64) {
        withTopicStats(peer, topic) { t in
            t.inMesh = true
            t.graftTime = now
            t.meshTime = 0
            t.meshMessageDeliveriesActive = false
        }
    }

    mutating func prune(_ peer: PeerID, topic: String) {
        guard let tp = params.topics[topic] else { return }
        withTopicStats(peer, topic) { t in
            Self.applyMeshFailurePenalty(&t, threshold: tp.meshMessageDeliveriesThreshold)
            t.inMesh = false
        }
    }

    /// P3b: a peer leaving the mesh with an active delivery deficit keeps it, squared. P3
    /// itself stops applying (spec: P3 is for mesh peers; rust-libp2p does the same). go leaves
    /// the activation flag set, so a pruned peer there keeps paying P3 on top of P3b until it is
    /// grafted again.
    private static func applyMeshFailurePenalty(_ t: inout TopicStats, threshold: Double) {
        if t.meshMessageDeliveriesActive && t.meshMessageDeliveries < threshold {
            let deficit = threshold - t.meshMessageDeliveries
            t.meshFailurePenalty += deficit * deficit
        }
        t.meshMessageDeliveriesActive = false
    }

    // MARK: message deliveries (the tracer events of go's peerScore)

    /// A message began validation.
    mutating func validateMessage(_ id: MessageID, topic: String, now: UInt64) {
        guard isScored(topic) else { return }
        _ = recordIndex(id, now: now)
    }

    /// A message was accepted: `from` delivered it first; peers that delivered it during
    /// validation get mesh-delivery credit.
    mutating func deliverMessage(_ id: MessageID, topic: String, from: PeerID, now: UInt64) {
        guard isScored(topic) else { return }
        markFirstMessageDelivery(from, topic: topic)
        let i = recordIndex(id, now: now)
        guard deliveries.values[i].status == .unknown else { return }
        deliveries.values[i].status = .valid
        deliveries.values[i].validated = now
        let peers = deliveries.values[i].peers
        for p in peers where p != from {
            markDuplicateMessageDelivery(p, topic: topic, validated: nil, now: now)
        }
    }

    /// A message was rejected (or ignored, or dropped before validation) for `reason`.
    mutating func rejectMessage(_ id: MessageID, topic: String, from: PeerID, reason: RejectReason, now: UInt64) {
        guard isScored(topic) else { return }
        switch reason {
        case .missingSignature, .invalidSignature, .unexpectedSignature, .unexpectedAuthInfo, .selfOrigin:
            markInvalidMessageDelivery(from, topic: topic)
            return
        case .validationQueueFull:
            // Dropped before validation: we cannot tell whether it (or its id) is genuine.
            return
        case .validationIgnored, .validationFailed:
            break
        }
        let i = recordIndex(id, now: now)
        guard deliveries.values[i].status == .unknown else { return }
        switch reason {
        case .validationIgnored:
            deliveries.values[i].status = .ignored
            deliveries.values[i].peers = []
        default:
            deliveries.values[i].status = .invalid
            let peers = deliveries.values[i].peers
            deliveries.values[i].peers = []
            markInvalidMessageDelivery(from, topic: topic)
            for p in peers { markInvalidMessageDelivery(p, topic: topic) }
        }
    }

    /// `from` sent a message we had already seen.
    mutating func duplicateMessage(_ id: MessageID, topic: String, from: PeerID, now: UInt64) {
        guard isScored(topic) else { return }
        let i = recordIndex(id, now: now)
        guard !deliveries.values[i].peers.contains(from) else { return }
        switch deliveries.values[i].status {
        case .unknown:
            deliveries.values[i].peers.insert(from)
        case .valid:
            deliveries.values[i].peers.insert(from)
            markDuplicateMessageDelivery(from, topic: topic, validated: deliveries.values[i].validated, now: now)
        case .invalid:
            markInvalidMessageDelivery(from, topic: topic)
        case .ignored:
            break
        }
    }

    private mutating func markFirstMessageDelivery(_ peer: PeerID, topic: String) {
        guard let tp = params.topics[topic] else { return }
        withTopicStats(peer, topic) { t in
            t.firstMessageDeliveries = min(t.firstMessageDeliveries + 1, tp.firstMessageDeliveriesCap)
            if t.inMesh {
                t.meshMessageDeliveries = min(t.meshMessageDeliveries + 1, tp.meshMessageDeliveriesCap)
            }
        }
    }

    /// Counts a duplicate toward P3 if the peer is in the mesh and it came within the delivery
    /// window after validation (`validated` nil: it came during validation).
    private mutating func markDuplicateMessageDelivery(_ peer: PeerID, topic: String, validated: UInt64?, now: UInt64) {
        guard let tp = params.topics[topic], let tt = times[topic] else { return }
        if let v = validated, now > v &+ tt.window { return }
        withTopicStats(peer, topic) { t in
            guard t.inMesh else { return }
            t.meshMessageDeliveries = min(t.meshMessageDeliveries + 1, tp.meshMessageDeliveriesCap)
        }
    }

    private mutating func markInvalidMessageDelivery(_ peer: PeerID, topic: String) {
        withTopicStats(peer, topic) { t in t.invalidMessageDeliveries += 1 }
    }

    /// Runs `body` on the peer's stats for a scored topic, creating them if needed (go
    /// `getTopicStats`). Unknown peers and unscored topics are left alone.
    private mutating func withTopicStats(_ peer: PeerID, _ topic: String, _ body: (inout TopicStats) -> Void) {
        guard isScored(topic), let i = stats.index(forKey: peer) else { return }
        if let j = stats.values[i].topicIndex(topic) {
            body(&stats.values[i].topics[j].stats)
        } else {
            var t = TopicStats()
            body(&t)
            stats.values[i].topics.append((topic, t))
        }
        stats.values[i].cached = nil
        version &+= 1
    }

    // MARK: delivery records

    private mutating func recordIndex(_ id: MessageID, now: UInt64) -> Dictionary<MessageID, DeliveryRecord>.Index {
        if let i = deliveries.index(forKey: id) { return i }
        if deliveries.count >= deliveryCapacity { evictOldestRecord() }
        deliveries[id] = DeliveryRecord()
        deliveryOrder.append((id, now &+ deliveryTTL))
        return deliveries.index(forKey: id) ?? deliveries.startIndex   // safe: just inserted
    }

    private mutating func evictOldestRecord() {
        if deliveryHead < deliveryOrder.count {
            deliveries[deliveryOrder[deliveryHead].id] = nil
            deliveryHead += 1
        }
    }

    /// Drops delivery records older than the seen TTL (go `gcDeliveryRecords`).
    mutating func collectGarbage(now: UInt64) {
        while deliveryHead < deliveryOrder.count, deliveryOrder[deliveryHead].expires < now {
            deliveries[deliveryOrder[deliveryHead].id] = nil
            deliveryHead += 1
        }
        if deliveryHead > 1024 && deliveryHead * 2 > deliveryOrder.count {
            deliveryOrder.removeFirst(deliveryHead)
            deliveryHead = 0
        }
    }

    var deliveryRecordCount: Int { deliveries.count }

    // MARK: decay

    /// Decays every counter of connected peers and forgets disconnected peers whose retention
    /// expired (go `refreshScores`). Called once per DecayInterval.
    mutating func refresh(now: UInt64) {
        let dtz = params.decayToZero
        func decay(_ v: inout Double, _ factor: Double) {
            v *= factor
            if v < dtz { v = 0 }
        }
        for peer in Array(stats.keys) {
            guard var ps = stats[peer] else { continue }
            if !ps.connected {
                if now > ps.expires {
                    removeIPs(peer, ps.ips)
                    stats[peer] = nil
                }
                continue
            }
            for i in ps.topics.indices {
                guard let tp = params.topics[ps.topics[i].name], let tt = times[ps.topics[i].name] else { continue }
                decay(&ps.topics[i].stats.firstMessageDeliveries, tp.firstMessageDeliveriesDecay)
                decay(&ps.topics[i].stats.meshMessageDeliveries, tp.meshMessageDeliveriesDecay)
                decay(&ps.topics[i].stats.meshFailurePenalty, tp.meshFailurePenaltyDecay)
                decay(&ps.topics[i].stats.invalidMessageDeliveries, tp.invalidMessageDeliveriesDecay)
                if ps.topics[i].stats.inMesh {
                    ps.topics[i].stats.meshTime = now &- ps.topics[i].stats.graftTime
                    if ps.topics[i].stats.meshTime > tt.activation {
                        ps.topics[i].stats.meshMessageDeliveriesActive = true
                    }
                }
            }
            decay(&ps.behaviourPenalty, params.behaviourPenaltyDecay)
            stats[peer] = ps
        }
        epoch &+= 1
        version &+= 1
    }

    // MARK: IP colocation

    /// go `getIPs`: loopback is ignored; an IPv6 address counts under itself and its /64.
    static func colocationKeys(_ ip: IPAddress) -> [String] {
        if ip.isLoopback { return [] }
        switch ip.family {
        case .v4:
            return [ip.description]
        case .v6:
            let prefix = Array(ip.bytes.prefix(8)) + [UInt8](repeating: 0, count: 8)
            return [ip.description, (IPAddress(bytes: prefix)?.description ?? "") + "/64"]
        }
    }

    private mutating func setIPs(_ peer: PeerID, new: [String], old: [String]) {
        for ip in new where !old.contains(ip) { peersByIP[ip, default: []].insert(peer) }
        removeIPs(peer, old.filter { !new.contains($0) })
    }

    private mutating func removeIPs(_ peer: PeerID, _ ips: [String]) {
        for ip in ips {
            peersByIP[ip]?.remove(peer)
            if peersByIP[ip]?.isEmpty ?? false { peersByIP[ip] = nil }
        }
    }
}

/// A peer's score and its components (go `PeerScoreSnapshot`), for metrics and the admin RPC.
public struct PeerScoreSnapshot: Sendable, Equatable {
    /// The total score.
    public var score: Double
    /// The summed, capped topic score (P1–P4 with topic weights).
    public var topicScore: Double
    public var topics: [String: TopicScoreSnapshot]
    /// P5 before its weight.
    public var applicationScore: Double
    /// Surplus peers sharing this peer's IPs beyond the threshold (P6 before squaring).
    public var ipColocationFactor: Int
    /// P7 counter before threshold and squaring.
    public var behaviourPenalty: Double
    /// False for a retained score of a disconnected peer.
    public var connected: Bool
}

/// One topic's score counters for a peer.
public struct TopicScoreSnapshot: Sendable, Equatable {
    public var timeInMesh: Duration
    public var firstMessageDeliveries: Double
    public var meshMessageDeliveries: Double
    public var meshFailurePenalty: Double
    public var invalidMessageDeliveries: Double
}
