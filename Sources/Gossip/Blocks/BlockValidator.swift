import P2PCore
import Rollup

/// The outcome gossipsub acts on (libp2p ValidationResult).
public enum ValidationOutcome: Sendable, Equatable {
    case accept
    case ignore
    case reject
}

/// Why a block message was not accepted. One case per rule of spec §3, named after the check.
public enum BlockRejection: Sendable, Equatable, CustomStringConvertible {
    case snappyLength                 // 1  DecodedLen errors
    case tooLarge(Int)                // 2  > 10 MiB
    case tooSmall(Int)                // 3  < 66
    case snappyDecode                 // 4  Decode errors
    case noSignerConfigured           // 6  IGNORE
    case signatureInvalid(String)     // 7
    case wrongSigner(recovered: [UInt8]) // 8
    case sszDecode(String)            // 9
    case timestampTooOld(UInt64)      // 10
    case timestampTooNew(UInt64)      // 11
    case blockHashMismatch(computed: [UInt8]) // 12
    case withdrawalsNotAllowed        // 13
    case withdrawalsMissing           // 14
    case withdrawalsNotEmpty(Int)     // 15
    case blobFieldsNotAllowed         // 16
    case blobGasUsedInvalid           // 17
    case excessBlobGasInvalid         // 18
    case parentBeaconRootMissing      // 19
    case withdrawalsRootMissing       // 20
    case tooManyBlocksAtHeight(UInt64)  // 21
    case alreadySeen                  // 22 IGNORE

    /// The outcome op-node gives this case.
    public var outcome: ValidationOutcome {
        switch self {
        case .noSignerConfigured, .alreadySeen: return .ignore
        default: return .reject
        }
    }

    /// A stable class name (used by tests, metrics labels and `inspect gossip`).
    public var reasonClass: String {
        switch self {
        case .snappyLength: return "snappy_length"
        case .tooLarge: return "too_large"
        case .tooSmall: return "too_small"
        case .snappyDecode: return "snappy_decode"
        case .noSignerConfigured: return "no_signer"
        case .signatureInvalid: return "bad_signature"
        case .wrongSigner: return "wrong_signer"
        case .sszDecode: return "ssz_decode"
        case .timestampTooOld: return "timestamp_too_old"
        case .timestampTooNew: return "timestamp_too_new"
        case .blockHashMismatch: return "block_hash"
        case .withdrawalsNotAllowed: return "withdrawals_not_allowed"
        case .withdrawalsMissing: return "withdrawals_missing"
        case .withdrawalsNotEmpty: return "withdrawals_not_empty"
        case .blobFieldsNotAllowed: return "blob_fields_not_allowed"
        case .blobGasUsedInvalid: return "blob_gas_used"
        case .excessBlobGasInvalid: return "excess_blob_gas"
        case .parentBeaconRootMissing: return "parent_beacon_root_missing"
        case .withdrawalsRootMissing: return "withdrawals_root_missing"
        case .tooManyBlocksAtHeight: return "too_many_blocks_at_height"
        case .alreadySeen: return "already_seen"
        }
    }

    public var description: String {
        switch self {
        case .snappyLength: return "snappy: cannot read decoded length"
        case .tooLarge(let n): return "decoded size \(n) exceeds 10 MiB"
        case .tooSmall(let n): return "decoded size \(n) below the 66-byte minimum"
        case .snappyDecode: return "snappy: invalid compressed data"
        case .noSignerConfigured: return "no unsafe-block signer configured"
        case .signatureInvalid(let e): return "signature cannot be recovered: \(e)"
        case .wrongSigner(let a): return "signed by \(a.prefixedHex), not the configured unsafe-block signer"
        case .sszDecode(let e): return "payload does not decode: \(e)"
        case .timestampTooOld(let t): return "timestamp \(t) is too far in the past"
        case .timestampTooNew(let t): return "timestamp \(t) is too far in the future"
        case .blockHashMismatch(let h): return "block hash does not match contents (computed \(h.prefixedHex))"
        case .withdrawalsNotAllowed: return "V1 payload must not have withdrawals"
        case .withdrawalsMissing: return "V2+ payload must have a withdrawals list"
        case .withdrawalsNotEmpty(let n): return "withdrawals list must be empty (has \(n))"
        case .blobFieldsNotAllowed: return "V1/V2 payload must not have blob gas fields"
        case .blobGasUsedInvalid: return "blobGasUsed must be present and 0 before Jovian"
        case .excessBlobGasInvalid: return "excessBlobGas must be present and 0"
        case .parentBeaconRootMissing: return "V3+ payload must have a parent beacon block root"
        case .withdrawalsRootMissing: return "V4 payload must have a withdrawals root"
        case .tooManyBlocksAtHeight(let n): return "seen too many different blocks at height \(n)"
        case .alreadySeen: return "block already seen at this height"
        }
    }
}

