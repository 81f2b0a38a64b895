/// Hex encoding and decoding of byte arrays (`0x` prefix optional on input).
public enum HexError: Error, Equatable, CustomStringConvertible {
    case oddLength(Int)
    case invalidCharacter(Character, offset: Int)
    case wrongLength(expected: Int, got: Int)

    public var description: String {
        switch self {
        case .oddLength(let n): return "hex string has odd length \(n)"
        case .invalidCharacter(let c, let o): return "invalid hex character '\(c)' at offset \(o)"
        case .wrongLength(let e, let g): return "expected \(e) bytes of hex, got \(g)"
        }
    }
}

extension Array where Element == UInt8 {
    /// Decodes hex, with or without a `0x` prefix. Surrounding whitespace is not trimmed.
    public init(hex: some StringProtocol) throws(HexError) {
        var utf8 = Substring(hex).utf8[...]
        if utf8.count >= 2, utf8.first == UInt8(ascii: "0"),
           let x = utf8.dropFirst().first, x == UInt8(ascii: "x") || x == UInt8(ascii: "X") {
            utf8 = utf8.dropFirst(2)
        }
        guard utf8.count % 2 == 0 else { throw .oddLength(utf8.count) }
        var out = [UInt8]()
        out.reserveCapacity(utf8.count / 2)
        var hi: UInt8 = 0
        var idx = 0
        for c in utf8 {
            let v: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = c &- UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): v = c &- UInt8(ascii: "a") &+ 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): v = c &- UInt8(ascii: "A") &+ 10
            default: throw .invalidCharacter(Character(Unicode.Scalar(c)), offset: idx)
            }
            if idx & 1 == 0 { hi = v } else { out.append(hi << 4 | v) }
            idx += 1
        }
        self = out
    }

    /// Decodes hex that must be exactly `count` bytes long.
    public init(hex: some StringProtocol, count: Int) throws(HexError) {
        let b = try [UInt8](hex: hex)
        guard b.count == count else { throw .wrongLength(expected: count, got: b.count) }
        self = b
    }
}

private let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

extension Collection where Element == UInt8 {
    /// Lower-case hex without prefix.
    public var hexString: String {
        var chars = [UInt8]()
        chars.reserveCapacity(count * 2)
        for b in self {
            chars.append(hexDigits[Int(b >> 4)])
            chars.append(hexDigits[Int(b & 0x0f)])
        }
        return String(decoding: chars, as: UTF8.self)
    }

    /// Lower-case hex with a `0x` prefix.
    public var prefixedHex: String { "0x" + hexString }
}
