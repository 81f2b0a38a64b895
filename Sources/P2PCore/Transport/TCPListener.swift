/// A TCP listener on POSIX sockets driven by a Dispatch read source: bind/listen (SO_REUSEADDR,
/// IPV6_V6ONLY so `/ip4` and `/ip6` listeners can share a port, port 0 = any, actual port reported),
/// a non-blocking accept loop capped per readiness event, a pause with back-off when the process runs
/// out of descriptors, and a clean close. DESIGN.md "Concurrency", "Platform facts".
import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Accepts TCP connections and hands each, not yet started, to `onAccept` on that connection's own
/// queue. A listener keeps running (its accept source holds it) until `close()` is called.
/// The listener's state lives on its private serial queue; the public methods may be called
/// from any thread because they only dispatch onto it. That is what makes the `@unchecked Sendable`
/// conformance safe.
public final class TCPListener: @unchecked Sendable {
    public struct Options: Sendable {
        /// listen() backlog.
        public var backlog: Int32
        /// Accepts per readiness event before yielding the queue (a burst cap).
        public var maxAcceptsPerEvent: Int
        /// Pause before accepting again after EMFILE/ENFILE/ENOBUFS/ENOMEM.
        public var resourceExhaustionBackoff: Duration
        /// Options of every accepted connection.
        public var connection: TCPConnection.Options

        public init(
            backlog: Int32 = 256,
            maxAcceptsPerEvent: Int = 32,
            resourceExhaustionBackoff: Duration = .milliseconds(100),
            connection: TCPConnection.Options = .init()
        ) {
            self.backlog = max(backlog, 0)
            self.maxAcceptsPerEvent = max(maxAcceptsPerEvent, 1)
            self.resourceExhaustionBackoff = resourceExhaustionBackoff
            self.connection = connection
        }
    }

    /// The bound address, with the actual port when 0 was asked for.
    public let localAddress: SocketAddress
    public let options: Options

    private let fd: Int32
    private let queue = DispatchQueue(label: "p2p.tcp.listener")
    private let onAccept: @Sendable (TCPConnection) -> Void
    private var source: (any DispatchSourceRead)?
    private var sourceRunning = false
    private var backoffTimer: QueueTimer?
    private var closed = false
    private var closeCompletions: [@Sendable () -> Void] = []

    /// Binds and starts accepting. `onAccept` runs on the accepted connection's queue.
    public init(
        bindTo address: SocketAddress, options: Options = .init(),
        onAccept: @escaping @Sendable (TCPConnection) -> Void
    ) throws(TransportError) {
        let fd = try Socket.makeTCPSocket(family: Socket.family(of: address.ip))
        do throws(TransportError) {
            try Socket.setOption(fd, SOL_SOCKET, SO_REUSEADDR, 1, name: "SO_REUSEADDR")
            if address.ip.family == .v6 {
                try Socket.setOption(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, 1, name: "IPV6_V6ONLY")
            }
            let bindResult = address.withSockAddr { bind(fd, $0, $1) }
            if bindResult != 0 {
                let e = errno
                throw e == EADDRINUSE
                    ? .addressInUse(address) : .systemCall(operation: "bind \(address)", errno: e)
            }
            guard listen(fd, options.backlog) == 0 else { throw .systemCall(operation: "listen", errno: errno) }
            self.localAddress = try Socket.localAddress(fd)
        } catch {
            Socket.closeDescriptor(fd)
            throw error
        }
        self.fd = fd
        self.options = options
        self.onAccept = onAccept
        queue.async { self.startAccepting() }
    }

    /// Stops accepting and closes the socket. Idempotent, callable from any thread; `completion`
    /// (on an internal queue) runs once the descriptor is closed. Accepted connections are not affected.
    public func close(completion: (@Sendable () -> Void)? = nil) {
        queue.async {
            if let completion { self.closeCompletions.append(completion) }
            guard !self.closed else {
                if self.source == nil { self.runCloseCompletions() }
                return
            }
            self.closed = true
            self.backoffTimer?.cancel()
            self.backoffTimer = nil
            guard let source = self.source else {
                Socket.closeDescriptor(self.fd)
                self.runCloseCompletions()
                return
            }
            if !self.sourceRunning { source.resume() }  // resume before cancel
            self.sourceRunning = true
            source.cancel()
        }
    }

    private func runCloseCompletions() {
        let completions = closeCompletions
        closeCompletions = []
        for completion in completions { completion() }
    }

    private func startAccepting() {
        guard !closed else { return }
        let fd = self.fd
        let s = DispatchSource.makeReadSource(fileDescriptor: fd, queue: queue)
        s.setEventHandler { self.acceptBurst() }
        s.setCancelHandler {
            Socket.closeDescriptor(fd)
            self.source = nil
            self.runCloseCompletions()
        }
        source = s
        sourceRunning = true
        s.resume()
    }

    private func acceptBurst() {
        for _ in 0..<options.maxAcceptsPerEvent {
            guard !closed else { return }
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let client = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { accept(fd, $0, &length) }
            }
            guard client >= 0 else {
                switch errno {
                case EAGAIN, EWOULDBLOCK: return
                case EINTR, ECONNABORTED, EPROTO, EPERM: continue
                case EMFILE, ENFILE, ENOBUFS, ENOMEM: backOff(); return
                default: return  // transient; the level-triggered source fires again
                }
            }
            let remote = withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { SocketAddress($0, length: length) }
            }
            let connection: TCPConnection
            do {
                try Socket.configureAccepted(client)
                connection = try TCPConnection(
                    socket: client, queue: TCPConnection.makeQueue(options.connection),
                    options: options.connection, remoteAddress: remote)
            } catch {
                Socket.closeDescriptor(client)  // e.g. the peer already reset it
                continue
            }
            let onAccept = self.onAccept
            connection.queue.async { onAccept(connection) }
        }
    }

    /// Out of descriptors or memory: stop accepting for a while instead of spinning on a
    /// level-triggered source that stays readable; pending connections wait in the backlog.
    private func backOff() {
        guard let source, sourceRunning else { return }
        source.suspend()
        sourceRunning = false
        let timer = backoffTimer ?? QueueTimer(queue: queue)
        backoffTimer = timer
        timer.schedule(after: options.resourceExhaustionBackoff) {
            guard !self.closed, let source = self.source, !self.sourceRunning else { return }
            self.sourceRunning = true
            source.resume()
        }
    }
}
