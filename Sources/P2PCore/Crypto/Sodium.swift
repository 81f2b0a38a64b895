import CSodium

/// libsodium must be initialised once before use; a global `let` is initialised lazily and
/// exactly once, from whichever thread touches it first.
let sodiumInitialized: Bool = sodium_init() >= 0

public enum CryptoError: Error, Equatable, CustomStringConvertible {
    case libraryInit
    case invalidKeyLength(expected: Int, got: Int)
    case invalidPrivateKey
    case invalidPublicKey
    case invalidSignature
    case authenticationFailed
    case lowOrderPoint
    case recoveryFailed
    case messageTooLarge(Int)

    public var description: String {
        switch self {
        case .libraryInit: return "crypto library failed to initialise"
        case .invalidKeyLength(let e, let g): return "key must be \(e) bytes, got \(g)"
        case .invalidPrivateKey: return "invalid private key"
        case .invalidPublicKey: return "invalid public key"
        case .invalidSignature: return "invalid signature encoding"
        case .authenticationFailed: return "AEAD authentication failed"
        case .lowOrderPoint: return "Diffie-Hellman result is the all-zero point"
        case .recoveryFailed: return "public key recovery failed"
        case .messageTooLarge(let n): return "message of \(n) bytes is too large"
        }
    }
}

/// Cryptographically secure random bytes (libsodium's `randombytes_buf`, getrandom(2) underneath).
public func secureRandomBytes(_ count: Int) -> [UInt8] {
    _ = sodiumInitialized
    var out = [UInt8](repeating: 0, count: count)
    out.withUnsafeMutableBytes { randombytes_buf(mutableBytePointer($0), $0.count) }
    return out
}

/// X25519 Diffie-Hellman (libsodium, 37k ops/s here).
public struct X25519KeyPair: Sendable {
    public let privateKey: [UInt8]
    public let publicKey: [UInt8]

    public init() {
        self = (try? X25519KeyPair(privateKey: secureRandomBytes(32))) ?? X25519KeyPair(unchecked: secureRandomBytes(32))
    }

    private init(unchecked sk: [UInt8]) {
        privateKey = sk
        var pk = [UInt8](repeating: 0, count: 32)
        _ = crypto_scalarmult_base(&pk, sk)
        publicKey = pk
    }

    public init(privateKey sk: [UInt8]) throws(CryptoError) {
        guard sk.count == 32 else { throw .invalidKeyLength(expected: 32, got: sk.count) }
        _ = sodiumInitialized
        var pk = [UInt8](repeating: 0, count: 32)
        guard crypto_scalarmult_base(&pk, sk) == 0 else { throw .invalidPrivateKey }
        privateKey = sk
        publicKey = pk
    }

    /// DH(self, remote). Fails on a low-order remote point (all-zero shared secret).
    public func sharedSecret(with remote: [UInt8]) throws(CryptoError) -> [UInt8] {
        guard remote.count == 32 else { throw .invalidKeyLength(expected: 32, got: remote.count) }
        var out = [UInt8](repeating: 0, count: 32)
        guard crypto_scalarmult(&out, privateKey, remote) == 0 else { throw .lowOrderPoint }
        return out
    }
}

/// ChaCha20-Poly1305 (IETF, 96-bit nonce) from libsodium, and from OpenSSL for large messages (AEADOpenSSL.swift). The nonce used by Noise is
/// four zero bytes followed by the 64-bit counter in little-endian.
/// A valid pointer for empty buffers, whose `baseAddress` may be nil; libsodium never reads it
/// when the length is zero. Never written, so sharing it across threads is safe.
nonisolated(unsafe) let emptyBytePointer = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)

@inline(__always)
func bytePointer(_ b: UnsafeRawBufferPointer) -> UnsafePointer<UInt8> {
    UnsafePointer(b.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? UnsafePointer(emptyBytePointer))
}

@inline(__always)
func mutableBytePointer(_ b: UnsafeMutableRawBufferPointer) -> UnsafeMutablePointer<UInt8> {
    b.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? emptyBytePointer
}

public enum ChaChaPoly {
    public static let keySize = 32
    public static let tagSize = 16

    /// The library that seals and opens large messages (`seal(…into:)`, `open(…inPlace:)` of at
    /// least 2 KiB): "OpenSSL" when libcrypto 3 is installed, "libsodium" otherwise.
    public static var largeMessageLibrary: String { OpenSSLChaChaPoly.library == nil ? "libsodium" : "OpenSSL" }

    @inline(__always)
    static func withNonce<R>(_ n: UInt64, _ body: (UnsafePointer<UInt8>) -> R) -> R {
        var bytes: (UInt32, UInt32, UInt32) = (0, 0, 0)
        return withUnsafeMutableBytes(of: &bytes) { raw in
            raw.storeBytes(of: n.littleEndian, toByteOffset: 4, as: UInt64.self)
            return body(raw.baseAddress!.assumingMemoryBound(to: UInt8.self)) // safe: 12-byte local tuple
        }
    }

