import Foundation
import P2PCore

/// The gossipsub v1.1 router (v1.0 compatible, v1.2 IDONTWANT) as a sans-IO state machine:
/// libp2p specs `pubsub/gossipsub/gossipsub-v1.0.md`, `gossipsub-v1.1.md`, `gossipsub-v1.2.md`;
/// modelled on go-libp2p-pubsub `pubsub.go` + `gossipsub.go`, which op-node runs (spec §4.1).
///
/// It opens no sockets, reads no clock and starts no tasks. The host feeds it peers, decoded RPCs
/// (`RPCFrameDecoder`), local commands, validation answers and a heartbeat every
/// `heartbeatInterval`, each with the current monotonic time in nanoseconds, and carries out the
/// returned `GossipAction`s in order. Its only randomness is a generator seeded by the host.
///
/// One concern per file: this file holds the state, configuration, peer lifecycle and queries;
/// `Subscriptions.swift` (JOIN/LEAVE, SUBSCRIBE), `Messages.swift` (publish, receive, validate,
/// forward, fanout), `Mesh.swift` (GRAFT/PRUNE), `Gossip.swift` (IHAVE/IWANT/IDONTWANT),
/// `Heartbeat.swift`, `Outbox.swift` (batching and the per-peer queue bound).
public struct GossipSubRouter: Sendable {
    public let localPeer: PeerID
    public let parameters: GossipSubParameters
    public let thresholds: PeerScoreThresholds
    let signaturePolicy: SignaturePolicy
    let messageID: MessageIDFunction
    let subscriptionFilter: SubscriptionFilter
    let traceKinds: GossipTraceKinds

    // Durations in nanoseconds.
    let heartbeatNs: UInt64
    let fanoutTTLNs: UInt64
    let pruneBackoffNs: UInt64
    let unsubscribeBackoffNs: UInt64
    let graftFloodThresholdNs: UInt64
    let iwantFollowupNs: UInt64

    var rng: SplitMix64
    var seqno: UInt64

    // Connected peers by slot (slots are reused; state that outlives a connection — backoff,
    // scores, promises — is keyed by PeerID).
    var peers: [ConnectedPeer?] = []
    var freeSlots: [Int] = []
    var slotOf: [PeerID: Int] = [:]
    var directPeers: Set<PeerID>

    var topics: [String: TopicState] = [:]
    var seen: SeenCache
    var mcache: MessageCache
    var backoff = BackoffTable()
    var promises = GossipPromises()
    var validation: ValidationPipeline
    var scoring: PeerScore?
    var heartbeatTicks: UInt64 = 0
    var nextDecay: UInt64?
    var outbox = Outbox()
    var nextPeerSerial: UInt32 = 0

    /// [p2pnode] Most IDONTWANT ids remembered per peer (go bounds them only through
    /// MaxIDontWantMessages × MaxIDontWantLength per heartbeat × the TTL, 30,000 with its
    /// defaults); a legitimate peer announces one id per large message it receives.
    static let maxUnwantedIDs = 4096
    /// [p2pnode] IDONTWANT ids longer than this are ignored: no id function in use makes them
    /// (op-node 20 bytes, go's from ‖ seqno under 64), so they could only cost memory.
    static let maxMessageIDLength = 128

    struct ConnectedPeer {
        let id: PeerID
        /// Distinct for every connection (slots are reused), for the per-sender copy counts of
        /// the seen cache.
        let serial: UInt32
        let proto: GossipSubProtocol
        let outbound: Bool
        var direct: Bool
        var topics: Set<String> = []
        /// RPCs handed to the host and not yet reported written.
        var queued = 0
        /// IHAVE-carrying RPCs received this heartbeat (go `peerhave`).
        var ihaveRPCs = 0
        /// Message ids asked from this peer with IWANT this heartbeat (go `iasked`).
        var iasked = 0
        /// IDONTWANT-carrying RPCs accepted this heartbeat (go `peerdontwant`).
        var idontwantRPCs = 0
        /// IDONTWANT ids with their remaining heartbeats (go `unwanted`), at most
        /// `maxUnwantedIDs`.
        var unwanted: [MessageID: Int] = [:]
        /// GRAFT/PRUNE dropped on a full queue, retried later (go `control`).
        var retryControl: PBControlMessage?
        var graylisted = false
        /// The score as of `PeerScore.version` `scoreVersion` (0: never computed).
        var cachedScore = 0.0
        var scoreVersion: UInt64 = 0
    }

