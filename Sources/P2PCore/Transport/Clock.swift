/// The node's clock. Sans-IO protocol cores never read time themselves; the layer that drives them
/// passes `now()` from a `NodeClock` (DESIGN.md principle 1), so simulations can inject their own.
/// `SystemClock.now()` is on the same time base as Dispatch deadlines, so a core's deadline can be
/// handed to `QueueTimer.schedule(atUptimeNanoseconds:)` unchanged.
import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public protocol NodeClock: Sendable {
    /// Monotonic nanoseconds since an arbitrary origin; never goes backwards.
    func now() -> UInt64
    /// Wall-clock seconds since the Unix epoch (for block timestamps, not for measuring intervals).
    func unixSeconds() -> UInt64
}

/// The real clock: Dispatch uptime (CLOCK_MONOTONIC on Linux) and CLOCK_REALTIME.
public struct SystemClock: NodeClock {
    public init() {}

    public func now() -> UInt64 {
        DispatchTime.now().uptimeNanoseconds
    }

    public func unixSeconds() -> UInt64 {
        var ts = timespec()
        guard clock_gettime(CLOCK_REALTIME, &ts) == 0, ts.tv_sec > 0 else { return 0 }
        return UInt64(ts.tv_sec)
    }
}

extension Duration {
    /// Whole nanoseconds, clamped to 0 for negative and to UInt64.max for huge durations.
    public var clampedNanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        guard seconds >= 0, attoseconds >= 0 || seconds > 0 else { return 0 }
        let (wholeSeconds, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        guard !overflow else { return .max }
        let fraction = attoseconds / 1_000_000_000
        if fraction < 0 { return wholeSeconds - UInt64(-fraction) }
        let (total, overflow2) = wholeSeconds.addingReportingOverflow(UInt64(fraction))
        return overflow2 ? .max : total
    }
}
