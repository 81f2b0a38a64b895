import Dispatch
import Foundation

/// What a connection needs from its host. Called on the connection's queue; implementations
/// must be thread-safe (the host keeps the tables these read behind a lock).
protocol ConnectionDelegate: AnyObject, Sendable {
    func connectionEstablished(_ connection: Connection)
    func connectionClosed(_ connection: Connection, error: HostError?)
    /// The handler for an inbound stream's protocol, if any.
    func streamHandler(for protocolID: String) -> StreamHandler?
    /// The connection gater's `InterceptSecured`: nil to allow, else the reason for refusing.
    func interceptSecured(_ connection: Connection) -> String?
}

public typealias StreamHandler = @Sendable (P2PStream) -> Void

/// One libp2p connection: TCP → multistream `/noise` → Noise XX → multistream `/yamux/1.0.0`
/// inside the secure channel → yamux, then per-stream multistream negotiation.
///
/// All state is confined to `queue` (the TCP connection's serial queue); that confinement is
/// what makes `@unchecked Sendable` safe. The sans-IO cores (`MultistreamDialer/Listener`,
/// `NoiseHandshake`, `NoiseSession`, `YamuxSession`) do the protocol work; this class only moves
/// bytes between them and the socket, arms timers and tracks streams.
final class Connection: @unchecked Sendable {
    static let securityProtocols = [NoiseHandshake.protocolID]
    static let muxerProtocols = ["/yamux/1.0.0"]

    enum Phase: Equatable { case security, handshake, muxer, muxed, closed }

    let tcp: TCPConnection
    let queue: DispatchQueue
    let direction: Direction
    let config: HostConfig
    let expectedPeer: PeerID?
    let openedAt = DispatchTime.now().uptimeNanoseconds
    weak var delegate: (any ConnectionDelegate)?

    private(set) var phase: Phase = .security
    private(set) var remotePeer: PeerID?
    private(set) var remotePublicKey: PublicKey?
    private(set) var closeError: HostError?
    private(set) var roundTripTime: Duration?

    private var msDialer: MultistreamDialer?
    private var msListener: MultistreamListener?
    private var handshake: NoiseHandshake?
    /// The Noise session, one copy per direction: `noise` encrypts, `noiseIn` decrypts (each copy
    /// advances only its own direction's cipher), so that decrypting in place can deliver frames
    /// to code that sends.
    private var noise: NoiseSession?
    private var noiseIn: NoiseSession?
    private var yamux: YamuxSession
    private var streams: [UInt32: P2PStream] = [:]
    private var negotiations: [UInt32: StreamNegotiation] = [:]
    private let upgradeTimer: QueueTimer
    private let keepaliveTimer: QueueTimer
    private var flushing = false

    private enum StreamNegotiation {
        case inbound(MultistreamListener)
        case outbound(MultistreamDialer, (Result<P2PStream, HostError>) -> Void, QueueTimer)
    }

    init(tcp: TCPConnection, direction: Direction, config: HostConfig, expectedPeer: PeerID?) {
        self.tcp = tcp
        self.queue = tcp.queue
        self.direction = direction
        self.config = config
        self.expectedPeer = expectedPeer
        self.yamux = YamuxSession(role: direction == .outbound ? .client : .server, config: config.yamux)
        self.upgradeTimer = QueueTimer(queue: tcp.queue)
        self.keepaliveTimer = QueueTimer(queue: tcp.queue)
    }

    var remoteAddress: SocketAddress { tcp.remoteAddress }
    var localAddress: SocketAddress { tcp.localAddress }
    var streamCount: Int { streams.count }

    private var now: Duration { .nanoseconds(Int64(clamping: DispatchTime.now().uptimeNanoseconds)) }

    // MARK: Upgrade

