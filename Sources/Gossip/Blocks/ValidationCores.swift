import Foundation
import P2PCore

/// How many threads of this process are doing block-validation work right now, so the two
/// latency tricks that put a second core on one block — the speculative payload hash
/// (`PreparedBlockCache`) and overlapped checks (`BlockValidatorConfig.overlapHashing`) — are
/// used only while a core is free. On a saturated machine (a burst of blocks, or many nodes in
/// one process) they would add thread hand-offs and wake-ups and make nothing faster; then each
/// block is validated on one thread, which is the cheapest in CPU.
///
/// Process-wide on purpose: cores are. Counts validations running (`enter`/`leave` around each)
/// and extra threads reserved for one (`reserveSpare`/`leave`).
public enum ValidationCores {
    public static let available = ProcessInfo.processInfo.activeProcessorCount
    private static let busy = Locked(0)

    /// A validation starts on this thread.
    public static func enter() { busy.withLock { $0 += 1 } }

    /// A validation, or a spare thread reserved for one, is done.
    public static func leave() { busy.withLock { $0 = Swift.max(0, $0 - 1) } }

    /// Reserves one more thread for work on a block if a core is free; `leave()` when done.
    public static func reserveSpare() -> Bool {
        busy.withLock { n in
            guard n < available else { return false }
            n += 1
            return true
        }
    }

    /// Threads counted now (tests and metrics).
    public static var current: Int { busy.current }
}
