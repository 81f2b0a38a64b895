import CNettle
import CSodium
#if arch(x86_64)
import CKeccakAVX512
#endif

/// Ethereum's keccak256: Keccak-f[1600] with the original Keccak padding (0x01 … 0x80), not
/// SHA3-256's 0x06, rate 136 bytes (the Keccak reference, keccak.team; FIPS 202 §3.2).
///
/// Two permutations give the same digests. On x86_64 CPUs whose CPU and OS support AVX-512F
/// (libsodium's runtime check) it is CKeccakAVX512's, which keeps the state in five zmm
/// registers across every whole block of one call, so `hash(_:)` of a contiguous message is one
/// C call (~1.8x nettle's speed on a 100 KB block); elsewhere it is nettle's
/// `nettle_sha3_permute`, one block per call. Both work on the same 200-byte state (nettle's
/// `struct sha3_state`, 25 little-endian lanes), so a streaming hasher can use either.
public struct Keccak256: Sendable {
    public static let rate = 136
    public static let digestSize = 32

    /// The Keccak-f[1600] implementation a hasher absorbs with.
    public enum Permutation: Sendable, Equatable, CustomStringConvertible {
        /// nettle's `nettle_sha3_permute` (any CPU).
        case nettle
        /// CKeccakAVX512's single-state AVX-512F permutation (x86_64 with AVX-512F only).
        case avx512

        public var description: String {
            switch self {
            case .nettle: return "nettle Keccak-f"
            case .avx512: return "AVX-512F Keccak-f"
            }
        }
    }

    /// Whether the CPU and OS support AVX-512F (CPUID and the XCR0 zmm/opmask state bits, as
    /// libsodium checks them). CKeccakAVX512 and KeccakSIMD are entered only when this is true.
    public static let avx512Available: Bool = {
        #if arch(x86_64)
        return sodiumInitialized && sodium_runtime_has_avx512f() != 0
        #else
        return false
        #endif
    }()

    /// What `init()` and `hash(_:)` use: `.avx512` when available, else `.nettle`.
    public static let preferredPermutation: Permutation = avx512Available ? .avx512 : .nettle

    /// The permutation this hasher uses (`.nettle` when `.avx512` was asked for but the CPU
    /// lacks AVX-512F).
    public let permutation: Permutation
    private var state = sha3_state()
    /// Input that does not yet fill a block: `buffered` bytes at the start.
    private var buffer: Block = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    private var buffered = 0

    /// 136 bytes inline (17 lanes), so a hasher needs no heap allocation.
    private typealias Block = (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                               UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)

    public init() {
        self.init(permutation: Keccak256.preferredPermutation)
    }

    public init(permutation: Permutation) {
        self.permutation = permutation == .avx512 && Keccak256.avx512Available ? .avx512 : .nettle
    }

    /// One-shot hash of any byte collection (one pass over contiguous storage, no copy).
    public static func hash<C: Collection>(_ data: C) -> [UInt8] where C.Element == UInt8 {
        withContiguousBytes(data) { hash(raw: $0, permutation: preferredPermutation) }
    }

    /// One-shot hash with a chosen permutation (benchmarks and tests compare the two).
    public static func hash<C: Collection>(_ data: C, permutation: Permutation) -> [UInt8] where C.Element == UInt8 {
        withContiguousBytes(data) { hash(raw: $0, permutation: permutation) }
    }

    /// Hash of the concatenation of several byte strings (no copies).
    public static func hash(parts: [[UInt8]]) -> [UInt8] {
        var k = Keccak256()
        for p in parts { k.update(p) }
        return k.finalize()
    }

    private static func hash(raw: UnsafeRawBufferPointer, permutation: Permutation) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: digestSize) { out, count in
            #if arch(x86_64)
            if permutation == .avx512 && avx512Available {
                keccak_avx512_keccak256(raw.baseAddress, raw.count, out.baseAddress)
                count = digestSize
                return
            }
            #endif
            var k = Keccak256(permutation: .nettle)
            k.update(raw: raw)
            k.finalize(into: UnsafeMutableRawBufferPointer(out))
            count = digestSize
        }
    }

    public mutating func update<C: Collection>(_ data: C) where C.Element == UInt8 {
        withContiguousBytes(data) { update(raw: $0) }
    }

    public mutating func update(raw: UnsafeRawBufferPointer) {
        var input = raw
        let rate = Keccak256.rate
        if buffered > 0 {
            let take = Swift.min(rate - buffered, input.count)
            let start = buffered
            withUnsafeMutableBytes(of: &buffer) { b in
                UnsafeMutableRawBufferPointer(rebasing: b[start..<(start + take)])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: input[..<take]))
            }
            buffered += take
            input = UnsafeRawBufferPointer(rebasing: input[take...])
            guard buffered == rate else { return }
            absorbBuffer()
        }
        let blocks = input.count / rate
        if blocks > 0 {
            Keccak256.absorb(&state, UnsafeRawBufferPointer(rebasing: input[..<(blocks * rate)]), permutation)
            input = UnsafeRawBufferPointer(rebasing: input[(blocks * rate)...])
        }
        if !input.isEmpty {
            withUnsafeMutableBytes(of: &buffer) { UnsafeMutableRawBufferPointer(rebasing: $0[..<input.count]).copyMemory(from: input) }
            buffered = input.count
        }
    }

    public mutating func finalize() -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: Keccak256.digestSize) { out, count in
            finalize(into: UnsafeMutableRawBufferPointer(out))
            count = Keccak256.digestSize
        }
    }

    /// Pads the buffered tail (0x01 after it, 0x80 in the block's last byte), absorbs it and
    /// writes the first 32 bytes of the state to `out`.
    private mutating func finalize(into out: UnsafeMutableRawBufferPointer) {
        let rate = Keccak256.rate, tail = buffered
        withUnsafeMutableBytes(of: &buffer) { b in
            UnsafeMutableRawBufferPointer(rebasing: b[tail...]).initializeMemory(as: UInt8.self, repeating: 0)
            b[tail] ^= 0x01
            b[rate - 1] ^= 0x80
        }
        absorbBuffer()
        withUnsafeBytes(of: &state.a) { out.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[..<Keccak256.digestSize])) }
    }

    /// Absorbs the full buffer and empties it.
    private mutating func absorbBuffer() {
        let block = buffer
        withUnsafeBytes(of: block) { Keccak256.absorb(&state, $0, permutation) }
        buffered = 0
    }

    /// XORs each 136-byte block of `blocks` (a whole number of them) into lanes 0…16 of `state`
    /// (little-endian) and permutes.
    private static func absorb(_ state: inout sha3_state, _ blocks: UnsafeRawBufferPointer, _ permutation: Permutation) {
        #if arch(x86_64)
        if permutation == .avx512 {
            withUnsafeMutableBytes(of: &state) { keccak_avx512_absorb136($0.baseAddress, blocks.baseAddress, blocks.count / rate) }
            return
        }
        #endif
        var offset = 0
        while offset + rate <= blocks.count {
            withUnsafeMutableBytes(of: &state.a) { lanes in
                for i in 0..<(rate / 8) {
                    let v = blocks.loadUnaligned(fromByteOffset: offset + i * 8, as: UInt64.self)
                    let cur = lanes.load(fromByteOffset: i * 8, as: UInt64.self)
                    lanes.storeBytes(of: cur ^ UInt64(littleEndian: v), toByteOffset: i * 8, as: UInt64.self)
                }
            }
            nettle_sha3_permute(&state)
            offset += rate
        }
    }
}
