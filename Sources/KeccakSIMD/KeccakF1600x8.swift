/// Keccak-f[1600] on eight independent states at once (FIPS 202 §3.2; the Keccak reference,
/// keccak.team): state word `i` of all eight states is one `SIMD8<UInt64>`, so with AVX-512F
/// every step is one zmm instruction — `vprolq` for the rotations, `vpternlogq` for theta's
/// five-way XORs and chi's `a ^ (~b & c)`.
///
/// Why this is not nettle: DESIGN principle 7 takes Keccak-f from nettle (`nettle_sha3_permute`),
/// and single-stream keccak256 still does. No Debian library offers a multi-buffer Keccak, and
/// the transaction trie hashes dozens of independent nodes per block, so this module exists for
/// that one job. It is compiled with `-mavx512f`: call it only after a runtime check that the CPU
/// and OS support AVX-512F (P2PCore's `Keccak256.hash(batch:)` does).

/// Word `i` (x + 5y) of eight Keccak states, one per vector lane.
public typealias Lanes = SIMD8<UInt64>

/// The 24 iota round constants.
private let roundConstants: [UInt64] = [
    0x0000_0000_0000_0001, 0x0000_0000_0000_8082, 0x8000_0000_0000_808A, 0x8000_0000_8000_8000,
    0x0000_0000_0000_808B, 0x0000_0000_8000_0001, 0x8000_0000_8000_8081, 0x8000_0000_0000_8009,
    0x0000_0000_0000_008A, 0x0000_0000_0000_0088, 0x0000_0000_8000_8009, 0x0000_0000_8000_000A,
    0x0000_0000_8000_808B, 0x8000_0000_0000_008B, 0x8000_0000_0000_8089, 0x8000_0000_0000_8003,
    0x8000_0000_0000_8002, 0x8000_0000_0000_0080, 0x0000_0000_0000_800A, 0x8000_0000_8000_000A,
    0x8000_0000_8000_8081, 0x8000_0000_0000_8080, 0x0000_0000_8000_0001, 0x8000_0000_8000_8008,
]

@inline(__always)
private func rol(_ x: Lanes, _ n: UInt64) -> Lanes {
    (x &<< Lanes(repeating: n)) | (x &>> Lanes(repeating: 64 &- n))
}

