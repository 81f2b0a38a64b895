import Dispatch
import Foundation
import Logging
import P2PCore

/// Runs the sans-IO `GossipSubRouter` on a libp2p host: one outbound pubsub stream per peer for
/// our RPCs (as go-libp2p-pubsub), inbound streams decoded into RPCs, the heartbeat timer, the
/// validation hand-off to a worker pool, local subscribers and trace counters. Protocols in
/// order of preference: /meshsub/1.2.0 (IDONTWANT), /meshsub/1.1.0, /meshsub/1.0.0; the one
/// negotiated on our outbound stream is the peer's version in the router.
///
/// Router state is confined to `queue`; `@unchecked Sendable` is safe because every entry point
/// hops there. Validators run on a concurrent queue or, when nothing else is being validated, on
/// the router's thread (`validatorPlacement`); the router bounds how many are in flight.
public final class GossipService: @unchecked Sendable {
    /// A topic validator: may be called concurrently, on a pool or on the router's queue
    /// (`validatorPlacement`), so it must not wait for the service (`inspect`, `publish`…).
    public typealias Validator = @Sendable (ValidationRequest) -> ValidationOutcome
    public typealias Subscriber = @Sendable (_ topic: String, _ message: PBMessage, _ from: PeerID, _ id: MessageID) -> Void

    /// Where validators run.
    public enum ValidatorPlacement: Sendable, Equatable {
        /// Always on a concurrent pool: the router never waits for a validator.
        case pool
        /// Always on the router's thread, after the sends decided with the validation request
        /// (IDONTWANTs go out first). For single-core machines, where a pool adds hand-offs and
        /// no parallelism.
        case routerThread
        /// On the router's thread when nothing else is being validated — none of this service's
        /// validations on the pool — a core is free of block validation in the process
        /// (`ValidationCores`) and the message is at most 1 MiB, else on the pool. The default:
        /// a block arriving on an idle node is validated without the two thread hand-offs of
        /// the pool (there and back), which cost ≈ 0.2 ms of one-hop latency when blocks arrive
        /// seconds apart (BENCHMARKS.md); under load validations still run in parallel.
        case automatic
    }

    public let host: P2PHost
    public let queue = DispatchQueue(label: "p2pnode.gossip")
    /// Where the next validations run (may be changed at any time; not from a validator).
    public var validatorPlacement: ValidatorPlacement {
        get { queue.sync { placement } }
        set { queue.sync { placement = newValue } }
    }
    private var placement = ValidatorPlacement.automatic
    public var logger = Logger(label: "p2pnode.gossip")
    public let protocols: [GossipSubProtocol]

    private var router: GossipSubRouter
    private let maxRPCSize: Int
    private let validationQueue = DispatchQueue(label: "p2pnode.gossip.validate", attributes: .concurrent)
    private let heartbeat: QueueTimer
    private var validators: [String: Validator] = [:]
    private var subscribers: [Subscriber] = []
    private var outbound: [PeerID: OutboundStream] = [:]
    /// RPCs a peer sent on its stream before ours to it was negotiated (the router only knows the
    /// peer from `addPeer` on); applied right after `addPeer`. Bounded per peer.
    private var early: [PeerID: [PBRPC]] = [:]
    private static let maxEarlyRPCs = 64
    private let traceCounts = Locked<[String: Int]>([:])
    /// RPCs written to each peer's stream that the router has not been told about (`route`).
    private let written = Locked<[PeerID: Int]>([:])
    /// IDONTWANT-only RPCs waiting for the router's next entry (`settle`), bounded.
    private let deferred = Locked<[(peer: PeerID, rpc: PBRPC)]>([])
    static let maxDeferredRPCs = 4096
    /// Ids each peer recently said it does not want, kept for the last-moment check in `write`
    /// (the router keeps the authoritative set); only the ids the router honours are kept.
    private let unwantedByPeer = Locked<[PeerID: RecentIDs]>([:])
    private let droppedUnwanted = Locked(0)
    static let recentUnwantedPerPeer = 256
    private let idontwantIDsPerRPC: Int
    /// Validations handed to the pool whose results have not come back (router queue only).
    private var poolValidations = 0
    /// Validations to run on the router's thread (`runValidationsHere`; router queue only).
    /// Bounded by the router's validation concurrency.
    private var validationsHere: [(ValidationRequest, Validator)] = []
    private var drainingValidations = false
    /// The last large write of the batch being applied, run from this thread when it ends.
    private var heldWrite: (peer: PeerID, queue: DispatchQueue, body: @Sendable () -> Void)?
    private let placements = Locked((routerThread: 0, pool: 0))
    /// RPCs up to this size are written from the router's thread (`write`).
    static let inlineWriteLimit = 4096
    /// The yamux receive window of inbound pubsub streams.
    static let receiveWindow = 4 * 1024 * 1024
    private var started = false

