import Foundation
import P2PCore
import Rollup

/// Test data access for GossipTests (`../shared/testdata` from the package root).
enum GossipTestData {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/testdata")

    static func bytes(_ relative: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: root.appendingPathComponent(relative)))
    }

    static func json(_ relative: String) throws -> [String: Any] {
        (try JSONSerialization.jsonObject(with: Data(try bytes(relative))) as? [String: Any]) ?? [:]
    }

    /// The anvil test key that signed every vector, and its address.
    static let signerKeyHex = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
    static let signerAddressHex = "f39fd6e51aad88f6f4ce6ab8827279cfffb92266"

    /// Chain 10 as the vectors assume it: every fork through Isthmus active, Jovian optional.
    static func chain10(jovian: Bool = false) throws -> RollupConfig {
        var times: [Fork: UInt64] = [:]
        for f in Fork.allCases where f > .bedrock && (f <= .isthmus || (jovian && f == .jovian)) { times[f] = 1 }
        let zero = [UInt8](repeating: 0, count: 32)
        return try RollupConfig(chainID: 10, genesis: .init(l1: .init(hash: zero, number: 0), l2: .init(hash: zero, number: 0),
                                                          l2Time: 1), blockTime: 2, forkTimes: times)
    }
}

/// Builds and signs gossip messages for tests.
enum GossipFactory {
    /// Signs `envelope` for `chainID` and returns snappy-compressed gossip data.
    static func message(_ envelope: ExecutionPayloadEnvelope, version: PayloadVersion, chainID: UInt64,
                        key: Secp256k1PrivateKey) throws -> [UInt8] {
        let body = try envelope.sszEncoded(version: version)
        let sig = try BlockSigning.sign(payloadBytes: body, chainID: chainID, key: key)
        return Snappy.compress(sig + body)
    }
}
