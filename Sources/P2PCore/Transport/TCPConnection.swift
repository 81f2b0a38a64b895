/// One TCP connection over a non-blocking POSIX socket driven by Dispatch sources (no SwiftNIO):
/// reads into a reusable buffer handed up as `UnsafeRawBufferPointer` chunks, pause/resume for
/// back-pressure from above, half-close, a bounded write buffer with high/low watermarks, a hard
/// cap and a write-stall watchdog, writes produced straight into that buffer (`write(capacity:_:)`,
/// for the Noise sealer), both buffers released after a short idle period, and exactly-once close.
/// DESIGN.md "Concurrency" (one serial queue per connection) and "Platform facts" (read and write sources on one fd lose read events,
/// so the write source lives on `dup(fd)`; resume a source before cancelling it; SIGPIPE; TCP_NODELAY).
import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A TCP connection owned by one serial `queue`.
///
/// Threading: every method and property, including `start()` and the callbacks, is used only on
/// `queue`, and every callback is invoked there. Connections handed out by `TCPListener` and
/// `TCPDialer` arrive in a callback already running on `queue`, not yet started: set the callbacks,
/// then call `start()`. That queue confinement is what makes the `@unchecked Sendable` conformance
/// safe: the object may be captured by work items sent to `queue`, but its state is never touched
/// from anywhere else.
///
/// Lifetime: a started connection keeps itself alive (its Dispatch sources hold it) until it is
/// closed; `onClose` is then called exactly once, after both file descriptors have been closed, and
/// every callback is released. A connection that was never started closes its descriptors when it is
/// deallocated.
public final class TCPConnection: @unchecked Sendable {
    /// Buffer sizes, watermarks and limits. Values out of range are clamped by `init`.
    public struct Options: Sendable {
        /// Size of the reusable read buffer, the largest chunk passed to `onRead` (4 KiB ... 4 MiB).
        public var readBufferSize: Int
        /// Reads per turn on the queue before yielding to other work (fairness between connections).
        public var maxReadsPerEvent: Int
        /// Above this many buffered bytes `isWritable` turns false.
        public var writeHighWatermark: Int
        /// `onWritable` fires once buffered bytes drain to this or below (after going above high water).
        public var writeLowWatermark: Int
        /// Hard cap on buffered bytes: a write that would exceed it fails with `.writeBufferFull`.
        public var writeBufferLimit: Int
        /// Close with `.writeStalled` when buffered output makes no progress this long; nil disables.
        public var writeStallTimeout: Duration?
        /// TCP_NODELAY (on by default: libp2p traffic is small framed messages).
        public var noDelay: Bool
        /// SO_SNDBUF / SO_RCVBUF when set; the kernel's autotuning otherwise.
        public var socketSendBufferSize: Int32?
        public var socketReceiveBufferSize: Int32?
        /// Target of each connection's serial queue (nil: Dispatch's default global queue).
        public var targetQueue: DispatchQueue?

        public init(
            readBufferSize: Int = 128 * 1024,
            maxReadsPerEvent: Int = 4,
            writeHighWatermark: Int = 1 << 20,
            writeLowWatermark: Int = 256 * 1024,
            writeBufferLimit: Int = 16 << 20,
            writeStallTimeout: Duration? = .seconds(30),
            noDelay: Bool = true,
            socketSendBufferSize: Int32? = nil,
            socketReceiveBufferSize: Int32? = nil,
            targetQueue: DispatchQueue? = nil
        ) {
            self.readBufferSize = min(max(readBufferSize, 4096), 4 << 20)
            self.maxReadsPerEvent = max(maxReadsPerEvent, 1)
            self.writeBufferLimit = max(writeBufferLimit, 1)
            self.writeHighWatermark = min(max(writeHighWatermark, 0), self.writeBufferLimit)
            self.writeLowWatermark = min(max(writeLowWatermark, 0), self.writeHighWatermark)
            self.writeStallTimeout = writeStallTimeout
            self.noDelay = noDelay
            self.socketSendBufferSize = socketSendBufferSize
            self.socketReceiveBufferSize = socketReceiveBufferSize
            self.targetQueue = targetQueue
        }
    }

    private enum State {
        case idle, open, closing, closed
    }

