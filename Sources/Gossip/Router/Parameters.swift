/// GossipSub router parameters: the gossipsub v1.1 overlay, gossip, backoff and flood-protection
/// knobs (libp2p specs `pubsub/gossipsub/gossipsub-v1.1.md` "Parameters"; go-libp2p-pubsub
/// `gossipsub.go` `GossipSubParams` and `DefaultGossipSubParams`), plus the pubsub-level limits
/// that go-libp2p-pubsub keeps in `pubsub.go`/`validation.go` (message size, queues, seen TTL).
///
/// Two presets:
/// - `opNode`: op-node v1.16.8 (`op-node/p2p/gossip.go` `BuildGlobalGossipParams`, `NewGossipSub`;
///   spec §4.1). Every value op-node does not set is go-libp2p-pubsub v0.12.0's default.
/// - `goDefaults`: go-libp2p-pubsub v0.12.0 defaults, which the go-libp2p interop peer runs.
public struct GossipSubParameters: Sendable, Equatable {
    // MARK: overlay (mesh degree)

    /// Target mesh degree. op-node 8 (`--p2p.gossip.mesh.d`), go 6.
    public var d: Int
    /// Graft more peers when the mesh is below this. op-node 6, go 5.
    public var dlo: Int
    /// Prune peers when the mesh is above this. op-node 12, go 12.
    public var dhi: Int
    /// Peers kept by score when pruning an oversubscribed mesh. go 4 (op-node: library default).
    public var dscore: Int
    /// Outbound-connection quota in the mesh. go 2 (op-node: library default). Must be < dlo and ≤ d/2.
    public var dout: Int

    // MARK: gossip

    /// Heartbeats of messages kept in the message cache (mcache_len). op-node 12, go 5.
    public var historyLength: Int
    /// Heartbeats of message ids advertised in IHAVE (mcache_gossip). op-node 3, go 3.
    public var historyGossip: Int
    /// Minimum number of non-mesh peers gossiped to per topic per heartbeat. op-node 6, go 6.
    public var dlazy: Int
    /// Fraction of the non-mesh peers gossiped to, if more than `dlazy`. go 0.25.
    public var gossipFactor: Double
    /// How many times a peer may ask for the same message with IWANT. go 3.
    public var gossipRetransmission: Int

    // MARK: timing

    /// Time between heartbeats. op-node 500 ms, go 1 s.
    public var heartbeatInterval: Duration
    /// Delay before the first heartbeat (the host arms the timer). go 100 ms.
    public var heartbeatInitialDelay: Duration
    /// Fanout state of a topic we publish to without joining expires after this. op-node 24 s, go 60 s.
    public var fanoutTTL: Duration
    /// How long a message id stays in the seen cache. op-node 65 s (`WithSeenMessagesTTL`), go 120 s.
    public var seenTTL: Duration

    // MARK: backoff

    /// Backoff after a PRUNE (sent in the PRUNE to v1.1 peers). go 1 min.
    public var pruneBackoff: Duration
    /// Backoff after leaving a topic. go 10 s.
    public var unsubscribeBackoff: Duration
    /// A GRAFT within this time of our PRUNE gets an extra P7 penalty. go 10 s.
    public var graftFloodThreshold: Duration
    /// Heartbeats between opportunistic grafting rounds. go 60.
    public var opportunisticGraftTicks: Int
    /// Peers grafted per opportunistic grafting round. go 2.
    public var opportunisticGraftPeers: Int
    /// Heartbeats between reconnect attempts to direct peers (reconnecting is the host's job). go 300.
    public var directConnectTicks: Int

    // MARK: gossip flood protection

    /// Most message ids per IHAVE, and most ids asked from one peer per heartbeat. go 5000.
    public var maxIHaveLength: Int
    /// Most IHAVE-carrying RPCs accepted from one peer per heartbeat. go 10.
    public var maxIHaveMessages: Int
    /// A peer that advertised a message must deliver it this soon after our IWANT, or P7. go 3 s.
    public var iwantFollowupTime: Duration

