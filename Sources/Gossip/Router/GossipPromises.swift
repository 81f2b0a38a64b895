import P2PCore

/// IWANT follow-up promises (go-libp2p-pubsub `gossip_tracer.go`): when we answer an IHAVE with
/// an IWANT, one of the requested ids (chosen at random) is tracked; if the advertiser has not
/// delivered it within IWantFollowupTime, the promise is broken and the router adds a P7
/// behaviour penalty per broken promise. A promise is kept when any peer's copy of the message
/// begins validation (or is rejected for a reason other than a bad or missing signature).
struct GossipPromises {
    private var promises: [MessageID: [PeerID: UInt64]] = [:]

    var count: Int { promises.count }

    mutating func add(_ peer: PeerID, ids: [MessageID], expires: UInt64, rng: inout SplitMix64) {
        guard !ids.isEmpty else { return }
        let id = ids[Int(rng.next() % UInt64(ids.count))]
        if promises[id]?[peer] == nil {
            promises[id, default: [:]][peer] = expires
        }
    }

    mutating func fulfill(_ id: MessageID) {
        promises[id] = nil
    }

    /// Removes expired promises and returns how many each peer broke.
    mutating func brokenPromises(now: UInt64) -> [PeerID: Int] {
        var broken: [PeerID: Int] = [:]
        for id in Array(promises.keys) {
            guard var byPeer = promises[id] else { continue }
            for (peer, expires) in byPeer where expires < now {
                broken[peer, default: 0] += 1
                byPeer[peer] = nil
            }
            promises[id] = byPeer.isEmpty ? nil : byPeer
        }
        return broken
    }
}
