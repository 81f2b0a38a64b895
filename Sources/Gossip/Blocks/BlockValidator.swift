import Dispatch
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
    /// Latency over CPU: hash the payload for the signature (checks 7–8) on a second core while
    /// this one decodes the SSZ and computes the block hash (checks 9–12). The outcome and the
    /// order in which checks decide are unchanged; a message that fails early costs the
    /// speculative half too. Off by default (throughput per core is what it costs).
    public var overlapHashing: Bool

    public init(rollup: RollupConfig, signer: [UInt8], pastThreshold: UInt64 = 60, futureThreshold: UInt64 = 5,
                overlapHashing: Bool = false) {
        self.rollup = rollup
        self.signer = signer
        self.pastThreshold = pastThreshold
        self.futureThreshold = futureThreshold
        self.overlapHashing = overlapHashing
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
        check(version: version, data: data, now: now, prepared: decompressed.map { PreparedBlock(decompressed: $0) })
    }

    /// `check` with what the message-id function prepared (`PreparedBlockCache`): the
    /// decompressed bytes and possibly the payload hash, already running on another core.
    public func check(version: PayloadVersion, data: [UInt8], now: UInt64, prepared: PreparedBlock?) -> BlockValidationResult {
        // 1–4: snappy, bounded on the declared length before decoding.
        let raw: [UInt8]
        if let d = prepared?.decompressed {
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
        let signer: Result<[UInt8], CryptoError>
        let early: DecodedBlock?
        if let payloadHash = prepared?.payloadHash {
            // The payload hash started when the id was computed; decode and hash the block here
            // meanwhile, then recover from it.
            early = decodeAhead(version: version, payloadBytes: payloadBytes, now: now)
            signer = Result { () throws(CryptoError) in
                try BlockSigning.recoverSigner(signature: signature, chainID: config.rollup.chainID, payloadHash: payloadHash.value())
            }
        } else if config.overlapHashing {
            (signer, early) = overlapped(version: version, signature: signature, payloadBytes: payloadBytes, now: now)
        } else {
            signer = recoverSigner(signature: signature, payloadBytes: payloadBytes)
            early = nil
        }
        let recovered: [UInt8]
        switch signer {
        case .success(let address): recovered = address
        case .failure(let error): return .fail(.signatureInvalid("\(error)"))
        }
        if recovered != config.signer { return .fail(.wrongSigner(recovered: recovered), signer: recovered) }

        // 9: SSZ by the topic's version.
        let envelope: ExecutionPayloadEnvelope
        switch early?.envelope ?? decode(version: version, payloadBytes: payloadBytes) {
        case .success(let e): envelope = e
        case .failure(let error): return .fail(.sszDecode("\(error)"), signer: recovered)
        }
        let p = envelope.payload
        func fail(_ r: BlockRejection) -> BlockValidationResult { .fail(r, envelope: envelope, signer: recovered) }

        // 10–11: timestamp window (op-node subtracts unsigned; we wrap the same way).
        if let r = timestampRejection(p.timestamp, now: now) { return fail(r) }

        // 12: block hash.
        let computed = early?.blockHash ?? envelope.computeBlockHash(version: version)
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

    /// Checks 10–11.
    private func timestampRejection(_ timestamp: UInt64, now: UInt64) -> BlockRejection? {
        if timestamp < now &- config.pastThreshold { return .timestampTooOld(timestamp) }
        if timestamp > now &+ config.futureThreshold { return .timestampTooNew(timestamp) }
        return nil
    }

    /// Check 7's work: the address that signed `payloadBytes` for this chain.
    private func recoverSigner(signature: [UInt8], payloadBytes: ArraySlice<UInt8>) -> Result<[UInt8], CryptoError> {
        Result { () throws(CryptoError) in
            try BlockSigning.recoverSigner(signature: signature, chainID: config.rollup.chainID, payloadBytes: payloadBytes)
        }
    }

    /// Checks 9 and 12's results, computed before check 7 decides (`overlapHashing`).
    private struct DecodedBlock: Sendable {
        var envelope: Result<ExecutionPayloadEnvelope, SSZError>
        var blockHash: [UInt8]?
    }

    /// Check 9's work.
    private func decode(version: PayloadVersion, payloadBytes: ArraySlice<UInt8>) -> Result<ExecutionPayloadEnvelope, SSZError> {
        Result { () throws(SSZError) in try ExecutionPayloadEnvelope(ssz: payloadBytes, version: version) }
    }

    /// Checks 9–12's work, done while the signer is recovered: the decoded envelope and, if it
    /// decoded and its timestamp is in the window (else check 12 is never reached), the block hash.
    private func decodeAhead(version: PayloadVersion, payloadBytes: ArraySlice<UInt8>, now: UInt64) -> DecodedBlock {
        let envelope = decode(version: version, payloadBytes: payloadBytes)
        guard case .success(let e) = envelope, timestampRejection(e.payload.timestamp, now: now) == nil else {
            return DecodedBlock(envelope: envelope, blockHash: nil)
        }
        return DecodedBlock(envelope: envelope, blockHash: e.computeBlockHash(version: version))
    }

    /// The signer recovery (keccak of the whole payload, then ecrecover) on one core and the
    /// SSZ decode and block hash on another (`concurrentPerform` runs both halves on the calling
    /// thread when no other is free); both results are then judged in op-node order.
    private func overlapped(version: PayloadVersion, signature: [UInt8], payloadBytes: ArraySlice<UInt8>,
                            now: UInt64) -> (Result<[UInt8], CryptoError>, DecodedBlock) {
        let signer = Locked<Result<[UInt8], CryptoError>?>(nil)
        let decoded = Locked<DecodedBlock?>(nil)
        DispatchQueue.concurrentPerform(iterations: 2) { half in
            if half == 0 {
                let r = recoverSigner(signature: signature, payloadBytes: payloadBytes)
                signer.withLock { $0 = r }
            } else {
                let d = decodeAhead(version: version, payloadBytes: payloadBytes, now: now)
                decoded.withLock { $0 = d }
            }
        }
        // concurrentPerform returns after both halves ran; the fallbacks are never taken.
        return (signer.current ?? recoverSigner(signature: signature, payloadBytes: payloadBytes),
                decoded.current ?? decodeAhead(version: version, payloadBytes: payloadBytes, now: now))
    }
}
