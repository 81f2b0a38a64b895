/// go-libp2p's basic connection manager policy (spec §4.4): when connections exceed the high
/// water mark, close the least valuable ones down to the low water mark, sparing protected peers
/// and connections younger than the grace period; trim at most once per silence period.
/// A pure policy object: the host supplies the connection list and acts on the answer.
public struct ConnectionManager: Sendable {
    public struct Config: Sendable {
        public var lowWater = 20          // --p2p.peers.lo
        public var highWater = 30         // --p2p.peers.hi
        public var gracePeriod: Duration = .seconds(30)    // --p2p.peers.grace
        public var silencePeriod: Duration = .seconds(60)
        public init() {}
    }

    public struct Candidate: Sendable {
        public let peer: PeerID
        public let openedAt: UInt64     // ns, monotonic
        public let value: Int           // sum of tag weights
        public let protected: Bool
        public init(peer: PeerID, openedAt: UInt64, value: Int, protected: Bool) {
            self.peer = peer; self.openedAt = openedAt; self.value = value; self.protected = protected
        }
    }

    public var config: Config
    private var lastTrim: UInt64?

    public init(config: Config = Config()) { self.config = config }

    /// The peers to disconnect now (possibly none).
    public mutating func trim(_ connections: [Candidate], now: UInt64, force: Bool = false) -> [PeerID] {
        guard connections.count > config.highWater else { return [] }
        if !force, let last = lastTrim, now &- last < config.silencePeriod.clampedNanoseconds { return [] }
        lastTrim = now
        let grace = config.gracePeriod.clampedNanoseconds
        let excess = connections.count - config.lowWater
        let eligible = connections
            .filter { !$0.protected && now &- $0.openedAt >= grace }
            .sorted { $0.value != $1.value ? $0.value < $1.value : $0.openedAt > $1.openedAt }
        return eligible.prefix(excess).map(\.peer)
    }
}