    /// Starts the upgrade. Must be called on `queue`.
    func start() {
        // The TCP connection keeps itself (and so these closures) alive until it closes; the
        // host holds this object until then, but weak references keep late callbacks harmless.
        tcp.onReadInPlace = { [weak self] buf in self?.received(buf) ?? buf.count }
        tcp.onReadEOF = { [weak self] in
            guard let self else { return }
            self.close(self.phase == .muxed ? nil : .connectionClosed)
        }
        tcp.onWritable = { [weak self] in self?.flush() }
        tcp.onClose = { [weak self] error in self?.close(error.map { .transport($0) }) }
        upgradeTimer.schedule(after: config.upgradeTimeout) { [weak self] in
            guard let self, self.phase != .muxed else { return }
            self.close(.timedOut("connection upgrade"))
        }
        if direction == .outbound {
            do { msDialer = try MultistreamDialer(protocols: Self.securityProtocols) } catch { close(.negotiation(error)); return }
            writeRaw(msDialer?.takeOutbound() ?? [])
        } else {
            msListener = MultistreamListener(supported: Set(Self.securityProtocols))
            writeRaw(msListener?.takeOutbound() ?? [])
        }
        tcp.start()
    }

    private func writeRaw(_ bytes: [UInt8]) {
        guard !bytes.isEmpty, phase != .closed else { return }
        do { try tcp.write(bytes) } catch { close(.transport(error)) }
    }

    private func writeSecure(_ plaintext: [UInt8]) {
        writeSecure([plaintext[...]])
    }

    /// Seals `segments` (their concatenation) into Noise frames written straight into the
    /// socket's write buffer, each frame gathered from the segments it spans (yamux headers and
    /// slices of the application's arrays): no joined plaintext, no ciphertext array. Each frame
    /// goes to the socket as soon as it is sealed when the socket keeps up, so the peer opens one
    /// frame while we seal the next, and the ring space just sent is reused while still in cache:
    /// 1.06–1.27 core-s/GB against 1.39–1.53 when two frames were sent together (interleaved
    /// runs, 256 MiB stream, `p2pnode-bench transport stream`).
    private func writeSecure(_ segments: [ArraySlice<UInt8>]) {
        guard phase != .closed, noise != nil else { return }
        var pieces: [ArraySlice<UInt8>] = []
        var segment = 0
        var offset = segments.first?.startIndex ?? 0
        while segment < segments.count, phase != .closed {
            pieces.removeAll(keepingCapacity: true)
            var count = 0
            while segment < segments.count, count < NoiseSession.maxPlaintextPerFrame {
                let s = segments[segment]
                let take = min(s.endIndex - offset, NoiseSession.maxPlaintextPerFrame - count)
                if take > 0 {
                    pieces.append(s[offset..<(offset + take)])
                    count += take
                    offset += take
                }
                if offset == s.endIndex {
                    segment += 1
                    offset = segment < segments.count ? segments[segment].startIndex : 0
                }
            }
            guard count > 0 else { break }
            let error = withUnsafeRegions(pieces[...]) { regions in
                sealFrame(regions, plaintextCount: count)
            }
            if let error {
                close(error)
                return
            }
        }
    }

    /// Seals one frame of `regions` into the socket's write buffer; the error that must close the
    /// connection, if any.
    private func sealFrame(_ regions: [UnsafeRawBufferPointer], plaintextCount: Int) -> HostError? {
        var sealError: NoiseError?
        do throws(TransportError) {
            try tcp.write(capacity: NoiseSession.frameSize(plaintextCount: plaintextCount)) { out in
                do throws(NoiseError) {
                    return try noise?.sealFrame(gathering: regions, into: out) ?? 0
                } catch {
                    sealError = error
                    return 0
                }
            }
        } catch {
            return .transport(error)
        }
        return sealError.map { .security($0) }
    }

    /// Bytes from the socket, in its read buffer; returns how many were consumed. Once secured,
    /// Noise frames are opened in the read buffer: yamux headers are decrypted in place, and
    /// stream data straight into the arrays the streams hand to the application (no copy of the
    /// plaintext); the resulting events are acted on only once the frame's tag has verified.
    /// An incomplete frame is left in the buffer for the next read.
    private func received(_ buffer: UnsafeMutableRawBufferPointer) -> Int {
        switch phase {
        case .closed:
            return buffer.count
        case .security, .handshake:
            receivePlain(Array(buffer))
            return buffer.count
        case .muxer, .muxed:
            guard var session = noiseIn else { return buffer.count }
            noiseIn = nil   // held here while decrypting, so that the session is not copied per frame
            defer { if phase != .closed { noiseIn = session } }
            var plain = UnsafeRawBufferPointer(start: nil, count: 0)
            var events: [YamuxEvent] = []
            var fedYamux = false
            // What the frames' events queued (window updates, replies) goes out once per read.
            defer { if fedYamux && phase != .closed { flush() } }
            do {
                return try session.decrypt(inPlace: buffer, frame: { reader in
                    fedYamux = phase == .muxed
                    if fedYamux {
                        events = readMuxed(&reader)
                    } else {
                        plain = reader.next(reader.remaining)
                    }
                }, verified: {
                    if fedYamux {
                        handle(events)
                        events = []
                    } else {
                        receiveSecure(plain)
                    }
                    return phase != .closed
                })
            } catch {
                close(.security(error))
                return buffer.count
            }
        }
    }

