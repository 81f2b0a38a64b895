import Foundation

/// A value guarded by a lock, for the few tables read from many connection queues (stream
/// handlers, the gater). `@unchecked Sendable` is safe because every access goes through `lock`.
public final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    public init(_ value: Value) { self.value = value }

    public func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }

    public var current: Value { withLock { $0 } }

    /// The value, replaced by `empty` (drains a shared list or tally in one locked step).
    public func take(leaving empty: Value) -> Value {
        withLock { v in
            let taken = v
            v = empty
            return taken
        }
    }
}