/// The result of validating one gossip message.
public struct BlockValidationResult: Sendable {
    public let outcome: ValidationOutcome
    public let rejection: BlockRejection?
    /// The decoded envelope, when decoding got that far.
    public let envelope: ExecutionPayloadEnvelope?
    /// The recovered signer address, when recovery succeeded.
    public let signer: [UInt8]?

    static func fail(_ r: BlockRejection, envelope: ExecutionPayloadEnvelope? = nil, signer: [UInt8]? = nil) -> Self {
        BlockValidationResult(outcome: r.outcome, rejection: r, envelope: envelope, signer: signer)
    }
}

/// Per-height record of the block hashes seen (op-node: an LRU of 1000 heights, each a list of
/// hashes). More than 5 distinct hashes at a height make every later message at that height
/// REJECT, even a re-delivery of a known hash (spec §0.1 item 9).
public struct SeenBlocksByHeight: Sendable {
    public static let heights = 1000
    public static let maxPerHeight = 5
    private var lru = LRUCache<UInt64, [[UInt8]]>(capacity: SeenBlocksByHeight.heights)

    public init() {}

    /// Records `hash` at `number`, returning the rejection if op-node's rule fires.
    mutating func record(number: UInt64, hash: [UInt8]) -> BlockRejection? {
        var result: BlockRejection?
        lru.update(number, default: { [] }) { seen in
            if seen.count > SeenBlocksByHeight.maxPerHeight { result = .tooManyBlocksAtHeight(number); return }
            if seen.contains(hash) { result = .alreadySeen; return }
            seen.append(hash)
        }
        return result
    }

    public func hashes(at number: UInt64) -> [[UInt8]] { lru.peek(number) ?? [] }
}

/// Validation parameters (spec §3): the chain, the single accepted signer, and the timestamp window.
public struct BlockValidatorConfig: Sendable {
    public var rollup: RollupConfig
    /// The unsafe-block signer address (20 bytes). All zeros = none configured (everything IGNOREd).
    public var signer: [UInt8]
    /// `--p2p.gossip.timestamp.threshold` (default 60 s): how far in the past a block may be.
    public var pastThreshold: UInt64
    /// How far in the future a block may be (op-node: 5 s, fixed).
    public var futureThreshold: UInt64

    public init(rollup: RollupConfig, signer: [UInt8], pastThreshold: UInt64 = 60, futureThreshold: UInt64 = 5) {
        self.rollup = rollup
        self.signer = signer
        self.pastThreshold = pastThreshold
        self.futureThreshold = futureThreshold
    }
}

/// op-node's block validator (`BuildBlocksValidator`), the 23 checks of spec §3 in execution
/// order. A value type: a pure function of (topic version, message bytes, configuration, `now`,
/// and its own per-height cache). One instance per topic, as in op-node.
public struct BlockValidator: Sendable {
    public static let minGossipSize = 66
    public var config: BlockValidatorConfig
    public private(set) var seen = SeenBlocksByHeight()

    public init(config: BlockValidatorConfig) { self.config = config }

    /// Validates `data` (the pubsub message data: snappy block format) received on the topic of
    /// `version`. `now` is Unix seconds. `decompressed` may carry the bytes the message-id function
    /// already decompressed, so large blocks are decompressed once.
    public mutating func validate(version: PayloadVersion, data: [UInt8], now: UInt64,
                                  decompressed: [UInt8]? = nil) -> BlockValidationResult {
        record(check(version: version, data: data, now: now, decompressed: decompressed))
    }

