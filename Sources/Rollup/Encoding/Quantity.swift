/// Ethereum quantities: the 256-bit `UInt256` (baseFeePerGas; SSZ stores it little-endian, RLP and
/// JSON big-endian) and the Engine-API hex quantity format (`0x`-prefixed, no leading zeros, as
/// go-ethereum's `hexutil.Big` / `hexutil.Uint64` read and write it). Spec §1.3, §1.5.

/// Why a hex quantity string was rejected (go-ethereum `hexutil` rules).
public enum HexQuantityError: Error, Equatable, Sendable, CustomStringConvertible {
    case missingPrefix
    case empty
    case leadingZeros
    case invalidCharacter(Character)
    case overflow(maxBits: Int)

    public var description: String {
        switch self {
        case .missingPrefix: return "hex quantity lacks the 0x prefix"
        case .empty: return "hex quantity has no digits"
        case .leadingZeros: return "hex quantity has leading zeros"
        case .invalidCharacter(let c): return "invalid hex character '\(c)' in quantity"
        case .overflow(let bits): return "hex quantity exceeds \(bits) bits"
        }
    }
}

/// Why bytes could not form a `UInt256`.
public enum UInt256Error: Error, Equatable, Sendable, CustomStringConvertible {
    case tooManyBytes(Int)
    case wrongLength(expected: Int, got: Int)

    public var description: String {
        switch self {
        case .tooManyBytes(let n): return "a 256-bit integer holds at most 32 bytes, got \(n)"
        case .wrongLength(let e, let g): return "expected \(e) bytes for a 256-bit integer, got \(g)"
        }
    }
}

extension StringProtocol {
    /// Starts with `0x` or `0X`, as go-ethereum requires of JSON hex values.
    var hasHexPrefix: Bool {
        let u = utf8
        guard let first = u.first, first == UInt8(ascii: "0"), let x = u.dropFirst().first else { return false }
        return x == UInt8(ascii: "x") || x == UInt8(ascii: "X")
    }
}

/// Parses the digits of a hex quantity into nibble values (most significant first). The digit
/// count is checked against `maxBits` before anything is allocated.
private func quantityNibbles(_ s: some StringProtocol, maxBits: Int) throws(HexQuantityError) -> [UInt8] {
    guard s.hasHexPrefix else { throw .missingPrefix }
    let digits = Substring(s).utf8.dropFirst(2)
    guard let first = digits.first else { throw .empty }
    if first == UInt8(ascii: "0") && digits.count > 1 { throw .leadingZeros }
    guard digits.count <= maxBits / 4 else { throw .overflow(maxBits: maxBits) }
    var out = [UInt8]()
    out.reserveCapacity(digits.count)
    for c in digits {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): out.append(c &- UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): out.append(c &- UInt8(ascii: "a") &+ 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): out.append(c &- UInt8(ascii: "A") &+ 10)
        default: throw .invalidCharacter(Character(Unicode.Scalar(c)))
        }
    }
    return out
}

private let lowerHexDigits: [Character] = Array("0123456789abcdef")

extension UInt64 {
    /// Parses a `0x`-prefixed hex quantity with no leading zeros (`0x0` for zero).
    public init(hexQuantity s: some StringProtocol) throws(HexQuantityError) {
        let nibbles = try quantityNibbles(s, maxBits: 64)
        var v: UInt64 = 0
        for n in nibbles { v = v << 4 | UInt64(n) }
        self = v
    }

    /// The minimal `0x`-hex form (`0x0` for zero).
    public var hexQuantity: String { "0x" + String(self, radix: 16) }
}

