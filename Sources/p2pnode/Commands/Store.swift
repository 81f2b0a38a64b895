import ArgumentParser
import Foundation
import P2PCore
import Rollup

/// `p2pnode store import|ls|get`: fill and read the persistent block store (`BlockStore`, the
/// store payload_by_number serves from, spec §5.1), with the SSZ layouts of spec §1.3. A hidden
/// `stress-write` subcommand writes synthetic blocks and acknowledges each durable put (the crash
/// test and the put benchmark use it).
struct Store: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Import blocks into the block store and read them back.",
        subcommands: [StoreImport.self, StoreList.self, StoreGet.self, StoreStressWrite.self]
    )
}

/// `--datadir` (env `P2PNODE_DATADIR`) and `--store.retention`, for the store commands and `run`.
struct StoreOptions: ParsableArguments {
    static let defaultDirectory = "./p2pnode-data"

    @Option(name: .customLong("datadir"), help: "Data directory holding \(BlockStore.fileName) (default \(StoreOptions.defaultDirectory)).")
    var datadir: String?

    @Option(name: .customLong("store.retention"), help: "Keep only the most recent N block numbers (default: keep every block).")
    var retention: UInt64?

    var directory: String { datadir ?? Environment.current["P2PNODE_DATADIR"] ?? Self.defaultDirectory }

    /// Opens (creating if needed) the store.
    func open() throws -> BlockStore {
        do { return try BlockStore(directory: directory, retention: retention) } catch { throw CLIError("\(error)") }
    }

    /// Opens a store that must already exist (the read commands never create one).
    func openExisting() throws -> BlockStore {
        let file = URL(fileURLWithPath: directory).appendingPathComponent(BlockStore.fileName).path
        guard FileManager.default.fileExists(atPath: file) else { throw CLIError("no block store at \(file)") }
        return try open()
    }
}

/// Writes one line to stderr (per-file failures that do not end the command).
private func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

private func nowMillis() -> UInt64 { UInt64(max(0, Date().timeIntervalSince1970 * 1000)) }