    struct TopicState {
        var subscribers = SlotSet()
        /// Present while we are joined.
        var mesh: SlotSet?
        /// Present while we publish to the topic without having joined it.
        var fanout: SlotSet?
        var lastPublish: UInt64 = 0
    }

    public init(configuration c: GossipSubConfiguration) throws(GossipConfigError) {
        try c.parameters.validate()
        if let s = c.scoring {
            try s.parameters.validate()
            try s.thresholds.validate()
        }
        if case .strictNoSign = c.signaturePolicy, !c.messageID.isContentBased {
            throw .messageIDNotContentBased
        }
        let p = c.parameters
        localPeer = c.localPeer
        parameters = p
        thresholds = c.scoring?.thresholds ?? .none
        signaturePolicy = c.signaturePolicy
        messageID = c.messageID
        subscriptionFilter = c.subscriptionFilter
        traceKinds = c.traceKinds
        heartbeatNs = p.heartbeatInterval.clampedNanoseconds
        fanoutTTLNs = p.fanoutTTL.clampedNanoseconds
        pruneBackoffNs = p.pruneBackoff.clampedNanoseconds
        unsubscribeBackoffNs = p.unsubscribeBackoff.clampedNanoseconds
        graftFloodThresholdNs = p.graftFloodThreshold.clampedNanoseconds
        iwantFollowupNs = p.iwantFollowupTime.clampedNanoseconds
        rng = SplitMix64(seed: c.randomSeed)
        seqno = rng.next()
        directPeers = c.directPeers
        seen = SeenCache(ttl: p.seenTTL.clampedNanoseconds, capacity: p.seenCacheCapacity)
        mcache = MessageCache(historyGossip: p.historyGossip, historyLength: p.historyLength)
        validation = ValidationPipeline(perTopicLimit: p.validationConcurrency, totalLimit: p.validationThrottle,
                                        queueLimit: p.validationQueueSize, timeout: p.validationTimeout.clampedNanoseconds)
        scoring = c.scoring.map {
            PeerScore(params: $0.parameters, deliveryTTL: p.seenTTL.clampedNanoseconds, deliveryCapacity: p.seenCacheCapacity)
        }
    }

    // MARK: peers

    /// A peer opened a pubsub stream speaking `protocol`. `outbound` is the direction of the
    /// connection (for the Dout quota); `ip` its remote address (for P6; nil or loopback: none).
    /// Sends the peer our subscriptions.
    public mutating func addPeer(_ peer: PeerID, protocol proto: GossipSubProtocol, outbound: Bool,
                                 ip: IPAddress?, now: UInt64) -> [GossipAction] {
        guard slotOf[peer] == nil, peer != localPeer else { return [] }
        let slot: Int
        nextPeerSerial &+= 1
        let state = ConnectedPeer(id: peer, serial: nextPeerSerial, proto: proto, outbound: outbound,
                                  direct: directPeers.contains(peer))
        if let s = freeSlots.popLast() {
            slot = s
            peers[s] = state
        } else {
            slot = peers.count
            peers.append(state)
        }
        slotOf[peer] = slot
        trace(.addPeer, .addPeer(peer, proto))
        scoring?.addPeer(peer, ip: ip)
        let joined = topics.filter { $0.value.mesh != nil }.keys.sorted()
        if !joined.isEmpty {
            enqueue(slot) { rpc in rpc.subscriptions += joined.map { PBRPC.SubOpts(topic: $0, subscribe: true) } }
        }
        return flush()
    }

