/// Errors from parsing multiaddrs in text or binary form (multiformats `multiaddr`).
public enum MultiaddrError: Error, Equatable, CustomStringConvertible {
    case empty
    case tooLong(length: Int, limit: Int)
    case tooManyComponents(limit: Int)
    /// Text not starting with `/`.
    case missingLeadingSlash
    /// A protocol name or code this node does not handle.
    case unknownProtocol(String)
    case unknownProtocolCode(UInt64)
    /// A protocol name with no value after it.
    case missingValue(protocol: String)
    case invalidValue(protocol: String, value: String, reason: String)
    case invalidVarint(VarintError)
    /// A component's value runs past the end of the bytes.
    case truncated(protocol: String, needed: Int, available: Int)
    case invalidPeerID(IdentityError)

    public var description: String {
        switch self {
        case .empty: return "multiaddr is empty"
        case .tooLong(let n, let l): return "multiaddr of \(n) bytes exceeds limit \(l)"
        case .tooManyComponents(let l): return "multiaddr has more than \(l) components"
        case .missingLeadingSlash: return "multiaddr text must start with '/'"
        case .unknownProtocol(let p): return "unknown multiaddr protocol '\(p)'"
        case .unknownProtocolCode(let c): return "unknown multiaddr protocol code 0x\(String(c, radix: 16))"
        case .missingValue(let p): return "multiaddr protocol /\(p) needs a value"
        case .invalidValue(let p, let v, let r): return "invalid /\(p) value '\(v)': \(r)"
        case .invalidVarint(let e): return "multiaddr: \(e)"
        case .truncated(let p, let n, let a): return "multiaddr /\(p) needs \(n) bytes, \(a) left"
        case .invalidPeerID(let e): return "multiaddr /p2p: \(e)"
        }
    }
}
