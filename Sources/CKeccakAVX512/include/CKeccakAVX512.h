// Single-stream Keccak-f[1600] on AVX-512F: one state in five zmm registers, absorbing
// whole 136-byte blocks (keccak256's rate) without storing the state between blocks.
// Implementation and layout: keccak_avx512.c. The functions use AVX-512F instructions only
// (no VL/BW/DQ): call them only after checking that the CPU and OS support AVX-512F
// (P2PCore's `Keccak256` checks with libsodium's `sodium_runtime_has_avx512f`).
// Declared on x86_64 only.
#ifndef CKECCAK_AVX512_H
#define CKECCAK_AVX512_H

#include <stddef.h>

#if defined(__x86_64__)
#ifdef __cplusplus
extern "C" {
#endif

/// Absorbs `blocks` consecutive 136-byte blocks from `data` (no alignment needed) into
/// `state`: 200 bytes, 25 little-endian 64-bit lanes, lane x + 5y at byte 8 (x + 5y) (the
/// layout of nettle's `struct sha3_state` on x86_64). Each block is XORed into lanes 0…16 and
/// the state permuted; the state stays in registers from the first block to the last.
void keccak_avx512_absorb136(void *state, const void *data, size_t blocks);

/// keccak256 (rate 136, Keccak's 0x01 … 0x80 padding) of `length` bytes at `data`, written to
/// the 32 bytes at `digest`. `data` may be NULL when `length` is 0.
void keccak_avx512_keccak256(const void *data, size_t length, void *digest);

#ifdef __cplusplus
}
#endif
#endif

#endif