    public let queue: DispatchQueue
    public let localAddress: SocketAddress
    public let remoteAddress: SocketAddress
    public let options: Options

    /// Bytes received; the pointer is valid only during the call.
    public var onRead: ((UnsafeRawBufferPointer) -> Void)?
    /// Replaces `onRead` when set: the received bytes, in the read buffer itself, which the handler
    /// may modify (decrypt in place). It returns how many leading bytes it consumed; the rest (an
    /// incomplete message) is kept and presented again, followed by new bytes, once more arrive.
    /// A handler that consumes nothing of a full buffer makes the buffer grow (up to 4 MiB).
    public var onReadInPlace: ((UnsafeMutableRawBufferPointer) -> Int)?
    /// The peer finished sending (FIN). The write side stays usable.
    public var onReadEOF: (() -> Void)?
    /// Buffered output drained to the low watermark after `isWritable` had turned false.
    public var onWritable: (() -> Void)?
    /// The connection closed: nil after `close()` or a completed half-close in both directions,
    /// the error otherwise. Called exactly once.
    public var onClose: ((TransportError?) -> Void)?

    private let fd: Int32
    /// `dup(fd)`: the write source lives on it so that epoll keeps the read registration intact.
    private let writeFD: Int32
    private let clock = SystemClock()
    private var state = State.idle
    private var readSource: (any DispatchSourceRead)?
    private var writeSource: (any DispatchSourceWrite)?
    private var readSourceRunning = false
    private var writeSourceRunning = false
    private var readBuffer: UnsafeMutableRawBufferPointer?
    /// Bytes at `readStart` in `readBuffer` that `onReadInPlace` left unconsumed.
    private var retainedReadBytes = 0
    private var readStart = 0
    private var readPaused = false
    private var readKickScheduled = false
    private var readEOF = false
    private let writeBuffer: WriteBuffer
    private var writeBlocked = false
    private var shutdownRequested = false
    private var writeShutDown = false
    private var lastWriteProgress: UInt64 = 0
    private var writeWatchdog: QueueTimer?
    /// Frees the read buffer and the write buffer's storage once the connection has been idle
    /// (nothing buffered either way) for `idleBufferRelease`.
    private var idleTimer: QueueTimer?
    private var lastActivity: UInt64 = 0
    private var pendingCancellations = 0
    private var closeError: TransportError?

    /// Takes ownership of a connected non-blocking socket. On a thrown error the caller still owns `fd`.
    init(
        socket fd: Int32, queue: DispatchQueue, options: Options, remoteAddress: SocketAddress? = nil
    ) throws(TransportError) {
        Socket.ignoreSIGPIPE()
        if options.noDelay { try Socket.setNoDelay(fd) }
        if let size = options.socketSendBufferSize {
            try Socket.setOption(fd, SOL_SOCKET, SO_SNDBUF, size, name: "SO_SNDBUF")
        }
        if let size = options.socketReceiveBufferSize {
            try Socket.setOption(fd, SOL_SOCKET, SO_RCVBUF, size, name: "SO_RCVBUF")
        }
        self.localAddress = try Socket.localAddress(fd)
        if let remoteAddress {
            self.remoteAddress = remoteAddress
        } else {
            self.remoteAddress = try Socket.remoteAddress(fd)
        }
        let duplicate = fcntl(fd, F_DUPFD_CLOEXEC, 0)
        guard duplicate >= 0 else { throw .systemCall(operation: "dup", errno: errno) }
        self.fd = fd
        self.writeFD = duplicate
        self.queue = queue
        self.options = options
        self.writeBuffer = WriteBuffer(limit: options.writeBufferLimit)
    }

    /// A new serial queue for a connection, targeting `options.targetQueue`.
    static func makeQueue(_ options: Options) -> DispatchQueue {
        DispatchQueue(label: "p2p.tcp.connection", target: options.targetQueue)
    }

    deinit {
        if state == .idle {
            Socket.closeDescriptor(fd)
            Socket.closeDescriptor(writeFD)
        }
        readBuffer?.deallocate()
    }

    // MARK: Public API (call on `queue`)

