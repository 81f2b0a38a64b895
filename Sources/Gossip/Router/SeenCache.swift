/// The seen-messages cache: message ids remembered for a TTL from first sight, so duplicates are
/// recognised and not validated or forwarded twice (go-libp2p-pubsub `timecache` "first seen"
/// strategy, `WithSeenMessagesTTL`; op-node 65 s, spec §4.1). Bounded: when `capacity` ids are
/// held, the oldest is evicted early.
///
/// [p2pnode] Each id also counts the copies each connection sent of it (connections by the
/// router's per-connection serial, at most `maxSenders` per id), for the duplicate-flood
/// penalty; the counts live exactly as long as the id.
struct SeenCache {
    /// Senders tracked per id (the connection manager keeps about 30 peers); more go uncounted.
    static let maxSenders = 64

    struct Entry {
        var expires: UInt64
        var senders: [(serial: UInt32, copies: UInt32)] = []
    }

    let ttl: UInt64
    let capacity: Int
    private var entries: [MessageID: Entry] = [:]
    /// Insertion order for expiry sweeps; `head` is the first live slot.
    private var order: [(id: MessageID, expires: UInt64)] = []
    private var head = 0

    init(ttl: UInt64, capacity: Int) {
        self.ttl = ttl
        self.capacity = max(1, capacity)
    }

    var count: Int { entries.count }

    func contains(_ id: MessageID, now: UInt64) -> Bool {
        guard let e = entries[id] else { return false }
        return e.expires > now
    }

    /// Adds `id`, first sent by connection `sender` (nil: published locally); returns false if
    /// it was already present and unexpired.
    @discardableResult
    mutating func insert(_ id: MessageID, now: UInt64, from sender: UInt32? = nil) -> Bool {
        if contains(id, now: now) { return false }
        if entries.count >= capacity { evictOldest() }
        let e = now &+ ttl
        var entry = Entry(expires: e)
        if let sender { entry.senders = [(sender, 1)] }
        entries[id] = entry
        order.append((id, e))
        return true
    }

    /// Counts one more copy of a seen `id` from connection `sender`; returns how many copies it
    /// has now sent (0 when the id is not held or its sender list is full).
    mutating func recordCopy(_ id: MessageID, from sender: UInt32) -> Int {
        guard let i = entries.index(forKey: id) else { return 0 }
        if let j = entries.values[i].senders.firstIndex(where: { $0.serial == sender }) {
            entries.values[i].senders[j].copies &+= 1
            return Int(entries.values[i].senders[j].copies)
        }
        guard entries.values[i].senders.count < Self.maxSenders else { return 0 }
        entries.values[i].senders.append((sender, 1))
        return 1
    }

    /// Drops expired ids.
    mutating func sweep(now: UInt64) {
        while head < order.count, order[head].expires <= now {
            let entry = order[head]
            // Only remove if this queue entry is the current one for the id (it may have been
            // re-inserted after expiring).
            if entries[entry.id]?.expires == entry.expires { entries[entry.id] = nil }
            head += 1
        }
        compact()
    }

    private mutating func evictOldest() {
        while head < order.count {
            let entry = order[head]
            head += 1
            if entries[entry.id]?.expires == entry.expires {
                entries[entry.id] = nil
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
