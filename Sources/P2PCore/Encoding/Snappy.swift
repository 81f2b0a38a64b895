/// Snappy block format (raw snappy, no framing) over libsnappy's C API, with the decoded length
/// read from the varint preamble and checked against a caller's bound before anything is
/// allocated (spec §2.2, §2.4: gossip payloads, 10 MiB zip-bomb guard).
///
/// The preamble is read with Go's `snappy.DecodedLen` rules (`binary.Uvarint`, value ≤ 2^32−1,
/// empty input is an error), so gossip message ids agree with op-node on every input (§2.5).
import CSnappy

/// Errors from snappy block decoding and from the framing format (`SnappyFramed`).
public enum SnappyError: Error, Equatable, CustomStringConvertible {
    /// The varint length preamble is missing, truncated, or above 2^32−1 (Go: `ErrCorrupt`).
    case invalidLengthPreamble
    /// The declared decoded length exceeds the caller's bound; nothing was allocated.
    case declaredLengthTooLarge(declared: Int, limit: Int)
    /// libsnappy rejected the compressed elements (bad tag, offset, or length mismatch).
    case corruptInput
    // Framing format (SnappyFramed / SnappyFramedDecoder):
    /// The first chunk was not the stream identifier (chunk type 0xff).
    case missingStreamIdentifier(firstChunkType: UInt8)
    /// A stream identifier chunk whose length or body is not `sNaPpY`.
    case invalidStreamIdentifier
    /// A reserved unskippable chunk (types 0x02–0x7f).
    case unskippableChunk(type: UInt8)
    /// A chunk whose length is below the 4-byte CRC.
    case chunkTooShort(type: UInt8, length: Int)
    /// A data chunk longer than the format allows.
    case chunkTooLong(type: UInt8, length: Int, limit: Int)
    /// A compressed chunk declaring more than 65536 decoded bytes.
    case chunkDecodedTooLarge(declared: Int)
    /// A compressed chunk whose snappy block (preamble or elements) is corrupt.
    case corruptChunk
    /// The masked CRC-32C of a chunk's uncompressed data does not match.
    case checksumMismatch(expected: UInt32, actual: UInt32)
    /// The stream ends inside a chunk header or body.
    case truncatedStream(chunkType: UInt8?, missingBytes: Int)
    /// The decoded output would exceed `maxOutput`.
    case outputTooLarge(limit: Int)
    /// More input than `maxInput` was fed.
    case inputTooLarge(limit: Int)

    public var description: String {
        switch self {
        case .invalidLengthPreamble: return "snappy: invalid or missing decoded-length preamble"
        case .declaredLengthTooLarge(let d, let l): return "snappy: declared decoded length \(d) exceeds limit \(l)"
        case .corruptInput: return "snappy: corrupt compressed input"
        case .missingStreamIdentifier(let t): return "snappy framed: stream starts with chunk type 0x\(String(t, radix: 16)), not the stream identifier"
        case .invalidStreamIdentifier: return "snappy framed: malformed stream identifier chunk"
        case .unskippableChunk(let t): return "snappy framed: reserved unskippable chunk type 0x\(String(t, radix: 16))"
        case .chunkTooShort(let t, let n): return "snappy framed: chunk type 0x\(String(t, radix: 16)) of length \(n) is shorter than its CRC"
        case .chunkTooLong(let t, let n, let l): return "snappy framed: chunk type 0x\(String(t, radix: 16)) of length \(n) exceeds \(l)"
        case .chunkDecodedTooLarge(let d): return "snappy framed: compressed chunk declares \(d) decoded bytes (max 65536)"
        case .corruptChunk: return "snappy framed: corrupt compressed chunk"
        case .checksumMismatch(let e, let a): return "snappy framed: CRC mismatch (chunk says 0x\(String(e, radix: 16)), data gives 0x\(String(a, radix: 16)))"
        case .truncatedStream(let t, let m):
            let what = t.map { "chunk type 0x\(String($0, radix: 16))" } ?? "chunk header"
            return "snappy framed: stream truncated inside \(what), \(m) more bytes expected"
        case .outputTooLarge(let l): return "snappy framed: decoded output exceeds limit \(l)"
        case .inputTooLarge(let l): return "snappy framed: input exceeds limit \(l)"
        }
    }
}

public enum Snappy {
    /// Compresses `data` into one snappy block (varint length preamble + elements).
    public static func compress<C: Collection>(_ data: C) -> [UInt8] where C.Element == UInt8 {
        withContiguousBytes(data) { compress($0) }
    }