    /// Encrypts `plaintext` with associated data `ad`, returning ciphertext ++ 16-byte tag.
    public static func seal(key: [UInt8], nonce n: UInt64, ad: [UInt8], plaintext: UnsafeRawBufferPointer) -> [UInt8] {
        _ = sodiumInitialized
        let outCount = plaintext.count + tagSize
        return [UInt8](unsafeUninitializedCapacity: outCount) { out, initialized in
            var clen: UInt64 = 0
            withNonce(n) { np in
                _ = crypto_aead_chacha20poly1305_ietf_encrypt(
                    out.baseAddress ?? emptyBytePointer, &clen,
                    bytePointer(plaintext), UInt64(plaintext.count),
                    ad, UInt64(ad.count), nil, np, key)
            }
            initialized = Int(clen)
        }
    }

    public static func seal(key: [UInt8], nonce n: UInt64, ad: [UInt8], plaintext: [UInt8]) -> [UInt8] {
        plaintext.withUnsafeBytes { seal(key: key, nonce: n, ad: ad, plaintext: $0) }
    }

    /// Encrypts into a caller-supplied buffer of `plaintext.count + 16` bytes. Returns bytes written.
    /// Messages of `OpenSSLChaChaPoly.minimumLength` bytes or more go to OpenSSL when it is available.
    public static func seal(key: [UInt8], nonce n: UInt64, ad: [UInt8], plaintext: UnsafeRawBufferPointer,
                            into out: UnsafeMutableRawBufferPointer) -> Int {
        if plaintext.count >= OpenSSLChaChaPoly.minimumLength, let openSSL = OpenSSLChaChaPoly.library {
            let ok = withNonce(n) { np in
                ad.withUnsafeBytes { a in openSSL.seal(key: key, nonce: np, ad: a, plaintext: plaintext, into: out) }
            }
            if ok { return plaintext.count + tagSize }
        }
        _ = sodiumInitialized
        var clen: UInt64 = 0
        withNonce(n) { np in
            _ = crypto_aead_chacha20poly1305_ietf_encrypt(
                mutableBytePointer(out), &clen,
                bytePointer(plaintext), UInt64(plaintext.count),
                ad, UInt64(ad.count), nil, np, key)
        }
        return Int(clen)
    }

    /// Seals the concatenation of `parts` as one message (empty associated data) into `out`, which
    /// must hold their total length + 16 bytes; returns the bytes written (0 if `out` is too
    /// small). Large messages go to OpenSSL part by part; small ones are gathered into `out` and
    /// sealed there in place by libsodium. `parts` must not overlap `out`.
    public static func seal<Parts: Collection<UnsafeRawBufferPointer>>(
        key: [UInt8], nonce n: UInt64, gathering parts: Parts, into out: UnsafeMutableRawBufferPointer
    ) -> Int {
        let total = parts.reduce(0) { $0 + $1.count }
        guard out.count >= total + tagSize, let dst = out.baseAddress else { return 0 }
        if total >= OpenSSLChaChaPoly.minimumLength, let openSSL = OpenSSLChaChaPoly.library {
            let empty = UnsafeRawBufferPointer(start: nil, count: 0)
            let ok = withNonce(n) { np in
                key.withUnsafeBufferPointer { k in
                    openSSL.seal(key: k.baseAddress ?? UnsafePointer(emptyBytePointer), nonce: np, ad: empty,
                                 gathering: parts, into: out)
                }
            }
            if ok { return total + tagSize }
        }
        var o = 0
        for part in parts {
            if let source = part.baseAddress { (dst + o).copyMemory(from: source, byteCount: part.count) }
            o += part.count
        }
        _ = sodiumInitialized
        var clen: UInt64 = 0
        let m = dst.assumingMemoryBound(to: UInt8.self)
        withNonce(n) { np in
            _ = crypto_aead_chacha20poly1305_ietf_encrypt(m, &clen, m, UInt64(total), nil, 0, nil, np, key)
        }
        return Int(clen)
    }

    /// Encrypts with an explicit 12-byte nonce (RFC 8439 form), for protocols and test vectors
    /// whose nonce is not Noise's counter layout.
    public static func seal(key: [UInt8], nonceBytes: [UInt8], ad: [UInt8], plaintext: [UInt8]) throws(CryptoError) -> [UInt8] {
        _ = sodiumInitialized
        guard key.count == keySize else { throw .invalidKeyLength(expected: keySize, got: key.count) }
        guard nonceBytes.count == 12 else { throw .invalidKeyLength(expected: 12, got: nonceBytes.count) }
        var out = [UInt8](repeating: 0, count: plaintext.count + tagSize)
        var clen: UInt64 = 0
        plaintext.withUnsafeBytes { p in
            _ = crypto_aead_chacha20poly1305_ietf_encrypt(&out, &clen, bytePointer(p), UInt64(p.count),
                                                          ad, UInt64(ad.count), nil, nonceBytes, key)
        }
        return out
    }

