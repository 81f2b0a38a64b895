/// RLP encoder vectors (Ethereum wiki / Yellow Paper), canonical-decoder rejections, and
/// randomized hostile input for the decoder.
import P2PCore
import Testing
@testable import Rollup

@Suite struct RLPTests {
    static let lorem = "Lorem ipsum dolor sit amet, consectetur adipisicing elit"

    @Test func encodingVectors() throws {
        #expect(RLP.encode(bytes: Array("dog".utf8)) == (try hex("0x83646f67")))
        #expect(RLP.encode(bytes: [UInt8]()) == [0x80])
        #expect(RLP.encode(bytes: [0x00]) == [0x00])
        #expect(RLP.encode(bytes: [0x7f]) == [0x7f])
        #expect(RLP.encode(bytes: [0x80]) == [0x81, 0x80])
        #expect(RLP.encode(uint: 0) == [0x80])
        #expect(RLP.encode(uint: 15) == [0x0f])
        #expect(RLP.encode(uint: 1024) == [0x82, 0x04, 0x00])
        #expect(RLP.encode(uint: .max) == [0x88] + [UInt8](repeating: 0xff, count: 8))
        #expect(RLP.encode(bytes: Array(Self.lorem.utf8)) == [0xb8, 0x38] + Array(Self.lorem.utf8))
        let catDog = RLPItem.list([.bytes(Array("cat".utf8)), .bytes(Array("dog".utf8))])
        #expect(catDog.encoded == (try hex("0xc88363617483646f67")))
        #expect(RLPItem.list([]).encoded == [0xc0])
        // The set-theoretical representation of three.
        let three = RLPItem.list([.list([]), .list([.list([])]), .list([.list([]), .list([.list([])])])])
        #expect(three.encoded == (try hex("0xc7c0c1c0c3c0c1c0")))
        let long = RLPItem.list(Array(repeating: .bytes(Array(Self.lorem.utf8)), count: 5))
        #expect(long.encoded.prefix(3) == [0xf9, 0x01, 0x22])
    }

    @Test func decodingRoundTrips() throws {
        let items: [RLPItem] = [
            .bytes([]), .bytes([0]), .bytes([0x80]), .bytes(Array(Self.lorem.utf8)),
            .bytes([UInt8](repeating: 7, count: 70_000)),
            .list([]), .list([.bytes(Array("cat".utf8)), .list([.bytes([1, 2, 3])])]),
            .list(Array(repeating: .bytes(Array(Self.lorem.utf8)), count: 5)),
        ]
        for item in items { #expect(try RLP.decode(item.encoded) == item) }
        #expect(try RLP.decode([0x82, 0x04, 0x00]).asUInt64() == 1024)
        #expect(try RLP.decode([0x80]).asUInt64() == 0)
    }

    @Test func rejectsNonCanonicalAndMalformed() throws {
        let cases: [([UInt8], RLPError)] = [
            ([], .empty),
            ([0x81, 0x00], .nonCanonicalSingleByte(offset: 0)),
            ([0x81, 0x7f], .nonCanonicalSingleByte(offset: 0)),
            ([0xb8, 0x05, 1, 2, 3, 4, 5], .nonCanonicalLength(offset: 0)),
            ([0xb9, 0x00, 0x40] + [UInt8](repeating: 0, count: 64), .nonCanonicalLength(offset: 0)),
            ([0xf8, 0x01, 0x80], .nonCanonicalLength(offset: 0)),
            ([0x83, 0x61, 0x62], .truncated(offset: 0, needed: 3, available: 2)),
            ([0xb9, 0x01], .truncated(offset: 0, needed: 2, available: 1)),
            ([0xc2, 0x83, 0x61], .truncated(offset: 1, needed: 3, available: 1)),
            ([0xbf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], .lengthOverflow(offset: 0)),
            ([0x80, 0x80], .trailingBytes(count: 1)),
            ([0xc1, 0x80, 0x80], .trailingBytes(count: 1)),
        ]
        for (input, expected) in cases {
            #expect(throws: expected, "\(input.prefixedHex)") { try RLP.decode(input) }
        }
        let deep = [UInt8](repeating: 0xc1, count: 100) + [0x80]
        #expect(throws: RLPError.self) { try RLP.decode(deep) }
        #expect(throws: RLPError.tooDeep(limit: 3)) { try RLP.decode([0xc3, 0xc2, 0xc1, 0xc0], maxDepth: 3) }
        #expect(throws: RLPError.invalidInteger) { try RLP.decode([0x82, 0x00, 0x01]).asUInt64() }
        #expect(throws: RLPError.invalidInteger) { try RLP.decode([0x89] + [UInt8](repeating: 1, count: 9)).asUInt64() }
        #expect(throws: RLPError.expectedList) { try RLP.decode([0x80]).asList() }
        #expect(throws: RLPError.expectedBytes) { try RLP.decode([0xc0]).asBytes() }
    }

    /// Random bytes and mutations of valid encodings (including a real header): a typed error or an
    /// item whose canonical encoding is exactly the input.
    @Test func randomizedHostileInput() throws {
        var rng = SplitMix64(seed: 0x2179)
        let header = try TestData.unichainEnvelope().headerRLP(version: .v4)
        let seeds: [[UInt8]] = [
            header,
            RLPItem.list([.bytes(Array(Self.lorem.utf8)), .list([.bytes([1]), .bytes([])])]).encoded,
            RLP.encode(bytes: [UInt8](repeating: 0x42, count: 300)),
        ]
        var decoded = 0
        for i in 0..<6000 {
            let input: [UInt8]
            if i % 3 == 0 {
                input = rng.bytes(Int.random(in: 0...64, using: &rng))
            } else {
                var m = seeds[i % seeds.count]
                for _ in 0..<Int.random(in: 1...3, using: &rng) { m = rng.mutate(m) }
                input = m
            }
            do {
                let item = try RLP.decode(input)
                #expect(item.encoded == input, "non-canonical input accepted: \(input.prefixedHex)")
                decoded += 1
            } catch {
                #expect(!error.description.isEmpty)
            }
        }
        #expect(decoded > 0)
        #expect(try RLP.decode(header).asList().count == 21)
    }
}

@Suite struct OrderedTrieTests {
    @Test func emptyRoots() {
        #expect(OrderedTrie.root(of: []).prefixedHex == "0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421")
        #expect(OrderedTrie.withdrawalsRoot([]) == OrderedTrie.emptyRoot)
        #expect(Keccak256.hash([0x80]) == OrderedTrie.emptyRoot)
    }

