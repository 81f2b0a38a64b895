import CNettle

/// Ethereum's keccak256: the Keccak-f[1600] permutation from nettle (`nettle_sha3_permute`)
/// with the original Keccak padding (0x01 … 0x80), not SHA3-256's 0x06.
public struct Keccak256: Sendable {
    public static let rate = 136
    public static let digestSize = 32

    private var state = sha3_state()
    private var buffer = [UInt8](repeating: 0, count: Keccak256.rate)
    private var buffered = 0

    public init() {}

    /// One-shot hash of any byte collection.
    public static func hash<C: Collection>(_ data: C) -> [UInt8] where C.Element == UInt8 {
        var k = Keccak256()
        k.update(data)
        return k.finalize()
    }

    /// Hash of the concatenation of several byte strings (no copies).
    public static func hash(parts: [[UInt8]]) -> [UInt8] {
        var k = Keccak256()
        for p in parts { k.update(p) }
        return k.finalize()
    }

    public mutating func update<C: Collection>(_ data: C) where C.Element == UInt8 {
        withContiguousBytes(data) { update(raw: $0) }
    }

    public mutating func update(raw: UnsafeRawBufferPointer) {
        var input = raw[...]
        if buffered > 0 {
            let take = Swift.min(Keccak256.rate - buffered, input.count)
            buffer.withUnsafeMutableBytes { b in
                for i in 0..<take { b[buffered + i] = input[input.startIndex + i] }
            }
            buffered += take
            input = input.dropFirst(take)
            if buffered == Keccak256.rate {
                buffer.withUnsafeBytes { absorb(UnsafeRawBufferPointer(rebasing: $0[...])) }
                buffered = 0
            }
        }
        while input.count >= Keccak256.rate {
            absorb(UnsafeRawBufferPointer(rebasing: input.prefix(Keccak256.rate)))
            input = input.dropFirst(Keccak256.rate)
        }
        if !input.isEmpty {
            let n = input.count
            buffer.withUnsafeMutableBytes { b in
                for i in 0..<n { b[i] = input[input.startIndex + i] }
            }
            buffered = n
        }
    }

    public mutating func finalize() -> [UInt8] {
        buffer.withUnsafeMutableBytes { b in
            for i in buffered..<Keccak256.rate { b[i] = 0 }
            b[buffered] ^= 0x01
            b[Keccak256.rate - 1] ^= 0x80
        }
        buffer.withUnsafeBytes { absorb(UnsafeRawBufferPointer(rebasing: $0[...])) }
        buffered = 0
        return withUnsafeBytes(of: &state.a) { Array($0.prefix(Keccak256.digestSize)) }
    }

    /// XORs one 136-byte block into the first 17 lanes (little-endian) and permutes.
    private mutating func absorb(_ block: UnsafeRawBufferPointer) {
        withUnsafeMutableBytes(of: &state.a) { lanes in
            for i in 0..<(Keccak256.rate / 8) {
                let v = block.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)
                let cur = lanes.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)
                lanes.storeBytes(of: cur ^ UInt64(littleEndian: v), toByteOffset: i * 8, as: UInt64.self)
            }
        }
        nettle_sha3_permute(&state)
    }
}
