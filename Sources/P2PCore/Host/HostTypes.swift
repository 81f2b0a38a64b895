import Foundation

/// Which side opened a connection or stream. Raw values match go-libp2p's `network.Direction`
/// (and so op-node's `opp2p_peers` JSON): 0 unknown, 1 inbound, 2 outbound.
public enum Direction: Int, Sendable, CustomStringConvertible {
    case inbound = 1
    case outbound = 2

    public var description: String { self == .inbound ? "inbound" : "outbound" }
}

/// Errors of the host layer, each naming what failed.
public enum HostError: Error, Sendable, CustomStringConvertible {
    case transport(TransportError)
    case negotiation(MultistreamError)
    case security(NoiseError)
    case muxer(YamuxError)
    case protocolNotSupported([String])
    case notConnected(PeerID)
    case noAddresses(PeerID)
    case invalidAddress(String)
    case gated(String)
    case timedOut(String)
    case dialToSelf
    case connectionClosed
    case streamReset
    case messageTooLarge(Int, limit: Int)
    case malformed(String)
    case hostClosed

    public var description: String {
        switch self {
        case .transport(let e): return "transport: \(e)"
        case .negotiation(let e): return "protocol negotiation: \(e)"
        case .security(let e): return "noise: \(e)"
        case .muxer(let e): return "yamux: \(e)"
        case .protocolNotSupported(let p): return "peer supports none of \(p.joined(separator: ", "))"
        case .notConnected(let p): return "not connected to \(p)"
        case .noAddresses(let p): return "no known addresses for \(p)"
        case .invalidAddress(let a): return "invalid address: \(a)"
        case .gated(let why): return "refused by the connection gater: \(why)"
        case .timedOut(let what): return "\(what) timed out"
        case .dialToSelf: return "refusing to dial our own peer id"
        case .connectionClosed: return "connection closed"
        case .streamReset: return "stream reset"
        case .messageTooLarge(let n, let limit): return "message of \(n) bytes exceeds the \(limit)-byte limit"
        case .malformed(let what): return "malformed message: \(what)"
        case .hostClosed: return "host is closed"
        }
    }
}

/// Host configuration. Defaults follow go-libp2p and op-node (spec §4.4, §6.1).
public struct HostConfig: Sendable {
    public var identity: PrivateKey
    /// identify `agentVersion` (op-node: `--p2p.useragent`, default "optimism").
    public var agentVersion: String = "p2pnode/0.1.0"
    /// identify `protocolVersion` (go-libp2p's default).
    public var protocolVersion: String = "ipfs/0.1.0"
    /// TCP connect timeout (`--p2p.timeout.dial`, 10 s).
    public var dialTimeout: Duration = .seconds(10)
    /// Whole upgrade (security + muxer negotiation) must finish within this.
    public var upgradeTimeout: Duration = .seconds(10)
    /// Outbound stream protocol negotiation bound.
    public var streamNegotiationTimeout: Duration = .seconds(10)
    /// yamux keepalive ping interval (go-yamux: 30 s); a missing pong closes the connection.
    public var keepaliveInterval: Duration = .seconds(30)
    public var yamux: YamuxConfig = YamuxConfig()
    public var tcp: TCPConnection.Options = TCPConnection.Options()
    /// Connections being upgraded at once; more are refused (go-libp2p's upgrader limits too).
    public var maxPendingUpgrades = 128
    /// Total connections, a hard cap above the connection manager's high water.
    public var maxConnections = 400
    /// Inbound streams per connection waiting for protocol negotiation (yamux accept backlog: 256).
    public var maxNegotiatingStreams = 256
    /// Bytes buffered per stream for a handler that has not taken them yet.
    public var maxStreamBuffer = 16 * 1024 * 1024
    public var connectionManager: ConnectionManager.Config = .init()

    public init(identity: PrivateKey) { self.identity = identity }
}

/// A `@Sendable` box for non-Sendable values handed between queues where the queue discipline,
/// not the type system, guarantees exclusive access.
struct UncheckedBox<T>: @unchecked Sendable {  // safe: used only to move a value to the queue that owns it
    var value: T
    init(_ value: T) { self.value = value }
}
