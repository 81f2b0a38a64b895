/// Noise `CipherState` (Noise Protocol Framework rev 34, §5.1) with ChaChaPoly (§12.3): a key `k`
/// and a 64-bit nonce `n`. The nonce never wraps: once it reaches 2^64-1 every call fails with
/// `.nonceExhausted`. Besides the spec's `EncryptWithAd`/`DecryptWithAd`, it has in-place
/// variants on raw buffers for the transport hot path.
public struct CipherState: Sendable {
    public static let tagSize = ChaChaPoly.tagSize

    public private(set) var key: [UInt8]?
    public private(set) var nonce: UInt64

    /// An empty cipher state (no key: encryption is the identity, as the spec says).
    public init() {
        key = nil
        nonce = 0
    }

    /// `InitializeKey(k)`; `nonce` other than 0 is for tests of nonce exhaustion.
    public init(key: [UInt8], nonce: UInt64 = 0) throws(NoiseError) {
        guard key.count == ChaChaPoly.keySize else { throw .invalidKeyLength(key.count) }
        self.key = key
        self.nonce = nonce
    }

    /// A key derived by HKDF inside this module: HMAC-SHA256 output is always 32 bytes.
    init(derivedKey key: [UInt8]) {
        self.key = key
        self.nonce = 0
    }

    public var hasKey: Bool { key != nil }

    @inline(__always)
    private mutating func takeNonce() throws(NoiseError) -> UInt64 {
        guard nonce != UInt64.max else { throw .nonceExhausted }
        defer { nonce += 1 }
        return nonce
    }

    /// `EncryptWithAd(ad, plaintext)`: ciphertext ++ tag, or the plaintext if there is no key.
    public mutating func encryptWithAd(_ ad: [UInt8], _ plaintext: [UInt8]) throws(NoiseError) -> [UInt8] {
        guard let key else { return plaintext }
        let n = try takeNonce()
        return ChaChaPoly.seal(key: key, nonce: n, ad: ad, plaintext: plaintext)
    }

    /// `DecryptWithAd(ad, ciphertext)`. On failure the nonce is not advanced (§5.1).
    public mutating func decryptWithAd(_ ad: [UInt8], _ ciphertext: [UInt8]) throws(NoiseError) -> [UInt8] {
        guard let key else { return ciphertext }
        guard nonce != UInt64.max else { throw .nonceExhausted }
        guard let plaintext = try? ChaChaPoly.open(key: key, nonce: nonce, ad: ad, ciphertext: ciphertext) else {
            throw .decryptionFailed
        }
        nonce += 1
        return plaintext
    }

    /// Seals the concatenation of `parts` (empty associated data) into `out`, which must hold
    /// their length + 16 bytes. Returns the bytes written. Requires a key.
    mutating func seal<Parts: Collection<UnsafeRawBufferPointer>>(
        gathering parts: Parts, into out: UnsafeMutableRawBufferPointer
    ) throws(NoiseError) -> Int {
        guard let key else { throw .failed }
        let n = try takeNonce()
        return ChaChaPoly.seal(key: key, nonce: n, gathering: parts, into: out)
    }

    /// Starts opening a ciphertext of `count` bytes (tag excluded) incrementally, when the
    /// large-message library can (OpenSSL, at least `OpenSSLChaChaPoly.minimumLength` bytes); nil
    /// otherwise, and then `open(inPlace:)` is the way. `finishOpen` advances the nonce.
    func beginOpen(count: Int) -> OpenSSLChaChaPoly.Decryptor? {
        guard let key, nonce != UInt64.max, count >= OpenSSLChaChaPoly.minimumLength,
              let library = OpenSSLChaChaPoly.library else { return nil }
        return ChaChaPoly.withNonce(nonce) { np in library.decryptor(key: key, nonce: np) }
    }

    /// Verifies the tag of an open started by `beginOpen`. On failure the nonce is not advanced.
    mutating func finishOpen(_ decryptor: OpenSSLChaChaPoly.Decryptor, tag: UnsafeRawBufferPointer) throws(NoiseError) {
        guard nonce != UInt64.max, decryptor.finish(tag: tag) else { throw .decryptionFailed }
        nonce += 1
    }

    /// Opens ciphertext ++ tag in place (empty associated data); returns the plaintext length.
    mutating func open(inPlace buffer: UnsafeMutableRawBufferPointer) throws(NoiseError) -> Int {
        guard let key else { throw .failed }
        guard nonce != UInt64.max else { throw .nonceExhausted }
        guard let count = try? ChaChaPoly.open(key: key, nonce: nonce, ad: [], inPlace: buffer) else {
            throw .decryptionFailed
        }
        nonce += 1
        return count
    }
}
