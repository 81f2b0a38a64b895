/// Outgoing RPC batching and the per-peer outbound queue bound. Everything one input produces
/// for a peer (forwarded messages, control, gossip, subscriptions) goes out as one RPC — split
/// with `RPCFraming.fragment` if it would exceed the frame limit (go `sendRPC`/`fragmentRPC`).
/// Each RPC handed to the host takes a slot of the peer's queue until `rpcWritten`; when the
/// queue is full (op-node 256) the RPC is dropped with a DROP_RPC trace, and any GRAFT/PRUNE in
/// it is kept and retried with the next RPC or heartbeat, dropping those that went stale
/// (go `doDropRPC`, `pushControl`, `piggybackControl`).
struct Outbox {
    var rpcs: [Int: PBRPC] = [:]
    /// Slots in the order they were first given something, so output order is deterministic.
    var order: [Int] = []
    var actions: [GossipAction] = []

    mutating func discard(_ slot: Int) { rpcs[slot] = nil }
}

extension GossipSubRouter {
    /// Adds to the RPC being built for `slot`. `body` must not touch the router.
    mutating func enqueue(_ slot: Int, _ body: (inout PBRPC) -> Void) {
        if outbox.rpcs[slot] == nil { outbox.order.append(slot) }
        body(&outbox.rpcs[slot, default: PBRPC()])
    }

    /// Sends everything batched by this input and returns the actions, in order.
    mutating func flush() -> [GossipAction] {
        for slot in outbox.order {
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
            send(rpc, to: slot)
        }
        outbox.order.removeAll(keepingCapacity: true)
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

    private mutating func send(_ rpc: PBRPC, to slot: Int) {
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
        for piece in pieces {
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
            outbox.actions.append(.send(id, piece))
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
