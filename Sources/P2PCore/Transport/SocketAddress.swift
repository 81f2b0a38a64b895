/// IP and socket addresses for the TCP transport: numeric IPv4/IPv6 parsing and formatting
/// (inet_pton/inet_ntop, IPv6 zone ids) and conversion to and from `sockaddr`.
/// The multiaddr layer maps `/ip4`, `/ip6` and `/tcp` onto these.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An IPv4 or IPv6 address, stored inline (no heap allocation).
public struct IPAddress: Sendable, Hashable, CustomStringConvertible {
    public enum Family: Sendable, Hashable {
        case v4, v6
    }

    public let family: Family
    /// IPv6 zone (interface index) for link-local addresses; 0 otherwise and always 0 for IPv4.
    public let scopeID: UInt32
    // Network byte order, big-endian packed: IPv4 in the low 32 bits of `low`.
    private let high: UInt64
    private let low: UInt64

    /// An address from its raw bytes: 4 for IPv4, 16 for IPv6; nil for any other length.
    public init?(bytes: [UInt8], scopeID: UInt32 = 0) {
        switch bytes.count {
        case 4:
            family = .v4
            high = 0
            low = bytes.reduce(0) { ($0 << 8) | UInt64($1) }
            self.scopeID = 0
        case 16:
            family = .v6
            high = bytes[0..<8].reduce(0) { ($0 << 8) | UInt64($1) }
            low = bytes[8..<16].reduce(0) { ($0 << 8) | UInt64($1) }
            self.scopeID = scopeID
        default:
            return nil
        }
    }

    /// Parses a numeric address: dotted-quad IPv4, or IPv6 text with an optional `%zone`
    /// (interface name or index). Host names are not accepted here (see `Resolver`).
    public init?(_ text: String) {
        guard !text.isEmpty, text.utf8.count <= 64 else { return nil }
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            self.init(bytes: withUnsafeBytes(of: &v4) { Array($0) })
            return
        }
        var addressPart = Substring(text)
        var scope: UInt32 = 0
        if let percent = text.firstIndex(of: "%") {
            addressPart = text[..<percent]
            let zone = String(text[text.index(after: percent)...])
            guard !zone.isEmpty else { return nil }
            if let n = UInt32(zone) {
                scope = n
            } else {
                scope = if_nametoindex(zone)
                guard scope != 0 else { return nil }
            }
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, String(addressPart), &v6) == 1 else { return nil }
        self.init(bytes: withUnsafeBytes(of: &v6) { Array($0) }, scopeID: scope)
    }

    public static let loopbackV4 = IPAddress(v4: 0x7F00_0001)
    public static let loopbackV6 = IPAddress(v6High: 0, low: 1)
    public static let anyV4 = IPAddress(v4: 0)
    public static let anyV6 = IPAddress(v6High: 0, low: 0)

    private init(v4: UInt32) {
        family = .v4
        high = 0
        low = UInt64(v4)
        scopeID = 0
    }

    private init(v6High: UInt64, low: UInt64) {
        family = .v6
        high = v6High
        self.low = low
        scopeID = 0
    }

    /// The raw address bytes in network order: 4 for IPv4, 16 for IPv6.
    public var bytes: [UInt8] {
        switch family {
        case .v4:
            return (0..<4).map { UInt8(truncatingIfNeeded: low >> (24 - 8 * $0)) }
        case .v6:
            return (0..<8).map { UInt8(truncatingIfNeeded: high >> (56 - 8 * $0)) }
                + (0..<8).map { UInt8(truncatingIfNeeded: low >> (56 - 8 * $0)) }
        }
    }

    public var isLoopback: Bool {
        switch family {
        case .v4: return (low >> 24) == 127
        case .v6: return high == 0 && low == 1
        }
    }

    public var isUnspecified: Bool { high == 0 && low == 0 }

    /// inet_ntop text (IPv6 in RFC 5952 form), with `%zone` index when set.
    public var description: String {
        var b = bytes
        let family = self.family == .v4 ? AF_INET : AF_INET6
        var text = [CChar](repeating: 0, count: 64)
        let ok = b.withUnsafeMutableBytes { raw in
            text.withUnsafeMutableBufferPointer { inet_ntop(family, raw.baseAddress, $0.baseAddress, 64) != nil }
        }
        guard ok else { return "<invalid>" }
        let s = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return scopeID == 0 ? s : "\(s)%\(scopeID)"
    }
}

