/// A bounded least-recently-used map. Every map keyed by something a peer controls uses this
/// (or another bounded structure) so memory never grows with hostile input.
///
/// Array-backed doubly linked list + dictionary: O(1) get/set/evict, no per-entry allocation
/// beyond the dictionary's own.
public struct LRUCache<Key: Hashable, Value> {
    fileprivate typealias Node = LRUNode<Key, Value>

    public let capacity: Int
    private var index: [Key: Int] = [:]
    private var nodes: [Node] = []
    private var head = -1   // most recently used
    private var tail = -1   // least recently used
    private var free: [Int] = []

    public init(capacity: Int) {
        self.capacity = Swift.max(1, capacity)
        index.reserveCapacity(Swift.min(self.capacity, 4096))
    }

    public var count: Int { index.count }
    public var isEmpty: Bool { index.isEmpty }

    /// Looks up `key` and marks it most recently used.
    public mutating func get(_ key: Key) -> Value? {
        guard let i = index[key] else { return nil }
        moveToFront(i)
        return nodes[i].value
    }

    /// Looks up `key` without changing its recency.
    public func peek(_ key: Key) -> Value? {
        guard let i = index[key] else { return nil }
        return nodes[i].value
    }

    public func contains(_ key: Key) -> Bool { index[key] != nil }

    /// Inserts or replaces `key`. Returns the evicted entry, if the cache was full.
    @discardableResult
    public mutating func set(_ key: Key, _ value: Value) -> (key: Key, value: Value)? {
        if let i = index[key] {
            nodes[i].value = value
            moveToFront(i)
            return nil
        }
        var evicted: (Key, Value)?
        if index.count >= capacity, tail >= 0 {
            let t = tail
            evicted = (nodes[t].key, nodes[t].value)
            unlink(t)
            index[nodes[t].key] = nil
            free.append(t)
        }
        let node = Node(key: key, value: value, prev: -1, next: head)
        let i: Int
        if let f = free.popLast() { nodes[f] = node; i = f } else { nodes.append(node); i = nodes.count - 1 }
        if head >= 0 { nodes[head].prev = i }
        head = i
        if tail < 0 { tail = i }
        index[key] = i
        return evicted
    }

    /// Mutates the value for `key` in place (marking it most recently used), inserting
    /// `defaultValue()` first if absent. Returns the evicted entry, if any.
    @discardableResult
    public mutating func update(_ key: Key, default defaultValue: () -> Value, _ body: (inout Value) -> Void) -> (key: Key, value: Value)? {
        if let i = index[key] {
            body(&nodes[i].value)
            moveToFront(i)
            return nil
        }
        var v = defaultValue()
        body(&v)
        return set(key, v)
    }

    @discardableResult
    public mutating func remove(_ key: Key) -> Value? {
        guard let i = index[key] else { return nil }
        unlink(i)
        index[key] = nil
        free.append(i)
        return nodes[i].value
    }

    /// Removes and returns the least recently used entry.
    public mutating func removeOldest() -> (key: Key, value: Value)? {
        guard tail >= 0 else { return nil }
        let t = tail
        let entry = (nodes[t].key, nodes[t].value)
        unlink(t)
        index[nodes[t].key] = nil
        free.append(t)
        return entry
    }

    public mutating func removeAll() {
        index.removeAll(keepingCapacity: true)
        nodes.removeAll(keepingCapacity: true)
        free.removeAll()
        head = -1
        tail = -1
    }

    /// Keys from most to least recently used.
    public var keys: [Key] {
        var out: [Key] = []
        out.reserveCapacity(index.count)
        var i = head
        while i >= 0 { out.append(nodes[i].key); i = nodes[i].next }
        return out
    }

    private mutating func unlink(_ i: Int) {
        let p = nodes[i].prev, n = nodes[i].next
        if p >= 0 { nodes[p].next = n } else { head = n }
        if n >= 0 { nodes[n].prev = p } else { tail = p }
        nodes[i].prev = -1
        nodes[i].next = -1
    }

    private mutating func moveToFront(_ i: Int) {
        guard head != i else { return }
        unlink(i)
        nodes[i].next = head
        if head >= 0 { nodes[head].prev = i }
        head = i
        if tail < 0 { tail = i }
    }
}

fileprivate struct LRUNode<Key, Value> {
    var key: Key
    var value: Value
    var prev: Int
    var next: Int
}

extension LRUNode: Sendable where Key: Sendable, Value: Sendable {}
extension LRUCache: Sendable where Key: Sendable, Value: Sendable {}
