import P2PCore

/// Block hashes known to be on the trusted chain, with their numbers (op-node's `trusted` LRU of
/// 10,000, spec §5.3): the target's hash and parent hash, then the parent hash of every promoted
/// block. Indexed by number too, so that a fetched block whose height already has a trusted hash
/// that differs can be proven wrong.
struct TrustedHashes: Sendable {
    private var entries: LRUCache<[UInt8], UInt64>
    private var byNumber: [UInt64: [[UInt8]]] = [:]

    init(capacity: Int) { entries = LRUCache(capacity: capacity) }

    var count: Int { entries.count }

    func contains(_ hash: [UInt8]) -> Bool { entries.contains(hash) }
    func hashes(at number: UInt64) -> [[UInt8]] { byNumber[number] ?? [] }

    mutating func insert(_ hash: [UInt8], number: UInt64) {
        if let known = entries.get(hash) {
            guard known != number else { return }
            unindex(hash, known)   // the same hash at another height: keep the latest claim
        }
        if let evicted = entries.set(hash, number) { unindex(evicted.key, evicted.value) }
        byNumber[number, default: []].append(hash)
    }

    private mutating func unindex(_ hash: [UInt8], _ number: UInt64) {
        guard var list = byNumber[number] else { return }
        list.removeAll { $0 == hash }
        byNumber[number] = list.isEmpty ? nil : list
    }
}