    /// An RPC to write with its messages' shared encodings (`GossipAction.send`).
    private typealias PendingRPC = (rpc: PBRPC, encodedMessages: [[UInt8]], messageIDs: [MessageID])

    private enum OutboundStream {
        case opening([PendingRPC])
        case open(P2PStream)
    }

    public init(host: P2PHost, configuration: GossipSubConfiguration,
                protocols: [GossipSubProtocol] = [.meshsub12, .meshsub11, .meshsub10]) throws(GossipConfigError) {
        self.host = host
        self.router = try GossipSubRouter(configuration: configuration)
        self.maxRPCSize = configuration.parameters.maxMessageSize
        self.idontwantIDsPerRPC = configuration.parameters.maxIDontWantLength
        self.protocols = protocols
        self.heartbeat = QueueTimer(queue: queue)
    }

    private var now: UInt64 { DispatchTime.now().uptimeNanoseconds }

    /// Registers the pubsub protocols on the host and starts the heartbeat.
    public func start() {
        queue.sync {
            guard !started else { return }
            started = true
            let params = router.parameters
            heartbeat.schedule(after: params.heartbeatInitialDelay, repeating: params.heartbeatInterval) { [weak self] in
                guard let self else { return }
                self.route { $0.heartbeat(now: self.now) }
            }
        }
        for p in protocols {
            host.setStreamHandler(p.rawValue) { [weak self] stream in self?.inbound(stream) }
        }
        host.observe { [weak self] event in
            guard let self else { return }
            switch event {
            case .identified(let peer, let info):
                if self.protocols.contains(where: { info.protocols.contains($0.rawValue) }) {
                    self.queue.async { self.openOutbound(to: peer) }
                }
            case .disconnected(let peer, _):
                self.queue.async {
                    self.outbound[peer] = nil
                    self.early[peer] = nil
                    self.unwantedByPeer.withLock { _ = $0.removeValue(forKey: peer) }
                    self.route { $0.removePeer(peer, now: self.now) }
                }
            case .connected:
                break
            }
        }
    }

    public func stop() {
        queue.sync { heartbeat.cancel() }
    }

    // MARK: API

    public func join(_ topic: String) throws(GossipRouterError) {
        let r: Result<Void, GossipRouterError> = queue.sync {
            do throws(GossipRouterError) {
                settle()
                apply(try router.join(topic, now: now))
                return .success(())
            } catch { return .failure(error) }
        }
        try r.get()
    }

    public func leave(_ topic: String) {
        queue.async { self.route { $0.leave(topic, now: self.now) } }
    }

    public func publish(topic: String, data: [UInt8]) throws(GossipRouterError) {
        try publish(topic: topic, data: Data(data))
    }

    /// The same with the data as `Data`: the message keeps it without a copy. The copies are
    /// handed to the connections (the last one written from this thread, `runHeldWrite`) before
    /// the message id is computed (`beginPublish`): a content id (op-node's hashes the whole
    /// decompressed block) is then off the path to the peers.
    public func publish(topic: String, data: Data) throws(GossipRouterError) {
        let r: Result<Void, GossipRouterError> = queue.sync {
            do throws(GossipRouterError) {
                settle()
                let (pending, sends) = try router.beginPublish(topic: topic, data: data, now: now)
                // Sends and traces only; no validation is kept here to run (each outermost
                // apply, settle's included, drains its own), so the router is not entered
                // between the two halves.
                apply(sends)
                apply(router.finishPublish(pending, now: now))
                return .success(())
            } catch { return .failure(error) }
        }
        try r.get()
    }

    public func setValidator(_ topic: String, _ validator: @escaping Validator) {
        queue.sync { validators[topic] = validator }
    }

    /// Receives every delivered message (validated ones from peers, and our own publishes).
    public func subscribe(_ subscriber: @escaping Subscriber) {
        queue.sync { subscribers.append(subscriber) }
    }

    public func setApplicationScore(_ peer: PeerID, _ value: Double) {
        queue.async { self.router.setApplicationScore(peer, value) }
    }

    /// Runs `body` with the router on its queue (for RPC handlers and metrics).
    public func inspect<R>(_ body: (GossipSubRouter) -> R) -> R { queue.sync { body(router) } }

    /// Trace events counted by type name (`PUBLISH_MESSAGE`, `DELIVER_MESSAGE`, …).
    public var traceCounters: [String: Int] { traceCounts.current }