    /// Checks 21–23 on a result of `check`: the per-height seen cache. Cheap; callers that run
    /// `check` concurrently serialise only this step.
    public mutating func record(_ result: BlockValidationResult) -> BlockValidationResult {
        guard result.outcome == .accept, let env = result.envelope else { return result }
        if let r = seen.record(number: env.payload.blockNumber, hash: env.payload.blockHash) {
            return .fail(r, envelope: env, signer: result.signer)
        }
        return result
    }

    /// Checks 1–20 (everything but the per-height seen cache), without mutating anything, so it
    /// can run on several messages at once. `.accept` here means "passed so far".
    public func check(version: PayloadVersion, data: [UInt8], now: UInt64,
                      decompressed: [UInt8]? = nil) -> BlockValidationResult {
        // 1–4: snappy, bounded on the declared length before decoding.
        let raw: [UInt8]
        if let d = decompressed {
            guard d.count >= Self.minGossipSize else { return .fail(.tooSmall(d.count)) }
            raw = d
        } else {
            let n: Int
            do { n = try Snappy.decodedLength(data) } catch { return .fail(.snappyLength) }
            if n > OPMessageID.maxGossipSize { return .fail(.tooLarge(n)) }
            if n < Self.minGossipSize { return .fail(.tooSmall(n)) }
            do { raw = try Snappy.decompress(data, maxLength: OPMessageID.maxGossipSize) } catch { return .fail(.snappyDecode) }
        }
        // 5: signature ++ payload bytes.
        let signature = Array(raw[0..<65])
        let payloadBytes = raw[65...]

        // 6–8: the signer, before anything expensive.
        if config.signer.allSatisfy({ $0 == 0 }) { return .fail(.noSignerConfigured) }
        let recovered: [UInt8]
        do {
            recovered = try BlockSigning.recoverSigner(signature: signature, chainID: config.rollup.chainID, payloadBytes: payloadBytes)
        } catch {
            return .fail(.signatureInvalid("\(error)"))
        }
        if recovered != config.signer { return .fail(.wrongSigner(recovered: recovered), signer: recovered) }

        // 9: SSZ by the topic's version.
        let envelope: ExecutionPayloadEnvelope
        do {
            envelope = try ExecutionPayloadEnvelope(ssz: payloadBytes, version: version)
        } catch {
            return .fail(.sszDecode("\(error)"), signer: recovered)
        }
        let p = envelope.payload
        func fail(_ r: BlockRejection) -> BlockValidationResult { .fail(r, envelope: envelope, signer: recovered) }

        // 10–11: timestamp window (op-node subtracts unsigned; we wrap the same way).
        if p.timestamp < now &- config.pastThreshold { return fail(.timestampTooOld(p.timestamp)) }
        if p.timestamp > now &+ config.futureThreshold { return fail(.timestampTooNew(p.timestamp)) }

        // 12: block hash.
        let computed = envelope.computeBlockHash(version: version)
        if computed != p.blockHash { return fail(.blockHashMismatch(computed: computed)) }

        // 13–20: version rules.
        if version == .v1 && p.withdrawals != nil { return fail(.withdrawalsNotAllowed) }
        if version >= .v2 {
            guard let w = p.withdrawals else { return fail(.withdrawalsMissing) }
            if !w.isEmpty { return fail(.withdrawalsNotEmpty(w.count)) }
        }
        if version <= .v2 && (p.blobGasUsed != nil || p.excessBlobGas != nil) { return fail(.blobFieldsNotAllowed) }
        if version >= .v3 {
            guard let used = p.blobGasUsed else { return fail(.blobGasUsedInvalid) }
            if used != 0 && !config.rollup.isActive(.jovian, at: p.timestamp) { return fail(.blobGasUsedInvalid) }
            guard let excess = p.excessBlobGas, excess == 0 else { return fail(.excessBlobGasInvalid) }
            if envelope.parentBeaconBlockRoot == nil { return fail(.parentBeaconRootMissing) }
        }
        if version == .v4 && p.withdrawalsRoot == nil { return fail(.withdrawalsRootMissing) }
        return BlockValidationResult(outcome: .accept, rejection: nil, envelope: envelope, signer: recovered)
    }
}
