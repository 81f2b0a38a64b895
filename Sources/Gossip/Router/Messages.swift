import Foundation
import P2PCore

/// Message flow: local publish, receiving (signature policy, dedupe, validation hand-off),
/// validation results, and forwarding to direct, mesh and fanout peers (go-libp2p-pubsub
/// `pubsub.go` `pushMsg`/`checkSigningPolicy`/`publishMessage`, `validation.go` `validate`,
/// `gossipsub.go` `Publish`; flood publishing and fanout per gossipsub v1.1 spec).
extension GossipSubRouter {
    /// [p2pnode] Copies of one message a peer may send us before each further copy adds 1 to its
    /// behaviour penalty (P7): the first delivery plus one race between an IWANT answer and a
    /// mesh forward. gossipsub v1.1 does not score duplicates; this is our extension.
    static let maxCopiesPerPeer = 2

    /// Publishes `data` on `topic` as the local peer. With StrictSign the message carries
    /// from/seqno/signature; with StrictNoSign only data and topic. Locally published messages
    /// are not handed to the application validator. `beginPublish` + `finishPublish` in one
    /// call: the sends, then the id.
    public mutating func publish(topic: String, data: [UInt8], now: UInt64) throws(GossipRouterError) -> [GossipAction] {
        try publish(topic: topic, data: Data(data), now: now)
    }

    /// The same with the data as `Data`, kept as the message's bytes without a copy.
    public mutating func publish(topic: String, data: Data, now: UInt64) throws(GossipRouterError) -> [GossipAction] {
        let (pending, sends) = try beginPublish(topic: topic, data: data, now: now)
        return sends + finishPublish(pending, now: now)
    }

    /// A local message whose copies are on their way but whose id may not be computed yet.
    public struct PendingPublish: Sendable {
        let message: PBMessage
        let topic: String
        /// Known at `beginPublish` when it was cheap (`MessageIDFunction.cheap`).
        let id: MessageID?
        /// Found in the seen cache at `beginPublish`: nothing was sent.
        let duplicate: Bool
        /// Targets that have IDONTWANTs outstanding: they get their copy in `finishPublish`, once
        /// the id shows whether they asked not to.
        let heldBack: [PeerID]
    }

    /// The first half of a local publish: signs (StrictSign), checks the size and sends the copies
    /// to direct, mesh or fanout peers (all topic peers above the publish threshold with flood
    /// publish). The caller performs these sends and then calls `finishPublish`, which computes
    /// the message id: a content id (op-node's hashes the decompressed block, ≈ 85 µs for 100 KB)
    /// is then off the path to the peers, computed after the copies are handed over rather than
    /// before. Nothing is recorded until `finishPublish`, and the router must not be entered in
    /// between.
    ///
    /// Publishing the same content twice inside the seen TTL is a no-op traced as a duplicate (go
    /// does the same) whenever the id is cheap to know first (`MessageIDFunction.cheap`: from ‖
    /// seqno ids, and op-node ids of content seen in the last 64 blocks). [p2pnode] Otherwise —
    /// a content id with no lookup, or content older than that — the copies go out before the
    /// id shows the duplicate; peers drop them as duplicates and nothing is delivered locally.
    public mutating func beginPublish(topic: String, data: Data, now: UInt64) throws(GossipRouterError) -> (PendingPublish, [GossipAction]) {
        var message = PBMessage()
        message.data = data
        message.topic = topic
        if case .strictSign(let key) = signaturePolicy {
            seqno &+= 1
            message.seqno = withUnsafeBytes(of: seqno.bigEndian) { Data($0) }
            try MessageSigning.sign(&message, key: key)
        }
        let size = PBRPC(message: message).encodedSize
        guard size <= parameters.maxMessageSize else {
            throw .messageTooLarge(size: size, limit: parameters.maxMessageSize)
        }
        let known = messageID.cheap(message)
        if let known, seen.contains(known, now: now) {
            let me = localPeer
            trace(.duplicateMessage, .duplicateMessage(id: known, topic: topic, from: me))
            return (PendingPublish(message: message, topic: topic, id: known, duplicate: true, heldBack: []), flush())
        }
        if let known {
            forward(message, id: known, topic: topic, from: nil, now: now)
            return (PendingPublish(message: message, topic: topic, id: known, duplicate: false, heldBack: []), flush())
        }
        // Without the id, a peer that has sent IDONTWANTs (for messages it got elsewhere) might
        // have named this one: its copy waits for `finishPublish`. The others' go now, under
        // `provisionalID`.
        var heldBack: [PeerID] = []
        for slot in forwardTargets(message, topic: topic, from: nil, now: now) {
            guard let peer = peers[slot] else { continue }
            if peer.unwanted.isEmpty {
                enqueueMessage(slot, message, id: Self.provisionalID)
            } else {
                heldBack.append(peer.id)
            }
        }
        return (PendingPublish(message: message, topic: topic, id: nil, duplicate: false, heldBack: heldBack), flush())
    }

