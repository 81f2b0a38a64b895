import Foundation
import P2PCore

/// What the sans-IO gossipsub router asks of its host: RPCs to send, messages to validate and to
/// deliver, notices, and trace events. The event kinds and reject reasons are go-libp2p-pubsub's
/// (`pb/trace.proto` `TraceEvent.Type`, `tracer.go` `Reject*`), which op-node counts in
/// `gossip_events_total` (spec §9.3).
public enum GossipAction: Sendable {
    /// Write this RPC to the peer's pubsub stream (framed with `RPCFraming`). Each one occupies a
    /// slot of the peer's outbound queue until the host reports it with `rpcWritten(to:count:)`.
    /// `encodedMessages[i]` is the protobuf encoding of `publish[i]`, made once per message and
    /// shared by every peer it goes to (`RPCFraming.encode(_:encodedMessages:maxSize:)` frames
    /// the RPC without encoding the messages again). `messageIDs[i]` is the id of `publish[i]`
    /// (empty if not known), so the host can drop a message the peer said it does not want after
    /// the router decided to send it (IDONTWANT crossing the forward).
    case send(PeerID, PBRPC, encodedMessages: [[UInt8]], messageIDs: [MessageID])
    /// Validate this message and answer with `deliverValidationResult(_:outcome:now:)`.
    case validate(ValidationRequest)
    /// A validated (or locally published) message for local subscribers. `from` is the peer it
    /// arrived from (the local peer for our own messages).
    case deliver(topic: String, message: PBMessage, from: PeerID, id: MessageID)
    /// The peer's score fell below the graylist threshold: its RPCs are now ignored.
    case graylisted(PeerID, score: Double)
    /// Peer exchange received in a PRUNE (only when `peerExchange` is enabled and the sender's
    /// score is at or above the acceptPX threshold): the host may connect to these peers.
    case peerExchange(topic: String, peers: [PeerID])
    /// A trace event for metrics and logs.
    case trace(GossipTraceEvent)
}

/// A message handed to the application for validation.
public struct ValidationRequest: Sendable, Equatable {
    public let id: MessageID
    public let topic: String
    public let message: PBMessage
    /// The peer that forwarded it (go `ReceivedFrom`).
    public let from: PeerID
}

/// A gossipsub message id: opaque bytes from the configured `MessageIDFunction`.
public struct MessageID: Hashable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    // Hash the bytes in one call: per-element hashing dominates lookups in debug builds.
    public func hash(into hasher: inout Hasher) {
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }

    public static func == (a: MessageID, b: MessageID) -> Bool {
        a.bytes.count == b.bytes.count && a.bytes.withUnsafeBytes { x in
            b.bytes.withUnsafeBytes { y in
                guard let px = x.baseAddress, let py = y.baseAddress else { return true }   // both empty
                return memcmp(px, py, x.count) == 0
            }
        }
    }

    public var description: String { bytes.hexString }
}

/// Why a message was not accepted (go-libp2p-pubsub `Reject*` strings).
public enum RejectReason: String, Sendable, Equatable, CaseIterable {
    case missingSignature = "missing signature"
    case invalidSignature = "invalid signature"
    case unexpectedSignature = "unexpected signature"
    case unexpectedAuthInfo = "unexpected auth info"
    case selfOrigin = "self originated message"
    case validationQueueFull = "validation queue full"
    case validationFailed = "validation failed"
    case validationIgnored = "validation ignored"
}

/// The trace events of go-libp2p-pubsub's tracer, as the router produces them.
public enum GossipTraceEvent: Sendable, Equatable {
    case publishMessage(id: MessageID, topic: String)
    case rejectMessage(id: MessageID, topic: String, from: PeerID, reason: RejectReason)
    case duplicateMessage(id: MessageID, topic: String, from: PeerID)
    case deliverMessage(id: MessageID, topic: String, from: PeerID)
    case addPeer(PeerID, GossipSubProtocol)
    case removePeer(PeerID)
    case recvRPC(from: PeerID)
    case sendRPC(to: PeerID)
    case dropRPC(to: PeerID)
    case join(topic: String)
    case leave(topic: String)
    case graft(PeerID, topic: String)
    case prune(PeerID, topic: String)

    public var kind: GossipTraceKinds {
        switch self {
        case .publishMessage: return .publishMessage
        case .rejectMessage: return .rejectMessage
        case .duplicateMessage: return .duplicateMessage
        case .deliverMessage: return .deliverMessage
        case .addPeer: return .addPeer
        case .removePeer: return .removePeer
        case .recvRPC: return .recvRPC
        case .sendRPC: return .sendRPC
        case .dropRPC: return .dropRPC
        case .join: return .join
        case .leave: return .leave
        case .graft: return .graft
        case .prune: return .prune
        }
    }

    /// The go `TraceEvent.Type` name (the `type` label of op-node's `gossip_events_total`).
    public var typeName: String {
        switch self {
        case .publishMessage: return "PUBLISH_MESSAGE"
        case .rejectMessage: return "REJECT_MESSAGE"
        case .duplicateMessage: return "DUPLICATE_MESSAGE"
        case .deliverMessage: return "DELIVER_MESSAGE"
        case .addPeer: return "ADD_PEER"
        case .removePeer: return "REMOVE_PEER"
        case .recvRPC: return "RECV_RPC"
        case .sendRPC: return "SEND_RPC"
        case .dropRPC: return "DROP_RPC"
        case .join: return "JOIN"
        case .leave: return "LEAVE"
        case .graft: return "GRAFT"
        case .prune: return "PRUNE"
        }
    }
}

/// Which trace events the router emits (RPC-level events are the most frequent; a host that
/// does not count them can leave them out).
public struct GossipTraceKinds: OptionSet, Sendable, Hashable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let publishMessage = GossipTraceKinds(rawValue: 1 << 0)
    public static let rejectMessage = GossipTraceKinds(rawValue: 1 << 1)
    public static let duplicateMessage = GossipTraceKinds(rawValue: 1 << 2)
    public static let deliverMessage = GossipTraceKinds(rawValue: 1 << 3)
    public static let addPeer = GossipTraceKinds(rawValue: 1 << 4)
    public static let removePeer = GossipTraceKinds(rawValue: 1 << 5)
    public static let recvRPC = GossipTraceKinds(rawValue: 1 << 6)
    public static let sendRPC = GossipTraceKinds(rawValue: 1 << 7)
    public static let dropRPC = GossipTraceKinds(rawValue: 1 << 8)
    public static let join = GossipTraceKinds(rawValue: 1 << 9)
    public static let leave = GossipTraceKinds(rawValue: 1 << 10)
    public static let graft = GossipTraceKinds(rawValue: 1 << 11)
    public static let prune = GossipTraceKinds(rawValue: 1 << 12)

    public static let all = GossipTraceKinds(rawValue: (1 << 13) - 1)
    /// Everything except the per-RPC events (RECV_RPC, SEND_RPC).
    public static let messagesAndMesh = all.subtracting([.recvRPC, .sendRPC])
}

/// The gossipsub protocol version a peer speaks (its negotiated protocol id).
public enum GossipSubProtocol: String, Sendable, Equatable, CaseIterable {
    case meshsub10 = "/meshsub/1.0.0"
    case meshsub11 = "/meshsub/1.1.0"
    case meshsub12 = "/meshsub/1.2.0"

    /// PRUNE carries a backoff and peer exchange (v1.1+).
    var supportsBackoff: Bool { self != .meshsub10 }
    /// IDONTWANT (v1.2).
    var supportsIDontWant: Bool { self == .meshsub12 }
}
