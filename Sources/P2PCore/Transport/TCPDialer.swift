/// Outgoing TCP connections: resolve (numeric IPv4/IPv6 or DNS via `Resolver`), then a
/// non-blocking connect to each address in turn, the whole dial bounded by one timeout (10 s by
/// default), with typed errors (refused, unreachable, timed out, DNS failure) and cancellation.
/// DESIGN.md "Concurrency", "Platform facts".
import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Dials TCP connections. The resulting connection is delivered, not yet started, in `completion`
/// running on the connection's own queue (set its callbacks there, then `start()` it).
public struct TCPDialer: Sendable {
    /// Bound on the whole dial: resolution plus every connect attempt.
    public var timeout: Duration
    public var connectionOptions: TCPConnection.Options

    public init(timeout: Duration = .seconds(10), connectionOptions: TCPConnection.Options = .init()) {
        self.timeout = timeout
        self.connectionOptions = connectionOptions
    }

    /// Dials `host` (a numeric address or a DNS name whose addresses are tried in order) on `port`.
    @discardableResult
    public func dial(
        host: String, port: UInt16, family: AddressFamilyFilter = .any,
        completion: @escaping @Sendable (Result<TCPConnection, TransportError>) -> Void
    ) -> TCPDialAttempt {
        let target = IPAddress(host).map { SocketAddress(ip: $0, port: port).description } ?? "\(host):\(port)"
        let attempt = TCPDialAttempt(
            target: target, timeout: timeout, options: connectionOptions, completion: completion)
        attempt.queue.async { attempt.start(host: host, port: port, family: family) }
        return attempt
    }

    /// Dials one socket address.
    @discardableResult
    public func dial(
        _ address: SocketAddress,
        completion: @escaping @Sendable (Result<TCPConnection, TransportError>) -> Void
    ) -> TCPDialAttempt {
        let attempt = TCPDialAttempt(
            target: address.description, timeout: timeout, options: connectionOptions, completion: completion)
        attempt.queue.async { attempt.start(addresses: [address]) }
        return attempt
    }
}

/// One dial in progress. Its state lives on `queue` (the future connection's queue) and `cancel()`
/// only dispatches onto it; that queue confinement is what makes the `@unchecked Sendable`
/// conformance safe.
public final class TCPDialAttempt: @unchecked Sendable {
    /// What to do with a connecting socket once its write source has been cancelled.
    private enum Outcome {
        case connected, failed(TransportError), abandoned
    }

    let queue: DispatchQueue
    private let target: String
    private let timeoutNanoseconds: UInt64
    private let options: TCPConnection.Options
    private let completion: @Sendable (Result<TCPConnection, TransportError>) -> Void
    private var finished = false
    private var deadlineTimer: QueueTimer?
    private var addresses: [SocketAddress] = []
    private var nextAddress = 0
    private var lastError: TransportError?
    private var connectSource: (any DispatchSourceWrite)?
    private var outcome = Outcome.abandoned

    init(
        target: String, timeout: Duration, options: TCPConnection.Options,
        completion: @escaping @Sendable (Result<TCPConnection, TransportError>) -> Void
    ) {
        self.queue = TCPConnection.makeQueue(options)
        self.target = target
        self.timeoutNanoseconds = timeout.clampedNanoseconds
        self.options = options
        self.completion = completion
    }

    /// Abandons the dial; `completion` gets `.dialCancelled` unless it already ran. Callable from any thread.
    public func cancel() {
        queue.async { self.finish(.failure(.dialCancelled)) }
    }

    func start(host: String, port: UInt16, family: AddressFamilyFilter) {
        armDeadline()
        guard !finished else { return }
        Resolver.resolve(
            host: host, port: port, family: family, timeout: .nanoseconds(Int64(clamping: timeoutNanoseconds)),
            queue: queue
        ) { result in
            switch result {
            case .success(let addresses): self.start(addresses: addresses)
            case .failure(let error): self.finish(.failure(error))
            }
        }
    }

    func start(addresses: [SocketAddress]) {
        armDeadline()
        guard !finished else { return }
        self.addresses = addresses
        connectNext()
    }

    private func armDeadline() {
        guard deadlineTimer == nil, !finished else { return }
        let timer = QueueTimer(queue: queue)
        deadlineTimer = timer
        let error = TransportError.dialTimedOut(target: target, timeoutNanoseconds: timeoutNanoseconds)
        timer.schedule(after: .nanoseconds(Int64(clamping: timeoutNanoseconds))) { self.finish(.failure(error)) }
    }

    private func connectNext() {
        guard !finished else { return }
        guard nextAddress < addresses.count else {
            finish(.failure(lastError ?? .dnsNoAddresses(host: target)))
            return
        }
        let address = addresses[nextAddress]
        nextAddress += 1
        let fd: Int32
        do {
            fd = try Socket.makeTCPSocket(family: Socket.family(of: address.ip))
        } catch {
            lastError = error
            connectNext()
            return
        }
        let rc = address.withSockAddr { connect(fd, $0, $1) }
        let e = rc == 0 ? 0 : errno
        guard rc == 0 || e == EINPROGRESS || e == EINTR else {
            Socket.closeDescriptor(fd)
            lastError = connectError(e, address)
            connectNext()
            return
        }
        // Wait for writability (or an immediate success) on a write source; it is the only source on
        // this fd, and its cancel handler decides what happens to the fd, so no other source is ever
        // registered on it while this one is live.
        let source = DispatchSource.makeWriteSource(fileDescriptor: fd, queue: queue)
        source.setEventHandler { self.connectReady(fd: fd, address: address) }
        source.setCancelHandler { self.connectSourceCancelled(fd: fd, address: address) }
        connectSource = source
        outcome = .abandoned
        source.resume()
    }

    private func connectReady(fd: Int32, address: SocketAddress) {
        guard let source = connectSource else { return }
        connectSource = nil
        let e = Socket.pendingError(fd)
        outcome = e == 0 ? .connected : .failed(connectError(e, address))
        source.cancel()
    }

    private func connectSourceCancelled(fd: Int32, address: SocketAddress) {
        switch outcome {
        case .abandoned:
            Socket.closeDescriptor(fd)
        case .failed(let error):
            Socket.closeDescriptor(fd)
            lastError = error
            connectNext()
        case .connected:
            guard !finished else {
                Socket.closeDescriptor(fd)
                return
            }
            do {
                let connection = try TCPConnection(socket: fd, queue: queue, options: options, remoteAddress: address)
                finish(.success(connection))
            } catch {
                Socket.closeDescriptor(fd)
                lastError = error
                connectNext()
            }
        }
    }

    private func finish(_ result: Result<TCPConnection, TransportError>) {
        guard !finished else { return }
        finished = true
        deadlineTimer?.cancel()
        deadlineTimer = nil
        if let source = connectSource {
            connectSource = nil
            outcome = .abandoned
            source.cancel()  // running since connectNext(), so cancelling is safe
        }
        completion(result)
    }

    private func connectError(_ e: Int32, _ address: SocketAddress) -> TransportError {
        switch e {
        case ECONNREFUSED: return .connectionRefused(address)
        case ENETUNREACH, EHOSTUNREACH, ENETDOWN, EHOSTDOWN, EADDRNOTAVAIL: return .unreachable(address, errno: e)
        case ETIMEDOUT: return .dialTimedOut(target: target, timeoutNanoseconds: timeoutNanoseconds)
        default: return .systemCall(operation: "connect to \(address)", errno: e)
        }
    }
}