    /// The second half of a local publish: the id, the seen cache, the message cache (so IWANTs
    /// are answered), scoring, tracing and local delivery.
    public mutating func finishPublish(_ pending: PendingPublish, now: UInt64) -> [GossipAction] {
        guard !pending.duplicate else { return [] }
        let (message, topic) = (pending.message, pending.topic)
        let id = pending.id ?? messageID.local(message)
        let me = localPeer
        guard seen.insert(id, now: now) else {
            trace(.duplicateMessage, .duplicateMessage(id: id, topic: topic, from: me))
            return flush()
        }
        for peer in pending.heldBack {
            guard let slot = slotOf[peer], peers[slot]?.unwanted[id] == nil else { continue }
            enqueueMessage(slot, message, id: id)
        }
        trace(.publishMessage, .publishMessage(id: id, topic: topic))
        scoring?.validateMessage(id, topic: topic, now: now)
        scoring?.deliverMessage(id, topic: topic, from: localPeer, now: now)
        trace(.deliverMessage, .deliverMessage(id: id, topic: topic, from: me))
        mcache.put(id, message: message, topic: topic)
        if topics[topic]?.mesh != nil {
            outbox.actions.append(.deliver(topic: topic, message: message, from: localPeer, id: id))
        }
        return flush()
    }

    /// The id the copies of a local publish go out under before the real one is known: the
    /// outbox keys its per-input encodings (this input holds only this message) and the host's
    /// late IDONTWANT drop by id. 0xff 'p' 'u' 'b': no id function of ours yields it (content ids
    /// are 20 bytes, from ‖ seqno ids start with a peer id's multihash); a peer that names it
    /// in an IDONTWANT only declines our publishes for itself.
    static let provisionalID = MessageID([0xff, 0x70, 0x75, 0x62])

    /// The application's verdict on a message handed out with `.validate`. Unknown or timed-out
    /// ids are ignored. The actions may hand out queued messages for validation.
    public mutating func deliverValidationResult(_ id: MessageID, outcome: ValidationOutcome, now: UInt64) -> [GossipAction] {
        guard let pending = validation.complete(id) else { return [] }
        finishValidation(id, pending, outcome: outcome, now: now)
        startQueuedValidations(now: now)
        return flush()
    }

    /// One message of an incoming RPC from `slot`.
    mutating func handleMessage(_ message: PBMessage, from slot: Int, now: UInt64) {
        guard let from = peers[slot]?.id else { return }
        let topic = message.topic
        // go: "received message in topic we didn't subscribe to; ignoring message".
        guard topics[topic]?.mesh != nil else { return }
        let id = messageID(message)
        // checkSigningPolicy, before the seen check: structural violations.
        let quick: RejectReason?
        switch signaturePolicy {
        case .strictNoSign: quick = MessageSigning.violation(of: signaturePolicy, by: message)
        case .strictSign: quick = message.hasSignature ? nil : .missingSignature
        }
        if let reason = quick {
            reject(id, topic: topic, from: from, reason: reason, now: now)
            return
        }
        if signaturePolicy.signs && message.from.elementsEqual(localPeer.bytes) {
            reject(id, topic: topic, from: from, reason: .selfOrigin, now: now)
            return
        }
        if seen.contains(id, now: now) {
            trace(.duplicateMessage, .duplicateMessage(id: id, topic: topic, from: from))
            scoring?.duplicateMessage(id, topic: topic, from: from, now: now)
            // [p2pnode] The first copy plus one race (an IWANT answer crossing a mesh forward)
            // are honest; every further copy of the same message from the same peer is a P7.
            if let serial = peers[slot]?.serial, seen.recordCopy(id, from: serial) > Self.maxCopiesPerPeer {
                scoring?.addPenalty(from, 1)
            }
            return
        }
        // Verify the signature after the seen check (it is the expensive part), and only then
        // mark the id seen, so a forged copy cannot shadow the real message.
        if signaturePolicy.signs && !MessageSigning.verify(message) {
            reject(id, topic: topic, from: from, reason: .invalidSignature, now: now)
            return
        }
        // go's validateQ: a message that finds the queue full is dropped before it is marked seen
        // (a later copy can still make it); the sender is not blamed, nor its promise broken.
        guard validation.hasRoom(for: topic) else {
            trace(.rejectMessage, .rejectMessage(id: id, topic: topic, from: from, reason: .validationQueueFull))
            promises.fulfill(id)
            return
        }
        seen.insert(id, now: now, from: peers[slot]?.serial)
        promises.fulfill(id)
        scoring?.validateMessage(id, topic: topic, now: now)
        announceDontWant(id, size: message.data.count, topic: topic, except: slot)
        let pending = ValidationPipeline.Pending(message: message, topic: topic, from: from, started: now)
        if validation.submit(id, pending) {
            outbox.actions.append(.validate(ValidationRequest(id: id, topic: topic, message: message, from: from)))
        }
    }

