/// A sans-IO yamux session (libp2p/specs yamux/README.md, hashicorp/yamux spec.md), behaving as
/// go-yamux `session.go`/`stream.go` do: the client opens odd stream ids, the server even ones;
/// a new stream's SYN goes out at once on a window update; an inbound stream's ACK goes out on
/// its first window update; data respects the peer's window (256 KiB initially) and receive
/// windows are replenished, and auto-tuned up to `maxStreamWindow`, as the application consumes.
///
/// Inputs: `receive(_:now:)` with bytes from the peer, local commands (`openStream`, `write`,
/// `closeWrite`, `reset`, `consumed`, `ping`, `goAway`, `close`). Outputs: `takeOutbound()` (bytes
/// to send) and events (returned by `receive`, otherwise collected with `takeEvents()`).
/// Written data is never copied: the stream queues and the output hold slices of the caller's
/// arrays, and `takeOutboundSegments()` hands them out next to the frame headers, for a
/// gathering encryptor (only payloads under `copyBelow` bytes are joined to the headers).
/// Time is the caller's monotonic clock, as a `Duration` since any fixed origin.
///
/// Peer misbehaviour (bad version or type, window overrun, frames for streams never opened,
/// duplicate SYN, wrong-parity SYN) sends GoAway(protocol error) and ends the session with
/// `.sessionClosed(error)`. Frames for streams that were opened and have since closed are
/// discarded, as go-yamux does.
public struct YamuxSession: Sendable {
    public enum Role: Sendable, Equatable { case client, server }

    private struct PendingPayload {
        let id: UInt32
        var remaining: Int
        let deliver: Bool
        let finAfter: Bool
    }

    public let role: Role
    public let config: YamuxConfig

    private var streams: [UInt32: YamuxStream] = [:]
    private var nextStreamID: UInt32
    private var highestRemoteID: UInt32 = 0
    private var inboundCount = 0
    private var outboundCount = 0
    private var unackedInbound = 0
    private var unackedOutbound = 0

    /// Output so far: closed segments, then `outboundTail` (headers and small payloads being joined).
    private var outbound: [ArraySlice<UInt8>] = []
    private var outboundTail: [UInt8] = []
    private var outboundBytes = 0
    private var events: [YamuxEvent] = []
    /// Round-robin list of streams with data (or a FIN) to send.
    private var ready: [UInt32] = []
    private var readyHead = 0

    private var headerBuffer: [UInt8] = []
    private var payload: PendingPayload?

    private var nextPingID: UInt32 = 0
    private var activePing: (id: UInt32, sentAt: Duration)?
    private var pendingPongs = 0

    /// Last measured round-trip time (from `ping`), used by window auto-tuning.
    public private(set) var roundTripTime: Duration?
    /// We sent GoAway: inbound SYNs are refused with RST.
    public private(set) var isLocalGoingAway = false
    /// The peer sent GoAway(normal): `openStream` fails, existing streams continue.
    public private(set) var isRemoteGoingAway = false
    public private(set) var isClosed = false

    /// Outbound bytes that `write` may frame directly, skipping the stream queue.
    private static let directWriteLimit = 1 << 20
    /// Payloads shorter than this are copied next to their header rather than referenced.
    static let copyBelow = 1024

    public init(role: Role, config: YamuxConfig = YamuxConfig()) {
        self.role = role
        self.config = config
        nextStreamID = role == .client ? 1 : 2
        headerBuffer.reserveCapacity(YamuxFrameHeader.size)
    }

    // MARK: - Inspection

    public var streamCount: Int { streams.count }
    public func isOpen(_ id: YamuxStreamID) -> Bool { streams[id.rawValue] != nil }
    /// Bytes the peer currently lets us send on `id`.
    public func sendWindow(_ id: YamuxStreamID) -> Int? { streams[id.rawValue].map { Int($0.sendWindow) } }
    /// Bytes accepted by `write` and not yet framed.
    public func queuedBytes(_ id: YamuxStreamID) -> Int? { streams[id.rawValue]?.queue.count }
    /// Current receive window target of `id` (grows with auto-tuning).
    public func receiveWindow(_ id: YamuxStreamID) -> Int? { streams[id.rawValue].map { Int($0.recvWindow) } }
    /// When our unanswered ping was sent, for keepalive timeouts.
    public var pingOutstandingSince: Duration? { activePing?.sentAt }
    /// Whether `takeOutbound()` may return bytes.
    public var hasOutbound: Bool { outboundBytes > 0 || (!isClosed && readyHead < ready.count) }

