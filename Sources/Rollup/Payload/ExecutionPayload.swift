/// The OP Stack execution payload (V1 Bellatrix … V4 Deneb + withdrawalsRoot) and its envelope,
/// as op-node's `eth.ExecutionPayload` / `eth.ExecutionPayloadEnvelope` (op-service/eth/types.go).
/// Codecs live next to this file: SSZ (spec §1.3), Engine-API JSON (§1.5), block hash (§1.4).

/// The block/topic version. It selects the SSZ layout; it is chosen by the caller (topic or fork at
/// the payload's timestamp), never inferred from the fields present.
public enum PayloadVersion: Int, Sendable, Comparable, CaseIterable, CustomStringConvertible {
    case v1 = 1, v2 = 2, v3 = 3, v4 = 4

    /// Size of the fixed part of the SSZ container: 508 / 512 / 528 / 560 bytes.
    public var sszFixedSize: Int {
        switch self {
        case .v1: return 508
        case .v2: return 512
        case .v3: return 528
        case .v4: return 560
        }
    }

    /// V2+ carry a withdrawals list (Canyon: always empty on OP).
    public var hasWithdrawals: Bool { self >= .v2 }
    /// V3+ carry blobGasUsed and excessBlobGas, and travel with a parent beacon block root.
    public var hasBlobGas: Bool { self >= .v3 }
    /// V3+ messages and req-resp envelopes are prefixed with the parent beacon block root.
    public var hasParentBeaconBlockRoot: Bool { self >= .v3 }
    /// V4 carries the L2ToL1MessagePasser storage root as `withdrawalsRoot`.
    public var hasWithdrawalsRoot: Bool { self >= .v4 }

    public var description: String { "V\(rawValue)" }

    public static func < (a: PayloadVersion, b: PayloadVersion) -> Bool { a.rawValue < b.rawValue }
}

/// A withdrawal (Capella). OP blocks always have an empty list; L1 blocks in test data do not.
public struct Withdrawal: Sendable, Equatable {
    public var index: UInt64
    public var validatorIndex: UInt64
    /// 20 bytes.
    public var address: [UInt8]
    /// Gwei.
    public var amount: UInt64

    public init(index: UInt64, validatorIndex: UInt64, address: [UInt8], amount: UInt64) {
        self.index = index
        self.validatorIndex = validatorIndex
        self.address = address
        self.amount = amount
    }
}

/// An execution payload. Fixed-size byte fields are 32 bytes except `feeRecipient` (20) and
/// `logsBloom` (256); decoders guarantee those lengths, encoders check them.
public struct ExecutionPayload: Sendable, Equatable {
    public var parentHash: [UInt8]
    public var feeRecipient: [UInt8]
    public var stateRoot: [UInt8]
    public var receiptsRoot: [UInt8]
    public var logsBloom: [UInt8]
    public var prevRandao: [UInt8]
    public var blockNumber: UInt64
    public var gasLimit: UInt64
    public var gasUsed: UInt64
    public var timestamp: UInt64
    /// At most 32 bytes.
    public var extraData: [UInt8]
    public var baseFeePerGas: UInt256
    public var blockHash: [UInt8]
    /// Raw EIP-2718 transactions, not decoded.
    public var transactions: [[UInt8]]
    /// nil before V2 (pre-Canyon).
    public var withdrawals: [Withdrawal]?
    /// V3+.
    public var blobGasUsed: UInt64?
    /// V3+.
    public var excessBlobGas: UInt64?
    /// V4 (Isthmus): the L2ToL1MessagePasser storage root.
    public var withdrawalsRoot: [UInt8]?

    public init(
        parentHash: [UInt8], feeRecipient: [UInt8], stateRoot: [UInt8], receiptsRoot: [UInt8],
        logsBloom: [UInt8], prevRandao: [UInt8], blockNumber: UInt64, gasLimit: UInt64, gasUsed: UInt64,
        timestamp: UInt64, extraData: [UInt8], baseFeePerGas: UInt256, blockHash: [UInt8],
        transactions: [[UInt8]], withdrawals: [Withdrawal]? = nil, blobGasUsed: UInt64? = nil,
        excessBlobGas: UInt64? = nil, withdrawalsRoot: [UInt8]? = nil
    ) {
        self.parentHash = parentHash
        self.feeRecipient = feeRecipient
        self.stateRoot = stateRoot
        self.receiptsRoot = receiptsRoot
        self.logsBloom = logsBloom
        self.prevRandao = prevRandao
        self.blockNumber = blockNumber
        self.gasLimit = gasLimit
        self.gasUsed = gasUsed
        self.timestamp = timestamp
        self.extraData = extraData
        self.baseFeePerGas = baseFeePerGas
        self.blockHash = blockHash
        self.transactions = transactions
        self.withdrawals = withdrawals
        self.blobGasUsed = blobGasUsed
        self.excessBlobGas = excessBlobGas
        self.withdrawalsRoot = withdrawalsRoot
    }
}

/// A payload with the parent beacon block root that V3/V4 blocks carry next to it.
public struct ExecutionPayloadEnvelope: Sendable, Equatable {
    public var payload: ExecutionPayload
    /// 32 bytes for V3+, nil before.
    public var parentBeaconBlockRoot: [UInt8]?

    public init(payload: ExecutionPayload, parentBeaconBlockRoot: [UInt8]? = nil) {
        self.payload = payload
        self.parentBeaconBlockRoot = parentBeaconBlockRoot
    }
}

/// Field sizes and limits shared by the codecs.
enum PayloadLimits {
    static let hashSize = 32
    static let addressSize = 20
    static let bloomSize = 256
    static let maxExtraData = 32
    /// SSZ `MAX_TRANSACTIONS_PER_PAYLOAD`.
    static let maxTransactions = 1 << 20
    /// SSZ `MAX_WITHDRAWALS_PER_PAYLOAD`.
    static let maxWithdrawals = 16
    static let withdrawalSSZSize = 44
}