    /// Validations run so far on the router's thread and on the pool (`validatorPlacement`).
    public var validationPlacements: (routerThread: Int, pool: Int) { placements.current }

    // MARK: Streams

    private func openOutbound(to peer: PeerID) {
        guard outbound[peer] == nil else { return }
        outbound[peer] = .opening([])
        host.newStream(to: peer, protocols: protocols.map(\.rawValue)) { [weak self] result in
            guard let self else { return }
            self.queue.async {
                switch result {
                case .failure(let e):
                    self.outbound[peer] = nil
                    self.early[peer] = nil
                    self.logger.debug("pubsub stream failed", metadata: ["peer": "\(peer)", "error": "\(e)"])
                case .success(let stream):
                    guard case .opening(let queued)? = self.outbound[peer],
                          let proto = GossipSubProtocol(rawValue: stream.protocolID) else { stream.abort(); return }
                    self.outbound[peer] = .open(stream)
                    stream.queue.async {
                        stream.onReset = { [weak self] _ in
                            guard let self else { return }
                            self.queue.async { self.outboundClosed(peer, stream) }
                        }
                        stream.onData = { _ in }  // the peer never writes on our stream
                    }
                    let info = self.host.connectionInfo(peer)
                    let ip = info.flatMap { Self.ip(of: $0.remoteAddress) }
                    self.route { $0.addPeer(peer, protocol: proto, outbound: info?.direction == .outbound, ip: ip, now: self.now) }
                    for p in queued { self.write(p.rpc, encodedMessages: p.encodedMessages, messageIDs: p.messageIDs, to: peer) }
                    self.runHeldWrite()
                    for rpc in self.early.removeValue(forKey: peer) ?? [] {
                        self.route { $0.handleRPC(from: peer, rpc: rpc, now: self.now) }
                    }
                }
            }
        }
    }

    private func outboundClosed(_ peer: PeerID, _ stream: P2PStream) {
        guard case .open(let s)? = outbound[peer], s === stream else { return }
        outbound[peer] = nil
        route { $0.removePeer(peer, now: now) }
    }

    private func inbound(_ stream: P2PStream) {
        let peer = stream.remotePeer
        var decoder = RPCFrameDecoder(maxFrameSize: maxRPCSize)
        // Every RPC is decoded as it arrives, and blocks are ~100 KB: a 4 MiB window instead of
        // yamux's 256 KiB start saves a window update (a frame and a wake-up on both sides) per
        // block or so; the stream's buffer stays bounded by the host's maxStreamBuffer.
        stream.raiseReceiveWindow(to: Self.receiveWindow)
        stream.onData = { [weak self] bytes in
            guard let self else { return }
            decoder.append(bytes)
            var rpcs: [PBRPC] = []
            do {
                while let rpc = try decoder.next() { rpcs.append(rpc) }
            } catch {
                self.logger.info("bad pubsub frame; resetting stream", metadata: ["peer": "\(peer)", "error": "\(error)"])
                stream.reset()
            }
            // IDONTWANT-only RPCs (one per mesh peer per large message) only matter when the router
            // next decides what to send: they wait for its next entry instead of waking it.
            // (Scanned once; split only when there are some, so the common batch is not copied.)
            let hasIDontWantOnly = rpcs.contains(where: Self.isOnlyIDontWant)
            if hasIDontWantOnly { self.deferIDontWants(rpcs.filter(Self.isOnlyIDontWant), from: peer) }
            let decoded = hasIDontWantOnly ? rpcs.filter { !Self.isOnlyIDontWant($0) } : rpcs
            guard !decoded.isEmpty else { return }
            self.queue.async {
                if self.outbound[peer] == nil { self.openOutbound(to: peer) }
                if case .opening? = self.outbound[peer] {
                    var held = self.early[peer] ?? []
                    held.append(contentsOf: decoded.prefix(max(0, Self.maxEarlyRPCs - held.count)))
                    self.early[peer] = held
                    return
                }
                for rpc in decoded { self.route { $0.handleRPC(from: peer, rpc: rpc, now: self.now) } }
            }
        }
        stream.onRemoteClose = { stream.closeWrite() }
    }

