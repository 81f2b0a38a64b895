import Dispatch
import Foundation
import P2PCore

/// keccak256 of a block's payload bytes (everything after the 65-byte signature, spec §2.1),
/// started on another core (`SpeculationThread`) as soon as the router's message-id function
/// has decompressed the block, so the signature hash — the longest single step of validation
/// (a sequential sponge over the whole payload) — runs while the router hashes the id and the
/// validator decodes the SSZ and hashes the block.
///
/// `value()` never depends on a free worker: if no thread has started the hash yet, the caller
/// claims it and computes it itself; if one is computing it, the caller waits for that thread,
/// which is running. So validators waiting on hashes cannot starve the pool that runs them.
public final class SpeculativeHash: @unchecked Sendable {  // safe: `state` is only touched with `condition` locked; `bytes` is immutable
    private enum State {
        case pending
        case running
        case done([UInt8])
    }

    private let condition = NSCondition()
    private var state = State.pending
    private let bytes: [UInt8]
    private let offset: Int
    private let onFinish: @Sendable () -> Void

    /// keccak256(bytes[offset...]); `onFinish` runs once, on whichever thread computed it.
    init(bytes: [UInt8], from offset: Int, onFinish: @escaping @Sendable () -> Void = {}) {
        self.bytes = bytes
        self.offset = Swift.min(Swift.max(0, offset), bytes.count)
        self.onFinish = onFinish
    }

    /// Computes the hash on this thread unless another thread got to it first.
    public func run() {
        if claim() { finish() }
    }

    /// The hash: computed here if nobody started it, else the running thread's result.
    public func value() -> [UInt8] {
        if claim() { return finish() }
        condition.lock()
        defer { condition.unlock() }
        while true {
            if case .done(let h) = state { return h }
            condition.wait()
        }
    }

    /// Whether the hash is available without waiting (tests and metrics).
    public var isDone: Bool {
        condition.lock()
        defer { condition.unlock() }
        if case .done = state { return true }
        return false
    }

    private func claim() -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard case .pending = state else { return false }
        state = .running
        return true
    }

    @discardableResult
    private func finish() -> [UInt8] {
        let h = Keccak256.hash(bytes[offset...])
        condition.lock()
        state = .done(h)
        condition.broadcast()
        condition.unlock()
        onFinish()
        return h
    }
}

/// One long-lived thread that runs speculative payload hashes. A Dispatch pool thread took
/// 100–150 µs to start one (measured), most of the time the hash saves; this thread sleeps on a
/// condition variable and wakes in a few microseconds. Jobs it has not reached are claimed by
/// their validators (`SpeculativeHash.value()`), so a backlog here never delays a validation.
final class SpeculationThread: @unchecked Sendable {  // safe: `jobs` is only touched with `condition` locked
    static let shared = SpeculationThread()

    private let condition = NSCondition()
    private var jobs: [SpeculativeHash] = []

    private init() {
        let thread = Thread { [unowned self] in self.loop() }
        thread.name = "p2pnode.speculative-hash"
        thread.qualityOfService = .userInitiated
        thread.start()
    }

    func submit(_ job: SpeculativeHash) {
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    private func loop() {
        while true {
            condition.lock()
            while jobs.isEmpty { condition.wait() }
            let job = jobs.removeFirst()
            condition.unlock()
            job.run()
        }
    }
}
