import P2PCore

/// The decompressed bytes of recent block messages, by op-node message id, so a block is
/// decompressed once: the router's message-id function (`OPMessageID.compute(topic:data:)`,
/// spec §2.5) has to decompress the data to hash it, and puts the result here; the block
/// validator (`BlockGossip`) takes it out for checks 1–4 instead of decompressing again.
///
/// Keyed by the id alone, which is sound: the id is sha256 over the *decompressed* bytes (with
/// the valid-snappy domain), so every message with that id decompresses to these bytes, and
/// checks 1–4 depend on nothing else once decoding succeeded. A miss only costs a decompression.
///
/// Bounded (principle 4): at most `capacity` entries and `maxBytes` bytes in total; inserting
/// beyond either evicts least recently inserted entries first. Entries whose message is never
/// validated (duplicates, unsubscribed topics) simply age out. Thread-safe (one lock).
public final class DecompressedBlockCache: Sendable {
    /// The cache the message-id function and every `BlockGossip` in the process share (several
    /// nodes in one process see the same ids for the same bytes, so sharing is correct).
    public static let shared = DecompressedBlockCache(capacity: 64, maxBytes: 64 << 20)

    public let capacity: Int
    public let maxBytes: Int
    private let state: Locked<(entries: LRUCache<[UInt8], [UInt8]>, bytes: Int)>

    public init(capacity: Int, maxBytes: Int) {
        self.capacity = Swift.max(1, capacity)
        self.maxBytes = Swift.max(0, maxBytes)
        state = Locked((LRUCache(capacity: self.capacity), 0))
    }

    /// Remembers `bytes` as the decompressed data of message `id`. Data larger than `maxBytes`
    /// is not kept.
    public func insert(id: [UInt8], bytes: [UInt8]) {
        guard bytes.count <= maxBytes else { return }
        state.withLock { s in
            if let old = s.entries.remove(id) { s.bytes -= old.count }
            while s.bytes + bytes.count > maxBytes, let (_, evicted) = s.entries.removeOldest() {
                s.bytes -= evicted.count
            }
            if let (_, evicted) = s.entries.set(id, bytes) { s.bytes -= evicted.count }
            s.bytes += bytes.count
        }
    }

    /// Removes and returns the decompressed data of message `id`, if still cached.
    public func take(id: [UInt8]) -> [UInt8]? {
        state.withLock { s in
            guard let bytes = s.entries.remove(id) else { return nil }
            s.bytes -= bytes.count
            return bytes
        }
    }

    /// Entries and total bytes held (for tests and metrics).
    public var usage: (count: Int, bytes: Int) { state.withLock { ($0.entries.count, $0.bytes) } }
}
