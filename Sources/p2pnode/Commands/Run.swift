import ArgumentParser
import Dispatch
import Foundation
import Logging
import P2PCore

/// `p2pnode run`: joins the network as op-node's p2p layer does.
struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the node: listen, connect to static peers, serve the p2p protocols until SIGINT/SIGTERM."
    )

    @OptionGroup var p2p: P2PFlags

    @Option(name: .customLong("log.level"), help: "trace, debug, info, warn, error or crit. (env OP_NODE_LOG_LEVEL)")
    var logLevel: String?

    func run() async throws {
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
        for addr in cfg.staticPeers {
            do { try host.addStaticPeer(addr) } catch { throw CLIError("--p2p.static \(addr): \(error)") }
            log.info("static peer", metadata: ["addr": "\(addr)"])
        }
        let signal = await waitForTermination()
        log.info("shutting down", metadata: ["signal": "\(signal)"])
        host.close()
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
