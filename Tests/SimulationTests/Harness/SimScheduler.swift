/// Deterministic discrete-event scheduler: virtual time in nanoseconds, events ordered by
/// (time, insertion sequence) so a run replays exactly from its seed.
import P2PCore

/// The project's seeded generator (`SplitMix64`) under the harness's name.
typealias SimRNG = P2PCore.SplitMix64

final class SimScheduler {
    typealias Action = () -> Void
    private struct Event { let time: UInt64; let seq: UInt64; let action: Action }

    private(set) var now: UInt64 = 0
    private var heap: [Event] = []
    private var seq: UInt64 = 0
    private(set) var executed = 0

    func schedule(after delay: UInt64, _ action: @escaping Action) { schedule(at: now + delay, action) }

    func schedule(at time: UInt64, _ action: @escaping Action) {
        seq += 1
        heap.append(Event(time: max(time, now), seq: seq, action: action))
        siftUp(heap.count - 1)
    }

    var pending: Int { heap.count }

    /// Runs events until the queue is empty, virtual time passes `until`, or `maxEvents` ran.
    /// Returns true if it stopped because `condition` became true.
    @discardableResult
    func run(until: UInt64 = .max, maxEvents: Int = 50_000_000, stopWhen condition: () -> Bool = { false }) -> Bool {
        var n = 0
        while let next = heap.first, next.time <= until, n < maxEvents {
            if condition() { return true }
            pop()
            now = next.time
            next.action()
            n += 1
            executed += 1
        }
        if until != .max && now < until && heap.first.map({ $0.time > until }) ?? true { now = until }
        return condition()
    }

    private func less(_ a: Event, _ b: Event) -> Bool { a.time != b.time ? a.time < b.time : a.seq < b.seq }

    private func pop() {
        let last = heap.removeLast()
        guard !heap.isEmpty else { return }
        heap[0] = last
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < heap.count && less(heap[l], heap[m]) { m = l }
            if r < heap.count && less(heap[r], heap[m]) { m = r }
            if m == i { return }
            heap.swapAt(i, m)
            i = m
        }
    }

    private func siftUp(_ i: Int) {
        var i = i
        while i > 0 {
            let p = (i - 1) / 2
            if !less(heap[i], heap[p]) { return }
            heap.swapAt(i, p)
            i = p
        }
    }
}
