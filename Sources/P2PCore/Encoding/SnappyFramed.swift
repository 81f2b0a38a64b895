/// The snappy framing format (Google `framing_format.txt`), used by `payload_by_number`
/// responses (spec §5.1): a one-shot encoder and a streaming, sans-IO, bounded decoder that
/// follows Go `snappy.Reader` (github.com/golang/snappy `decode.go`).
///
/// Chunk = type[1] ++ length[3, LE] ++ body[length].
/// - 0xff stream identifier, body `sNaPpY`; required first, may repeat.
/// - 0x00 compressed data: masked CRC-32C (LE) of the uncompressed data ++ a snappy block.
/// - 0x01 uncompressed data: masked CRC-32C (LE) ++ the data.
/// - 0x80–0xfe skippable (0xfe is padding); 0x02–0x7f reserved unskippable → error.
/// Each data chunk holds at most 65536 uncompressed bytes.
public enum SnappyFramed {
    /// The stream identifier chunk `ff 06 00 00 73 4e 61 50 70 59`.
    public static let streamIdentifier: [UInt8] = [0xff, 0x06, 0x00, 0x00, 0x73, 0x4e, 0x61, 0x50, 0x70, 0x59]
    /// Maximum uncompressed bytes in one data chunk.
    public static let maxBlockSize = 65536
    /// Longest uncompressed chunk body: CRC + 65536 bytes.
    static let maxUncompressedChunkLength = 4 + maxBlockSize
    /// Longest compressed chunk body: CRC + the worst-case snappy block of 65536 bytes
    /// (Go's `maxEncodedLenOfMaxBlockSize`, 76490, equal to libsnappy's bound).
    static let maxCompressedChunkLength = 4 + Snappy.maxCompressedLength(maxBlockSize)

    /// Encodes `data` as a framed stream: the stream identifier, then one chunk per 65536 bytes,
    /// compressed unless compression saves less than 1/8 (Go `snappy.Writer`'s rule), in which
    /// case the chunk is stored uncompressed.
    public static func encode<C: Collection>(_ data: C) -> [UInt8] where C.Element == UInt8 {
        withContiguousBytes(data) { encode($0) }
    }

    /// Encodes the bytes in `src` as a framed stream.
    public static func encode(_ src: UnsafeRawBufferPointer) -> [UInt8] {
        let chunks = (src.count + maxBlockSize - 1) / maxBlockSize
        let bound = streamIdentifier.count + chunks * (4 + maxCompressedChunkLength)
        return [UInt8](unsafeUninitializedCapacity: bound) { out, initialized in
            let o = UnsafeMutableRawBufferPointer(out)
            var pos = 0
            for b in streamIdentifier { o[pos] = b; pos += 1 }
            var offset = 0
            while offset < src.count {
                let n = min(maxBlockSize, src.count - offset)
                let block = UnsafeRawBufferPointer(rebasing: src[offset..<offset + n])
                let crc = CRC32C.maskedChecksum(block)
                let body = UnsafeMutableRawBufferPointer(rebasing: o[(pos + 8)...])
                let compressedLength = Snappy.compress(block, into: body)
                let type: UInt8
                let bodyLength: Int
                if compressedLength > 0 && compressedLength < n - n / 8 {
                    type = 0x00
                    bodyLength = compressedLength
                } else {
                    type = 0x01
                    bodyLength = n
                    body.baseAddress?.copyMemory(from: bytePointer(block), byteCount: n)
                }
                let chunkLength = 4 + bodyLength
                o[pos] = type
                o[pos + 1] = UInt8(truncatingIfNeeded: chunkLength)
                o[pos + 2] = UInt8(truncatingIfNeeded: chunkLength >> 8)
                o[pos + 3] = UInt8(truncatingIfNeeded: chunkLength >> 16)
                o.storeBytes(of: crc.littleEndian, toByteOffset: pos + 4, as: UInt32.self)
                pos += 8 + bodyLength
                offset += n
            }
            initialized = pos
        }
    }

    /// Decodes a complete framed stream, enforcing `maxOutput` decoded bytes.
    public static func decode<C: Collection>(_ data: C, maxOutput: Int) throws(SnappyError) -> [UInt8]
    where C.Element == UInt8 {
        var decoder = SnappyFramedDecoder(maxOutput: maxOutput)
        let fed: Result<Void, SnappyError> = withContiguousBytes(data) { src in
            Result { () throws(SnappyError) in try decoder.feed(src) }
        }
        try fed.get()
        return try decoder.finish()
    }
}

