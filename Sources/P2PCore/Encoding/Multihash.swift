/// Multihash (multiformats `multihash`): varint code ++ varint digest length ++ digest. Only the
/// two codes libp2p peer ids use are supported: identity (0x00) and sha2-256 (0x12)
/// (libp2p specs `peer-ids/peer-ids.md`; spec §6.2).
public enum MultihashError: Error, Equatable, CustomStringConvertible {
    case invalidVarint(VarintError)
    case unsupportedCode(UInt64)
    case digestLengthMismatch(declared: UInt64, available: Int)
    case digestTooLong(length: UInt64, limit: Int)
    case wrongDigestLength(code: UInt64, expected: Int, got: Int)

    public var description: String {
        switch self {
        case .invalidVarint(let e): return "multihash: \(e)"
        case .unsupportedCode(let c): return "multihash: unsupported code 0x\(String(c, radix: 16))"
        case .digestLengthMismatch(let d, let a): return "multihash: declares a \(d)-byte digest but \(a) bytes follow"
        case .digestTooLong(let n, let l): return "multihash: digest of \(n) bytes exceeds limit \(l)"
        case .wrongDigestLength(let c, let e, let g): return "multihash: code 0x\(String(c, radix: 16)) needs a \(e)-byte digest, got \(g)"
        }
    }
}

public struct Multihash: Sendable, Hashable {
    public enum Code: UInt64, Sendable {
        case identity = 0x00
        case sha2_256 = 0x12
    }

    /// Default bound on a digest's length (identity multihashes inline data).
    public static let defaultMaxDigestLength = 128

    public let code: Code
    public let digest: [UInt8]

    /// The identity multihash of `data` (no length check beyond the caller's).
    public init(identity data: [UInt8]) {
        code = .identity
        digest = data
    }

    /// The sha2-256 multihash of `data`.
    public init(sha256Of data: [UInt8]) {
        code = .sha2_256
        digest = SHA2.sha256(data)
    }

    /// Decodes a multihash that spans all of `bytes`.
    public init(bytes: [UInt8], maxDigestLength: Int = Multihash.defaultMaxDigestLength) throws(MultihashError) {
        let codeVarint: (value: UInt64, length: Int)
        let lengthVarint: (value: UInt64, length: Int)
        do throws(VarintError) {
            codeVarint = try Varint.decode(bytes)
            lengthVarint = try Varint.decode(bytes[codeVarint.length...])
        } catch {
            throw .invalidVarint(error)
        }
        guard let code = Code(rawValue: codeVarint.value) else { throw .unsupportedCode(codeVarint.value) }
        let start = codeVarint.length + lengthVarint.length
        let available = bytes.count - start
        guard lengthVarint.value <= UInt64(maxDigestLength) else {
            throw .digestTooLong(length: lengthVarint.value, limit: maxDigestLength)
        }
        guard lengthVarint.value == UInt64(available) else {
            throw .digestLengthMismatch(declared: lengthVarint.value, available: available)
        }
        if code == .sha2_256 && available != 32 {
            throw .wrongDigestLength(code: code.rawValue, expected: 32, got: available)
        }
        self.code = code
        digest = Array(bytes[start...])
    }

    /// The binary multihash.
    public var bytes: [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(2 + Varint.encodedLength(UInt64(digest.count)) + digest.count)
        Varint.append(code.rawValue, to: &out)
        Varint.append(UInt64(digest.count), to: &out)
        out.append(contentsOf: digest)
        return out
    }
}