    // MARK: - Output

    /// Bytes to send to the peer. Queued stream data is framed (round-robin, one frame per stream
    /// per turn) until about `limit` bytes are collected; call again when the socket can take more.
    public mutating func takeOutbound(limit: Int = 1 << 20) -> [UInt8] {
        let segments = takeOutboundSegments(limit: limit)
        var out: [UInt8] = []
        out.reserveCapacity(segments.reduce(0) { $0 + $1.count })
        for segment in segments { out.append(contentsOf: segment) }
        return out
    }

    /// Like `takeOutbound(limit:)`, as the segments to send in order (their concatenation), without
    /// joining them: slices of the arrays given to `write` and arrays of headers between them.
    public mutating func takeOutboundSegments(limit: Int = 1 << 20) -> [ArraySlice<UInt8>] {
        if !isClosed { pump(limit: limit) }
        pendingPongs = 0
        closeOutboundTail()
        let out = outbound
        outbound = []
        outboundBytes = 0
        return out
    }

    private mutating func closeOutboundTail() {
        guard !outboundTail.isEmpty else { return }
        outbound.append(outboundTail[...])
        outboundTail = []
    }

    /// Appends a frame's payload: referenced, or joined to the header when small.
    private mutating func appendPayload(_ bytes: ArraySlice<UInt8>) {
        guard !bytes.isEmpty else { return }
        outboundBytes += bytes.count
        if bytes.count < Self.copyBelow {
            outboundTail.append(contentsOf: bytes)
        } else {
            closeOutboundTail()
            outbound.append(bytes)
        }
    }

    /// Events produced outside `receive` (`.writable` after `takeOutbound`, `.sessionClosed`
    /// after `close`).
    public mutating func takeEvents() -> [YamuxEvent] {
        let out = events
        events = []
        return out
    }

    private mutating func send(_ type: YamuxFrameHeader.FrameType, _ flags: YamuxFrameHeader.Flags, _ id: UInt32, _ length: UInt32) {
        if outboundTail.capacity == 0 { outboundTail.reserveCapacity(256) }
        YamuxFrameHeader(type: type, flags: flags, streamID: id, length: length).append(to: &outboundTail)
        outboundBytes += YamuxFrameHeader.size
    }

    // MARK: - Local commands

    /// Opens a stream: its SYN goes out now on a window update (go-yamux `OpenStream`).
    public mutating func openStream(now: Duration) throws(YamuxError) -> YamuxStreamID {
        guard !isClosed else { throw .sessionClosed }
        guard !isRemoteGoingAway else { throw .remoteGoingAway }
        guard outboundCount < config.maxOutboundStreams else { throw .tooManyStreams(config.maxOutboundStreams) }
        guard unackedOutbound < config.acceptBacklog else { throw .tooManyUnacknowledgedStreams(config.acceptBacklog) }
        let id = nextStreamID
        guard id < UInt32.max - 1 else { throw .streamsExhausted }
        nextStreamID = id + 2
        var stream = YamuxStream(phase: .synSent, recvWindow: config.initialStreamWindow, now: now)
        let (_, delta) = stream.growReceiveWindow(to: stream.recvWindow, force: true)
        streams[id] = stream
        outboundCount += 1
        unackedOutbound += 1
        send(.windowUpdate, .syn, id, delta)
        return YamuxStreamID(id)
    }

    /// Queues bytes for `id` and frames what the send window allows. Returns how many bytes were
    /// accepted: fewer than given when the stream's send queue is full, in which case
    /// `.writable(id)` follows once it has drained.
    @discardableResult
    public mutating func write(_ id: YamuxStreamID, _ bytes: [UInt8]) throws(YamuxError) -> Int {
        try write(id, bytes[...])
    }