/// A streaming framed-snappy decoder: feed it bytes as they arrive, then call `finish()`.
///
/// Bounded: it buffers at most one data chunk (≤ 76494 bytes) and never buffers skippable
/// chunks (their bytes are counted and dropped); the output never grows beyond `maxOutput`,
/// and input beyond `maxInput` is refused. After the first error every call rethrows it.
public struct SnappyFramedDecoder: Sendable {
    public let maxOutput: Int
    public let maxInput: Int

    private var output: [UInt8] = []
    private var inputCount = 0
    private var sawIdentifier = false
    private var failure: SnappyError?
    /// Bytes of a partially received chunk header.
    private var header: [UInt8] = []
    /// The chunk whose body is being received, if any.
    private var chunkType: UInt8 = 0
    private var chunkLength = 0
    private var inChunk = false
    /// Partially received body of a data or identifier chunk (only when it spans feeds).
    private var body: [UInt8] = []
    /// Bytes of a skippable chunk still to drop.
    private var skipRemaining = 0

    /// - Parameters:
    ///   - maxOutput: decoded bytes allowed (10 MiB for `payload_by_number`).
    ///   - maxInput: raw bytes allowed (unbounded by default; callers reading from a peer bound it).
    public init(maxOutput: Int, maxInput: Int = Int.max) {
        self.maxOutput = max(0, maxOutput)
        self.maxInput = max(0, maxInput)
    }

    /// Decoded bytes so far.
    public var decodedCount: Int { output.count }

    /// Feeds the next bytes of the stream.
    public mutating func feed<C: Collection>(_ bytes: C) throws(SnappyError) where C.Element == UInt8 {
        let fed: Result<Void, SnappyError> = withContiguousBytes(bytes) { src in
            Result { () throws(SnappyError) in try feed(src) }
        }
        try fed.get()
    }

    /// Feeds the next bytes of the stream.
    public mutating func feed(_ src: UnsafeRawBufferPointer) throws(SnappyError) {
        if let failure { throw failure }
        do {
            try consume(src)
        } catch {
            failure = error
            throw error
        }
    }

    /// Ends the stream and returns everything decoded. Fails if the stream stopped inside a chunk.
    /// An empty stream decodes to no bytes, as with Go's reader.
    public mutating func finish() throws(SnappyError) -> [UInt8] {
        if let failure { throw failure }
        let truncation: SnappyError?
        if skipRemaining > 0 {
            truncation = .truncatedStream(chunkType: chunkType, missingBytes: skipRemaining)
        } else if inChunk {
            truncation = .truncatedStream(chunkType: chunkType, missingBytes: chunkLength - body.count)
        } else if !header.isEmpty {
            truncation = .truncatedStream(chunkType: nil, missingBytes: 4 - header.count)
        } else {
            truncation = nil
        }
        if let truncation {
            failure = truncation
            throw truncation
        }
        let result = output
        output = []
        return result
    }

    private mutating func consume(_ src: UnsafeRawBufferPointer) throws(SnappyError) {
        guard src.count <= maxInput - inputCount else { throw .inputTooLarge(limit: maxInput) }
        inputCount += src.count
        var pos = 0
        while pos < src.count {
            if skipRemaining > 0 {
                let n = min(skipRemaining, src.count - pos)
                skipRemaining -= n
                pos += n
                continue
            }
            if !inChunk {
                // Chunk header: take it straight from the input when it is all there.
                if header.isEmpty && src.count - pos >= 4 {
                    try startChunk(src[pos], src[pos + 1], src[pos + 2], src[pos + 3])
                    pos += 4
                } else {
                    let n = min(4 - header.count, src.count - pos)
                    header.append(contentsOf: src[pos..<pos + n])
                    pos += n
                    if header.count == 4 {
                        try startChunk(header[0], header[1], header[2], header[3])
                        header.removeAll(keepingCapacity: true)
                    }
                }
                continue
            }
            // Chunk body: decode in place when it is all in this feed, else buffer it.
            if body.isEmpty && src.count - pos >= chunkLength {
                try finishChunk(UnsafeRawBufferPointer(rebasing: src[pos..<pos + chunkLength]))
                pos += chunkLength
            } else {
                let n = min(chunkLength - body.count, src.count - pos)
                if body.isEmpty { body.reserveCapacity(chunkLength) }
                body.append(contentsOf: src[pos..<pos + n])
                pos += n
                if body.count == chunkLength {
                    // Move the buffer out while decoding from it, then keep it for the next chunk.
                    var whole: [UInt8] = []
                    swap(&whole, &body)
                    let done: Result<Void, SnappyError> = whole.withUnsafeBytes { b in
                        Result { () throws(SnappyError) in try finishChunk(b) }
                    }
                    whole.removeAll(keepingCapacity: true)
                    body = whole
                    try done.get()
                }
            }
        }
    }

