import ArgumentParser
import Dispatch
import Foundation
import Logging
import Gossip
import P2PCore
import ReqResp
import Rollup

/// `p2pnode run`: joins the network as op-node's p2p layer does.
struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the node: listen, connect to static peers, serve the p2p protocols until SIGINT/SIGTERM."
    )

    @OptionGroup var p2p: P2PFlags
    @OptionGroup var rollup: RollupOptions
    @OptionGroup var store: StoreOptions

    @Option(name: .customLong("p2p.unsafe-signer"), help: "Address unsafe blocks must be signed by (the SystemConfig's unsafe-block signer). (env OP_NODE_P2P_UNSAFE_SIGNER)")
    var unsafeSigner: String?

    @Option(name: .customLong("p2p.sync.req-resp"), help: "Serve payload_by_number from the block store. (default true; env OP_NODE_P2P_SYNC_REQ_RESP)")
    var reqResp: Bool?

    @Option(name: .customLong("p2p.reqresp.global-rate"), help: "Server-wide payload_by_number requests per second (op-node: 20).")
    var globalRate: Double = 20
    @Option(name: .customLong("p2p.reqresp.global-burst"), help: "Server-wide burst (op-node: 40).")
    var globalBurst: Int = 40
    @Option(name: .customLong("p2p.reqresp.peer-rate"), help: "Per-peer requests per second (op-node: 4).")
    var peerRate: Double = 4
    @Option(name: .customLong("p2p.reqresp.peer-burst"), help: "Per-peer burst (op-node: 15).")
    var peerBurst: Int = 15

    @Option(name: .customLong("p2p.gossip.timestamp.threshold"), help: "How far in the past a gossiped block may be. (default 60s; env OP_NODE_P2P_GOSSIP_TIMESTAMP_THRESHOLD)")
    var timestampThreshold: String?

    @Option(name: .customLong("log.level"), help: "trace, debug, info, warn, error or crit. (env OP_NODE_LOG_LEVEL)")
    var logLevel: String?

    func run() async throws {
        AllocatorTuning.apply()
        try LogfmtHandler.bootstrap(level: Env.string(logLevel, "LOG_LEVEL") ?? "info")
        let log = Logger(label: "p2pnode")
        let cfg = try p2p.resolve()
        let host = P2PHost(config: cfg.host)
        host.logger = Logger(label: "p2pnode.host")
        log.info("node key", metadata: ["peer": "\(host.peerID)", "source": "\(cfg.keySource)"])
        let bound: Multiaddr
        do { bound = try host.listen(on: cfg.listen) } catch { throw CLIError("cannot listen on \(cfg.listen): \(error)") }
        log.info("listening on \(bound.appending(.p2p(host.peerID)))")
        host.observe { event in
            switch event {
            case .connected(let peer, let dir, let remote):
                log.info("peer connected", metadata: ["peer": "\(peer)", "direction": "\(dir)", "addr": "\(remote)"])
            case .disconnected(let peer, let error):
                log.info("peer disconnected", metadata: ["peer": "\(peer)", "reason": "\(error.map { "\($0)" } ?? "closed")"])
            case .identified(let peer, let info):
                log.debug("peer identified", metadata: ["peer": "\(peer)", "agent": "\(info.agentVersion ?? "")",
                                                          "protocols": "\(info.protocols.count)"])
            }
        }
        let services = try startGossip(host: host, log: log, statics: Set(cfg.staticPeers.compactMap(\.peerID)))
        for addr in cfg.staticPeers {
            do { try host.addStaticPeer(addr) } catch { throw CLIError("--p2p.static \(addr): \(error)") }
            log.info("static peer", metadata: ["addr": "\(addr)"])
        }
        let signal = await waitForTermination()
        log.info("shutting down", metadata: ["signal": "\(signal)"])
        services?.1.stop()
        services?.0.service.stop()
        host.close()
    }

    /// Block gossip and the store, when a rollup config is given.
    func startGossip(host: P2PHost, log: Logger, statics: Set<PeerID>) throws -> (BlockGossip, SyncClient)? {
        guard let config = try rollup.load() else {
            log.warning("no --rollup.config or --network: block gossip disabled")
            return nil
        }
        var signer = [UInt8](repeating: 0, count: 20)
        if let s = Env.string(unsafeSigner, "P2P_UNSAFE_SIGNER") {
            signer = try parseAddress(s, flag: "--p2p.unsafe-signer")
        } else {
            log.warning("no --p2p.unsafe-signer: every block is IGNOREd, as op-node does without a signer")
        }
        var threshold: UInt64 = 60
        if let t = Env.string(timestampThreshold, "P2P_GOSSIP_TIMESTAMP_THRESHOLD") {
            guard let d = Env.duration(t) else { throw CLIError("--p2p.gossip.timestamp.threshold \(t): not a duration (e.g. 60s)") }
            threshold = UInt64(d.components.seconds)
        }
        let blockStore = try store.open()
        let service: GossipService
        let prepared = PreparedBlockCache()
        do {
            service = try GossipService(host: host, configuration: BlockGossip.gossipConfiguration(localPeer: host.peerID, rollup: config,
                                                                                                 preparingIn: prepared))
        } catch {
            throw CLIError("gossip configuration: \(error)")
        }
        service.logger = Logger(label: "p2pnode.gossip")
        let blocks = BlockGossip(service: service, rollup: config, signer: signer, pastThreshold: threshold, prepared: prepared)
        service.start()
        do { try blocks.start() } catch { throw CLIError("joining block topics: \(error)") }
        blocks.onBlock { block in
            let p = block.envelope.payload
            do {
                let stored = try blockStore.put(block.envelope, version: block.version,
                                                receivedAt: UInt64(Date().timeIntervalSince1970 * 1000), source: .gossip)
                log.info("received block", metadata: ["number": "\(p.blockNumber)", "hash": "\(p.blockHash.prefixedHex)",
                                                       "peer": "\(block.from)", "stored": "\(stored)"])
            } catch {
                log.error("storing block failed", metadata: ["number": "\(p.blockNumber)", "error": "\(error)"])
            }
        }
        let serve = try Env.parse(reqResp, "P2P_SYNC_REQ_RESP", name: "p2p.sync.req-resp") { Bool($0) } ?? true
        if serve {
            guard globalRate > 0, peerRate > 0, globalBurst >= 0, peerBurst >= 0 else {
                throw CLIError("--p2p.reqresp rates must be positive and bursts non-negative")
            }
            var options = PayloadByNumberServer.Options()
            options.globalRate = globalRate
            options.globalBurst = globalBurst
            options.peerRate = peerRate
            options.peerBurst = peerBurst
            let server = PayloadByNumberService(host: host, config: config, source: blockStore, options: options)
            server.start()
            log.info("serving payload_by_number", metadata: ["protocol": "\(PayloadByNumber.protocolID(chainID: config.chainID))",
                                                              "global": "\(globalRate)/s burst \(globalBurst)", "peer": "\(peerRate)/s burst \(peerBurst)"])
        }
        // The req-resp client's application scores are gossipsub's P5 (spec §4.2); the client is
        // idle until something asks for a range (the driver, later), but its scores start now.
        let syncClient = SyncClient(host: host, rollup: config, staticPeers: statics)
        syncClient.onScore { peer, score in service.setApplicationScore(peer, score) }
        syncClient.start()
        log.info("block gossip", metadata: ["chain": "\(config.chainID)", "signer": "\(signer.prefixedHex)",
                                            "topics": "\(blocks.topics.all.joined(separator: ","))", "datadir": "\(store.directory)"])
        return (blocks, syncClient)
    }
}

/// Suspends until SIGINT or SIGTERM; returns the signal's name.
func waitForTermination() async -> String {
    await withCheckedContinuation { (c: CheckedContinuation<String, Never>) in
        let queue = DispatchQueue(label: "p2pnode.signals")
        let fired = Locked(false)
        var sources: [any DispatchSourceSignal] = []
        for (sig, name) in [(SIGINT, "SIGINT"), (SIGTERM, "SIGTERM")] {
            signal(sig, SIG_IGN)
            let src = DispatchSource.makeSignalSource(signal: sig, queue: queue)
            src.setEventHandler {
                if fired.withLock({ f in defer { f = true }; return !f }) { c.resume(returning: name) }
            }
            src.resume()
            sources.append(src)
        }
        signalSources.withLock { $0 = sources }
    }
}

/// Keeps the signal sources alive for the life of the process.
let signalSources = Locked<[any DispatchSourceSignal]>([])
