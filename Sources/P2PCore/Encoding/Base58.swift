/// Base58 with the Bitcoin alphabet (multibase `z`, "base58btc"), the text form of libp2p peer
/// ids (libp2p specs `peer-ids/peer-ids.md` §"String representation"). Leading zero bytes map
/// to leading `1`s. Decoding is bounded in input length (the algorithm is quadratic).
public enum Base58Error: Error, Equatable, CustomStringConvertible {
    case invalidCharacter(Character, offset: Int)
    case tooLong(length: Int, limit: Int)

    public var description: String {
        switch self {
        case .invalidCharacter(let c, let o): return "invalid base58 character '\(c)' at offset \(o)"
        case .tooLong(let n, let l): return "base58 input of \(n) characters exceeds limit \(l)"
        }
    }
}

public enum Base58 {
    /// Default bound on the length of decoded text, in characters (about 750 bytes).
    public static let defaultMaxLength = 1024

    private static let alphabet: [UInt8] = Array("123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz".utf8)

    /// Alphabet index of each ASCII byte, or 0xff.
    private static let indices: [UInt8] = {
        var t = [UInt8](repeating: 0xff, count: 256)
        for (i, c) in alphabet.enumerated() { t[Int(c)] = UInt8(i) }
        return t
    }()

    /// Encodes bytes as base58btc text.
    public static func encode<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        let input = Array(bytes)
        let zeros = input.prefix { $0 == 0 }.count
        // log(256)/log(58) ≈ 1.366: digits needed for the non-zero part.
        var digits = [UInt8](repeating: 0, count: (input.count - zeros) * 138 / 100 + 1)
        var used = 0
        for byte in input[zeros...] {
            var carry = Int(byte)
            var i = 0
            while carry != 0 || i < used {
                let k = digits.count - 1 - i
                carry += 256 * Int(digits[k])
                digits[k] = UInt8(carry % 58)
                carry /= 58
                i += 1
            }
            used = i
        }
        var out = [UInt8](repeating: alphabet[0], count: zeros)
        out.reserveCapacity(zeros + used)
        for d in digits[(digits.count - used)...] { out.append(alphabet[Int(d)]) }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes base58btc text of at most `maxLength` characters.
    public static func decode(_ text: some StringProtocol, maxLength: Int = defaultMaxLength) throws(Base58Error) -> [UInt8] {
        let utf8 = text.utf8
        guard utf8.count <= maxLength else { throw .tooLong(length: utf8.count, limit: maxLength) }
        var zeros = 0
        var leading = true
        // log(58)/log(256) ≈ 0.733: bytes needed for the value.
        var bytes = [UInt8](repeating: 0, count: utf8.count * 733 / 1000 + 1)
        var used = 0
        for (offset, c) in utf8.enumerated() {
            let v = indices[Int(c)]
            guard v != 0xff else {
                throw .invalidCharacter(Character(Unicode.Scalar(c)), offset: offset)
            }
            if leading && v == 0 { zeros += 1; continue }
            leading = false
            var carry = Int(v)
            var i = 0
            while carry != 0 || i < used {
                let k = bytes.count - 1 - i
                carry += 58 * Int(bytes[k])
                bytes[k] = UInt8(carry & 0xff)
                carry >>= 8
                i += 1
            }
            used = i
        }
        var out = [UInt8](repeating: 0, count: zeros)
        out.append(contentsOf: bytes[(bytes.count - used)...])
        return out
    }
}
