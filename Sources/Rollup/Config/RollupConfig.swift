/// The part of op-node's rollup configuration (op-node/rollup/types.go `Config`) that the p2p
/// layer needs: chain id, genesis, block time and fork activation times, with the fork queries,
/// the payload version per timestamp (spec §1.1, §7.1) and `TimestampForBlock` /
/// `TargetBlockNumber` (spec §5.1).

/// Why a rollup configuration is invalid.
public enum RollupConfigError: Error, Equatable, Sendable, CustomStringConvertible {
    case fileTooLarge(path: String, size: Int, max: Int)
    case unreadableFile(path: String)
    case malformedJSON(String)
    /// A field has the wrong type, is missing, or is out of range. `field` is a JSON path.
    case invalidField(field: String, reason: String)
    case missingChainID
    case zeroBlockTime
    case missingGenesisL2Time
    /// A fork is set while the fork before it is not, or is set earlier than it.
    case forkOrder(earlier: Fork, later: Fork)

    public var description: String {
        switch self {
        case .fileTooLarge(let p, let s, let m): return "rollup config \(p) is \(s) bytes, more than \(m)"
        case .unreadableFile(let p): return "cannot read rollup config \(p)"
        case .malformedJSON(let r): return "rollup config is not valid JSON: \(r)"
        case .invalidField(let f, let r): return "rollup config field \(f): \(r)"
        case .missingChainID: return "rollup config has no l2_chain_id"
        case .zeroBlockTime: return "rollup config block_time must be positive"
        case .missingGenesisL2Time: return "rollup config genesis.l2_time is missing or zero"
        case .forkOrder(let a, let b): return "fork \(b) is set but the earlier fork \(a) is missing or activates later"
        }
    }
}

public struct RollupConfig: Sendable, Equatable {
    /// A block hash (32 bytes) and number.
    public struct BlockID: Sendable, Equatable {
        public var hash: [UInt8]
        public var number: UInt64

        public init(hash: [UInt8], number: UInt64) {
            self.hash = hash
            self.number = number
        }
    }

    public struct Genesis: Sendable, Equatable {
        public var l1: BlockID
        public var l2: BlockID
        /// Timestamp of the L2 genesis block.
        public var l2Time: UInt64

        public init(l1: BlockID, l2: BlockID, l2Time: UInt64) {
            self.l1 = l1
            self.l2 = l2
            self.l2Time = l2Time
        }
    }

    /// The L2 chain id (`l2_chain_id`): topics, signatures, protocol ids.
    public let chainID: UInt64
    /// The L1 chain id, when the configuration names it.
    public let l1ChainID: UInt64?
    public let genesis: Genesis
    /// Seconds between L2 blocks; never zero.
    public let blockTime: UInt64
    /// Activation times of the forks after Bedrock; a fork absent here never activates.
    public let forkTimes: [Fork: UInt64]

    /// A validated configuration. Bedrock entries in `forkTimes` are ignored (Bedrock is the
    /// genesis rules). Checks as op-node's `Config.Check`: non-zero chain id, block time and
    /// genesis time, 32-byte genesis hashes, and each fork set only after the one before it.
    public init(chainID: UInt64, l1ChainID: UInt64? = nil, genesis: Genesis, blockTime: UInt64,
                forkTimes: [Fork: UInt64]) throws(RollupConfigError) {
        guard chainID != 0 else { throw .missingChainID }
        guard blockTime != 0 else { throw .zeroBlockTime }
        guard genesis.l2Time != 0 else { throw .missingGenesisL2Time }
        guard genesis.l1.hash.count == 32 else {
            throw .invalidField(field: "genesis.l1.hash", reason: "must be 32 bytes, got \(genesis.l1.hash.count)")
        }
        guard genesis.l2.hash.count == 32 else {
            throw .invalidField(field: "genesis.l2.hash", reason: "must be 32 bytes, got \(genesis.l2.hash.count)")
        }
        var times = forkTimes
        times[.bedrock] = nil
        let ordered = Fork.allCases.dropFirst()  // regolith … jovian
        for (earlier, later) in zip(ordered, ordered.dropFirst()) {
            guard let laterTime = times[later] else { continue }
            guard let earlierTime = times[earlier], earlierTime <= laterTime else {
                throw .forkOrder(earlier: earlier, later: later)
            }
        }
        self.init(unchecked: chainID, l1ChainID: l1ChainID, genesis: genesis, blockTime: blockTime, forkTimes: times)
    }

