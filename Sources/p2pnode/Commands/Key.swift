import ArgumentParser
import Foundation
import P2PCore

/// `p2pnode key new|show`: node keys in op-node's file format (64 hex chars, mode 0600).
struct Key: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make and show node keys (also usable as sequencer block-signing keys).",
        subcommands: [New.self, Show.self]
    )

    struct New: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Generate a secp256k1 key and write it (mode 0600).")

        @Option(help: "Where to write the key (refuses to overwrite).")
        var out: String

        func run() throws {
            if FileManager.default.fileExists(atPath: out) { throw CLIError("\(out): already exists; refusing to overwrite a key") }
            let key: PrivateKey
            do { key = try NodeKeyFile.create(path: out) } catch { throw CLIError("\(error)") }
            Key.describe(key)
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the peer id, public key and address of a key file.")

        @Option(name: .customLong("p2p.priv.path"), help: "Key file (64 hex chars, optional 0x).")
        var path: String

        func run() throws {
            let key: PrivateKey
            do { key = try NodeKeyFile.load(path: path) } catch { throw CLIError("\(error)") }
            Key.describe(key)
        }
    }

    static func describe(_ key: PrivateKey) {
        PayloadPrinter.line("peer id:", key.peerID.description)
        PayloadPrinter.line("public key (libp2p):", key.publicKey.marshal().prefixedHex)
        if case .secp256k1(let sk) = key {
            PayloadPrinter.line("public key:", sk.publicKey.compressed.prefixedHex)
            PayloadPrinter.line("address:", sk.publicKey.ethereumAddress.prefixedHex)
            PayloadPrinter.line("discv5 node id:", Keccak256.hash(sk.publicKey.uncompressed[1...]).prefixedHex)
        }
    }
}