    /// The peer's pubsub stream closed (or it disconnected).
    public mutating func removePeer(_ peer: PeerID, now: UInt64) -> [GossipAction] {
        guard let slot = slotOf[peer], let state = peers[slot] else { return [] }
        trace(.removePeer, .removePeer(peer))
        for name in state.topics { topics[name]?.subscribers.remove(slot) }
        for name in topics.keys.sorted() {
            topics[name]?.mesh?.remove(slot)
            topics[name]?.fanout?.remove(slot)
            removeTopicIfUnused(name)
        }
        scoring?.removePeer(peer, now: now)
        outbox.discard(slot)
        peers[slot] = nil
        slotOf[peer] = nil
        freeSlots.append(slot)
        return flush()
    }

    /// An RPC decoded from the peer's stream. Subscriptions are applied first (even from a
    /// graylisted peer, as go does); everything else is ignored if the peer's score is below
    /// the graylist threshold (go `AcceptFrom`; direct peers are exempt).
    public mutating func handleRPC(from peer: PeerID, rpc: PBRPC, now: UInt64) -> [GossipAction] {
        guard let slot = slotOf[peer] else { return [] }
        trace(.recvRPC, .recvRPC(from: peer))
        if !rpc.subscriptions.isEmpty {
            guard handleSubscriptions(rpc.subscriptions, from: slot) else { return flush() }
        }
        if !(peers[slot]?.direct ?? false) {
            let s = score(slot: slot)
            if s < thresholds.graylist {
                if !(peers[slot]?.graylisted ?? true) {
                    peers[slot]?.graylisted = true
                    outbox.actions.append(.graylisted(peer, score: s))
                }
                return flush()
            }
            peers[slot]?.graylisted = false
        }
        for message in rpc.publish { handleMessage(message, from: slot, now: now) }
        if rpc.hasControl { handleControl(rpc.control, from: slot, now: now) }
        return flush()
    }

    /// go `HandleRPC`: IHAVE → IWANT, IWANT → messages, GRAFT → PRUNEs, PRUNE, IDONTWANT; the
    /// answers go back in one RPC.
    mutating func handleControl(_ c: PBControlMessage, from slot: Int, now: UInt64) {
        let iwant = c.ihave.isEmpty ? [] : handleIHave(c.ihave, from: slot, now: now)
        let messages = c.iwant.isEmpty ? [] : handleIWant(c.iwant, from: slot)
        let prunes = c.graft.isEmpty ? [] : handleGraft(c.graft, from: slot, now: now)
        if !c.prune.isEmpty { handlePrune(c.prune, from: slot, now: now) }
        if !c.idontwant.isEmpty { handleIDontWant(c.idontwant, from: slot) }
        if !iwant.isEmpty {
            var w = PBControlIWant()
            w.messageIds = iwant
            enqueue(slot) { rpc in rpc.control.iwant.append(w) }
        }
        for (id, message) in messages { enqueueMessage(slot, message, id: id) }
        if !prunes.isEmpty { enqueue(slot) { rpc in rpc.control.prune += prunes } }
    }

    /// The host wrote `count` RPCs of this peer's queue to its stream (or gave up on them).
    public mutating func rpcWritten(to peer: PeerID, count: Int = 1) {
        guard let slot = slotOf[peer], let queued = peers[slot]?.queued else { return }
        peers[slot]?.queued = max(0, queued - max(0, count))
    }

    /// Adds a direct peer (go `WithDirectPeers`): every message is forwarded to it, it is never
    /// grafted or pruned, and its RPCs are never graylisted. Connecting it is the host's job.
    public mutating func addDirectPeer(_ peer: PeerID) -> [GossipAction] {
        directPeers.insert(peer)
        guard let slot = slotOf[peer] else { return [] }
        peers[slot]?.direct = true
        for name in topics.keys.sorted() where topics[name]?.mesh?.contains(slot) ?? false {
            topics[name]?.mesh?.remove(slot)
            trace(.prune, .prune(peer, topic: name))
            scoring?.prune(peer, topic: name)
            let prune = makePrune(slot: slot, topic: name, peerExchange: false, unsubscribe: false)
            enqueue(slot) { rpc in rpc.control.prune.append(prune) }
        }
        return flush()
    }