    // MARK: gossipsub v1.2 IDONTWANT

    /// Most IDONTWANT-carrying RPCs accepted from one peer per heartbeat (go `peerdontwant`). go 1000.
    public var maxIDontWantMessages: Int
    /// Most message ids taken from one IDONTWANT-carrying RPC; the rest are ignored. go 10.
    public var maxIDontWantLength: Int
    /// Messages at least this large trigger IDONTWANT to mesh peers. go 1024 bytes.
    public var idontwantMessageThreshold: Int
    /// Heartbeats an IDONTWANT is remembered. go 3.
    public var idontwantMessageTTL: Int

    // MARK: peer exchange

    /// Send peer exchange in PRUNE and follow it when received. op-node false (`WithPeerExchange(false)`);
    /// go's option defaults to false too.
    public var peerExchange: Bool
    /// Peers included in a PRUNE's peer exchange. go 16.
    public var prunePeers: Int

    // MARK: publishing

    /// Send our own messages to every topic peer above the publish threshold, not just the mesh.
    /// op-node false (`--p2p.gossip.mesh.floodpublish`), go true.
    public var floodPublish: Bool

    // MARK: pubsub limits (pubsub.go / validation.go)

    /// Largest RPC frame read or written, and so the largest message. op-node 10 MiB
    /// (`WithMaxMessageSize`), go 1 MiB.
    public var maxMessageSize: Int
    /// RPCs queued to one peer before further ones are dropped (DROP_RPC). op-node 256
    /// (`WithPeerOutboundQueueSize`), go 32.
    public var outboundQueueSize: Int
    /// Validations in flight per topic; more wait in the validation queue. op-node 4
    /// (`WithValidatorConcurrency`), go 1024.
    public var validationConcurrency: Int
    /// Validations in flight in total; more wait in the validation queue. op-node 512
    /// (`WithValidateThrottle`), go 8192.
    public var validationThrottle: Int
    /// Messages waiting for a validation slot; more are dropped ("validation queue full", no
    /// penalty). op-node 256 (`WithValidateQueueSize`), go 32.
    public var validationQueueSize: Int
    /// A validation not answered within this time is treated as IGNORE, so the pipeline stays
    /// bounded. op-node 3 s (`WithValidatorTimeout`). go has no timeout by default; the preset
    /// uses op-node's value.
    public var validationTimeout: Duration
    /// Most message ids in the seen cache; the oldest are evicted first. go's time cache is
    /// unbounded; this bound is ours (DESIGN.md principle 4).
    public var seenCacheCapacity: Int
    /// Most topics tracked in total (subscriptions beyond are ignored). Ours, as above.
    public var maxTrackedTopics: Int

