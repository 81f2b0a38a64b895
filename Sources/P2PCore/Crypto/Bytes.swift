/// Runs `body` on the contiguous bytes of any byte collection, copying only when the
/// collection has no contiguous storage.
@inlinable
func withContiguousBytes<C: Collection, R>(_ c: C, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R
where C.Element == UInt8 {
    if let r = try c.withContiguousStorageIfAvailable({ try body(UnsafeRawBufferPointer($0)) }) {
        return r
    }
    return try Array(c).withUnsafeBytes(body)
}

/// Constant-time comparison of two byte strings of the same length.
public func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    var acc: UInt8 = 0
    for i in 0..<a.count { acc |= a[i] ^ b[i] }
    return acc == 0
}
