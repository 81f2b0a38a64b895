/// The root of go-ethereum's `types.DeriveSha`: a Merkle-Patricia trie whose keys are `RLP(index)`
/// and whose values are the list's items (raw EIP-2718 transactions, RLP-encoded withdrawals).
/// Nodes follow the Yellow Paper (appendix D): hex-prefix paths, branch/extension/leaf, children
/// shorter than 32 bytes embedded, longer ones referenced by keccak256. Spec §1.4.
///
/// The trie's shape is built first; then its nodes are encoded and hashed level by level from the
/// leaves up, each level as one batch of independent hashes (`Keccak256.hash(_:ranges:)`, eight at a
/// time on AVX-512) — the leaves hold the transactions, so nearly all bytes go in the first batch.
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
        var shape = Shape()
        let root = shape.build(entries[...], depth: 0)
        return shape.rootHash(root: root, values: values)
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

    /// One trie node; children are indices of nodes placed before it in `Shape.nodes`.
    private enum Node {
        /// Hex-prefixed remaining path, index of the value.
        case leaf(path: [UInt8], value: Int)
        /// Hex-prefixed shared path, the child.
        case `extension`(path: [UInt8], child: Int)
        /// 16 children (-1 = empty) and the index of the branch value (-1 = none).
        case branch(children: [Int], value: Int)
    }

    /// The trie's nodes, children before parents, with each node's height (leaves 0): all nodes
    /// of one height depend only on lower ones, so each height is one batch of hashes.
    private struct Shape {
        var nodes: [Node] = []
        var heights: [Int] = []

        private mutating func add(_ node: Node, height: Int) -> Int {
            nodes.append(node)
            heights.append(height)
            return nodes.count - 1
        }

        /// Adds the node holding `entries` (sorted, sharing the first `depth` nibbles) after its
        /// subtree; returns its index.
        mutating func build(_ entries: ArraySlice<Entry>, depth: Int) -> Int {
            let first = entries[entries.startIndex]
            if entries.count == 1 {
                return add(.leaf(path: hexPrefix(first.key[depth...], leaf: true), value: first.value), height: 0)
            }
            // Sorted keys: the common prefix of all is the common prefix of the first and last.
            let last = entries[entries.endIndex - 1]
            var common = 0
            while depth + common < first.key.count, depth + common < last.key.count,
                  first.key[depth + common] == last.key[depth + common] {
                common += 1
            }
            if common > 0 {
                let child = build(entries, depth: depth + common)
                let path = hexPrefix(first.key[depth..<(depth + common)], leaf: false)
                return add(.extension(path: path, child: child), height: heights[child] + 1)
            }
            // Branch: a key ending here holds the branch value (cannot happen for RLP(index) keys,
            // which are prefix-free, but keeps the node well defined).
            var value = -1
            var i = entries.startIndex
            if first.key.count == depth {
                value = first.value
                i += 1
            }
            var children = [Int](repeating: -1, count: 16)
            var height = 0
            for nibble in UInt8(0)..<16 {
                let start = i
                while i < entries.endIndex, entries[i].key[depth] == nibble { i += 1 }
                if start < i {
                    let child = build(entries[start..<i], depth: depth + 1)
                    children[Int(nibble)] = child
                    height = Swift.max(height, heights[child] + 1)
                }
            }
            return add(.branch(children: children, value: value), height: height)
        }

        /// keccak256 of the node `root`, encoding and hashing the levels below it first.
        func rootHash(root: Int, values: [[UInt8]]) -> [UInt8] {
            var levels = [[Int]](repeating: [], count: heights[root] + 1)
            for (i, h) in heights.enumerated() { levels[h].append(i) }
            // How a parent refers to each node: its encoding if shorter than 32 bytes, else
            // RLP(keccak256(encoding)).
            var references = [[UInt8]](repeating: [], count: nodes.count)
            var rootHash = [UInt8]()
            var encodings = [UInt8]()
            encodings.reserveCapacity(values.reduce(0) { $0 + $1.count } + 48 * values.count)
            for level in levels {
                // The level's encodings back to back, then the long ones (and the root) hashed
                // as one batch.
                encodings.removeAll(keepingCapacity: true)
                var ranges: [Range<Int>] = []
                ranges.reserveCapacity(level.count)
                for n in level {
                    let start = encodings.count
                    encode(nodes[n], references: references, values: values, to: &encodings)
                    ranges.append(start..<encodings.count)
                }
                let hashed = level.indices.filter { ranges[$0].count >= 32 || level[$0] == root }
                let digests = Keccak256.hash(encodings, ranges: hashed.map { ranges[$0] })
                for (j, r) in ranges.enumerated() where r.count < 32 { references[level[j]] = Array(encodings[r]) }
                for (k, j) in hashed.enumerated() {
                    let digest = digests[(32 * k)..<(32 * k + 32)]
                    if level[j] == root { rootHash = Array(digest) }
                    references[level[j]] = RLP.encode(bytes: digest)
                }
            }
            return rootHash
        }

        /// Appends the RLP encoding of `node` (its children's references already known) to `out`.
        private func encode(_ node: Node, references: [[UInt8]], values: [[UInt8]], to out: inout [UInt8]) {
            switch node {
            case .leaf(let path, let value):
                let v = values[value]
                RLP.appendListHeader(payloadLength: RLP.encodedLength(bytes: path) + RLP.encodedLength(bytes: v), to: &out)
                RLP.append(bytes: path, to: &out)
                RLP.append(bytes: v, to: &out)
            case .extension(let path, let child):
                RLP.appendListHeader(payloadLength: RLP.encodedLength(bytes: path) + references[child].count, to: &out)
                RLP.append(bytes: path, to: &out)
                out.append(contentsOf: references[child])
            case .branch(let children, let value):
                let v = value < 0 ? [] : values[value]
                var length = RLP.encodedLength(bytes: v)
                for child in children { length += child < 0 ? 1 : references[child].count }
                RLP.appendListHeader(payloadLength: length, to: &out)
                for child in children {
                    if child < 0 { out.append(0x80) } else { out.append(contentsOf: references[child]) }
                }
                RLP.append(bytes: v, to: &out)
            }
        }
    }
}
