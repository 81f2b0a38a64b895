/// The libp2p Noise handshake (`/noise`, libp2p/specs noise/README.md), sans-IO: XX with an
/// empty prologue, every handshake message framed with a 2-byte big-endian length. Message 1
/// carries no payload; the responder's identity payload rides in message 2 and the initiator's
/// in message 3 (go-libp2p `runHandshake`). The remote payload's signature is verified, and an
/// initiator that knows whom it dialled checks the remote peer id.
///
/// Drive it with `takeOutbound()` (bytes to send; the initiator's message 1 is ready at once) and
/// `receive(_:)`. When `receive` returns a result, send `takeOutbound()` once more (the
/// initiator's message 3) before anything encrypted with the result's session.
public struct NoiseHandshakeResult: Sendable {
    public let remotePublicKey: PublicKey
    public let remotePeerID: PeerID
    /// The remote payload's extensions (e.g. go-libp2p's early muxer negotiation), if sent.
    public let remoteExtensions: PBNoiseExtensions?
    /// The secure channel.
    public var session: NoiseSession
    /// Bytes received after the last handshake message: already the secure channel's
    /// ciphertext; feed them to `session.decrypt`.
    public let leftover: [UInt8]
}

public struct NoiseHandshake: Sendable {
    public static let protocolID = "/noise"

    private var state: HandshakeState
    private let identity: PrivateKey
    private let expectedPeer: PeerID?
    private let extensions: PBNoiseExtensions?
    private var inbound: [UInt8] = []
    private var outbound: [UInt8] = []
    private var done = false

    /// - Parameters:
    ///   - role: `.initiator` for the dialler.
    ///   - identity: our libp2p identity key, which signs the static Noise key.
    ///   - expectedRemotePeer: if set, the remote must prove this peer id (`.peerIDMismatch` otherwise).
    ///   - staticKeyPair: our static X25519 key (fresh per connection by default, as go-libp2p does).
    ///   - extensions: optional `NoiseExtensions` to put in our payload.
    public init(role: HandshakeState.Role, identity: PrivateKey, expectedRemotePeer: PeerID? = nil,
                staticKeyPair: X25519KeyPair = X25519KeyPair(), ephemeralKeyPair: X25519KeyPair? = nil,
                extensions: PBNoiseExtensions? = nil) {
        state = HandshakeState(role: role, prologue: [], staticKeyPair: staticKeyPair, ephemeralKeyPair: ephemeralKeyPair)
        self.identity = identity
        expectedPeer = expectedRemotePeer
        self.extensions = extensions
        if role == .initiator {
            // Message 1 (-> e) with an empty payload; it cannot fail before any DH.
            if let message = try? state.writeMessage(payload: []) { appendFrame(message) }
        }
    }

    public var role: HandshakeState.Role { state.role }

    /// Handshake bytes to send.
    public mutating func takeOutbound() -> [UInt8] {
        defer { outbound = [] }
        return outbound
    }

    public var hasOutbound: Bool { !outbound.isEmpty }

    private mutating func appendFrame(_ message: [UInt8]) {
        outbound.append(UInt8(truncatingIfNeeded: message.count >> 8))
        outbound.append(UInt8(truncatingIfNeeded: message.count))
        outbound += message
    }

    private var payload: [UInt8] {
        NoisePayload.make(identity: identity, staticPublicKey: state.localStaticPublicKey, extensions: extensions)
    }

    /// Feeds bytes from the peer. Returns nil until the handshake completes; any error is final.
    public mutating func receive(_ bytes: [UInt8]) throws(NoiseError) -> NoiseHandshakeResult? {
        guard !done else { throw .failed }
        inbound += bytes
        do throws(NoiseError) {
            while inbound.count >= 2 {
                let length = Int(inbound[0]) << 8 | Int(inbound[1])
                guard inbound.count >= 2 + length else { return nil }
                let message = Array(inbound[2..<(2 + length)])
                inbound.removeSubrange(0..<(2 + length))
                if let result = try process(message) {
                    done = true
                    return result
                }
            }
            return nil
        } catch {
            done = true
            inbound = []
            throw error
        }
    }

    private mutating func process(_ message: [UInt8]) throws(NoiseError) -> NoiseHandshakeResult? {
        let remotePayload = try state.readMessage(message)
        switch (state.role, state.messageIndex) {
        case (.responder, 1):
            // Message 1's payload is ignored (it is unauthenticated); answer with message 2.
            appendFrame(try state.writeMessage(payload: payload))
            return nil
        case (.initiator, 2):
            let verified = try verifyRemote(remotePayload)
            appendFrame(try state.writeMessage(payload: payload))
            return try finish(verified)
        case (.responder, 3):
            return try finish(try verifyRemote(remotePayload))
        default:
            throw .outOfOrder
        }
    }

    private func verifyRemote(_ payload: [UInt8]) throws(NoiseError) -> NoisePayload.Verified {
        guard let remoteStatic = state.remoteStaticKey else { throw .outOfOrder }
        return try NoisePayload.verify(payload, remoteStaticKey: remoteStatic, expectedPeer: expectedPeer)
    }

    private mutating func finish(_ verified: NoisePayload.Verified) throws(NoiseError) -> NoiseHandshakeResult {
        let (send, receive) = try state.split()
        let leftover = inbound
        inbound = []
        return NoiseHandshakeResult(remotePublicKey: verified.publicKey, remotePeerID: verified.peerID,
                                    remoteExtensions: verified.extensions,
                                    session: NoiseSession(send: send, receive: receive), leftover: leftover)
    }
}