    public mutating func removeDirectPeer(_ peer: PeerID) {
        directPeers.remove(peer)
        if let slot = slotOf[peer] { peers[slot]?.direct = false }
    }

    /// P5 (op-node: the req-resp application score, spec §4.2).
    public mutating func setApplicationScore(_ peer: PeerID, _ value: Double) {
        scoring?.setApplicationScore(peer, value)
    }

    // MARK: queries

    /// The peer's score (0 with scoring disabled or for unknown peers).
    public func score(of peer: PeerID) -> Double {
        scoring?.peekScore(peer) ?? 0
    }

    public func scoreSnapshot(of peer: PeerID) -> PeerScoreSnapshot? {
        scoring?.snapshot(peer)
    }

    /// Snapshots of every tracked peer, connected or retained (go `WithPeerScoreInspect`).
    public func scoreSnapshots() -> [PeerID: PeerScoreSnapshot] {
        guard let s = scoring else { return [:] }
        var out: [PeerID: PeerScoreSnapshot] = [:]
        for p in s.snapshotPeers { out[p] = s.snapshot(p) }
        return out
    }

    public var connectedPeers: [PeerID] { slotOf.keys.sorted() }
    public var joinedTopics: [String] { topics.filter { $0.value.mesh != nil }.keys.sorted() }
    public func meshPeers(of topic: String) -> [PeerID] { peerIDs(topics[topic]?.mesh) }
    public func fanoutPeers(of topic: String) -> [PeerID] { peerIDs(topics[topic]?.fanout) }
    /// Connected peers subscribed to `topic`.
    public func topicPeers(of topic: String) -> [PeerID] { peerIDs(topics[topic]?.subscribers) }

    public func isBackedOff(_ peer: PeerID, topic: String, now: UInt64) -> Bool {
        (backoff.expiry(peer, topic: topic) ?? 0) > now
    }

    /// The gossipsub version negotiated with `peer` on our pubsub stream (nil: not connected).
    public func protocolOf(_ peer: PeerID) -> GossipSubProtocol? {
        slotOf[peer].flatMap { peers[$0]?.proto }
    }

    /// The message ids `peer` announced with IDONTWANT (v1.2) that are still remembered: neither
    /// forwarded to it nor served to its IWANT until they expire (empty for unknown peers).
    public func unwantedIDs(of peer: PeerID) -> Set<MessageID> {
        guard let slot = slotOf[peer], let state = peers[slot] else { return [] }
        return Set(state.unwanted.keys)
    }

    /// RPCs queued to `peer` and not yet reported written.
    public func outboundQueueLength(of peer: PeerID) -> Int {
        slotOf[peer].flatMap { peers[$0]?.queued } ?? 0
    }

    /// Sizes of the router's bounded structures, for metrics and tests.
    public var stats: GossipRouterStats {
        GossipRouterStats(peers: slotOf.count, topics: topics.count, seenMessages: seen.count,
                          cachedMessages: mcache.count, pendingValidations: validation.count,
                          queuedValidations: validation.queued,
                          promises: promises.count, backoffs: backoff.count,
                          scoredPeers: scoring?.trackedPeers ?? 0, deliveryRecords: scoring?.deliveryRecordCount ?? 0)
    }

    func peerIDs(_ set: SlotSet?) -> [PeerID] {
        guard let set else { return [] }
        return set.compactMap { peers[$0]?.id }
    }

    // MARK: helpers shared by the other files

    /// The score of a connected peer, cached per slot until any score changes.
    mutating func score(slot: Int) -> Double {
        guard let version = scoring?.version, let p = peers[slot] else { return 0 }
        if p.scoreVersion == version { return p.cachedScore }
        let s = scoring?.score(p.id) ?? 0
        peers[slot]?.cachedScore = s
        peers[slot]?.scoreVersion = version
        return s
    }

