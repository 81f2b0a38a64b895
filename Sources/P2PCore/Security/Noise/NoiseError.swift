/// Errors of the Noise Protocol Framework objects (CipherState, SymmetricState, HandshakeState),
/// the libp2p Noise handshake (libp2p/specs noise/README.md) and the secure channel framing.
public enum NoiseError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The 64-bit nonce reached 2^64-1 (Noise §5.1: never wraps, the session must end).
    case nonceExhausted
    /// AEAD authentication failed: wrong key, tampered or misframed ciphertext.
    case decryptionFailed
    /// A handshake message is shorter than its pattern requires.
    case messageTooShort(expected: Int, got: Int)
    /// A message or frame is larger than the 65535-byte Noise limit.
    case messageTooLarge(Int)
    /// A transport frame is too short to hold the 16-byte AEAD tag.
    case frameTooShort(Int)
    /// Diffie-Hellman with the peer's key produced the all-zero point.
    case invalidRemoteKey
    /// A key of the wrong length was supplied.
    case invalidKeyLength(Int)
    /// A message was written or read out of turn, or after the handshake finished.
    case outOfOrder
    /// The handshake payload could not be decoded.
    case invalidPayload(String)
    /// The payload's identity key could not be decoded.
    case invalidIdentityKey(String)
    /// The payload's signature does not verify against its identity key and the static key.
    case invalidSignature
    /// The remote peer is not the one we dialled.
    case peerIDMismatch(expected: String, actual: String)
    /// The handshake or session was used after a previous error.
    case failed

    public var description: String {
        switch self {
        case .nonceExhausted: return "noise nonce exhausted"
        case .decryptionFailed: return "noise decryption failed (authentication tag mismatch)"
        case .messageTooShort(let e, let g): return "noise message too short: need \(e) bytes, got \(g)"
        case .messageTooLarge(let n): return "noise message of \(n) bytes exceeds 65535"
        case .frameTooShort(let n): return "noise frame of \(n) bytes cannot hold a 16-byte tag"
        case .invalidRemoteKey: return "remote X25519 key yields an all-zero shared secret"
        case .invalidKeyLength(let n): return "noise key must be 32 bytes, got \(n)"
        case .outOfOrder: return "noise handshake message out of order"
        case .invalidPayload(let s): return "invalid noise handshake payload: \(s)"
        case .invalidIdentityKey(let s): return "invalid identity key in noise payload: \(s)"
        case .invalidSignature: return "noise payload signature does not verify"
        case .peerIDMismatch(let e, let a): return "expected peer \(e), remote is \(a)"
        case .failed: return "noise handshake or session already failed"
        }
    }
}
