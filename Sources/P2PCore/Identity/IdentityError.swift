/// Errors from decoding libp2p keys and peer ids (libp2p specs `peer-ids/peer-ids.md`; spec §6.2).
public enum IdentityError: Error, Equatable, CustomStringConvertible {
    /// Marshalled key bytes longer than the bound, rejected before parsing.
    case keyTooLong(length: Int, limit: Int)
    /// The bytes are not a valid `PublicKey`/`PrivateKey` protobuf (missing fields, bad wire format).
    case invalidProtobuf(String)
    /// A key type libp2p defines but this node does not accept (RSA, ECDSA).
    case unsupportedKeyType(String)
    /// The key data has the wrong length for its type.
    case invalidKeyLength(KeyType, expected: Int, got: Int)
    /// The key data is not a valid key of its type.
    case invalidKey(KeyType, CryptoError)
    /// The peer id is not a valid multihash, or uses a hash other than identity/sha2-256.
    case invalidMultihash(MultihashError)
    /// The peer id text is not valid base58btc.
    case invalidBase58(Base58Error)
    /// The peer id text is empty, too long, or a malformed or non-libp2p-key CID.
    case invalidPeerIDString(String)

    public var description: String {
        switch self {
        case .keyTooLong(let n, let l): return "marshalled key of \(n) bytes exceeds limit \(l)"
        case .invalidProtobuf(let why): return "invalid key protobuf: \(why)"
        case .unsupportedKeyType(let t): return "unsupported key type \(t) (only secp256k1 and Ed25519 are accepted)"
        case .invalidKeyLength(let t, let e, let g): return "\(t) key data must be \(e) bytes, got \(g)"
        case .invalidKey(let t, let e): return "invalid \(t) key: \(e)"
        case .invalidMultihash(let e): return "invalid peer id: \(e)"
        case .invalidBase58(let e): return "invalid peer id text: \(e)"
        case .invalidPeerIDString(let why): return "invalid peer id text: \(why)"
        }
    }
}
