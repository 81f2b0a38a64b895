/// A small set of connected-peer slots kept sorted: deterministic iteration (Swift's Set order
/// changes from run to run, which would break replaying a simulation from its seed) and cheap
/// membership tests for mesh-sized sets.
struct SlotSet: Sequence, Equatable {
    private(set) var slots: [Int] = []

    init() {}

    init<S: Sequence>(_ s: S) where S.Element == Int {
        for x in s { insert(x) }
    }

    var count: Int { slots.count }
    var isEmpty: Bool { slots.isEmpty }

    private func position(_ s: Int) -> (index: Int, found: Bool) {
        var lo = 0, hi = slots.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if slots[mid] < s { lo = mid + 1 } else { hi = mid }
        }
        return (lo, lo < slots.count && slots[lo] == s)
    }

    func contains(_ s: Int) -> Bool { position(s).found }

    @discardableResult
    mutating func insert(_ s: Int) -> Bool {
        let p = position(s)
        if p.found { return false }
        slots.insert(s, at: p.index)
        return true
    }

    @discardableResult
    mutating func remove(_ s: Int) -> Bool {
        let p = position(s)
        guard p.found else { return false }
        slots.remove(at: p.index)
        return true
    }

    func makeIterator() -> IndexingIterator<[Int]> { slots.makeIterator() }
}
