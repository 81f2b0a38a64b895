/// The seen-messages cache: message ids remembered for a TTL from first sight, so duplicates are
/// recognised and not validated or forwarded twice (go-libp2p-pubsub `timecache` "first seen"
/// strategy, `WithSeenMessagesTTL`; op-node 65 s, spec §4.1). Bounded: when `capacity` ids are
/// held, the oldest is evicted early.
struct SeenCache {
    let ttl: UInt64
    let capacity: Int
    private var expiry: [MessageID: UInt64] = [:]
    /// Insertion order for expiry sweeps; `head` is the first live slot.
    private var order: [(id: MessageID, expires: UInt64)] = []
    private var head = 0

    init(ttl: UInt64, capacity: Int) {
        self.ttl = ttl
        self.capacity = max(1, capacity)
    }

    var count: Int { expiry.count }

    func contains(_ id: MessageID, now: UInt64) -> Bool {
        guard let e = expiry[id] else { return false }
        return e > now
    }

    /// Adds `id`; returns false if it was already present and unexpired.
    @discardableResult
    mutating func insert(_ id: MessageID, now: UInt64) -> Bool {
        if contains(id, now: now) { return false }
        if expiry.count >= capacity { evictOldest() }
        let e = now &+ ttl
        expiry[id] = e
        order.append((id, e))
        return true
    }

    /// Drops expired ids.
    mutating func sweep(now: UInt64) {
        while head < order.count, order[head].expires <= now {
            let entry = order[head]
            // Only remove if this queue entry is the current one for the id (it may have been
            // re-inserted after expiring).
            if expiry[entry.id] == entry.expires { expiry[entry.id] = nil }
            head += 1
        }
        compact()
    }

    private mutating func evictOldest() {
        while head < order.count {
            let entry = order[head]
            head += 1
            if expiry[entry.id] == entry.expires {
                expiry[entry.id] = nil
                break
            }
        }
        compact()
    }

    private mutating func compact() {
        if head > 1024 && head * 2 > order.count {
            order.removeFirst(head)
            head = 0
        }
    }
}
