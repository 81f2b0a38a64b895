/// Helpers for the block store tests: synthetic chains of blocks with valid hashes and scratch
/// directories that are removed afterwards.
import Foundation
import P2PCore
@testable import Rollup

enum StoreFixtures {
    /// A fresh, empty directory under the temporary directory.
    static func scratchDirectory() -> String {
        let dir = NSTemporaryDirectory() + "p2pnode-blockstore-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    static func remove(_ dir: String) { try? FileManager.default.removeItem(atPath: dir) }

    /// A V4 block with a valid hash. `tag` goes into extraData so siblings differ; `txBytes`
    /// adds one opaque transaction of that size (to make blocks span several database pages).
    static func block(number: UInt64, parent: [UInt8], tag: UInt8 = 0, txBytes: Int = 0,
                      version: PayloadVersion = .v4) -> ExecutionPayloadEnvelope {
        let zero32 = [UInt8](repeating: 0, count: 32)
        let tx = txBytes > 0 ? [[UInt8]((0..<txBytes).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(number)) })] : []
        let payload = ExecutionPayload(
            parentHash: parent, feeRecipient: [UInt8](repeating: 0x42, count: 20), stateRoot: zero32, receiptsRoot: zero32,
            logsBloom: [UInt8](repeating: 0, count: 256), prevRandao: zero32, blockNumber: number, gasLimit: 30_000_000,
            gasUsed: 0, timestamp: 1_700_000_000 &+ 2 &* number, extraData: [tag, UInt8(truncatingIfNeeded: number)],
            baseFeePerGas: UInt256(7), blockHash: zero32, transactions: tx,
            withdrawals: version.hasWithdrawals ? [] : nil, blobGasUsed: version.hasBlobGas ? 0 : nil,
            excessBlobGas: version.hasBlobGas ? 0 : nil, withdrawalsRoot: version.hasWithdrawalsRoot ? zero32 : nil)
        var env = ExecutionPayloadEnvelope(payload: payload, parentBeaconBlockRoot: version.hasParentBeaconBlockRoot ? zero32 : nil)
        env.payload.blockHash = env.computeBlockHash(version: version)
        return env
    }

    /// Blocks `from…to` chained by parent hash on top of `parent`.
    static func chain(from: UInt64, to: UInt64, parent: [UInt8] = [UInt8](repeating: 0, count: 32), tag: UInt8 = 0,
                      txBytes: Int = 0) -> [ExecutionPayloadEnvelope] {
        var out = [ExecutionPayloadEnvelope]()
        var parent = parent
        for n in from...to {
            let b = block(number: n, parent: parent, tag: tag, txBytes: txBytes)
            out.append(b)
            parent = b.payload.blockHash
        }
        return out
    }
}

extension BlockStore {
    /// The canonical hash at each of `numbers` (nil where there is none).
    func canonicalHashes(_ numbers: ClosedRange<UInt64>) throws -> [[UInt8]?] {
        try numbers.map { try canonical(number: $0)?.hash }
    }
}
