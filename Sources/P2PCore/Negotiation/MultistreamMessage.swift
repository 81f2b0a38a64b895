/// multistream-select 1.0 message framing: `uvarint(len) ++ utf8 ++ "\n"`, where `len` counts the
/// newline. Messages over 1024 bytes are rejected and every message must end with "\n", as in
/// go-multistream (`lpReadBuf`, `ReadNextToken`). Spec: multiformats/multistream-select README,
/// libp2p/specs connections/README.md "Protocol Negotiation".
public enum MultistreamError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A message declared more than `Multistream.maxMessageSize` bytes.
    case messageTooLarge(UInt64)
    /// A message did not end with "\n" (this includes the empty message).
    case missingNewline
    /// The length prefix is not a valid minimal uvarint.
    case invalidLength(VarintError)
    /// A message is not valid UTF-8.
    case invalidUTF8
    /// The peer's first message was not `/multistream/1.0.0`.
    case unexpectedHeader(String)
    /// The listener answered something other than our proposal or `na`.
    case unexpectedResponse(String)
    /// Dialer: the listener refused every protocol we proposed.
    case protocolsExhausted([String])
    /// Listener: the dialer made more proposals than allowed.
    case tooManyProposals(Int)
    /// A dialer was created with no protocols to propose.
    case noProtocols
    /// A protocol id we were asked to send is empty, contains "\n", or is too long to frame.
    case invalidProtocolID(String)
    /// `receive` was called after negotiation finished or failed.
    case finished

    public var description: String {
        switch self {
        case .messageTooLarge(let n): return "multistream message of \(n) bytes exceeds \(Multistream.maxMessageSize)"
        case .missingNewline: return "multistream message does not end with a newline"
        case .invalidLength(let e): return "multistream length prefix: \(e)"
        case .invalidUTF8: return "multistream message is not valid UTF-8"
        case .unexpectedHeader(let s): return "expected \(Multistream.protocolID), got \(s.debugDescription)"
        case .unexpectedResponse(let s): return "unexpected multistream response \(s.debugDescription)"
        case .protocolsExhausted(let p): return "peer refused every proposed protocol: \(p.joined(separator: ", "))"
        case .tooManyProposals(let n): return "peer proposed more than \(n) protocols"
        case .noProtocols: return "no protocols to propose"
        case .invalidProtocolID(let s): return "invalid protocol id \(s.debugDescription)"
        case .finished: return "multistream negotiation already finished"
        }
    }
}

/// Constants and the message codec shared by `MultistreamDialer` and `MultistreamListener`.
public enum Multistream {
    public static let protocolID = "/multistream/1.0.0"
    public static let notAvailable = "na"
    public static let list = "ls"
    /// Largest message accepted, counting the trailing newline (go-multistream: 1024).
    public static let maxMessageSize = 1024

    /// Appends one framed message to `out`.
    static func append(_ message: String, to out: inout [UInt8]) {
        let utf8 = message.utf8
        Varint.append(UInt64(utf8.count + 1), to: &out)
        out.append(contentsOf: utf8)
        out.append(0x0A)
    }

    /// Frames a message: `uvarint(len + 1) ++ message ++ "\n"`.
    public static func encode(_ message: String) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(message.utf8.count + 3)
        append(message, to: &out)
        return out
    }

    /// Checks a protocol id we are about to send: it must frame within the size limit and
    /// not contain a newline (which would corrupt the framing on the peer's side).
    static func validate(_ id: String) throws(MultistreamError) {
        guard !id.isEmpty, id.utf8.count + 1 <= maxMessageSize, !id.utf8.contains(0x0A) else {
            throw .invalidProtocolID(id)
        }
    }
}

/// Incremental parser for multistream messages. Buffers at most one message
/// (≤ 1024 bytes plus its length prefix); everything after the last message taken stays in
/// the buffer and can be handed to the next protocol with `takeRemaining()`.
struct MultistreamReader: Sendable {
    private var buffer: [UInt8] = []
    private var offset = 0

    mutating func append<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        if offset > 0 && offset == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            offset = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete message without its newline, or nil if more bytes are needed.
    mutating func next() throws(MultistreamError) -> String? {
        let view = buffer[offset...]
        let prefix: (value: UInt64, length: Int)?
        do {
            prefix = try Varint.decodePrefix(view)
        } catch {
            throw .invalidLength(error)
        }
        guard let (length, prefixLength) = prefix else {
            // A varint for any allowed length fits in 2 bytes; more pending bytes mean garbage.
            if view.count >= Varint.maxMultiformatsBytes { throw .invalidLength(.overflow) }
            return nil
        }
        guard length <= UInt64(Multistream.maxMessageSize) else { throw .messageTooLarge(length) }
        let n = Int(length)
        guard view.count - prefixLength >= n else { return nil }
        let start = offset + prefixLength
        let end = start + n
        guard n > 0, buffer[end - 1] == 0x0A else { throw .missingNewline }
        guard let s = String(validating: buffer[start..<(end - 1)], as: UTF8.self) else { throw .invalidUTF8 }
        offset = end
        return s
    }

    /// Bytes received after the last message taken.
    mutating func takeRemaining() -> [UInt8] {
        let rest = Array(buffer[offset...])
        buffer = []
        offset = 0
        return rest
    }
}
