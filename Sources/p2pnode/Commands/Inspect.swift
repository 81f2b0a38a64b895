import ArgumentParser
import Foundation
import Gossip
import P2PCore
import ReqResp
import Rollup

/// `p2pnode inspect payload|gossip|reqresp FILE`: decode a captured payload or message, verify it
/// and print every field. Exit status 0 only when it verifies (hash, or ACCEPT for gossip).
struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Decode and verify captured payloads, gossip messages and req-resp responses.",
        subcommands: [InspectPayload.self, InspectGossip.self, InspectReqResp.self]
    )
}

struct InspectPayload: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "payload",
        abstract: "Decode an execution payload or envelope (Engine-API JSON, or SSZ with --version) and verify its block hash."
    )

    @Argument(help: "Payload or envelope file: JSON, or SSZ (binary or hex text).")
    var file: String

    @Option(help: "SSZ layout 1–4 (V1 Bedrock, V2 Canyon, V3 Ecotone, V4 Isthmus). Required for SSZ; for JSON it overrides the layout inferred from the fields present.")
    var version: Int?

    @Option(name: .customLong("parent-beacon-root"), help: "Parent beacon block root (hex) for a bare V3/V4 SSZ payload.")
    var parentBeaconRoot: String?

    @OptionGroup var rollup: RollupOptions

    func run() throws {
        let bytes = try InputFile.read(file)
        let explicit = try version.map { v -> PayloadVersion in
            guard let pv = PayloadVersion(rawValue: v) else { throw CLIError("--version must be 1, 2, 3 or 4, got \(v)") }
            return pv
        }
        let config = try rollup.load()
        var env: ExecutionPayloadEnvelope
        var layout: PayloadVersion
        if InputFile.looksLikeJSON(bytes) {
            do { env = try ExecutionPayloadEnvelope(engineJSON: bytes) } catch { throw CLIError("\(file): \(error)") }
            layout = explicit ?? config?.payloadVersion(at: env.payload.timestamp) ?? Self.versionFromFields(env.payload)
            PayloadPrinter.line("format:", "Engine-API JSON")
        } else {
            guard let v = explicit else { throw CLIError("\(file): SSZ input needs --version 1|2|3|4") }
            let ssz = try InputFile.readBinaryOrHex(file)
            layout = v
            (env, _) = try Self.decodeSSZ(ssz, version: v, file: file)
            PayloadPrinter.line("format:", env.parentBeaconBlockRoot == nil && v >= .v3 ? "SSZ payload (no beacon root)" : "SSZ")
        }
        if let pbr = parentBeaconRoot {
            do { env.parentBeaconBlockRoot = try [UInt8](hex: pbr, count: 32) } catch { throw CLIError("--parent-beacon-root: \(error)") }
        }
        PayloadPrinter.show(env, version: layout)
        if layout >= .v3 && env.parentBeaconBlockRoot == nil {
            PayloadPrinter.line("hash:", "cannot verify a \(layout) payload without its parent beacon block root (--parent-beacon-root)")
            throw ExitCode(1)
        }
        if !PayloadPrinter.printHashCheck(env, version: layout) { throw ExitCode(1) }
    }

    /// The layout suggested by which optional fields a JSON payload carries.
    static func versionFromFields(_ p: ExecutionPayload) -> PayloadVersion {
        if p.withdrawalsRoot != nil { return .v4 }
        if p.blobGasUsed != nil || p.excessBlobGas != nil { return .v3 }
        if p.withdrawals != nil { return .v2 }
        return .v1
    }

    /// Decodes V1/V2 payloads, and V3/V4 either as an envelope (beacon root ++ payload) or as a
    /// bare payload, told apart by where the extraData offset equals the fixed size.
    static func decodeSSZ(_ ssz: [UInt8], version: PayloadVersion, file: String) throws -> (ExecutionPayloadEnvelope, Bool) {
        func offsetAt(_ i: Int) -> Int? {
            guard ssz.count >= i + 4 else { return nil }
            return Int(ssz[i]) | Int(ssz[i + 1]) << 8 | Int(ssz[i + 2]) << 16 | Int(ssz[i + 3]) << 24
        }
        do {
            if version >= .v3 && offsetAt(436) == version.sszFixedSize && offsetAt(468) != version.sszFixedSize {
                return (ExecutionPayloadEnvelope(payload: try ExecutionPayload(ssz: ssz, version: version)), false)
            }
            return (try ExecutionPayloadEnvelope(ssz: ssz, version: version), true)
        } catch {
            throw CLIError("\(file): \(error)")
        }
    }
}

