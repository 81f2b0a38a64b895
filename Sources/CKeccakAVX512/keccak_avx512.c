// Keccak-f[1600] (FIPS 202 §3.2, the Keccak reference at keccak.team) on ONE state held in five
// AVX-512F zmm registers, and the keccak256 sponge (rate 136, Keccak's 0x01 … 0x80 padding) that
// keeps the state in those registers across blocks. A sponge is sequential, so this is the
// single-stream counterpart of KeccakSIMD's 8-way permutation (which holds eight states).
//
// Layout (the one of XKCP's KeccakP-1600-AVX512 and OpenSSL's keccak1600-avx512.pl): register
// `a<y>` holds plane y, lane (x, y) in element x = 0…4; elements 5…7 are don't-care (nothing
// moves them into 0…4, loads and stores are masked). One round:
//   theta  C = a0^a1^a2^a3^a4 (2 vpternlogq), D[x] = C[x-1] ^ rol(C[x+1], 1) (2 vpermq, vprolq),
//          folded into the next step's XOR (5 vpternlogq);
//   rho    per-element rotate counts (5 vprolvq);
//   pi     lane (x, y) moves to (y, 2x + 3y). Permuting plane y so that element Y holds the lane
//          that goes to row Y (5 vpermq) turns register y into COLUMN y of the result;
//   chi    on columns is element-wise across registers: b[x] ^ (~b[x+1] & b[x+2]) (5 vpternlogq
//          0xD2), no shuffles;
//   then   the 5x5 transpose back to planes (4 vpunpck, 7 vpermt2q, 1 blend);
//   iota   one masked vpxorq on element 0 of a0. Plane 4 leaves the transpose one
//          step (its blend) after planes 0-3, so the next theta sums a1^a2^a3 first and then
//          a0 and a4: the iota XOR runs in that step and costs no latency.
// 38 vector instructions per round (48 in clang's loop with register copies and loop control).
// 18 of them are shuffles, which a Sapphire Rapids core runs on port 5 only, so a round takes
// ~29 cycles there (~5 cycles/byte, ~500 MB/s on the project's 2.3 GHz VMs; nettle's scalar code ~290 MB/s). Two
// Swift SIMD8<UInt64> versions of the same rounds were tried first: LLVM scalarized their element
// shuffles (no vpermq at all) and ran at ~170 MB/s.
//
// The functions carry `target("avx512f")`, so the package needs no global -mavx512f; callers
// must check for AVX-512F first (see the header).
#include "CKeccakAVX512.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#define KECCAK_AVX512 __attribute__((target("avx512f")))
#define KECCAK_INLINE static inline __attribute__((always_inline)) KECCAK_AVX512

enum { KECCAK256_RATE = 136 };

static const uint64_t round_constants[24] = {
    0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808AULL, 0x8000000080008000ULL,
    0x000000000000808BULL, 0x0000000080000001ULL, 0x8000000080008081ULL, 0x8000000000008009ULL,
    0x000000000000008AULL, 0x0000000000000088ULL, 0x0000000080008009ULL, 0x000000008000000AULL,
    0x000000008000808BULL, 0x800000000000008BULL, 0x8000000000008089ULL, 0x8000000000008003ULL,
    0x8000000000008002ULL, 0x8000000000000080ULL, 0x000000000000800AULL, 0x800000008000000AULL,
    0x8000000080008081ULL, 0x8000000000008080ULL, 0x0000000080000001ULL, 0x8000000080008008ULL,
};

/// The five planes of one state.
typedef struct {
    __m512i a0, a1, a2, a3, a4;
} keccak_planes;

#define XOR3(a, b, c) _mm512_ternarylogic_epi64((a), (b), (c), 0x96)
#define CHI(a, b, c) _mm512_ternarylogic_epi64((a), (b), (c), 0xD2)  // a ^ (~b & c)

