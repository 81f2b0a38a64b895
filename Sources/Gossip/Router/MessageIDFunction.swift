import P2PCore

/// How the router derives a message id from a pubsub message (go-libp2p-pubsub `MsgIdFunction`,
/// `WithMessageIdFn`; `DefaultMsgIdFn` = `from ++ seqno`). Content-based functions (op-node's,
/// spec §2.5) are required with StrictNoSign, where messages carry no from/seqno.
public struct MessageIDFunction: Sendable {
    /// Whether the id depends on the message content rather than on from/seqno.
    public let isContentBased: Bool
    private let compute: @Sendable (PBMessage) -> [UInt8]

    public init(contentBased: Bool, _ compute: @escaping @Sendable (PBMessage) -> [UInt8]) {
        self.isContentBased = contentBased
        self.compute = compute
    }

    public func callAsFunction(_ message: PBMessage) -> MessageID {
        MessageID(compute(message))
    }

    /// go `DefaultMsgIdFn`: the `from` bytes followed by the `seqno` bytes.
    public static let fromAndSeqno = MessageIDFunction(contentBased: false) { m in
        var id = [UInt8]()
        id.reserveCapacity(m.from.count + m.seqno.count)
        id.append(contentsOf: m.from)
        id.append(contentsOf: m.seqno)
        return id
    }

    /// op-node's id (spec §2.5, `OPMessageID`): sha256 over a snappy-validity domain, the topic
    /// and the (decompressed) data, first 20 bytes.
    public static let opStack = MessageIDFunction(contentBased: true) { m in
        m.data.withUnsafeBytes { OPMessageID.compute(topic: m.topic, data: $0) }
    }

    /// op-node's id, leaving what it computed on the way in `cache` for the node's block
    /// validator (decompressed bytes, the payload hash started on another core) and finding
    /// copies of recent messages by content (`PreparedBlockCache`).
    public static func opStack(preparingIn cache: PreparedBlockCache) -> MessageIDFunction {
        MessageIDFunction(contentBased: true) { m in OPMessageID.compute(topic: m.topic, data: m.data, cache: cache) }
    }
}