    /// Like `write(_:_: [UInt8])`, keeping a reference to (a slice of) `bytes` rather than a copy.
    @discardableResult
    public mutating func write(_ id: YamuxStreamID, _ bytes: ArraySlice<UInt8>) throws(YamuxError) -> Int {
        guard !isClosed else { throw .sessionClosed }
        let sid = id.rawValue
        guard let index = streams.index(forKey: sid) else { throw .streamNotFound(id) }
        guard !streams.values[index].writeClosed, !streams.values[index].finPending else { throw .writeClosed(id) }
        acknowledgeIfNeeded(sid, now: nil)
        var offset = bytes.startIndex
        // Fast path: nothing queued, so frame straight from the caller's bytes.
        while offset < bytes.endIndex, streams.values[index].queue.isEmpty, streams.values[index].sendWindow > 0,
              outboundBytes < Self.directWriteLimit {
            let n = min(bytes.endIndex - offset, Int(streams.values[index].sendWindow), config.maxFrameData)
            send(.data, [], sid, UInt32(n))
            appendPayload(bytes[offset..<(offset + n)])
            streams.values[index].sendWindow -= UInt32(n)
            offset += n
        }
        let room = max(0, config.maxSendQueue - streams.values[index].queue.count)
        let n = min(room, bytes.endIndex - offset)
        if n > 0 {
            streams.values[index].queue.append(bytes[offset..<(offset + n)])
            schedule(sid)
        }
        offset += n
        let accepted = offset - bytes.startIndex
        if offset < bytes.endIndex { streams.values[index].writerBlocked = true }
        return accepted
    }

    /// Half-closes `id` (FIN) once its queued data has been sent. Idempotent.
    public mutating func closeWrite(_ id: YamuxStreamID) throws(YamuxError) {
        guard !isClosed else { throw .sessionClosed }
        let sid = id.rawValue
        guard let stream = streams[sid] else { throw .streamNotFound(id) }
        guard !stream.writeClosed, !stream.finPending else { return }
        streams[sid]?.finPending = true
        if stream.queue.isEmpty { sendFin(sid) } else { schedule(sid) }
    }

    /// Resets `id` (RST) and forgets it; queued data is dropped. No event is emitted.
    public mutating func reset(_ id: YamuxStreamID) {
        guard !isClosed, streams[id.rawValue] != nil else { return }
        send(.windowUpdate, .rst, id.rawValue, 0)
        removeStream(id.rawValue)
    }

    /// Raises `id`'s receive window to `window` bytes (capped at `config.maxStreamWindow`; never
    /// lowered) and credits the peer the difference at once. For streams whose application reads
    /// everything as it arrives (gossipsub RPCs of up to 10 MiB): fewer window updates, each a
    /// frame and a wake-up on both sides. Auto-tuning goes on from the new size.
    public mutating func raiseReceiveWindow(_ id: YamuxStreamID, to window: UInt32) {
        let sid = id.rawValue
        let target = min(window, config.maxStreamWindow)
        guard !isClosed, let index = streams.index(forKey: sid), !streams.values[index].readClosed,
              target > streams.values[index].recvWindow else { return }
        streams.values[index].recvWindow = target
        if streams.values[index].phase == .synReceived {
            sendWindowUpdate(sid, now: nil)  // the ACK carries the credit
            return
        }
        let (needed, delta) = streams.values[index].growReceiveWindow(to: target, force: true)
        if needed && delta > 0 { send(.windowUpdate, [], sid, delta) }
    }

    /// Reports that the application has taken `count` bytes of `id`'s data; sends a window update
    /// once half the window is free, growing the window if it was consumed within 4 RTTs.
    public mutating func consumed(_ id: YamuxStreamID, _ count: Int, now: Duration) {
        let sid = id.rawValue
        guard !isClosed, let stream = streams[sid] else { return }
        streams[sid]?.buffered = stream.buffered - UInt32(clamping: min(max(count, 0), Int(stream.buffered)))
        guard !stream.readClosed else { return }
        sendWindowUpdate(sid, now: now)
    }

    /// Sends a ping (keepalive / RTT probe) unless one is already outstanding; returns its id.
    /// The answer arrives as `.pong(id:rtt:)` and updates `roundTripTime`.
    @discardableResult
    public mutating func ping(now: Duration) -> UInt32 {
        if let active = activePing { return active.id }
        let id = nextPingID
        nextPingID &+= 1
        activePing = (id, now)
        if !isClosed { send(.ping, .syn, 0, id) }
        return id
    }

    /// Sends GoAway. With `.normal` the session keeps running but refuses new inbound streams;
    /// with an error code it also ends the session.
    public mutating func goAway(_ code: YamuxGoAwayCode = .normal) {
        guard !isClosed else { return }
        send(.goAway, [], 0, code.rawValue)
        isLocalGoingAway = true
        if code != .normal { terminate(nil) }
    }

