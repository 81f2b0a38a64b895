import Foundation
import P2PCore
import SwiftProtobuf

/// Pubsub RPC framing (libp2p specs `pubsub/README.md`; go-libp2p-pubsub `comm.go`, which uses
/// go-msgio's varint reader/writer): every RPC on a pubsub stream is an unsigned-varint length
/// followed by that many bytes of protobuf `RPC` (spec §2.3). Frames longer than the maximum RPC
/// size (op-node 10 MiB, spec §2.2) are refused before anything is allocated for them.
///
/// Also the protobuf mapping helpers the router needs: exact encoded sizes (go `Size()`), RPC
/// fragmentation when a batch exceeds the limit (go `fragmentRPC`), and small constructors.
public enum RPCFramingError: Error, Equatable, CustomStringConvertible {
    /// A frame's length prefix exceeds the limit.
    case frameTooLarge(length: UInt64, limit: Int)
    /// The length prefix is not a valid uvarint.
    case invalidLengthPrefix(VarintError)
    /// The frame body is not a valid protobuf RPC.
    case invalidProtobuf(String)
    /// An RPC to send (or a single message in it) does not fit in one frame.
    case rpcTooLarge(size: Int, limit: Int)

    public var description: String {
        switch self {
        case .frameTooLarge(let length, let limit): return "RPC frame of \(length) bytes exceeds the limit of \(limit) bytes"
        case .invalidLengthPrefix(let e): return "invalid RPC length prefix: \(e)"
        case .invalidProtobuf(let why): return "invalid RPC protobuf: \(why)"
        case .rpcTooLarge(let size, let limit): return "RPC of \(size) bytes exceeds the limit of \(limit) bytes"
        }
    }
}

public enum RPCFraming {
    /// Encodes `rpc` as one frame: uvarint(length) ++ protobuf.
    public static func encode(_ rpc: PBRPC, maxSize: Int) throws(RPCFramingError) -> [UInt8] {
        let size = rpc.encodedSize
        guard size <= maxSize else { throw .rpcTooLarge(size: size, limit: maxSize) }
        let body: [UInt8]
        do { body = try rpc.serializedBytes() } catch { throw .invalidProtobuf("\(error)") }
        var out = [UInt8]()
        out.reserveCapacity(Varint.encodedLength(UInt64(body.count)) + body.count)
        Varint.append(UInt64(body.count), to: &out)
        out.append(contentsOf: body)
        return out
    }

    /// Encodes `rpc` as one frame using `encodedMessages[i]` as the encoding of `rpc.publish[i]`
    /// (made once with `encodeMessage` and shared by every peer the message goes to), so a
    /// message is copied into the frame, not encoded again. The bytes are those of
    /// `encode(_:maxSize:)`: fields in number order (subscriptions, publish, control), then
    /// unknown fields. Without a matching list of encodings the RPC is encoded whole.
    public static func encode(_ rpc: PBRPC, encodedMessages: [[UInt8]], maxSize: Int) throws(RPCFramingError) -> [UInt8] {
        let pieces = try encodePieces(rpc, encodedMessages: encodedMessages, maxSize: maxSize)
        if pieces.count == 1 { return pieces[0] }
        var out = [UInt8]()
        out.reserveCapacity(pieces.reduce(0) { $0 + $1.count })
        for p in pieces { out.append(contentsOf: p) }
        return out
    }

