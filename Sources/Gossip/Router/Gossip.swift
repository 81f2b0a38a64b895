import Foundation
import P2PCore

/// Lazy push: IHAVE emission at the heartbeat, IHAVE → IWANT with flood protection and
/// follow-up promises, IWANT answers with the retransmission limit (gossipsub v1.0 spec
/// "Control Messages", v1.1 "Spam Protection Measures"; go-libp2p-pubsub `gossipsub.go`
/// `emitGossip`, `handleIHave`, `handleIWant`), and v1.2 IDONTWANT (`gossipsub-v1.2.md`;
/// go `PreValidation`, `handleIDontWant`).
extension GossipSubRouter {
    /// Advertises the gossip window of `topic` to max(Dlazy, GossipFactor × eligible) random
    /// topic peers outside `exclude` (mesh or fanout), not direct, and at or above the gossip
    /// threshold; each IHAVE carries at most MaxIHaveLength ids (a random subset per peer).
    mutating func emitGossip(_ topic: String, exclude: SlotSet) {
        var ids = mcache.gossipIDs(topic: topic)
        guard !ids.isEmpty else { return }
        let eligible = selectPeers(topic, count: nil) { r, slot in
            guard let p = r.peers[slot] else { return false }
            return !exclude.contains(slot) && !p.direct && r.score(slot: slot) >= r.thresholds.gossip
        }
        let target = min(eligible.count, max(parameters.dlazy, Int(parameters.gossipFactor * Double(eligible.count))))
        for slot in eligible.prefix(target) {
            var ihave = PBControlIHave()
            ihave.topicID = topic
            if ids.count > parameters.maxIHaveLength {
                shuffle(&ids)
                ihave.messageIds = ids.prefix(parameters.maxIHaveLength).map { Data($0.bytes) }
            } else {
                ihave.messageIds = ids.map { Data($0.bytes) }
            }
            enqueue(slot) { rpc in rpc.control.ihave.append(ihave) }
        }
    }

    /// go `handleIHave`: ignore peers below the gossip threshold, more than MaxIHaveMessages
    /// IHAVE RPCs per heartbeat, topics we are not in, ids past MaxIHaveLength in one IHAVE, and
    /// ids already seen; ask for at most MaxIHaveLength ids per peer per heartbeat, in random
    /// order, and promise-track one of them.
    mutating func handleIHave(_ ihaves: [PBControlIHave], from slot: Int, now: UInt64) -> [Data] {
        guard let peer = peers[slot] else { return [] }
        guard score(slot: slot) >= thresholds.gossip else { return [] }
        peers[slot]?.ihaveRPCs += 1
        guard peer.ihaveRPCs + 1 <= parameters.maxIHaveMessages else { return [] }
        guard peer.iasked < parameters.maxIHaveLength else { return [] }
        var wanted: [MessageID] = []
        var chosen: Set<MessageID> = []
        for ihave in ihaves {
            guard topics[ihave.topicID]?.mesh != nil else { continue }
            for raw in ihave.messageIds.prefix(parameters.maxIHaveLength) {
                let id = MessageID([UInt8](raw))
                if seen.contains(id, now: now) || chosen.contains(id) { continue }
                chosen.insert(id)
                wanted.append(id)
            }
        }
        guard !wanted.isEmpty else { return [] }
        let ask = min(wanted.count, parameters.maxIHaveLength - peer.iasked)
        shuffle(&wanted)
        wanted.removeLast(wanted.count - ask)
        peers[slot]?.iasked += ask
        promises.add(peer.id, ids: wanted, expires: now &+ iwantFollowupNs, rng: &rng)
        return wanted.map { Data($0.bytes) }
    }

    /// go `handleIWant`: answer from the message cache, except peers below the gossip
    /// threshold, ids the peer said it does not want, and ids it asked for more than
    /// GossipRetransmission times. [p2pnode] Each request beyond GossipRetransmission also adds
    /// 1 to the peer's behaviour penalty (P7), counted below the gossip threshold too (where
    /// nothing is answered), so IWANT spam ends below the graylist threshold; go only declines.
    mutating func handleIWant(_ iwants: [PBControlIWant], from slot: Int) -> [(MessageID, PBMessage)] {
        guard let peer = peers[slot] else { return [] }
        let answering = score(slot: slot) >= thresholds.gossip
        var out: [(MessageID, PBMessage)] = []
        var sent: Set<MessageID> = []
        var excess = 0
        for iwant in iwants {
            for raw in iwant.messageIds {
                let id = MessageID([UInt8](raw))
                guard !sent.contains(id), peer.unwanted[id] == nil else { continue }
                guard let (message, count) = mcache.getForPeer(id, peer: peer.id) else { continue }
                guard count <= parameters.gossipRetransmission else {
                    excess += 1
                    continue
                }
                sent.insert(id)
                guard answering else { continue }
                out.append((id, message))
            }
        }
        if excess > 0 { scoring?.addPenalty(peer.id, excess) }
        return out
    }

    /// go `handleIDontWant`: from at most MaxIDontWantMessages IDONTWANT-carrying RPCs per
    /// peer per heartbeat, remember the first MaxIDontWantLength ids of each, for
    /// IDontWantMessageTTL heartbeats. [p2pnode] Also bounded: ids longer than
    /// `maxMessageIDLength` are ignored, and at most `maxUnwantedIDs` are held per peer (the
    /// rest are ignored until some expire).
    mutating func handleIDontWant(_ idontwants: [PBControlIDontWant], from slot: Int) {
        guard let rpcs = peers[slot]?.idontwantRPCs, rpcs < parameters.maxIDontWantMessages else { return }
        peers[slot]?.idontwantRPCs = rpcs + 1
        // In place (`peers[slot]?.unwanted[…]`): a copy of the peer would make the dictionary's
        // first write copy all of it, once per IDONTWANT RPC.
        var taken = 0
        outer: for d in idontwants {
            for raw in d.messageIds {
                guard taken < parameters.maxIDontWantLength else { break outer }
                taken += 1
                guard raw.count <= Self.maxMessageIDLength else { continue }
                let id = MessageID([UInt8](raw))
                guard let held = peers[slot]?.unwanted.count,
                      held < Self.maxUnwantedIDs || peers[slot]?.unwanted[id] != nil else { break outer }
                peers[slot]?.unwanted[id] = parameters.idontwantMessageTTL
            }
        }
    }

    /// go `PreValidation`: a first-seen message of at least IDontWantMessageThreshold bytes is
    /// announced with IDONTWANT to our v1.2 mesh peers other than its sender.
    mutating func announceDontWant(_ id: MessageID, size: Int, topic: String, except source: Int) {
        guard size >= parameters.idontwantMessageThreshold, let mesh = topics[topic]?.mesh else { return }
        for slot in mesh where slot != source && (peers[slot]?.proto.supportsIDontWant ?? false) {
            var d = PBControlIDontWant()
            d.messageIds = [Data(id.bytes)]
            enqueue(slot) { rpc in rpc.control.idontwant.append(d) }
        }
    }
}