/// The 24 rounds of Keccak-f[1600] on `s`.
KECCAK_INLINE void keccak_f1600(keccak_planes *s) {
    // theta: element x gets C[x-1], resp. C[x+1].
    const __m512i prev = _mm512_setr_epi64(4, 0, 1, 2, 3, 5, 6, 7);  // C[x-1]
    const __m512i next = _mm512_setr_epi64(1, 2, 3, 4, 0, 5, 6, 7);  // C[x+1]
    // rho: r[x, y] for plane y, x = 0…4.
    const __m512i rho0 = _mm512_setr_epi64(0, 1, 62, 28, 27, 0, 0, 0);
    const __m512i rho1 = _mm512_setr_epi64(36, 44, 6, 55, 20, 0, 0, 0);
    const __m512i rho2 = _mm512_setr_epi64(3, 10, 43, 25, 39, 0, 0, 0);
    const __m512i rho3 = _mm512_setr_epi64(41, 45, 15, 21, 8, 0, 0, 0);
    const __m512i rho4 = _mm512_setr_epi64(18, 2, 61, 56, 14, 0, 0, 0);
    // pi: lane (x, y) goes to (y, 2x + 3y), so row Y of the result takes lane x = y + 3Y (mod 5)
    // of plane y; element Y of the permuted plane y is that lane.
    const __m512i pi0 = _mm512_setr_epi64(0, 3, 1, 4, 2, 5, 6, 7);
    const __m512i pi1 = _mm512_setr_epi64(1, 4, 2, 0, 3, 5, 6, 7);
    const __m512i pi2 = _mm512_setr_epi64(2, 0, 3, 1, 4, 5, 6, 7);
    const __m512i pi3 = _mm512_setr_epi64(3, 1, 4, 2, 0, 5, 6, 7);
    const __m512i pi4 = _mm512_setr_epi64(4, 2, 0, 3, 1, 5, 6, 7);
    // Transpose of columns c0…c4 (element y of c<x> is lane (x, y)) back to planes. Index
    // 8 + i selects element i of the second source.
    const __m512i even4 = _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 8, 10);    // c0/c1 pairs 0,2,4 + c4[0], c4[2]
    const __m512i odd4 = _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 9, 11);     // c0/c1 pairs 1,3   + c4[1], c4[3]
    const __m512i rowLow = _mm512_setr_epi64(0, 1, 8, 9, 6, 5, 6, 7);    // planes 0 and 1
    const __m512i rowHigh = _mm512_setr_epi64(2, 3, 10, 11, 7, 5, 6, 7); // planes 2 and 3
    const __m512i row4 = _mm512_setr_epi64(4, 5, 12, 13, 4, 5, 6, 7);    // plane 4 but c4[4]

    __m512i a0 = s->a0, a1 = s->a1, a2 = s->a2, a3 = s->a3, a4 = s->a4;
    for (int round = 0; round < 24; round++) {
        const __m512i c = XOR3(XOR3(a1, a2, a3), a0, a4);  // order: see iota above
        const __m512i dPrev = _mm512_permutexvar_epi64(prev, c);
        const __m512i dNext = _mm512_rol_epi64(_mm512_permutexvar_epi64(next, c), 1);

        const __m512i b0 = _mm512_permutexvar_epi64(pi0, _mm512_rolv_epi64(XOR3(a0, dPrev, dNext), rho0));
        const __m512i b1 = _mm512_permutexvar_epi64(pi1, _mm512_rolv_epi64(XOR3(a1, dPrev, dNext), rho1));
        const __m512i b2 = _mm512_permutexvar_epi64(pi2, _mm512_rolv_epi64(XOR3(a2, dPrev, dNext), rho2));
        const __m512i b3 = _mm512_permutexvar_epi64(pi3, _mm512_rolv_epi64(XOR3(a3, dPrev, dNext), rho3));
        const __m512i b4 = _mm512_permutexvar_epi64(pi4, _mm512_rolv_epi64(XOR3(a4, dPrev, dNext), rho4));

        const __m512i c0 = CHI(b0, b1, b2), c1 = CHI(b1, b2, b3), c2 = CHI(b2, b3, b4);
        const __m512i c3 = CHI(b3, b4, b0), c4 = CHI(b4, b0, b1);

        const __m512i t0 = _mm512_permutex2var_epi64(_mm512_unpacklo_epi64(c0, c1), even4, c4);
        const __m512i t1 = _mm512_permutex2var_epi64(_mm512_unpackhi_epi64(c0, c1), odd4, c4);
        const __m512i u0 = _mm512_unpacklo_epi64(c2, c3);
        const __m512i u1 = _mm512_unpackhi_epi64(c2, c3);
        a0 = _mm512_permutex2var_epi64(t0, rowLow, u0);
        a1 = _mm512_permutex2var_epi64(t1, rowLow, u1);
        a2 = _mm512_permutex2var_epi64(t0, rowHigh, u0);
        a3 = _mm512_permutex2var_epi64(t1, rowHigh, u1);
        a4 = _mm512_mask_blend_epi64(0x10, _mm512_permutex2var_epi64(t0, row4, u0), c4);
        a0 = _mm512_mask_xor_epi64(a0, 0x01, a0, _mm512_set1_epi64((long long)round_constants[round]));
    }
    s->a0 = a0; s->a1 = a1; s->a2 = a2; s->a3 = a3; s->a4 = a4;
}

