/// ChaCha20-Poly1305 (RFC 8439) from the system's OpenSSL 3 libcrypto (Debian `libssl-dev`, the
/// `COpenSSL` system-library target), for large messages: its AVX-512 ChaCha20 and Poly1305 run at
/// 2.5–2.9 GB/s per core here against libsodium's 1.3 GB/s (64 KiB frames, this machine;
/// BENCHMARKS.md §Transport). `ChaChaPoly` (Sodium.swift) routes messages of at least
/// `minimumLength` bytes here and keeps libsodium for small ones: OpenSSL's per-call setup (~1 µs)
/// loses below about 1 KiB. The cipher is fetched once and checked against RFC 8439's vector; if
/// either fails every message goes to libsodium. Only OpenSSL's stable EVP API is used.
import COpenSSL

enum OpenSSLChaChaPoly {
    /// Messages shorter than this go to libsodium (measured crossover ≈ 1 KiB; margin for noise).
    static let minimumLength = 2048

    /// The fetched cipher, or nil when libcrypto has no ChaCha20-Poly1305 or fails the self-test.
    static let library: Library? = Library.load()

    /// The fetched `EVP_CIPHER`. Immutable after `load()`; EVP calls on distinct contexts (each call
    /// makes its own) are thread-safe in OpenSSL 3, so sharing it is safe.
    struct Library: @unchecked Sendable {
        let cipher: OpaquePointer

        static func load() -> Library? {
            // EVP_CIPHER_fetch (OpenSSL 3) once, rather than the implicit fetch on every init.
            guard let cipher = EVP_CIPHER_fetch(nil, "ChaCha20-Poly1305", nil) else { return nil }
            let library = Library(cipher: cipher)
            return library.selfTest() ? library : nil
        }

        /// RFC 8439 §2.8.2's test vector: guards against a libcrypto whose behaviour differs.
        private func selfTest() -> Bool {
            let key = (0..<32).map { UInt8(0x80 + $0) }
            let nonce: [UInt8] = [0x07, 0, 0, 0, 0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47]
            let ad: [UInt8] = [0x50, 0x51, 0x52, 0x53, 0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7]
            let plaintext = Array("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.".utf8)
            let expectedTag: [UInt8] = [0x1a, 0xe1, 0x0b, 0x59, 0x4f, 0x09, 0xe2, 0x6a, 0x7e, 0x90, 0x2e, 0xcb, 0xd0, 0x60, 0x06, 0x91]
            var sealed = [UInt8](repeating: 0, count: plaintext.count + 16)
            let ok = plaintext.withUnsafeBytes { p in
                ad.withUnsafeBytes { a in
                    sealed.withUnsafeMutableBytes { o in seal(key: key, nonce: nonce, ad: a, plaintext: p, into: o) }
                }
            }
            guard ok, Array(sealed.suffix(16)) == expectedTag else { return false }
            let opened = ad.withUnsafeBytes { a in
                sealed.withUnsafeMutableBytes { open(key: key, nonce: nonce, ad: a, inPlace: $0) }
            }
            return opened && Array(sealed.prefix(plaintext.count)) == plaintext
        }

        /// Seals into `out` (`plaintext.count + 16` bytes): ciphertext ++ tag. False on any failure.
        func seal(key: UnsafePointer<UInt8>, nonce: UnsafePointer<UInt8>, ad: UnsafeRawBufferPointer,
                  plaintext: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) -> Bool {
            seal(key: key, nonce: nonce, ad: ad, gathering: CollectionOfOne(plaintext), into: out)
        }

        /// Seals the concatenation of `parts` as one message into `out` (its length + 16 bytes),
        /// one `EVP_EncryptUpdate` per part (the cipher carries partial blocks across calls), so
        /// that e.g. a yamux header and the application's payload need not be joined first.
        func seal<Parts: Sequence<UnsafeRawBufferPointer>>(
            key: UnsafePointer<UInt8>, nonce: UnsafePointer<UInt8>, ad: UnsafeRawBufferPointer,
            gathering parts: Parts, into out: UnsafeMutableRawBufferPointer
        ) -> Bool {
            guard let ctx = EVP_CIPHER_CTX_new() else { return false }
            defer { EVP_CIPHER_CTX_free(ctx) }
            guard let dst = out.baseAddress?.assumingMemoryBound(to: UInt8.self),
                  let adLength = Int32(exactly: ad.count),
                  EVP_EncryptInit_ex(ctx, cipher, nil, key, nonce) == 1
            else { return false }
            var written: Int32 = 0
            if adLength > 0 {
                guard EVP_EncryptUpdate(ctx, nil, &written, bytePointer(ad), adLength) == 1 else { return false }
            }
            var o = 0
            for part in parts where !part.isEmpty {
                guard out.count - o >= part.count + 16, let length = Int32(exactly: part.count),
                      EVP_EncryptUpdate(ctx, dst + o, &written, bytePointer(part), length) == 1, written == length
                else { return false }
                o += part.count
            }
            guard out.count - o >= 16,
                  EVP_EncryptFinal_ex(ctx, dst + o, &written) == 1, written == 0,
                  EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, dst + o) == 1
            else { return false }
            return true
        }

