import Foundation
import P2PCore

/// Peer-scoring parameters and thresholds of gossipsub v1.1 (libp2p specs
/// `pubsub/gossipsub/gossipsub-v1.1.md` "Peer Scoring"; go-libp2p-pubsub `score_params.go`:
/// `PeerScoreParams`, `TopicScoreParams`, `PeerScoreThresholds`, `ScoreParameterDecay`), with
/// op-node's "light" profile (`op-node/p2p/peer_params.go`; spec §4.2) and a full per-topic
/// profile that exercises P1–P4.
public struct PeerScoreParameters: Sendable, Equatable {
    /// Per-topic parameters; topics not listed are not scored (op-node: none).
    public var topics: [String: TopicScoreParameters]
    /// Cap on the summed topic score (0 = no cap).
    public var topicScoreCap: Double
    /// P5 weight; the value comes from `GossipSubRouter.setApplicationScore`.
    public var appSpecificWeight: Double
    /// P6 weight (≤ 0), the number of peers per IP before it applies, and IPs it never applies to.
    public var ipColocationFactorWeight: Double
    public var ipColocationFactorThreshold: Int
    public var ipColocationFactorWhitelist: Set<IPAddress>
    /// P7 weight (≤ 0), the penalty count before it applies, and its decay per interval.
    public var behaviourPenaltyWeight: Double
    public var behaviourPenaltyThreshold: Double
    public var behaviourPenaltyDecay: Double
    /// How often counters decay, and the value below which a counter becomes 0.
    public var decayInterval: Duration
    public var decayToZero: Double
    /// How long a disconnected peer's non-positive score is remembered.
    public var retainScore: Duration

    public init(topics: [String: TopicScoreParameters] = [:], topicScoreCap: Double = 0, appSpecificWeight: Double = 1,
                ipColocationFactorWeight: Double = 0, ipColocationFactorThreshold: Int = 1,
                ipColocationFactorWhitelist: Set<IPAddress> = [], behaviourPenaltyWeight: Double = 0,
                behaviourPenaltyThreshold: Double = 0, behaviourPenaltyDecay: Double = 0.9,
                decayInterval: Duration = .seconds(1), decayToZero: Double = 0.01, retainScore: Duration = .seconds(60)) {
        self.topics = topics
        self.topicScoreCap = topicScoreCap
        self.appSpecificWeight = appSpecificWeight
        self.ipColocationFactorWeight = ipColocationFactorWeight
        self.ipColocationFactorThreshold = ipColocationFactorThreshold
        self.ipColocationFactorWhitelist = ipColocationFactorWhitelist
        self.behaviourPenaltyWeight = behaviourPenaltyWeight
        self.behaviourPenaltyThreshold = behaviourPenaltyThreshold
        self.behaviourPenaltyDecay = behaviourPenaltyDecay
        self.decayInterval = decayInterval
        self.decayToZero = decayToZero
        self.retainScore = retainScore
    }

    /// The decay factor that takes a counter to `decayToZero` after `decay`, applied every
    /// `interval` (go `ScoreParameterDecayWithBase`): `decayToZero^(1 / (decay / interval))`.
    public static func decay(_ decay: Duration, interval: Duration, decayToZero: Double = 0.01) -> Double {
        let ticks = (decay / interval).rounded(.towardZero)
        guard ticks > 0 else { return 0 }
        return Foundation.pow(decayToZero, 1 / ticks)
    }

    /// op-node's "light" profile for a chain with `blockTime` seconds per block (spec §4.2):
    /// slot = blockTime (2 s if 0), epoch = 6 slots; no topic scores; P5 weight 1; P6 −35 over 10
    /// peers; P7 −16 over 6, decaying to zero in 10 epochs; decay every slot; retain 100 epochs.
    public static func opNodeLight(blockTime: UInt64) -> PeerScoreParameters {
        let slot = Duration.seconds(blockTime == 0 ? 2 : Int64(clamping: blockTime))
        let epoch = slot * 6
        return PeerScoreParameters(
            topics: [:], topicScoreCap: 0, appSpecificWeight: 1,
            ipColocationFactorWeight: -35, ipColocationFactorThreshold: 10, ipColocationFactorWhitelist: [],
            behaviourPenaltyWeight: -16, behaviourPenaltyThreshold: 6,
            behaviourPenaltyDecay: decay(epoch * 10, interval: slot),
            decayInterval: slot, decayToZero: 0.01, retainScore: epoch * 100)
    }

