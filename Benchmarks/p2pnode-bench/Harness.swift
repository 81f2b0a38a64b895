import Foundation

/// A tiny benchmark harness: runs `body` repeatedly for at least `seconds` (after a warm-up) and
/// reports operations per second. Figures only; nothing here asserts.
struct Bench {
    static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    /// Returns operations per second of `body`, which performs `batch` operations per call.
    static func opsPerSecond(seconds: Double = 1.0, batch: Int = 1, _ body: () -> Void) -> Double {
        for _ in 0..<3 { body() }
        var calls = 0
        let start = now()
        let deadline = start + UInt64(seconds * 1e9)
        var t = start
        repeat {
            body()
            calls += 1
            t = now()
        } while t < deadline
        return Double(calls * batch) / (Double(t - start) / 1e9)
    }

    static func row(_ name: String, _ value: Double, unit: String, limit: Double?, limitNote: String = "") {
        var line = "  " + name.padding(toLength: 46, withPad: " ", startingAt: 0)
            + String(repeating: " ", count: max(0, 10 - format(value).count)) + format(value) + " " + unit.padding(toLength: 9, withPad: " ", startingAt: 0)
        if let limit {
            line += String(format: " limit %@ %@ → %.0f%%", format(limit), unit, value / limit * 100)
            if !limitNote.isEmpty { line += " " + limitNote }
        }
        print(line)
    }

    static func format(_ v: Double) -> String {
        if v >= 100 { return String(format: "%.0f", v) }
        if v >= 10 { return String(format: "%.1f", v) }
        return String(format: "%.2f", v)
    }
}

/// Physical limits measured on these machines (DESIGN.md, "Platform facts"), single core, release.
enum Limits {
    static let keccakMBs = 424.0
    static let sha256MBs = 2000.0
    static let chachaSealMBs = 1670.0
    static let chachaOpenMBs = 2700.0
    static let secpRecoverPerSec = 32_000.0
    static let secpSignPerSec = 50_000.0
    static let x25519PerSec = 37_000.0
    static let snappyCompressMBs = 2200.0
    static let snappyUncompressMBs = 4300.0
    static let loopbackOneWayMBs = 4800.0
    static let loopbackEchoMBs = 1500.0
}