    /// Starts reading and flushes anything written before. Idempotent; ignored once closed.
    public func start() {
        checkQueue()
        guard state == .idle else { return }
        state = .open

        let fd = self.fd
        let writeFD = self.writeFD
        let rs = DispatchSource.makeReadSource(fileDescriptor: fd, queue: queue)
        rs.setEventHandler { self.handleReadable() }
        rs.setCancelHandler {
            Socket.closeDescriptor(fd)
            self.sourceCancelled()
        }
        let ws = DispatchSource.makeWriteSource(fileDescriptor: writeFD, queue: queue)
        ws.setEventHandler { self.handleWritable() }
        ws.setCancelHandler {
            Socket.closeDescriptor(writeFD)
            self.sourceCancelled()
        }
        readSource = rs
        writeSource = ws
        if !readPaused { setReadSource(running: true) }
        if !writeBuffer.isEmpty {
            lastWriteProgress = clock.now()
            armWriteWatchdog()
            flush()
        } else if shutdownRequested {
            performShutdown()
        }
    }

    /// False while buffered output is above the high watermark (until it drains to the low one),
    /// after `shutdownWrite()`, and once closed. Producers should stop and wait for `onWritable`.
    public var isWritable: Bool {
        (state == .idle || state == .open) && !writeBlocked && !shutdownRequested
    }

    /// Bytes accepted by `write` and not yet handed to the kernel.
    public var bufferedWriteBytes: Int { writeBuffer.count }

    /// Bytes allocated for reading and for buffered output (0 and 0 once idle buffers are released).
    var bufferCapacities: (read: Int, write: Int) { (readBuffer?.count ?? 0, writeBuffer.capacity) }

    /// Sends `bytes` (or buffers what the socket cannot take now).
    /// Throws `.writeBufferFull` (nothing sent) past the hard cap, `.writeAfterShutdown`, `.closed`,
    /// or the socket error that also closed the connection.
    public func write(_ bytes: [UInt8]) throws(TransportError) {
        let error = bytes.withUnsafeBytes { enqueue(CollectionOfOne($0), total: $0.count) }
        if let error { throw error }
    }

    /// Like `write(_: [UInt8])`; the bytes are sent or copied before this returns.
    public func write(_ bytes: UnsafeRawBufferPointer) throws(TransportError) {
        if let error = enqueue(CollectionOfOne(bytes), total: bytes.count) { throw error }
    }

    /// Writes up to `capacity` bytes produced by `fill` straight into the write buffer (no
    /// intermediate array; the Noise sealer writes its frames this way): `fill` gets at least
    /// `capacity` bytes of contiguous space and returns how many it wrote (at most `capacity`).
    /// They are handed to the socket at once unless earlier output is still waiting for it.
    /// Throws like `write(_:)`; past the hard cap (counting all of `capacity`) `fill` is not called.
    public func write(capacity: Int, _ fill: (UnsafeMutableRawBufferPointer) -> Int) throws(TransportError) {
        if let error = admissionError(capacity) { throw error }
        guard capacity > 0 else { return }
        let space = writeBuffer.reserve(capacity)
        guard space.count >= capacity else { return }
        let n = min(max(fill(UnsafeMutableRawBufferPointer(rebasing: space[0..<capacity])), 0), capacity)
        guard n > 0 else { return }
        let wasEmpty = writeBuffer.isEmpty
        writeBuffer.commit(n)
        if writeBuffer.count > options.writeHighWatermark { writeBlocked = true }
        guard wasEmpty && state == .open else { return }
        lastWriteProgress = clock.now()
        flush()
        if !writeBuffer.isEmpty { armWriteWatchdog() }
        if state != .open, let closeError { throw closeError }
    }

    /// Writes several buffers in order with as few syscalls as possible (sendmsg with iovecs).
    /// All or nothing with respect to the hard cap.
    public func write(contentsOf buffers: [[UInt8]]) throws(TransportError) {
        let total = buffers.reduce(0) { $0 + $1.count }
        if let error = admissionError(total) { throw error }
        var start = 0
        while start < buffers.count {
            let end = min(start + Socket.maxIOVecs, buffers.count)
            let groupTotal = buffers[start..<end].reduce(0) { $0 + $1.count }
            let error = withUnsafeRegions(buffers[start..<end]) { enqueue($0, total: groupTotal) }
            if let error { throw error }
            start = end
        }
    }