    /// The light profile plus full per-topic scoring of `topics` (P1–P4, after the Ethereum
    /// consensus-layer style of go-libp2p-pubsub's tests), for tests and simulations where
    /// invalid messages and mesh under-delivery must move the score.
    public static func fullTopicScoring(topics: [String], blockTime: UInt64 = 2,
                                        topic: TopicScoreParameters = .standard(slot: .seconds(2))) -> PeerScoreParameters {
        var p = opNodeLight(blockTime: blockTime)
        p.topics = Dictionary(uniqueKeysWithValues: topics.map { ($0, topic) })
        p.topicScoreCap = 50
        return p
    }

    public func validate() throws(GossipConfigError) {
        func check(_ ok: Bool, _ what: String) throws(GossipConfigError) {
            if !ok { throw .invalidScoreParameter(what) }
        }
        try check(topicScoreCap >= 0, "TopicScoreCap must not be negative")
        try check(ipColocationFactorWeight <= 0, "IPColocationFactorWeight must not be positive")
        try check(ipColocationFactorWeight == 0 || ipColocationFactorThreshold >= 1,
                  "IPColocationFactorThreshold must be at least 1")
        try check(behaviourPenaltyWeight <= 0, "BehaviourPenaltyWeight must not be positive")
        try check(behaviourPenaltyWeight == 0 || (behaviourPenaltyDecay > 0 && behaviourPenaltyDecay < 1),
                  "BehaviourPenaltyDecay must be in (0, 1)")
        try check(behaviourPenaltyThreshold >= 0, "BehaviourPenaltyThreshold must not be negative")
        try check(decayInterval >= .seconds(1), "DecayInterval must be at least 1 s")
        try check(decayToZero > 0 && decayToZero < 1, "DecayToZero must be in (0, 1)")
        try check(retainScore >= .zero, "RetainScore must not be negative")
        for (name, t) in topics.sorted(by: { $0.key < $1.key }) {
            do throws(GossipConfigError) { try t.validate() } catch {
                throw .invalidScoreParameter("topic \(name): \(error)")
            }
        }
    }
}

/// Per-topic score parameters (P1–P4 and the topic weight).
public struct TopicScoreParameters: Sendable, Equatable {
    public var topicWeight: Double
    /// P1: time in mesh, in quanta, capped.
    public var timeInMeshWeight: Double
    public var timeInMeshQuantum: Duration
    public var timeInMeshCap: Double
    /// P2: first message deliveries (decaying counter, capped).
    public var firstMessageDeliveriesWeight: Double
    public var firstMessageDeliveriesDecay: Double
    public var firstMessageDeliveriesCap: Double
    /// P3: mesh message delivery deficit, squared, once the peer has been in the mesh for
    /// `activation`; deliveries within `window` of validation count.
    public var meshMessageDeliveriesWeight: Double
    public var meshMessageDeliveriesDecay: Double
    public var meshMessageDeliveriesCap: Double
    public var meshMessageDeliveriesThreshold: Double
    public var meshMessageDeliveriesWindow: Duration
    public var meshMessageDeliveriesActivation: Duration
    /// P3b: sticky deficit penalty added when an under-delivering peer leaves the mesh.
    public var meshFailurePenaltyWeight: Double
    public var meshFailurePenaltyDecay: Double
    /// P4: invalid messages, squared.
    public var invalidMessageDeliveriesWeight: Double
    public var invalidMessageDeliveriesDecay: Double

