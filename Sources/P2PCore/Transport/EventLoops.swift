import Dispatch
import Foundation

/// A fixed set of serial root queues — event loops — that every connection's serial queue
/// targets, round robin, so the number of threads Dispatch runs for sockets is bounded by the
/// number of cores rather than the number of connections.
///
/// Without it each connection queue targets Dispatch's overcommitting global queue, which gives
/// every busy queue a thread of its own: the 50-node gossip benchmark (≈ 500 connections in one
/// process) ran 262 threads on 2 cores and spent a third of its CPU in the scheduler
/// (BENCHMARKS.md, "Block gossip"). SwiftNIO's `MultiThreadedEventLoopGroup` makes the same
/// choice for the same reason.
///
/// The rule that comes with it: work on a connection queue must never block, and never `sync`
/// onto another connection's queue — two queues that share a root would deadlock. Connection code
/// only hops with `async`; CPU-heavy work (block validation) runs on its own queues.
public final class EventLoops: Sendable {
    /// Shared by every host of the process: 16 loops, or one per core on larger machines (at
    /// most 64). Measured on the 50-node gossip benchmark (2 cores, ≈ 500 connections): 2 loops
    /// delayed IDONTWANTs behind block data (4.9 duplicates per delivery, p99 102 ms); 16, 32, 64
    /// and unbounded all measured the same (p99 59–64 ms, 0.5–0.75 duplicates), with the process
    /// at ≈ 80 threads instead of 262.
    public static let shared = EventLoops(count: min(max(ProcessInfo.processInfo.activeProcessorCount, 16), 64))

    /// The root queues.
    public let queues: [DispatchQueue]
    private let cursor = Locked(0)

    public init(count: Int) {
        queues = (0..<max(count, 1)).map { DispatchQueue(label: "p2p.eventloop.\($0)") }
    }

    /// The next loop, round robin.
    public func next() -> DispatchQueue {
        let i = cursor.withLock { c -> Int in
            defer { c = (c + 1) % queues.count }
            return c
        }
        return queues[i]
    }
}