    mutating func trace(_ kind: GossipTraceKinds, _ event: @autoclosure () -> GossipTraceEvent) {
        if traceKinds.contains(kind) { outbox.actions.append(.trace(event())) }
    }

    /// Shuffles `a` with the router's generator (Fisher–Yates).
    mutating func shuffle<T>(_ a: inout [T]) {
        guard a.count > 1 else { return }
        for i in stride(from: a.count - 1, to: 0, by: -1) {
            let j = Int(rng.next() % UInt64(i + 1))
            if i != j { a.swapAt(i, j) }
        }
    }

    /// go `getPeers`: up to `count` random subscribers of `topic` passing `filter` (all of them
    /// when `count` is nil).
    mutating func selectPeers(_ topic: String, count: Int?, _ filter: (inout GossipSubRouter, Int) -> Bool) -> [Int] {
        guard let subs = topics[topic]?.subscribers else { return [] }
        var out: [Int] = []
        for slot in subs where filter(&self, slot) { out.append(slot) }
        shuffle(&out)
        if let count, out.count > count { out.removeLast(out.count - count) }
        return out
    }

    /// Forgets a topic nobody uses: no subscribers, not joined, no fanout.
    mutating func removeTopicIfUnused(_ name: String) {
        guard let t = topics[name], t.subscribers.isEmpty, t.mesh == nil, t.fanout == nil else { return }
        topics[name] = nil
    }
}

/// Everything the router is configured with.
public struct GossipSubConfiguration: Sendable {
    public var localPeer: PeerID
    public var parameters: GossipSubParameters
    /// nil: scoring off (op-node `--p2p.scoring=none`): every score 0, every threshold 0.
    public var scoring: PeerScoring?
    public var signaturePolicy: SignaturePolicy
    public var messageID: MessageIDFunction
    public var subscriptionFilter: SubscriptionFilter
    public var directPeers: Set<PeerID>
    /// Seed of the router's random choices; the host passes a fresh random value.
    public var randomSeed: UInt64
    public var traceKinds: GossipTraceKinds

    public init(localPeer: PeerID, parameters: GossipSubParameters = .opNode, scoring: PeerScoring? = nil,
                signaturePolicy: SignaturePolicy, messageID: MessageIDFunction,
                subscriptionFilter: SubscriptionFilter = .unrestricted, directPeers: Set<PeerID> = [],
                randomSeed: UInt64, traceKinds: GossipTraceKinds = .all) {
        self.localPeer = localPeer
        self.parameters = parameters
        self.scoring = scoring
        self.signaturePolicy = signaturePolicy
        self.messageID = messageID
        self.subscriptionFilter = subscriptionFilter
        self.directPeers = directPeers
        self.randomSeed = randomSeed
        self.traceKinds = traceKinds
    }

    /// op-node's router (spec §2.3, §2.5, §4.1, §4.2): op-node parameters, StrictNoSign, the
    /// op-node message id, light scoring for `blockTime`, and [project] an allow-list of the
    /// block `topics` with at most 100 subscriptions per RPC.
    public static func opNode(localPeer: PeerID, blockTime: UInt64, topics: Set<String>, randomSeed: UInt64,
                              directPeers: Set<PeerID> = []) -> GossipSubConfiguration {
        GossipSubConfiguration(localPeer: localPeer, parameters: .opNode, scoring: .opNodeLight(blockTime: blockTime),
                               signaturePolicy: .strictNoSign, messageID: .opStack,
                               subscriptionFilter: .allowList(topics), directPeers: directPeers, randomSeed: randomSeed)
    }
}

/// Sizes of the router's bounded structures.
public struct GossipRouterStats: Sendable, Equatable {
    public var peers: Int
    public var topics: Int
    public var seenMessages: Int
    public var cachedMessages: Int
    /// Handed to the application and unanswered, plus queued.
    public var pendingValidations: Int
    /// Waiting for a validation slot.
    public var queuedValidations: Int
    public var promises: Int
    public var backoffs: Int
    public var scoredPeers: Int
    public var deliveryRecords: Int
}