    public init(topicWeight: Double, timeInMeshWeight: Double, timeInMeshQuantum: Duration, timeInMeshCap: Double,
                firstMessageDeliveriesWeight: Double, firstMessageDeliveriesDecay: Double,
                firstMessageDeliveriesCap: Double, meshMessageDeliveriesWeight: Double,
                meshMessageDeliveriesDecay: Double, meshMessageDeliveriesCap: Double,
                meshMessageDeliveriesThreshold: Double, meshMessageDeliveriesWindow: Duration,
                meshMessageDeliveriesActivation: Duration, meshFailurePenaltyWeight: Double,
                meshFailurePenaltyDecay: Double, invalidMessageDeliveriesWeight: Double,
                invalidMessageDeliveriesDecay: Double) {
        self.topicWeight = topicWeight
        self.timeInMeshWeight = timeInMeshWeight
        self.timeInMeshQuantum = timeInMeshQuantum
        self.timeInMeshCap = timeInMeshCap
        self.firstMessageDeliveriesWeight = firstMessageDeliveriesWeight
        self.firstMessageDeliveriesDecay = firstMessageDeliveriesDecay
        self.firstMessageDeliveriesCap = firstMessageDeliveriesCap
        self.meshMessageDeliveriesWeight = meshMessageDeliveriesWeight
        self.meshMessageDeliveriesDecay = meshMessageDeliveriesDecay
        self.meshMessageDeliveriesCap = meshMessageDeliveriesCap
        self.meshMessageDeliveriesThreshold = meshMessageDeliveriesThreshold
        self.meshMessageDeliveriesWindow = meshMessageDeliveriesWindow
        self.meshMessageDeliveriesActivation = meshMessageDeliveriesActivation
        self.meshFailurePenaltyWeight = meshFailurePenaltyWeight
        self.meshFailurePenaltyDecay = meshFailurePenaltyDecay
        self.invalidMessageDeliveriesWeight = invalidMessageDeliveriesWeight
        self.invalidMessageDeliveriesDecay = invalidMessageDeliveriesDecay
    }

    /// A block-topic profile: P1 +0.0324 per slot in the mesh (at most 300 slots), P2 +1 per first
    /// delivery (at most 20), P3 −deficit² below 1 delivery after 1 minute in the mesh (cap 10),
    /// P3b −1 per sticky deficit, P4 −100 per invalid message squared; counters decay to zero in
    /// 60 slots (P4: 600 slots).
    public static func standard(slot: Duration) -> TopicScoreParameters {
        TopicScoreParameters(
            topicWeight: 1,
            timeInMeshWeight: 0.0324, timeInMeshQuantum: slot, timeInMeshCap: 300,
            firstMessageDeliveriesWeight: 1,
            firstMessageDeliveriesDecay: PeerScoreParameters.decay(slot * 60, interval: slot),
            firstMessageDeliveriesCap: 20,
            meshMessageDeliveriesWeight: -1,
            meshMessageDeliveriesDecay: PeerScoreParameters.decay(slot * 60, interval: slot),
            meshMessageDeliveriesCap: 10, meshMessageDeliveriesThreshold: 1,
            meshMessageDeliveriesWindow: .seconds(2), meshMessageDeliveriesActivation: .seconds(60),
            meshFailurePenaltyWeight: -1,
            meshFailurePenaltyDecay: PeerScoreParameters.decay(slot * 60, interval: slot),
            invalidMessageDeliveriesWeight: -100,
            invalidMessageDeliveriesDecay: PeerScoreParameters.decay(slot * 600, interval: slot))
    }

