/// The outgoing byte queue of a `TCPConnection`: a bip buffer (a ring whose regions never wrap
/// mid-write) over one contiguous allocation. The buffered bytes are at most two regions, `a`
/// (oldest) and `b` (which starts at offset 0 once writing has wrapped), so a flush is a single
/// sendmsg of at most two iovecs; and every reservation is contiguous, so that a producer (the
/// Noise sealer) can write ciphertext straight into it (`reserve`/`commit`) instead of into an
/// intermediate array. It grows by doubling (without zero-filling, linearising the bytes) and
/// never past `limit`, the connection's hard cap, which is checked before any append. Storage is
/// kept across drains (a busy connection does not reallocate) and given back by
/// `releaseStorageIfIdle()`.
///
/// Owned and used by one connection on its queue only.
final class WriteBuffer {
    private static let minimumCapacity = 16 * 1024

    let limit: Int
    private var storage = UnsafeMutableRawBufferPointer(start: nil, count: 0)
    /// Region `a`: `aStart..<aEnd`, the oldest bytes.
    private var aStart = 0
    private var aEnd = 0
    /// Region `b`: `0..<bEnd`, in use (after `a`) once writing has wrapped to the front.
    private var bEnd = 0
    private var wrapped = false
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
        let space = reserve(adding)
        guard let base = space.baseAddress else { return }
        var o = 0
        var toSkip = skip
        for region in regions {
            if toSkip >= region.count {
                toSkip -= region.count
                continue
            }
            let part = UnsafeRawBufferPointer(rebasing: region[toSkip...])
            toSkip = 0
            guard let source = part.baseAddress else { continue }
            (base + o).copyMemory(from: source, byteCount: part.count)
            o += part.count
        }
        commit(o)
    }

    /// Contiguous free space of at least `n` bytes after the buffered ones (growing the storage
    /// when needed); fill a prefix of it and `commit` that many bytes before any other call.
    func reserve(_ n: Int) -> UnsafeMutableRawBufferPointer {
        if let space = contiguousSpace(n) { return space }
        grow(count + n)
        return contiguousSpace(n) ?? UnsafeMutableRawBufferPointer(start: nil, count: 0)
    }

    /// Adds `n` bytes written at the start of the last `reserve`d space.
    func commit(_ n: Int) {
        guard n > 0 else { return }
        if wrapped { bEnd += n } else { aEnd += n }
        count += n
    }

    private func contiguousSpace(_ n: Int) -> UnsafeMutableRawBufferPointer? {
        guard let base = storage.baseAddress else { return nil }
        if wrapped {
            guard aStart - bEnd >= n else { return nil }
            return UnsafeMutableRawBufferPointer(start: base + bEnd, count: aStart - bEnd)
        }
        if storage.count - aEnd >= n {
            return UnsafeMutableRawBufferPointer(start: base + aEnd, count: storage.count - aEnd)
        }
        if count == 0 {
            aStart = 0
            aEnd = 0
            return storage.count >= n ? storage : nil
        }
        guard aStart >= n else { return nil }
        wrapped = true
        bEnd = 0
        return UnsafeMutableRawBufferPointer(start: base, count: aStart)
    }

    /// Reallocates (doubling, at most to `limit` unless more is needed) so that `needed` bytes fit,
    /// moving the buffered bytes to the front.
    private func grow(_ needed: Int) {
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
        aStart = 0
        aEnd = count
        bEnd = 0
        wrapped = false
    }

    /// Calls `body` with the buffered bytes as at most two regions, oldest first.
    func withReadableRegions<R>(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> R) -> R {
        let empty = UnsafeRawBufferPointer(start: nil, count: 0)
        guard count > 0, let base = storage.baseAddress else { return body(empty, empty) }
        let a = UnsafeRawBufferPointer(start: base + aStart, count: aEnd - aStart)
        let b = wrapped && bEnd > 0 ? UnsafeRawBufferPointer(start: base, count: bEnd) : empty
        return body(a, b)
    }

    /// Drops `n` bytes (at most `count`) from the front.
    func consume(_ n: Int) {
        var n = min(n, count)
        count -= n
        if count == 0 {
            aStart = 0
            aEnd = 0
            bEnd = 0
            wrapped = false
            return
        }
        let fromA = min(n, aEnd - aStart)
        aStart += fromA
        n -= fromA
        if aStart == aEnd {
            if wrapped {
                aStart = n
                aEnd = bEnd
                bEnd = 0
                wrapped = false
            } else {
                aStart = 0
                aEnd = 0
            }
        }
    }

    /// Frees the storage while nothing is buffered (for idle connections).
    func releaseStorageIfIdle() {
        guard count == 0, storage.count > 0 else { return }
        removeAll()
    }

    /// Drops everything and frees the storage.
    func removeAll() {
        storage.deallocate()
        storage = UnsafeMutableRawBufferPointer(start: nil, count: 0)
        aStart = 0
        aEnd = 0
        bEnd = 0
        wrapped = false
        count = 0
    }
}
