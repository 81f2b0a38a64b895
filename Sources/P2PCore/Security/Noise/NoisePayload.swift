/// The libp2p Noise handshake payload (libp2p/specs noise/README.md §"The libp2p Handshake
/// Payload"; go-libp2p `p2p/security/noise/handshake.go`): protobuf `NoiseHandshakePayload`
/// with the marshalled identity key, `identity_sig = sign("noise-libp2p-static-key:" ++ static
/// X25519 public key)` and optional extensions. Unknown fields and extensions are tolerated.
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import SwiftProtobuf

enum NoisePayload {
    static let signaturePrefix = Array("noise-libp2p-static-key:".utf8)

    /// Our payload for the given static Noise key.
    static func make(identity: PrivateKey, staticPublicKey: [UInt8], extensions: PBNoiseExtensions?) -> [UInt8] {
        var pb = PBNoiseHandshakePayload()
        pb.identityKey = Data(identity.publicKey.marshal())
        pb.identitySig = Data(identity.sign(signaturePrefix + staticPublicKey))
        if let extensions { pb.extensions = extensions }
        return (try? pb.serializedBytes()) ?? []  // encoding a message of bytes fields cannot fail
    }

    struct Verified {
        let publicKey: PublicKey
        let peerID: PeerID
        let extensions: PBNoiseExtensions?
    }

    /// Decodes the remote payload, checks the expected peer id (as go-libp2p does, before the
    /// signature) and verifies the signature over the remote static key.
    static func verify(_ payload: [UInt8], remoteStaticKey: [UInt8], expectedPeer: PeerID?) throws(NoiseError) -> Verified {
        let pb: PBNoiseHandshakePayload
        do { pb = try PBNoiseHandshakePayload(serializedBytes: payload) } catch { throw .invalidPayload("\(error)") }
        guard pb.hasIdentityKey else { throw .invalidPayload("missing identity_key") }
        let key: PublicKey
        do throws(IdentityError) { key = try PublicKey.unmarshal([UInt8](pb.identityKey)) } catch {
            throw .invalidIdentityKey(error.description)
        }
        let peer = PeerID(publicKey: key)
        if let expectedPeer, expectedPeer != peer {
            throw .peerIDMismatch(expected: expectedPeer.description, actual: peer.description)
        }
        guard key.verify(signature: [UInt8](pb.identitySig), message: signaturePrefix + remoteStaticKey) else {
            throw .invalidSignature
        }
        return Verified(publicKey: key, peerID: peer, extensions: pb.hasExtensions ? pb.extensions : nil)
    }
}
