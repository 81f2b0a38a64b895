/// Typed errors of the TCP transport: address parsing, DNS resolution, dialing, listening and the
/// life of a connection (DESIGN.md "Everything is bounded", "Bad input gets a typed error").
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public enum TransportError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A string or socket address that is not a valid numeric IPv4/IPv6 address.
    case invalidAddress(String)
    /// getaddrinfo failed, or the resolver is saturated (`reason` says which).
    case dnsFailure(host: String, reason: String)
    /// The name resolved, but to no address of the requested family.
    case dnsNoAddresses(host: String)
    /// The peer actively refused the connection (RST to our SYN).
    case connectionRefused(SocketAddress)
    /// No route to the network or host (ENETUNREACH, EHOSTUNREACH).
    case unreachable(SocketAddress, errno: Int32)
    /// The whole dial (resolution and every connect attempt) did not finish within its timeout.
    case dialTimedOut(target: String, timeoutNanoseconds: UInt64)
    /// A DNS lookup did not finish within its timeout.
    case dnsTimedOut(host: String)
    /// The dial was cancelled through its `TCPDialHandle`.
    case dialCancelled
    /// bind() failed because the address is taken.
    case addressInUse(SocketAddress)
    /// Any other failing system call (`operation` names it).
    case systemCall(operation: String, errno: Int32)
    /// The peer reset the connection (ECONNRESET) or it broke while writing (EPIPE).
    case connectionReset
    /// A write would have grown the write buffer past its hard cap; nothing of it was sent.
    case writeBufferFull(buffered: Int, attempted: Int, limit: Int)
    /// Buffered output made no progress for the configured stall timeout (the peer stopped reading).
    case writeStalled(bufferedBytes: Int, timeoutNanoseconds: UInt64)
    /// A write after `shutdownWrite()`.
    case writeAfterShutdown
    /// An operation on a connection or listener that is closed or closing.
    case closed

    public var description: String {
        switch self {
        case .invalidAddress(let s): return "invalid IP address \"\(s)\""
        case .dnsFailure(let host, let reason): return "DNS lookup of \"\(host)\" failed: \(reason)"
        case .dnsNoAddresses(let host): return "DNS lookup of \"\(host)\" returned no usable address"
        case .connectionRefused(let a): return "connection to \(a) refused"
        case .unreachable(let a, let e): return "\(a) unreachable: \(errnoDescription(e))"
        case .dialTimedOut(let target, let ns):
            return "dial to \(target) timed out after \(ns / 1_000_000) ms"
        case .dnsTimedOut(let host): return "DNS lookup of \"\(host)\" timed out"
        case .dialCancelled: return "dial cancelled"
        case .addressInUse(let a): return "address \(a) already in use"
        case .systemCall(let op, let e): return "\(op) failed: \(errnoDescription(e))"
        case .connectionReset: return "connection reset by peer"
        case .writeBufferFull(let buffered, let attempted, let limit):
            return "write of \(attempted) bytes rejected: \(buffered) bytes already buffered, hard cap \(limit)"
        case .writeStalled(let buffered, let ns):
            return "peer stopped reading: \(buffered) buffered bytes made no progress for \(ns / 1_000_000) ms"
        case .writeAfterShutdown: return "write after shutdownWrite()"
        case .closed: return "connection closed"
        }
    }
}

/// `strerror` text with the errno number, for error descriptions.
func errnoDescription(_ e: Int32) -> String {
    guard let s = strerror(e) else { return "errno \(e)" }
    return "\(String(cString: s)) (errno \(e))"
}
