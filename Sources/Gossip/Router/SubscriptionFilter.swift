/// Which topic subscriptions the router tracks (go-libp2p-pubsub `subscription_filter.go`:
/// `NewAllowlistSubscriptionFilter`, `WrapLimitSubscriptionFilter`, `FilterSubscriptions`).
/// Subscriptions to topics outside the allow-list are ignored; an RPC announcing more than
/// `maxSubscriptionsPerRPC` subscriptions is dropped whole, as go drops it. Our own bound,
/// `maxTopicsPerPeer`, caps what one peer can make us track when there is no allow-list.
public struct SubscriptionFilter: Sendable, Equatable {
    /// nil: any topic.
    public var allowedTopics: Set<String>?
    /// nil: no per-RPC limit.
    public var maxSubscriptionsPerRPC: Int?
    public var maxTopicsPerPeer: Int

    public init(allowedTopics: Set<String>?, maxSubscriptionsPerRPC: Int?, maxTopicsPerPeer: Int = 256) {
        self.allowedTopics = allowedTopics
        self.maxSubscriptionsPerRPC = maxSubscriptionsPerRPC
        self.maxTopicsPerPeer = maxTopicsPerPeer
    }

    /// Any topic (go without `WithSubscriptionFilter`), bounded per peer.
    public static let unrestricted = SubscriptionFilter(allowedTopics: nil, maxSubscriptionsPerRPC: nil)

    /// Only `topics`, at most `maxSubscriptionsPerRPC` subscriptions per RPC.
    public static func allowList(_ topics: Set<String>, maxSubscriptionsPerRPC: Int? = 100) -> SubscriptionFilter {
        SubscriptionFilter(allowedTopics: topics, maxSubscriptionsPerRPC: maxSubscriptionsPerRPC,
                           maxTopicsPerPeer: max(1, topics.count))
    }

    public func canSubscribe(_ topic: String) -> Bool {
        allowedTopics?.contains(topic) ?? true
    }

    /// The accepted (topic, subscribe) changes of one RPC, in order, or nil if the RPC carries too
    /// many. Like go's `FilterSubscriptions`, disallowed topics are dropped, and a topic both
    /// subscribed and unsubscribed in the same RPC cancels out.
    func filter(_ subscriptions: [PBRPC.SubOpts]) -> [(topic: String, subscribe: Bool)]? {
        if let limit = maxSubscriptionsPerRPC, subscriptions.count > limit { return nil }
        var accepted: [(topic: String, subscribe: Bool)] = []
        var index: [String: Int] = [:]
        var cancelled: Set<String> = []
        for sub in subscriptions {
            let topic = sub.topicid
            guard canSubscribe(topic), !cancelled.contains(topic) else { continue }
            if let i = index[topic] {
                if accepted[i].subscribe != sub.subscribe { cancelled.insert(topic) }
            } else {
                index[topic] = accepted.count
                accepted.append((topic, sub.subscribe))
            }
        }
        return cancelled.isEmpty ? accepted : accepted.filter { !cancelled.contains($0.topic) }
    }
}