    /// Hands queued messages to the application as slots free up.
    mutating func startQueuedValidations(now: UInt64) {
        for (id, p) in validation.startQueued(now: now) {
            outbox.actions.append(.validate(ValidationRequest(id: id, topic: p.topic, message: p.message, from: p.from)))
        }
    }

    private mutating func reject(_ id: MessageID, topic: String, from: PeerID, reason: RejectReason, now: UInt64) {
        trace(.rejectMessage, .rejectMessage(id: id, topic: topic, from: from, reason: reason))
        scoring?.rejectMessage(id, topic: topic, from: from, reason: reason, now: now)
        // go gossip_tracer: a bad or missing signature does not keep a promise.
        if reason != .missingSignature && reason != .invalidSignature { promises.fulfill(id) }
    }

    mutating func finishValidation(_ id: MessageID, _ p: ValidationPipeline.Pending, outcome: ValidationOutcome, now: UInt64) {
        switch outcome {
        case .accept:
            trace(.deliverMessage, .deliverMessage(id: id, topic: p.topic, from: p.from))
            scoring?.deliverMessage(id, topic: p.topic, from: p.from, now: now)
            guard topics[p.topic]?.mesh != nil else { return }   // left the topic meanwhile
            mcache.put(id, message: p.message, topic: p.topic)
            forward(p.message, id: id, topic: p.topic, from: p.from, now: now)
            outbox.actions.append(.deliver(topic: p.topic, message: p.message, from: p.from, id: id))
        case .reject:
            trace(.rejectMessage, .rejectMessage(id: id, topic: p.topic, from: p.from, reason: .validationFailed))
            scoring?.rejectMessage(id, topic: p.topic, from: p.from, reason: .validationFailed, now: now)
        case .ignore:
            trace(.rejectMessage, .rejectMessage(id: id, topic: p.topic, from: p.from, reason: .validationIgnored))
            scoring?.rejectMessage(id, topic: p.topic, from: p.from, reason: .validationIgnored, now: now)
        }
    }

    /// go `GossipSubRouter.Publish`: sends a new or validated message to direct peers and the
    /// mesh (or, for our own messages in a topic we have not joined, the fanout), or with flood
    /// publishing our own messages to every topic peer at or above the publish threshold. Never
    /// back to the peer it came from, its author, or a peer that sent IDONTWANT for it.
    mutating func forward(_ message: PBMessage, id: MessageID, topic: String, from: PeerID?, now: UInt64) {
        for slot in forwardTargets(message, topic: topic, from: from, now: now) where peers[slot]?.unwanted[id] == nil {
            enqueueMessage(slot, message, id: id)
        }
    }

    /// The peers a message goes to, before IDONTWANT: direct, mesh (or fanout for a topic we
    /// publish to without joining), every topic peer above the publish threshold for a local
    /// publish with flood publishing; never the peer it came from nor its author.
    mutating func forwardTargets(_ message: PBMessage, topic: String, from: PeerID?, now: UInt64) -> SlotSet {
        guard topics[topic] != nil else { return SlotSet() }
        let local = from == nil
        var targets = SlotSet()
        let subscribers = topics[topic]?.subscribers ?? SlotSet()
        if local && parameters.floodPublish {
            for slot in subscribers where (peers[slot]?.direct ?? false) || score(slot: slot) >= thresholds.publish {
                targets.insert(slot)
            }
        } else {
            for slot in subscribers where peers[slot]?.direct ?? false { targets.insert(slot) }
            if let mesh = topics[topic]?.mesh {
                for slot in mesh { targets.insert(slot) }
            } else if local {
                if topics[topic]?.fanout?.isEmpty ?? true {
                    let chosen = selectPeers(topic, count: parameters.d) { r, slot in
                        !(r.peers[slot]?.direct ?? false) && r.score(slot: slot) >= r.thresholds.publish
                    }
                    topics[topic]?.fanout = SlotSet(chosen)
                }
                topics[topic]?.lastPublish = now
                for slot in topics[topic]?.fanout ?? SlotSet() { targets.insert(slot) }
            }
        }
        if let source = from.flatMap({ slotOf[$0] }) { targets.remove(source) }
        if message.hasFrom, let a = try? PeerID(bytes: [UInt8](message.from)), let author = slotOf[a] { targets.remove(author) }
        return targets
    }
}
