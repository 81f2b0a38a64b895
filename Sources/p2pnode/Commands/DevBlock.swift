import ArgumentParser
import Foundation
import P2PCore
import Rollup

/// `p2pnode dev make-block`: builds a signed, snappy-compressed block gossip message from a
/// template payload — for devnets, interop tests and sequencer drills. Optionally spoils it in one
/// named way so tests can check that invalid blocks are not forwarded.
struct Dev: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Developer tools.", shouldDisplay: false,
                                                    subcommands: [MakeBlock.self])

    struct MakeBlock: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "make-block")

        @Option(help: "Template payload or envelope (Engine-API JSON).")
        var template: String

        @Option(name: .customLong("chain-id")) var chainID: UInt64
        @Option var number: UInt64
        @Option(help: "Block timestamp (default: now).") var timestamp: UInt64?
        @Option(help: "Signing key file (64 hex chars).") var key: String
        @Option(help: "SSZ layout 1–4 (default: from the template's fields).") var version: Int?
        @Option(help: "Spoil the block: hash, signature, stale or future.") var corrupt: String?

        func run() throws {
            let bytes = try InputFile.read(template)
            var env: ExecutionPayloadEnvelope
            do { env = try ExecutionPayloadEnvelope(engineJSON: bytes) } catch { throw CLIError("\(template): \(error)") }
            let layout = try version.map { v -> PayloadVersion in
                guard let pv = PayloadVersion(rawValue: v) else { throw CLIError("--version must be 1–4") }
                return pv
            } ?? InspectPayload.versionFromFields(env.payload)
            let signingKey: PrivateKey
            do { signingKey = try NodeKeyFile.load(path: key) } catch { throw CLIError("\(error)") }
            guard case .secp256k1(let sk) = signingKey else { throw CLIError("\(key): not a secp256k1 key") }
            let now = UInt64(Date().timeIntervalSince1970)
            env.payload.blockNumber = number
            env.payload.timestamp = timestamp ?? now
            switch corrupt {
            case "stale"?: env.payload.timestamp = now - 3600
            case "future"?: env.payload.timestamp = now + 3600
            case nil, "hash"?, "signature"?: break
            case let other?: throw CLIError("--corrupt \(other): expected hash, signature, stale or future")
            }
            env.payload.blockHash = env.computeBlockHash(version: layout)
            if corrupt == "hash" { env.payload.gasUsed &+= 1 }
            let body: [UInt8]
            do { body = try env.sszEncoded(version: layout) } catch { throw CLIError("\(error)") }
            var sig = try BlockSigning.sign(payloadBytes: body, chainID: chainID, key: sk)
            if corrupt == "signature" { sig = try BlockSigning.sign(payloadBytes: body, chainID: chainID, key: Secp256k1PrivateKey()) }
            print(Snappy.compress(sig + body).hexString)
        }
    }
}