    /// The same frame as `encode(_:encodedMessages:maxSize:)`, as pieces to write in order: each
    /// shared message encoding of at least `sharedPieceMinimum` bytes is a piece of its own, so a
    /// 100 KB block goes to every peer's stream without being copied into a frame (the stream
    /// and yamux keep slices of the caller's arrays; Noise seals from them).
    public static func encodePieces(_ rpc: PBRPC, encodedMessages: [[UInt8]], maxSize: Int) throws(RPCFramingError) -> [[UInt8]] {
        guard !encodedMessages.isEmpty, encodedMessages.count == rpc.publish.count else {
            return [try encode(rpc, maxSize: maxSize)]
        }
        var head = PBRPC()
        head.subscriptions = rpc.subscriptions
        var tail = rpc
        tail.subscriptions = []
        tail.publish = []
        let headBytes: [UInt8], tailBytes: [UInt8]
        do {
            headBytes = try head.serializedBytes()
            tailBytes = try tail.serializedBytes()
        } catch { throw .invalidProtobuf("\(error)") }
        var size = headBytes.count + tailBytes.count
        for m in encodedMessages { size += fieldSize(m.count) }
        guard size <= maxSize else { throw .rpcTooLarge(size: size, limit: maxSize) }
        var pieces: [[UInt8]] = []
        var current = [UInt8]()
        current.reserveCapacity(Varint.encodedLength(UInt64(size)) + headBytes.count + 16)
        Varint.append(UInt64(size), to: &current)
        current.append(contentsOf: headBytes)
        for m in encodedMessages {
            current.append(publishTag)
            Varint.append(UInt64(m.count), to: &current)
            if m.count < sharedPieceMinimum {
                current.append(contentsOf: m)
            } else {
                pieces.append(current)
                pieces.append(m)
                current = []
            }
        }
        current.append(contentsOf: tailBytes)
        if !current.isEmpty { pieces.append(current) }
        return pieces
    }

    /// Messages below this size are copied into the frame (yamux copies payloads under 1 KiB
    /// next to their header anyway).
    static let sharedPieceMinimum = 1024

    /// The protobuf encoding of one message, as it appears inside `RPC.publish`.
    public static func encodeMessage(_ message: PBMessage) throws(RPCFramingError) -> [UInt8] {
        do { return try message.serializedBytes() } catch { throw .invalidProtobuf("\(error)") }
    }

    /// `RPC.publish`: field 2, length-delimited.
    static let publishTag: UInt8 = 2 << 3 | 2

    /// Decodes one frame body (without its length prefix).
    public static func decode(_ body: [UInt8]) throws(RPCFramingError) -> PBRPC {
        do { return try PBRPC(serializedBytes: body) } catch { throw .invalidProtobuf("\(error)") }
    }

    /// Splits `rpc` into RPCs that each encode to at most `limit` bytes (go `fragmentRPC`):
    /// messages and subscriptions are packed greedily, then the control message whole if it
    /// fits, else entry by entry with IHAVE/IWANT/IDONTWANT id lists split as needed. A single
    /// message larger than the limit cannot be split and fails the whole RPC.
    public static func fragment(_ rpc: PBRPC, limit: Int) throws(RPCFramingError) -> [PBRPC] {
        let total = rpc.encodedSize
        if total <= limit { return [rpc] }
        var out: [PBRPC] = []
        var current = PBRPC()
        var currentSize = 0
        // Adds a piece of `pieceSize` encoded bytes (field tag and length included) to the
        // current RPC, starting a new one when it would overflow.
        func room(for pieceSize: Int) {
            if currentSize + pieceSize > limit && currentSize > 0 {
                out.append(current)
                current = PBRPC()
                currentSize = 0
            }
        }
        for m in rpc.publish {
            let s = fieldSize(m.encodedSize)
            guard s <= limit else { throw .rpcTooLarge(size: s, limit: limit) }
            room(for: s)
            current.publish.append(m)
            currentSize += s
        }
        for sub in rpc.subscriptions {
            let s = fieldSize(sub.encodedSize)
            guard s <= limit else { throw .rpcTooLarge(size: s, limit: limit) }
            room(for: s)
            current.subscriptions.append(sub)
            currentSize += s
        }
        if currentSize > 0 { out.append(current) }
        guard rpc.hasControl else { return out }
        let control = rpc.control
        if fieldSize(control.encodedSize) <= limit {
            var r = PBRPC()
            r.control = control
            out.append(r)
            return out
        }
        // Control entries one by one, each wrapped as RPC.control.<field>.
        var pieces: [PBControlMessage] = []
        for g in control.graft { var c = PBControlMessage(); c.graft = [g]; pieces.append(c) }
        for p in control.prune { var c = PBControlMessage(); c.prune = [p]; pieces.append(c) }
        // Room for ids: the limit less the RPC/control/entry framing (tags and lengths, ≤ 2×6 bytes)
        // and the IHAVE topic.
        for ihave in control.ihave {
            let topicBytes = ihave.hasTopicID ? fieldSize(ihave.topicID.utf8.count) : 0
            for ids in splitIDs(ihave.messageIds, budget: limit - 18 - topicBytes) {
                var h = PBControlIHave()
                if ihave.hasTopicID { h.topicID = ihave.topicID }
                h.messageIds = ids
                var c = PBControlMessage(); c.ihave = [h]; pieces.append(c)
            }
        }
        for iwant in control.iwant {
            for ids in splitIDs(iwant.messageIds, budget: limit - 18) {
                var w = PBControlIWant(); w.messageIds = ids
                var c = PBControlMessage(); c.iwant = [w]; pieces.append(c)
            }
        }
        for idw in control.idontwant {
            for ids in splitIDs(idw.messageIds, budget: limit - 18) {
                var d = PBControlIDontWant(); d.messageIds = ids
                var c = PBControlMessage(); c.idontwant = [d]; pieces.append(c)
            }
        }
        var ctl = PBControlMessage()
        var ctlSize = 0
        for piece in pieces {
            let s = piece.encodedSize
            if ctlSize > 0 && fieldSize(ctlSize + s) > limit {
                var r = PBRPC(); r.control = ctl; out.append(r)
                ctl = PBControlMessage()
                ctlSize = 0
            }
            ctl.graft += piece.graft
            ctl.prune += piece.prune
            ctl.ihave += piece.ihave
            ctl.iwant += piece.iwant
            ctl.idontwant += piece.idontwant
            ctlSize += s
        }
        if ctlSize > 0 { var r = PBRPC(); r.control = ctl; out.append(r) }
        return out
    }