    /// Decrypts ciphertext ++ tag. Throws `.authenticationFailed` on any mismatch.
    public static func open(key: [UInt8], nonce n: UInt64, ad: [UInt8], ciphertext: UnsafeRawBufferPointer) throws(CryptoError) -> [UInt8] {
        _ = sodiumInitialized
        guard ciphertext.count >= tagSize else { throw .authenticationFailed }
        var ok = false
        let out = [UInt8](unsafeUninitializedCapacity: ciphertext.count - tagSize) { out, initialized in
            var mlen: UInt64 = 0
            let rc = withNonce(n) { np in
                crypto_aead_chacha20poly1305_ietf_decrypt(
                    out.baseAddress ?? emptyBytePointer, &mlen, nil,
                    bytePointer(ciphertext), UInt64(ciphertext.count),
                    ad, UInt64(ad.count), np, key)
            }
            ok = rc == 0
            initialized = ok ? Int(mlen) : 0
        }
        guard ok else { throw .authenticationFailed }
        return out
    }

    public static func open(key: [UInt8], nonce n: UInt64, ad: [UInt8], ciphertext: [UInt8]) throws(CryptoError) -> [UInt8] {
        try ciphertext.withUnsafeBytes { c in Result { () throws(CryptoError) in try open(key: key, nonce: n, ad: ad, ciphertext: c) } }.get()
    }

    /// Decrypts in place: `buffer` holds ciphertext ++ tag; on success the first `count - 16`
    /// bytes hold the plaintext. Returns the plaintext length.
    /// Messages of `OpenSSLChaChaPoly.minimumLength` bytes or more go to OpenSSL when it is available.
    public static func open(key: [UInt8], nonce n: UInt64, ad: [UInt8], inPlace buffer: UnsafeMutableRawBufferPointer) throws(CryptoError) -> Int {
        _ = sodiumInitialized
        guard buffer.count >= tagSize, let base = buffer.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
            throw .authenticationFailed
        }
        if buffer.count - tagSize >= OpenSSLChaChaPoly.minimumLength, let openSSL = OpenSSLChaChaPoly.library {
            let ok = withNonce(n) { np in ad.withUnsafeBytes { a in openSSL.open(key: key, nonce: np, ad: a, inPlace: buffer) } }
            guard ok else { throw .authenticationFailed }
            return buffer.count - tagSize
        }
        var mlen: UInt64 = 0
        let rc = withNonce(n) { np in
            crypto_aead_chacha20poly1305_ietf_decrypt(base, &mlen, nil, base, UInt64(buffer.count), ad, UInt64(ad.count), np, key)
        }
        guard rc == 0 else { throw .authenticationFailed }
        return Int(mlen)
    }
}

/// Ed25519 (libsodium). libp2p encodes the private key as 64 bytes: seed ++ public key.
public struct Ed25519PrivateKey: Sendable {
    public let seed: [UInt8]
    public let publicKey: [UInt8]
    private let secret: [UInt8] // libsodium's 64-byte form

    public init() {
        self = (try? Ed25519PrivateKey(seed: secureRandomBytes(32)))!  // safe: a 32-byte seed always yields a key
    }

    public init(seed: [UInt8]) throws(CryptoError) {
        guard seed.count == 32 else { throw .invalidKeyLength(expected: 32, got: seed.count) }
        _ = sodiumInitialized
        var pk = [UInt8](repeating: 0, count: 32)
        var sk = [UInt8](repeating: 0, count: 64)
        guard crypto_sign_seed_keypair(&pk, &sk, seed) == 0 else { throw .invalidPrivateKey }
        self.seed = seed
        publicKey = pk
        secret = sk
    }

    /// libp2p's 64-byte private key encoding (seed ++ public key); a 32-byte seed is also accepted.
    public init(libp2pBytes b: [UInt8]) throws(CryptoError) {
        if b.count == 32 { try self.init(seed: b); return }
        guard b.count == 64 else { throw .invalidKeyLength(expected: 64, got: b.count) }
        try self.init(seed: Array(b[0..<32]))
        guard Array(b[32..<64]) == publicKey else { throw .invalidPrivateKey }
    }

    public var libp2pBytes: [UInt8] { seed + publicKey }

    public func sign(_ message: [UInt8]) -> [UInt8] {
        var sig = [UInt8](repeating: 0, count: 64)
        _ = crypto_sign_detached(&sig, nil, message, UInt64(message.count), secret)
        return sig
    }
}

public enum Ed25519 {
    public static func verify(signature: [UInt8], message: [UInt8], publicKey: [UInt8]) -> Bool {
        _ = sodiumInitialized
        guard signature.count == 64, publicKey.count == 32 else { return false }
        return crypto_sign_verify_detached(signature, message, UInt64(message.count), publicKey) == 0
    }
}