    /// Compresses the bytes in `src` into one snappy block.
    public static func compress(_ src: UnsafeRawBufferPointer) -> [UInt8] {
        let bound = maxCompressedLength(src.count)
        return [UInt8](unsafeUninitializedCapacity: bound) { out, initialized in
            initialized = compress(src, into: UnsafeMutableRawBufferPointer(out))
        }
    }

    /// Compresses `src` into `out`, which must hold `snappy_max_compressed_length(src.count)`
    /// bytes (`maxCompressedLength`). Returns the compressed length.
    static func compress(_ src: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) -> Int {
        var len = out.count
        let rc = snappy_compress(charPointer(src), src.count, mutableCharPointer(out), &len)
        // snappy_compress fails only when `out` is smaller than the bound, which callers guarantee.
        return rc == SNAPPY_OK ? len : 0
    }

    /// The largest block `compress` can produce for `length` input bytes.
    static func maxCompressedLength(_ length: Int) -> Int {
        snappy_max_compressed_length(length)
    }

    /// The decoded length declared by the varint preamble, as Go's `snappy.DecodedLen` reads it.
    public static func decodedLength<C: Collection>(_ data: C) throws(SnappyError) -> Int where C.Element == UInt8 {
        try preamble(data).length
    }

    /// Decompresses one snappy block, refusing (before allocating) any block that declares more
    /// than `maxLength` decoded bytes.
    public static func decompress<C: Collection>(_ data: C, maxLength: Int) throws(SnappyError) -> [UInt8]
    where C.Element == UInt8 {
        let result: Result<[UInt8], SnappyError> = withContiguousBytes(data) { src in
            Result { () throws(SnappyError) in try decompress(src, maxLength: maxLength) }
        }
        return try result.get()
    }

    /// Decompresses the snappy block in `src` (see `decompress(_:maxLength:)`).
    public static func decompress(_ src: UnsafeRawBufferPointer, maxLength: Int) throws(SnappyError) -> [UInt8] {
        let (length, headerLength) = try preamble(src)
        guard length <= maxLength else { throw .declaredLengthTooLarge(declared: length, limit: maxLength) }
        var ok = false
        let out = [UInt8](unsafeUninitializedCapacity: length) { buf, initialized in
            ok = decompress(src, headerLength: headerLength, length: length, into: UnsafeMutableRawBufferPointer(buf))
            initialized = ok ? length : 0
        }
        guard ok else { throw .corruptInput }
        return out
    }

    /// Decodes the block in `src`, whose preamble (already parsed) declares `length` bytes and
    /// takes `headerLength` bytes, into `out` (exactly `length` bytes). Returns false if corrupt.
    static func decompress(_ src: UnsafeRawBufferPointer, headerLength: Int, length: Int,
                           into out: UnsafeMutableRawBufferPointer) -> Bool {
        // libsnappy reads at most 5 preamble bytes; Go's reader accepts up to 10 (non-minimal).
        // Re-encode such a preamble minimally so both accept the same blocks.
        if headerLength > 5 {
            var copy = Varint.encode(UInt64(length))
            let minimalLength = copy.count
            copy.append(contentsOf: src[headerLength...])
            return copy.withUnsafeBytes { decompress($0, headerLength: minimalLength, length: length, into: out) }
        }
        var outLen = out.count
        let rc = snappy_uncompress(charPointer(src), src.count, mutableCharPointer(out), &outLen)
        return rc == SNAPPY_OK && outLen == length
    }

    /// Parses the preamble: Go `binary.Uvarint` (≤ 10 bytes, non-minimal allowed), value ≤ 2^32−1.
    static func preamble<C: Collection>(_ data: C) throws(SnappyError) -> (length: Int, headerLength: Int)
    where C.Element == UInt8 {
        let v: (value: UInt64, length: Int)
        do { v = try Varint.decode(data, maxBytes: Varint.maxBytes, minimal: false) } catch { throw .invalidLengthPreamble }
        guard v.value <= 0xffff_ffff else { throw .invalidLengthPreamble }
        return (Int(v.value), v.length)
    }
}

@inline(__always)
private func mutableCharPointer(_ b: UnsafeMutableRawBufferPointer) -> UnsafeMutablePointer<CChar> {
    UnsafeMutableRawPointer(mutableBytePointer(b)).assumingMemoryBound(to: CChar.self)
}

@inline(__always)
private func charPointer(_ b: UnsafeRawBufferPointer) -> UnsafePointer<CChar> {
    UnsafeRawPointer(bytePointer(b)).assumingMemoryBound(to: CChar.self)
}
