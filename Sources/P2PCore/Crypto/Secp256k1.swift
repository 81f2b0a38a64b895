import CSecp256k1

/// One libsecp256k1 context for the process. Contexts are safe for concurrent signing and
/// verification as long as nobody calls `secp256k1_context_randomize` concurrently; this one is
/// randomised once, during its lazy, thread-safe global initialisation, and never mutated after.
nonisolated(unsafe) let secpContext: OpaquePointer = {
    let ctx = secp256k1_context_create(UInt32(SECP256K1_CONTEXT_NONE))!  // safe: fails only on OOM
    var seed = secureRandomBytes(32)
    _ = secp256k1_context_randomize(ctx, &seed)
    return ctx
}()

/// A secp256k1 public key (parsed and validated).
public struct Secp256k1PublicKey: Sendable, Hashable {
    /// 33-byte compressed SEC1 form.
    public let compressed: [UInt8]

    public init(bytes: [UInt8]) throws(CryptoError) {
        guard bytes.count == 33 || bytes.count == 65 else { throw .invalidPublicKey }
        var pk = secp256k1_pubkey()
        guard secp256k1_ec_pubkey_parse(secpContext, &pk, bytes, bytes.count) == 1 else { throw .invalidPublicKey }
        compressed = Self.serialize(pk, compressed: true)
    }

    init(raw pk: secp256k1_pubkey) {
        compressed = Self.serialize(pk, compressed: true)
    }

    static func serialize(_ pk: secp256k1_pubkey, compressed: Bool) -> [UInt8] {
        var pk = pk
        var len = compressed ? 33 : 65
        var out = [UInt8](repeating: 0, count: len)
        _ = secp256k1_ec_pubkey_serialize(secpContext, &out, &len, &pk,
                                          UInt32(compressed ? SECP256K1_EC_COMPRESSED : SECP256K1_EC_UNCOMPRESSED))
        return out
    }

    private var parsed: secp256k1_pubkey {
        var pk = secp256k1_pubkey()
        _ = secp256k1_ec_pubkey_parse(secpContext, &pk, compressed, 33)
        return pk
    }

    /// 65-byte uncompressed SEC1 form (0x04 ++ X ++ Y).
    public var uncompressed: [UInt8] { Self.serialize(parsed, compressed: false) }

    /// Ethereum address: the last 20 bytes of keccak256(X ++ Y).
    public var ethereumAddress: [UInt8] { Array(Keccak256.hash(uncompressed[1...]).suffix(20)) }

    /// Verifies a libp2p secp256k1 signature: ECDSA over SHA-256(message), DER-encoded.
    /// High-s signatures are normalised first, as btcec (go-libp2p) accepts them.
    public func verifyLibp2p(signature der: [UInt8], message: [UInt8]) -> Bool {
        var sig = secp256k1_ecdsa_signature()
        guard der.count <= 72, secp256k1_ecdsa_signature_parse_der(secpContext, &sig, der, der.count) == 1 else { return false }
        var input = sig
        _ = secp256k1_ecdsa_signature_normalize(secpContext, &sig, &input)
        var pk = parsed
        let digest = SHA2.sha256(message)
        return secp256k1_ecdsa_verify(secpContext, &sig, digest, &pk) == 1
    }
}

/// A secp256k1 private key.
public struct Secp256k1PrivateKey: Sendable {
    public let bytes: [UInt8]
    public let publicKey: Secp256k1PublicKey

    public init(bytes: [UInt8]) throws(CryptoError) {
        guard bytes.count == 32 else { throw .invalidKeyLength(expected: 32, got: bytes.count) }
        guard secp256k1_ec_seckey_verify(secpContext, bytes) == 1 else { throw .invalidPrivateKey }
        var pk = secp256k1_pubkey()
        guard secp256k1_ec_pubkey_create(secpContext, &pk, bytes) == 1 else { throw .invalidPrivateKey }
        self.bytes = bytes
        publicKey = Secp256k1PublicKey(raw: pk)
    }

    /// A fresh random key.
    public init() {
        while true {
            if let k = try? Secp256k1PrivateKey(bytes: secureRandomBytes(32)) { self = k; return }
        }
    }

    /// libp2p signature: ECDSA (RFC 6979, low-s) over SHA-256(message), DER-encoded.
    public func signLibp2p(_ message: [UInt8]) -> [UInt8] {
        let digest = SHA2.sha256(message)
        var sig = secp256k1_ecdsa_signature()
        _ = secp256k1_ecdsa_sign(secpContext, &sig, digest, bytes, nil, nil)
        var der = [UInt8](repeating: 0, count: 72)
        var len = 72
        _ = secp256k1_ecdsa_signature_serialize_der(secpContext, &der, &len, &sig)
        return Array(der[0..<len])
    }

    /// go-ethereum `crypto.Sign`: a 65-byte recoverable signature r ++ s ++ v (v ∈ {0,1}) over a
    /// 32-byte hash, RFC 6979 nonce, low-s.
    public func signRecoverable(hash: [UInt8]) throws(CryptoError) -> [UInt8] {
        guard hash.count == 32 else { throw .invalidKeyLength(expected: 32, got: hash.count) }
        var sig = secp256k1_ecdsa_recoverable_signature()
        guard secp256k1_ecdsa_sign_recoverable(secpContext, &sig, hash, bytes, nil, nil) == 1 else { throw .invalidPrivateKey }
        var out = [UInt8](repeating: 0, count: 65)
        var recid: Int32 = 0
        _ = secp256k1_ecdsa_recoverable_signature_serialize_compact(secpContext, &out, &recid, &sig)
        out[64] = UInt8(recid)
        return out
    }
}

public enum Secp256k1 {
    /// go-ethereum `crypto.SigToPub`: recovers the public key from a 65-byte r ++ s ++ v signature
    /// over a 32-byte hash. Requires v < 4 (27/28 are rejected, as in go-ethereum).
    public static func recover(hash: [UInt8], signature: [UInt8]) throws(CryptoError) -> Secp256k1PublicKey {
        guard hash.count == 32 else { throw .invalidKeyLength(expected: 32, got: hash.count) }
        guard signature.count == 65, signature[64] < 4 else { throw .invalidSignature }
        var sig = secp256k1_ecdsa_recoverable_signature()
        guard secp256k1_ecdsa_recoverable_signature_parse_compact(secpContext, &sig, signature, Int32(signature[64])) == 1 else {
            throw .invalidSignature
        }
        var pk = secp256k1_pubkey()
        guard secp256k1_ecdsa_recover(secpContext, &pk, &sig, hash) == 1 else { throw .recoveryFailed }
        return Secp256k1PublicKey(raw: pk)
    }

    /// Recovers the signer's 20-byte Ethereum address.
    public static func recoverAddress(hash: [UInt8], signature: [UInt8]) throws(CryptoError) -> [UInt8] {
        try recover(hash: hash, signature: signature).ethereumAddress
    }
}
