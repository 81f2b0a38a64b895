/// libp2p public keys: the key types this node accepts and their protobuf encoding,
/// `PublicKey{Type=1, Data=2}` = `08 <type> 12 <len> <data>` (libp2p specs
/// `peer-ids/peer-ids.md` §"Keys"; spec §6.2). RSA and ECDSA keys are refused.
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import SwiftProtobuf

public enum KeyType: Sendable {
    case ed25519, secp256k1
}

public enum PublicKey: Sendable, Hashable {
    /// A secp256k1 point; marshalled as its 33-byte compressed form.
    case secp256k1(Secp256k1PublicKey)
    /// A 32-byte Ed25519 public key.
    case ed25519([UInt8])

    /// Longest marshalled key accepted, checked before parsing (room for an RSA key, so that
    /// one is reported as an unsupported type rather than as too long).
    public static let maxMarshalledLength = 2048

    public var keyType: KeyType {
        switch self {
        case .secp256k1: return .secp256k1
        case .ed25519: return .ed25519
        }
    }

    /// The raw key data inside the protobuf: the compressed point, or the 32 Ed25519 bytes.
    public var rawBytes: [UInt8] {
        switch self {
        case .secp256k1(let k): return k.compressed
        case .ed25519(let b): return b
        }
    }

    /// The libp2p protobuf `PublicKey` bytes, from which peer ids are derived.
    public func marshal() -> [UInt8] {
        var pb = PBPublicKey()
        pb.type = keyType.protobufType
        pb.data = Data(rawBytes)
        return (try? pb.serializedBytes())!  // safe: both required fields are set, so encoding cannot fail
    }

    /// Parses libp2p protobuf `PublicKey` bytes.
    public static func unmarshal(_ bytes: [UInt8]) throws(IdentityError) -> PublicKey {
        guard bytes.count <= maxMarshalledLength else { throw .keyTooLong(length: bytes.count, limit: maxMarshalledLength) }
        let pb: PBPublicKey
        do { pb = try PBPublicKey(serializedBytes: bytes) } catch { throw .invalidProtobuf("\(error)") }
        let data = [UInt8](pb.data)
        switch pb.type {
        case .secp256K1:
            // go-libp2p (btcec) accepts compressed and uncompressed points; we re-marshal compressed.
            do throws(CryptoError) { return .secp256k1(try Secp256k1PublicKey(bytes: data)) } catch { throw .invalidKey(.secp256k1, error) }
        case .ed25519:
            guard data.count == 32 else { throw .invalidKeyLength(.ed25519, expected: 32, got: data.count) }
            return .ed25519(data)
        case .rsa: throw .unsupportedKeyType("RSA")
        case .ecdsa: throw .unsupportedKeyType("ECDSA")
        }
    }

    /// Verifies a libp2p signature: secp256k1 is DER ECDSA over SHA-256(message), Ed25519 is
    /// plain Ed25519 over the message.
    public func verify(signature: [UInt8], message: [UInt8]) -> Bool {
        switch self {
        case .secp256k1(let k): return k.verifyLibp2p(signature: signature, message: message)
        case .ed25519(let b): return Ed25519.verify(signature: signature, message: message, publicKey: b)
        }
    }
}

extension KeyType: CustomStringConvertible {
    public var description: String {
        switch self {
        case .ed25519: return "Ed25519"
        case .secp256k1: return "secp256k1"
        }
    }

    var protobufType: PBKeyType {
        switch self {
        case .ed25519: return .ed25519
        case .secp256k1: return .secp256K1
        }
    }
}