    /// Feeds one frame's plaintext to yamux: stream data decrypted straight into the arrays the
    /// `.data` events carry, everything else in place. The events wait for the frame's tag.
    private func readMuxed(_ reader: inout NoiseFrameReader) -> [YamuxEvent] {
        let now = self.now
        var events: [YamuxEvent] = []
        while reader.remaining > 0 {
            if let run = yamux.deliverablePayload {
                let n = min(run, reader.remaining)
                let bytes = [UInt8](unsafeUninitializedCapacity: n) { out, initialized in
                    initialized = reader.next(into: UnsafeMutableRawBufferPointer(out))
                }
                events += yamux.receivePayload(bytes, now: now)
            } else {
                events += yamux.receive(reader.next(min(yamux.bytesToNextBoundary, reader.remaining)), now: now)
            }
        }
        return events
    }

    private func receivePlain(_ bytes: [UInt8]) {
        if phase == .security {
            guard let leftover = negotiate(bytes, reply: writeRaw) else { return }
            phase = .handshake
            handshake = NoiseHandshake(role: direction == .outbound ? .initiator : .responder,
                                       identity: config.identity, expectedRemotePeer: expectedPeer)
            writeRaw(handshake!.takeOutbound())  // safe: just assigned
            if !leftover.isEmpty { receivePlain(leftover) }
            return
        }
        // Noise handshake.
        let result: NoiseHandshakeResult?
        do { result = try handshake!.receive(bytes) } catch { close(.security(error)); return }  // safe: set with .handshake
        writeRaw(handshake?.takeOutbound() ?? [])
        guard let result else { return }
        handshake = nil
        noise = result.session
        noiseIn = result.session
        remotePeer = result.remotePeerID
        remotePublicKey = result.remotePublicKey
        if let reason = delegate?.interceptSecured(self) { close(.gated(reason)); return }
        phase = .muxer
        if direction == .outbound {
            do { msDialer = try MultistreamDialer(protocols: Self.muxerProtocols) } catch { close(.negotiation(error)); return }
            writeSecure(msDialer!.takeOutbound())  // safe: just assigned
        } else {
            msListener = MultistreamListener(supported: Set(Self.muxerProtocols))
            writeSecure(msListener!.takeOutbound())  // safe: just assigned
        }
        if !result.leftover.isEmpty {
            let plain: [UInt8]
            do { plain = try noiseIn!.decrypt(result.leftover) } catch { close(.security(error)); return }  // safe: just assigned
            receiveSecure(plain)
        }
    }

    /// Feeds one connection-level multistream negotiation (security protocol on the raw socket,
    /// muxer inside Noise): the dialer's or listener's, answering through `reply`. Returns the
    /// bytes after the selection once a protocol is agreed, nil while pending or after a failure
    /// (which closes the connection).
    private func negotiate(_ bytes: [UInt8], reply: ([UInt8]) -> Void) -> [UInt8]? {
        let status: MultistreamStatus
        do {
            if var dialer = msDialer {
                status = try dialer.receive(bytes)
                msDialer = dialer
            } else if var listener = msListener {
                status = try listener.receive(bytes)
                reply(listener.takeOutbound())
                msListener = listener
            } else {
                return nil
            }
        } catch {
            close(.negotiation(error))
            return nil
        }
        guard case .selected(_, let leftover) = status else { return nil }
        msDialer = nil
        msListener = nil
        return leftover
    }

    private func receiveSecure(_ plain: [UInt8]) {
        plain.withUnsafeBytes { receiveSecure($0) }
    }