    private init(unchecked chainID: UInt64, l1ChainID: UInt64?, genesis: Genesis, blockTime: UInt64, forkTimes: [Fork: UInt64]) {
        self.chainID = chainID
        self.l1ChainID = l1ChainID
        self.genesis = genesis
        self.blockTime = blockTime
        self.forkTimes = forkTimes
    }

    /// A configuration for tests and devnets: every fork through Isthmus active from genesis,
    /// Jovian never; zero genesis hashes.
    public static func forTesting(chainID: UInt64, genesisTime: UInt64 = 0, genesisNumber: UInt64 = 0,
                                  blockTime: UInt64 = 2) -> RollupConfig {
        var times = [Fork: UInt64]()
        for fork in Fork.allCases where fork > .bedrock && fork <= .isthmus { times[fork] = 0 }
        let zero = [UInt8](repeating: 0, count: 32)
        return RollupConfig(unchecked: chainID, l1ChainID: nil,
                            genesis: Genesis(l1: BlockID(hash: zero, number: 0), l2: BlockID(hash: zero, number: genesisNumber),
                                             l2Time: genesisTime),
                            blockTime: max(blockTime, 1), forkTimes: times)
    }

    // MARK: Forks

    /// op-node `IsX(timestamp)`: the fork's time is set and `timestamp` ≥ it. Bedrock is always active.
    public func isActive(_ fork: Fork, at timestamp: UInt64) -> Bool {
        if fork == .bedrock { return true }
        guard let t = forkTimes[fork] else { return false }
        return timestamp >= t
    }

    /// The latest fork active at `timestamp`.
    public func fork(at timestamp: UInt64) -> Fork {
        Fork.allCases.last { isActive($0, at: timestamp) } ?? .bedrock
    }

    /// The block/topic version for a payload with this timestamp (`publishRawSignedPayload`):
    /// Isthmus → V4, Ecotone → V3, Canyon → V2, else V1.
    public func payloadVersion(at timestamp: UInt64) -> PayloadVersion {
        if isActive(.isthmus, at: timestamp) { return .v4 }
        if isActive(.ecotone, at: timestamp) { return .v3 }
        if isActive(.canyon, at: timestamp) { return .v2 }
        return .v1
    }

    // MARK: Block time arithmetic

    /// `TimestampForBlock(n) = genesis.l2Time + (n − genesis.l2.number) · blockTime`. Numbers
    /// before genesis give the genesis time; the result saturates instead of wrapping.
    public func timestampForBlock(_ number: UInt64) -> UInt64 {
        guard number > genesis.l2.number else { return genesis.l2Time }
        let (offset, o1) = (number - genesis.l2.number).multipliedReportingOverflow(by: blockTime)
        let (ts, o2) = genesis.l2Time.addingReportingOverflow(offset)
        return o1 || o2 ? .max : ts
    }

    /// `TargetBlockNumber(now) = genesis.l2.number + (now − genesis.l2Time) / blockTime`: the
    /// highest block number that can exist at `now`. Before genesis it is the genesis number.
    public func targetBlockNumber(now: UInt64) -> UInt64 {
        guard now > genesis.l2Time else { return genesis.l2.number }
        let (n, overflow) = genesis.l2.number.addingReportingOverflow((now - genesis.l2Time) / blockTime)
        return overflow ? .max : n
    }
}
