/// Recursive Length Prefix (Ethereum Yellow Paper appendix B): encoders for byte strings, integers
/// and lists, and a bounded, canonical decoder (go-ethereum `rlp` rules: minimal lengths, single
/// bytes below 0x80 not wrapped, no trailing bytes). Used for block headers and the ordered trie (§1.4).

/// Why bytes are not a canonical RLP item.
public enum RLPError: Error, Equatable, Sendable, CustomStringConvertible {
    case empty
    /// The item claims more bytes than remain (at `offset`).
    case truncated(offset: Int, needed: Int, available: Int)
    /// A single byte below 0x80 encoded with a 0x81 prefix.
    case nonCanonicalSingleByte(offset: Int)
    /// A long-form length that is below 56 or has leading zero bytes.
    case nonCanonicalLength(offset: Int)
    /// A length prefix wider than 8 bytes, or a length that does not fit in memory.
    case lengthOverflow(offset: Int)
    /// Lists nested deeper than the decoder's limit.
    case tooDeep(limit: Int)
    /// Bytes left after the top-level item.
    case trailingBytes(count: Int)
    /// An integer with leading zero bytes or wider than 64 bits.
    case invalidInteger
    case expectedBytes
    case expectedList

    public var description: String {
        switch self {
        case .empty: return "RLP input is empty"
        case .truncated(let o, let n, let a): return "RLP item at offset \(o) needs \(n) bytes, \(a) available"
        case .nonCanonicalSingleByte(let o): return "RLP single byte below 0x80 wrapped in a string at offset \(o)"
        case .nonCanonicalLength(let o): return "RLP non-canonical length prefix at offset \(o)"
        case .lengthOverflow(let o): return "RLP length prefix too large at offset \(o)"
        case .tooDeep(let l): return "RLP lists nested deeper than \(l)"
        case .trailingBytes(let n): return "\(n) bytes follow the RLP item"
        case .invalidInteger: return "RLP integer is not minimal or exceeds 64 bits"
        case .expectedBytes: return "expected an RLP byte string, found a list"
        case .expectedList: return "expected an RLP list, found a byte string"
        }
    }
}

/// A decoded RLP item.
public indirect enum RLPItem: Sendable, Equatable {
    case bytes([UInt8])
    case list([RLPItem])

    /// The canonical encoding.
    public var encoded: [UInt8] {
        switch self {
        case .bytes(let b): return RLP.encode(bytes: b)
        case .list(let items):
            var payload = [UInt8]()
            for item in items { payload.append(contentsOf: item.encoded) }
            return RLP.encodeList(payload: payload)
        }
    }

    public func asBytes() throws(RLPError) -> [UInt8] {
        guard case .bytes(let b) = self else { throw .expectedBytes }
        return b
    }

    public func asList() throws(RLPError) -> [RLPItem] {
        guard case .list(let l) = self else { throw .expectedList }
        return l
    }

    /// A canonical RLP integer (big-endian, no leading zeros) of at most 64 bits.
    public func asUInt64() throws(RLPError) -> UInt64 {
        let b = try asBytes()
        guard b.count <= 8, b.first != 0 else { throw .invalidInteger }
        return b.reduce(0) { $0 << 8 | UInt64($1) }
    }
}

public enum RLP {
    /// Default nesting limit for `decode`.
    public static let defaultMaxDepth = 64

    // MARK: Encoding

    /// A byte string: one byte below 0x80 as itself, else a length prefix and the bytes.
    public static func encode(bytes: some Collection<UInt8>) -> [UInt8] {
        var out = [UInt8]()
        append(bytes: bytes, to: &out)
        return out
    }

    public static func append(bytes: some Collection<UInt8>, to out: inout [UInt8]) {
        if bytes.count == 1, let b = bytes.first, b < 0x80 {
            out.append(b)
            return
        }
        appendHeader(length: bytes.count, shortBase: 0x80, to: &out)
        out.append(contentsOf: bytes)
    }

    /// An unsigned integer: its minimal big-endian bytes (zero is the empty string, 0x80).
    public static func encode(uint v: UInt64) -> [UInt8] {
        var out = [UInt8]()
        append(uint: v, to: &out)
        return out
    }

    public static func append(uint v: UInt64, to out: inout [UInt8]) {
        if v < 0x80 {
            out.append(v == 0 ? 0x80 : UInt8(v))
        } else {
            let n = byteCount(v)
            out.append(0x80 + UInt8(n))
            appendBigEndian(v, byteCount: n, to: &out)
        }
    }