    private func receiveSecure(_ plain: UnsafeRawBufferPointer) {
        guard !plain.isEmpty else { return }
        if phase == .muxer {
            guard let leftover = negotiate(Array(plain), reply: writeSecure) else { return }
            phase = .muxed
            upgradeTimer.cancel()
            startKeepalive()
            yamux.ping(now: now)   // an early RTT lets window auto-tuning start at once (go-yamux measures at start)
            delegate?.connectionEstablished(self)
            if !leftover.isEmpty { receiveSecure(leftover) }
            return
        }
        guard phase == .muxed else { return }
        let events = yamux.receive(plain, now: now)
        handle(events)
        flush()
    }

    // MARK: yamux events

    private func handle(_ events: [YamuxEvent]) {
        for event in events {
            guard phase != .closed else { return }
            switch event {
            case .inboundStream(let id):
                let pending = negotiations.values.reduce(0) { n, s in if case .inbound = s { return n + 1 }; return n }
                if pending >= config.maxNegotiatingStreams { yamux.reset(id); continue }
                let delegate = self.delegate
                var listener = MultistreamListener(matcher: { [weak delegate] p in delegate?.streamHandler(for: p) != nil })
                _ = try? yamux.write(id, listener.takeOutbound())
                negotiations[id.rawValue] = .inbound(listener)
            case .data(let id, let bytes):
                yamux.consumed(id, bytes.count, now: now)
                if let stream = streams[id.rawValue] {
                    stream.receive(bytes)
                } else if negotiations[id.rawValue] != nil {
                    negotiate(id, bytes)
                }
            case .remoteClosedWrite(let id):
                if let stream = streams[id.rawValue] {
                    stream.remoteClosedWrite()
                } else if let n = negotiations.removeValue(forKey: id.rawValue) {
                    fail(n, .connectionClosed)
                    yamux.reset(id)
                }
            case .reset(let id):
                if let stream = streams[id.rawValue] {
                    stream.reset(with: .streamReset)
                } else if let n = negotiations.removeValue(forKey: id.rawValue) {
                    fail(n, .streamReset)
                }
            case .writable(let id):
                streams[id.rawValue]?.writable()
            case .goAway:
                break   // existing streams continue; new opens fail in yamux
            case .pong(_, let rtt):
                roundTripTime = rtt
            case .sessionClosed(let error):
                close(error.map { .muxer($0) })
            }
        }
    }

    private func fail(_ n: StreamNegotiation, _ error: HostError) {
        if case .outbound(_, let completion, let timer) = n {
            timer.cancel()
            completion(.failure(error))
        }
    }

    private func negotiate(_ id: YamuxStreamID, _ bytes: [UInt8]) {
        guard let n = negotiations[id.rawValue], let peer = remotePeer else { return }
        switch n {
        case .inbound(var listener):
            let status: MultistreamStatus
            do { status = try listener.receive(bytes) } catch {
                negotiations[id.rawValue] = nil
                yamux.reset(id)
                return
            }
            _ = try? yamux.write(id, listener.takeOutbound())
            guard case .selected(let proto, let leftover) = status else {
                negotiations[id.rawValue] = .inbound(listener)
                return
            }
            negotiations[id.rawValue] = nil
            guard let handler = delegate?.streamHandler(for: proto) else { yamux.reset(id); return }
            let stream = P2PStream(id: id, direction: .inbound, remotePeer: peer, connection: self, queue: queue)
            stream.protocolID = proto
            streams[id.rawValue] = stream
            handler(stream)
            stream.receive(leftover)
        case .outbound(var dialer, let completion, let timer):
            let status: MultistreamStatus
            do { status = try dialer.receive(bytes) } catch {
                negotiations[id.rawValue] = nil
                timer.cancel()
                yamux.reset(id)
                if case .protocolsExhausted(let p) = error { completion(.failure(.protocolNotSupported(p))) } else { completion(.failure(.negotiation(error))) }
                return
            }
            _ = try? yamux.write(id, dialer.takeOutbound())
            guard case .selected(let proto, let leftover) = status else {
                negotiations[id.rawValue] = .outbound(dialer, completion, timer)
                return
            }
            negotiations[id.rawValue] = nil
            timer.cancel()
            let stream = P2PStream(id: id, direction: .outbound, remotePeer: peer, connection: self, queue: queue)
            stream.protocolID = proto
            streams[id.rawValue] = stream
            completion(.success(stream))
            stream.receive(leftover)
        }
    }

    // MARK: Streams

