import P2PCore

/// PRUNE backoff per topic and peer (gossipsub v1.1 spec "Prune Backoff and Peer Exchange";
/// go-libp2p-pubsub `gossipsub.go` `addBackoff`, `doAddBackoff`, `clearBackoff`). Kept across
/// disconnects, keyed by peer id; entries are cleared lazily with two heartbeats of slack
/// (libp2p/specs#289), so the heartbeat does not re-graft right at the boundary.
struct BackoffTable {
    private var entries: [String: [PeerID: UInt64]] = [:]

    /// Extends the backoff of `peer` in `topic` to at least `until`.
    mutating func add(_ peer: PeerID, topic: String, until: UInt64) {
        if let current = entries[topic]?[peer], current >= until { return }
        entries[topic, default: [:]][peer] = until
    }

    func expiry(_ peer: PeerID, topic: String) -> UInt64? { entries[topic]?[peer] }

    /// Whether an entry exists (expired or not) — go's heartbeat test.
    func contains(_ peer: PeerID, topic: String) -> Bool { entries[topic]?[peer] != nil }

    /// Removes entries that expired more than `slack` ago.
    mutating func clear(now: UInt64, slack: UInt64) {
        for topic in Array(entries.keys) {
            entries[topic] = entries[topic]?.filter { $0.value &+ slack >= now }
            if entries[topic]?.isEmpty ?? true { entries[topic] = nil }
        }
    }

    var count: Int { entries.values.reduce(0) { $0 + $1.count } }
}
