/// Errors of the gossipsub router's local commands (join, publish); remote input never throws,
/// it is rejected, penalised or ignored as go-libp2p-pubsub does.
public enum GossipRouterError: Error, Equatable, CustomStringConvertible {
    /// The subscription filter does not allow this topic.
    case topicNotAllowed(String)
    /// The message would not fit in one RPC frame.
    case messageTooLarge(size: Int, limit: Int)
    /// A protobuf message could not be serialized.
    case encodingFailed(String)

    public var description: String {
        switch self {
        case .topicNotAllowed(let t): return "topic \(t) is not allowed by the subscription filter"
        case .messageTooLarge(let size, let limit): return "message of \(size) bytes exceeds the RPC limit of \(limit) bytes"
        case .encodingFailed(let why): return "protobuf encoding failed: \(why)"
        }
    }
}