        /// Starts an incremental open of one message (see `Decryptor`); nil if OpenSSL refuses.
        func decryptor(key: UnsafePointer<UInt8>, nonce: UnsafePointer<UInt8>) -> Decryptor? {
            Decryptor(cipher: cipher, key: key, nonce: nonce)
        }

        /// Opens ciphertext ++ tag in place. False (and the buffer zeroed, so that no unauthenticated
        /// plaintext is left behind) when the tag does not verify.
        func open(key: UnsafePointer<UInt8>, nonce: UnsafePointer<UInt8>, ad: UnsafeRawBufferPointer,
                  inPlace buffer: UnsafeMutableRawBufferPointer) -> Bool {
            guard buffer.count >= 16, let base = buffer.baseAddress?.assumingMemoryBound(to: UInt8.self),
                  let ctx = EVP_CIPHER_CTX_new() else { return false }
            defer { EVP_CIPHER_CTX_free(ctx) }
            let count = buffer.count - 16
            var written: Int32 = 0
            let ok: Bool = {
                guard let length = Int32(exactly: count), let adLength = Int32(exactly: ad.count),
                      EVP_DecryptInit_ex(ctx, cipher, nil, key, nonce) == 1 else { return false }
                if adLength > 0 {
                    guard EVP_DecryptUpdate(ctx, nil, &written, bytePointer(ad), adLength) == 1 else { return false }
                }
                return EVP_DecryptUpdate(ctx, base, &written, base, length) == 1 && written == length
                    && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, 16, base + count) == 1
                    && EVP_DecryptFinal_ex(ctx, base + count, &written) == 1
            }()
            if !ok { buffer.initializeMemory(as: UInt8.self, repeating: 0) }
            return ok
        }
    }

    /// An incremental open of one message (empty associated data): `update` over the ciphertext
    /// in order, split anywhere, each part's plaintext written wherever the caller wants (in place
    /// allowed), then `finish` with the tag. Plaintext written before `finish` returned true is
    /// unauthenticated: the caller must not act on it (or hand it on) before that.
    /// Used by one thread at a time (it is a per-frame object on a connection's queue).
    final class Decryptor {
        private let ctx: OpaquePointer

        fileprivate init?(cipher: OpaquePointer, key: UnsafePointer<UInt8>, nonce: UnsafePointer<UInt8>) {
            guard let ctx = EVP_CIPHER_CTX_new() else { return nil }
            guard EVP_DecryptInit_ex(ctx, cipher, nil, key, nonce) == 1 else {
                EVP_CIPHER_CTX_free(ctx)
                return nil
            }
            self.ctx = ctx
        }

        deinit {
            EVP_CIPHER_CTX_free(ctx)
        }

        /// Decrypts `input` into `out` (at least as large). False on any failure.
        func update(_ input: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) -> Bool {
            guard !input.isEmpty else { return true }
            guard out.count >= input.count, let length = Int32(exactly: input.count) else { return false }
            var written: Int32 = 0
            return EVP_DecryptUpdate(ctx, mutableBytePointer(out), &written, bytePointer(input), length) == 1
                && written == length
        }

        /// Verifies the 16-byte tag over everything given to `update`.
        func finish(tag: UnsafeRawBufferPointer) -> Bool {
            guard tag.count == 16 else { return false }
            var expected = (UInt64(0), UInt64(0))
            var final = (UInt64(0), UInt64(0))
            return withUnsafeMutableBytes(of: &expected) { e in
                e.copyMemory(from: tag)
                return withUnsafeMutableBytes(of: &final) { f in
                    var written: Int32 = 0
                    return EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, 16, e.baseAddress) == 1
                        && EVP_DecryptFinal_ex(ctx, mutableBytePointer(f), &written) == 1 && written == 0
                }
            }
        }
    }
}
