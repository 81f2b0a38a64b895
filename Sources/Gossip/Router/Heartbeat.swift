import P2PCore

/// The heartbeat (gossipsub v1.0/v1.1 specs "Heartbeat"; go-libp2p-pubsub `gossipsub.go`
/// `heartbeat`), run by the host every HeartbeatInterval: validation timeouts, backoff
/// expiry, per-heartbeat flood counters, IWANT promise penalties, score decay, seen-cache expiry,
/// mesh maintenance (negative-score prune, fill to D below Dlo, score/outbound-aware trim to D
/// above Dhi, Dout quota, opportunistic grafting), fanout expiry and upkeep, gossip emission,
/// GRAFT/PRUNE retries, and the message-cache shift.
extension GossipSubRouter {
    public mutating func heartbeat(now: UInt64) -> [GossipAction] {
        heartbeatTicks &+= 1
        for id in validation.expired(now: now) {
            if let p = validation.complete(id) { finishValidation(id, p, outcome: .ignore, now: now) }
        }
        startQueuedValidations(now: now)
        // go clears backoffs every 15 ticks, with 2 heartbeats of slack.
        if heartbeatTicks % 15 == 0 { backoff.clear(now: now, slack: 2 &* heartbeatNs) }
        for slot in peers.indices {
            guard var p = peers[slot] else { continue }
            p.ihaveRPCs = 0
            p.iasked = 0
            p.idontwantRPCs = 0
            if !p.unwanted.isEmpty {
                p.unwanted = p.unwanted.compactMapValues { $0 > 1 ? $0 - 1 : nil }
            }
            peers[slot] = p
        }
        for (peer, broken) in promises.brokenPromises(now: now) { scoring?.addPenalty(peer, broken) }
        decayScores(now: now)
        seen.sweep(now: now)

        for topic in topics.keys.sorted() where topics[topic]?.mesh != nil {
            maintainMesh(topic, now: now)
        }
        for topic in topics.keys.sorted() where topics[topic]?.fanout != nil {
            maintainFanout(topic, now: now)
        }
        scheduleControlRetries()
        mcache.shift()
        return flush()
    }

    /// Score decay once per DecayInterval (go runs it on its own ticker), catching up a few
    /// intervals if heartbeats were late.
    private mutating func decayScores(now: UInt64) {
        guard let interval = scoring?.decayInterval, interval > 0 else { return }
        guard var next = nextDecay else {
            nextDecay = now &+ interval
            return
        }
        var rounds = 0
        while next <= now && rounds < 8 {
            scoring?.refresh(now: now)
            next &+= interval
            rounds += 1
        }
        if next <= now { next = now &+ interval }
        nextDecay = next
        scoring?.collectGarbage(now: now)
    }