    /// A list whose `payload` is the concatenation of the already-encoded items.
    public static func encodeList(payload: some Collection<UInt8>) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(payload.count + 9)
        appendHeader(length: payload.count, shortBase: 0xc0, to: &out)
        out.append(contentsOf: payload)
        return out
    }

    /// The length of `append(bytes:)`'s output for `bytes`, without encoding.
    public static func encodedLength(bytes: some Collection<UInt8>) -> Int {
        if bytes.count == 1, let b = bytes.first, b < 0x80 { return 1 }
        return headerLength(bytes.count) + bytes.count
    }

    /// Appends the header of a list whose items' encodings total `payloadLength` bytes; the
    /// caller appends the items (so large lists are written once, not copied into a list).
    public static func appendListHeader(payloadLength: Int, to out: inout [UInt8]) {
        appendHeader(length: payloadLength, shortBase: 0xc0, to: &out)
    }

    /// Size of the length prefix for a payload of `length` bytes.
    private static func headerLength(_ length: Int) -> Int {
        length < 56 ? 1 : 1 + byteCount(UInt64(length))
    }

    /// Bytes in the minimal big-endian form of `v` (0 for zero).
    private static func byteCount(_ v: UInt64) -> Int { (64 - v.leadingZeroBitCount + 7) / 8 }

    /// The low `n` bytes of `v`, most significant first (no intermediate array).
    private static func appendBigEndian(_ v: UInt64, byteCount n: Int, to out: inout [UInt8]) {
        var i = n
        while i > 0 {
            i -= 1
            out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(i))))
        }
    }

    private static func appendHeader(length: Int, shortBase: UInt8, to out: inout [UInt8]) {
        if length < 56 {
            out.append(shortBase + UInt8(length))
        } else {
            let n = byteCount(UInt64(length))
            out.append(shortBase + 55 + UInt8(n))
            appendBigEndian(UInt64(length), byteCount: n, to: &out)
        }
    }

    // MARK: Decoding

    /// Decodes exactly one canonical item spanning all of `input`.
    public static func decode(_ input: [UInt8], maxDepth: Int = defaultMaxDepth) throws(RLPError) -> RLPItem {
        guard !input.isEmpty else { throw .empty }
        var pos = 0
        let item = try decodeItem(input, &pos, end: input.count, depth: 0, maxDepth: maxDepth)
        guard pos == input.count else { throw .trailingBytes(count: input.count - pos) }
        return item
    }

    private static func decodeItem(_ b: [UInt8], _ pos: inout Int, end: Int, depth: Int, maxDepth: Int) throws(RLPError) -> RLPItem {
        let start = pos
        guard pos < end else { throw .truncated(offset: pos, needed: 1, available: 0) }
        let prefix = b[pos]
        pos += 1
        switch prefix {
        case 0x00...0x7f:
            return .bytes([prefix])
        case 0x80...0xbf:
            let len = try readLength(b, &pos, prefix: prefix, shortBase: 0x80, end: end, start: start)
            if len == 1 && b[pos] < 0x80 { throw .nonCanonicalSingleByte(offset: start) }
            let value = Array(b[pos..<(pos + len)])
            pos += len
            return .bytes(value)
        default:
            guard depth < maxDepth else { throw .tooDeep(limit: maxDepth) }
            let len = try readLength(b, &pos, prefix: prefix, shortBase: 0xc0, end: end, start: start)
            let listEnd = pos + len
            var items = [RLPItem]()
            while pos < listEnd {
                items.append(try decodeItem(b, &pos, end: listEnd, depth: depth + 1, maxDepth: maxDepth))
            }
            return .list(items)
        }
    }

    /// Reads a short or long length and checks that the payload fits before `end`.
    private static func readLength(_ b: [UInt8], _ pos: inout Int, prefix: UInt8, shortBase: UInt8, end: Int, start: Int) throws(RLPError) -> Int {
        let len: Int
        if prefix <= shortBase + 55 {
            len = Int(prefix - shortBase)
        } else {
            let lenOfLen = Int(prefix - shortBase - 55)
            guard lenOfLen <= 8 else { throw .lengthOverflow(offset: start) }
            guard end - pos >= lenOfLen else { throw .truncated(offset: start, needed: lenOfLen, available: end - pos) }
            guard b[pos] != 0 else { throw .nonCanonicalLength(offset: start) }
            var v: UInt64 = 0
            for i in 0..<lenOfLen { v = v << 8 | UInt64(b[pos + i]) }
            pos += lenOfLen
            guard v <= UInt64(Int.max / 2) else { throw .lengthOverflow(offset: start) }
            guard v >= 56 else { throw .nonCanonicalLength(offset: start) }
            len = Int(v)
        }
        guard end - pos >= len else { throw .truncated(offset: start, needed: len, available: end - pos) }
        return len
    }
}
