/// Sequencer block signatures (spec §2.1; op-service/signer/blockpayload_args.go `ToSigningHash`,
/// block_auth.go `SigningDomainBlocksV1`, `VerifyP2PBlockSignature`):
/// signing_hash = keccak256(domain[32] ++ u256be(chainID) ++ keccak256(payloadBytes)), signed with
/// go-ethereum `crypto.Sign` (RFC 6979, low-s, r ++ s ++ v with v ∈ {0,1}), no EIP-191 prefix.
/// `payloadBytes` is everything after the 65-byte signature (V3/V4: beacon root ++ SSZ payload).
import P2PCore

public enum BlockSigning {
    /// `SigningDomainBlocksV1`: 32 zero bytes.
    public static let blocksV1Domain = [UInt8](repeating: 0, count: 32)

    /// Size of an `r ++ s ++ v` signature.
    public static let signatureSize = 65

    /// keccak256(payloadBytes).
    public static func payloadHash(payloadBytes: some Collection<UInt8>) -> [UInt8] {
        Keccak256.hash(payloadBytes)
    }

    /// keccak256 over exactly 96 bytes: domain ++ chain id (u256be) ++ payload hash. A domain
    /// that is not 32 bytes is right-padded with zeros or truncated, as Go copies into `[32]byte`.
    public static func signingHash(domain: [UInt8] = blocksV1Domain, chainID: UInt64,
                                   payloadBytes: some Collection<UInt8>) -> [UInt8] {
        signingHash(domain: domain, chainID: chainID, payloadHash: payloadHash(payloadBytes: payloadBytes))
    }

    /// The same from an already computed keccak256(payloadBytes) (32 bytes).
    public static func signingHash(domain: [UInt8] = blocksV1Domain, chainID: UInt64, payloadHash: [UInt8]) -> [UInt8] {
        var msg = [UInt8](repeating: 0, count: 96)
        for (i, b) in domain.prefix(32).enumerated() { msg[i] = b }
        for i in 0..<8 { msg[63 - i] = UInt8(truncatingIfNeeded: chainID >> (8 * UInt64(i))) }
        for (i, b) in payloadHash.prefix(32).enumerated() { msg[64 + i] = b }
        return Keccak256.hash(msg)
    }

    /// The 65-byte signature the sequencer puts in front of `payloadBytes`.
    public static func sign(payloadBytes: some Collection<UInt8>, chainID: UInt64,
                            key: Secp256k1PrivateKey) throws(CryptoError) -> [UInt8] {
        try key.signRecoverable(hash: signingHash(chainID: chainID, payloadBytes: payloadBytes))
    }

    /// The 20-byte address that produced `signature` over `payloadBytes` for `chainID`
    /// (`crypto.SigToPub`: 65 bytes, v < 4, else `CryptoError`).
    public static func recoverSigner(signature: [UInt8], chainID: UInt64,
                                     payloadBytes: some Collection<UInt8>) throws(CryptoError) -> [UInt8] {
        try recoverSigner(signature: signature, chainID: chainID, payloadHash: payloadHash(payloadBytes: payloadBytes))
    }

    /// The same from an already computed keccak256(payloadBytes).
    public static func recoverSigner(signature: [UInt8], chainID: UInt64, payloadHash: [UInt8]) throws(CryptoError) -> [UInt8] {
        guard signature.count == signatureSize else { throw .invalidSignature }
        return try Secp256k1.recoverAddress(hash: signingHash(chainID: chainID, payloadHash: payloadHash), signature: signature)
    }
}