    /// Validates a chunk header and sets up receipt of its body.
    private mutating func startChunk(_ type: UInt8, _ l0: UInt8, _ l1: UInt8, _ l2: UInt8) throws(SnappyError) {
        let length = Int(l0) | Int(l1) << 8 | Int(l2) << 16
        if !sawIdentifier && type != 0xff { throw .missingStreamIdentifier(firstChunkType: type) }
        chunkType = type
        switch type {
        case 0xff:
            guard length == 6 else { throw .invalidStreamIdentifier }
        case 0x00:
            guard length >= 4 else { throw .chunkTooShort(type: type, length: length) }
            guard length <= SnappyFramed.maxCompressedChunkLength else {
                throw .chunkTooLong(type: type, length: length, limit: SnappyFramed.maxCompressedChunkLength)
            }
        case 0x01:
            guard length >= 4 else { throw .chunkTooShort(type: type, length: length) }
            guard length <= SnappyFramed.maxUncompressedChunkLength else {
                throw .chunkTooLong(type: type, length: length, limit: SnappyFramed.maxUncompressedChunkLength)
            }
        case 0x02...0x7f:
            throw .unskippableChunk(type: type)
        default: // 0x80–0xfe: skippable, dropped without buffering.
            skipRemaining = length
            return
        }
        chunkLength = length
        inChunk = true
    }

    /// Handles a complete chunk body.
    private mutating func finishChunk(_ chunk: UnsafeRawBufferPointer) throws(SnappyError) {
        inChunk = false
        switch chunkType {
        case 0xff:
            guard chunk.elementsEqual(SnappyFramed.streamIdentifier[4...]) else { throw .invalidStreamIdentifier }
            sawIdentifier = true
        case 0x00:
            let expected = chunk.loadUnaligned(as: UInt32.self).littleEndian
            let block = UnsafeRawBufferPointer(rebasing: chunk[4...])
            let length: Int
            let headerLength: Int
            do { (length, headerLength) = try Snappy.preamble(block) } catch { throw .corruptChunk }
            guard length <= SnappyFramed.maxBlockSize else { throw .chunkDecodedTooLarge(declared: length) }
            let start = try grow(by: length)
            let ok = output.withUnsafeMutableBytes { out in
                Snappy.decompress(block, headerLength: headerLength, length: length,
                                  into: UnsafeMutableRawBufferPointer(rebasing: out[start...]))
            }
            guard ok else { output.removeLast(length); throw .corruptChunk }
            try verify(expected: expected, from: start)
        default: // 0x01
            let expected = chunk.loadUnaligned(as: UInt32.self).littleEndian
            let data = UnsafeRawBufferPointer(rebasing: chunk[4...])
            let start = try grow(by: data.count)
            output.withUnsafeMutableBytes { out in
                UnsafeMutableRawBufferPointer(rebasing: out[start...]).copyMemory(from: data)
            }
            try verify(expected: expected, from: start)
        }
    }

    /// Extends the output by `n` zero bytes within `maxOutput`, growing capacity geometrically
    /// but never past the limit. Returns the offset of the new bytes.
    private mutating func grow(by n: Int) throws(SnappyError) -> Int {
        let start = output.count
        guard n <= maxOutput - start else { throw .outputTooLarge(limit: maxOutput) }
        if output.capacity < start + n {
            output.reserveCapacity(min(maxOutput, max(start + n, start * 2)))
        }
        output.append(contentsOf: repeatElement(0, count: n))
        return start
    }

    /// Checks the masked CRC of the output from `start` to the end.
    private mutating func verify(expected: UInt32, from start: Int) throws(SnappyError) {
        let actual = output.withUnsafeBytes { CRC32C.maskedChecksum(UnsafeRawBufferPointer(rebasing: $0[start...])) }
        guard actual == expected else { throw .checksumMismatch(expected: expected, actual: actual) }
    }
}
