/// Noise `HandshakeState` (Noise Protocol Framework rev 34, §5.3) for the one pattern libp2p uses,
/// `Noise_XX_25519_ChaChaPoly_SHA256` (§7.5):
///
///     XX:
///       -> e
///       <- e, ee, s, es
///       -> s, se
///
/// Static and ephemeral key pairs and the prologue are injectable so the state machine can be
/// checked against the published cacophony vectors; a missing ephemeral is generated when the
/// `e` token is written.
public struct HandshakeState: Sendable {
    public enum Role: Sendable, Equatable { case initiator, responder }

    public static let protocolName = "Noise_XX_25519_ChaChaPoly_SHA256"
    public static let dhLength = 32
    /// Largest Noise message (§3).
    public static let maxMessageLength = 65535

    public let role: Role
    private var symmetric: SymmetricState
    private let s: X25519KeyPair
    private var e: X25519KeyPair?
    private var re: [UInt8]?
    public private(set) var remoteStaticKey: [UInt8]?
    /// Index of the next message of the pattern (0, 1, 2; 3 when complete).
    public private(set) var messageIndex = 0

    /// `Initialize(handshake_pattern = XX, initiator, prologue, s, e, rs = empty, re = empty)`.
    public init(role: Role, prologue: [UInt8] = [], staticKeyPair: X25519KeyPair, ephemeralKeyPair: X25519KeyPair? = nil) {
        self.role = role
        symmetric = SymmetricState(protocolName: Self.protocolName)
        symmetric.mixHash(prologue)
        s = staticKeyPair
        e = ephemeralKeyPair
    }

    public var isComplete: Bool { messageIndex >= 3 }
    /// Whether the next message is ours to write (messages 0 and 2 are the initiator's).
    public var isOurTurn: Bool { !isComplete && (messageIndex % 2 == 0) == (role == .initiator) }
    public var handshakeHash: [UInt8] { symmetric.handshakeHash }
    public var localStaticPublicKey: [UInt8] { s.publicKey }

    private func dh(_ pair: X25519KeyPair, _ remote: [UInt8]?) throws(NoiseError) -> [UInt8] {
        guard let remote else { throw .outOfOrder }
        do {
            return try pair.sharedSecret(with: remote)
        } catch {
            throw .invalidRemoteKey
        }
    }

    private mutating func ephemeral() -> X25519KeyPair {
        if let e { return e }
        let fresh = X25519KeyPair()
        e = fresh
        return fresh
    }

    /// `WriteMessage(payload)`: the next handshake message, ours to send.
    public mutating func writeMessage(payload: [UInt8]) throws(NoiseError) -> [UInt8] {
        guard isOurTurn else { throw .outOfOrder }
        var out = [UInt8]()
        out.reserveCapacity(32 + 48 + payload.count + 16)
        switch messageIndex {
        case 0: // -> e
            let e = ephemeral()
            out += e.publicKey
            symmetric.mixHash(e.publicKey)
        case 1: // <- e, ee, s, es
            let e = ephemeral()
            out += e.publicKey
            symmetric.mixHash(e.publicKey)
            symmetric.mixKey(try dh(e, re))
            out += try symmetric.encryptAndHash(s.publicKey)
            symmetric.mixKey(try dh(s, re))
        default: // -> s, se
            out += try symmetric.encryptAndHash(s.publicKey)
            symmetric.mixKey(try dh(s, re))
        }
        out += try symmetric.encryptAndHash(payload)
        guard out.count <= Self.maxMessageLength else { throw .messageTooLarge(out.count) }
        messageIndex += 1
        return out
    }

    /// `ReadMessage(message)`: consumes the peer's handshake message and returns its payload.
    public mutating func readMessage(_ message: [UInt8]) throws(NoiseError) -> [UInt8] {
        guard !isComplete, !isOurTurn else { throw .outOfOrder }
        guard message.count <= Self.maxMessageLength else { throw .messageTooLarge(message.count) }
        var rest = message[...]
        switch messageIndex {
        case 0: // -> e
            re = try readEphemeral(&rest)
        case 1: // <- e, ee, s, es
            re = try readEphemeral(&rest)
            symmetric.mixKey(try dh(ephemeral(), re))
            remoteStaticKey = try readStatic(&rest)
            symmetric.mixKey(try dh(ephemeral(), remoteStaticKey))
        default: // -> s, se
            remoteStaticKey = try readStatic(&rest)
            symmetric.mixKey(try dh(ephemeral(), remoteStaticKey))
        }
        if symmetric.cipher.hasKey && rest.count < CipherState.tagSize {
            throw .messageTooShort(expected: message.count - rest.count + CipherState.tagSize, got: message.count)
        }
        let payload = try symmetric.decryptAndHash(Array(rest))
        messageIndex += 1
        return payload
    }

    private mutating func readEphemeral(_ rest: inout ArraySlice<UInt8>) throws(NoiseError) -> [UInt8] {
        guard rest.count >= Self.dhLength else { throw .messageTooShort(expected: Self.dhLength, got: rest.count) }
        let key = Array(rest.prefix(Self.dhLength))
        rest = rest.dropFirst(Self.dhLength)
        symmetric.mixHash(key)
        return key
    }

    private mutating func readStatic(_ rest: inout ArraySlice<UInt8>) throws(NoiseError) -> [UInt8] {
        let n = Self.dhLength + (symmetric.cipher.hasKey ? CipherState.tagSize : 0)
        guard rest.count >= n else { throw .messageTooShort(expected: n, got: rest.count) }
        let key = try symmetric.decryptAndHash(Array(rest.prefix(n)))
        rest = rest.dropFirst(n)
        return key
    }

    /// `Split()` after the last message, oriented for this side: `send` encrypts our messages.
    public func split() throws(NoiseError) -> (send: CipherState, receive: CipherState) {
        guard isComplete else { throw .outOfOrder }
        let (c1, c2) = symmetric.split()
        return role == .initiator ? (c1, c2) : (c2, c1)
    }
}