/// XORs `blocks` 136-byte blocks into lanes 0…16 (planes 0–2 and lanes (0, 3), (1, 3)) and
/// permutes after each.
KECCAK_INLINE void absorb(keccak_planes *s, const uint8_t *data, size_t blocks) {
    for (size_t i = 0; i < blocks; i++, data += KECCAK256_RATE) {
        s->a0 = _mm512_xor_si512(s->a0, _mm512_maskz_loadu_epi64(0x1F, data));
        s->a1 = _mm512_xor_si512(s->a1, _mm512_maskz_loadu_epi64(0x1F, data + 40));
        s->a2 = _mm512_xor_si512(s->a2, _mm512_maskz_loadu_epi64(0x1F, data + 80));
        s->a3 = _mm512_xor_si512(s->a3, _mm512_maskz_loadu_epi64(0x03, data + 120));
        keccak_f1600(s);
    }
}

KECCAK_AVX512 void keccak_avx512_absorb136(void *state, const void *data, size_t blocks) {
    if (blocks == 0) return;
    uint8_t *lanes = state;
    keccak_planes s = {
        _mm512_maskz_loadu_epi64(0x1F, lanes), _mm512_maskz_loadu_epi64(0x1F, lanes + 40),
        _mm512_maskz_loadu_epi64(0x1F, lanes + 80), _mm512_maskz_loadu_epi64(0x1F, lanes + 120),
        _mm512_maskz_loadu_epi64(0x1F, lanes + 160),
    };
    absorb(&s, data, blocks);
    _mm512_mask_storeu_epi64(lanes, 0x1F, s.a0);
    _mm512_mask_storeu_epi64(lanes + 40, 0x1F, s.a1);
    _mm512_mask_storeu_epi64(lanes + 80, 0x1F, s.a2);
    _mm512_mask_storeu_epi64(lanes + 120, 0x1F, s.a3);
    _mm512_mask_storeu_epi64(lanes + 160, 0x1F, s.a4);
}

KECCAK_AVX512 void keccak_avx512_keccak256(const void *data, size_t length, void *digest) {
    const uint8_t *bytes = data;
    const __m512i zero = _mm512_setzero_si512();
    keccak_planes s = { zero, zero, zero, zero, zero };
    const size_t full = length / KECCAK256_RATE;
    const size_t rest = length - full * KECCAK256_RATE;
    if (full > 0) absorb(&s, bytes, full);
    uint8_t last[KECCAK256_RATE];
    memset(last, 0, sizeof last);
    if (rest > 0) memcpy(last, bytes + full * KECCAK256_RATE, rest);
    last[rest] ^= 0x01;
    last[KECCAK256_RATE - 1] ^= 0x80;
    absorb(&s, last, 1);
    _mm512_mask_storeu_epi64(digest, 0x0F, s.a0);
}

#endif
