/// Noise `SymmetricState` (Noise Protocol Framework rev 34, §5.2) for SHA-256: the chaining key
/// `ck`, the handshake hash `h` and a `CipherState`. HKDF is the Noise §4.3 construction on
/// HMAC-SHA256 (`temp = HMAC(ck, ikm)`, `out1 = HMAC(temp, 0x01)`, `out2 = HMAC(temp, out1 ‖ 0x02)`).
public struct SymmetricState: Sendable {
    public static let hashLength = 32

    public private(set) var chainingKey: [UInt8]
    public private(set) var handshakeHash: [UInt8]
    public private(set) var cipher: CipherState

    /// `InitializeSymmetric(protocol_name)`: `h` is the name zero-padded to 32 bytes, or its hash
    /// when longer; `ck = h`; no key.
    public init(protocolName: String) {
        let name = Array(protocolName.utf8)
        if name.count <= Self.hashLength {
            handshakeHash = name + [UInt8](repeating: 0, count: Self.hashLength - name.count)
        } else {
            handshakeHash = SHA2.sha256(name)
        }
        chainingKey = handshakeHash
        cipher = CipherState()
    }

    /// Noise §4.3 `HKDF(chaining_key, input_key_material, 2)`.
    static func hkdf2(chainingKey: [UInt8], inputKeyMaterial: [UInt8]) -> ([UInt8], [UInt8]) {
        let temp = SHA2.hmacSHA256(key: chainingKey, data: inputKeyMaterial)
        let out1 = SHA2.hmacSHA256(key: temp, data: [0x01])
        let out2 = SHA2.hmacSHA256(key: temp, parts: [out1, [0x02]])
        return (out1, out2)
    }

    /// `MixKey(ikm)`: `ck, temp_k = HKDF(ck, ikm, 2)`; `InitializeKey(temp_k)`.
    public mutating func mixKey(_ inputKeyMaterial: [UInt8]) {
        let (ck, tempK) = Self.hkdf2(chainingKey: chainingKey, inputKeyMaterial: inputKeyMaterial)
        chainingKey = ck
        cipher = CipherState(derivedKey: tempK)
    }

    /// `MixHash(data)`: `h = SHA256(h ‖ data)`.
    public mutating func mixHash(_ data: [UInt8]) {
        handshakeHash = SHA2.sha256(parts: [handshakeHash, data])
    }

    /// `EncryptAndHash(plaintext)`.
    public mutating func encryptAndHash(_ plaintext: [UInt8]) throws(NoiseError) -> [UInt8] {
        let ciphertext = try cipher.encryptWithAd(handshakeHash, plaintext)
        mixHash(ciphertext)
        return ciphertext
    }

    /// `DecryptAndHash(ciphertext)`.
    public mutating func decryptAndHash(_ ciphertext: [UInt8]) throws(NoiseError) -> [UInt8] {
        let plaintext = try cipher.decryptWithAd(handshakeHash, ciphertext)
        mixHash(ciphertext)
        return plaintext
    }

    /// `Split()`: two cipher states, the first for initiator → responder.
    public func split() -> (CipherState, CipherState) {
        let (k1, k2) = Self.hkdf2(chainingKey: chainingKey, inputKeyMaterial: [])
        return (CipherState(derivedKey: k1), CipherState(derivedKey: k2))
    }
}