    /// go `TopicScoreParams.validate`.
    public func validate() throws(GossipConfigError) {
        func check(_ ok: Bool, _ what: String) throws(GossipConfigError) {
            if !ok { throw .invalidScoreParameter(what) }
        }
        func isDecay(_ d: Double) -> Bool { d > 0 && d < 1 }
        try check(topicWeight >= 0, "TopicWeight must not be negative")
        try check(timeInMeshWeight >= 0, "TimeInMeshWeight must not be negative")
        try check(timeInMeshWeight == 0 || timeInMeshQuantum > .zero, "TimeInMeshQuantum must be positive")
        try check(timeInMeshWeight == 0 || timeInMeshCap > 0, "TimeInMeshCap must be positive")
        try check(firstMessageDeliveriesWeight >= 0, "FirstMessageDeliveriesWeight must not be negative")
        try check(firstMessageDeliveriesWeight == 0 || (isDecay(firstMessageDeliveriesDecay) && firstMessageDeliveriesCap > 0),
                  "FirstMessageDeliveries decay must be in (0, 1) and cap positive")
        try check(meshMessageDeliveriesWeight <= 0, "MeshMessageDeliveriesWeight must not be positive")
        try check(meshMessageDeliveriesWeight == 0 || (isDecay(meshMessageDeliveriesDecay)
                    && meshMessageDeliveriesCap > 0 && meshMessageDeliveriesThreshold > 0
                    && meshMessageDeliveriesWindow >= .zero && meshMessageDeliveriesActivation >= .seconds(1)),
                  "MeshMessageDeliveries decay must be in (0, 1), cap and threshold positive, activation at least 1 s")
        try check(meshFailurePenaltyWeight <= 0, "MeshFailurePenaltyWeight must not be positive")
        try check(meshFailurePenaltyWeight == 0 || isDecay(meshFailurePenaltyDecay), "MeshFailurePenaltyDecay must be in (0, 1)")
        try check(invalidMessageDeliveriesWeight <= 0, "InvalidMessageDeliveriesWeight must not be positive")
        try check(isDecay(invalidMessageDeliveriesDecay), "InvalidMessageDeliveriesDecay must be in (0, 1)")
    }
}

/// The five score thresholds (go `PeerScoreThresholds`) and where the router applies them:
/// - gossip: no IHAVE/IWANT to or from peers below it;
/// - publish: our own messages (fanout, flood publish) go only to peers at or above it;
/// - graylist: every message and control message from peers below it is ignored;
/// - acceptPX: peer exchange is followed only from peers at or above it;
/// - opportunisticGraft: median mesh score below it triggers opportunistic grafting.
public struct PeerScoreThresholds: Sendable, Equatable {
    public var gossip: Double
    public var publish: Double
    public var graylist: Double
    public var acceptPX: Double
    public var opportunisticGraft: Double

    public init(gossip: Double, publish: Double, graylist: Double, acceptPX: Double, opportunisticGraft: Double) {
        self.gossip = gossip
        self.publish = publish
        self.graylist = graylist
        self.acceptPX = acceptPX
        self.opportunisticGraft = opportunisticGraft
    }

    /// Scoring disabled: every score is 0 and every threshold 0 (go with no `WithPeerScore`).
    public static let none = PeerScoreThresholds(gossip: 0, publish: 0, graylist: 0, acceptPX: 0, opportunisticGraft: 0)

    /// op-node (spec §4.2): gossip −10, publish −40, graylist −40, acceptPX 20, opportunisticGraft 0.05.
    public static let opNode = PeerScoreThresholds(gossip: -10, publish: -40, graylist: -40, acceptPX: 20,
                                                   opportunisticGraft: 0.05)

    /// go `PeerScoreThresholds.validate`.
    public func validate() throws(GossipConfigError) {
        guard gossip <= 0 else { throw .invalidScoreParameter("gossip threshold must not be positive") }
        guard publish <= gossip else { throw .invalidScoreParameter("publish threshold must be at most the gossip threshold") }
        guard graylist <= publish else { throw .invalidScoreParameter("graylist threshold must be at most the publish threshold") }
        guard acceptPX >= 0 else { throw .invalidScoreParameter("acceptPX threshold must not be negative") }
        guard opportunisticGraft >= 0 else { throw .invalidScoreParameter("opportunistic graft threshold must not be negative") }
    }
}

/// Scoring as a whole: parameters and thresholds (nil in the router's configuration = scoring off).
public struct PeerScoring: Sendable, Equatable {
    public var parameters: PeerScoreParameters
    public var thresholds: PeerScoreThresholds

    public init(parameters: PeerScoreParameters, thresholds: PeerScoreThresholds) {
        self.parameters = parameters
        self.thresholds = thresholds
    }

    /// op-node `--p2p.scoring=light` (the default) for a chain with `blockTime` seconds per block.
    public static func opNodeLight(blockTime: UInt64) -> PeerScoring {
        PeerScoring(parameters: .opNodeLight(blockTime: blockTime), thresholds: .opNode)
    }
}