    private mutating func maintainMesh(_ topic: String, now: UInt64) {
        let px = parameters.peerExchange
        // Negative score: prune without PX.
        for slot in topics[topic]?.mesh ?? SlotSet() where score(slot: slot) < 0 {
            prune(slot, topic: topic, now: now, peerExchange: false, unsubscribe: false)
        }
        // Too few: graft up to D.
        var mesh = topics[topic]?.mesh ?? SlotSet()
        if mesh.count < parameters.dlo {
            let current = mesh
            let chosen = selectPeers(topic, count: parameters.d - mesh.count) { r, slot in
                guard let p = r.peers[slot] else { return false }
                return !current.contains(slot) && !r.backoff.contains(p.id, topic: topic) && !p.direct
                    && r.score(slot: slot) >= 0
            }
            for slot in chosen {
                topics[topic]?.mesh?.insert(slot)
                graft(slot, topic: topic, now: now)
            }
        }
        // Too many: keep the Dscore best, the rest of D at random, with Dout outbound peers.
        mesh = topics[topic]?.mesh ?? SlotSet()
        if mesh.count > parameters.dhi {
            var list = Array(mesh)
            shuffle(&list)
            var scores: [Int: Double] = [:]
            for slot in list { scores[slot] = score(slot: slot) }
            list.sort { (scores[$0] ?? 0) > (scores[$1] ?? 0) }
            var rest = Array(list[parameters.dscore...])
            shuffle(&rest)
            list.replaceSubrange(parameters.dscore..., with: rest)
            let snapshot = peers
            let isOutbound = { (slot: Int) -> Bool in snapshot[slot]?.outbound ?? false }
            var outbound = list.prefix(parameters.d).filter(isOutbound).count
            if outbound < parameters.dout {
                func rotate(_ i: Int) {
                    let p = list[i]
                    for j in stride(from: i, to: 0, by: -1) { list[j] = list[j - 1] }
                    list[0] = p
                }
                if outbound > 0 {
                    var have = outbound
                    var i = 1
                    while i < parameters.d && have > 0 {
                        if isOutbound(list[i]) { rotate(i); have -= 1 }
                        i += 1
                    }
                }
                var need = parameters.dout - outbound
                var i = parameters.d
                while i < list.count && need > 0 {
                    if isOutbound(list[i]) { rotate(i); need -= 1; outbound += 1 }
                    i += 1
                }
            }
            for slot in list[parameters.d...] {
                prune(slot, topic: topic, now: now, peerExchange: px, unsubscribe: false)
            }
        }
        // Outbound quota: with at least Dlo peers, make sure Dout of them are outbound.
        mesh = topics[topic]?.mesh ?? SlotSet()
        if mesh.count >= parameters.dlo {
            let outbound = mesh.filter { peers[$0]?.outbound ?? false }.count
            if outbound < parameters.dout {
                let current = mesh
                let chosen = selectPeers(topic, count: parameters.dout - outbound) { r, slot in
                    guard let p = r.peers[slot] else { return false }
                    return !current.contains(slot) && !r.backoff.contains(p.id, topic: topic) && !p.direct
                        && p.outbound && r.score(slot: slot) >= 0
                }
                for slot in chosen {
                    topics[topic]?.mesh?.insert(slot)
                    graft(slot, topic: topic, now: now)
                }
            }
        }
        // Opportunistic grafting: if the median mesh score is below the threshold, graft a few
        // peers scoring above the median.
        mesh = topics[topic]?.mesh ?? SlotSet()
        if heartbeatTicks % UInt64(parameters.opportunisticGraftTicks) == 0 && mesh.count > 1 {
            var scores = mesh.map { score(slot: $0) }
            scores.sort()
            let median = scores[scores.count / 2]
            if median < thresholds.opportunisticGraft {
                let current = mesh
                let chosen = selectPeers(topic, count: parameters.opportunisticGraftPeers) { r, slot in
                    guard let p = r.peers[slot] else { return false }
                    return !current.contains(slot) && !r.backoff.contains(p.id, topic: topic) && !p.direct
                        && r.score(slot: slot) > median
                }
                for slot in chosen {
                    topics[topic]?.mesh?.insert(slot)
                    graft(slot, topic: topic, now: now)
                }
            }
        }
        emitGossip(topic, exclude: topics[topic]?.mesh ?? SlotSet())
    }

    private mutating func maintainFanout(_ topic: String, now: UInt64) {
        guard let t = topics[topic], let fanout = t.fanout else { return }
        if t.lastPublish &+ fanoutTTLNs < now {
            topics[topic]?.fanout = nil
            removeTopicIfUnused(topic)
            return
        }
        var kept = SlotSet()
        for slot in fanout where t.subscribers.contains(slot) && score(slot: slot) >= thresholds.publish {
            kept.insert(slot)
        }
        if kept.count < parameters.d {
            let current = kept
            let more = selectPeers(topic, count: parameters.d - kept.count) { r, slot in
                !current.contains(slot) && !(r.peers[slot]?.direct ?? false) && r.score(slot: slot) >= r.thresholds.publish
            }
            for slot in more { kept.insert(slot) }
        }
        topics[topic]?.fanout = kept
        emitGossip(topic, exclude: kept)
    }
}
