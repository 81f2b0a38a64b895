import ArgumentParser
import Foundation
import Logging
import P2PCore
import ReqResp
import Rollup

/// `p2pnode sync`: fills the blocks between a local head and a trusted block with
/// `payload_by_number` from peers (newest first, hash-chained from the trusted block) and stores
/// them; exits when the gap is filled.
struct Sync: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Fill a gap of blocks over payload_by_number and store them.")

    @OptionGroup var p2p: P2PFlags
    @OptionGroup var rollup: RollupOptions
    @OptionGroup var store: StoreOptions

    @Option(help: "The local head: blocks above it are fetched. Its hash is checked if the store has it.")
    var from: UInt64

    @Option(name: .customLong("to-hash"), help: "Hash of the trusted block the chain must lead to.")
    var toHash: String

    @Option(name: .customLong("to"), help: "Number of the trusted block (default: looked up in the store by --to-hash).")
    var to: UInt64?

    @Option(name: .customLong("log.level")) var logLevel: String?

    @Option(help: "Give up after this many seconds.") var timeout: Double = 600

    func run() async throws {
        AllocatorTuning.apply()
        try LogfmtHandler.bootstrap(level: Env.string(logLevel, "LOG_LEVEL") ?? "info")
        let log = Logger(label: "p2pnode.sync")
        guard let config = try rollup.load() else { throw CLIError("sync needs --rollup.config or --network") }
        let target: [UInt8]
        do { target = try [UInt8](hex: toHash, count: 32) } catch { throw CLIError("--to-hash: \(error)") }
        let blockStore = try store.open()
        let known = try? blockStore.get(hash: target)
        guard let toNumber = to ?? known?.number else { throw CLIError("--to is needed: the store does not have block \(toHash)") }
        guard toNumber > from else { throw CLIError("nothing to fill: --to \(toNumber) is not above --from \(from)") }
        let startHash = (try? blockStore.canonical(number: from))??.hash ?? []
        // The trusted block itself is fetched too: trust its hash by making it the parent of the range's end.
        let end = SyncTarget(number: toNumber + 1, hash: [UInt8](repeating: 0, count: 32), parentHash: target)

        let cfg = try p2p.resolve()
        guard !cfg.staticPeers.isEmpty else { throw CLIError("sync needs peers: --p2p.static") }
        let host = P2PHost(config: cfg.host)
        defer { host.close() }
        let statics = Set(cfg.staticPeers.compactMap(\.peerID))
        let client = SyncClient(host: host, rollup: config, staticPeers: statics)
        let stored = Locked(0)
        client.onPayload { env in
            do {
                try blockStore.put(env, version: config.payloadVersion(at: env.payload.timestamp), receivedAt: UInt64(Date().timeIntervalSince1970 * 1000), source: .reqresp)
                let n = stored.withLock { $0 += 1; return $0 }
                if n % 100 == 0 || env.payload.blockNumber == toNumber { log.info("stored", metadata: ["number": "\(env.payload.blockNumber)", "count": "\(n)"]) }
            } catch {
                log.error("storing failed", metadata: ["number": "\(env.payload.blockNumber)", "error": "\(error)"])
            }
        }
        client.start()
        for addr in cfg.staticPeers {
            do { _ = try await host.connect(addr) } catch { log.warning("cannot connect", metadata: ["peer": "\(addr)", "error": "\(error)"]) }
        }
        log.info("syncing", metadata: ["from": "\(from)", "to": "\(toNumber)", "trusted": "\(target.prefixedHex)", "peers": "\(host.connectedPeers.count)"])
        let started = Date()
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await client.sync(start: .init(hash: startHash, number: from), end: end) }
                group.addTask { try await Task.sleep(for: .seconds(timeout)); throw CLIError("sync did not finish within \(timeout) s") }
                defer { group.cancelAll() }
                try await group.next()
            }
        } catch {
            client.stop()
            throw CLIError("\(error)")
        }
        client.stop()
        let secs = Date().timeIntervalSince(started)
        log.info("gap filled", metadata: ["blocks": "\(stored.current)", "seconds": "\(String(format: "%.1f", secs))",
                                          "blocks_per_second": "\(String(format: "%.1f", Double(stored.current) / max(secs, 0.001)))"])
    }
}
