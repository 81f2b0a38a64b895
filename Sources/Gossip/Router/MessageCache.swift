import P2PCore

/// The message cache: recently forwarded or published messages, kept for `historyLength`
/// heartbeats to answer IWANT, of which the last `historyGossip` heartbeats are advertised in
/// IHAVE (gossipsub v1.0 spec "Message Cache"; go-libp2p-pubsub `mcache.go`). Also counts how
/// often each peer asked for each message (`GetForPeer`), for the GossipRetransmission limit.
struct MessageCache {
    struct Entry {
        let message: PBMessage
        let topic: String
        var requests: [PeerID: Int] = [:]
    }

    let historyGossip: Int
    private var messages: [MessageID: Entry] = [:]
    /// Windows of (id, topic), newest first; one per heartbeat.
    private var windows: [[(id: MessageID, topic: String)]]

    init(historyGossip: Int, historyLength: Int) {
        self.historyGossip = historyGossip
        self.windows = Array(repeating: [], count: max(1, historyLength))
    }

    var count: Int { messages.count }

    mutating func put(_ id: MessageID, message: PBMessage, topic: String) {
        guard messages[id] == nil else { return }
        messages[id] = Entry(message: message, topic: topic)
        windows[0].append((id, topic))
    }

    func get(_ id: MessageID) -> PBMessage? { messages[id]?.message }

    /// The message and how many times `peer` has now asked for it (this request included).
    mutating func getForPeer(_ id: MessageID, peer: PeerID) -> (message: PBMessage, count: Int)? {
        guard let i = messages.index(forKey: id) else { return nil }
        messages.values[i].requests[peer, default: 0] += 1
        let entry = messages.values[i]
        return (entry.message, entry.requests[peer] ?? 0)
    }

    /// Ids of `topic` in the gossip windows, newest first.
    func gossipIDs(topic: String) -> [MessageID] {
        var out: [MessageID] = []
        for w in windows.prefix(historyGossip) {
            for e in w where e.topic == topic { out.append(e.id) }
        }
        return out
    }

    /// Advances the windows: the oldest window's messages leave the cache.
    mutating func shift() {
        if let last = windows.last {
            for e in last { messages[e.id] = nil }
        }
        windows.removeLast()
        windows.insert([], at: 0)
    }
}