    /// Opens a stream and negotiates one of `protocols`. Must be called on `queue`; the
    /// completion runs on `queue`.
    func openStream(protocols: [String], completion: @escaping (Result<P2PStream, HostError>) -> Void) {
        guard phase == .muxed else { completion(.failure(.connectionClosed)); return }
        let id: YamuxStreamID
        var dialer: MultistreamDialer
        do {
            id = try yamux.openStream(now: now)
            dialer = try MultistreamDialer(protocols: protocols)
        } catch let e as YamuxError {
            completion(.failure(.muxer(e)))
            return
        } catch let e as MultistreamError {
            completion(.failure(.negotiation(e)))
            return
        } catch {
            completion(.failure(.connectionClosed))
            return
        }
        _ = try? yamux.write(id, dialer.takeOutbound())
        let timer = QueueTimer(queue: queue)
        timer.schedule(after: config.streamNegotiationTimeout) { [weak self] in
            guard let self, let n = self.negotiations.removeValue(forKey: id.rawValue) else { return }
            self.yamux.reset(id)
            self.fail(n, .timedOut("protocol negotiation"))
            self.flush()
        }
        negotiations[id.rawValue] = .outbound(dialer, completion, timer)
        flush()
    }

    /// Hands `bytes` to yamux (which keeps a reference, not a copy); returns how many it accepted.
    func streamWrite(_ id: YamuxStreamID, _ bytes: ArraySlice<UInt8>) -> Int {
        guard phase == .muxed else { return 0 }
        do {
            return try yamux.write(id, bytes)
        } catch {
            streams[id.rawValue]?.reset(with: .muxer(error))
            return 0
        }
    }

    func streamRaiseReceiveWindow(_ id: YamuxStreamID, to window: UInt32) {
        guard phase == .muxed else { return }
        yamux.raiseReceiveWindow(id, to: window)
        flush()
    }

    func streamCloseWrite(_ id: YamuxStreamID) {
        guard phase == .muxed else { return }
        try? yamux.closeWrite(id)
        flush()
    }

    func streamReset(_ id: YamuxStreamID) {
        guard phase == .muxed else { return }
        yamux.reset(id)
        flush()
    }

    func forget(_ stream: P2PStream) {
        streams[stream.id.rawValue] = nil
    }

    // MARK: Output

    /// Moves yamux output through Noise to the socket while the socket accepts it.
    func flush() {
        guard phase == .muxed, !flushing else { return }
        flushing = true
        defer { flushing = false }
        while phase == .muxed, tcp.isWritable, yamux.hasOutbound {
            writeSecure(yamux.takeOutboundSegments(limit: 256 * 1024))
        }
        let events = yamux.takeEvents()
        if !events.isEmpty {
            flushing = false
            handle(events)
            flush()
        }
    }

    private func startKeepalive() {
        keepaliveTimer.schedule(after: config.keepaliveInterval, repeating: config.keepaliveInterval) { [weak self] in
            guard let self, self.phase == .muxed else { return }
            if let since = self.yamux.pingOutstandingSince, self.now - since > self.config.keepaliveInterval {
                self.close(.timedOut("keepalive ping"))
                return
            }
            self.yamux.ping(now: self.now)
            self.flush()
        }
    }

    /// Measures a round trip with a yamux ping; the result arrives as `roundTripTime`.
    func ping() {
        guard phase == .muxed else { return }
        yamux.ping(now: now)
        flush()
    }

    // MARK: Close

    /// Graceful close: GoAway, flush, FIN. Must be called on `queue`.
    func shutdown() {
        guard phase == .muxed else { close(nil); return }
        yamux.close()
        while yamux.hasOutbound { writeSecure(yamux.takeOutboundSegments(limit: 1 << 20)) }
        close(nil, graceful: true)
    }

    /// Closes immediately. Idempotent; the delegate hears about it once.
    func close(_ error: HostError?, graceful: Bool = false) {
        guard phase != .closed else { return }
        phase = .closed
        closeError = error
        upgradeTimer.cancel()
        keepaliveTimer.cancel()
        let open = streams.values
        streams = [:]
        for s in open { s.reset(with: error ?? .connectionClosed) }
        let pending = negotiations.values
        negotiations = [:]
        for n in pending { fail(n, error ?? .connectionClosed) }
        if graceful { tcp.shutdownWrite() } else { tcp.close() }
        delegate?.connectionClosed(self, error: error)
    }
}
