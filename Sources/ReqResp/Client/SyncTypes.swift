import P2PCore
import Rollup

/// The inputs and outputs of `SyncScheduler`, the `payload_by_number` sync client (spec §5.3).

/// Identifies one `requestRange`.
public struct SyncRangeID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public var description: String { "range#\(rawValue)" }
    public static func < (a: SyncRangeID, b: SyncRangeID) -> Bool { a.rawValue < b.rawValue }
}

/// The trusted block a range syncs towards (op-node's `end` `L2BlockRef`): the lowest queued
/// unsafe payload, already validated. It is not fetched; its parent hash anchors the chain.
public struct SyncTarget: Sendable, Equatable {
    public var number: UInt64
    /// 32 bytes.
    public var hash: [UInt8]
    /// 32 bytes.
    public var parentHash: [UInt8]

    public init(number: UInt64, hash: [UInt8], parentHash: [UInt8]) {
        self.number = number
        self.hash = hash
        self.parentHash = parentHash
    }
}

/// What the host must do.
public enum SyncAction: Sendable, Equatable {
    /// Open a `payload_by_number` stream to `peer`, send `number`, read the response with the
    /// §5.2 timeouts (open 5 s, write 10 s, read 10 s), decode it with `ResponseDecoder` (which
    /// verifies the number and the block hash), then report `responseReceived`, `requestFailed`
    /// or `requestTimedOut` exactly once.
    case sendRequest(peer: PeerID, number: UInt64)
    /// A block on the trusted chain. Deliveries of a range are strictly ascending, without gaps,
    /// from `start.number + 1` to `end.number − 1`, and come just before its `.rangeComplete`.
    case deliver(ExecutionPayloadEnvelope)
    /// Apply to the application score table (`ApplicationScore.record`).
    case scoreUpdate(peer: PeerID, ApplicationScoreDelta)
    /// Every block of the range was delivered; the range is gone.
    case rangeComplete(SyncRangeID)
    /// The range is not progressing. Informational (the range keeps going, the scheduler keeps
    /// retrying) except `.doesNotConnect`, after which the range is gone.
    case rangeStalled(SyncRangeID, SyncStallReason)
}

public enum SyncStallReason: Sendable, Equatable, CustomStringConvertible {
    /// No connected peer can take work (none, none with the protocol, or none static while
    /// `onlyRequestFromStatic`).
    case noPeers
    /// Every usable peer answered "not found" for the block the chain needs next.
    case notFound(number: UInt64)
    /// The chain did not advance for `stallTimeout`; outstanding work was re-issued and peers
    /// that had said "not found" or failed will be asked again.
    case noProgress(number: UInt64)
    /// Terminal: the chain from the target reached `start.number` with a hash other than
    /// `start.hash` — the local head is not an ancestor of the target.
    case doesNotConnect(expected: [UInt8], got: [UInt8])

    public var description: String {
        switch self {
        case .noPeers: return "no peer can serve payload_by_number"
        case .notFound(let n): return "every usable peer said block \(n) is not found"
        case .noProgress(let n): return "no progress at block \(n)"
        case .doesNotConnect(let e, let g): return "chain reaches the start with hash \(g.prefixedHex), not \(e.prefixedHex)"
        }
    }
}

/// Why a request produced no block.
public enum SyncRequestFailure: Sendable, Equatable, CustomStringConvertible {
    /// A §5.2 timeout expired (open, write or read).
    case timeout
    /// The stream could not be opened, written or read (reset, closed early, connection lost).
    case stream(String)
    /// Protocol negotiation said the peer does not speak `payload_by_number`.
    case protocolNotSupported
    /// The response was an error code or failed to decode or verify.
    case response(PayloadByNumberError)

    public var description: String {
        switch self {
        case .timeout: return "timed out"
        case .stream(let why): return "stream error: \(why)"
        case .protocolNotSupported: return "peer does not support payload_by_number"
        case .response(let e): return "\(e)"
        }
    }
}

public enum SyncSchedulerError: Error, Equatable, Sendable, CustomStringConvertible {
    /// `end.number` must be above `start.number`.
    case emptyRange(start: UInt64, end: UInt64)
    /// A hash that is not 32 bytes (the start hash may also be empty: unknown, not checked).
    case invalidHash(field: String, length: Int)
    /// More blocks than `maxRangeLength`; fill such a gap with EL sync (spec §7.4).
    case rangeTooLong(blocks: UInt64, max: Int)
    /// `maxActiveRanges` ranges are active; cancel one first.
    case tooManyRanges(max: Int)

    public var description: String {
        switch self {
        case .emptyRange(let s, let e): return "sync range end \(e) is not above start \(s)"
        case .invalidHash(let f, let n): return "\(f) must be 32 bytes, got \(n)"
        case .rangeTooLong(let b, let m): return "sync range of \(b) blocks exceeds the limit of \(m)"
        case .tooManyRanges(let m): return "already \(m) active sync ranges"
        }
    }
}

/// Counters for metrics and tests.
public struct SyncSchedulerStats: Sendable, Equatable {
    public var requestsSent = 0
    /// Requests sent for a number that was already outstanding at a slow peer.
    public var hedgedRequests = 0
    public var validResponses = 0
    public var failedResponses = 0
    public var notFoundResponses = 0
    public var timeouts = 0
    /// Quarantined blocks evicted for lack of room (never penalised unless proven wrong).
    public var quarantineEvictions = 0
    /// Blocks proven not to be on the trusted chain (peer penalised −20).
    public var rejectedPayloads = 0
    public var delivered = 0
    public var rangesCompleted = 0

    public init() {}
}
