import ArgumentParser
import Dispatch
import Foundation
import Gossip
import Logging
import P2PCore
import Rollup

/// `p2pnode devnet`: a whole network on loopback in one process — a sequencer signing and
/// publishing a block every block time, relays in a line, and a node that joins late — printing
/// what each node receives. The demo `make run` starts.
struct Devnet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run a local devnet on loopback and print block propagation.")

    @Option(help: "Number of relay nodes between the sequencer and the last node.") var relays: Int = 3
    @Option(help: "Blocks to produce before exiting (0 = until SIGINT).") var blocks: Int = 10
    @Option(name: .customLong("block-time"), help: "Seconds between blocks.") var blockTime: UInt64 = 1
    @Option(name: .customLong("datadir"), help: "Where the last node keeps its block store.") var datadir: String = "./devnet-data"

    /// A named devnet member.
    struct Member {
        let name: String
        let node: BlockGossipNode
        init(name: String, rollup: RollupConfig, signer: [UInt8]) throws {
            self.name = name
            node = try BlockGossipNode(rollup: rollup, signer: signer)
        }
        var host: P2PHost { node.host }
        var gossip: BlockGossip { node.gossip }
        var address: Multiaddr { node.address }
    }

    func run() async throws {
        AllocatorTuning.apply()
        guard relays >= 1, relays <= 20 else { throw CLIError("--relays must be 1–20") }
        guard blockTime >= 1 else { throw CLIError("--block-time must be at least 1") }
        LoggingSystem.bootstrap { label in var h = LogfmtHandler(label: label); h.logLevel = .warning; return h }
        let sequencerKey = Secp256k1PrivateKey()
        let signer = sequencerKey.publicKey.ethereumAddress
        let now = UInt64(Date().timeIntervalSince1970)
        let zero = [UInt8](repeating: 0, count: 32)
        let rollup = try RollupConfig(chainID: 901, genesis: .init(l1: .init(hash: zero, number: 0), l2: .init(hash: zero, number: 0),
                                                                  l2Time: now), blockTime: blockTime,
                                      forkTimes: [.regolith: 0, .canyon: 0, .delta: 0, .ecotone: 0, .fjord: 0, .granite: 0,
                                                  .holocene: 0, .isthmus: 0])
        print("devnet: chain 901, sequencer signer \(signer.prefixedHex), block time \(blockTime)s")
        let sequencer = try Member(name: "sequencer", rollup: rollup, signer: signer)
        var line = [sequencer]
        for i in 1...relays { line.append(try Member(name: "relay-\(i)", rollup: rollup, signer: signer)) }
        for (a, b) in zip(line.dropLast(), line.dropFirst()) { _ = try await b.host.connect(a.address) }
        let store = try BlockStore(directory: datadir)
        let publishedAt = Locked<[UInt64: UInt64]>([:])   // block number → publish time (ns)
        let last = line[line.count - 1]
        for m in line.dropFirst() {
            let member = m
            m.gossip.onBlock { block in
                let p = block.envelope.payload
                let sent = publishedAt.withLock { $0[p.blockNumber] } ?? 0
                let ms = Double(DispatchTime.now().uptimeNanoseconds &- sent) / 1e6
                print("  \(member.name.padding(toLength: 10, withPad: " ", startingAt: 0)) got block \(p.blockNumber) \(p.blockHash.prefixedHex.prefix(18))… from …\(block.from.description.suffix(8)), \(String(format: "%.2f", ms)) ms after publish")
                if member.name == last.name { _ = try? store.put(block.envelope, version: block.version, receivedAt: UInt64(Date().timeIntervalSince1970 * 1000), source: .gossip) }
            }
        }
        for m in line { print("  \(m.name.padding(toLength: 10, withPad: " ", startingAt: 0)) \(m.address)") }
        try await Task.sleep(for: .seconds(2))   // let the meshes form (heartbeat 500 ms)

        var parent = zero
        var produced = 0
        var number: UInt64 = 1
        while blocks == 0 || produced < blocks {
            let ts = UInt64(Date().timeIntervalSince1970)
            var payload = ExecutionPayload(parentHash: parent, feeRecipient: [UInt8](repeating: 0x42, count: 20), stateRoot: zero, receiptsRoot: zero,
                                           logsBloom: [UInt8](repeating: 0, count: 256), prevRandao: zero, blockNumber: number,
                                           gasLimit: 30_000_000, gasUsed: 21_000, timestamp: ts, extraData: [],
                                           baseFeePerGas: UInt256(7), blockHash: zero, transactions: [[0x7e] + secureRandomBytes(200)],
                                           withdrawals: [], blobGasUsed: 0, excessBlobGas: 0, withdrawalsRoot: zero)
            var env = ExecutionPayloadEnvelope(payload: payload, parentBeaconBlockRoot: zero)
            payload.blockHash = env.computeBlockHash(version: .v4)
            env.payload = payload
            print("sequencer publishes block \(number) \(payload.blockHash.prefixedHex.prefix(18))…")
            let n = number
            publishedAt.withLock { $0[n] = DispatchTime.now().uptimeNanoseconds }
            _ = try sequencer.gossip.publish(env, key: sequencerKey)
            parent = payload.blockHash
            number += 1
            produced += 1
            try await Task.sleep(for: .seconds(Int64(blockTime)))
        }
        try await Task.sleep(for: .seconds(1))
        let head = try store.head()
        print("devnet: \(last.name) stored \(try store.count()) blocks in \(store.path), head \(head.map { "\($0.number)" } ?? "none")")
        for m in line { m.node.close() }
        if let h = head, h.number != UInt64(produced) { throw CLIError("the last node's head is \(h.number), expected \(produced)") }
    }
}