    public init(d: Int, dlo: Int, dhi: Int, dscore: Int, dout: Int, historyLength: Int, historyGossip: Int,
                dlazy: Int, gossipFactor: Double, gossipRetransmission: Int, heartbeatInterval: Duration,
                heartbeatInitialDelay: Duration, fanoutTTL: Duration, seenTTL: Duration, pruneBackoff: Duration,
                unsubscribeBackoff: Duration, graftFloodThreshold: Duration, opportunisticGraftTicks: Int,
                opportunisticGraftPeers: Int, directConnectTicks: Int, maxIHaveLength: Int, maxIHaveMessages: Int,
                iwantFollowupTime: Duration, maxIDontWantMessages: Int, maxIDontWantLength: Int = 10,
                idontwantMessageThreshold: Int,
                idontwantMessageTTL: Int, peerExchange: Bool, prunePeers: Int, floodPublish: Bool,
                maxMessageSize: Int, outboundQueueSize: Int, validationConcurrency: Int, validationThrottle: Int,
                validationQueueSize: Int, validationTimeout: Duration, seenCacheCapacity: Int, maxTrackedTopics: Int) {
        self.d = d
        self.dlo = dlo
        self.dhi = dhi
        self.dscore = dscore
        self.dout = dout
        self.historyLength = historyLength
        self.historyGossip = historyGossip
        self.dlazy = dlazy
        self.gossipFactor = gossipFactor
        self.gossipRetransmission = gossipRetransmission
        self.heartbeatInterval = heartbeatInterval
        self.heartbeatInitialDelay = heartbeatInitialDelay
        self.fanoutTTL = fanoutTTL
        self.seenTTL = seenTTL
        self.pruneBackoff = pruneBackoff
        self.unsubscribeBackoff = unsubscribeBackoff
        self.graftFloodThreshold = graftFloodThreshold
        self.opportunisticGraftTicks = opportunisticGraftTicks
        self.opportunisticGraftPeers = opportunisticGraftPeers
        self.directConnectTicks = directConnectTicks
        self.maxIHaveLength = maxIHaveLength
        self.maxIHaveMessages = maxIHaveMessages
        self.iwantFollowupTime = iwantFollowupTime
        self.maxIDontWantMessages = maxIDontWantMessages
        self.maxIDontWantLength = maxIDontWantLength
        self.idontwantMessageThreshold = idontwantMessageThreshold
        self.idontwantMessageTTL = idontwantMessageTTL
        self.peerExchange = peerExchange
        self.prunePeers = prunePeers
        self.floodPublish = floodPublish
        self.maxMessageSize = maxMessageSize
        self.outboundQueueSize = outboundQueueSize
        self.validationConcurrency = validationConcurrency
        self.validationThrottle = validationThrottle
        self.validationQueueSize = validationQueueSize
        self.validationTimeout = validationTimeout
        self.seenCacheCapacity = seenCacheCapacity
        self.maxTrackedTopics = maxTrackedTopics
    }

    /// go-libp2p-pubsub v0.12.0 defaults (`DefaultGossipSubParams`, `pubsub.go`, `validation.go`).
    public static let goDefaults = GossipSubParameters(
        d: 6, dlo: 5, dhi: 12, dscore: 4, dout: 2,
        historyLength: 5, historyGossip: 3, dlazy: 6, gossipFactor: 0.25, gossipRetransmission: 3,
        heartbeatInterval: .seconds(1), heartbeatInitialDelay: .milliseconds(100),
        fanoutTTL: .seconds(60), seenTTL: .seconds(120),
        pruneBackoff: .seconds(60), unsubscribeBackoff: .seconds(10), graftFloodThreshold: .seconds(10),
        opportunisticGraftTicks: 60, opportunisticGraftPeers: 2, directConnectTicks: 300,
        maxIHaveLength: 5000, maxIHaveMessages: 10, iwantFollowupTime: .seconds(3),
        maxIDontWantMessages: 1000, maxIDontWantLength: 10, idontwantMessageThreshold: 1024, idontwantMessageTTL: 3,
        peerExchange: false, prunePeers: 16, floodPublish: true,
        maxMessageSize: 1 << 20, outboundQueueSize: 32, validationConcurrency: 1024, validationThrottle: 8192,
        validationQueueSize: 32, validationTimeout: .seconds(3), seenCacheCapacity: 250_000, maxTrackedTopics: 4096)

    /// op-node v1.16.8 (spec §4.1): D 8, Dlo 6, Dhi 12, Dlazy 6, heartbeat 500 ms, FanoutTTL 24 s,
    /// history 12, gossip 3, seen TTL 65 s, flood publish off, PX off, 10 MiB, outbound queue 256,
    /// validation 4 per topic / 512 in total / queue 256 / 3 s; everything else as `goDefaults`.
    public static let opNode: GossipSubParameters = {
        var p = goDefaults
        p.d = 8
        p.dlo = 6
        p.dhi = 12
        p.dlazy = 6
        p.heartbeatInterval = .milliseconds(500)
        p.fanoutTTL = .seconds(24)
        p.historyLength = 12
        p.historyGossip = 3
        p.seenTTL = .seconds(65)
        p.floodPublish = false
        p.peerExchange = false
        p.maxMessageSize = 10 * (1 << 20)
        p.outboundQueueSize = 256
        p.validationConcurrency = 4
        p.validationThrottle = 512
        p.validationQueueSize = 256
        p.validationTimeout = .seconds(3)
        return p
    }()