struct InspectGossip: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gossip",
        abstract: "Decode a block gossip message (snappy block format) and validate it as op-node does."
    )

    @Argument(help: "The pubsub message data (binary, or hex text).")
    var file: String

    @Option(help: "The topic it arrived on, e.g. /optimism/10/3/blocks.")
    var topic: String

    @Option(help: "Unsafe-block signer address. Without it the recovered signer is assumed to be the configured one.")
    var signer: String?

    @Option(help: "Unix time the validator uses as now (default: the wall clock).")
    var now: UInt64?

    @Option(name: .customLong("p2p.gossip.timestamp.threshold"), help: "Seconds a block may lie in the past.")
    var threshold: UInt64 = 60

    @OptionGroup var rollup: RollupOptions

    func run() throws {
        let data = try InputFile.readBinaryOrHex(file)
        guard let (chainID, version) = Self.parseTopic(topic) else {
            throw CLIError("--topic \(topic): not an OP block topic (/optimism/<chainId>/<0-3>/blocks)")
        }
        var config = try rollup.load() ?? RollupConfig.forTesting(chainID: chainID)
        if config.chainID != chainID {
            throw CLIError("--topic is for chain \(chainID) but the rollup config is chain \(config.chainID)")
        }
        let usingDefaultConfig = rollup.rollupConfig == nil && rollup.network == nil
        if usingDefaultConfig { config = RollupConfig.forTesting(chainID: chainID) }
        let nowValue = now ?? UInt64(Date().timeIntervalSince1970)

        PayloadPrinter.line("topic:", "\(topic) (chain \(chainID), block version \(version))")
        PayloadPrinter.line("size:", "\(data.count) bytes compressed")
        let decompressed = OPMessageID.decompress(data)
        if let d = decompressed { PayloadPrinter.line("decompressed:", "\(d.count) bytes") }
        PayloadPrinter.line("message id:", OPMessageID.compute(topic: topic, data: data, decompressed: decompressed).prefixedHex)

        var signerAddress: [UInt8]
        if let s = signer {
            signerAddress = try parseAddress(s, flag: "--signer")
        } else if let d = decompressed, d.count >= BlockValidator.minGossipSize,
                  let a = try? BlockSigning.recoverSigner(signature: Array(d[0..<65]), chainID: chainID, payloadBytes: d[65...]) {
            signerAddress = a
            print("note: no --signer given; judging as if the recovered signer \(a.prefixedHex) were configured")
        } else {
            signerAddress = [UInt8](repeating: 0xff, count: 20)  // nothing recovers to this: the signature rule decides
            print("note: no --signer given and no signer could be recovered")
        }
        if usingDefaultConfig { print("note: no --rollup.config; all forks through Isthmus assumed active, Jovian inactive") }
        PayloadPrinter.line("now:", "\(nowValue)\(now == nil ? " (wall clock)" : "")")

        var validator = BlockValidator(config: BlockValidatorConfig(rollup: config, signer: signerAddress, pastThreshold: threshold))
        let result = validator.validate(version: version, data: data, now: nowValue, decompressed: decompressed)
        if let s = result.signer { PayloadPrinter.line("signer (recovered):", s.prefixedHex) }
        if let env = result.envelope {
            PayloadPrinter.line("block:", "number \(env.payload.blockNumber), hash \(env.payload.blockHash.prefixedHex)")
            PayloadPrinter.show(env, version: version)
        }
        switch (result.outcome, result.rejection) {
        case (.accept, _): print("outcome: ACCEPT")
        case (.ignore, let r?): print("outcome: IGNORE: \(r)")
        case (.reject, let r?): print("outcome: REJECT: \(r)")
        case (let o, nil): print("outcome: \(o)")
        }
        if result.outcome != .accept { throw ExitCode(1) }
    }

    static func parseTopic(_ t: String) -> (UInt64, PayloadVersion)? {
        let parts = t.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 5, parts[0].isEmpty, parts[1] == "optimism", parts[4] == "blocks",
              let chain = UInt64(parts[2]), let v = Int(parts[3]), let version = PayloadVersion(rawValue: v + 1) else { return nil }
        return (chain, version)
    }
}

