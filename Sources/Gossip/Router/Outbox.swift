/// Outgoing RPC batching and the per-peer outbound queue bound. Everything one input produces
/// for a peer (forwarded messages, control, gossip, subscriptions) goes out as one RPC — split
/// with `RPCFraming.fragment` if it would exceed the frame limit (go `sendRPC`/`fragmentRPC`).
/// Each RPC handed to the host takes a slot of the peer's queue until `rpcWritten`; when the
/// queue is full (op-node 256) the RPC is dropped with a DROP_RPC trace, and any GRAFT/PRUNE in
/// it is kept and retried with the next RPC or heartbeat, dropping those that went stale
/// (go `doDropRPC`, `pushControl`, `piggybackControl`).
///
/// Each message is protobuf-encoded once per input however many peers it goes to; the encoding
/// travels with the `.send` actions (a 100 KB block forwarded to D peers is not encoded D times).
struct Outbox {
    var rpcs: [Int: PBRPC] = [:]
    /// The ids of `rpcs[slot].publish`, in order.
    var messageIDs: [Int: [MessageID]] = [:]
    /// Encodings made during this input, by message id.
    var encoded: [MessageID: [UInt8]] = [:]
    /// Slots in the order they were first given something, so output order is deterministic.
    var order: [Int] = []
    var actions: [GossipAction] = []

    mutating func discard(_ slot: Int) {
        rpcs[slot] = nil
        messageIDs[slot] = nil
    }
}

extension GossipSubRouter {
    /// Adds to the RPC being built for `slot`. `body` must not touch the router.
    mutating func enqueue(_ slot: Int, _ body: (inout PBRPC) -> Void) {
        if outbox.rpcs[slot] == nil { outbox.order.append(slot) }
        body(&outbox.rpcs[slot, default: PBRPC()])
    }

    /// Adds a message to the RPC being built for `slot`.
    mutating func enqueueMessage(_ slot: Int, _ message: PBMessage, id: MessageID) {
        enqueue(slot) { rpc in rpc.publish.append(message) }
        outbox.messageIDs[slot, default: []].append(id)
    }

    /// Sends everything batched by this input and returns the actions, in order.
    mutating func flush() -> [GossipAction] {
        for slot in outbox.order {
            let ids = outbox.messageIDs.removeValue(forKey: slot) ?? []
            guard var rpc = outbox.rpcs.removeValue(forKey: slot), let peer = peers[slot] else { continue }
            if let retry = peer.retryControl {
                peers[slot]?.retryControl = nil
                let (grafts, prunes) = freshControl(retry, slot: slot)
                if !grafts.isEmpty || !prunes.isEmpty {
                    rpc.control.graft += grafts
                    rpc.control.prune += prunes
                }
            }
            if rpc.hasControl && rpc.control.isEmpty { rpc.clearControl() }
            guard !rpc.isEmpty else { continue }
            send(rpc, ids: ids, to: slot)
        }
        outbox.order.removeAll(keepingCapacity: true)
        outbox.encoded.removeAll(keepingCapacity: true)
        let actions = outbox.actions
        outbox.actions = []
        return actions
    }

    /// Queues pending GRAFT/PRUNE retries so the heartbeat's flush sends them.
    mutating func scheduleControlRetries() {
        for slot in peers.indices where peers[slot]?.retryControl != nil {
            enqueue(slot) { _ in }
        }
    }

    /// The encoding of message `id`, made on first use in this input.
    private mutating func encoding(of message: PBMessage, id: MessageID) -> [UInt8]? {
        if let e = outbox.encoded[id] { return e }
        guard let e = try? RPCFraming.encodeMessage(message) else { return nil }
        outbox.encoded[id] = e
        return e
    }

    private mutating func send(_ rpc: PBRPC, ids: [MessageID], to slot: Int) {
        guard let id = peers[slot]?.id else { return }
        let pieces: [PBRPC]
        if rpc.encodedSize <= parameters.maxMessageSize {
            pieces = [rpc]
        } else {
            do throws(RPCFramingError) {
                pieces = try RPCFraming.fragment(rpc, limit: parameters.maxMessageSize)
            } catch {
                trace(.dropRPC, .dropRPC(to: id))
                return
            }
        }
        // The messages' encodings, aligned with `rpc.publish` (none if an encoding failed:
        // the host then encodes the RPC whole). Fragments keep the messages in order.
        var encodings: [[UInt8]] = []
        if ids.count == rpc.publish.count {
            encodings.reserveCapacity(ids.count)
            for (m, mid) in zip(rpc.publish, ids) {
                guard let e = encoding(of: m, id: mid) else { encodings = []; break }
                encodings.append(e)
            }
        }
        var offset = 0
        for piece in pieces {
            let n = piece.publish.count
            let aligned = encodings.count == rpc.publish.count && offset + n <= encodings.count
            let encoded = aligned ? Array(encodings[offset..<(offset + n)]) : []
            let pieceIDs = ids.count == rpc.publish.count && offset + n <= ids.count ? Array(ids[offset..<(offset + n)]) : []
            offset += n
            guard let queued = peers[slot]?.queued else { return }
            if queued >= parameters.outboundQueueSize {
                trace(.dropRPC, .dropRPC(to: id))
                if piece.hasControl && (!piece.control.graft.isEmpty || !piece.control.prune.isEmpty) {
                    var retry = peers[slot]?.retryControl ?? PBControlMessage()
                    retry.graft += piece.control.graft
                    retry.prune += piece.control.prune
                    peers[slot]?.retryControl = retry
                }
                continue
            }
            peers[slot]?.queued = queued + 1
            outbox.actions.append(.send(id, piece, encodedMessages: encoded, messageIDs: pieceIDs))
            trace(.sendRPC, .sendRPC(to: id))
        }
    }

    /// The GRAFTs still true (peer in our mesh) and PRUNEs still true (peer not in our mesh).
    private func freshControl(_ c: PBControlMessage, slot: Int) -> ([PBControlGraft], [PBControlPrune]) {
        let grafts = c.graft.filter { topics[$0.topicID]?.mesh?.contains(slot) ?? false }
        let prunes = c.prune.filter { !(topics[$0.topicID]?.mesh?.contains(slot) ?? false) }
        return (grafts, prunes)
    }
}