    /// Checks the invariants go-libp2p-pubsub's `GossipSubParams` needs (`gossipsub.go` `validate`)
    /// and that every bound is positive.
    public func validate() throws(GossipConfigError) {
        func check(_ ok: Bool, _ what: String) throws(GossipConfigError) {
            if !ok { throw .invalidParameter(what) }
        }
        try check(d > 0 && d <= 1000, "D must be in 1...1000")
        try check(dlo > 0 && dlo <= d, "Dlo must be in 1...D")
        try check(dhi >= d && dhi <= 1000, "Dhi must be in D...1000")
        try check(dscore >= 0 && dscore <= d, "Dscore must be in 0...D")
        try check(dout >= 0 && dout < dlo && dout <= d / 2, "Dout must be below Dlo and at most D/2")
        try check(historyLength > 0, "HistoryLength must be positive")
        try check(historyGossip > 0 && historyGossip <= historyLength, "HistoryGossip must be in 1...HistoryLength")
        try check(dlazy >= 0, "Dlazy must not be negative")
        try check(gossipFactor >= 0 && gossipFactor <= 1, "GossipFactor must be in 0...1")
        try check(gossipRetransmission >= 0, "GossipRetransmission must not be negative")
        try check(heartbeatInterval > .zero, "HeartbeatInterval must be positive")
        try check(fanoutTTL > .zero, "FanoutTTL must be positive")
        try check(seenTTL > .zero, "seen TTL must be positive")
        try check(pruneBackoff > .zero && unsubscribeBackoff > .zero, "backoffs must be positive")
        try check(opportunisticGraftTicks > 0, "OpportunisticGraftTicks must be positive")
        try check(opportunisticGraftPeers >= 0, "OpportunisticGraftPeers must not be negative")
        try check(directConnectTicks > 0, "DirectConnectTicks must be positive")
        try check(maxIHaveLength > 0 && maxIHaveMessages > 0, "IHAVE limits must be positive")
        try check(iwantFollowupTime > .zero, "IWantFollowupTime must be positive")
        try check(maxIDontWantMessages >= 0 && maxIDontWantLength >= 0 && idontwantMessageTTL > 0,
                  "IDONTWANT limits must not be negative and the TTL must be positive")
        try check(prunePeers >= 0, "PrunePeers must not be negative")
        try check(maxMessageSize >= 1024, "max message size must be at least 1 KiB")
        try check(outboundQueueSize > 0, "outbound queue size must be positive")
        try check(validationConcurrency > 0 && validationThrottle > 0 && validationQueueSize >= 0,
                  "validation limits must be positive")
        try check(validationTimeout > .zero, "validation timeout must be positive")
        try check(seenCacheCapacity > 0 && maxTrackedTopics > 0, "cache bounds must be positive")
    }
}

/// A configuration the router refuses to run with.
public enum GossipConfigError: Error, Equatable, CustomStringConvertible {
    case invalidParameter(String)
    case invalidScoreParameter(String)
    case messageIDNotContentBased

    public var description: String {
        switch self {
        case .invalidParameter(let what): return "invalid gossipsub parameter: \(what)"
        case .invalidScoreParameter(let what): return "invalid peer score parameter: \(what)"
        case .messageIDNotContentBased:
            return "StrictNoSign messages carry no from/seqno, so the message id function must be content-based"
        }
    }
}