/// An unsigned 256-bit integer kept as 32 big-endian bytes. Only what the payload codecs need:
/// conversions between byte orders, minimal big-endian bytes (RLP), hex and decimal text.
public struct UInt256: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Always exactly 32 bytes, most significant first.
    public private(set) var bytesBE: [UInt8]

    public static let zero = UInt256(0)

    public init(_ value: UInt64) {
        var b = [UInt8](repeating: 0, count: 32)
        for i in 0..<8 { b[31 - i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i))) }
        bytesBE = b
    }

    /// Big-endian bytes, at most 32 (shorter input is left-padded with zeros).
    public init(bytesBE bytes: some Collection<UInt8>) throws(UInt256Error) {
        guard bytes.count <= 32 else { throw .tooManyBytes(bytes.count) }
        bytesBE = [UInt8](repeating: 0, count: 32 - bytes.count) + bytes
    }

    /// Exactly 32 little-endian bytes (the SSZ `uint256` form).
    public init(bytesLE bytes: some Collection<UInt8>) throws(UInt256Error) {
        guard bytes.count == 32 else { throw .wrongLength(expected: 32, got: bytes.count) }
        bytesBE = bytes.reversed()
    }

    /// Internal fast path for the SSZ decoder: `bytes` is known to hold 32 bytes.
    init(uncheckedBytesLE bytes: UnsafeRawBufferPointer) {
        bytesBE = bytes.reversed()
    }

    /// Parses a `0x`-prefixed hex quantity of at most 64 digits, no leading zeros.
    public init(hexQuantity s: some StringProtocol) throws(HexQuantityError) {
        let nibbles = try quantityNibbles(s, maxBits: 256)
        var b = [UInt8](repeating: 0, count: 32)
        var pos = 63  // nibble index into the 64-nibble big-endian form
        for n in nibbles.reversed() {
            if pos & 1 == 1 { b[pos / 2] |= n } else { b[pos / 2] |= n << 4 }
            pos -= 1
        }
        bytesBE = b
    }

    /// The 32 little-endian bytes (SSZ).
    public var bytesLE: [UInt8] { bytesBE.reversed() }

    /// Big-endian bytes without leading zeros (empty for zero): the RLP integer form.
    public var minimalBytesBE: [UInt8] {
        guard let first = bytesBE.firstIndex(where: { $0 != 0 }) else { return [] }
        return Array(bytesBE[first...])
    }

    /// The value if it fits in 64 bits.
    public var uint64Value: UInt64? {
        guard bytesBE[0..<24].allSatisfy({ $0 == 0 }) else { return nil }
        var v: UInt64 = 0
        for b in bytesBE[24..<32] { v = v << 8 | UInt64(b) }
        return v
    }

    public var isZero: Bool { bytesBE.allSatisfy { $0 == 0 } }

    /// Minimal `0x`-hex form (`0x0` for zero), as the Engine API writes quantities.
    public var hexQuantity: String {
        let m = minimalBytesBE
        guard let first = m.first else { return "0x0" }
        var s = "0x"
        s.reserveCapacity(2 + m.count * 2)
        if first >> 4 != 0 { s.append(lowerHexDigits[Int(first >> 4)]) }
        s.append(lowerHexDigits[Int(first & 0x0f)])
        for b in m.dropFirst() {
            s.append(lowerHexDigits[Int(b >> 4)])
            s.append(lowerHexDigits[Int(b & 0x0f)])
        }
        return s
    }

    /// Base-10 text (long division by 10 over the big-endian bytes).
    public var decimalString: String {
        var n = minimalBytesBE
        guard !n.isEmpty else { return "0" }
        var digits = [UInt8]()
        digits.reserveCapacity(78)
        while !n.isEmpty {
            var rem: UInt16 = 0
            var quotient = [UInt8]()
            quotient.reserveCapacity(n.count)
            for b in n {
                let cur = rem << 8 | UInt16(b)
                let q = UInt8(cur / 10)
                rem = cur % 10
                if !(quotient.isEmpty && q == 0) { quotient.append(q) }
            }
            digits.append(UInt8(rem) + UInt8(ascii: "0"))
            n = quotient
        }
        return String(decoding: digits.reversed(), as: UTF8.self)
    }

    public var description: String { decimalString }

    public static func < (a: UInt256, b: UInt256) -> Bool { a.bytesBE.lexicographicallyPrecedes(b.bytesBE) }
}
