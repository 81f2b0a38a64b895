import Foundation
import P2PCore

/// Mesh membership: GRAFT and PRUNE, sent and received, with backoff and its penalties
/// (gossipsub v1.1 spec "Prune Backoff and Peer Exchange", "Explicit Peering Agreements",
/// "Outbound Mesh Quotas"; go-libp2p-pubsub `gossipsub.go` `handleGraft`, `handlePrune`,
/// `makePrune`, `addBackoff`).
extension GossipSubRouter {
    /// We added `slot` to the mesh of `topic`: trace, score and send GRAFT.
    mutating func graft(_ slot: Int, topic: String, now: UInt64) {
        guard let id = peers[slot]?.id else { return }
        trace(.graft, .graft(id, topic: topic))
        scoring?.graft(id, topic: topic, now: now)
        var g = PBControlGraft()
        g.topicID = topic
        enqueue(slot) { rpc in rpc.control.graft.append(g) }
    }

    /// Removes `slot` from the mesh of `topic` (if there), backs off from it, and sends PRUNE.
    mutating func prune(_ slot: Int, topic: String, now: UInt64, peerExchange: Bool, unsubscribe: Bool) {
        guard let id = peers[slot]?.id else { return }
        topics[topic]?.mesh?.remove(slot)
        trace(.prune, .prune(id, topic: topic))
        scoring?.prune(id, topic: topic)
        addBackoff(id, topic: topic, now: now, unsubscribe: unsubscribe)
        let p = makePrune(slot: slot, topic: topic, peerExchange: peerExchange, unsubscribe: unsubscribe)
        enqueue(slot) { rpc in rpc.control.prune.append(p) }
    }

    mutating func addBackoff(_ peer: PeerID, topic: String, now: UInt64, unsubscribe: Bool = false) {
        backoff.add(peer, topic: topic, until: now &+ (unsubscribe ? unsubscribeBackoffNs : pruneBackoffNs))
    }

    /// go `makePrune`: v1.0 peers get only the topic; v1.1+ peers get our backoff in seconds and,
    /// with peer exchange, up to PrunePeers other non-negative topic peers (ids only: we keep no
    /// signed peer records).
    mutating func makePrune(slot: Int, topic: String, peerExchange: Bool, unsubscribe: Bool) -> PBControlPrune {
        var p = PBControlPrune()
        p.topicID = topic
        guard let peer = peers[slot], peer.proto.supportsBackoff else { return p }
        p.backoff = UInt64((unsubscribe ? parameters.unsubscribeBackoff : parameters.pruneBackoff).components.seconds)
        if peerExchange {
            let others = selectPeers(topic, count: parameters.prunePeers) { r, s in s != slot && r.score(slot: s) >= 0 }
            p.peers = others.compactMap { s in
                guard let id = peers[s]?.id else { return nil }
                var info = PBPeerInfo()
                info.peerID = Data(id.bytes)
                return info
            }
        }
        return p
    }

    /// go `handleGraft`. Returns the PRUNEs to answer with.
    mutating func handleGraft(_ grafts: [PBControlGraft], from slot: Int, now: UInt64) -> [PBControlPrune] {
        guard let peer = peers[slot] else { return [] }
        var pruneTopics: [String] = []
        var peerExchange = parameters.peerExchange
        let score = score(slot: slot)
        for g in grafts {
            let topic = g.topicID
            guard let mesh = topics[topic]?.mesh else {
                // Spam hardening: ignore GRAFTs for topics we are not in; no PX (don't leak peers).
                peerExchange = false
                continue
            }
            if mesh.contains(slot) { continue }
            if peer.direct {
                // Direct peers are never grafted; likely a non-reciprocal configuration.
                pruneTopics.append(topic)
                peerExchange = false
                continue
            }
            if let expires = backoff.expiry(peer.id, topic: topic), now < expires {
                // GRAFT during backoff: P7, and another if it comes within GraftFloodThreshold
                // of our PRUNE (expiry − PruneBackoff + GraftFloodThreshold).
                scoring?.addPenalty(peer.id, 1)
                peerExchange = false
                let (base, under) = expires.subtractingReportingOverflow(pruneBackoffNs)
                let floodCutoff = under ? graftFloodThresholdNs : base &+ graftFloodThresholdNs
                if now < floodCutoff { scoring?.addPenalty(peer.id, 1) }
                addBackoff(peer.id, topic: topic, now: now)
                pruneTopics.append(topic)
                continue
            }
            if score < 0 {
                // Negative score: PRUNE (protocol correctness), back off, no PX.
                pruneTopics.append(topic)
                peerExchange = false
                addBackoff(peer.id, topic: topic, now: now)
                continue
            }
            if mesh.count >= parameters.dhi && !peer.outbound {
                // At Dhi only outbound peers may graft (mesh takeover defence).
                pruneTopics.append(topic)
                addBackoff(peer.id, topic: topic, now: now)
                continue
            }
            topics[topic]?.mesh?.insert(slot)
            trace(.graft, .graft(peer.id, topic: topic))
            scoring?.graft(peer.id, topic: topic, now: now)
        }
        return pruneTopics.map { makePrune(slot: slot, topic: $0, peerExchange: peerExchange, unsubscribe: false) }
    }

    /// go `handlePrune`: leave the mesh, honour the peer's backoff (ours if it gave none), and
    /// follow peer exchange only if enabled and the peer's score reaches acceptPX.
    mutating func handlePrune(_ prunes: [PBControlPrune], from slot: Int, now: UInt64) {
        guard let peer = peers[slot] else { return }
        let score = score(slot: slot)
        for p in prunes {
            let topic = p.topicID
            guard topics[topic]?.mesh != nil else { continue }
            if topics[topic]?.mesh?.remove(slot) ?? false {
                trace(.prune, .prune(peer.id, topic: topic))
                scoring?.prune(peer.id, topic: topic)
            }
            if p.backoff > 0 {
                // Bound what a peer can make us compute with: at most a day.
                let seconds = min(p.backoff, 86_400)
                backoff.add(peer.id, topic: topic, until: now &+ seconds * 1_000_000_000)
            } else {
                addBackoff(peer.id, topic: topic, now: now)
            }
            guard parameters.peerExchange, !p.peers.isEmpty, score >= thresholds.acceptPX else { continue }
            var candidates = p.peers.compactMap { try? PeerID(bytes: [UInt8]($0.peerID)) }
                .filter { slotOf[$0] == nil && $0 != localPeer }
            if candidates.count > parameters.prunePeers {
                shuffle(&candidates)
                candidates.removeLast(candidates.count - parameters.prunePeers)
            }
            if !candidates.isEmpty { outbox.actions.append(.peerExchange(topic: topic, peers: candidates)) }
        }
    }
}
