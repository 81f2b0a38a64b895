import P2PCore
import Rollup

/// The `payload_by_number` server as a sans-IO core: op-node's `ReqRespServer.HandleSyncRequest`
/// (spec §5.1, §5.2, `op-node/p2p/sync.go`) with time injected and waits handed to the caller.
///
/// Per request, in op-node's order:
/// 1. rate limits — the global bucket (20/s, burst 40), then the peer's bucket (4/s, burst 15, in
///    an LRU of 1000 peers). A peer's first request only *reserves* a token (`Reserve()`, served
///    without a per-peer wait); later ones *wait* (`Wait(ctx)`). Both waits share op-node's 20 s
///    throttle budget; a wait beyond it is answered with code 3 at once;
/// 2. the 8-byte request (a read error or a wrong length: code 3, answered at once — the tokens
///    are still taken, as op-node takes them before reading);
/// 3. after the wait: code 2 if the number is `< genesis.l2.number` or `> TargetBlockNumber(now)`,
///    code 1 if the source does not have it, code 3 if the source fails, else the payload.
///
/// Bounds beyond op-node (which has none): at most `maxConcurrentPerPeer` requests per peer and
/// `maxConcurrentTotal` overall are in progress (waiting or being written); a request beyond
/// either is answered with code 3 at once, before any token is taken. A request is in progress
/// from `handleRequest` until the caller reports `finished`.
///
/// Host contract: call `handleRequest` once the request was read (or failed to read, within the
/// 10 s server read timeout). On `.respond`, write the bytes (10 s write timeout), close, and call
/// `finished`. On `.respondAfter(d)`, arm a timer; when it fires call `resume` and proceed as for
/// `.respond`; if the stream dies first, call `finished(…, delivered: false)` without resuming.
/// `now` is wall-clock time since the Unix epoch (it feeds `TargetBlockNumber`).
public struct PayloadByNumberServer: Sendable {
    public struct Options: Sendable, Equatable {
        public var globalRate: Double = 20
        public var globalBurst: Int = 40
        public var peerRate: Double = 4
        public var peerBurst: Int = 15
        /// Peers whose buckets are remembered (LRU).
        public var peerLimiterCapacity: Int = PeerRateLimiters.defaultCapacity
        /// The longest a request may be throttled; beyond it the answer is code 3.
        public var maxThrottleDelay: Duration = .seconds(20)
        /// op-node's nuance: a peer's first request (no bucket yet) only reserves a token and is
        /// served without waiting on the peer limiter, whatever the reservation says; later ones
        /// wait within the throttle budget. A fresh bucket is full, so this differs from waiting
        /// only when the burst is 0 (then false refuses every request of the peer).
        public var firstRequestOnlyReserves: Bool = true
        public var maxConcurrentPerPeer: Int = 8
        public var maxConcurrentTotal: Int = 128

        public init() {}
    }

    public let config: RollupConfig
    public let options: Options
    private let source: any PayloadSource
    private let metrics: (any PayloadByNumberServerMetrics)?
    private var global: TokenBucket
    private var peerLimits: PeerRateLimiters
    private var active: [ServerTicket: ActiveRequest] = [:]
    private var activeByPeer: [PeerID: Int] = [:]
    private var lastTicket: UInt64 = 0
    public private(set) var stats = PayloadByNumberServerStats()

    private struct ActiveRequest: Sendable {
        let peer: PeerID
        let number: UInt64
        let started: Duration
        /// nil while throttled; the answer once it was produced.
        var response: ServerResponse?
    }

    public init(config: RollupConfig, source: any PayloadSource, options: Options = Options(),
                metrics: (any PayloadByNumberServerMetrics)? = nil) {
        self.config = config
        self.source = source
        self.options = options
        self.metrics = metrics
        self.global = TokenBucket(rate: options.globalRate, burst: options.globalBurst)
        self.peerLimits = PeerRateLimiters(rate: options.peerRate, burst: options.peerBurst,
                                           capacity: options.peerLimiterCapacity)
    }

    /// Requests in progress (throttled or being written).
    public var activeRequests: Int { active.count }
    public func activeRequests(for peer: PeerID) -> Int { activeByPeer[peer] ?? 0 }

    /// Decides what to answer `request` (the 8 bytes read from the stream, or the read error) from
    /// `peer` at `now`.
    public mutating func handleRequest(from peer: PeerID, request: Result<[UInt8], any Error>,
                                       now: Duration) -> ServerRequestHandling {
        lastTicket &+= 1
        let ticket = ServerTicket(rawValue: lastTicket)
        let parsed: UInt64?
        switch request {
        case .success(let bytes): parsed = try? PayloadByNumber.decodeRequest(bytes)
        case .failure: parsed = nil
        }

        // Bounded work: refuse before taking any token.
        let peerActive = activeByPeer[peer] ?? 0
        guard active.count < options.maxConcurrentTotal, peerActive < options.maxConcurrentPerPeer else {
            stats.rejectedBusy += 1
            let response = ServerResponse.error(.otherError, number: parsed)
            record(number: parsed, code: .otherError, duration: .zero)
            return ServerRequestHandling(ticket: ticket, action: .respond(response))
        }

        // Rate limits, in op-node's order, within one throttle budget.
        guard let wait = reserveTokens(for: peer, now: now) else {
            stats.rateLimited += 1
            record(number: parsed, code: .otherError, duration: .zero)
            return ServerRequestHandling(ticket: ticket, action: .respond(.error(.otherError, number: parsed)))
        }

        guard let number = parsed else {
            record(number: nil, code: .otherError, duration: .zero)
            return ServerRequestHandling(ticket: ticket, action: .respond(.error(.otherError, number: nil)))
        }

        var entry = ActiveRequest(peer: peer, number: number, started: now, response: nil)
        let action: ServerAction
        if wait > .zero {
            stats.throttled += 1
            action = .respondAfter(wait)
        } else {
            let response = answer(number, now: now)
            entry.response = response
            action = .respond(response)
        }
        active[ticket] = entry
        activeByPeer[peer] = peerActive + 1
        return ServerRequestHandling(ticket: ticket, action: action)
    }