    private func write(_ rpc: PBRPC, encodedMessages: [[UInt8]], messageIDs: [MessageID], to peer: PeerID) {
        switch outbound[peer] {
        case .open(let stream)?:
            let frame: [[UInt8]]
            do { frame = try RPCFraming.encodePieces(rpc, encodedMessages: encodedMessages, maxSize: maxRPCSize) } catch {
                router.rpcWritten(to: peer)
                logger.info("dropping oversized RPC", metadata: ["peer": "\(peer)", "error": "\(error)"])
                return
            }
            // Messages only: dropped at the last moment if the peer has meanwhile said it does not
            // want any of them (its IDONTWANT is decoded on this same connection queue).
            let onlyMessages = !messageIDs.isEmpty && messageIDs.count == rpc.publish.count
                && rpc.subscriptions.isEmpty && !rpc.hasControl
            let body: @Sendable () -> Void = { [written, unwantedByPeer, droppedUnwanted] in
                defer { written.withLock { $0[peer, default: 0] += 1 } }  // told to the router at its next entry
                if onlyMessages, unwantedByPeer.withLock({ $0[peer]?.containsAll(messageIDs) ?? false }) {
                    droppedUnwanted.withLock { $0 += 1 }
                    return
                }
                stream.write(contentsOf: frame)  // the pieces of one frame, flushed together
            }
            // Small RPCs (control: IDONTWANT, IHAVE, GRAFT…) are written from this thread: a sync
            // onto an idle connection queue runs inline, with no thread to wake. Large ones (blocks)
            // go to the connection's thread, so several peers' copies are sealed in parallel.
            // Safe from deadlock: connection queues never wait on the router queue (they hand over
            // with async only).
            //
            // Of the large ones, the last of a batch is written from this thread too, at the end
            // of `apply` (`runHeldWrite`): the others are already being sealed on their
            // connections' threads by then, and one thread wake-up per batch is saved (a
            // node publishing to one peer seals and writes its block without any).
            if frame.reduce(0, { $0 + $1.count }) <= Self.inlineWriteLimit {
                if let held = heldWrite, held.peer == peer {  // keep this stream's RPCs in order
                    heldWrite = nil
                    held.queue.async(execute: held.body)
                }
                stream.queue.sync(execute: body)
            } else {
                if let held = heldWrite { held.queue.async(execute: held.body) }
                heldWrite = (peer, stream.queue, body)
            }
        case .opening(var queued)?:
            queued.append((rpc, encodedMessages, messageIDs))
            outbound[peer] = .opening(queued)
        case nil:
            router.rpcWritten(to: peer)
        }
    }

    // MARK: Actions

    /// Runs a router entry point (on `queue`) and performs its actions. The router first learns
    /// which RPCs were written since its last entry: counting them here rather than hopping back
    /// to the router queue after every write keeps its per-peer queue bound exact whenever it
    /// enqueues, without a thread wake-up per RPC.
    private func route(_ body: (inout GossipSubRouter) -> [GossipAction]) {
        settle()
        apply(body(&router))
    }

    /// Brings the router up to date before an entry: the RPCs written since its last entry, and
    /// the IDONTWANT-only RPCs that arrived without waking it (`deferIDontWants`).
    private func settle() {
        for (peer, n) in written.take(leaving: [:]) { router.rpcWritten(to: peer, count: n) }
        for (peer, rpc) in deferred.take(leaving: []) { apply(router.handleRPC(from: peer, rpc: rpc, now: now)) }
    }

    /// Whether an RPC carries nothing but IDONTWANT (no messages, subscriptions or other control).
    static func isOnlyIDontWant(_ rpc: PBRPC) -> Bool {
        guard rpc.publish.isEmpty, rpc.subscriptions.isEmpty, rpc.hasControl else { return false }
        let c = rpc.control
        return !c.idontwant.isEmpty && c.ihave.isEmpty && c.iwant.isEmpty && c.graft.isEmpty && c.prune.isEmpty
    }

    /// Holds IDONTWANT-only RPCs for the router's next entry (`settle`): at most
    /// `maxDeferredRPCs` in all; beyond that they are dropped (IDONTWANT is advisory: a dropped
    /// one costs at most a duplicate). The heartbeat is an entry, so none waits longer than one
    /// heartbeat interval.
    private func deferIDontWants(_ rpcs: [PBRPC], from peer: PeerID) {
        deferred.withLock { d in
            for rpc in rpcs where d.count < Self.maxDeferredRPCs { d.append((peer, rpc)) }
        }
        // The ids the router will honour: the first `maxIDontWantLength` of each RPC.
        let ids = rpcs.flatMap { rpc in
            rpc.control.idontwant.lazy.flatMap(\.messageIds).prefix(idontwantIDsPerRPC)
                .filter { $0.count <= GossipSubRouter.maxMessageIDLength }
        }
        guard !ids.isEmpty else { return }
        unwantedByPeer.withLock { all in
            for id in ids { all[peer, default: RecentIDs(capacity: Self.recentUnwantedPerPeer)].insert([UInt8](id)) }
        }
    }

