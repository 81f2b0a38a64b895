/// One multiaddr component (multiformats `multiaddr` protocol table): its code, name, binary
/// value (fixed size, or varint length-prefixed) and text value. Supported: /ip4 (4), /tcp (6),
/// /ip6 (0x29), /dns (0x35), /dns4 (0x36), /dns6 (0x37), /p2p (0x01a5, text alias /ipfs).
public enum MultiaddrComponent: Sendable, Hashable {
    /// 4 address bytes.
    case ip4([UInt8])
    /// 16 address bytes.
    case ip6([UInt8])
    case dns(String)
    case dns4(String)
    case dns6(String)
    case tcp(UInt16)
    case p2p(PeerID)

    /// Longest DNS name accepted, in bytes.
    public static let maxDNSNameLength = 255

    enum Code {
        static let ip4: UInt64 = 0x04
        static let tcp: UInt64 = 0x06
        static let ip6: UInt64 = 0x29
        static let dns: UInt64 = 0x35
        static let dns4: UInt64 = 0x36
        static let dns6: UInt64 = 0x37
        static let p2p: UInt64 = 0x01a5
    }

    /// The multicodec protocol code.
    public var code: UInt64 {
        switch self {
        case .ip4: return Code.ip4
        case .ip6: return Code.ip6
        case .dns: return Code.dns
        case .dns4: return Code.dns4
        case .dns6: return Code.dns6
        case .tcp: return Code.tcp
        case .p2p: return Code.p2p
        }
    }

    /// The protocol name used in text form.
    public var name: String {
        switch self {
        case .ip4: return "ip4"
        case .ip6: return "ip6"
        case .dns: return "dns"
        case .dns4: return "dns4"
        case .dns6: return "dns6"
        case .tcp: return "tcp"
        case .p2p: return "p2p"
        }
    }

    /// The value in text form.
    public var value: String {
        switch self {
        case .ip4(let b): return IPAddressText.formatIPv4(b)
        case .ip6(let b): return IPAddressText.formatIPv6(b)
        case .dns(let n), .dns4(let n), .dns6(let n): return n
        case .tcp(let port): return String(port)
        case .p2p(let id): return id.description
        }
    }

    /// Appends the binary form: varint code ++ value (length-prefixed for DNS names and peer ids).
    func append(to out: inout [UInt8]) {
        Varint.append(code, to: &out)
        switch self {
        case .ip4(let b), .ip6(let b):
            out.append(contentsOf: b)
        case .dns(let n), .dns4(let n), .dns6(let n):
            Varint.append(UInt64(n.utf8.count), to: &out)
            out.append(contentsOf: n.utf8)
        case .tcp(let port):
            out.append(UInt8(port >> 8))
            out.append(UInt8(port & 0xff))
        case .p2p(let id):
            Varint.append(UInt64(id.bytes.count), to: &out)
            out.append(contentsOf: id.bytes)
        }
    }

