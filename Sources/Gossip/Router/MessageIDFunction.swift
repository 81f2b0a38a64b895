import P2PCore

/// How the router derives a message id from a pubsub message (go-libp2p-pubsub `MsgIdFunction`,
/// `WithMessageIdFn`; `DefaultMsgIdFn` = `from ++ seqno`). Content-based functions (op-node's,
/// spec §2.5) are required with StrictNoSign, where messages carry no from/seqno.
public struct MessageIDFunction: Sendable {
    /// Whether the id depends on the message content rather than on from/seqno.
    public let isContentBased: Bool
    private let compute: @Sendable (PBMessage) -> [UInt8]
    private let computeLocal: (@Sendable (PBMessage) -> [UInt8])?
    private let lookup: (@Sendable (PBMessage) -> [UInt8]?)?

    /// `local`, if given, computes the same id for the node's own publishes (a function that
    /// prepares received messages for validation can skip that for them). `known`, if given,
    /// returns the id without hashing when the content was seen recently, else nil.
    public init(contentBased: Bool, _ compute: @escaping @Sendable (PBMessage) -> [UInt8],
                local: (@Sendable (PBMessage) -> [UInt8])? = nil,
                known: (@Sendable (PBMessage) -> [UInt8]?)? = nil) {
        self.isContentBased = contentBased
        self.compute = compute
        self.computeLocal = local
        self.lookup = known
    }

    /// The id when it costs no content hashing: always for from ‖ seqno ids, and for content ids
    /// only through `known`.
    public func cheap(_ message: PBMessage) -> MessageID? {
        guard isContentBased else { return self(message) }
        return lookup?(message).map(MessageID.init)
    }

    public func callAsFunction(_ message: PBMessage) -> MessageID {
        MessageID(compute(message))
    }

    /// The id of a message this node publishes.
    public func local(_ message: PBMessage) -> MessageID {
        MessageID((computeLocal ?? compute)(message))
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
        MessageIDFunction(contentBased: true, { m in OPMessageID.compute(topic: m.topic, data: m.data, cache: cache) },
                          local: { m in OPMessageID.compute(topic: m.topic, data: m.data, cache: cache, forValidation: false) },
                          known: { m in m.data.withUnsafeBytes { cache.knownID(topic: m.topic, data: $0) } })
    }
}