    /// Ends the session: sends GoAway(normal) if not sent yet, drops every stream, and reports
    /// `.sessionClosed(nil)` through `takeEvents()`. The GoAway stays in `takeOutbound()`.
    public mutating func close() {
        guard !isClosed else { return }
        if !isLocalGoingAway { send(.goAway, [], 0, YamuxGoAwayCode.normal.rawValue) }
        isLocalGoingAway = true
        terminate(nil)
    }

    // MARK: - Stream bookkeeping

    private func isRemoteParity(_ id: UInt32) -> Bool { (id % 2 == 0) == (role == .client) }

    /// Whether `id` was ever opened (by us or the peer), so late frames for it are tolerated.
    private func wasOpened(_ id: UInt32) -> Bool {
        isRemoteParity(id) ? id <= highestRemoteID : id < nextStreamID
    }

    private mutating func schedule(_ id: UInt32) {
        guard let index = streams.index(forKey: id), !streams.values[index].scheduled,
              streams.values[index].hasSendable else { return }
        streams.values[index].scheduled = true
        ready.append(id)
    }

    private mutating func removeStream(_ id: UInt32) {
        guard let stream = streams.removeValue(forKey: id) else { return }
        switch stream.phase {
        case .synSent: unackedOutbound -= 1
        case .synReceived: unackedInbound -= 1
        case .established: break
        }
        if isRemoteParity(id) { inboundCount -= 1 } else { outboundCount -= 1 }
    }

    private mutating func terminate(_ error: YamuxError?) {
        isClosed = true
        isLocalGoingAway = true
        payload = nil
        for id in Array(streams.keys) { removeStream(id) }
        ready = []
        readyHead = 0
        events.append(.sessionClosed(error))
    }

    /// A protocol violation by the peer: GoAway(protocol error), then the session ends.
    private mutating func fail(_ error: YamuxError) {
        guard !isClosed else { return }
        send(.goAway, [], 0, YamuxGoAwayCode.protocolError.rawValue)
        terminate(error)
    }

    /// Sends the ACK of an inbound stream on its first window update (go-yamux `sendFlags`).
    private mutating func acknowledgeIfNeeded(_ id: UInt32, now: Duration?) {
        guard streams[id]?.phase == .synReceived else { return }
        sendWindowUpdate(id, now: now)
    }

    /// go-yamux `sendWindowUpdate`: credit the peer when half the window is free (always when an
    /// ACK is due), doubling the window when it was used up within four round trips.
    private mutating func sendWindowUpdate(_ id: UInt32, now: Duration?) {
        guard let index = streams.index(forKey: id) else { return }
        var flags: YamuxFrameHeader.Flags = []
        if streams.values[index].phase == .synReceived {
            flags = .ack
            streams.values[index].phase = .established
            unackedInbound -= 1
        }
        let window = streams.values[index].recvWindow
        var (needed, delta) = streams.values[index].growReceiveWindow(to: window, force: !flags.isEmpty)
        guard needed else { return }
        if config.windowAutoTuning, flags.isEmpty, let now, let rtt = roundTripTime, rtt > .zero,
           now - streams.values[index].epochStart < rtt * 4 {
            let doubled = window > UInt32.max / 2 ? UInt32.max : window * 2
            let grown = min(doubled, config.maxStreamWindow)
            if grown > window {
                streams.values[index].recvWindow = grown
                delta += streams.values[index].growReceiveWindow(to: grown, force: true).delta
            }
        }
        if let now { streams.values[index].epochStart = now }
        send(.windowUpdate, flags, id, delta)
    }

    private mutating func sendFin(_ id: UInt32) {
        acknowledgeIfNeeded(id, now: nil)
        guard let index = streams.index(forKey: id) else { return }
        streams.values[index].finPending = false
        streams.values[index].writeClosed = true
        send(.windowUpdate, .fin, id, 0)
        if streams.values[index].isFinished { removeStream(id) }
    }

