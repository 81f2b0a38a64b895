import Foundation
import P2PCore

/// Message signature policies of libp2p pubsub (specs `pubsub/README.md` "Message Signing";
/// go-libp2p-pubsub `sign.go`, `pubsub.go` `checkSigningPolicy`):
///
/// - StrictSign: every message carries `from` (the author's peer id bytes), an 8-byte big-endian
///   `seqno` and `signature` = sign("libp2p-pubsub:" ++ protobuf(Message without signature and
///   key)); `key` only when the public key cannot be extracted from the peer id. Unsigned or badly
///   signed messages are rejected.
/// - StrictNoSign (op-node, spec §2.3): messages carry only `data` and `topic`; any message with a
///   signature, from, seqno or key is rejected.
public enum SignaturePolicy: Sendable {
    case strictSign(PrivateKey)
    case strictNoSign

    var signs: Bool {
        if case .strictSign = self { return true }
        return false
    }
}

enum MessageSigning {
    static let prefix = Array("libp2p-pubsub:".utf8)

    /// Sets `from`, `signature` and (if needed) `key` on `message`, which already has data,
    /// topic and seqno.
    static func sign(_ message: inout PBMessage, key: PrivateKey) throws(GossipRouterError) {
        let author = key.peerID
        message.from = Data(author.bytes)
        message.clearSignature()
        message.clearKey()
        let body: [UInt8]
        do { body = try message.serializedBytes() } catch { throw .encodingFailed("\(error)") }
        message.signature = Data(key.sign(prefix + body))
        if author.publicKey == nil {
            message.key = Data(key.publicKey.marshal())
        }
    }

    /// The reason `message` breaks `policy`, or nil if it conforms (for StrictSign: the
    /// signature verifies against the author's key).
    static func violation(of policy: SignaturePolicy, by message: PBMessage) -> RejectReason? {
        switch policy {
        case .strictNoSign:
            if message.hasSignature { return .unexpectedSignature }
            if message.hasFrom || message.hasSeqno || message.hasKey { return .unexpectedAuthInfo }
            return nil
        case .strictSign:
            guard message.hasSignature else { return .missingSignature }
            return verify(message) ? nil : .invalidSignature
        }
    }

    /// go `verifyMessageSignature`: the key is the attached one (which must match `from`) or the
    /// one inlined in the `from` peer id.
    static func verify(_ message: PBMessage) -> Bool {
        guard let author = try? PeerID(bytes: [UInt8](message.from)) else { return false }
        let publicKey: PublicKey
        if message.hasKey {
            guard message.key.count <= PublicKey.maxMarshalledLength,
                  let key = try? PublicKey.unmarshal([UInt8](message.key)), author.matches(key) else { return false }
            publicKey = key
        } else {
            guard let key = author.publicKey else { return false }
            publicKey = key
        }
        var unsigned = message
        unsigned.clearSignature()
        unsigned.clearKey()
        guard let body: [UInt8] = try? unsigned.serializedBytes() else { return false }
        return publicKey.verify(signature: [UInt8](message.signature), message: prefix + body)
    }
}
