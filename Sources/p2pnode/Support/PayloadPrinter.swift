import Foundation
import P2PCore
import Rollup

/// Prints every field of a payload, one per line, aligned (used by all `inspect` commands).
enum PayloadPrinter {
    static func line(_ key: String, _ value: String) {
        Swift.print(key.padding(toLength: 24, withPad: " ", startingAt: 0) + value)
    }

    static func show(_ env: ExecutionPayloadEnvelope, version: PayloadVersion) {
        let p = env.payload
        line("layout:", "\(version) (SSZ fixed part \(version.sszFixedSize) bytes)")
        line("parentHash:", p.parentHash.prefixedHex)
        line("feeRecipient:", p.feeRecipient.prefixedHex)
        line("stateRoot:", p.stateRoot.prefixedHex)
        line("receiptsRoot:", p.receiptsRoot.prefixedHex)
        line("logsBloom:", p.logsBloom.allSatisfy { $0 == 0 } ? "0x00…00 (empty)" : p.logsBloom.prefixedHex)
        line("prevRandao:", p.prevRandao.prefixedHex)
        line("blockNumber:", "\(p.blockNumber)")
        line("gasLimit:", "\(p.gasLimit)")
        line("gasUsed:", "\(p.gasUsed)")
        line("timestamp:", "\(p.timestamp)")
        line("extraData:", p.extraData.prefixedHex)
        line("baseFeePerGas:", "\(p.baseFeePerGas)")
        line("blockHash:", p.blockHash.prefixedHex)
        let txBytes = p.transactions.reduce(0) { $0 + $1.count }
        line("transactions:", "\(p.transactions.count) (\(txBytes) bytes)")
        for (i, tx) in p.transactions.enumerated() {
            let type = tx.first.map { $0 < 0x7f ? String(format: "type 0x%02x", $0) : "legacy" } ?? "empty"
            line("  [\(i)]", "\(tx.count) bytes, \(type), hash \(Keccak256.hash(tx).prefixedHex)")
        }
        if let w = p.withdrawals {
            line("withdrawals:", "\(w.count)")
            for (i, x) in w.enumerated() {
                line("  [\(i)]", "index \(x.index) validator \(x.validatorIndex) to \(x.address.prefixedHex) amount \(x.amount) gwei")
            }
        }
        if let v = p.blobGasUsed { line("blobGasUsed:", "\(v)") }
        if let v = p.excessBlobGas { line("excessBlobGas:", "\(v)") }
        if let v = p.withdrawalsRoot { line("withdrawalsRoot:", v.prefixedHex) }
        if let v = env.parentBeaconBlockRoot { line("parentBeaconBlockRoot:", v.prefixedHex) }
    }

    /// Prints the claimed and computed hashes; returns true if they agree.
    static func printHashCheck(_ env: ExecutionPayloadEnvelope, version: PayloadVersion) -> Bool {
        let computed = env.computeBlockHash(version: version)
        let ok = computed == env.payload.blockHash
        line("blockHash (claimed):", env.payload.blockHash.prefixedHex)
        line("blockHash (computed):", computed.prefixedHex)
        line("hash:", ok ? "OK" : "MISMATCH")
        return ok
    }
}
