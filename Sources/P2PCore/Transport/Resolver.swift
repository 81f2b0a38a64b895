/// Host-name resolution for dialing `/dns`, `/dns4` and `/dns6` addresses: getaddrinfo, which
/// blocks, runs on a background queue (never a connection's queue), bounded in concurrency,
/// time and result count; numeric addresses never reach it.
import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Which address families a lookup may return (`/dns` = any, `/dns4`, `/dns6`).
public enum AddressFamilyFilter: Sendable, Hashable {
    case any, ipv4, ipv6

    func admits(_ ip: IPAddress) -> Bool {
        switch self {
        case .any: return true
        case .ipv4: return ip.family == .v4
        case .ipv6: return ip.family == .v6
        }
    }
}

public enum Resolver {
    /// Lookups in flight process-wide; beyond this a lookup fails at once with `.dnsFailure`
    /// (getaddrinfo cannot be cancelled, so a stuck resolver must not pile up threads).
    public static let maxConcurrentLookups = 16
    /// Addresses kept from one lookup, in getaddrinfo's (RFC 6724) order.
    public static let maxAddresses = 16
    /// Longest accepted host name (RFC 1035: 253 characters in text form).
    public static let maxHostLength = 253

    private static let slots = DispatchSemaphore(value: maxConcurrentLookups)
    private static let lookupQueue = DispatchQueue(label: "p2p.dns", attributes: .concurrent)

    /// Resolves `host` (a name or a numeric address) to TCP socket addresses with `port`, calling
    /// `completion` exactly once on `queue`: with the addresses, `.dnsFailure`, `.dnsNoAddresses`
    /// or `.dnsTimedOut`.
    public static func resolve(
        host: String, port: UInt16, family: AddressFamilyFilter = .any, timeout: Duration,
        queue: DispatchQueue, completion: @escaping @Sendable (Result<[SocketAddress], TransportError>) -> Void
    ) {
        if let ip = IPAddress(host) {
            let result: Result<[SocketAddress], TransportError> = family.admits(ip)
                ? .success([SocketAddress(ip: ip, port: port)]) : .failure(.dnsNoAddresses(host: host))
            queue.async { completion(result) }
            return
        }
        guard !host.isEmpty, host.utf8.count <= maxHostLength, !host.utf8.contains(0) else {
            queue.async { completion(.failure(.dnsFailure(host: host, reason: "invalid host name"))) }
            return
        }
        guard slots.wait(timeout: .now()) == .success else {
            queue.async { completion(.failure(.dnsFailure(host: host, reason: "too many concurrent lookups"))) }
            return
        }
        let once = OnceOnQueue(completion)
        lookupQueue.async {
            let result = lookup(host: host, port: port, family: family)
            slots.signal()
            queue.async { once.complete(result) }
        }
        queue.asyncAfter(deadline: .now() + .nanoseconds(Int(clamping: timeout.clampedNanoseconds))) {
            once.complete(.failure(.dnsTimedOut(host: host)))
        }
    }

    /// The blocking lookup.
    static func lookup(
        host: String, port: UInt16, family: AddressFamilyFilter
    ) -> Result<[SocketAddress], TransportError> {
        var hints = addrinfo()
        switch family {
        case .any: hints.ai_family = AF_UNSPEC
        case .ipv4: hints.ai_family = AF_INET
        case .ipv6: hints.ai_family = AF_INET6
        }
        #if os(Linux)
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
        hints.ai_socktype = SOCK_STREAM
        #endif
        hints.ai_protocol = Int32(IPPROTO_TCP)
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, nil, &hints, &list)
        defer { if let list { freeaddrinfo(list) } }
        guard rc == 0 else {
            let reason: String
            if rc == EAI_SYSTEM {
                reason = errnoDescription(errno)
            } else if let text = gai_strerror(rc) {
                reason = String(cString: text)
            } else {
                reason = "getaddrinfo error \(rc)"
            }
            return .failure(.dnsFailure(host: host, reason: reason))
        }
        var addresses: [SocketAddress] = []
        var entry = list
        while let info = entry, addresses.count < maxAddresses {
            if let sa = info.pointee.ai_addr, let found = SocketAddress(sa, length: info.pointee.ai_addrlen) {
                let address = SocketAddress(ip: found.ip, port: port)
                if family.admits(address.ip) && !addresses.contains(address) { addresses.append(address) }
            }
            entry = info.pointee.ai_next
        }
        return addresses.isEmpty ? .failure(.dnsNoAddresses(host: host)) : .success(addresses)
    }
}

/// A completion that runs at most once; used only on one serial queue, which is what makes the
/// `@unchecked Sendable` conformance safe.
final class OnceOnQueue<Value: Sendable>: @unchecked Sendable {
    private var completion: (@Sendable (Value) -> Void)?

    init(_ completion: @escaping @Sendable (Value) -> Void) {
        self.completion = completion
    }

    func complete(_ value: Value) {
        guard let completion else { return }
        self.completion = nil
        completion(value)
    }
}
