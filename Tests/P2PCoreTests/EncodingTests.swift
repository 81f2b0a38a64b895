import Testing
@testable import P2PCore

/// Known vectors for varint, base58btc, multihash and CRC-32C.
@Suite struct EncodingTests {
    // MARK: Varint

    @Test func varintKnownEncodings() throws {
        let cases: [(UInt64, String)] = [
            (0, "00"), (1, "01"), (127, "7f"), (128, "8001"), (300, "ac02"), (16384, "808001"),
            (0x1a5, "a503"), (UInt64(Int64.max), "ffffffffffffffff7f"),
        ]
        for (value, hex) in cases {
            #expect(Varint.encode(value).hexString == hex)
            let decoded = try Varint.decode(try [UInt8](hex: hex))
            #expect(decoded.value == value)
            #expect(decoded.length == hex.count / 2)
        }
        // Full 64 bits need 10 bytes: rejected by the multiformats bound, accepted by protobuf's.
        let max = Varint.encode(UInt64.max)
        #expect(throws: VarintError.overflow) { try Varint.decode(max) }
        #expect(try Varint.decode(max, maxBytes: Varint.maxBytes).value == UInt64.max)
    }

    @Test func varintRejectsBadEncodings() throws {
        #expect(throws: VarintError.truncated) { try Varint.decode([UInt8]()) }
        #expect(throws: VarintError.truncated) { try Varint.decode([0x80, 0x80]) }
        #expect(throws: VarintError.nonMinimal) { try Varint.decode([0x81, 0x00]) }
        #expect(try Varint.decode([0x81, 0x00], minimal: false).value == 1)
        // 10th byte carrying more than the top bit of a u64.
        let overflow: [UInt8] = Array(repeating: 0xff, count: 9) + [0x02]
        #expect(throws: VarintError.overflow) { try Varint.decode(overflow, maxBytes: 10) }
        #expect(try Varint.decodePrefix([0x80]) == nil)
        #expect(try Varint.decodePrefix([0x05, 0xff])?.value == 5)
    }

    // MARK: Base58

    @Test func base58KnownVectors() throws {
        let cases: [([UInt8], String)] = [
            ([], ""),
            ([0], "1"),
            ([0, 0, 0x28, 0x7f, 0xb4, 0xcd], "11233QC4"),
            (Array("Hello World!".utf8), "2NEpo7TZRRrLZSi2U"),
            (Array("The quick brown fox jumps over the lazy dog.".utf8),
             "USm3fpXnKG5EUBx2ndxBDMPVciP5hGey2Jh4NDv6gmeo1LkMeiKrLJUUBk6Z"),
            ([0xff], "5Q"),
        ]
        for (bytes, text) in cases {
            #expect(Base58.encode(bytes) == text)
            #expect(try Base58.decode(text) == bytes)
        }
    }

    @Test func base58Errors() {
        #expect(throws: Base58Error.invalidCharacter("0", offset: 3)) { try Base58.decode("abc0") }
        #expect(throws: Base58Error.invalidCharacter("l", offset: 0)) { try Base58.decode("l") }
        #expect(throws: Base58Error.tooLong(length: 11, limit: 10)) { try Base58.decode("11111111111", maxLength: 10) }
        #expect(throws: Base58Error.self) { try Base58.decode("1é") }
    }

    // MARK: Multihash

    @Test func multihashSha256AndIdentity() throws {
        let sha = Multihash(sha256Of: Array("hello world".utf8))
        #expect(sha.bytes.hexString == "1220b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9")
        #expect(try Multihash(bytes: sha.bytes) == sha)

        let id = Multihash(identity: [1, 2, 3])
        #expect(id.bytes == [0x00, 0x03, 1, 2, 3])
        #expect(try Multihash(bytes: id.bytes) == id)
        #expect(try Multihash(bytes: [0x00, 0x00]).digest.isEmpty)
    }

    @Test func multihashErrors() {
        #expect(throws: MultihashError.invalidVarint(.truncated)) { try Multihash(bytes: []) }
        #expect(throws: MultihashError.invalidVarint(.truncated)) { try Multihash(bytes: [0x12]) }
        #expect(throws: MultihashError.unsupportedCode(0x13)) { try Multihash(bytes: [0x13, 0x00]) }
        #expect(throws: MultihashError.digestLengthMismatch(declared: 32, available: 31)) {
            try Multihash(bytes: [0x12, 0x20] + [UInt8](repeating: 0, count: 31))
        }
        #expect(throws: MultihashError.digestLengthMismatch(declared: 2, available: 3)) {
            try Multihash(bytes: [0x00, 0x02, 1, 2, 3])
        }
        #expect(throws: MultihashError.wrongDigestLength(code: 0x12, expected: 32, got: 2)) {
            try Multihash(bytes: [0x12, 0x02, 1, 2])
        }
        #expect(throws: MultihashError.digestTooLong(length: 200, limit: 128)) {
            try Multihash(bytes: [0x00, 0xc8, 0x01] + [UInt8](repeating: 0, count: 200))
        }
        #expect(throws: MultihashError.invalidVarint(.nonMinimal)) { try Multihash(bytes: [0x80, 0x00, 0x00]) }
    }

    // MARK: CRC-32C

    @Test func crc32cKnownVectors() {
        // RFC 3720 §B.4 and the classic check value.
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xe306_9283)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8a91_36aa)
        #expect(CRC32C.checksum([UInt8](repeating: 0xff, count: 32)) == 0x62a8_ab43)
        #expect(CRC32C.checksum((0..<32).map { UInt8($0) }) == 0x46dd_794e)
        #expect(CRC32C.checksum((0..<32).map { UInt8(31 - $0) }) == 0x113f_db5c)
        #expect(CRC32C.checksum([UInt8]()) == 0)
    }

    @Test func crc32cSlicingMatchesBytewiseAndChains() {
        var rng = TestRNG(seed: 32)
        for _ in 0..<200 {
            let data = rng.bytes(Int(rng.next() % 300))
            // Reference: one bit at a time.
            var c: UInt32 = 0xffff_ffff
            for b in data {
                c ^= UInt32(b)
                for _ in 0..<8 { c = (c & 1) != 0 ? (c >> 1) ^ 0x82f6_3b78 : c >> 1 }
            }
            #expect(CRC32C.checksum(data) == ~c)
            let cut = data.isEmpty ? 0 : Int(rng.next() % UInt64(data.count))
            let chained = data.withUnsafeBytes { all in
                CRC32C.update(CRC32C.checksum(UnsafeRawBufferPointer(rebasing: all[..<cut])),
                              UnsafeRawBufferPointer(rebasing: all[cut...]))
            }
            #expect(chained == ~c)
        }
    }

    @Test func snappyCRCMask() {
        // framing_format.txt: ((c >> 15) | (c << 17)) + 0xa282ead8.
        #expect(CRC32C.mask(0) == 0xa282_ead8)
        #expect(CRC32C.mask(0xe306_9283) == 0xc78a_b0e5)
        #expect(CRC32C.mask(0xffff_ffff) == 0xa282_ead7)  // the addition wraps mod 2^32
    }
}
