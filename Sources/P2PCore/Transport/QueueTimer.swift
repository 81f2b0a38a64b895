/// A cancellable one-shot or repeating timer whose handler runs on a given serial queue, built on
/// one `DispatchSourceTimer` that is re-armed rather than recreated. The connection's write-stall
/// watchdog, the dialer's timeout and the heartbeats of the layers above use it.
import Dispatch

/// Queue-confined: `schedule`, `cancel` and `isScheduled` must be called on `queue`, and the handler
/// runs there. That confinement is what makes the `@unchecked Sendable` conformance safe (the type
/// may be captured by work items sent to `queue`).
public final class QueueTimer: @unchecked Sendable {
    public let queue: DispatchQueue
    private let leewayNanoseconds: Int
    private var source: (any DispatchSourceTimer)?
    /// Uptime deadline (SystemClock.now() units) of the next firing; nil when not scheduled.
    private var deadline: UInt64?
    private var interval: UInt64?
    private var handler: (() -> Void)?

    /// `leeway` lets Dispatch coalesce wake-ups; the handler never runs before its deadline.
    public init(queue: DispatchQueue, leeway: Duration = .milliseconds(1)) {
        self.queue = queue
        self.leewayNanoseconds = Int(clamping: leeway.clampedNanoseconds)
    }

    deinit {
        // The source was resumed when created, so cancelling it here is safe.
        source?.setEventHandler(handler: nil)
        source?.cancel()
    }

    public var isScheduled: Bool { deadline != nil }

    /// Runs `handler` after `delay`, then every `interval` if one is given. Replaces any schedule.
    public func schedule(
        after delay: Duration, repeating interval: Duration? = nil, _ handler: @escaping () -> Void
    ) {
        let now = DispatchTime.now().uptimeNanoseconds
        let (at, overflow) = now.addingReportingOverflow(delay.clampedNanoseconds)
        schedule(atUptimeNanoseconds: overflow ? .max : at, repeating: interval, handler)
    }

    /// Runs `handler` at an absolute `SystemClock.now()` deadline (at once if it has passed),
    /// then every `interval` if one is given. Replaces any schedule.
    public func schedule(
        atUptimeNanoseconds deadline: UInt64, repeating interval: Duration? = nil, _ handler: @escaping () -> Void
    ) {
        self.handler = handler
        self.deadline = deadline
        self.interval = interval.map { max($0.clampedNanoseconds, 1) }
        arm(deadline)
    }

    /// Stops the timer; a firing already under way on the queue is ignored. Idempotent.
    public func cancel() {
        deadline = nil
        interval = nil
        handler = nil
        source?.schedule(deadline: .distantFuture, leeway: .nanoseconds(leewayNanoseconds))
    }

    private func arm(_ at: UInt64) {
        let dispatchDeadline: DispatchTime = at == .max ? .distantFuture : DispatchTime(uptimeNanoseconds: max(at, 1))
        if let source {
            source.schedule(deadline: dispatchDeadline, leeway: .nanoseconds(leewayNanoseconds))
            return
        }
        let s = DispatchSource.makeTimerSource(queue: queue)
        s.setEventHandler { [weak self] in self?.fire() }
        s.schedule(deadline: dispatchDeadline, leeway: .nanoseconds(leewayNanoseconds))
        source = s
        s.resume()
    }

    private func fire() {
        guard let due = deadline, let handler else { return }
        let now = DispatchTime.now().uptimeNanoseconds
        guard now >= due else {
            arm(due)  // a stale or early wake-up: wait for the real deadline
            return
        }
        if let interval {
            let (next, overflow) = due.addingReportingOverflow(interval)
            let nextDeadline = overflow ? UInt64.max : (next > now ? next : now &+ interval)
            deadline = nextDeadline
            arm(nextDeadline)
        } else {
            deadline = nil
            self.handler = nil
            source?.schedule(deadline: .distantFuture, leeway: .nanoseconds(leewayNanoseconds))
        }
        handler()
    }
}
