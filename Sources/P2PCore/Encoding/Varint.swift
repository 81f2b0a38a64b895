/// Unsigned LEB128 varints as libp2p (multiformats unsigned-varint) and protobuf use them.
/// Decoding is bounded (at most 9 bytes for 63-bit values by the multiformats spec, 10 for
/// protobuf's full 64 bits) and, when `minimal` is set, rejects non-minimal encodings.
public enum VarintError: Error, Equatable, CustomStringConvertible {
    case truncated
    case overflow
    case nonMinimal

    public var description: String {
        switch self {
        case .truncated: return "varint is truncated"
        case .overflow: return "varint is too long or overflows"
        case .nonMinimal: return "varint is not minimally encoded"
        }
    }
}

public enum Varint {
    /// Maximum bytes of a multiformats unsigned varint (63 bits of payload).
    public static let maxMultiformatsBytes = 9
    /// Maximum bytes of a protobuf / Go `binary.Uvarint` (64 bits).
    public static let maxBytes = 10

    public static func encodedLength(_ v: UInt64) -> Int {
        var v = v
        var n = 1
        while v >= 0x80 { v >>= 7; n += 1 }
        return n
    }

    public static func encode(_ v: UInt64) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(encodedLength(v))
        append(v, to: &out)
        return out
    }

    public static func append(_ v: UInt64, to out: inout [UInt8]) {
        var v = v
        while v >= 0x80 {
            out.append(UInt8(v & 0x7f) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    /// Decodes a varint at the start of `bytes`. Returns the value and the number of bytes used.
    /// - Parameters:
    ///   - maxBytes: the longest encoding accepted (9 for multiformats, 10 for protobuf/Go).
    ///   - minimal: reject encodings with redundant trailing zero groups (multiformats rule).
    public static func decode<C: Collection>(_ bytes: C, maxBytes: Int = Varint.maxMultiformatsBytes,
                                             minimal: Bool = true) throws(VarintError) -> (value: UInt64, length: Int)
    where C.Element == UInt8 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        var n = 0
        for b in bytes {
            n += 1
            if n > maxBytes { throw .overflow }
            let low = UInt64(b & 0x7f)
            if shift == 63 && low > 1 { throw .overflow }
            result |= low << shift
            if b & 0x80 == 0 {
                if minimal && b == 0 && n > 1 { throw .nonMinimal }
                return (result, n)
            }
            shift += 7
            if shift > 63 { throw .overflow }
        }
        throw .truncated
    }

    /// Like `decode`, but returns nil when more bytes are needed (for streaming parsers).
    public static func decodePrefix<C: Collection>(_ bytes: C, maxBytes: Int = Varint.maxMultiformatsBytes,
                                                   minimal: Bool = true) throws(VarintError) -> (value: UInt64, length: Int)?
    where C.Element == UInt8 {
        do {
            return try decode(bytes, maxBytes: maxBytes, minimal: minimal)
        } catch .truncated {
            return nil
        }
    }
}