    /// The answer for a throttled request once its wait is over. An unknown or already answered
    /// ticket gets code 3.
    public mutating func resume(_ ticket: ServerTicket, now: Duration) -> ServerResponse {
        guard var entry = active[ticket], entry.response == nil else {
            return active[ticket]?.response ?? .error(.otherError, number: nil)
        }
        let response = answer(entry.number, now: now)
        entry.response = response
        active[ticket] = entry
        return response
    }

    /// The stream of `ticket` is closed: frees its slot and records the outcome. `delivered` is
    /// false when the response could not be written (or the stream died while throttled); the
    /// request then counts as code 3, as op-node counts a failed write. Unknown tickets are ignored.
    public mutating func finished(_ ticket: ServerTicket, now: Duration, delivered: Bool = true) {
        guard let entry = active.removeValue(forKey: ticket) else { return }
        let left = (activeByPeer[entry.peer] ?? 1) - 1
        activeByPeer[entry.peer] = left > 0 ? left : nil
        let code = delivered ? (entry.response?.code ?? .otherError) : .otherError
        record(number: entry.number, code: code, duration: now > entry.started ? now - entry.started : .zero)
    }

    // MARK: Internals

    /// Global bucket, then the peer's (reserved at the time the global wait ends), both within
    /// `maxThrottleDelay`. Returns the total wait, or nil if it would exceed the budget.
    private mutating func reserveTokens(for peer: PeerID, now: Duration) -> Duration? {
        guard let globalWait = global.reserve(now: now, maxWait: options.maxThrottleDelay) else { return nil }
        if options.firstRequestOnlyReserves && !peerLimits.isKnown(peer) {
            // `ps.Requests.Reserve()`: counts the hit, never waits, its outcome is ignored.
            _ = peerLimits.reserve(for: peer, now: now + globalWait)
            return globalWait
        }
        guard let peerWait = peerLimits.reserve(for: peer, now: now + globalWait,
                                                maxWait: options.maxThrottleDelay - globalWait) else { return nil }
        return globalWait + peerWait
    }

    private func answer(_ number: UInt64, now: Duration) -> ServerResponse {
        let unixSeconds = UInt64(max(0, now.components.seconds))
        guard number >= config.genesis.l2.number, number <= config.targetBlockNumber(now: unixSeconds) else {
            return .error(.invalidRequest, number: number)
        }
        let stored: ServedPayload?
        do { stored = try source.payload(number: number) } catch { return .error(.otherError, number: number) }
        guard let stored else { return .error(.notFound, number: number) }
        guard stored.version <= 1 else { return .error(.otherError, number: number) }
        return ServerResponse(code: .success, number: number,
                              bytes: PayloadByNumber.encodeSuccess(version: stored.version, ssz: stored.ssz))
    }

    private mutating func record(number: UInt64?, code: PayloadByNumber.ResultCode, duration: Duration) {
        stats.responses[Int(code.rawValue)] += 1
        metrics?.serverRequestCompleted(number: number, code: code, duration: duration)
    }
}

/// Identifies one request for `resume` and `finished`.
public struct ServerTicket: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt64
    public var description: String { "#\(rawValue)" }
}

/// What `handleRequest` decided.
public struct ServerRequestHandling: Sendable, Equatable {
    public let ticket: ServerTicket
    public let action: ServerAction
}

public enum ServerAction: Sendable, Equatable {
    /// Write `response.bytes`, close the stream, then call `finished`.
    case respond(ServerResponse)
    /// Throttled: arm a timer for this long, then call `resume` and write what it returns.
    case respondAfter(Duration)
}

/// One answer. `bytes` is the whole response: on success the 5-byte header raw then the snappy
/// framed SSZ; on error only the result byte.
public struct ServerResponse: Sendable, Equatable {
    public let code: PayloadByNumber.ResultCode
    /// The requested number, when the request could be read.
    public let number: UInt64?
    public let bytes: [UInt8]

    static func error(_ code: PayloadByNumber.ResultCode, number: UInt64?) -> ServerResponse {
        ServerResponse(code: code, number: number, bytes: [code.rawValue])
    }
}

/// Counters for metrics endpoints and tests.
public struct PayloadByNumberServerStats: Sendable, Equatable {
    /// Completed requests by result code 0…3.
    public var responses: [Int] = [0, 0, 0, 0]
    /// Requests that had to wait for a token.
    public var throttled = 0
    /// Requests refused because the wait would exceed the throttle budget.
    public var rateLimited = 0
    /// Requests refused because too many were in progress.
    public var rejectedBusy = 0

    public func count(_ code: PayloadByNumber.ResultCode) -> Int { responses[Int(code.rawValue)] }
}

/// Metrics hook, called once per request when its outcome is final (op-node's
/// `ServerPayloadByNumberEvent(num, resultCode, duration)`).
public protocol PayloadByNumberServerMetrics: Sendable {
    func serverRequestCompleted(number: UInt64?, code: PayloadByNumber.ResultCode, duration: Duration)
}