    /// Stops delivering reads (and stops reading from the socket, so TCP flow control pushes back on the peer).
    public func pauseReading() {
        checkQueue()
        readPaused = true
        if state == .open { setReadSource(running: false) }
    }

    public func resumeReading() {
        checkQueue()
        readPaused = false
        if state == .open && !readEOF {
            setReadSource(running: true)
            scheduleReadKick()  // the source may have been unregistered by a hang-up while paused
        }
    }

    /// Half-close: sends FIN once everything buffered has been written. Reading continues; once the
    /// peer's EOF has also arrived the connection closes itself (`onClose(nil)`).
    public func shutdownWrite() {
        checkQueue()
        guard state == .idle || state == .open, !shutdownRequested else { return }
        shutdownRequested = true
        if state == .open && writeBuffer.isEmpty { performShutdown() }
    }

    /// Closes at once, discarding unsent output. Idempotent; `onClose(nil)` follows asynchronously.
    public func close() {
        checkQueue()
        close(error: nil)
    }

    // MARK: Reading

    /// Reads until the socket would block, EOF, an error, a pause, or the per-event cap. Only after
    /// EAGAIN is the read source relied on to call again: on a hang-up (EPOLLHUP, both directions shut)
    /// libdispatch delivers one last event and unregisters the fd, so data and EOF still queued behind
    /// a short read, a pause or the cap are picked up by `scheduleReadKick()` instead.
    private func handleReadable() {
        readKickScheduled = false
        guard state == .open, !readPaused, !readEOF else { return }
        if readBuffer == nil {
            readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: options.readBufferSize, alignment: 16)
        }
        for _ in 0..<options.maxReadsPerEvent {
            guard let buffer = readBuffer, let base = buffer.baseAddress else { return }
            let retained = retainedReadBytes
            let start = base + readStart
            let n = recv(fd, start + retained, buffer.count - readStart - retained, 0)
            if n > 0 {
                if let onReadInPlace {
                    let available = retained + n
                    let consumed = min(max(onReadInPlace(UnsafeMutableRawBufferPointer(start: start, count: available)), 0), available)
                    guard state == .open else { return }
                    keepUnconsumed(from: consumed, of: available)
                } else {
                    onRead?(UnsafeRawBufferPointer(start: start, count: n))
                    guard state == .open else { return }
                }
                guard !readPaused else { return }
                continue
            }
            if n == 0 {
                readEOF = true
                setReadSource(running: false)
                onReadEOF?()
                finishIfBothSidesDone()
                return
            }
            let e = errno
            if e == EINTR { continue }
            if e == EAGAIN || e == EWOULDBLOCK {
                readDrained()
                return
            }
            close(error: Self.error(errno: e, operation: "recv"))
            return
        }
        scheduleReadKick()  // the cap: let other work on the queue run, then read on
    }

    /// Keeps the bytes `onReadInPlace` left where they are, moving them to the front of the read
    /// buffer only when less than half of it is left to read into, and grows the buffer when the
    /// handler could not consume anything of a full one.
    private func keepUnconsumed(from consumed: Int, of available: Int) {
        guard let buffer = readBuffer, let base = buffer.baseAddress else { return }
        let left = available - consumed
        retainedReadBytes = left
        guard left > 0 else {
            readStart = 0
            return
        }
        readStart += consumed
        if readStart > 0 && buffer.count - readStart - left < buffer.count / 2 {
            base.copyMemory(from: base + readStart, byteCount: left)
            readStart = 0
        }
        guard left == buffer.count else { return }
        guard buffer.count < Self.maxReadBufferSize else {
            close(error: .systemCall(operation: "recv: message larger than the read buffer", errno: EMSGSIZE))
            return
        }
        let grown = UnsafeMutableRawBufferPointer.allocate(byteCount: min(buffer.count * 2, Self.maxReadBufferSize), alignment: 16)
        grown.copyMemory(from: UnsafeRawBufferPointer(buffer))
        buffer.deallocate()
        readBuffer = grown
    }

    /// The socket has nothing more to read now: a buffer grown for a large message goes back to
    /// the configured size, and the idle release is (re)armed.
    private func readDrained() {
        if retainedReadBytes == 0, let buffer = readBuffer, buffer.count > options.readBufferSize {
            buffer.deallocate()
            readBuffer = nil
            readStart = 0
        }
        noteActivity()
    }

    private func scheduleReadKick() {
        guard !readKickScheduled else { return }
        readKickScheduled = true
        queue.async { self.handleReadable() }
    }

    // MARK: Writing

    private func admissionError(_ total: Int) -> TransportError? {
        checkQueue()
        switch state {
        case .closing, .closed: return .closed
        case .idle, .open: break
        }
        if shutdownRequested { return .writeAfterShutdown }
        guard total <= options.writeBufferLimit - writeBuffer.count else {
            return .writeBufferFull(buffered: writeBuffer.count, attempted: total, limit: options.writeBufferLimit)
        }
        return nil
    }

    private func enqueue<Regions: Collection>(_ regions: Regions, total: Int) -> TransportError?
    where Regions.Element == UnsafeRawBufferPointer {
        if let error = admissionError(total) { return error }
        guard total > 0 else { return nil }
        var sent = 0
        if state == .open && writeBuffer.isEmpty {
            let n = Socket.send(writeFD, regions)
            if n < 0 {
                let error = Self.error(errno: Int32(-n), operation: "sendmsg")
                close(error: error)
                return error
            }
            sent = n
        }
        guard sent < total else { return nil }
        let wasEmpty = writeBuffer.isEmpty
        writeBuffer.append(regions, skip: sent, total: total)
        if writeBuffer.count > options.writeHighWatermark { writeBlocked = true }
        if wasEmpty && state == .open {
            lastWriteProgress = clock.now()
            setWriteSource(running: true)
            armWriteWatchdog()
        }
        return nil
    }

    private func handleWritable() {
        guard state == .open else { return }
        flush()
    }

    private func flush() {
        while !writeBuffer.isEmpty {
            let available = writeBuffer.count
            let n = writeBuffer.withReadableRegions { a, b in Socket.send(writeFD, [a, b]) }
            if n < 0 {
                close(error: Self.error(errno: Int32(-n), operation: "sendmsg"))
                return
            }
            if n == 0 { break }
            writeBuffer.consume(n)
            lastWriteProgress = clock.now()
            if n < available { break }  // the socket buffer is full
        }
        if writeBuffer.isEmpty {
            setWriteSource(running: false)
            noteActivity()
            if shutdownRequested && !writeShutDown { performShutdown() }
        } else {
            setWriteSource(running: true)
        }
        if writeBlocked && writeBuffer.count <= options.writeLowWatermark && state == .open {
            writeBlocked = false
            onWritable?()
        }
    }

    private func performShutdown() {
        guard !writeShutDown else { return }
        writeShutDown = true
        if shutdown(fd, Int32(SHUT_WR)) != 0 {
            let e = errno
            if e != ENOTCONN {
                close(error: .systemCall(operation: "shutdown", errno: e))
                return
            }
        }
        finishIfBothSidesDone()
    }

    private func finishIfBothSidesDone() {
        if readEOF && writeShutDown { close(error: nil) }
    }

    /// The write watchdog runs while output is buffered: it closes a connection whose output made no
    /// progress for `writeStallTimeout`.
    private func armWriteWatchdog() {
        guard let timeout = options.writeStallTimeout?.clampedNanoseconds else { return }
        let timer: QueueTimer
        if let writeWatchdog {
            guard !writeWatchdog.isScheduled else { return }  // it re-checks progress when it fires
            timer = writeWatchdog
        } else {
            timer = QueueTimer(queue: queue)
            writeWatchdog = timer
        }
        let (sum, overflow) = lastWriteProgress.addingReportingOverflow(timeout)
        timer.schedule(atUptimeNanoseconds: overflow ? .max : sum) { self.writeWatchdogFired() }
    }

    private func writeWatchdogFired() {
        guard state == .open, !writeBuffer.isEmpty else { return }
        if let timeout = options.writeStallTimeout?.clampedNanoseconds, clock.now() &- lastWriteProgress >= timeout {
            close(error: .writeStalled(bufferedBytes: writeBuffer.count, timeoutNanoseconds: timeout))
        } else {
            armWriteWatchdog()
        }
    }

    /// Records I/O activity and arms the idle release unless it is already pending (it re-checks
    /// `lastActivity` when it fires, so a busy connection costs one timer event per period).
    private func noteActivity() {
        lastActivity = clock.now()
        guard state == .open, !(idleTimer?.isScheduled ?? false) else { return }
        let timer = idleTimer ?? QueueTimer(queue: queue, leeway: .milliseconds(50))
        idleTimer = timer
        timer.schedule(atUptimeNanoseconds: lastActivity &+ Self.idleBufferRelease.clampedNanoseconds) {
            self.idleTimerFired()
        }
    }

    /// Frees both buffers when nothing was read or written for `idleBufferRelease` and nothing is
    /// buffered; they are allocated again (at the configured size) when traffic resumes.
    private func idleTimerFired() {
        guard state == .open else { return }
        let due = lastActivity &+ Self.idleBufferRelease.clampedNanoseconds
        guard clock.now() >= due else {
            idleTimer?.schedule(atUptimeNanoseconds: due) { self.idleTimerFired() }
            return
        }
        if retainedReadBytes == 0, let buffer = readBuffer {
            buffer.deallocate()
            readBuffer = nil
            readStart = 0
        }
        writeBuffer.releaseStorageIfIdle()
    }

    // MARK: Sources and closing

    private func setReadSource(running: Bool) {
        guard let rs = readSource, running != readSourceRunning else { return }
        readSourceRunning = running
        if running { rs.resume() } else { rs.suspend() }
    }

    private func setWriteSource(running: Bool) {
        guard let ws = writeSource, running != writeSourceRunning else { return }
        writeSourceRunning = running
        if running { ws.resume() } else { ws.suspend() }
    }

    private func close(error: TransportError?) {
        guard state == .idle || state == .open else { return }
        let started = state == .open
        state = .closing
        closeError = error
        writeWatchdog?.cancel()
        writeWatchdog = nil
        idleTimer?.cancel()
        idleTimer = nil
        writeBuffer.removeAll()
        if started, let rs = readSource, let ws = writeSource {
            pendingCancellations = 2
            // A suspended (or never activated) source must be resumed before it is cancelled.
            if !readSourceRunning { rs.resume() }
            if !writeSourceRunning { ws.resume() }
            readSourceRunning = true
            writeSourceRunning = true
            rs.cancel()
            ws.cancel()
        } else {
            Socket.closeDescriptor(fd)
            Socket.closeDescriptor(writeFD)
            queue.async { self.finishClose() }
        }
    }

    /// Each source's cancel handler closed its own descriptor; the last one finishes the close.
    private func sourceCancelled() {
        pendingCancellations -= 1
        if pendingCancellations == 0 { finishClose() }
    }

    private func finishClose() {
        guard state == .closing else { return }
        state = .closed
        readSource = nil
        writeSource = nil
        readBuffer?.deallocate()
        readBuffer = nil
        let callback = onClose
        onRead = nil
        onReadInPlace = nil
        onReadEOF = nil
        onWritable = nil
        onClose = nil
        callback?(closeError)
    }

    // MARK: Helpers

    @inline(__always)
    private func checkQueue() {
        #if DEBUG
        dispatchPrecondition(condition: .onQueue(queue))
        #endif
    }

    /// Upper bound of the read buffer when `onReadInPlace` needs it to grow (Options' maximum).
    private static let maxReadBufferSize = 4 << 20

    /// How long a connection must be idle (nothing read or written, nothing buffered) before its
    /// read buffer and write storage are freed. Per connection pair after a 1 MiB transfer
    /// (`p2pnode-bench transport memory`): 281 KiB when they were kept, 66 KiB once released
    /// (37.5 KiB before any transfer; the rest is glibc's per-thread arenas). Short, because a
    /// freed buffer costs only an allocation when traffic resumes (pages are touched as bytes
    /// arrive either way).
    public static let idleBufferRelease = Duration.milliseconds(500)

    static func error(errno e: Int32, operation: String) -> TransportError {
        switch e {
        case ECONNRESET, EPIPE, ETIMEDOUT, ECONNABORTED: return .connectionReset
        default: return .systemCall(operation: operation, errno: e)
        }
    }
}
