import Testing
import P2PCore
@testable import Rollup

/// `OrderedTrie.root` (level-by-level, batched hashing) against a direct recursive rendering of
/// Yellow Paper appendix D that hashes each child as it goes (the previous implementation).
@Suite struct OrderedTrieReferenceTests {
    @Test func matchesTheRecursiveReferenceOnRandomLists() {
        var rng = SplitMix64(seed: 0x7472_6965)
        // Counts across the RLP(index) key shapes: 1, < 16, 0x80 (index 0) next to 0x01…0x7f,
        // two-byte keys from 128, three-byte keys from 256 (≥ 65536 is out of reach here).
        for count in [1, 2, 3, 15, 16, 17, 127, 128, 129, 255, 256, 300] {
            // Short values make embedded (< 32-byte) nodes; long ones hashed leaves.
            let values = (0..<count).map { _ in
                rng.bytes(rng.chance(0.4) ? Int.random(in: 0...8, using: &rng) : Int.random(in: 20...600, using: &rng))
            }
            #expect(OrderedTrie.root(of: values) == ReferenceTrie.root(of: values), "count \(count)")
        }
    }

    @Test func matchesOnSingleByteAndEmptyValues() {
        for values: [[UInt8]] in [[[]], [[0x00]], [[0x7f], [0x80]], Array(repeating: [], count: 20),
                                  (0..<200).map { [UInt8(truncatingIfNeeded: $0)] }] {
            #expect(OrderedTrie.root(of: values) == ReferenceTrie.root(of: values))
        }
    }
}

private enum ReferenceTrie {
    static func root(of values: [[UInt8]]) -> [UInt8] {
        guard !values.isEmpty else { return Keccak256.hash([0x80]) }
        let keys = values.indices.map { i in RLP.encode(uint: UInt64(i)).flatMap { [$0 >> 4, $0 & 0x0f] } }
        let entries = values.indices.sorted { keys[$0].lexicographicallyPrecedes(keys[$1]) }.map { (keys[$0], values[$0]) }
        return Keccak256.hash(node(entries[...], depth: 0))
    }

    static func hexPrefix(_ path: ArraySlice<UInt8>, leaf: Bool) -> [UInt8] {
        let odd = path.count % 2 == 1
        var nibbles = [UInt8((leaf ? 2 : 0) + (odd ? 1 : 0))] + (odd ? [] : [0]) + path
        var out = [UInt8]()
        while !nibbles.isEmpty {
            out.append(nibbles[0] << 4 | nibbles[1])
            nibbles.removeFirst(2)
        }
        return out
    }

    static func reference(_ encoded: [UInt8]) -> RLPItem {
        encoded.count < 32 ? (try? RLP.decode(encoded)) ?? .bytes([]) : .bytes(Keccak256.hash(encoded))
    }

    static func node(_ entries: ArraySlice<([UInt8], [UInt8])>, depth: Int) -> [UInt8] {
        let (firstKey, firstValue) = entries[entries.startIndex]
        if entries.count == 1 {
            return RLPItem.list([.bytes(hexPrefix(firstKey[depth...], leaf: true)), .bytes(firstValue)]).encoded
        }
        let lastKey = entries[entries.endIndex - 1].0
        var common = 0
        while depth + common < min(firstKey.count, lastKey.count), firstKey[depth + common] == lastKey[depth + common] {
            common += 1
        }
        if common > 0 {
            let child = node(entries, depth: depth + common)
            return RLPItem.list([.bytes(hexPrefix(firstKey[depth..<(depth + common)], leaf: false)), reference(child)]).encoded
        }
        var items: [RLPItem] = []
        for nibble in UInt8(0)..<16 {
            let group = entries.filter { $0.0.count > depth && $0.0[depth] == nibble }
            items.append(group.isEmpty ? .bytes([]) : reference(node(group[...], depth: depth + 1)))
        }
        items.append(.bytes([]))
        return RLPItem.list(items).encoded
    }
}
