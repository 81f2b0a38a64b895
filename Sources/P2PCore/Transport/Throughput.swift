/// A small throughput meter (bytes over monotonic time) shared by transport tests and the
/// benchmark executable, so every figure is computed and printed the same way.
public struct Throughput: Sendable, CustomStringConvertible {
    public private(set) var bytes: UInt64 = 0
    public let startNanoseconds: UInt64
    private let clock: any NodeClock
    private var stopNanoseconds: UInt64?

    /// Starts measuring now.
    public init(clock: any NodeClock = SystemClock()) {
        self.clock = clock
        self.startNanoseconds = clock.now()
    }

    public mutating func add(_ count: Int) {
        bytes &+= UInt64(max(count, 0))
    }

    /// Freezes the elapsed time (later `add` calls still count bytes).
    public mutating func stop() {
        if stopNanoseconds == nil { stopNanoseconds = clock.now() }
    }

    public var elapsedNanoseconds: UInt64 {
        (stopNanoseconds ?? clock.now()) &- startNanoseconds
    }

    public var bytesPerSecond: Double {
        let ns = elapsedNanoseconds
        return ns == 0 ? 0 : Double(bytes) * 1e9 / Double(ns)
    }

    /// Decimal megabytes per second (1 MB = 10^6 bytes), as BENCHMARKS.md reports them.
    public var megabytesPerSecond: Double { bytesPerSecond / 1e6 }

    /// e.g. "268435456 bytes in 61.2 ms = 4386.2 MB/s".
    public var description: String {
        let ms = Double(elapsedNanoseconds) / 1e6
        return "\(bytes) bytes in \(Self.format(ms, 1)) ms = \(Self.format(megabytesPerSecond, 1)) MB/s"
    }

    private static func format(_ value: Double, _ decimals: Int) -> String {
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let rounded = (value * scale).rounded() / scale
        return "\(rounded)"
    }
}
