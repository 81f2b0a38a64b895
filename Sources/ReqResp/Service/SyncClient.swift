import Dispatch
import Foundation
import Logging
import P2PCore
import Rollup

/// Runs the sans-IO `SyncScheduler` on a host: tracks which connected peers speak
/// `payload_by_number`, performs its requests (5 s to open the stream, 10 s to write, 10 s to
/// read the whole response, decoded and verified as it streams in), keeps the application scores
/// and hands promoted payloads, in ascending order, to `onPayload`.
///
/// Scheduler state is confined to `queue`; `@unchecked Sendable` is safe because every entry point
/// hops there.
public final class SyncClient: @unchecked Sendable {
    public let host: P2PHost
    public let rollup: RollupConfig
    public let queue = DispatchQueue(label: "p2pnode.reqresp.client")
    public var logger = Logger(label: "p2pnode.sync")
    private var scheduler: SyncScheduler
    private var scores: ApplicationScore
    private let protocolID: String
    private let staticPeers: Set<PeerID>
    private let ticker: QueueTimer
    private var onPayload: [@Sendable (ExecutionPayloadEnvelope) -> Void] = []
    private var onScore: [@Sendable (PeerID, Double) -> Void] = []
    private var waiters: [SyncRangeID: CheckedContinuation<Result<Void, SyncClientError>, Never>] = [:]

    public init(host: P2PHost, rollup: RollupConfig, config: SyncScheduler.Config = .init(), staticPeers: Set<PeerID> = []) {
        self.host = host
        self.rollup = rollup
        self.scheduler = SyncScheduler(config: config)
        self.scores = ApplicationScore(params: .opNode(blockTime: rollup.blockTime))
        self.protocolID = PayloadByNumber.protocolID(chainID: rollup.chainID)
        self.staticPeers = staticPeers
        self.ticker = QueueTimer(queue: queue)
    }

    private var now: Duration { .nanoseconds(Int64(clamping: DispatchTime.now().uptimeNanoseconds)) }

    /// Promoted payloads, strictly ascending, no gaps.
    public func onPayload(_ handler: @escaping @Sendable (ExecutionPayloadEnvelope) -> Void) { queue.sync { onPayload.append(handler) } }
    /// Application score changes (the gossipsub router's P5).
    public func onScore(_ handler: @escaping @Sendable (PeerID, Double) -> Void) { queue.sync { onScore.append(handler) } }

    public func start() {
        host.observe { [weak self] event in
            guard let self else { return }
            switch event {
            case .identified(let peer, let info):
                let supports = info.protocols.contains(self.protocolID)
                self.queue.async { self.apply(self.scheduler.peerConnected(peer, supportsProtocol: supports, isStatic: self.staticPeers.contains(peer), now: self.now)) }
            case .disconnected(let peer, _):
                self.queue.async { self.apply(self.scheduler.peerDisconnected(peer, now: self.now)) }
            case .connected:
                break
            }
        }
        for peer in host.connectedPeers {
            let supports = host.peerstore.supports(peer, protocolID)
            queue.async { self.apply(self.scheduler.peerConnected(peer, supportsProtocol: supports, isStatic: self.staticPeers.contains(peer), now: self.now)) }
        }
        queue.sync {
            ticker.schedule(after: .milliseconds(50), repeating: .milliseconds(50)) { [weak self] in
                guard let self else { return }
                let now = self.now
                let connected = Set(self.host.connectedPeers)
                self.scores.tick(now: now, isConnected: { connected.contains($0) })
                self.apply(self.scheduler.tick(now: now))
            }
        }
    }

    public func stop() { queue.sync { ticker.cancel() } }

    public func score(of peer: PeerID) -> Double { queue.sync { scores.score(of: peer) } }
    public var stats: SyncSchedulerStats { queue.sync { scheduler.stats } }

    /// Fills the blocks strictly between `start` and `end` (trusted) and returns when the range is
    /// complete, or throws when it stalls for good.
    public func sync(start: RollupConfig.BlockID, end: SyncTarget) async throws(SyncClientError) {
        let r: Result<Void, SyncClientError> = await withCheckedContinuation { c in
            queue.async {
                do throws(SyncSchedulerError) {
                    let (id, actions) = try self.scheduler.requestRange(start: start, end: end, now: self.now)
                    self.waiters[id] = c
                    self.apply(actions)
                } catch {
                    c.resume(returning: .failure(.rejected(error)))
                }
            }
        }
        try r.get()
    }

