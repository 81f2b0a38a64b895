import Testing
@testable import P2PCore

/// Snappy block format (gossip, spec §2.2/§2.4) and framing format (req-resp, spec §5.1).
@Suite struct SnappyTests {
    static let tenMiB = 10 * (1 << 20)

    /// A JSON string field found by key prefix (the testdata keys carry explanations).
    static func field(_ obj: [String: Any], _ prefix: String) throws -> String {
        let key = try #require(obj.keys.first { $0.hasPrefix(prefix) }, "no key \(prefix)")
        return try #require(obj[key] as? String)
    }

    // MARK: Block format

    @Test(arguments: 1...4) func gossipVectorsDecode(version: Int) throws {
        let obj = try TestData.json("gossip/synthetic-chain10-v\(version).json")
        let compressed = try [UInt8](hex: try Self.field(obj, "snappy_block_compressed"))
        let expected = try [UInt8](hex: try Self.field(obj, "uncompressed_message"))
        #expect(try Snappy.decodedLength(compressed) == expected.count)
        #expect(try Snappy.decompress(compressed, maxLength: Self.tenMiB) == expected)
        let raw = try TestData.bytes("gossip/synthetic-chain10-v\(version).snappy.bin")
        #expect(try Snappy.decompress(raw, maxLength: Self.tenMiB) == expected)
        // Our own encoding differs byte-wise perhaps, but must decode to the same message.
        #expect(try Snappy.decompress(Snappy.compress(expected), maxLength: expected.count) == expected)
    }

    @Test func realUnichainGossipDecodes() throws {
        let obj = try TestData.json("gossip/unichain-sepolia-35535698.v4.signed-test-key.json")
        let compressed = try [UInt8](hex: try Self.field(obj, "snappy_block_compressed"))
        let expected = try [UInt8](hex: try Self.field(obj, "uncompressed_message"))
        #expect(try Snappy.decompress(compressed, maxLength: Self.tenMiB) == expected)
    }

