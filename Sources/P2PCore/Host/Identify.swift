import Foundation
import SwiftProtobuf

/// libp2p identify (`/ipfs/id/1.0.0`) and identify push (`/ipfs/id/push/1.0.0`),
/// libp2p/specs identify/README.md: the responder writes uvarint-length-delimited `Identify`
/// protobufs and closes; the reader merges every message until EOF (go-libp2p sends its
/// signed peer record in a second message). Each message is bounded (go: 8 KiB), and so is the
/// number of messages.
public enum Identify {
    public static let protocolID = "/ipfs/id/1.0.0"
    public static let pushProtocolID = "/ipfs/id/push/1.0.0"
    public static let maxMessageSize = 8 * 1024
    public static let maxMessages = 10
    /// How long a peer may take to send its identify (or push) and half-close: go-libp2p's
    /// `identify.Timeout`. The stream is reset after it.
    public static let timeout: Duration = .seconds(60)

    /// What we learned about a peer.
    public struct Info: Sendable, Equatable {
        public var publicKey: PublicKey?
        public var listenAddresses: [Multiaddr] = []
        public var observedAddress: Multiaddr?
        public var protocols: [String] = []
        public var agentVersion: String?
        public var protocolVersion: String?
    }

    /// Our identify message, length-delimited, ready to write.
    static func encode(identity: PublicKey, listen: [Multiaddr], observed: Multiaddr?, protocols: [String],
                       agentVersion: String, protocolVersion: String) -> [UInt8] {
        var msg = PBIdentify()
        msg.publicKey = Data(identity.marshal())
        msg.listenAddrs = listen.map { Data($0.bytes) }
        if let observed { msg.observedAddr = Data(observed.bytes) }
        msg.protocols = protocols
        msg.agentVersion = agentVersion
        msg.protocolVersion = protocolVersion
        let body = (try? msg.serializedBytes() as [UInt8]) ?? []
        return Varint.encode(UInt64(body.count)) + body
    }

    /// Decodes and merges the delimited messages of a complete identify response.
    public static func decode(_ bytes: [UInt8]) throws(HostError) -> Info {
        var info = Info()
        var rest = bytes[...]
        var count = 0
        while !rest.isEmpty {
            count += 1
            guard count <= maxMessages else { throw .malformed("identify: more than \(maxMessages) messages") }
            let (len, n): (UInt64, Int)
            do { (len, n) = try Varint.decode(rest) } catch { throw .malformed("identify length prefix: \(error)") }
            guard len <= UInt64(maxMessageSize) else { throw .messageTooLarge(Int(clamping: len), limit: maxMessageSize) }
            rest = rest.dropFirst(n)
            guard rest.count >= Int(len) else { throw .malformed("identify message truncated") }
            let body = Data(rest.prefix(Int(len)))
            rest = rest.dropFirst(Int(len))
            let msg: PBIdentify
            do { msg = try PBIdentify(serializedBytes: body) } catch { throw .malformed("identify protobuf: \(error)") }
            if msg.hasPublicKey {
                do { info.publicKey = try PublicKey.unmarshal([UInt8](msg.publicKey)) } catch { throw .malformed("identify public key: \(error)") }
            }
            let addrs = msg.listenAddrs.prefix(Peerstore.maxAddressesPerPeer).compactMap { try? Multiaddr(bytes: [UInt8]($0)) }
            if !addrs.isEmpty { info.listenAddresses = addrs }
            if msg.hasObservedAddr { info.observedAddress = try? Multiaddr(bytes: [UInt8](msg.observedAddr)) }
            if !msg.protocols.isEmpty { info.protocols = Array(msg.protocols.prefix(Peerstore.maxProtocolsPerPeer)) }
            if msg.hasAgentVersion { info.agentVersion = String(msg.agentVersion.prefix(256)) }
            if msg.hasProtocolVersion { info.protocolVersion = String(msg.protocolVersion.prefix(256)) }
        }
        return info
    }

    /// The multiaddr of a socket address (`/ip4|ip6/…/tcp/…`).
    public static func multiaddr(_ address: SocketAddress) -> Multiaddr {
        let ip: MultiaddrComponent = address.ip.family == .v4 ? .ip4(address.ip.bytes) : .ip6(address.ip.bytes)
        return Multiaddr(components: [ip, .tcp(address.port)])
    }
}

/// libp2p ping (`/ipfs/ping/1.0.0`): the dialer writes 32 random bytes, the listener echoes them;
/// repeated on the same stream.
public enum Ping {
    public static let protocolID = "/ipfs/ping/1.0.0"
    public static let size = 32

    /// Serves pings on an inbound stream: echo every 32-byte block until EOF.
    static func serve(_ stream: P2PStream) {
        var buffer: [UInt8] = []
        stream.onData = { chunk in
            buffer += chunk
            while buffer.count >= size {
                stream.write(Array(buffer.prefix(size)))
                buffer.removeFirst(size)
            }
        }
        stream.onRemoteClose = { stream.closeWrite() }
    }
}
