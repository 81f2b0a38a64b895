import Foundation
import Testing
import P2PCore
import Rollup
@testable import Gossip

/// Real hosts on loopback running op-node's block gossip: relay through a middle node, invalid
/// blocks not forwarded.
@Suite(.serialized) struct BlockGossipIntegrationTests {
    /// A block gossip node that records what it accepts.
    final class Node: @unchecked Sendable {  // safe: `received` is behind a lock
        let node: BlockGossipNode
        let received = Locked<[AcceptedBlock]>([])
        var host: P2PHost { node.host }
        var service: GossipService { node.service }
        var blocks: BlockGossip { node.gossip }
        var address: Multiaddr { node.address }

        init(rollup: RollupConfig, signer: [UInt8]) throws {
            node = try BlockGossipNode(rollup: rollup, signer: signer)
            node.gossip.onBlock { [received] b in received.withLock { $0.append(b) } }
        }
        func close() { node.close() }
    }

    static func eventually(_ seconds: Double = 10, _ condition: () -> Bool) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return condition()
    }

    /// The synthetic V4 block re-stamped to now, with a valid hash.
    static func freshBlock(number: UInt64, extra: UInt8 = 0) throws -> ExecutionPayloadEnvelope {
        let vector = try GossipTestData.json("gossip/synthetic-chain10-v4.json")
        var p = try ExecutionPayload(jsonObject: try #require(vector["payload_json"]))
        p.timestamp = UInt64(Date().timeIntervalSince1970)
        p.blockNumber = number
        p.extraData = [extra]
        var env = ExecutionPayloadEnvelope(payload: p, parentBeaconBlockRoot: try [UInt8](hex: try #require(vector["parent_beacon_block_root"] as? String)))
        env.payload.blockHash = env.computeBlockHash(version: .v4)
        return env
    }

    /// The same relay with validators on the pool and on the router's thread (`automatic` is
    /// one or the other per message, by load).
    @Test(arguments: [GossipService.ValidatorPlacement.pool, .routerThread, .automatic])
    func blocksRelayThroughAMiddleNodeAndBadOnesStop(placement: GossipService.ValidatorPlacement) async throws {
        let rollup = try GossipTestData.chain10()
        let key = try Secp256k1PrivateKey(bytes: try [UInt8](hex: GossipTestData.signerKeyHex))
        let signer = key.publicKey.ethereumAddress
        let a = try Node(rollup: rollup, signer: signer), b = try Node(rollup: rollup, signer: signer), c = try Node(rollup: rollup, signer: signer)
        defer { a.close(); b.close(); c.close() }
        for n in [a, b, c] { n.service.validatorPlacement = placement }
        _ = try await a.host.connect(b.address)
        _ = try await c.host.connect(b.address)
        let topic = a.blocks.topics.topic(for: .v4)
        // Wait until the line is meshed on the V4 topic.
        #expect(await Self.eventually {
            b.service.inspect { $0.meshPeers(of: topic).count } == 2 && a.service.inspect { $0.meshPeers(of: topic).count } == 1
                && c.service.inspect { $0.meshPeers(of: topic).count } == 1
        })

        // A valid block from A reaches B and C; A does not deliver its own block to itself.
        let good = try Self.freshBlock(number: 5000)
        let published = try a.blocks.publish(good, key: key)
        #expect(await Self.eventually { c.received.current.count == 1 && b.received.current.count == 1 })
        #expect(c.received.current.first?.envelope == good)
        #expect(c.received.current.first?.data == published)  // the compressed bytes, verbatim
        #expect(c.received.current.first?.from == b.host.peerID)
        #expect(a.received.current.isEmpty)

        // Invalid blocks published raw by A: B rejects them and C never sees them.
        var badHash = try Self.freshBlock(number: 5001)
        badHash.payload.gasUsed += 1                               // contents no longer match the hash
        let wrongKey = Secp256k1PrivateKey()
        let stale = { () throws -> ExecutionPayloadEnvelope in
            var e = try Self.freshBlock(number: 5002)
            e.payload.timestamp -= 600
            e.payload.blockHash = e.computeBlockHash(version: .v4)
            return e
        }
        for (env, k) in [(badHash, key), (try stale(), key), (try Self.freshBlock(number: 5003), wrongKey)] {
            let body = try env.sszEncoded(version: .v4)
            let sig = try BlockSigning.sign(payloadBytes: body, chainID: 10, key: k)
            try a.blocks.publish(data: Snappy.compress(sig + body), version: .v4)
        }
        // A last valid block proves the path still works and bounds the wait.
        let last = try Self.freshBlock(number: 5004)
        _ = try a.blocks.publish(last, key: key)
        #expect(await Self.eventually { c.received.current.contains { $0.envelope == last } })
        try await Task.sleep(for: .milliseconds(300))
        #expect(c.received.current.map(\.envelope.payload.blockNumber).sorted() == [5000, 5004])
        let outcomes = b.blocks.outcomeCounts
        #expect(outcomes["block_hash"] == 1, "\(outcomes)")
        #expect(outcomes["timestamp_too_old"] == 1, "\(outcomes)")
        #expect(outcomes["wrong_signer"] == 1, "\(outcomes)")
        #expect((b.service.traceCounters["REJECT_MESSAGE"] ?? 0) >= 3)
        // B and C validated with the bytes their message-id function decompressed (decompress
        // once); a concurrent test may take a shared-cache entry first, so not necessarily all.
        #expect(b.blocks.reusedDecompressions + c.blocks.reusedDecompressions >= 1)
        // Where B's five validations ran.
        let placed = b.service.validationPlacements
        #expect(placed.routerThread + placed.pool == 5, "\(placed)")
        switch placement {
        case .pool: #expect(placed.routerThread == 0)
        case .routerThread: #expect(placed.pool == 0)
        case .automatic: break  // by load: other suites may be validating at the same moment
        }
    }
}