    /// Frames queued data, one frame per ready stream per turn, until `limit` bytes are out.
    private mutating func pump(limit: Int) {
        while outboundBytes < limit && readyHead < ready.count {
            let id = ready[readyHead]
            readyHead += 1
            guard let index = streams.index(forKey: id), streams.values[index].scheduled else { continue }
            streams.values[index].scheduled = false
            if !streams.values[index].queue.isEmpty && streams.values[index].sendWindow > 0 {
                let n = min(streams.values[index].queue.count, Int(streams.values[index].sendWindow), config.maxFrameData)
                send(.data, [], id, UInt32(n))
                for part in streams.values[index].queue.take(n) { appendPayload(part) }
                streams.values[index].sendWindow -= UInt32(n)
            }
            if streams.values[index].writerBlocked && streams.values[index].queue.count <= config.maxSendQueue / 2 {
                streams.values[index].writerBlocked = false
                events.append(.writable(YamuxStreamID(id)))
            }
            if streams.values[index].finPending && streams.values[index].queue.isEmpty {
                sendFin(id)
            } else {
                schedule(id)
            }
        }
        if readyHead == ready.count {
            ready.removeAll(keepingCapacity: true)
            readyHead = 0
        } else if readyHead >= 1024 && readyHead * 2 >= ready.count {
            ready.removeSubrange(0..<readyHead)
            readyHead = 0
        }
    }

    // MARK: - Input

    /// Feeds bytes received from the peer; returns the resulting events (and any pending ones).
    public mutating func receive(_ bytes: [UInt8], now: Duration) -> [YamuxEvent] {
        bytes.withUnsafeBytes { receive($0, now: now) }
    }