struct InspectReqResp: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reqresp",
        abstract: "Decode a payload_by_number response (result code, version, snappy-framed payload) and verify it."
    )

    @Argument(help: "The raw response stream (binary, or hex text).")
    var file: String

    @Option(name: .customLong("chain-id"), help: "L2 chain id (names the protocol id).")
    var chainID: UInt64

    @Option(help: "The block number that was requested (default: the number in the payload).")
    var number: UInt64?

    @OptionGroup var rollup: RollupOptions

    func run() throws {
        let bytes = try InputFile.readBinaryOrHex(file)
        PayloadPrinter.line("protocol:", PayloadByNumber.protocolID(chainID: chainID))
        PayloadPrinter.line("size:", "\(bytes.count) bytes")
        guard let code = bytes.first else { throw CLIError("\(file): empty response") }
        let codeName = PayloadByNumber.ResultCode(rawValue: code).map { "\($0)" } ?? "reserved"
        PayloadPrinter.line("result:", "\(code) (\(codeName))")
        guard code == 0 else { throw ExitCode(1) }
        guard bytes.count >= 5 else { throw CLIError("\(file): response ends inside the 5-byte header") }
        let version = UInt32(bytes[1]) | UInt32(bytes[2]) << 8 | UInt32(bytes[3]) << 16 | UInt32(bytes[4]) << 24
        PayloadPrinter.line("version:", "\(version)\(version == 1 ? " (envelope)" : version == 0 ? " (payload)" : " (unknown)")")
        let ssz: [UInt8]
        do { ssz = try SnappyFramed.decode(bytes[5...], maxOutput: PayloadByNumber.maxResponseSize) } catch {
            throw CLIError("\(file): snappy framed: \(error)")
        }
        PayloadPrinter.line("decompressed:", "\(ssz.count) bytes")

        let env: ExecutionPayloadEnvelope
        let layout: PayloadVersion
        if let config = try rollup.load() {
            guard config.chainID == chainID else { throw CLIError("--chain-id \(chainID) differs from the rollup config's \(config.chainID)") }
            let inferred = PayloadByNumber.inferLayout(version: version, ssz: ssz)
            let n = try number ?? inferred.flatMap { try? ExecutionPayloadEnvelope(ssz: ssz, version: $0).payload.blockNumber }
                ?? { throw CLIError("\(file): cannot read the block number; pass --number") }()
            do { (env, layout) = try PayloadByNumber.decodeResponse(bytes, requestedNumber: n, config: config) } catch {
                throw CLIError("\(file): \(error)")
            }
        } else {
            guard let l = PayloadByNumber.inferLayout(version: version, ssz: ssz) else {
                throw CLIError("\(file): version \(version) with an unrecognised layout; pass --rollup.config")
            }
            layout = l
            do { env = try ExecutionPayloadEnvelope(ssz: ssz, version: l) } catch { throw CLIError("\(file): \(error)") }
            print("note: no --rollup.config; layout \(l) inferred from the extraData offset")
            if let n = number, n != env.payload.blockNumber {
                throw CLIError("\(file): asked for block \(n), got \(env.payload.blockNumber)")
            }
        }
        PayloadPrinter.show(env, version: layout)
        if !PayloadPrinter.printHashCheck(env, version: layout) { throw ExitCode(1) }
    }
}
