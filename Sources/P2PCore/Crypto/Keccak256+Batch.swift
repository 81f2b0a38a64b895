#if arch(x86_64)
import KeccakSIMD
#endif

/// keccak256 of many independent messages at once (the transaction trie's nodes, spec §1.4).
/// On x86_64 CPUs whose CPU and OS support AVX-512F (`Keccak256.avx512Available`: libsodium's
/// runtime CPU detection, which checks CPUID and the XCR0 zmm/opmask state bits) the messages go eight at a time through
/// KeccakSIMD's 8-way Keccak-f[1600], a module compiled for AVX-512F and never entered without
/// this check; otherwise, and for a single message, one by one as `Keccak256.hash`. The
/// digests are the same either way.
extension Keccak256 {
    /// keccak256 of `bytes[r]` for each range `r`, concatenated: digest `i` is bytes
    /// `32 i ..< 32 i + 32` of the result. Every range must lie within `bytes` (the caller built
    /// both; a range outside is a programming error and traps).
    public static func hash(_ bytes: [UInt8], ranges: [Range<Int>]) -> [UInt8] {
        precondition(ranges.allSatisfy { $0.lowerBound >= 0 && $0.upperBound <= bytes.count },  // safe: the only caller (OrderedTrie) builds the ranges from the lengths of the encodings it appended to `bytes`; no peer input sets a range
                     "Keccak256.hash(_:ranges:): a range lies outside the bytes")
        #if arch(x86_64)
        if ranges.count > 1 && avx512Available {
            return [UInt8](unsafeUninitializedCapacity: digestSize * ranges.count) { digests, count in
                bytes.withUnsafeBytes { b in
                    ranges.withUnsafeBufferPointer { r in
                        Keccak256x8.hash(b, ranges: r, digests: UnsafeMutableRawBufferPointer(digests))
                    }
                }
                count = digestSize * ranges.count
            }
        }
        #endif
        var digests = [UInt8]()
        digests.reserveCapacity(digestSize * ranges.count)
        for r in ranges { digests.append(contentsOf: hash(bytes[r])) }
        return digests
    }
}