    /// Decodes one component from the start of `bytes`; returns it and the bytes used.
    static func decode(_ bytes: ArraySlice<UInt8>) throws(MultiaddrError) -> (MultiaddrComponent, Int) {
        let code = try varint(bytes)
        var pos = bytes.startIndex + code.length
        func fixed(_ n: Int, _ proto: String) throws(MultiaddrError) -> ArraySlice<UInt8> {
            guard bytes.endIndex - pos >= n else {
                throw .truncated(protocol: proto, needed: n, available: bytes.endIndex - pos)
            }
            defer { pos += n }
            return bytes[pos..<pos + n]
        }
        func prefixed(_ proto: String, limit: Int) throws(MultiaddrError) -> ArraySlice<UInt8> {
            let length = try varint(bytes[pos...])
            pos += length.length
            guard length.value <= UInt64(limit) else {
                throw .invalidValue(protocol: proto, value: "\(length.value) bytes", reason: "longer than \(limit) bytes")
            }
            return try fixed(Int(length.value), proto)
        }
        let component: MultiaddrComponent
        switch code.value {
        case Code.ip4: component = .ip4(Array(try fixed(4, "ip4")))
        case Code.ip6: component = .ip6(Array(try fixed(16, "ip6")))
        case Code.tcp:
            let b = try fixed(2, "tcp")
            component = .tcp(UInt16(b[b.startIndex]) << 8 | UInt16(b[b.startIndex + 1]))
        case Code.dns, Code.dns4, Code.dns6:
            let proto = code.value == Code.dns ? "dns" : code.value == Code.dns4 ? "dns4" : "dns6"
            let raw = try prefixed(proto, limit: maxDNSNameLength)
            guard let name = String(validating: raw, as: UTF8.self) else {
                throw .invalidValue(protocol: proto, value: raw.prefixedHex, reason: "not UTF-8")
            }
            try validateDNS(name, proto)
            component = code.value == Code.dns ? .dns(name) : code.value == Code.dns4 ? .dns4(name) : .dns6(name)
        case Code.p2p:
            let raw = try prefixed("p2p", limit: PeerID.maxInlineKeyLength + 2)
            do throws(IdentityError) { component = .p2p(try PeerID(bytes: Array(raw))) } catch { throw .invalidPeerID(error) }
        default:
            throw .unknownProtocolCode(code.value)
        }
        return (component, pos - bytes.startIndex)
    }

    /// Parses a protocol name and its text value (the name is already known to need one).
    static func parse(name: Substring, value: Substring) throws(MultiaddrError) -> MultiaddrComponent {
        let proto = String(name)
        func invalid(_ reason: String) -> MultiaddrError {
            .invalidValue(protocol: proto, value: String(value), reason: reason)
        }
        switch name {
        case "ip4":
            guard let b = IPAddressText.parseIPv4(value.utf8) else { throw invalid("not a dotted-decimal IPv4 address") }
            return .ip4(b)
        case "ip6":
            guard let b = IPAddressText.parseIPv6(value.utf8) else { throw invalid("not an IPv6 address") }
            return .ip6(b)
        case "tcp":
            guard (1...5).contains(value.utf8.count), value.utf8.allSatisfy({ (0x30...0x39).contains($0) }),
                  let port = UInt16(value) else { throw invalid("not a port number 0–65535") }
            return .tcp(port)
        case "dns", "dns4", "dns6":
            let n = String(value)
            try validateDNS(n, proto)
            return name == "dns" ? .dns(n) : name == "dns4" ? .dns4(n) : .dns6(n)
        case "p2p", "ipfs":
            do throws(IdentityError) { return .p2p(try PeerID(string: String(value))) } catch { throw .invalidPeerID(error) }
        default:
            throw .unknownProtocol(proto)
        }
    }

    /// Whether a text protocol name is one this parser knows.
    static func isKnown(_ name: Substring) -> Bool {
        ["ip4", "ip6", "tcp", "dns", "dns4", "dns6", "p2p", "ipfs"].contains(name)
    }

    private static func validateDNS(_ name: String, _ proto: String) throws(MultiaddrError) {
        let n = name.utf8.count
        guard n > 0 else { throw .invalidValue(protocol: proto, value: name, reason: "empty name") }
        guard n <= maxDNSNameLength else {
            throw .invalidValue(protocol: proto, value: String(name.prefix(32)) + "…", reason: "longer than \(maxDNSNameLength) bytes")
        }
        guard !name.utf8.contains(UInt8(ascii: "/")) else { throw .invalidValue(protocol: proto, value: name, reason: "contains '/'") }
    }

    private static func varint(_ bytes: ArraySlice<UInt8>) throws(MultiaddrError) -> (value: UInt64, length: Int) {
        do throws(VarintError) { return try Varint.decode(bytes) } catch { throw .invalidVarint(error) }
    }
}
