import Foundation
import Testing
import P2PCore
import Rollup
@testable import ReqResp

private let testdata = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/testdata")

/// The server on a real host, answering from a real block store.
@Suite(.serialized) struct PayloadByNumberServiceTests {
    @Test func servesStoredBlocksWithOpNodeResultCodes() async throws {
        let config = RollupConfig.forTesting(chainID: 1301)
        let dir = NSTemporaryDirectory() + "p2pnode-serve-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try BlockStore(directory: dir)
        let ssz = [UInt8](try Data(contentsOf: testdata.appendingPathComponent("real/unichain-sepolia-35535698.envelope-v4.ssz")))
        let env = try ExecutionPayloadEnvelope(ssz: ssz, version: .v4)
        try store.put(env, version: .v4, receivedAt: 0, source: .import)

        let server = P2PHost(config: HostConfig(identity: .generate(.secp256k1)))
        try server.listen(on: try Multiaddr("/ip4/127.0.0.1/tcp/0"))
        PayloadByNumberService(host: server, config: config, source: store).start()
        let client = P2PHost(config: HostConfig(identity: .generate(.secp256k1)))
        defer { server.close(); client.close() }
        _ = try await client.connect(try #require(server.listenAddresses.first).appending(.p2p(server.peerID)))

        func request(_ n: UInt64, protocolID: String = PayloadByNumber.protocolID(chainID: 1301)) async throws -> [UInt8] {
            let s = try await client.newStream(to: server.peerID, protocols: [protocolID])
            s.send(PayloadByNumber.encodeRequest(n), closeWrite: true)
            return try await s.readToEnd(limit: PayloadByNumber.maxResponseSize)
        }

        let response = try await request(35_535_698)
        let (got, layout) = try PayloadByNumber.decodeResponse(response, requestedNumber: 35_535_698, config: config)
        #expect(got == env && layout == .v4)
        #expect(Array(response.prefix(5)) == [0, 1, 0, 0, 0])
        // kona's trailing-slash id is served too.
        let viaSlash = try await request(35_535_698, protocolID: PayloadByNumber.protocolID(chainID: 1301) + "/")
        #expect(try PayloadByNumber.decodeResponse(viaSlash, requestedNumber: 35_535_698, config: config).0 == env)
        // Not found: exactly the one result byte.
        #expect(try await request(35_535_697) == [1])
        // Beyond TargetBlockNumber(now): invalid request.
        #expect(try await request(UInt64(1) << 40) == [2])
        // Another chain's protocol id is not served.
        await #expect(throws: HostError.self) { _ = try await client.newStream(to: server.peerID, protocols: ["/opstack/req/payload_by_number/10/0"]) }
    }
}
