import P2PCore
import Rollup

/// Fetched blocks that are not yet known to be on the trusted chain (op-node's `quarantine`,
/// spec §5.3): an LRU keyed by block hash with an index by number. Unlike op-node's index, which
/// keeps only the latest hash per number, every quarantined hash is indexed, so a wrong block at a
/// height never hides the right one.
struct Quarantine: Sendable {
    struct Entry: Sendable {
        let envelope: ExecutionPayloadEnvelope
        /// Who served it (penalised if it is proven wrong).
        let peer: PeerID
        var number: UInt64 { envelope.payload.blockNumber }
        var hash: [UInt8] { envelope.payload.blockHash }
    }

    private var entries: LRUCache<[UInt8], Entry>
    private var byNumber: [UInt64: [[UInt8]]] = [:]

    init(capacity: Int) { entries = LRUCache(capacity: capacity) }

    var count: Int { entries.count }
    var capacity: Int { entries.capacity }

    func contains(_ hash: [UInt8]) -> Bool { entries.contains(hash) }
    func entry(_ hash: [UInt8]) -> Entry? { entries.peek(hash) }
    func hashes(at number: UInt64) -> [[UInt8]] { byNumber[number] ?? [] }
    func hasBlock(at number: UInt64) -> Bool { byNumber[number] != nil }

    /// Adds `entry` (a hash already present is only refreshed). Returns the entry evicted to make
    /// room, if the quarantine was full.
    mutating func insert(_ entry: Entry) -> Entry? {
        guard !entries.contains(entry.hash) else { _ = entries.get(entry.hash); return nil }
        let evicted = entries.set(entry.hash, entry)?.value
        if let evicted { unindex(evicted) }
        byNumber[entry.number, default: []].append(entry.hash)
        return evicted
    }

    @discardableResult
    mutating func remove(_ hash: [UInt8]) -> Entry? {
        guard let entry = entries.remove(hash) else { return nil }
        unindex(entry)
        return entry
    }

    private mutating func unindex(_ entry: Entry) {
        guard var list = byNumber[entry.number] else { return }
        list.removeAll { $0 == entry.hash }
        byNumber[entry.number] = list.isEmpty ? nil : list
    }
}
