/// A token bucket with the semantics of Go's `golang.org/x/time/rate.Limiter`, which op-node uses
/// for every `payload_by_number` limit (spec §5.2, `op-node/p2p/sync.go`): tokens refill at `rate`
/// per second up to `burst`; a reservation takes its tokens at once (the balance may go negative)
/// and tells the caller how long to wait before acting. A reservation whose wait would exceed the
/// caller's bound fails and changes nothing, like `Limiter.Wait` with a context deadline.
///
/// Sans-IO: time is passed in as a `Duration` since any fixed origin (the caller's clock). Time that
/// goes backwards is treated as no time passing, as `rate.Limiter.advance` does.
public struct TokenBucket: Sendable, Equatable {
    /// Tokens added per second. Zero or less: the bucket never refills.
    public let rate: Double
    /// Most tokens the bucket holds, and most a single reservation can take.
    public let burst: Int
    private var balance: Double
    private var last: Duration?

    /// A full bucket, as `rate.NewLimiter(r, b)` starts.
    public init(rate: Double, burst: Int) {
        self.rate = rate.isFinite ? rate : 0
        self.burst = max(0, burst)
        self.balance = Double(self.burst)
    }

    /// Tokens available at `now` (negative while earlier reservations are still being paid off).
    public func tokens(at now: Duration) -> Double {
        guard let last, now > last, rate > 0 else { return balance }
        return min(Double(burst), balance + (now - last).seconds * rate)
    }

    /// Takes `n` tokens at `now` and returns how long the caller must wait before acting (zero
    /// when the tokens were there). Returns nil, changing nothing, when `n` exceeds the burst or the
    /// wait would exceed `maxWait` (nil: no bound, as `Limiter.Reserve`).
    public mutating func reserve(_ n: Int = 1, now: Duration, maxWait: Duration? = nil) -> Duration? {
        guard n <= burst else { return nil }
        let available = tokens(at: now)
        let remaining = available - Double(n)
        var wait = Duration.zero
        if remaining < 0 {
            guard rate > 0 else { return nil }
            wait = Duration(seconds: -remaining / rate)
        }
        if let maxWait, wait > maxWait { return nil }
        balance = remaining
        if last.map({ now > $0 }) ?? true { last = now }
        return wait
    }

    /// Takes one token if it is available at `now` without waiting (`Limiter.Allow`).
    public mutating func allow(now: Duration) -> Bool { reserve(1, now: now, maxWait: .zero) != nil }

    /// How long from `now` until `n` tokens are available; nil if never (`n` > burst, or no refill).
    public func timeUntilAvailable(_ n: Int = 1, now: Duration) -> Duration? {
        guard n <= burst else { return nil }
        let missing = Double(n) - tokens(at: now)
        guard missing > 0 else { return .zero }
        guard rate > 0 else { return nil }
        return Duration(seconds: missing / rate)
    }
}

extension Duration {
    /// This duration in (fractional) seconds.
    var seconds: Double {
        let c = components
        return Double(c.seconds) + Double(c.attoseconds) * 1e-18
    }

    /// A non-negative duration of `seconds`, rounded up to whole nanoseconds so that a caller who
    /// waits it never acts early; saturates at about 292 years.
    init(seconds: Double) {
        guard seconds > 0 else { self = .zero; return }
        let ns = (seconds * 1e9).rounded(.up)
        self = .nanoseconds(ns < 9.2e18 ? Int64(ns) : Int64.max)
    }
}