    // MARK: Actions

    private func apply(_ actions: [SyncAction]) {
        for action in actions {
            switch action {
            case .sendRequest(let peer, let number):
                request(number, from: peer)
            case .deliver(let envelope):
                for h in onPayload { h(envelope) }
            case .scoreUpdate(let peer, let delta):
                scores.record(delta, for: peer)
                let value = scores.score(of: peer)
                for h in onScore { h(peer, value) }
            case .rangeComplete(let id):
                waiters.removeValue(forKey: id)?.resume(returning: .success(()))
            case .rangeStalled(let id, let reason):
                logger.info("sync range stalled", metadata: ["range": "\(id)", "reason": "\(reason)"])
                if case .doesNotConnect = reason {
                    scheduler.cancel(id)
                    waiters.removeValue(forKey: id)?.resume(returning: .failure(.stalled(reason)))
                }
            }
        }
    }

    /// Performs one request with op-node's timeouts and reports the outcome to the scheduler.
    private func request(_ number: UInt64, from peer: PeerID) {
        let config = rollup
        let proto = protocolID
        Task {
            let outcome: RequestOutcome
            do {
                let stream = try await withDeadline(.seconds(5)) { try await self.host.newStream(to: peer, protocols: [proto]) }
                stream.send(PayloadByNumber.encodeRequest(number), closeWrite: true)
                outcome = await Self.readResponse(stream, number: number, config: config)
            } catch let e as HostError {
                if case .protocolNotSupported = e { outcome = .failed(.protocolNotSupported) } else { outcome = .failed(.stream("\(e)")) }
            } catch {
                outcome = .failed(.timeout)
            }
            self.queue.async {
                switch outcome {
                case .payload(let env):
                    self.apply(self.scheduler.responseReceived(peer: peer, number: number, result: .success(env), now: self.now))
                case .failed(.response(let e)):
                    self.apply(self.scheduler.responseReceived(peer: peer, number: number, result: .failure(e), now: self.now))
                case .failed(let f):
                    self.apply(self.scheduler.requestFailed(peer: peer, number: number, failure: f, now: self.now))
                }
            }
        }
    }

    /// Streams the response through `ResponseDecoder` (bounded, verifying) within 10 s.
    static func readResponse(_ stream: P2PStream, number: UInt64, config: RollupConfig) async -> RequestOutcome {
        await withCheckedContinuation { c in
            stream.queue.async {
                var decoder = ResponseDecoder(requestedNumber: number, config: config)
                var done = false
                let timer = QueueTimer(queue: stream.queue)
                func finish(_ r: RequestOutcome) {
                    guard !done else { return }
                    done = true
                    timer.cancel()
                    stream.onData = nil
                    stream.onRemoteClose = nil
                    stream.onReset = nil
                    if case .failed = r { stream.reset() }
                    c.resume(returning: r)
                }
                timer.schedule(after: .seconds(10)) { finish(.failed(.timeout)) }
                stream.onReset = { e in finish(.failed(.stream("\(e)"))) }
                stream.onData = { chunk in
                    do throws(PayloadByNumberError) { try decoder.feed(chunk) } catch { finish(.failed(.response(error))) }
                }
                stream.onRemoteClose = {
                    do throws(PayloadByNumberError) { finish(.payload(try decoder.finish().0)) } catch { finish(.failed(.response(error))) }
                }
            }
        }
    }
}

/// What one request produced.
enum RequestOutcome: Sendable {
    case payload(ExecutionPayloadEnvelope)
    case failed(SyncRequestFailure)
}

public enum SyncClientError: Error, Sendable, CustomStringConvertible {
    case rejected(SyncSchedulerError)
    case stalled(SyncStallReason)

    public var description: String {
        switch self {
        case .rejected(let e): return "sync request rejected: \(e)"
        case .stalled(let r): return "sync stalled: \(r)"
        }
    }
}

/// Runs `body`, failing with `HostError.timedOut` if it takes longer than `limit`.
func withDeadline<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask { try await Task.sleep(for: limit); throw HostError.timedOut("stream open") }
        defer { group.cancelAll() }
        guard let r = try await group.next() else { throw HostError.timedOut("stream open") }
        return r
    }
}
