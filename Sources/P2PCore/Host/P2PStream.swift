import Dispatch

/// One yamux stream after protocol negotiation, as the application sees it.
///
/// Confined to its connection's serial `queue`: every property and method must be used there,
/// and every callback runs there (`@unchecked Sendable` is safe because of that confinement;
/// the async helpers below hop onto the queue themselves).
///
/// Data that arrives before the application installs `onData` (e.g. bytes pipelined behind the
/// protocol proposal, go-libp2p's lazy negotiation) is buffered, bounded by
/// `HostConfig.maxStreamBuffer`, and delivered when `onData` is set.
public final class P2PStream: @unchecked Sendable {
    public let queue: DispatchQueue
    public let direction: Direction
    public let remotePeer: PeerID
    public internal(set) var protocolID: String = ""
    let id: YamuxStreamID
    private weak var connection: Connection?
    private let limits: (sendQueue: Int, buffer: Int)

    /// Data from the peer. Setting it delivers anything buffered so far.
    public var onData: (([UInt8]) -> Void)? { didSet { flushInbound() } }
    /// The peer half-closed (EOF): no more data will come. Delivered after all data.
    public var onRemoteClose: (() -> Void)? { didSet { flushInbound() } }
    /// The stream was reset by the peer or the connection closed.
    public var onReset: ((HostError) -> Void)? { didSet { if let e = resetError { onReset?(e) } } }
    /// Called when buffered outbound data has drained (after `isWritable` was false).
    public var onWritable: (() -> Void)?

    private var inbound: [[UInt8]] = []
    private var inboundBytes = 0
    private var remoteClosed = false
    private var remoteCloseDelivered = false
    private(set) var resetError: HostError?
    private(set) var localClosed = false
    /// Written bytes yamux has not accepted yet: slices of the application's arrays, not copies.
    private var pendingWrite = ByteQueue()
    private var pendingClose = false

    init(id: YamuxStreamID, direction: Direction, remotePeer: PeerID, connection: Connection, queue: DispatchQueue) {
        self.id = id
        self.direction = direction
        self.remotePeer = remotePeer
        self.connection = connection
        self.queue = queue
        self.limits = (connection.config.yamux.maxSendQueue, connection.config.maxStreamBuffer)
    }

    /// True while buffered outbound data is below the connection's per-stream bound.
    public var isWritable: Bool { resetError == nil && connection != nil && pendingWrite.count < limits.sendQueue }

    public var isReset: Bool { resetError != nil }

    /// Queues bytes. Data beyond yamux's send window waits here (bounded: a stream that keeps
    /// writing past `maxStreamBuffer` while the peer does not read is reset).
    public func write(_ bytes: [UInt8]) {
        write(contentsOf: CollectionOfOne(bytes))
    }

    /// Writes several arrays as one write: all are queued (as slices, not copied) before the
    /// connection flushes, so a message framed as header + shared body goes out together.
    public func write<Pieces: Sequence>(contentsOf pieces: Pieces) where Pieces.Element == [UInt8] {
        guard resetError == nil, !localClosed else { return }
        guard let connection else { reset(with: .connectionClosed); return }
        var queued = false
        for bytes in pieces where !bytes.isEmpty {
            var rest = bytes[...]
            if pendingWrite.isEmpty {
                rest = rest.dropFirst(connection.streamWrite(id, rest))
            }
            guard resetError == nil else { return }
            pendingWrite.append(rest)
            if pendingWrite.count > limits.buffer {
                reset(with: .messageTooLarge(pendingWrite.count, limit: limits.buffer), notifyPeer: true)
                return
            }
            queued = true
        }
        if queued { connection.flush() }
    }

    /// Lets the peer send up to `bytes` ahead of what we have read (the yamux receive window,
    /// 256 KiB at first, capped at the session's maximum, never lowered). For protocols whose
    /// handler consumes every byte as it arrives and whose messages are large (gossipsub RPCs):
    /// fewer window updates. What arrives before `onData` is set is still bounded by
    /// `HostConfig.maxStreamBuffer`.
    public func raiseReceiveWindow(to bytes: Int) {
        guard resetError == nil else { return }
        connection?.streamRaiseReceiveWindow(id, to: UInt32(clamping: max(0, bytes)))
    }

    /// Half-close: the peer sees EOF after the data already written.
    public func closeWrite() {
        guard resetError == nil, !localClosed else { return }
        localClosed = true
        if pendingWrite.isEmpty { connection?.streamCloseWrite(id) } else { pendingClose = true }
        connection?.flush()
        forgetIfFinished()
    }

    /// Aborts the stream in both directions.
    public func reset() { reset(with: .streamReset, notifyPeer: true) }

    /// Closes both directions: half-close, and stop delivering data.
    public func close() {
        closeWrite()
        onData = nil
    }

    // MARK: Connection-side entry points

    func receive(_ bytes: [UInt8]) {
        guard resetError == nil, !bytes.isEmpty else { return }
        if let onData, inbound.isEmpty {
            onData(bytes)
            return
        }
        inbound.append(bytes)
        inboundBytes += bytes.count
        if inboundBytes > limits.buffer {
            reset(with: .messageTooLarge(inboundBytes, limit: limits.buffer), notifyPeer: true)
            return
        }
        flushInbound()
    }

    func remoteClosedWrite() {
        remoteClosed = true
        flushInbound()
    }