    public mutating func receive(_ bytes: UnsafeRawBufferPointer, now: Duration) -> [YamuxEvent] {
        var i = 0
        while i < bytes.count && !isClosed {
            if payload != nil {
                i += takePayload(UnsafeRawBufferPointer(rebasing: bytes[i...]))
                continue
            }
            let header: YamuxFrameHeader
            do {
                if headerBuffer.isEmpty && bytes.count - i >= YamuxFrameHeader.size {
                    header = try YamuxFrameHeader.decode(UnsafeRawBufferPointer(rebasing: bytes[i..<(i + YamuxFrameHeader.size)]))
                    i += YamuxFrameHeader.size
                } else {
                    let take = min(YamuxFrameHeader.size - headerBuffer.count, bytes.count - i)
                    headerBuffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[i..<(i + take)]))
                    i += take
                    guard headerBuffer.count == YamuxFrameHeader.size else { break }
                    header = try YamuxFrameHeader.decode(headerBuffer)
                    headerBuffer.removeAll(keepingCapacity: true)
                }
            } catch {
                fail(error)
                break
            }
            handle(header, now: now)
        }
        return takeEvents()
    }

    /// How many of the next bytes from the peer are data for an open stream (the rest of a data
    /// frame's payload), which `receivePayload` may take as arrays built by the caller; nil when
    /// the next bytes are a header or payload that is discarded.
    public var deliverablePayload: Int? {
        guard !isClosed, let p = payload, p.deliver, streams[p.id] != nil else { return nil }
        return p.remaining
    }

    /// How many of the next bytes from the peer belong to the current header or payload: feeding
    /// `receive` no more than this many ends on a boundary where `deliverablePayload` may change.
    public var bytesToNextBoundary: Int {
        if isClosed { return Int.max }
        if let p = payload { return p.remaining }
        return YamuxFrameHeader.size - headerBuffer.count
    }

    /// Feeds bytes from the peer that `deliverablePayload` announced (at most that many): they
    /// become the `.data` event's array as they are, without a copy. Anything else is fed to
    /// `receive`, as if given there.
    public mutating func receivePayload(_ bytes: [UInt8], now: Duration) -> [YamuxEvent] {
        guard let run = deliverablePayload, bytes.count <= run else {
            return bytes.withUnsafeBytes { receive($0, now: now) }
        }
        _ = advancePayload(bytes.count) { bytes }
        return takeEvents()
    }

    private mutating func takePayload(_ bytes: UnsafeRawBufferPointer) -> Int {
        guard let p = payload else { return 0 }
        let n = min(p.remaining, bytes.count)
        return advancePayload(n) { Array(UnsafeRawBufferPointer(rebasing: bytes[0..<n])) }
    }

    /// Takes `n` payload bytes of the current frame; `data` builds them when they are delivered.
    private mutating func advancePayload(_ n: Int, _ data: () -> [UInt8]) -> Int {
        guard var p = payload else { return 0 }
        if p.deliver && n > 0 && streams[p.id] != nil {
            events.append(.data(YamuxStreamID(p.id), data()))
        }
        p.remaining -= n
        if p.remaining == 0 {
            payload = nil
            if p.finAfter { remoteFin(p.id) }
        } else {
            payload = p
        }
        return n
    }

    private mutating func handle(_ h: YamuxFrameHeader, now: Duration) {
        switch h.type {
        case .ping: handlePing(h, now: now)
        case .goAway: handleGoAway(h)
        case .data, .windowUpdate: handleStreamFrame(h, now: now)
        }
    }

    private mutating func handlePing(_ h: YamuxFrameHeader, now: Duration) {
        if h.flags.contains(.syn) {
            // go-yamux drops replies beyond its pong backlog rather than queueing without bound.
            guard pendingPongs < config.pingBacklog else { return }
            pendingPongs += 1
            send(.ping, .ack, 0, h.length)
        } else if h.flags.contains(.ack), let active = activePing, active.id == h.length {
            activePing = nil
            let rtt = now - active.sentAt
            roundTripTime = rtt
            events.append(.pong(id: active.id, rtt: rtt))
        }
    }

    private mutating func handleGoAway(_ h: YamuxFrameHeader) {
        let code = YamuxGoAwayCode(rawValue: h.length)
        events.append(.goAway(code))
        if code == .normal {
            isRemoteGoingAway = true
        } else {
            terminate(.remoteGoAway(code))
        }
    }

    private mutating func handleStreamFrame(_ h: YamuxFrameHeader, now: Duration) {
        let id = h.streamID
        guard id != 0 else { return fail(.invalidStreamID(0)) }
        if h.flags.contains(.syn) {
            guard isRemoteParity(id) else { return fail(.invalidStreamID(id)) }
            guard streams[id] == nil else { return fail(.duplicateStream(id)) }
            highestRemoteID = max(highestRemoteID, id)
            if isLocalGoingAway || inboundCount >= config.maxInboundStreams || unackedInbound >= config.acceptBacklog {
                send(.windowUpdate, .rst, id, 0)
            } else {
                streams[id] = YamuxStream(phase: .synReceived, recvWindow: config.initialStreamWindow, now: now)
                inboundCount += 1
                unackedInbound += 1
                events.append(.inboundStream(YamuxStreamID(id)))
            }
        }
        guard let index = streams.index(forKey: id) else {
            guard wasOpened(id) else { return fail(.unknownStream(id)) }
            // A stream we reset or already closed: discard what is still in flight (at most the
            // largest window we ever grant).
            if h.type == .data && h.length > 0 {
                guard h.length <= config.maxStreamWindow else {
                    return fail(.windowExceeded(stream: id, length: h.length, window: config.maxStreamWindow))
                }
                payload = PendingPayload(id: id, remaining: Int(h.length), deliver: false, finAfter: false)
            }
            return
        }
        if h.flags.contains(.ack) && streams.values[index].phase == .synSent {
            streams.values[index].phase = .established
            unackedOutbound -= 1
        }
        if h.flags.contains(.rst) {
            removeStream(id)
            events.append(.reset(YamuxStreamID(id)))
            if h.type == .data && h.length > 0 {
                payload = PendingPayload(id: id, remaining: Int(h.length), deliver: false, finAfter: false)
            }
            return
        }
        if h.type == .windowUpdate {
            let grown = UInt64(streams.values[index].sendWindow) + UInt64(h.length)
            streams.values[index].sendWindow = UInt32(clamping: grown)
            if h.length > 0 { schedule(id) }
            if h.flags.contains(.fin) { remoteFin(id) }
            return
        }
        guard h.length > 0 else {
            if h.flags.contains(.fin) { remoteFin(id) }
            return
        }
        if streams.values[index].readClosed {
            // Data after the peer's FIN: reset the stream and drop the data.
            send(.windowUpdate, .rst, id, 0)
            removeStream(id)
            events.append(.reset(YamuxStreamID(id)))
            payload = PendingPayload(id: id, remaining: Int(h.length), deliver: false, finAfter: false)
            return
        }
        let available = streams.values[index].recvAvailable
        guard h.length <= available else {
            return fail(.windowExceeded(stream: id, length: h.length, window: available))
        }
        streams.values[index].recvAvailable = available - h.length
        streams.values[index].buffered += h.length
        payload = PendingPayload(id: id, remaining: Int(h.length), deliver: true, finAfter: h.flags.contains(.fin))
    }

    private mutating func remoteFin(_ id: UInt32) {
        guard let index = streams.index(forKey: id), !streams.values[index].readClosed else { return }
        streams.values[index].readClosed = true
        events.append(.remoteClosedWrite(YamuxStreamID(id)))
        if streams.values[index].isFinished { removeStream(id) }
    }
}
