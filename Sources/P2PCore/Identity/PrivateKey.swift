/// libp2p private keys (secp256k1, Ed25519) and their protobuf encoding `PrivateKey{Type, Data}`:
/// secp256k1 data is the 32-byte scalar, Ed25519 data is seed ++ public key (64 bytes; the legacy
/// 96-byte form with a redundant public key is also read, as go-libp2p does).
/// Sources: libp2p specs `peer-ids/peer-ids.md`, go-libp2p `core/crypto`; spec §6.2.
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import SwiftProtobuf

public enum PrivateKey: Sendable {
    case secp256k1(Secp256k1PrivateKey)
    case ed25519(Ed25519PrivateKey)

    /// Longest marshalled private key accepted, checked before parsing.
    public static let maxMarshalledLength = 4096

    /// A fresh random key.
    public static func generate(_ type: KeyType) -> PrivateKey {
        switch type {
        case .secp256k1: return .secp256k1(Secp256k1PrivateKey())
        case .ed25519: return .ed25519(Ed25519PrivateKey())
        }
    }

    public var keyType: KeyType {
        switch self {
        case .secp256k1: return .secp256k1
        case .ed25519: return .ed25519
        }
    }

    public var publicKey: PublicKey {
        switch self {
        case .secp256k1(let k): return .secp256k1(k.publicKey)
        case .ed25519(let k): return .ed25519(k.publicKey)
        }
    }

    /// The peer id of this key's public key.
    public var peerID: PeerID { PeerID(publicKey: publicKey) }

    /// A libp2p signature (see `PublicKey.verify`).
    public func sign(_ message: [UInt8]) -> [UInt8] {
        switch self {
        case .secp256k1(let k): return k.signLibp2p(message)
        case .ed25519(let k): return k.sign(message)
        }
    }

    /// The libp2p protobuf `PrivateKey` bytes.
    public func marshal() -> [UInt8] {
        var pb = PBPrivateKey()
        pb.type = keyType.protobufType
        switch self {
        case .secp256k1(let k): pb.data = Data(k.bytes)
        case .ed25519(let k): pb.data = Data(k.libp2pBytes)
        }
        return (try? pb.serializedBytes())!  // safe: both required fields are set, so encoding cannot fail
    }

    /// Parses libp2p protobuf `PrivateKey` bytes.
    public static func unmarshal(_ bytes: [UInt8]) throws(IdentityError) -> PrivateKey {
        guard bytes.count <= maxMarshalledLength else { throw .keyTooLong(length: bytes.count, limit: maxMarshalledLength) }
        let pb: PBPrivateKey
        do { pb = try PBPrivateKey(serializedBytes: bytes) } catch { throw .invalidProtobuf("\(error)") }
        var data = [UInt8](pb.data)
        switch pb.type {
        case .secp256K1:
            guard data.count == 32 else { throw .invalidKeyLength(.secp256k1, expected: 32, got: data.count) }
            do throws(CryptoError) { return .secp256k1(try Secp256k1PrivateKey(bytes: data)) } catch { throw .invalidKey(.secp256k1, error) }
        case .ed25519:
            if data.count == 96 {
                // Legacy form: seed ++ public key ++ the public key again (go-libp2p issue #36).
                guard data[32..<64].elementsEqual(data[64..<96]) else { throw .invalidKey(.ed25519, .invalidPrivateKey) }
                data.removeLast(32)
            }
            guard data.count == 64 else { throw .invalidKeyLength(.ed25519, expected: 64, got: data.count) }
            do throws(CryptoError) { return .ed25519(try Ed25519PrivateKey(libp2pBytes: data)) } catch { throw .invalidKey(.ed25519, error) }
        case .rsa: throw .unsupportedKeyType("RSA")
        case .ecdsa: throw .unsupportedKeyType("ECDSA")
        }
    }
}