    func writable() {
        guard !pendingWrite.isEmpty, let connection else { return }
        while let first = pendingWrite.first {
            let n = connection.streamWrite(id, first)
            guard resetError == nil else { return }
            pendingWrite.removeFirst(n)
            if n < first.count { break }
        }
        if pendingWrite.isEmpty {
            if pendingClose { pendingClose = false; connection.streamCloseWrite(id) }
            // Never re-enter the application from inside its own write(): this can be reached
            // from write → flush → yamux .writable.
            queue.async { [weak self] in self?.onWritable?() }
            forgetIfFinished()
        }
    }

    /// Both directions are closed and delivered: the connection no longer needs to track us.
    private func forgetIfFinished() {
        guard localClosed, pendingWrite.isEmpty, remoteCloseDelivered, resetError == nil else { return }
        connection?.forget(self)
    }

    func reset(with error: HostError, notifyPeer: Bool = false) {
        guard resetError == nil else { return }
        resetError = error
        pendingWrite.removeAll()
        inbound = []
        if notifyPeer { connection?.streamReset(id) }
        connection?.forget(self)
        let handler = onReset
        onData = nil
        onRemoteClose = nil
        onWritable = nil
        handler?(error)
    }

    private func flushInbound() {
        // Nothing after a reset: not even the EOF of a peer that had half-closed (clearing the
        // handlers in `reset` re-enters here through `didSet`, and a reader must then hear the
        // reset, not a clean end of stream).
        guard resetError == nil else { return }
        if let onData {
            while !inbound.isEmpty, resetError == nil {
                let chunk = inbound.removeFirst()
                inboundBytes -= chunk.count
                onData(chunk)
            }
        }
        // EOF is delivered after all data; a writer that only waits for the peer's FIN hears it
        // even without a data handler.
        if remoteClosed, !remoteCloseDelivered, inbound.isEmpty, let onRemoteClose {
            remoteCloseDelivered = true
            onRemoteClose()
            forgetIfFinished()
        }
    }
}

// MARK: - async helpers

extension P2PStream {
    /// Reads until the peer half-closes, failing if more than `limit` bytes arrive or, with a
    /// `timeout`, if the peer has not half-closed by then (the stream is reset). `completion` runs
    /// once, on the stream's queue: no task or cooperative-pool thread is involved, so a busy Swift
    /// concurrency pool cannot delay protocol work such as identify.
    public func readToEnd(limit: Int, timeout: Duration? = nil,
                          completion: @escaping @Sendable (Result<[UInt8], HostError>) -> Void) {
        let reader = ToEndReader()
        @Sendable func finish(_ r: Result<[UInt8], HostError>) {
            guard !reader.done else { return }
            reader.done = true
            onData = nil
            onRemoteClose = nil
            onReset = nil
            completion(r)
        }
        queue.async {
            self.onReset = { finish(.failure($0)) }
            self.onRemoteClose = { finish(.success(reader.buffer)) }
            self.onData = { chunk in
                reader.buffer += chunk
                if reader.buffer.count > limit {
                    self.reset(with: .messageTooLarge(reader.buffer.count, limit: limit), notifyPeer: true)
                    finish(.failure(.messageTooLarge(reader.buffer.count, limit: limit)))
                }
            }
            if let timeout {
                // Weak: a finished read must not keep the stream alive until its deadline.
                self.queue.asyncAfter(deadline: .now() + .nanoseconds(Int(clamping: timeout.clampedNanoseconds))) { [weak self] in
                    guard let self, !reader.done else { return }
                    self.reset(with: .timedOut("read"), notifyPeer: true)
                    finish(.failure(.timedOut("read")))
                }
            }
        }
    }

    /// Reads until the peer half-closes, failing if more than `limit` bytes arrive.
    public func readToEnd(limit: Int, timeout: Duration? = nil) async throws(HostError) -> [UInt8] {
        let result: Result<[UInt8], HostError> = await withCheckedContinuation { cont in
            readToEnd(limit: limit, timeout: timeout) { cont.resume(returning: $0) }
        }
        return try result.get()
    }

    /// Reads exactly `count` bytes (fails on EOF or reset before that). Extra bytes that arrive in
    /// the same chunk are kept for the next read.
    public func read(exactly count: Int) async throws(HostError) -> [UInt8] {
        let result: Result<[UInt8], HostError> = await withCheckedContinuation { cont in
            queue.async {
                var buffer: [UInt8] = []
                var done = false
                func finish(_ r: Result<[UInt8], HostError>) {
                    guard !done else { return }
                    done = true
                    self.onData = nil
                    self.onRemoteClose = nil
                    self.onReset = nil
                    if buffer.count > count { self.inbound.insert(Array(buffer[count...]), at: 0); self.inboundBytes += buffer.count - count }
                    cont.resume(returning: r.map { Array($0.prefix(count)) })
                }
                self.onReset = { finish(.failure($0)) }
                self.onRemoteClose = {
                    self.remoteCloseDelivered = false   // let a later reader see EOF too
                    finish(.failure(.connectionClosed))
                }
                self.onData = { chunk in
                    buffer += chunk
                    if buffer.count >= count { finish(.success(buffer)) }
                }
                if count == 0 { finish(.success([])) }
            }
        }
        return try result.get()
    }

    /// Writes on the stream's queue (from any context).
    public func send(_ bytes: [UInt8], closeWrite: Bool = false) {
        queue.async {
            self.write(bytes)
            if closeWrite { self.closeWrite() }
        }
    }

    /// Resets from any context.
    public func abort() { queue.async { self.reset() } }
}

/// The state of one `readToEnd(limit:timeout:completion:)`.
private final class ToEndReader: @unchecked Sendable {  // safe: read and written only on the stream's serial queue
    var buffer: [UInt8] = []
    var done = false
}