/// Absorbs one 136-byte block into each of the eight lane-sliced states at `state`, then applies
/// Keccak-f[1600] to all eight. `state` is 25 words of 64 bytes (word `i` of state `s` at byte
/// `64 i + 8 s`), 64-byte aligned; `blocks[s]` points at state `s`'s block (an all-zero block
/// leaves a state unchanged before the permutation). The CPU must support AVX-512F.
@inline(never)
public func keccakF1600x8(_ state: UnsafeMutableRawPointer, absorbing blocks: UnsafePointer<UnsafeRawPointer>) {
    let p0 = blocks[0], p1 = blocks[1], p2 = blocks[2], p3 = blocks[3]
    let p4 = blocks[4], p5 = blocks[5], p6 = blocks[6], p7 = blocks[7]
    @inline(__always) func le(_ p: UnsafeRawPointer, _ o: Int) -> UInt64 {
        UInt64(littleEndian: p.loadUnaligned(fromByteOffset: o, as: UInt64.self))
    }
    // Word i of the eight states, with word i of the eight blocks XORed in (the first 17 words
    // are the 136-byte rate).
    @inline(__always) func w(_ i: Int) -> Lanes {
        let s = state.load(fromByteOffset: i &* 64, as: Lanes.self)
        guard i < 17 else { return s }
        let o = i &* 8
        return s ^ Lanes(le(p0, o), le(p1, o), le(p2, o), le(p3, o), le(p4, o), le(p5, o), le(p6, o), le(p7, o))
    }
    var a00 = w(0), a01 = w(1), a02 = w(2), a03 = w(3), a04 = w(4)
    var a05 = w(5), a06 = w(6), a07 = w(7), a08 = w(8), a09 = w(9)
    var a10 = w(10), a11 = w(11), a12 = w(12), a13 = w(13), a14 = w(14)
    var a15 = w(15), a16 = w(16), a17 = w(17), a18 = w(18), a19 = w(19)
    var a20 = w(20), a21 = w(21), a22 = w(22), a23 = w(23), a24 = w(24)
    for rc in roundConstants {
        // theta
        let c0 = a00 ^ a05 ^ a10 ^ a15 ^ a20
        let c1 = a01 ^ a06 ^ a11 ^ a16 ^ a21
        let c2 = a02 ^ a07 ^ a12 ^ a17 ^ a22
        let c3 = a03 ^ a08 ^ a13 ^ a18 ^ a23
        let c4 = a04 ^ a09 ^ a14 ^ a19 ^ a24
        let d0 = c4 ^ rol(c1, 1), d1 = c0 ^ rol(c2, 1), d2 = c1 ^ rol(c3, 1)
        let d3 = c2 ^ rol(c4, 1), d4 = c3 ^ rol(c0, 1)
        // rho and pi: B[y, 2x + 3y] = rol(A[x, y] ^ D[x], r[x, y]), word index x + 5y.
        let b00 = a00 ^ d0
        let b01 = rol(a06 ^ d1, 44), b02 = rol(a12 ^ d2, 43), b03 = rol(a18 ^ d3, 21), b04 = rol(a24 ^ d4, 14)
        let b05 = rol(a03 ^ d3, 28), b06 = rol(a09 ^ d4, 20), b07 = rol(a10 ^ d0, 3)
        let b08 = rol(a16 ^ d1, 45), b09 = rol(a22 ^ d2, 61)
        let b10 = rol(a01 ^ d1, 1), b11 = rol(a07 ^ d2, 6), b12 = rol(a13 ^ d3, 25)
        let b13 = rol(a19 ^ d4, 8), b14 = rol(a20 ^ d0, 18)
        let b15 = rol(a04 ^ d4, 27), b16 = rol(a05 ^ d0, 36), b17 = rol(a11 ^ d1, 10)
        let b18 = rol(a17 ^ d2, 15), b19 = rol(a23 ^ d3, 56)
        let b20 = rol(a02 ^ d2, 62), b21 = rol(a08 ^ d3, 55), b22 = rol(a14 ^ d4, 39)
        let b23 = rol(a15 ^ d0, 41), b24 = rol(a21 ^ d1, 2)
        // chi, then iota on word 0.
        a00 = b00 ^ (~b01 & b02); a01 = b01 ^ (~b02 & b03); a02 = b02 ^ (~b03 & b04)
        a03 = b03 ^ (~b04 & b00); a04 = b04 ^ (~b00 & b01)
        a05 = b05 ^ (~b06 & b07); a06 = b06 ^ (~b07 & b08); a07 = b07 ^ (~b08 & b09)
        a08 = b08 ^ (~b09 & b05); a09 = b09 ^ (~b05 & b06)
        a10 = b10 ^ (~b11 & b12); a11 = b11 ^ (~b12 & b13); a12 = b12 ^ (~b13 & b14)
        a13 = b13 ^ (~b14 & b10); a14 = b14 ^ (~b10 & b11)
        a15 = b15 ^ (~b16 & b17); a16 = b16 ^ (~b17 & b18); a17 = b17 ^ (~b18 & b19)
        a18 = b18 ^ (~b19 & b15); a19 = b19 ^ (~b15 & b16)
        a20 = b20 ^ (~b21 & b22); a21 = b21 ^ (~b22 & b23); a22 = b22 ^ (~b23 & b24)
        a23 = b23 ^ (~b24 & b20); a24 = b24 ^ (~b20 & b21)
        a00 ^= Lanes(repeating: rc)
    }
    @inline(__always) func put(_ i: Int, _ v: Lanes) { state.storeBytes(of: v, toByteOffset: i &* 64, as: Lanes.self) }
    put(0, a00); put(1, a01); put(2, a02); put(3, a03); put(4, a04)
    put(5, a05); put(6, a06); put(7, a07); put(8, a08); put(9, a09)
    put(10, a10); put(11, a11); put(12, a12); put(13, a13); put(14, a14)
    put(15, a15); put(16, a16); put(17, a17); put(18, a18); put(19, a19)
    put(20, a20); put(21, a21); put(22, a22); put(23, a23); put(24, a24)
}
