/// The outgoing byte queue of a `TCPConnection`: a ring over one contiguous allocation, so a
/// flush is a single sendmsg of at most two iovecs and appending is a memcpy. It grows by
/// doubling (without zero-filling) and never past `limit`, the connection's hard cap, which is
/// checked before any append. Storage is kept across drains (a busy connection does not
/// reallocate) and given back by `releaseStorageIfIdle()`.
///
/// Owned and used by one connection on its queue only.
final class WriteBuffer {
    /// Storage kept by `releaseStorageIfIdle()`; larger storage is freed.
    static let retainedCapacity = 64 * 1024
    private static let minimumCapacity = 16 * 1024

    let limit: Int
    private var storage = UnsafeMutableRawBufferPointer(start: nil, count: 0)
    private var head = 0
    private(set) var count = 0

    init(limit: Int) {
        self.limit = limit
    }

    deinit {
        storage.deallocate()
    }

    var isEmpty: Bool { count == 0 }
    var capacity: Int { storage.count }

    /// Appends the bytes of `regions`, skipping the first `skip` bytes of their concatenation
    /// (`total` is their combined length).
    func append<Regions: Sequence>(_ regions: Regions, skip: Int = 0, total: Int)
    where Regions.Element == UnsafeRawBufferPointer {
        let adding = total - skip
        guard adding > 0 else { return }
        reserve(count + adding)
        var toSkip = skip
        for region in regions {
            if toSkip >= region.count {
                toSkip -= region.count
                continue
            }
            appendContiguous(UnsafeRawBufferPointer(rebasing: region[toSkip...]))
            toSkip = 0
        }
    }

    private func appendContiguous(_ bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress, let base = storage.baseAddress, bytes.count > 0 else { return }
        let cap = storage.count
        let tail = (head + count) % cap
        let first = min(bytes.count, cap - tail)
        (base + tail).copyMemory(from: source, byteCount: first)
        if first < bytes.count {
            base.copyMemory(from: source + first, byteCount: bytes.count - first)
        }
        count += bytes.count
    }

    /// Grows (doubling, at most to `limit` unless more is needed, linearising the ring) so that
    /// `needed` bytes fit.
    private func reserve(_ needed: Int) {
        guard needed > storage.count else { return }
        var newCapacity = max(storage.count, Self.minimumCapacity)
        while newCapacity < needed { newCapacity *= 2 }
        newCapacity = min(newCapacity, max(needed, limit))
        let grown = UnsafeMutableRawBufferPointer.allocate(byteCount: newCapacity, alignment: 16)
        withReadableRegions { a, b in
            guard let dst = grown.baseAddress else { return }
            if let pa = a.baseAddress { dst.copyMemory(from: pa, byteCount: a.count) }
            if let pb = b.baseAddress { (dst + a.count).copyMemory(from: pb, byteCount: b.count) }
        }
        storage.deallocate()
        storage = grown
        head = 0
    }

    /// Calls `body` with the buffered bytes as at most two regions, oldest first.
    func withReadableRegions<R>(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> R) -> R {
        let empty = UnsafeRawBufferPointer(start: nil, count: 0)
        guard count > 0, let base = storage.baseAddress else { return body(empty, empty) }
        let first = min(count, storage.count - head)
        let a = UnsafeRawBufferPointer(start: base + head, count: first)
        let b = first < count ? UnsafeRawBufferPointer(start: base, count: count - first) : empty
        return body(a, b)
    }

    /// Drops `n` bytes (at most `count`) from the front.
    func consume(_ n: Int) {
        let n = min(n, count)
        count -= n
        head = count == 0 ? 0 : (head + n) % storage.count
    }

    /// Frees storage above `retainedCapacity` while nothing is buffered (for idle connections).
    func releaseStorageIfIdle() {
        guard count == 0, storage.count > Self.retainedCapacity else { return }
        storage.deallocate()
        storage = UnsafeMutableRawBufferPointer(start: nil, count: 0)
        head = 0
    }

    /// Drops everything and frees the storage.
    func removeAll() {
        storage.deallocate()
        storage = UnsafeMutableRawBufferPointer(start: nil, count: 0)
        head = 0
        count = 0
    }
}