    @Test func validationCasesBehave() throws {
        let obj = try TestData.json("gossip/validation-cases-chain10.json")
        let cases = try #require(obj["cases"] as? [[String: Any]])
        func data(_ name: String) throws -> [UInt8] {
            let c = try #require(cases.first { $0["name"] as? String == name })
            return try [UInt8](hex: try #require(c["data_snappy_block"] as? String))
        }
        // too_short: valid snappy, 65 bytes < the 66-byte minimum.
        let short = try Snappy.decompress(try data("too_short"), maxLength: Self.tenMiB)
        #expect(short.count == 65)
        // invalid_snappy: declares 2^32-1 bytes (a valid preamble, as in Go) and then cannot decode.
        let invalid = try data("invalid_snappy")
        #expect(try Snappy.decodedLength(invalid) == 0xffff_ffff)
        #expect(throws: SnappyError.declaredLengthTooLarge(declared: 0xffff_ffff, limit: Self.tenMiB)) {
            try Snappy.decompress(invalid, maxLength: Self.tenMiB)
        }
        #expect(throws: SnappyError.corruptInput) { try Snappy.decompress(invalid, maxLength: Int.max) }
        // declared_len_over_10MiB: refused from the preamble alone.
        let bomb = try data("declared_len_over_10MiB")
        #expect(try Snappy.decodedLength(bomb) == 12_582_912)
        #expect(throws: SnappyError.declaredLengthTooLarge(declared: 12_582_912, limit: Self.tenMiB)) {
            try Snappy.decompress(bomb, maxLength: Self.tenMiB)
        }
        // Every valid case decodes.
        for name in ["v2_valid", "v4_valid", "v3_layout_on_v2_topic"] {
            #expect(try Snappy.decompress(try data(name), maxLength: Self.tenMiB).count > 66)
        }
    }

    @Test func decodedLengthFollowsGo() throws {
        #expect(throws: SnappyError.invalidLengthPreamble) { try Snappy.decodedLength([UInt8]()) }
        #expect(throws: SnappyError.invalidLengthPreamble) { try Snappy.decodedLength([0x80]) }
        // Above 2^32-1: ErrCorrupt in Go.
        #expect(throws: SnappyError.invalidLengthPreamble) { try Snappy.decodedLength([0x80, 0x80, 0x80, 0x80, 0x10]) }
        #expect(try Snappy.decodedLength([0x00]) == 0)
        #expect(try Snappy.decompress([0x00], maxLength: 0) == [])
        // Go's binary.Uvarint accepts non-minimal preambles up to 10 bytes; so do we, and decode.
        let block = Snappy.compress(Array("hello".utf8))
        let padded: [UInt8] = [0x85, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00] + block.dropFirst()
        #expect(try Snappy.decodedLength(padded) == 5)
        #expect(try Snappy.decompress(padded, maxLength: 100) == Array("hello".utf8))
    }

    @Test func blockRoundTripsAndRejectsCorruption() throws {
        var rng = TestRNG(seed: 1)
        for size in [0, 1, 7, 64, 1000, 70_000] {
            let random = rng.bytes(size)
            let repetitive = (0..<size).map { UInt8($0 % 7) }
            for data in [random, repetitive] {
                let c = Snappy.compress(data)
                #expect(try Snappy.decompress(c, maxLength: size) == data)
                if size > 0 {
                    #expect(throws: SnappyError.declaredLengthTooLarge(declared: size, limit: size - 1)) {
                        try Snappy.decompress(c, maxLength: size - 1)
                    }
                    // Declaring one byte more than the elements produce is corrupt.
                    var longer = Varint.encode(UInt64(size + 1))
                    longer += c.dropFirst(Varint.encodedLength(UInt64(size)))
                    #expect(throws: SnappyError.corruptInput) { try Snappy.decompress(longer, maxLength: size + 1) }
                }
            }
        }
        // Copy with offset 0 (tag 01, len 4, offset 0) after a one-byte literal.
        #expect(throws: SnappyError.corruptInput) { try Snappy.decompress([0x05, 0x00, 0x41, 0x01, 0x00], maxLength: 5) }
    }

    // MARK: Framing format

    static func responseStream() throws -> [UInt8] {
        Array(try TestData.bytes("reqresp/unichain-sepolia-35535698.response.bin").dropFirst(5))
    }

    @Test func realReqRespResponseDecodes() throws {
        let response = try TestData.bytes("reqresp/unichain-sepolia-35535698.response.bin")
        #expect(Array(response.prefix(5)) == [0x00, 0x01, 0x00, 0x00, 0x00])
        let stream = Array(response.dropFirst(5))
        #expect(Array(stream.prefix(10)) == SnappyFramed.streamIdentifier)
        let envelope = try TestData.bytes("real/unichain-sepolia-35535698.envelope-v4.ssz")
        #expect(envelope.count == 1462)
        #expect(try SnappyFramed.decode(stream, maxOutput: Self.tenMiB) == envelope)
        // Fed one byte at a time.
        var d = SnappyFramedDecoder(maxOutput: Self.tenMiB)
        for b in stream { try d.feed([b]) }
        #expect(try d.finish() == envelope)
        // Our encoding round-trips.
        let ours = SnappyFramed.encode(envelope)
        #expect(Array(ours.prefix(10)) == SnappyFramed.streamIdentifier)
        #expect(try SnappyFramed.decode(ours, maxOutput: Self.tenMiB) == envelope)
    }

    @Test func framedRoundTripsAcrossChunkBoundaries() throws {
        var rng = TestRNG(seed: 2)
        for size in [0, 1, 100, 65_535, 65_536, 65_537, 200_000] {
            let compressible = (0..<size).map { UInt8(($0 / 3) % 11) }
            let random = rng.bytes(size)
            for data in [compressible, random] {
                let encoded = SnappyFramed.encode(data)
                #expect(try SnappyFramed.decode(encoded, maxOutput: size) == data)
                // Random split points.
                var d = SnappyFramedDecoder(maxOutput: size)
                var i = 0
                while i < encoded.count {
                    let n = min(encoded.count - i, Int(rng.next() % 9000) + 1)
                    try d.feed(encoded[i..<i + n])
                    i += n
                }
                #expect(d.decodedCount == size)
                #expect(try d.finish() == data)
            }
        }
    }

    @Test func encoderChunkTypes() throws {
        // Incompressible data is stored in uncompressed chunks (0x01), compressible in 0x00.
        var rng = TestRNG(seed: 3)
        let random = SnappyFramed.encode(rng.bytes(1000))
        #expect(random[10] == 0x01)
        #expect(random.count == 10 + 8 + 1000)
        let zeros = SnappyFramed.encode([UInt8](repeating: 0, count: 1000))
        #expect(zeros[10] == 0x00)
        // Chunk CRC is the masked CRC-32C of the uncompressed data, little-endian.
        let crc = CRC32C.mask(CRC32C.checksum([UInt8](repeating: 0, count: 1000)))
        #expect(Array(zeros[14..<18]) == [UInt8(crc & 0xff), UInt8(crc >> 8 & 0xff), UInt8(crc >> 16 & 0xff), UInt8(crc >> 24)])
        // Two full chunks plus one byte.
        let three = SnappyFramed.encode([UInt8](repeating: 7, count: 2 * 65_536 + 1))
        var chunks = 0
        var pos = 10
        while pos < three.count {
            let length = Int(three[pos + 1]) | Int(three[pos + 2]) << 8 | Int(three[pos + 3]) << 16
            pos += 4 + length
            chunks += 1
        }
        #expect(pos == three.count && chunks == 3)
        #expect(SnappyFramed.encode([UInt8]()) == SnappyFramed.streamIdentifier)
    }

    @Test func framedErrorsAreDistinct() throws {
        let stream = try Self.responseStream()
        let limit = Self.tenMiB

        var flipped = stream
        flipped[14] ^= 0x01  // first CRC byte of the first data chunk
        #expect {
            try SnappyFramed.decode(flipped, maxOutput: limit)
        } throws: { e in
            if case .checksumMismatch = e as? SnappyError { return true } else { return false }
        }

        #expect(throws: SnappyError.truncatedStream(chunkType: 0x00, missingBytes: 1)) {
            try SnappyFramed.decode(stream.dropLast(), maxOutput: limit)
        }
        #expect(throws: SnappyError.truncatedStream(chunkType: nil, missingBytes: 2)) {
            try SnappyFramed.decode(stream.prefix(12), maxOutput: limit)
        }
        #expect(throws: SnappyError.missingStreamIdentifier(firstChunkType: 0x00)) {
            try SnappyFramed.decode(stream.dropFirst(10), maxOutput: limit)
        }
        let unskippable = stream + [0x02, 0x01, 0x00, 0x00, 0xaa]
        #expect(throws: SnappyError.unskippableChunk(type: 0x02)) { try SnappyFramed.decode(unskippable, maxOutput: limit) }
        #expect(throws: SnappyError.outputTooLarge(limit: 1000)) { try SnappyFramed.decode(stream, maxOutput: 1000) }

        var badID = stream
        badID[9] = 0x79  // "sNaPpy"
        #expect(throws: SnappyError.invalidStreamIdentifier) { try SnappyFramed.decode(badID, maxOutput: limit) }
        #expect(throws: SnappyError.invalidStreamIdentifier) {
            try SnappyFramed.decode([0xff, 0x07, 0x00, 0x00] + Array("sNaPpYx".utf8), maxOutput: limit)
        }
        let id = SnappyFramed.streamIdentifier
        #expect(throws: SnappyError.chunkTooShort(type: 0x01, length: 3)) {
            try SnappyFramed.decode(id + [0x01, 0x03, 0x00, 0x00, 1, 2, 3], maxOutput: limit)
        }
        #expect(throws: SnappyError.chunkTooLong(type: 0x01, length: 65_541, limit: 65_540)) {
            try SnappyFramed.decode(id + [0x01, 0x05, 0x00, 0x01], maxOutput: limit)
        }
        #expect(throws: SnappyError.chunkTooLong(type: 0x00, length: 0xffffff, limit: 76_494)) {
            try SnappyFramed.decode(id + [0x00, 0xff, 0xff, 0xff], maxOutput: limit)
        }
        // A compressed chunk whose block declares more than 65536 bytes.
        let big = Varint.encode(65_537)
        #expect(throws: SnappyError.chunkDecodedTooLarge(declared: 65_537)) {
            try SnappyFramed.decode(id + [0x00, UInt8(4 + big.count), 0, 0, 0, 0, 0, 0] + big, maxOutput: limit)
        }
        #expect(throws: SnappyError.corruptChunk) {
            try SnappyFramed.decode(id + [0x00, 0x06, 0, 0, 0, 0, 0, 0, 0x05, 0x00], maxOutput: limit)
        }
        #expect(throws: SnappyError.inputTooLarge(limit: 100)) {
            var d = SnappyFramedDecoder(maxOutput: limit, maxInput: 100)
            try d.feed(stream)
        }
    }

    @Test func decoderStaysFailedAfterAnError() throws {
        var d = SnappyFramedDecoder(maxOutput: 100)
        #expect(throws: SnappyError.missingStreamIdentifier(firstChunkType: 0x01)) { try d.feed([0x01, 0x04, 0, 0]) }
        #expect(throws: SnappyError.missingStreamIdentifier(firstChunkType: 0x01)) { try d.feed(SnappyFramed.streamIdentifier) }
        #expect(throws: SnappyError.missingStreamIdentifier(firstChunkType: 0x01)) { try d.finish() }
    }

    @Test func skippableChunksAndRepeatedIdentifiers() throws {
        let payload = Array("payload_by_number".utf8)
        let encoded = SnappyFramed.encode(payload)
        let body = Array(encoded.dropFirst(10))
        // Padding (0xfe) and a reserved skippable chunk (0x80), then a repeated identifier.
        let padding: [UInt8] = [0xfe, 0x03, 0x00, 0x00, 0, 0, 0]
        let skippable: [UInt8] = [0x80, 0x00, 0x00, 0x00]
        let stream = SnappyFramed.streamIdentifier + padding + skippable + SnappyFramed.streamIdentifier + body + body
        #expect(try SnappyFramed.decode(stream, maxOutput: 1000) == payload + payload)
        // An empty stream decodes to nothing (as Go's reader); an identifier alone too.
        #expect(try SnappyFramed.decode([UInt8](), maxOutput: 0) == [])
        #expect(try SnappyFramed.decode(SnappyFramed.streamIdentifier, maxOutput: 0) == [])
        // Skippable chunks before the identifier are not allowed.
        #expect(throws: SnappyError.missingStreamIdentifier(firstChunkType: 0xfe)) {
            try SnappyFramed.decode(padding + encoded, maxOutput: 1000)
        }
    }

    @Test func hugeSkippableChunkIsStreamedNotBuffered() throws {
        // A 16 MiB - 1 skippable chunk fed in 64 KiB pieces: nothing buffered, nothing output.
        var d = SnappyFramedDecoder(maxOutput: 10)
        try d.feed(SnappyFramed.streamIdentifier + [0x99, 0xff, 0xff, 0xff])
        let piece = [UInt8](repeating: 0xee, count: 65_536)
        for _ in 0..<255 { try d.feed(piece) }
        #expect(throws: SnappyError.truncatedStream(chunkType: 0x99, missingBytes: 65_535)) {
            var copy = d
            _ = try copy.finish()
        }
        try d.feed(piece.dropFirst())
        #expect(d.decodedCount == 0)
        #expect(try d.finish() == [])
    }
}
