import Dispatch
import Foundation
import P2PCore
import Rollup

/// What the message-id function learned about a block message, for its validator: the
/// decompressed bytes (so a block is decompressed once) and, started right after decompression
/// on another core, the keccak256 of its payload bytes for the signature check.
public struct PreparedBlock: Sendable {
    public let decompressed: [UInt8]
    /// nil when speculation is off or at its bound; the validator then hashes inline.
    public let payloadHash: SpeculativeHash?

    public init(decompressed: [UInt8], payloadHash: SpeculativeHash? = nil) {
        self.decompressed = decompressed
        self.payloadHash = payloadHash
    }
}

/// Work the op-node message-id function (`OPMessageID.compute`, spec §2.5) does once per block
/// and shares:
///
/// - **Prepared blocks, by id.** The id is sha256 over the *decompressed* data, so the function
///   must decompress; it leaves the bytes here, with the payload hash already running
///   (`SpeculativeHash`), and the block validator takes them (`take`) instead of decompressing and
///   hashing again. Keyed by the id alone, which is sound: every message with that id
///   decompresses to these bytes, and checks 1–8 depend on nothing else. A miss costs only the
///   work the cache would have saved.
/// - **Ids of recent contents.** A copy whose topic and compressed bytes equal a recent
///   message's has that message's id (the id is a function of exactly those): `knownID` finds it
///   by a keyed fingerprint (SipHash of topic, length, first and last 64 bytes) and confirms with a
///   full comparison, so duplicates — most of gossip's extra traffic — cost a memcmp instead of a
///   decompression, a SHA-256 and a speculative payload hash.
///
/// One per node: its router's id function (`MessageIDFunction.opStack(preparingIn:)`) fills it
/// and its `BlockGossip` takes from it. (Shared by several nodes in one process, a copy one node
/// already saw would skip the preparation another node's validator needs.)
///
/// Bounded (principle 4): prepared blocks ≤ `capacity` entries and `maxBytes` decompressed bytes;
/// recent contents ≤ `capacity` entries and `maxBytes` referenced bytes (they share storage with
/// the router's message cache while it holds the message); payload hashes start only on a free
/// core (`ValidationCores`). Oldest entries are evicted first; entries whose
/// message is never validated (duplicates, dropped messages) age out. Thread-safe.
public final class PreparedBlockCache: Sendable {
    public let capacity: Int
    public let maxBytes: Int

    private struct Recent {
        let topic: String
        let data: any ContiguousBytes & Sendable
        let count: Int
        let id: [UInt8]
    }

    private struct State {
        var prepared: SizedLRU<[UInt8], PreparedBlock>
        var recent: SizedLRU<Int, Recent>
        var speculation = false
        var duplicateHits = 0
    }

    private let state: Locked<State>

    public init(capacity: Int = 64, maxBytes: Int = 64 << 20) {
        self.capacity = Swift.max(1, capacity)
        self.maxBytes = Swift.max(0, maxBytes)
        state = Locked(State(prepared: SizedLRU(capacity: self.capacity, maxBytes: self.maxBytes),
                             recent: SizedLRU(capacity: self.capacity, maxBytes: self.maxBytes)))
    }

    /// Whether the message-id function starts payload hashes (on when a `BlockGossip` with a
    /// configured signer runs on a machine with more than one core: otherwise the hash would
    /// only compete with the thread that needs it, or never be used).
    public var speculation: Bool {
        get { state.withLock { $0.speculation } }
        set { state.withLock { $0.speculation = newValue } }
    }

    // MARK: prepared blocks

    /// keccak256(decompressed[65...]) to run ahead of validation (not started: the caller runs
    /// or schedules it), if speculation is on, the bytes can be a block (≥ 66,
    /// `BlockValidator.minGossipSize`) and a core is free (`ValidationCores`, released when done).
    func speculate(_ decompressed: [UInt8]) -> SpeculativeHash? {
        guard decompressed.count >= BlockValidator.minGossipSize, speculation, ValidationCores.reserveSpare() else { return nil }
        return SpeculativeHash(bytes: decompressed, from: BlockSigning.signatureSize) { ValidationCores.leave() }
    }

