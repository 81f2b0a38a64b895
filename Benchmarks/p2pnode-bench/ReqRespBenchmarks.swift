import Dispatch
import Foundation
import P2PCore
import ReqResp
import Rollup

/// Gap filling over `payload_by_number` on loopback: 1,000 blocks from 4 servers at op-node's
/// rate limits (held against the 16 blocks/s ceiling their per-peer limits set: 4 × 4/s), and
/// the same with the limits lifted.
enum ReqRespBenchmarks {
    /// A parent-linked chain of small V4 blocks.
    static func chain(_ count: Int) throws -> [ExecutionPayloadEnvelope] {
        let z = [UInt8](repeating: 0, count: 32)
        var parent = z
        var out: [ExecutionPayloadEnvelope] = []
        for n in 0..<count {
            let p = ExecutionPayload(parentHash: parent, feeRecipient: [UInt8](repeating: 0x42, count: 20), stateRoot: z, receiptsRoot: z,
                                     logsBloom: [UInt8](repeating: 0, count: 256), prevRandao: z, blockNumber: UInt64(n), gasLimit: 30_000_000,
                                     gasUsed: 21_000, timestamp: UInt64(2 * n), extraData: [], baseFeePerGas: UInt256(7), blockHash: z,
                                     transactions: [[0x7e] + [UInt8](repeating: UInt8(n & 0xff), count: 300)], withdrawals: [],
                                     blobGasUsed: 0, excessBlobGas: 0, withdrawalsRoot: z)
            var env = ExecutionPayloadEnvelope(payload: p, parentBeaconBlockRoot: z)
            env.payload.blockHash = env.computeBlockHash(version: .v4)
            parent = env.payload.blockHash
            out.append(env)
        }
        return out
    }

    static func fill(blocks: [ExecutionPayloadEnvelope], servers: Int, limited: Bool, config: RollupConfig) async throws -> (Double, Int) {
        var hosts: [P2PHost] = []
        var dirs: [String] = []
        defer { for h in hosts { h.close() }; for d in dirs { try? FileManager.default.removeItem(atPath: d) } }
        for _ in 0..<servers {
            let dir = NSTemporaryDirectory() + "p2pnode-bench-\(UUID().uuidString)"
            dirs.append(dir)
            let store = try BlockStore(directory: dir)
            for b in blocks { try store.put(b, version: .v4, receivedAt: 0, source: .import) }
            let host = P2PHost(config: HostConfig(identity: .generate(.secp256k1)))
            try host.listen(on: try Multiaddr("/ip4/127.0.0.1/tcp/0"))
            var options = PayloadByNumberServer.Options()
            if !limited { options.globalRate = 1e6; options.globalBurst = 100_000; options.peerRate = 1e6; options.peerBurst = 100_000 }
            PayloadByNumberService(host: host, config: config, source: store, options: options).start()
            hosts.append(host)
        }
        let client = P2PHost(config: HostConfig(identity: .generate(.secp256k1)))
        hosts.append(client)
        var cc = SyncScheduler.Config()
        if !limited { cc.globalRate = 1e6; cc.globalBurst = 100_000; cc.peerRate = 1e6; cc.peerBurst = 100_000; cc.maxInFlightPerPeer = 8 }
        let sync = SyncClient(host: client, rollup: config, config: cc)
        let delivered = Locked(0)
        sync.onPayload { _ in delivered.withLock { $0 += 1 } }
        sync.start()
        for h in hosts.prefix(servers) { _ = try await client.connect(h.listenAddresses[0].appending(.p2p(h.peerID))) }
        try await Task.sleep(for: .milliseconds(500))   // identify: the client learns who serves the protocol
        let last = blocks.count - 1
        let t0 = DispatchTime.now().uptimeNanoseconds
        try await sync.sync(start: .init(hash: blocks[0].payload.blockHash, number: 0),
                            end: SyncTarget(number: UInt64(last), hash: blocks[last].payload.blockHash, parentHash: blocks[last - 1].payload.blockHash))
        let secs = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        sync.stop()
        return (secs, delivered.current)
    }

    static func run() async throws {
        print("payload_by_number gap fill (loopback, release):")
        let config = RollupConfig.forTesting(chainID: 901)
        let blocks = try chain(1002)   // 1,000 blocks strictly between the head (0) and the trusted block (1001)
        let (limitedSecs, n1) = try await fill(blocks: blocks, servers: 4, limited: true, config: config)
        let rate = Double(n1) / limitedSecs
        Bench.row("1,000 blocks, 4 servers at op-node limits", rate, unit: "blocks/s", limit: 16, limitNote: "(4 peers × 4/s; target ≥ 95%)")
        print(String(format: "  filled %d blocks in %.1f s", n1, limitedSecs))
        let (freeSecs, n2) = try await fill(blocks: blocks, servers: 4, limited: false, config: config)
        Bench.row("1,000 blocks, 4 servers, limits lifted", Double(n2) / freeSecs, unit: "blocks/s", limit: nil)
        print("  target ≥ 2,000 blocks/s unthrottled")
        print("RESULT reqresp.limited.bps=\(rate) reqresp.unthrottled.bps=\(Double(n2) / freeSecs)")
    }
}
