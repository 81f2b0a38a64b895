import Testing
@testable import P2PCore

/// Randomized hostile input for every decoder in Encoding/, Identity/ and Multiaddr/: random
/// bytes and mutations (bit flips, truncation, insertion, deletion) of valid encodings. Each
/// decode must return a typed error or a valid value, never trap; valid values of canonical
/// formats must re-encode to the same bytes. Seeds are fixed so failures replay. Every test also
/// checks that both outcomes occurred, so the mutations really reach both paths.
@Suite struct DecoderFuzzTests {
    /// How many inputs decoded and how many were rejected.
    struct Outcomes {
        var valid = 0
        var invalid = 0
        mutating func record(_ ok: Bool) { if ok { valid += 1 } else { invalid += 1 } }
        var sawBoth: Bool { valid > 0 && invalid > 0 }
    }

    /// A random mutation of `valid`.
    static func mutate(_ valid: [UInt8], _ rng: inout TestRNG) -> [UInt8] {
        var b = valid
        switch rng.next() % 7 {
        case 0 where !b.isEmpty:  // bit flips
            for _ in 0..<(1 + Int(rng.next() % 3)) {
                let i = Int(rng.next() % UInt64(b.count))
                b[i] ^= 1 << UInt8(rng.next() % 8)
            }
        case 1:  // truncation
            b = Array(b.prefix(b.isEmpty ? 0 : Int(rng.next() % UInt64(b.count))))
        case 2:  // insertion
            let i = Int(rng.next() % UInt64(b.count + 1))
            b.insert(contentsOf: rng.bytes(1 + Int(rng.next() % 4)), at: i)
        case 3 where !b.isEmpty:  // deletion
            let i = Int(rng.next() % UInt64(b.count))
            b.removeSubrange(i..<min(b.count, i + 1 + Int(rng.next() % 3)))
        case 4 where !b.isEmpty:  // overwrite with an interesting byte
            let i = Int(rng.next() % UInt64(b.count))
            b[i] = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x2f][Int(rng.next() % 6)]
        case 5:  // unchanged
            break
        default:  // random bytes
            b = rng.bytes(Int(rng.next() % 64))
        }
        return b
    }

    /// A random mutation of `text` using characters from `alphabet`.
    static func mutate(_ text: String, alphabet: [UInt8], _ rng: inout TestRNG) -> String {
        var b = Array(text.utf8)
        func pick(_ rng: inout TestRNG) -> UInt8 { alphabet[Int(rng.next() % UInt64(alphabet.count))] }
        switch rng.next() % 5 {
        case 0 where !b.isEmpty: b[Int(rng.next() % UInt64(b.count))] = pick(&rng)
        case 1: b = Array(b.prefix(b.isEmpty ? 0 : Int(rng.next() % UInt64(b.count))))
        case 2: b.insert(pick(&rng), at: Int(rng.next() % UInt64(b.count + 1)))
        case 3: break
        default: b = (0..<Int(rng.next() % 80)).map { _ in pick(&rng) }
        }
        return String(decoding: b, as: UTF8.self)
    }

    @Test func varint() {
        var rng = TestRNG(seed: 100)
        var outcomes = Outcomes()
        let seeds = [UInt64(0), 1, 127, 128, 300, 0x1a5, UInt64(Int64.max), UInt64.max].map { Varint.encode($0) }
        for i in 0..<5000 {
            let input = Self.mutate(seeds[i % seeds.count], &rng)
            for maxBytes in [Varint.maxMultiformatsBytes, Varint.maxBytes] {
                let decoded = try? Varint.decode(input, maxBytes: maxBytes)
                outcomes.record(decoded != nil)
                if let (value, length) = decoded {
                    #expect(length <= maxBytes)
                    #expect(Varint.encode(value) == Array(input.prefix(length)))
                }
                if let (value, length) = try? Varint.decode(input, maxBytes: maxBytes, minimal: false) {
                    #expect(Varint.encodedLength(value) <= length && length <= maxBytes)
                }
            }
        }
        #expect(outcomes.sawBoth)
    }

    @Test func base58() throws {
        var rng = TestRNG(seed: 101)
        var outcomes = Outcomes()
        let alphabet = Array("123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz0OIl+/ é".utf8)
        let valid = Base58.encode([0, 0] + rng.bytes(40))
        for _ in 0..<3000 {
            let text = Self.mutate(valid, alphabet: alphabet, &rng)
            let bytes = try? Base58.decode(text)
            outcomes.record(bytes != nil)
            if let bytes { #expect(Base58.encode(bytes) == text) }
            let random = (rng.next() % 4 == 0 ? [0] : []) + rng.bytes(Int(rng.next() % 50))
            #expect(try Base58.decode(Base58.encode(random)) == random)
        }
        #expect(outcomes.sawBoth)
    }

    @Test func multihash() {
        var rng = TestRNG(seed: 102)
        var outcomes = Outcomes()
        let seeds = [Multihash(sha256Of: [1, 2, 3]).bytes, Multihash(identity: rng.bytes(37)).bytes, [0x00, 0x00]]
        for i in 0..<5000 {
            let input = Self.mutate(seeds[i % seeds.count], &rng)
            let m = try? Multihash(bytes: input)
            outcomes.record(m != nil)
            if let m { #expect(m.bytes == input) }
        }
        #expect(outcomes.sawBoth)
    }

    @Test func peerIDBytesAndText() throws {
        var rng = TestRNG(seed: 103)
        var byteOutcomes = Outcomes()
        var textOutcomes = Outcomes()
        let ids = [PrivateKey.generate(.secp256k1).peerID, PrivateKey.generate(.ed25519).peerID,
                   try PeerID(string: "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N")]
        let alphabet = Array("123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz0".utf8)
        let cid = "bafzbeie5745rpv2m6tjyuugywy4d5ewrqgqqhfnf445he3omzpjbx5xqxe"
        for i in 0..<3000 {
            let id = ids[i % ids.count]
            let bytes = Self.mutate(id.bytes, &rng)
            let parsed = try? PeerID(bytes: bytes)
            byteOutcomes.record(parsed != nil)
            if let parsed {
                #expect(parsed.bytes == bytes)
                #expect(try PeerID(string: parsed.description) == parsed)
                if let key = parsed.publicKey, key.marshal() == Array(bytes.dropFirst(2)) {
                    #expect(PeerID(publicKey: key) == parsed)
                }
            }
            let text = Self.mutate(i % 5 == 0 ? cid : id.description, alphabet: alphabet, &rng)
            let fromText = try? PeerID(string: text)
            textOutcomes.record(fromText != nil)
            if let fromText, text.hasPrefix("1") || text.hasPrefix("Qm") {
                #expect(fromText.description == text)
            }
        }
        #expect(byteOutcomes.sawBoth)
        #expect(textOutcomes.sawBoth)
    }

    @Test func keyProtobufs() throws {
        var rng = TestRNG(seed: 104)
        var publicOutcomes = Outcomes()
        var privateOutcomes = Outcomes()
        let keys = [PrivateKey.generate(.secp256k1), PrivateKey.generate(.ed25519)]
        for i in 0..<3000 {
            let key = keys[i % 2]
            let pub = try? PublicKey.unmarshal(Self.mutate(key.publicKey.marshal(), &rng))
            publicOutcomes.record(pub != nil)
            if let pub { #expect(try PublicKey.unmarshal(pub.marshal()) == pub) }
            let priv = try? PrivateKey.unmarshal(Self.mutate(key.marshal(), &rng))
            privateOutcomes.record(priv != nil)
            if let priv {
                #expect(try PrivateKey.unmarshal(priv.marshal()).publicKey == priv.publicKey)
                #expect(priv.publicKey.verify(signature: priv.sign([1, 2, 3]), message: [1, 2, 3]))
            }
        }
        #expect(publicOutcomes.sawBoth)
        #expect(privateOutcomes.sawBoth)
    }

    @Test func multiaddrBytesAndText() throws {
        var rng = TestRNG(seed: 105)
        var byteOutcomes = Outcomes()
        var textOutcomes = Outcomes()
        let id = PrivateKey.generate(.secp256k1).peerID
        let seeds = try [
            "/ip4/127.0.0.1/tcp/4001", "/ip6/2001:db8::ff00:42:8329/tcp/9222/p2p/\(id)", "/dns4/example.com/tcp/443",
            "/dns/a/dns6/b/ip6/::ffff:1.2.3.4", "/p2p/QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N",
        ].map { try Multiaddr($0) }
        let alphabet = Array("/ip4ip6tcpdns4p2pfs0123456789abcdef:.QmYy".utf8)
        for i in 0..<4000 {
            let seed = seeds[i % seeds.count]
            let bytes = Self.mutate(seed.bytes, &rng)
            let fromBytes = try? Multiaddr(bytes: bytes)
            byteOutcomes.record(fromBytes != nil)
            if let m = fromBytes {
                #expect(m.bytes == bytes)
                #expect(try Multiaddr(m.description) == m)
            }
            let text = Self.mutate(seed.description, alphabet: alphabet, &rng)
            let fromText = try? Multiaddr(text)
            textOutcomes.record(fromText != nil)
            if let m = fromText {
                #expect(try Multiaddr(bytes: m.bytes) == m)
                #expect(try Multiaddr(m.description) == m)
            }
        }
        #expect(byteOutcomes.sawBoth)
        #expect(textOutcomes.sawBoth)
    }

    @Test func snappyBlock() throws {
        var rng = TestRNG(seed: 106)
        var outcomes = Outcomes()
        let obj = try TestData.json("gossip/synthetic-chain10-v2.json")
        let real = try [UInt8](hex: try SnappyTests.field(obj, "snappy_block_compressed"))
        let seeds = [real, Snappy.compress(rng.bytes(300)), Snappy.compress([UInt8](repeating: 9, count: 2000)), [0x00]]
        for i in 0..<3000 {
            let input = Self.mutate(seeds[i % seeds.count], &rng)
            let out = try? Snappy.decompress(input, maxLength: 1 << 20)
            outcomes.record(out != nil)
            if let out {
                #expect(try Snappy.decodedLength(input) == out.count)
                #expect(try Snappy.decompress(Snappy.compress(out), maxLength: out.count) == out)
            }
        }
        #expect(outcomes.sawBoth)
    }

    @Test func snappyFramed() throws {
        var rng = TestRNG(seed: 107)
        var outcomes = Outcomes()
        let real = try SnappyTests.responseStream()
        let seeds = [real, SnappyFramed.encode(rng.bytes(500)), SnappyFramed.encode([UInt8](repeating: 3, count: 3000)),
                     SnappyFramed.streamIdentifier + [0xfe, 0x02, 0x00, 0x00, 0, 0]]
        for i in 0..<2000 {
            let input = Self.mutate(seeds[i % seeds.count], &rng)
            let maxOutput = i % 3 == 0 ? 1000 : 1 << 20
            // Streaming in random pieces must agree with the one-shot decode, error for error.
            var d = SnappyFramedDecoder(maxOutput: maxOutput)
            var streamed: Result<[UInt8], SnappyError>
            do {
                var p = 0
                while p < input.count {
                    let n = min(input.count - p, 1 + Int(rng.next() % 200))
                    try d.feed(input[p..<p + n])
                    p += n
                }
                streamed = .success(try d.finish())
            } catch {
                streamed = .failure(error)
            }
            do {
                let out = try SnappyFramed.decode(input, maxOutput: maxOutput)
                outcomes.valid += 1
                #expect(out.count <= maxOutput)
                #expect(try SnappyFramed.decode(SnappyFramed.encode(out), maxOutput: maxOutput) == out)
                #expect(streamed == .success(out))
            } catch {
                outcomes.invalid += 1
                #expect(streamed == .failure(error))
            }
        }
        #expect(outcomes.sawBoth)
    }
}