    /// Messages dropped just before writing because the peer had sent IDONTWANT for them after
    /// the router decided to send (`write`).
    public var unwantedSendsDropped: Int { droppedUnwanted.current }

    private func apply(_ actions: [GossipAction]) {
        defer {
            runHeldWrite()
            runValidationsHere()
        }
        for action in actions {
            switch action {
            case .send(let peer, let rpc, let encodedMessages, let messageIDs):
                write(rpc, encodedMessages: encodedMessages, messageIDs: messageIDs, to: peer)
            case .validate(let request):
                guard let validator = validators[request.topic] else {
                    apply(router.deliverValidationResult(request.id, outcome: .accept, now: now))
                    continue
                }
                if validatesHere(request, alreadyKept: validationsHere.count) {
                    placements.withLock { $0.routerThread += 1 }
                    validationsHere.append((request, validator))
                    continue
                }
                placements.withLock { $0.pool += 1 }
                poolValidations += 1
                validationQueue.async { [weak self] in
                    let outcome = validator(request)
                    guard let self else { return }
                    self.queue.async {
                        self.poolValidations -= 1
                        self.route { $0.deliverValidationResult(request.id, outcome: outcome, now: self.now) }
                    }
                }
            case .deliver(let topic, let message, let from, let id):
                for s in subscribers { s(topic, message, from, id) }
            case .graylisted(let peer, let score):
                logger.debug("peer graylisted", metadata: ["peer": "\(peer)", "score": "\(score)"])
            case .peerExchange:
                break  // PX is disabled (op-node); nothing to follow
            case .trace(let event):
                traceCounts.withLock { $0[event.typeName, default: 0] += 1 }
            }
        }
    }

    /// Writes the batch's last large RPC from this thread (`write`).
    private func runHeldWrite() {
        guard let held = heldWrite else { return }
        heldWrite = nil
        held.queue.sync(execute: held.body)
    }

    /// Runs the validations kept on this thread, after the sends of the batch that asked for them
    /// (the IDONTWANTs for the message being validated are among them), each followed by a router
    /// entry with its result. A loop, not recursion: the entries' own batches (which may ask
    /// for more) append to the same list, and only the outermost `apply` drains it.
    private func runValidationsHere() {
        guard !drainingValidations else { return }
        drainingValidations = true
        defer { drainingValidations = false }
        while !validationsHere.isEmpty {
            let (request, validator) = validationsHere.removeFirst()
            let outcome = validator(request)
            route { $0.deliverValidationResult(request.id, outcome: outcome, now: self.now) }
        }
    }

    /// Whether a validation request is run on the router's thread (`validatorPlacement`).
    private func validatesHere(_ request: ValidationRequest, alreadyKept: Int) -> Bool {
        Self.validatesOnRouterThread(placement, size: request.message.data.count,
                                     busy: (batch: alreadyKept, pool: poolValidations, blockCores: ValidationCores.current),
                                     cores: ValidationCores.available)
    }

    /// The placement rule: `busy` counts validations kept on the router's thread earlier in
    /// the same batch, this service's validations on the pool, and threads validating blocks in
    /// the process.
    static func validatesOnRouterThread(_ placement: ValidatorPlacement, size: Int,
                                        busy: (batch: Int, pool: Int, blockCores: Int), cores: Int) -> Bool {
        switch placement {
        case .pool: return false
        case .routerThread: return true
        case .automatic:
            return busy.batch == 0 && busy.pool == 0 && size <= inlineValidationLimit && busy.blockCores < cores
        }
    }

    /// `.automatic` validates larger messages on the pool: a 10 MiB block would hold the router
    /// (heartbeat, every peer's RPCs) for tens of milliseconds.
    static let inlineValidationLimit = 1 << 20

    static func ip(of address: Multiaddr) -> IPAddress? {
        switch address.components.first {
        case .ip4(let b)?, .ip6(let b)?: return IPAddress(bytes: b)
        default: return nil
        }
    }
}

/// The last `capacity` distinct ids inserted (FIFO eviction: an id already held is not
/// refreshed, and nothing reads through `get`, so `LRUCache`'s order is insertion order).
struct RecentIDs: Sendable {
    private var ids: LRUCache<[UInt8], Void>

    init(capacity: Int) { ids = LRUCache(capacity: capacity) }

    var count: Int { ids.count }

    mutating func insert(_ id: [UInt8]) {
        if !ids.contains(id) { ids.set(id, ()) }
    }

    func contains(_ id: [UInt8]) -> Bool { ids.contains(id) }

    func containsAll(_ ids: [MessageID]) -> Bool { ids.allSatisfy { contains($0.bytes) } }
}