    /// Splits ids into lists whose encoded size (each id: tag, length, bytes) fits `budget`;
    /// ids that alone exceed it are left out, as go does.
    private static func splitIDs(_ ids: [Data], budget: Int) -> [[Data]] {
        var out: [[Data]] = []
        var bucket: [Data] = []
        var size = 0
        for id in ids {
            let s = fieldSize(id.count)
            guard s <= budget else { continue }
            if size + s > budget && !bucket.isEmpty {
                out.append(bucket)
                bucket = []
                size = 0
            }
            bucket.append(id)
            size += s
        }
        if !bucket.isEmpty { out.append(bucket) }
        return out
    }

    /// Encoded size of a length-delimited field with a one-byte tag (field numbers < 16).
    @inline(__always)
    static func fieldSize(_ length: Int) -> Int { 1 + Varint.encodedLength(UInt64(length)) + length }
}

/// A streaming frame decoder: feed it bytes as they arrive, take complete RPCs out. A length
/// prefix over the limit is an error at once (the host resets the stream), so at most one frame
/// plus one read is ever buffered.
public struct RPCFrameDecoder: Sendable {
    public let maxFrameSize: Int
    private var buffer: [UInt8] = []
    private var offset = 0

    public init(maxFrameSize: Int) {
        self.maxFrameSize = maxFrameSize
    }

    /// Bytes received but not yet returned as RPCs.
    public var bufferedByteCount: Int { buffer.count - offset }

    public mutating func append<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        // Nothing pending: take the caller's array as it is (a block arrives as one array of
        // whole frames; decoding reads it in place), instead of copying it into ours.
        if offset == buffer.count, let array = bytes as? [UInt8] {
            buffer = array
            offset = 0
            return
        }
        if offset > 0 && offset >= buffer.count / 2 {
            buffer.removeFirst(offset)
            offset = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete RPC, or nil if more bytes are needed.
    public mutating func next() throws(RPCFramingError) -> PBRPC? {
        let available = buffer.count - offset
        guard available > 0 else { return nil }
        let prefix: (value: UInt64, length: Int)?
        do throws(VarintError) {
            // go's binary.Uvarint accepts non-minimal encodings of up to 10 bytes.
            prefix = try Varint.decodePrefix(buffer[offset...], maxBytes: Varint.maxBytes, minimal: false)
        } catch {
            throw .invalidLengthPrefix(error)
        }
        guard let (length, prefixLength) = prefix else { return nil }
        guard length <= UInt64(maxFrameSize) else { throw .frameTooLarge(length: length, limit: maxFrameSize) }
        let bodyLength = Int(length)
        guard available - prefixLength >= bodyLength else { return nil }
        let start = offset + prefixLength
        offset = start + bodyLength
        // Decoded in place: swift-protobuf copies every field out of its input (BinaryDecoder
        // `Data(bytes:count:)` for bytes and unknown fields), so a no-copy view of the buffer
        // does not escape, and a 100 KB block is not copied once more into a body array.
        // The view is only read (the pointer is mutable because `Data`'s no-copy initialiser wants one).
        let rpc: Result<PBRPC, RPCFramingError> = buffer.withUnsafeBytes { raw in
            guard bodyLength > 0, let base = raw.baseAddress else { return .success(PBRPC()) }
            let view = Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: base + start), count: bodyLength, deallocator: .none)
            do { return .success(try PBRPC(serializedBytes: view)) } catch { return .failure(.invalidProtobuf("\(error)")) }
        }
        if offset == buffer.count {
            buffer = []  // may be the caller's array: drop the reference rather than clear it
            offset = 0
        }
        return try rpc.get()
    }
}