struct StoreImport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Verify the block hash of payload/envelope files (Engine-API JSON or SSZ) and store them."
    )

    @OptionGroup var store: StoreOptions
    @OptionGroup var rollup: RollupOptions

    @Option(help: "SSZ layout 1–4 for every file (default: from the rollup config's fork at the payload's timestamp; JSON: from the fields present).")
    var version: Int?

    @Option(name: .customLong("parent-beacon-root"), help: "Parent beacon block root (hex) for bare V3/V4 SSZ payloads.")
    var parentBeaconRoot: String?

    @Flag(name: .customLong("stop-on-error"), help: "Stop at the first file that fails (default: report it and go on).")
    var stopOnError = false

    @Argument(help: "Payload or envelope files: JSON, or SSZ (binary or hex text).")
    var files: [String]

    func run() throws {
        let explicit = try version.map { v -> PayloadVersion in
            guard let pv = PayloadVersion(rawValue: v) else { throw CLIError("--version must be 1, 2, 3 or 4, got \(v)") }
            return pv
        }
        let root = try parentBeaconRoot.map { text -> [UInt8] in
            do { return try [UInt8](hex: text, count: 32) } catch { throw CLIError("--parent-beacon-root: \(error)") }
        }
        let config = try rollup.load()
        let db = try store.open()
        var counts = (inserted: 0, present: 0, old: 0, failed: 0)
        for file in files {
            do {
                let (env, layout, ssz) = try Self.decode(file: file, explicit: explicit, config: config, parentBeaconRoot: root)
                let n = env.payload.blockNumber
                if layout.hasParentBeaconBlockRoot && env.parentBeaconBlockRoot == nil {
                    throw CLIError("\(file): block \(n) is a bare \(layout) payload; its hash needs the parent beacon block root (--parent-beacon-root or an envelope file)")
                }
                let computed = env.computeBlockHash(version: layout)
                guard computed == env.payload.blockHash else {
                    throw CLIError("\(file): block \(n) has a wrong hash: claimed \(env.payload.blockHash.prefixedHex), computed \(computed.prefixedHex) (\(layout))")
                }
                let result: PutResult
                do {
                    result = try ssz.map { try db.put(ssz: $0, version: layout, receivedAt: nowMillis(), source: .import) }
                        ?? db.put(env, version: layout, receivedAt: nowMillis(), source: .import)
                } catch { throw CLIError("\(file): \(error)") }
                switch result {
                case .inserted: counts.inserted += 1
                case .alreadyPresent: counts.present += 1
                case .belowRetention: counts.old += 1
                }
                print("\(file): block \(n) \(env.payload.blockHash.prefixedHex) \(layout): \(result)")
            } catch {
                counts.failed += 1
                printError("error: \(error)")
                if stopOnError { break }
            }
        }
        print("imported \(counts.inserted), already present \(counts.present), below retention \(counts.old), failed \(counts.failed)")
        if counts.failed > 0 { throw ExitCode(1) }
    }

    /// Decodes one file: JSON (layout from --version, the config, or the fields present) or SSZ
    /// (layout from --version or the config's fork at the timestamp, read at byte 428 of a payload
    /// or 460 of an envelope). Returns the SSZ bytes to store verbatim when the file is an envelope
    /// (or a V1/V2 payload), nil when the store should encode the envelope.
    static func decode(file: String, explicit: PayloadVersion?, config: RollupConfig?,
                       parentBeaconRoot: [UInt8]?) throws -> (ExecutionPayloadEnvelope, PayloadVersion, [UInt8]?) {
        let raw = try InputFile.read(file)
        if InputFile.looksLikeJSON(raw) {
            var env: ExecutionPayloadEnvelope
            do { env = try ExecutionPayloadEnvelope(engineJSON: raw) } catch { throw CLIError("\(file): \(error)") }
            if let parentBeaconRoot { env.parentBeaconBlockRoot = parentBeaconRoot }
            let layout = explicit ?? config?.payloadVersion(at: env.payload.timestamp) ?? InspectPayload.versionFromFields(env.payload)
            return (env, layout, nil)
        }
        let ssz = try InputFile.readBinaryOrHex(file)
        guard let layout = explicit ?? config.flatMap({ sszLayout(ssz, config: $0) }) else {
            throw CLIError(config == nil ? "\(file): SSZ input needs --version 1|2|3|4 or a rollup config (--rollup.config, --network)"
                                         : "\(file): not an SSZ payload or envelope of the fork active at its timestamp")
        }
        var (env, isEnvelope) = try InspectPayload.decodeSSZ(ssz, version: layout, file: file)
        if layout.hasParentBeaconBlockRoot && !isEnvelope {
            // A bare V3/V4 payload: the store encodes pbr ++ payload once the root is known.
            env.parentBeaconBlockRoot = parentBeaconRoot
            return (env, layout, nil)
        }
        return (env, layout, ssz)
    }

    /// The layout of the fork active at the timestamp, read where a bare payload (byte 428) or an
    /// envelope (byte 460) keeps it, accepted where the extraData offset equals that layout's fixed size.
    static func sszLayout(_ ssz: [UInt8], config: RollupConfig) -> PayloadVersion? {
        func le(_ at: Int, _ count: Int) -> UInt64? {
            guard ssz.count >= at + count else { return nil }
            return (0..<count).reduce(UInt64(0)) { $0 | UInt64(ssz[at + $1]) << (8 * UInt64($1)) }
        }
        if let ts = le(428, 8), le(436, 4) == UInt64(config.payloadVersion(at: ts).sszFixedSize) {
            return config.payloadVersion(at: ts)
        }
        if let ts = le(460, 8), config.payloadVersion(at: ts).hasParentBeaconBlockRoot,
           le(468, 4) == UInt64(config.payloadVersion(at: ts).sszFixedSize) {
            return config.payloadVersion(at: ts)
        }
        return nil
    }
}

struct StoreList: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls",
        abstract: "List stored blocks by number (* marks the canonical block at each height)."
    )

    @OptionGroup var store: StoreOptions

    @Option(help: "First block number (default: list the newest blocks).")
    var from: UInt64?

    @Option(help: "Most blocks to list (1–\(BlockStore.maxQueryLimit)).")
    var limit: Int = 50

    func run() throws {
        guard (1...BlockStore.maxQueryLimit).contains(limit) else {
            throw CLIError("--limit must be between 1 and \(BlockStore.maxQueryLimit), got \(limit)")
        }
        let db = try store.openExisting()
        guard let range = try db.range() else {
            print("\(db.path): empty")
            return
        }
        let rows = try from.map { try db.blocks(from: $0, limit: limit) } ?? db.blocks(through: range.upperBound, limit: limit)
        print("number      hash                                                                parent                                                              layout  source   canonical")
        for b in rows {
            let number = "\(b.number)".padding(toLength: 10, withPad: " ", startingAt: 0)
            let source = b.source.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0)
            print("\(number)  \(b.hash.prefixedHex)  \(b.parentHash.prefixedHex)  \(b.version)      \(source) \(b.isCanonical ? "*" : "")")
        }
        let head = try db.head()
        print("\(try db.count()) blocks, numbers \(range.lowerBound)…\(range.upperBound), head \(head.map { "\($0.number) \($0.hash.prefixedHex)" } ?? "none")")
    }
}