    /// Remembers what was prepared for message `id`. Data larger than `maxBytes` is not kept.
    public func insert(id: [UInt8], _ block: PreparedBlock) {
        state.withLock { $0.prepared.set(id, block, size: block.decompressed.count) }
    }

    /// Removes and returns what was prepared for message `id`, if still cached.
    public func take(id: [UInt8]) -> PreparedBlock? {
        state.withLock { $0.prepared.remove(id) }
    }

    // MARK: ids of recent contents

    /// The id of a recent message with exactly this topic and data, if one is remembered.
    public func knownID(topic: String, data: UnsafeRawBufferPointer) -> [UInt8]? {
        let key = Self.fingerprint(topic: topic, data)
        guard let r = state.withLock({ $0.recent.peek(key) }), r.count == data.count, r.topic == topic else { return nil }
        guard r.data.withUnsafeBytes({ Self.same($0, data) }) else { return nil }
        state.withLock { $0.duplicateHits += 1 }
        return r.id
    }

    /// Remembers that `data` on `topic` has message id `id` (keeps a reference, not a copy).
    public func remember(topic: String, data: some ContiguousBytes & Sendable, count: Int, id: [UInt8]) {
        let key = data.withUnsafeBytes { Self.fingerprint(topic: topic, $0) }
        let entry = Recent(topic: topic, data: data, count: count, id: id)
        state.withLock { $0.recent.set(key, entry, size: count) }
    }

    /// Byte equality; the same storage (our own publish: the router's message shares the bytes
    /// `BlockGossip.publish` remembered) counts without a scan.
    private static func same(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        guard a.count == b.count else { return false }
        guard let x = a.baseAddress, let y = b.baseAddress, x != y else { return true }
        return memcmp(x, y, a.count) == 0
    }

    private static func fingerprint(topic: String, _ data: UnsafeRawBufferPointer) -> Int {
        var h = Hasher()
        h.combine(topic)
        h.combine(data.count)
        h.combine(bytes: UnsafeRawBufferPointer(rebasing: data.prefix(64)))
        h.combine(bytes: UnsafeRawBufferPointer(rebasing: data.suffix(64)))
        return h.finalize()
    }

    // MARK: figures

    /// Prepared entries and their decompressed bytes (tests and metrics).
    public var usage: (count: Int, bytes: Int) { state.withLock { ($0.prepared.count, $0.prepared.bytes) } }
    /// Remembered contents and the bytes they reference.
    public var recentUsage: (count: Int, bytes: Int) { state.withLock { ($0.recent.count, $0.recent.bytes) } }
    /// Ids found by `knownID` (copies that skipped decompression and hashing).
    public var duplicateHits: Int { state.withLock { $0.duplicateHits } }
}

/// An LRU bounded both in entries and in the total size of its values: setting evicts the least
/// recently used entries until the new one fits; a value larger than the whole budget is not kept.
struct SizedLRU<Key: Hashable, Value> {
    let maxBytes: Int
    private var entries: LRUCache<Key, (value: Value, size: Int)>
    private(set) var bytes = 0

    init(capacity: Int, maxBytes: Int) {
        self.maxBytes = maxBytes
        entries = LRUCache(capacity: capacity)
    }

    var count: Int { entries.count }

    func peek(_ key: Key) -> Value? { entries.peek(key)?.value }

    mutating func set(_ key: Key, _ value: Value, size: Int) {
        guard size <= maxBytes else { return }
        _ = remove(key)
        while bytes + size > maxBytes, let (_, evicted) = entries.removeOldest() { bytes -= evicted.size }
        if let (_, evicted) = entries.set(key, (value, size)) { bytes -= evicted.size }
        bytes += size
    }

    @discardableResult
    mutating func remove(_ key: Key) -> Value? {
        guard let e = entries.remove(key) else { return nil }
        bytes -= e.size
        return e.value
    }
}
