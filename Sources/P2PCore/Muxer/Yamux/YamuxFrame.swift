/// yamux frame header: 12 bytes, big-endian — version (0), type, flags, stream id, length.
/// Spec: hashicorp/yamux spec.md and libp2p/specs yamux/README.md; behaviour of go-yamux
/// (`const.go`: header layout, types Data/WindowUpdate/Ping/GoAway, flags SYN/ACK/FIN/RST,
/// GoAway codes normal/protocol error/internal error).
public struct YamuxStreamID: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public init(_ rawValue: UInt32) { self.rawValue = rawValue }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "\(rawValue)" }
}

/// The code carried by a GoAway frame.
public enum YamuxGoAwayCode: Equatable, Sendable, CustomStringConvertible {
    case normal
    case protocolError
    case internalError
    case unknown(UInt32)

    public init(rawValue: UInt32) {
        switch rawValue {
        case 0: self = .normal
        case 1: self = .protocolError
        case 2: self = .internalError
        default: self = .unknown(rawValue)
        }
    }

    public var rawValue: UInt32 {
        switch self {
        case .normal: return 0
        case .protocolError: return 1
        case .internalError: return 2
        case .unknown(let v): return v
        }
    }

    public var description: String {
        switch self {
        case .normal: return "normal"
        case .protocolError: return "protocol error"
        case .internalError: return "internal error"
        case .unknown(let v): return "unknown code \(v)"
        }
    }
}

public enum YamuxError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Fewer than 12 bytes were given to the header decoder.
    case truncatedHeader(Int)
    // Protocol violations by the peer (the session sends GoAway(protocol error) and closes).
    case invalidVersion(UInt8)
    case invalidFrameType(UInt8)
    case invalidStreamID(UInt32)
    case duplicateStream(UInt32)
    /// A frame for a stream id that was never opened.
    case unknownStream(UInt32)
    /// A data frame larger than the receive window the peer was granted.
    case windowExceeded(stream: UInt32, length: UInt32, window: UInt32)
    /// The peer ended the session with an error GoAway.
    case remoteGoAway(YamuxGoAwayCode)
    // Local API errors.
    case sessionClosed
    case remoteGoingAway
    case streamsExhausted
    case tooManyStreams(Int)
    case tooManyUnacknowledgedStreams(Int)
    case streamNotFound(YamuxStreamID)
    case writeClosed(YamuxStreamID)

    public var description: String {
        switch self {
        case .truncatedHeader(let n): return "yamux: header needs 12 bytes, got \(n)"
        case .invalidVersion(let v): return "yamux: invalid protocol version \(v)"
        case .invalidFrameType(let t): return "yamux: invalid frame type \(t)"
        case .invalidStreamID(let id): return "yamux: invalid stream id \(id) for this frame or role"
        case .duplicateStream(let id): return "yamux: duplicate stream \(id)"
        case .unknownStream(let id): return "yamux: frame for stream \(id), which was never opened"
        case .windowExceeded(let s, let l, let w): return "yamux: \(l) bytes on stream \(s) exceed receive window \(w)"
        case .remoteGoAway(let c): return "yamux: peer sent GoAway (\(c))"
        case .sessionClosed: return "yamux: session closed"
        case .remoteGoingAway: return "yamux: peer sent GoAway, no new streams"
        case .streamsExhausted: return "yamux: stream ids exhausted"
        case .tooManyStreams(let n): return "yamux: stream limit \(n) reached"
        case .tooManyUnacknowledgedStreams(let n): return "yamux: \(n) opened streams await the peer's ACK"
        case .streamNotFound(let id): return "yamux: no open stream \(id)"
        case .writeClosed(let id): return "yamux: stream \(id) is closed for writing"
        }
    }
}

public struct YamuxFrameHeader: Equatable, Sendable {
    public enum FrameType: UInt8, Sendable {
        case data = 0
        case windowUpdate = 1
        case ping = 2
        case goAway = 3
    }

    public struct Flags: OptionSet, Sendable, Hashable {
        public let rawValue: UInt16
        public init(rawValue: UInt16) { self.rawValue = rawValue }
        public static let syn = Flags(rawValue: 0x1)
        public static let ack = Flags(rawValue: 0x2)
        public static let fin = Flags(rawValue: 0x4)
        public static let rst = Flags(rawValue: 0x8)
    }

    public static let size = 12
    public static let version: UInt8 = 0

    public var type: FrameType
    public var flags: Flags
    public var streamID: UInt32
    /// Payload length for Data; window delta for WindowUpdate; opaque value for Ping; code for GoAway.
    public var length: UInt32

    public init(type: FrameType, flags: Flags = [], streamID: UInt32, length: UInt32) {
        self.type = type
        self.flags = flags
        self.streamID = streamID
        self.length = length
    }

    /// Appends the 12 encoded bytes to `out`.
    public func append(to out: inout [UInt8]) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: Self.size) { b in
            b[0] = Self.version
            b[1] = type.rawValue
            b[2] = UInt8(truncatingIfNeeded: flags.rawValue >> 8)
            b[3] = UInt8(truncatingIfNeeded: flags.rawValue)
            b[4] = UInt8(truncatingIfNeeded: streamID >> 24)
            b[5] = UInt8(truncatingIfNeeded: streamID >> 16)
            b[6] = UInt8(truncatingIfNeeded: streamID >> 8)
            b[7] = UInt8(truncatingIfNeeded: streamID)
            b[8] = UInt8(truncatingIfNeeded: length >> 24)
            b[9] = UInt8(truncatingIfNeeded: length >> 16)
            b[10] = UInt8(truncatingIfNeeded: length >> 8)
            b[11] = UInt8(truncatingIfNeeded: length)
            out.append(contentsOf: b)
        }
    }

    public var encoded: [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(Self.size)
        append(to: &out)
        return out
    }

    /// Decodes the first 12 bytes of `b` (which must hold at least 12). Unknown flag bits are
    /// kept and ignored, as go-yamux does.
    public static func decode(_ b: UnsafeRawBufferPointer) throws(YamuxError) -> YamuxFrameHeader {
        guard b.count >= size else { throw .truncatedHeader(b.count) }
        guard b[0] == version else { throw .invalidVersion(b[0]) }
        guard let type = FrameType(rawValue: b[1]) else { throw .invalidFrameType(b[1]) }
        let flags = UInt16(b[2]) << 8 | UInt16(b[3])
        let id = UInt32(b[4]) << 24 | UInt32(b[5]) << 16 | UInt32(b[6]) << 8 | UInt32(b[7])
        let length = UInt32(b[8]) << 24 | UInt32(b[9]) << 16 | UInt32(b[10]) << 8 | UInt32(b[11])
        return YamuxFrameHeader(type: type, flags: Flags(rawValue: flags), streamID: id, length: length)
    }

    public static func decode(_ bytes: [UInt8]) throws(YamuxError) -> YamuxFrameHeader {
        try bytes.withUnsafeBytes { b in Result { () throws(YamuxError) in try decode(b) } }.get()
    }
}