struct StoreGet: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get",
        abstract: "Show the canonical block at a number (or a block by 0x hash): fields, Engine-API JSON, or its stored SSZ."
    )

    @OptionGroup var store: StoreOptions

    @Argument(help: "Block number (the canonical block) or 0x-prefixed block hash.")
    var block: String

    @Flag(help: "Print the Engine-API JSON envelope instead of the fields.")
    var json = false

    @Option(name: .customLong("ssz-out"), help: "Write the stored SSZ (pbr ++ payload for V3/V4, payload for V1/V2) to this file.")
    var sszOut: String?

    func run() throws {
        if json && sszOut != nil { throw CLIError("use either --json or --ssz-out, not both") }
        let db = try store.openExisting()
        let found: StoredBlock?
        if block.hasPrefix("0x") {
            let hash: [UInt8]
            do { hash = try [UInt8](hex: block, count: 32) } catch { throw CLIError("\(block): not a 32-byte hash: \(error)") }
            found = try db.get(hash: hash)
        } else {
            guard let n = UInt64(block) else { throw CLIError("\(block): not a block number or 0x hash") }
            found = try db.canonical(number: n)
        }
        guard let stored = found, let ssz = try stored.sszBytes() else {
            throw CLIError("\(db.path): no \(block.hasPrefix("0x") ? "block \(block)" : "canonical block at \(block)")")
        }
        if let sszOut {
            guard FileManager.default.createFile(atPath: sszOut, contents: Data(ssz)) else { throw CLIError("\(sszOut): cannot write") }
            print("wrote \(ssz.count) bytes (\(stored.version) \(stored.version.hasParentBeaconBlockRoot ? "envelope" : "payload")) of block \(stored.number) to \(sszOut)")
            return
        }
        guard let env = try stored.envelope() else { throw CLIError("\(db.path): block \(block) was pruned") }
        if json {
            print(env.engineJSON())
            return
        }
        PayloadPrinter.line("source:", "\(stored.source), received \(stored.receivedAt) ms")
        PayloadPrinter.line("canonical:", stored.isCanonical ? "yes" : "no")
        PayloadPrinter.show(env, version: stored.version)
        if !PayloadPrinter.printHashCheck(env, version: stored.version) { throw ExitCode(1) }
    }
}

/// Hidden: writes `--count` synthetic V4 blocks on top of the head, printing `ack <number> <hash>`
/// (unbuffered) after each `put` returns, then the rate on stderr.
struct StoreStressWrite: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stress-write",
        abstract: "Write synthetic blocks and acknowledge each durable put (testing and benchmarking).",
        shouldDisplay: false
    )

    @OptionGroup var store: StoreOptions

    @Option(help: "Blocks to write.")
    var count: UInt64 = 1000

    @Option(name: .customLong("tx-bytes"), help: "Size of one opaque transaction per block (0–1048576).")
    var txBytes: Int = 0

    func run() throws {
        guard (0...(1 << 20)).contains(txBytes) else { throw CLIError("--tx-bytes must be between 0 and 1048576") }
        let db = try store.open()
        let head = try db.head()
        var parent = head?.hash ?? [UInt8](repeating: 0, count: 32)
        let first = head.map { $0.number + 1 } ?? 0
        guard count <= UInt64(Int64.max) - first else { throw CLIError("--count \(count) would pass the highest block number") }
        let tx = (0..<txBytes).map { UInt8(truncatingIfNeeded: $0 &* 131) }
        let started = DispatchTime.now().uptimeNanoseconds
        for number in first..<(first + count) {
            let env = Self.syntheticBlock(number: number, parent: parent, tx: tx)
            try db.put(env, version: .v4, receivedAt: nowMillis(), source: .engine)
            FileHandle.standardOutput.write(Data("ack \(number) \(env.payload.blockHash.prefixedHex)\n".utf8))
            parent = env.payload.blockHash
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        printError(String(format: "wrote %llu blocks in %.3f s: %.0f blocks/s", count, seconds, Double(count) / max(seconds, 1e-9)))
    }

    /// A V4 block with a valid hash: a fixed template whose number, parent, timestamp and
    /// extraData vary.
    static func syntheticBlock(number: UInt64, parent: [UInt8], tx: [UInt8]) -> ExecutionPayloadEnvelope {
        let zero32 = [UInt8](repeating: 0, count: 32)
        let payload = ExecutionPayload(
            parentHash: parent, feeRecipient: [UInt8](repeating: 0x42, count: 20), stateRoot: zero32, receiptsRoot: zero32,
            logsBloom: [UInt8](repeating: 0, count: 256), prevRandao: zero32, blockNumber: number, gasLimit: 30_000_000,
            gasUsed: 0, timestamp: 1_700_000_000 &+ 2 &* number, extraData: Array("stress \(number)".utf8.prefix(32)),
            baseFeePerGas: UInt256(7), blockHash: zero32, transactions: tx.isEmpty ? [] : [tx], withdrawals: [],
            blobGasUsed: 0, excessBlobGas: 0, withdrawalsRoot: zero32)
        var env = ExecutionPayloadEnvelope(payload: payload, parentBeaconBlockRoot: zero32)
        env.payload.blockHash = env.computeBlockHash(version: .v4)
        return env
    }
}