// MARK: - Encoded sizes (exact; used to keep batched RPCs under the frame limit)

extension PBRPC {
    /// The protobuf-encoded size in bytes.
    public var encodedSize: Int {
        var n = unknownFields.data.count
        for s in subscriptions { n += RPCFraming.fieldSize(s.encodedSize) }
        for m in publish { n += RPCFraming.fieldSize(m.encodedSize) }
        if hasControl { n += RPCFraming.fieldSize(control.encodedSize) }
        return n
    }

    /// An RPC carrying one message.
    public init(message: PBMessage) {
        self.init()
        publish = [message]
    }

    /// Whether the RPC carries nothing.
    public var isEmpty: Bool {
        subscriptions.isEmpty && publish.isEmpty && (!hasControl || control.isEmpty)
    }
}

extension PBRPC.SubOpts {
    public var encodedSize: Int {
        var n = unknownFields.data.count
        if hasSubscribe { n += 2 }
        if hasTopicid { n += RPCFraming.fieldSize(topicid.utf8.count) }
        return n
    }

    public init(topic: String, subscribe: Bool) {
        self.init()
        self.topicid = topic
        self.subscribe = subscribe
    }
}

extension PBMessage {
    public var encodedSize: Int {
        var n = unknownFields.data.count
        if hasFrom { n += RPCFraming.fieldSize(from.count) }
        if hasData { n += RPCFraming.fieldSize(data.count) }
        if hasSeqno { n += RPCFraming.fieldSize(seqno.count) }
        if hasTopic { n += RPCFraming.fieldSize(topic.utf8.count) }
        if hasSignature { n += RPCFraming.fieldSize(signature.count) }
        if hasKey { n += RPCFraming.fieldSize(key.count) }
        return n
    }
}

extension PBControlMessage {
    public var encodedSize: Int {
        var n = unknownFields.data.count
        for h in ihave {
            var s = h.unknownFields.data.count
            if h.hasTopicID { s += RPCFraming.fieldSize(h.topicID.utf8.count) }
            for id in h.messageIds { s += RPCFraming.fieldSize(id.count) }
            n += RPCFraming.fieldSize(s)
        }
        for w in iwant {
            var s = w.unknownFields.data.count
            for id in w.messageIds { s += RPCFraming.fieldSize(id.count) }
            n += RPCFraming.fieldSize(s)
        }
        for g in graft {
            var s = g.unknownFields.data.count
            if g.hasTopicID { s += RPCFraming.fieldSize(g.topicID.utf8.count) }
            n += RPCFraming.fieldSize(s)
        }
        for p in prune {
            var s = p.unknownFields.data.count
            if p.hasTopicID { s += RPCFraming.fieldSize(p.topicID.utf8.count) }
            for info in p.peers {
                var i = info.unknownFields.data.count
                if info.hasPeerID { i += RPCFraming.fieldSize(info.peerID.count) }
                if info.hasSignedPeerRecord { i += RPCFraming.fieldSize(info.signedPeerRecord.count) }
                s += RPCFraming.fieldSize(i)
            }
            if p.hasBackoff { s += 1 + Varint.encodedLength(p.backoff) }
            n += RPCFraming.fieldSize(s)
        }
        for d in idontwant {
            var s = d.unknownFields.data.count
            for id in d.messageIds { s += RPCFraming.fieldSize(id.count) }
            n += RPCFraming.fieldSize(s)
        }
        return n
    }

    public var isEmpty: Bool {
        ihave.isEmpty && iwant.isEmpty && graft.isEmpty && prune.isEmpty && idontwant.isEmpty
    }
}
