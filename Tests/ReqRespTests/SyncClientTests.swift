import Foundation
import Testing
import P2PCore
import Rollup
@testable import ReqResp

private let testdata = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/testdata")

/// The sync client over real sockets: four servers holding a 60-block chain, one empty server.
@Suite(.serialized) struct SyncClientTests {
    /// A parent-linked V4 chain built from the Unichain block as a template.
    static func chain(_ count: Int) throws -> [ExecutionPayloadEnvelope] {
        let ssz = [UInt8](try Data(contentsOf: testdata.appendingPathComponent("real/unichain-sepolia-35535698.envelope-v4.ssz")))
        var env = try ExecutionPayloadEnvelope(ssz: ssz, version: .v4)
        var out: [ExecutionPayloadEnvelope] = []
        var parent = [UInt8](repeating: 0, count: 32)
        for n in 0..<count {
            env.payload.blockNumber = UInt64(n)
            env.payload.timestamp = UInt64(2 * n)
            env.payload.parentHash = parent
            env.payload.blockHash = env.computeBlockHash(version: .v4)
            parent = env.payload.blockHash
            out.append(env)
        }
        return out
    }

    @Test func fillsAGapNewestFirstAndDeliversAscending() async throws {
        let config = RollupConfig.forTesting(chainID: 1301)
        let blocks = try Self.chain(60)
        var dirs: [String] = []
        defer { for d in dirs { try? FileManager.default.removeItem(atPath: d) } }
        var servers: [P2PHost] = []
        for i in 0..<5 {
            let dir = NSTemporaryDirectory() + "p2pnode-sync-\(UUID().uuidString)"
            dirs.append(dir)
            let store = try BlockStore(directory: dir)
            if i < 4 { for b in blocks { try store.put(b, version: .v4, receivedAt: 0, source: .import) } }   // server 4 has nothing
            let host = P2PHost(config: HostConfig(identity: .generate(.secp256k1)))
            try host.listen(on: try Multiaddr("/ip4/127.0.0.1/tcp/0"))
            PayloadByNumberService(host: host, config: config, source: store).start()
            servers.append(host)
        }
        let client = P2PHost(config: HostConfig(identity: .generate(.secp256k1)))
        defer { client.close(); for s in servers { s.close() } }
        let sync = SyncClient(host: client, rollup: config)
        let delivered = Locked<[UInt64]>([])
        sync.onPayload { env in delivered.withLock { $0.append(env.payload.blockNumber) } }
        sync.start()
        for s in servers { _ = try await client.connect(try #require(s.listenAddresses.first).appending(.p2p(s.peerID))) }
        // Trust block 59 (as if it arrived by gossip); the local head is block 0.
        let end = SyncTarget(number: 59, hash: blocks[59].payload.blockHash, parentHash: blocks[58].payload.blockHash)
        try await withDeadline(.seconds(60)) {
            try await sync.sync(start: .init(hash: blocks[0].payload.blockHash, number: 0), end: end)
        }
        #expect(delivered.current == Array(1...58))
        // Servers that answered earned positive scores; the empty one was not penalised for "not found".
        for s in servers.prefix(4) { #expect(sync.score(of: s.peerID) >= 0) }
        #expect(sync.score(of: servers[4].peerID) == 0)
        sync.stop()
    }
}