    @Test func singleShortItemIsOneLeaf() {
        // One item: the root is keccak(RLP([hexPrefix(key 0x80, leaf), value])).
        let value: [UInt8] = [0x01, 0x02, 0x03]
        let leaf = RLPItem.list([.bytes([0x20, 0x80]), .bytes(value)]).encoded
        #expect(OrderedTrie.root(of: [value]) == Keccak256.hash(leaf))
    }

    @Test func rootDependsOnOrderAndContent() {
        let txs: [[UInt8]] = (0..<300).map { [UInt8](repeating: UInt8($0 % 251), count: $0 % 40 + 1) }
        let root = OrderedTrie.root(of: txs)
        #expect(root.count == 32)
        #expect(OrderedTrie.root(of: txs) == root)
        var swapped = txs
        swapped.swapAt(5, 200)
        #expect(OrderedTrie.root(of: swapped) != root)
        #expect(OrderedTrie.root(of: Array(txs.dropLast())) != root)
    }

    /// The real blocks' transaction and withdrawal roots are covered by their block hashes
    /// (BlockHashTests): 62 and 29 raw transactions, 16 withdrawals.
    @Test func goerliWithdrawalsRootFeedsTheVerifiedHash() throws {
        let p = try ExecutionPayload(ssz: TestData.bytes("real/goerli-l1-8656414-post-shanghai.payload-v2.ssz"), version: .v2)
        let ws = try #require(p.withdrawals)
        #expect(OrderedTrie.withdrawalsRoot(ws) != OrderedTrie.emptyRoot)
        #expect(ExecutionPayloadEnvelope(payload: p).checkBlockHash(version: .v2))
    }
}

@Suite struct RLPLengthTests {
    @Test func integersAreTheirMinimalBigEndianBytes() throws {
        for v: UInt64 in [0, 1, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x1_0000, 1 << 55, 1 << 56, .max - 1, .max] {
            let minimal = Array(withUnsafeBytes(of: v.bigEndian, Array.init).drop { $0 == 0 })
            #expect(RLP.encode(uint: v) == RLP.encode(bytes: minimal), "\(v)")
            #expect(try RLP.decode(RLP.encode(uint: v)).asUInt64() == v)
        }
    }

    @Test func encodedLengthAndListHeaderMatchTheEncoders() {
        var rng = SplitMix64(seed: 0x726c_70)
        for n in [0, 1, 2, 55, 56, 57, 255, 256, 1000, 70_000] {
            for first: UInt8 in [0x00, 0x7f, 0x80, 0xff] {
                var bytes = rng.bytes(n)
                if n > 0 { bytes[0] = first }
                #expect(RLP.encodedLength(bytes: bytes) == RLP.encode(bytes: bytes).count, "n \(n)")
                var header = [UInt8]()
                RLP.appendListHeader(payloadLength: n, to: &header)
                #expect(header + bytes == RLP.encodeList(payload: bytes), "n \(n)")
            }
        }
    }
}
