import Foundation
import P2PCore

/// op-node's req-resp application score (spec §4.2, `op-node/p2p/app_scores.go`, `app_params.go`,
/// `store/scorebook.go`): three capped counters per peer that decay every slot, combined with
/// weights. The gossipsub router takes `score(of:)` as its application-specific score (P5, weight 1).
///
///     score = validResponses·0.5 + errorResponses·(−1) + rejectedPayloads·(−20)
///
/// Counters: validResponses ≤ 10, errorResponses ≤ 9, rejectedPayloads ≤ 20. Each decays by
/// `ScoreDecay(10 epochs) = 0.01^(1/60)` per slot, for connected peers only; below 0.01 it is 0.
/// The table is an LRU (bounded; a forgotten peer starts again at 0).
public struct ApplicationScore: Sendable {
    public struct Params: Sendable, Equatable {
        public var validResponseCap: Double = 10
        public var validResponseWeight: Double = 0.5
        public var errorResponseCap: Double = 9
        public var errorResponseWeight: Double = -1
        public var rejectedPayloadCap: Double = 20
        public var rejectedPayloadWeight: Double = -20
        /// Multiplier applied to every counter once per `decayInterval`.
        public var decay: Double
        /// Counters below this become 0 when decayed.
        public var decayToZero: Double = 0.01
        /// One slot.
        public var decayInterval: Duration

        /// op-node's parameters for a chain with `blockTime` seconds (2 s when 0): slot = block
        /// time, decay = `ScoreDecay(10 epochs)` = 0.01^(1/60).
        public static func opNode(blockTime: UInt64) -> Params {
            let slot = blockTime == 0 ? 2 : blockTime
            let tenEpochs = 10 * 6 * slot
            return Params(decay: scoreDecay(duration: tenEpochs, slot: slot), decayInterval: .seconds(Int64(clamping: slot)))
        }

        /// op-node's `ScoreDecay(duration, slot) = 0.01^(1/(duration/slot))`.
        public static func scoreDecay(duration: UInt64, slot: UInt64) -> Double {
            let ticks = Double(duration) / Double(max(slot, 1))
            return ticks > 0 ? Foundation.pow(0.01, 1 / ticks) : 0
        }
    }

    /// One peer's counters.
    public struct Counters: Sendable, Equatable {
        public var validResponses: Double = 0
        public var errorResponses: Double = 0
        public var rejectedPayloads: Double = 0
    }

    public let params: Params
    private var table: LRUCache<PeerID, Counters>
    private var lastDecay: Duration?

    public init(params: Params, capacity: Int = 1000) {
        self.params = params
        self.table = LRUCache(capacity: capacity)
    }

    /// Counts one event for `peer` (capped).
    public mutating func record(_ delta: ApplicationScoreDelta, for peer: PeerID) {
        let p = params
        table.update(peer, default: { Counters() }) { c in
            switch delta {
            case .validResponse: c.validResponses = min(c.validResponses + 1, p.validResponseCap)
            case .errorResponse: c.errorResponses = min(c.errorResponses + 1, p.errorResponseCap)
            case .rejectedPayload: c.rejectedPayloads = min(c.rejectedPayloads + 1, p.rejectedPayloadCap)
            }
        }
    }

    /// The application score of `peer` (0 for an unknown peer).
    public func score(of peer: PeerID) -> Double {
        guard let c = table.peek(peer) else { return 0 }
        return c.validResponses * params.validResponseWeight + c.errorResponses * params.errorResponseWeight
            + c.rejectedPayloads * params.rejectedPayloadWeight
    }

    public func counters(of peer: PeerID) -> Counters? { table.peek(peer) }

    /// One decay step for every peer for which `isConnected` is true.
    public mutating func decayOnce(isConnected: (PeerID) -> Bool) {
        let p = params
        func decayed(_ v: Double) -> Double {
            let d = v * p.decay
            return d < p.decayToZero ? 0 : d
        }
        for peer in table.keys where isConnected(peer) {
            guard var c = table.peek(peer) else { continue }
            c.validResponses = decayed(c.validResponses)
            c.errorResponses = decayed(c.errorResponses)
            c.rejectedPayloads = decayed(c.rejectedPayloads)
            table.set(peer, c)
        }
    }

    /// Applies one decay step per whole `decayInterval` elapsed since the first call (at most 1000
    /// steps at once, by which point every counter is 0).
    public mutating func tick(now: Duration, isConnected: (PeerID) -> Bool) {
        guard let last = lastDecay else { lastDecay = now; return }
        guard now > last, params.decayInterval > .zero else { return }
        let steps = Int(min((now - last) / params.decayInterval, 1_000_000))
        guard steps > 0 else { return }
        for _ in 0..<min(steps, 1000) { decayOnce(isConnected: isConnected) }
        lastDecay = last + params.decayInterval * steps
    }
}

/// An application-score event the sync client reports for a peer (spec §4.2).
public enum ApplicationScoreDelta: Sendable, Equatable, CustomStringConvertible {
    /// A sync request succeeded (+0.5).
    case validResponse
    /// A sync request failed, other than "not found" (−1).
    case errorResponse
    /// A payload from this peer was proven not to be on the trusted chain (−20).
    case rejectedPayload

    public var description: String {
        switch self {
        case .validResponse: return "valid response"
        case .errorResponse: return "error response"
        case .rejectedPayload: return "rejected payload"
        }
    }
}