/// An IP address and TCP port.
public struct SocketAddress: Sendable, Hashable, CustomStringConvertible {
    public let ip: IPAddress
    public let port: UInt16

    public init(ip: IPAddress, port: UInt16) {
        self.ip = ip
        self.port = port
    }

    /// A numeric IP address string and a port; `.invalidAddress` for anything else.
    public init(ipString: String, port: UInt16) throws(TransportError) {
        guard let ip = IPAddress(ipString) else { throw .invalidAddress(ipString) }
        self.init(ip: ip, port: port)
    }

    /// `1.2.3.4:80` or `[::1]:80`.
    public var description: String {
        ip.family == .v4 ? "\(ip):\(port)" : "[\(ip)]:\(port)"
    }

    /// Calls `body` with this address as a `sockaddr` and its length.
    func withSockAddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        var storage = sockaddr_storage()
        let length = withUnsafeMutableBytes(of: &storage) { raw -> socklen_t in
            let bytes = ip.bytes
            switch ip.family {
            case .v4:
                var sin = sockaddr_in()
                #if canImport(Darwin)
                sin.sin_len = UInt8(MemoryLayout<sockaddr_in>.size)
                #endif
                sin.sin_family = sa_family_t(AF_INET)
                sin.sin_port = port.bigEndian
                withUnsafeMutableBytes(of: &sin.sin_addr) { $0.copyBytes(from: bytes) }
                raw.storeBytes(of: sin, as: sockaddr_in.self)
                return socklen_t(MemoryLayout<sockaddr_in>.size)
            case .v6:
                var sin6 = sockaddr_in6()
                #if canImport(Darwin)
                sin6.sin6_len = UInt8(MemoryLayout<sockaddr_in6>.size)
                #endif
                sin6.sin6_family = sa_family_t(AF_INET6)
                sin6.sin6_port = port.bigEndian
                sin6.sin6_scope_id = ip.scopeID
                withUnsafeMutableBytes(of: &sin6.sin6_addr) { $0.copyBytes(from: bytes) }
                raw.storeBytes(of: sin6, as: sockaddr_in6.self)
                return socklen_t(MemoryLayout<sockaddr_in6>.size)
            }
        }
        return withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, length) }
        }
    }

    /// Reads an AF_INET or AF_INET6 `sockaddr`; nil for other families or a short length.
    init?(_ address: UnsafePointer<sockaddr>, length: socklen_t) {
        let raw = UnsafeRawPointer(address)
        switch Int32(address.pointee.sa_family) {
        case AF_INET where Int(length) >= MemoryLayout<sockaddr_in>.size:
            let sin = raw.loadUnaligned(as: sockaddr_in.self)
            var addr = sin.sin_addr
            guard let ip = IPAddress(bytes: withUnsafeBytes(of: &addr) { Array($0) }) else { return nil }
            self.init(ip: ip, port: UInt16(bigEndian: sin.sin_port))
        case AF_INET6 where Int(length) >= MemoryLayout<sockaddr_in6>.size:
            let sin6 = raw.loadUnaligned(as: sockaddr_in6.self)
            var addr = sin6.sin6_addr
            guard let ip = IPAddress(bytes: withUnsafeBytes(of: &addr) { Array($0) }, scopeID: sin6.sin6_scope_id)
            else { return nil }
            self.init(ip: ip, port: UInt16(bigEndian: sin6.sin6_port))
        default:
            return nil
        }
    }
}
