import P2PCore

/// One token bucket per peer, kept in an LRU so that peer churn cannot grow it: op-node keeps its
/// server's per-peer limiters in a `simplelru` of 1000 entries (spec §5.2, `NewReqRespServer`).
/// A peer evicted from the LRU comes back with a full bucket, which is op-node's behaviour too.
public struct PeerRateLimiters: Sendable {
    /// op-node's bound on remembered peers.
    public static let defaultCapacity = 1000

    public let rate: Double
    public let burst: Int
    private var buckets: LRUCache<PeerID, TokenBucket>

    public init(rate: Double, burst: Int, capacity: Int = PeerRateLimiters.defaultCapacity) {
        self.rate = rate
        self.burst = burst
        self.buckets = LRUCache(capacity: capacity)
    }

    public var count: Int { buckets.count }
    public var capacity: Int { buckets.capacity }

    /// True if `peer` has a bucket (it made a request recently enough to still be remembered).
    public func isKnown(_ peer: PeerID) -> Bool { buckets.contains(peer) }

    /// Reserves `n` tokens from `peer`'s bucket (created full if unknown) with the semantics of
    /// `TokenBucket.reserve`. Returns the wait, or nil if it would exceed `maxWait`.
    public mutating func reserve(_ n: Int = 1, for peer: PeerID, now: Duration, maxWait: Duration? = nil) -> Duration? {
        var result: Duration?
        buckets.update(peer, default: { TokenBucket(rate: rate, burst: burst) }) { bucket in
            result = bucket.reserve(n, now: now, maxWait: maxWait)
        }
        return result
    }

    /// Tokens `peer` has at `now` (a full burst when unknown).
    public func tokens(for peer: PeerID, at now: Duration) -> Double {
        buckets.peek(peer)?.tokens(at: now) ?? Double(burst)
    }
}
