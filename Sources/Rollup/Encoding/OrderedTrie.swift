/// The root of go-ethereum's `types.DeriveSha`: a Merkle-Patricia trie whose keys are `RLP(index)`
/// and whose values are the list's items (raw EIP-2718 transactions, RLP-encoded withdrawals).
/// Nodes follow the Yellow Paper (appendix D): hex-prefix paths, branch/extension/leaf, children
/// shorter than 32 bytes embedded, longer ones referenced by keccak256. Spec §1.4.
import P2PCore

public enum OrderedTrie {
    /// keccak256(RLP("")) = root of the empty trie.
    public static let emptyRoot: [UInt8] = [
        0x56, 0xe8, 0x1f, 0x17, 0x1b, 0xcc, 0x55, 0xa6, 0xff, 0x83, 0x45, 0xe6, 0x92, 0xc0, 0xf8, 0x6e,
        0x5b, 0x48, 0xe0, 0x1b, 0x99, 0x6c, 0xad, 0xc0, 0x01, 0x62, 0x2f, 0xb5, 0xe3, 0x63, 0xb4, 0x21,
    ]

    /// `DeriveSha` root of `values`, keyed by `RLP(index)`.
    public static func root(of values: [[UInt8]]) -> [UInt8] {
        guard !values.isEmpty else { return emptyRoot }
        var entries = values.indices.map { i in Entry(key: nibbles(RLP.encode(uint: UInt64(i))), value: i) }
        entries.sort { $0.key.lexicographicallyPrecedes($1.key) }
        let rootNode = node(entries[...], depth: 0, values: values)
        return Keccak256.hash(rootNode)
    }

    /// Root of a withdrawals list: each item is RLP([index, validatorIndex, address, amount]).
    public static func withdrawalsRoot(_ withdrawals: [Withdrawal]) -> [UInt8] {
        root(of: withdrawals.map { w in
            var payload = [UInt8]()
            RLP.append(uint: w.index, to: &payload)
            RLP.append(uint: w.validatorIndex, to: &payload)
            RLP.append(bytes: w.address, to: &payload)
            RLP.append(uint: w.amount, to: &payload)
            return RLP.encodeList(payload: payload)
        })
    }

    private struct Entry {
        var key: [UInt8]  // nibbles
        var value: Int    // index into `values`
    }

    private static func nibbles(_ bytes: [UInt8]) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(b >> 4)
            out.append(b & 0x0f)
        }
        return out
    }

    /// Hex-prefix encoding of a nibble path (flag 2 marks a leaf, 1 an odd length).
    private static func hexPrefix(_ path: ArraySlice<UInt8>, leaf: Bool) -> [UInt8] {
        var flag: UInt8 = leaf ? 2 : 0
        var out = [UInt8]()
        out.reserveCapacity(path.count / 2 + 1)
        var rest = path
        if path.count % 2 == 1 {
            flag |= 1
            out.append(flag << 4 | path[path.startIndex])
            rest = path.dropFirst()
        } else {
            out.append(flag << 4)
        }
        var i = rest.startIndex
        while i < rest.endIndex {
            out.append(rest[i] << 4 | rest[i + 1])
            i += 2
        }
        return out
    }

    /// How a parent refers to a child: embedded if its encoding is shorter than 32 bytes.
    private static func appendReference(_ encodedNode: [UInt8], to out: inout [UInt8]) {
        if encodedNode.count < 32 {
            out.append(contentsOf: encodedNode)
        } else {
            RLP.append(bytes: Keccak256.hash(encodedNode), to: &out)
        }
    }

    /// The RLP encoding of the node holding `entries` (sorted, sharing the first `depth` nibbles).
    private static func node(_ entries: ArraySlice<Entry>, depth: Int, values: [[UInt8]]) -> [UInt8] {
        let first = entries[entries.startIndex]
        if entries.count == 1 {
            var payload = [UInt8]()
            RLP.append(bytes: hexPrefix(first.key[depth...], leaf: true), to: &payload)
            RLP.append(bytes: values[first.value], to: &payload)
            return RLP.encodeList(payload: payload)
        }
        // Sorted keys: the common prefix of all is the common prefix of the first and last.
        let last = entries[entries.endIndex - 1]
        var common = 0
        while depth + common < first.key.count, depth + common < last.key.count,
              first.key[depth + common] == last.key[depth + common] {
            common += 1
        }
        if common > 0 {
            var payload = [UInt8]()
            RLP.append(bytes: hexPrefix(first.key[depth..<(depth + common)], leaf: false), to: &payload)
            appendReference(node(entries, depth: depth + common, values: values), to: &payload)
            return RLP.encodeList(payload: payload)
        }
        // Branch: a key ending here holds the branch value (cannot happen for RLP(index) keys,
        // which are prefix-free, but keeps the node well defined).
        var payload = [UInt8]()
        var branchValue: [UInt8]? = nil
        var i = entries.startIndex
        if first.key.count == depth {
            branchValue = values[first.value]
            i += 1
        }
        for nibble in UInt8(0)..<16 {
            let start = i
            while i < entries.endIndex, entries[i].key[depth] == nibble { i += 1 }
            if start == i {
                payload.append(0x80)
            } else {
                appendReference(node(entries[start..<i], depth: depth + 1, values: values), to: &payload)
            }
        }
        RLP.append(bytes: branchValue ?? [], to: &payload)
        return RLP.encodeList(payload: payload)
    }
}
