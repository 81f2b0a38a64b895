import P2PCore

/// Topic membership: our JOIN/LEAVE (announce the subscription to every peer, build or tear down
/// the mesh; go `pubsub.go` `announce`, `gossipsub.go` `Join`/`Leave`) and peers' SUBSCRIBE/
/// UNSUBSCRIBE announcements, passed through the subscription filter (go `handleIncomingRPC`).
extension GossipSubRouter {
    /// Subscribes to `topic`: announces it to every peer and grafts up to D peers, starting from
    /// the fanout if we were publishing to it (go `Join`): never direct peers, peers we back off
    /// from, or peers with a negative score.
    public mutating func join(_ topic: String, now: UInt64) throws(GossipRouterError) -> [GossipAction] {
        guard subscriptionFilter.canSubscribe(topic) else { throw .topicNotAllowed(topic) }
        guard topics[topic]?.mesh == nil else { return [] }
        trace(.join, .join(topic: topic))
        for slot in peers.indices where peers[slot] != nil {
            enqueue(slot) { rpc in rpc.subscriptions.append(PBRPC.SubOpts(topic: topic, subscribe: true)) }
        }
        if topics[topic] == nil { topics[topic] = TopicState() }
        var mesh = SlotSet()
        if let fanout = topics[topic]?.fanout {
            for slot in fanout where score(slot: slot) >= 0 { mesh.insert(slot) }
            topics[topic]?.fanout = nil
        }
        if mesh.count < parameters.d {
            let current = mesh
            let more = selectPeers(topic, count: parameters.d - mesh.count) { r, slot in
                guard let p = r.peers[slot] else { return false }
                return !current.contains(slot) && !p.direct && !r.isBackedOff(p.id, topic: topic, now: now)
                    && r.score(slot: slot) >= 0
            }
            for slot in more { mesh.insert(slot) }
        }
        topics[topic]?.mesh = mesh
        for slot in mesh { graft(slot, topic: topic, now: now) }
        return flush()
    }

    /// Unsubscribes from `topic`: announces it and prunes every mesh peer with the unsubscribe
    /// backoff (go `Leave`).
    public mutating func leave(_ topic: String, now: UInt64) -> [GossipAction] {
        guard let mesh = topics[topic]?.mesh else { return [] }
        trace(.leave, .leave(topic: topic))
        for slot in peers.indices where peers[slot] != nil {
            enqueue(slot) { rpc in rpc.subscriptions.append(PBRPC.SubOpts(topic: topic, subscribe: false)) }
        }
        topics[topic]?.mesh = nil
        for slot in mesh {
            prune(slot, topic: topic, now: now, peerExchange: parameters.peerExchange, unsubscribe: true)
        }
        removeTopicIfUnused(topic)
        return flush()
    }

    /// Applies a peer's subscription changes. Returns false when the RPC must be dropped whole
    /// (too many subscriptions for the filter).
    mutating func handleSubscriptions(_ subs: [PBRPC.SubOpts], from slot: Int) -> Bool {
        guard let changes = subscriptionFilter.filter(subs) else { return false }
        for (topic, subscribe) in changes {
            guard let peer = peers[slot] else { return true }
            if subscribe {
                guard !peer.topics.contains(topic) else { continue }
                guard peer.topics.count < subscriptionFilter.maxTopicsPerPeer else { continue }
                if topics[topic] == nil {
                    guard topics.count < parameters.maxTrackedTopics else { continue }
                    topics[topic] = TopicState()
                }
                peers[slot]?.topics.insert(topic)
                topics[topic]?.subscribers.insert(slot)
            } else {
                guard peer.topics.contains(topic) else { continue }
                peers[slot]?.topics.remove(topic)
                topics[topic]?.subscribers.remove(slot)
                topics[topic]?.fanout?.remove(slot)
                if topics[topic]?.mesh?.remove(slot) ?? false {
                    trace(.prune, .prune(peer.id, topic: topic))
                    scoring?.prune(peer.id, topic: topic)
                }
                removeTopicIfUnused(topic)
            }
        }
        return true
    }
}
