// Tests of the TCP transport (Sources/P2PCore/Transport): addresses, resolution, listener, dialer,
// connection (echo, IPv6, DNS, refused, timeout, 64 MiB both ways, half-close, back-pressure,
// write stall, 200 connections, close from either side, descriptor leaks), timers and clock.
// Loopback only (127.0.0.1 and ::1); every wait is bounded; no timing assertions.
import Dispatch
import Foundation
import Testing

@testable import P2PCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Harness

/// A value delivered once from any thread and awaited with a timeout. State guarded by `lock`.
private final class Promise<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var result: T?
    private var waiters: [Int: CheckedContinuation<T?, Never>] = [:]
    private var nextID = 0

    func fulfill(_ value: T) {
        lock.lock()
        guard result == nil else {
            lock.unlock()
            return
        }
        result = value
        let pending = waiters
        waiters = [:]
        lock.unlock()
        for (_, c) in pending { c.resume(returning: value) }
    }

    var value: T? {
        lock.lock()
        defer { lock.unlock() }
        return result
    }

    /// The value, or nil when `seconds` pass first.
    func wait(_ seconds: Double = 20) async -> T? {
        await withCheckedContinuation { (c: CheckedContinuation<T?, Never>) in
            lock.lock()
            if let result {
                lock.unlock()
                c.resume(returning: result)
                return
            }
            let id = nextID
            nextID += 1
            waiters[id] = c
            lock.unlock()
            DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { self.expire(id) }
        }
    }

    private func expire(_ id: Int) {
        lock.lock()
        let c = waiters.removeValue(forKey: id)
        lock.unlock()
        c?.resume(returning: nil)
    }
}

private final class Counter: @unchecked Sendable {  // guarded by lock
    private let lock = NSLock()
    private var n = 0
    func increment() {
        lock.lock()
        n += 1
        lock.unlock()
    }
    var value: Int {
        lock.lock()
        defer { lock.unlock() }
        return n
    }
}

/// Runs `body` on `queue` and returns its result.
private func onQueue<T: Sendable>(_ queue: DispatchQueue, _ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { c in queue.async { c.resume(returning: body()) } }
}

/// Runs a throwing `body` on `queue` and returns the transport error it threw, if any.
private func errorOnQueue(_ queue: DispatchQueue, _ body: @escaping @Sendable () throws(TransportError) -> Void) async
    -> TransportError?
{
    await onQueue(queue) { () -> TransportError? in
        do throws(TransportError) {
            try body()
            return nil
        } catch {
            return error
        }
    }
}

private struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}


/// Deterministic stream content: chunk k is a window of a random block at a k-dependent offset.
private enum Pattern {
    static let block: [UInt8] = {
        var rng = TestRNG(seed: 0x7A11_5EED)
        return rng.bytes((1 << 20) + 17)
    }()

    static func chunk(_ k: Int, size: Int) -> [UInt8] {
        let start = (k &* 104_729) % (block.count - size)
        return Array(block[start..<(start + size)])
    }
}

/// Test-side handler of one connection. Used only on the connection's queue (callbacks run there,
/// and tests reach it through `onQueue`), which is what makes `@unchecked Sendable` safe.
private final class Endpoint: @unchecked Sendable {
    struct Config: Sendable {
        var keepBytes = true
        var expectedBytes: Int?
        var startPaused = false
        var echo = false
        var onEOF: (@Sendable (TCPConnection) -> Void)?

        /// Echoes everything and closes once the peer has finished sending.
        static let echoServer = Config(echo: true, onEOF: { $0.close() })
    }

    let connection: TCPConnection
    let config: Config
    var received: [UInt8] = []
    var receivedCount = 0
    var hasher = SHA2.Hasher()
    let gotAll = Promise<Int>()
    let eof = Promise<Bool>()
    let closed = Promise<TransportError?>()
    let closeCount = Counter()

    /// Call on `connection.queue`: installs the callbacks and starts the connection.
    init(_ connection: TCPConnection, _ config: Config) {
        self.connection = connection
        self.config = config
        // weak: a test may drop its endpoint while the connection is still open; the connection
        // then closes later (its peer goes away) and must not call into a freed endpoint.
        connection.onRead = { [weak self] chunk in self?.read(chunk) }
        connection.onReadEOF = { [weak self] in
            guard let self else { return }
            self.eof.fulfill(true)
            self.config.onEOF?(self.connection)
        }
        connection.onClose = { [weak self] error in
            guard let self else { return }
            self.closeCount.increment()
            self.closed.fulfill(error)
        }
        if config.startPaused { connection.pauseReading() }
        connection.start()
    }

    private func read(_ chunk: UnsafeRawBufferPointer) {
        receivedCount += chunk.count
        hasher.update(raw: chunk)
        if config.keepBytes { received.append(contentsOf: chunk) }
        if config.echo { try? connection.write(chunk) }
        if let expected = config.expectedBytes, receivedCount >= expected { gotAll.fulfill(receivedCount) }
    }

    var digest: [UInt8] { hasher.finalize() }
}

/// Writes `total` bytes of `Pattern` in `chunkSize` chunks, honouring back-pressure (stops while
/// `isWritable` is false, continues on `onWritable`). Used only on the connection's queue.
private final class Pump: @unchecked Sendable {
    let connection: TCPConnection
    let total: Int
    let chunkSize: Int
    let shutdownWhenDone: Bool
    var sent = 0
    var chunkIndex = 0
    var hasher = SHA2.Hasher()
    let done = Promise<TransportError?>()

    init(_ connection: TCPConnection, total: Int, chunkSize: Int = 64 * 1024, shutdownWhenDone: Bool = false) {
        self.connection = connection
        self.total = total
        self.chunkSize = chunkSize
        self.shutdownWhenDone = shutdownWhenDone
    }

    func run() {
        connection.onWritable = { [weak self] in self?.run() }
        while sent < total && connection.isWritable {
            let chunk = Pattern.chunk(chunkIndex, size: min(chunkSize, total - sent))
            chunkIndex += 1
            do throws(TransportError) {
                try connection.write(chunk)
            } catch {
                done.fulfill(error)
                return
            }
            hasher.update(chunk)
            sent += chunk.count
        }
        if sent == total {
            if shutdownWhenDone { connection.shutdownWrite() }
            done.fulfill(nil)
        }
    }
}

private final class EndpointList: @unchecked Sendable {  // guarded by lock
    private let lock = NSLock()
    private var items: [Endpoint] = []
    func append(_ e: Endpoint) {
        lock.lock()
        items.append(e)
        lock.unlock()
    }
    var all: [Endpoint] {
        lock.lock()
        defer { lock.unlock() }
        return items
    }
}

/// A listener whose accepted connections become `Endpoint`s, and a dial helper.
private final class Harness: Sendable {
    let listener: TCPListener
    let accepted = Promise<Endpoint>()  // the first accepted connection
    let acceptCount = Counter()
    let all = EndpointList()

    init(host: String = "127.0.0.1", listenerOptions: TCPListener.Options = .init(), server: Endpoint.Config = .init())
        throws
    {
        let accepted = self.accepted
        let count = self.acceptCount
        let all = self.all
        listener = try TCPListener(bindTo: try SocketAddress(ipString: host, port: 0), options: listenerOptions) {
            connection in
            let endpoint = Endpoint(connection, server)
            all.append(endpoint)
            count.increment()
            accepted.fulfill(endpoint)
        }
    }

    var port: UInt16 { listener.localAddress.port }

    func close() async {
        let done = Promise<Bool>()
        listener.close { done.fulfill(true) }
        _ = await done.wait()
    }
}

private func dial(
    host: String, port: UInt16, dialer: TCPDialer = TCPDialer(timeout: .seconds(10)), client: Endpoint.Config = .init()
) async -> Result<Endpoint, TransportError>? {
    let result = Promise<Result<Endpoint, TransportError>>()
    dialer.dial(host: host, port: port) { outcome in
        result.fulfill(outcome.map { Endpoint($0, client) })
    }
    return await result.wait()
}

private func connectedPair(
    host: String = "127.0.0.1", listenerOptions: TCPListener.Options = .init(), server: Endpoint.Config = .init(),
    dialer: TCPDialer = TCPDialer(), client: Endpoint.Config = .init()
) async throws -> (Harness, server: Endpoint, client: Endpoint) {
    let harness = try Harness(host: host, listenerOptions: listenerOptions, server: server)
    guard case .success(let c)? = await dial(host: host, port: harness.port, dialer: dialer, client: client) else {
        throw TestFailure("dial to \(host):\(harness.port) failed")
    }
    guard let s = await harness.accepted.wait() else { throw TestFailure("nothing accepted") }
    return (harness, s, c)
}

private func write(_ endpoint: Endpoint, _ bytes: [UInt8]) async -> TransportError? {
    await errorOnQueue(endpoint.connection.queue) { () throws(TransportError) in try endpoint.connection.write(bytes) }
}

private func closeAndWait(_ endpoint: Endpoint) async -> TransportError?? {
    await onQueue(endpoint.connection.queue) { endpoint.connection.close() }
    return await endpoint.closed.wait()
}

private let ipv6LoopbackAvailable: Bool = {
    guard let address = try? SocketAddress(ipString: "::1", port: 0),
        let listener = try? TCPListener(bindTo: address, onAccept: { c in c.queue.async { c.close() } })
    else { return false }
    listener.close()
    return true
}()

// MARK: - Descriptor accounting (Linux /proc)

/// The whole of a /proc file (Foundation's one-shot read stops at the first page of these).
private func readWholeFile(_ path: String) -> String? {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { return nil }
    defer { _ = close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while bytes.count < 64 << 20 {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n <= 0 { break }
        bytes.append(contentsOf: chunk[0..<n])
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// Socket inodes of TCP sockets whose local or remote port is `port` (from /proc/net/tcp and tcp6).
private func socketInodes(port: UInt16) -> Set<String> {
    var inodes = Set<String>()
    for file in ["/proc/net/tcp", "/proc/net/tcp6"] {
        guard let text = readWholeFile(file) else { continue }
        for line in text.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count > 9 else { continue }
            let ports = [fields[1], fields[2]].compactMap { endpoint in
                endpoint.split(separator: ":").last.flatMap { UInt16($0, radix: 16) }
            }
            if ports.contains(port) && fields[9] != "0" { inodes.insert(String(fields[9])) }
        }
    }
    return inodes
}

/// How many of this process's descriptors refer to TCP sockets on `port`.
private func openDescriptors(onPort port: UInt16) -> Int {
    let inodes = socketInodes(port: port)
    guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") else { return -1 }
    var n = 0
    for entry in entries {
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(entry)"),
            target.hasPrefix("socket:[")
        else { continue }
        if inodes.contains(String(target.dropFirst(8).dropLast())) { n += 1 }
    }
    return n
}

/// Polls `condition` every 10 ms for up to `seconds`; true once it holds.
private func eventually(_ seconds: Double = 10, _ condition: () -> Bool) async -> Bool {
    for _ in 0..<Int(seconds * 100) {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return condition()
}

private func totalDescriptors() -> Int {
    (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1
}

// MARK: - Tests

@Suite(.serialized) struct TransportTests {

    // MARK: Addresses and resolution

    @Test func ipAddressParsingAndFormatting() throws {
        let v4 = try #require(IPAddress("192.168.1.20"))
        #expect(v4.family == .v4 && v4.bytes == [192, 168, 1, 20] && v4.description == "192.168.1.20")
        let v6 = try #require(IPAddress("2001:db8::1"))
        #expect(v6.family == .v6 && v6.bytes.count == 16 && v6.description == "2001:db8::1")
        #expect(IPAddress("::1") == .loopbackV6 && IPAddress.loopbackV6.isLoopback)
        #expect(IPAddress("127.0.0.1") == .loopbackV4 && IPAddress("127.9.9.9")?.isLoopback == true)
        #expect(IPAddress("0.0.0.0")?.isUnspecified == true && IPAddress("::")?.isUnspecified == true)
        #expect(IPAddress("fe80::1%7")?.scopeID == 7 && IPAddress("fe80::1%7")?.description == "fe80::1%7")
        for bad in ["", "localhost", "1.2.3", "1.2.3.4.5", "256.1.1.1", "::g", "1.2.3.4%eth0", "fe80::1%", "[::1]",
            "fe80::1%no-such-interface-xyz", String(repeating: "1", count: 100)]
        {
            #expect(IPAddress(bad) == nil, "accepted \(bad)")
        }
        #expect(IPAddress(bytes: [1, 2, 3]) == nil && IPAddress(bytes: Array(repeating: 0, count: 17)) == nil)
        #expect(throws: TransportError.invalidAddress("nope")) { try SocketAddress(ipString: "nope", port: 1) }
        #expect(try SocketAddress(ipString: "10.0.0.1", port: 4001).description == "10.0.0.1:4001")
        #expect(try SocketAddress(ipString: "::1", port: 9222).description == "[::1]:9222")
    }

    @Test func ipAddressRandomizedRoundTripsAndGarbage() throws {
        var rng = TestRNG(seed: 42)
        for i in 0..<2000 {
            let bytes = rng.bytes(i % 2 == 0 ? 4 : 16)
            let ip = try #require(IPAddress(bytes: bytes))
            #expect(ip.bytes == bytes)
            #expect(IPAddress(ip.description) == ip, "round trip of \(ip)")
            let address = SocketAddress(ip: ip, port: UInt16(truncatingIfNeeded: rng.next()))
            let back = address.withSockAddr { SocketAddress($0, length: $1) }
            #expect(back == address)
        }
        let alphabet = Array("0123456789abcdefABCDEF:.%[]x- ".utf8)
        for _ in 0..<5000 {
            let length = Int(rng.next() % 48)
            let utf8 = (0..<length).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }
            let text = String(decoding: utf8, as: UTF8.self)
            if let ip = IPAddress(text) {  // whatever parses must format and re-parse to itself
                #expect(IPAddress(ip.description) == ip)
            }
        }
    }

    @Test func resolverHandlesNumericInvalidAndLocalhost() async throws {
        let queue = DispatchQueue(label: "test.resolver")
        func resolve(
            _ host: String, _ family: AddressFamilyFilter = .any
        ) async -> Result<[SocketAddress], TransportError>? {
            let p = Promise<Result<[SocketAddress], TransportError>>()
            Resolver.resolve(host: host, port: 4001, family: family, timeout: .seconds(10), queue: queue) {
                p.fulfill($0)
            }
            return await p.wait()
        }
        #expect(try await resolve("127.0.0.1")?.get() == [try SocketAddress(ipString: "127.0.0.1", port: 4001)])
        #expect(await resolve("127.0.0.1", .ipv6) == .failure(.dnsNoAddresses(host: "127.0.0.1")))
        guard case .failure(.dnsFailure)? = await resolve("") else { throw TestFailure("empty host accepted") }
        guard case .failure(.dnsFailure)? = await resolve(String(repeating: "a", count: 300)) else {
            throw TestFailure("overlong host accepted")
        }
        let local = try #require(try await resolve("localhost")?.get())
        #expect(!local.isEmpty && local.allSatisfy { $0.ip.isLoopback && $0.port == 4001 })
    }

    // MARK: Listener and dialer

    @Test func echoOverIPv4() async throws {
        let (harness, server, client) = try await connectedPair(server: .echoServer)
        #expect(harness.port != 0)
        #expect(client.connection.remoteAddress == harness.listener.localAddress)
        #expect(server.connection.remoteAddress == client.connection.localAddress)
        #expect(server.connection.localAddress == client.connection.remoteAddress)
        var rng = TestRNG(seed: 1)
        let message = Array("hello p2p".utf8) + rng.bytes(100_000)
        let expectAll = Promise<Int>()
        await onQueue(client.connection.queue) {
            client.connection.onRead = { chunk in
                client.received.append(contentsOf: chunk)
                if client.received.count >= message.count { expectAll.fulfill(client.received.count) }
            }
        }
        #expect(await write(client, message) == nil)
        #expect(await expectAll.wait() == message.count)
        #expect(await onQueue(client.connection.queue) { client.received } == message)
        #expect(await closeAndWait(client) == .some(nil))
        #expect(await server.closed.wait() == .some(nil))  // the echo server closes on EOF
        await harness.close()
    }

    /// `onReadInPlace` keeps what the handler leaves and presents it again before new bytes; a
    /// handler that needs more than the buffer holds (here: 300 KB records, 128 KiB buffer) makes
    /// it grow. The handler consumes whole records only and scribbles over them (in place).
    @Test func readInPlaceKeepsUnconsumedBytesAndGrows() async throws {
        let (harness, server, client) = try await connectedPair(server: .echoServer)
        var rng = TestRNG(seed: 77)
        let message = rng.bytes(1_000_000)
        let expectAll = Promise<Int>()
        await onQueue(client.connection.queue) {
            client.connection.onReadInPlace = { buffer in
                var used = 0
                while true {
                    // 1 000-byte records up to 300 000 bytes, then two of 350 000.
                    let record = client.received.count < 300_000 ? 1000 : 350_000
                    guard buffer.count - used >= record else { break }
                    client.received.append(contentsOf: buffer[used..<(used + record)])
                    buffer[used..<(used + record)].initializeMemory(as: UInt8.self, repeating: 0xEE)
                    used += record
                }
                if client.received.count == message.count { expectAll.fulfill(message.count) }
                return used
            }
        }
        #expect(await write(client, message) == nil)
        #expect(await expectAll.wait() == message.count)
        #expect(await onQueue(client.connection.queue) { client.received } == message)
        #expect(await closeAndWait(client) == .some(nil))
        await harness.close()
    }

    @Test(.enabled(if: ipv6LoopbackAvailable, "this machine has no ::1"))
    func echoOverIPv6() async throws {
        let (harness, server, client) = try await connectedPair(host: "::1", server: .echoServer)
        #expect(harness.listener.localAddress.ip == .loopbackV6)
        #expect(client.connection.remoteAddress.ip.family == .v6)
        let expectAll = Promise<Int>()
        await onQueue(client.connection.queue) {
            client.connection.onRead = { chunk in
                client.received.append(contentsOf: chunk)
                if client.received.count >= 5 { expectAll.fulfill(client.received.count) }
            }
        }
        #expect(await write(client, Array("ipv6!".utf8)) == nil)
        #expect(await expectAll.wait() == 5)
        #expect(await onQueue(client.connection.queue) { client.received } == Array("ipv6!".utf8))
        #expect(await closeAndWait(client) == .some(nil))
        #expect(await server.closed.wait() == .some(nil))
        await harness.close()
    }

    @Test func dialLocalhostByName() async throws {
        // "localhost" may resolve to ::1 first; the listener is IPv4-only, so this also checks that
        // the dialer moves on to the next address after a refusal.
        let harness = try Harness(host: "127.0.0.1")
        let result = await dial(host: "localhost", port: harness.port)
        guard case .success(let c)? = result else { throw TestFailure("dial localhost: \(String(describing: result))") }
        #expect(c.connection.remoteAddress == harness.listener.localAddress)
        let s = try #require(await harness.accepted.wait())
        _ = await closeAndWait(c)
        _ = await closeAndWait(s)
        await harness.close()
    }

    @Test func dialClosedPortIsRefused() async throws {
        let harness = try Harness()
        let port = harness.port
        await harness.close()
        let result = await dial(host: "127.0.0.1", port: port)
        let refused = TransportError.connectionRefused(try SocketAddress(ipString: "127.0.0.1", port: port))
        #expect(result.map { r in r.map { _ in 0 } } == .failure(refused))
    }

    @Test func listenerReportsAddressInUse() async throws {
        let harness = try Harness()
        let taken = harness.listener.localAddress
        #expect(throws: TransportError.addressInUse(taken)) { try TCPListener(bindTo: taken, onAccept: { _ in }) }
        await harness.close()
    }

    /// A raw listener with backlog 0 that never accepts: once its accept queue holds one connection
    /// the kernel drops further SYNs, so a dial can only end by its own timeout. Loopback only.
    @Test func dialTimesOutAgainstFullBacklog() async throws {
        let fd = try Socket.makeTCPSocket(family: AF_INET)
        defer { Socket.closeDescriptor(fd) }
        let address = try SocketAddress(ipString: "127.0.0.1", port: 0)
        try #require(address.withSockAddr { bind(fd, $0, $1) } == 0)
        try #require(listen(fd, 0) == 0)
        let port = try Socket.localAddress(fd).port
        let dialer = TCPDialer(timeout: .milliseconds(300))
        var filled: [Endpoint] = []
        var timedOut = false
        while !timedOut && filled.count < 8 {
            switch await dial(host: "127.0.0.1", port: port, dialer: dialer) {
            case .success(let e)?: filled.append(e)
            case .failure(.dialTimedOut(let target, let ns))?:
                #expect(target == "127.0.0.1:\(port)" && ns == 300_000_000)
                timedOut = true
            case let other:
                Issue.record("unexpected dial result \(String(describing: other))")
                timedOut = true
            }
        }
        #expect(timedOut, "no dial timed out after \(filled.count) connections filled the backlog")
        for e in filled { _ = await closeAndWait(e) }
    }

    @Test func dialCanBeCancelled() async throws {
        let result = Promise<Result<TCPConnection, TransportError>>()
        // A full backlog again keeps the connect pending, so only the cancel can end it.
        let fd = try Socket.makeTCPSocket(family: AF_INET)
        defer { Socket.closeDescriptor(fd) }
        try #require(try SocketAddress(ipString: "127.0.0.1", port: 0).withSockAddr { bind(fd, $0, $1) } == 0)
        try #require(listen(fd, 0) == 0)
        let port = try Socket.localAddress(fd).port
        var fillers: [Endpoint] = []
        for _ in 0..<2 {
            let quick = TCPDialer(timeout: .milliseconds(200))
            if case .success(let e)? = await dial(host: "127.0.0.1", port: port, dialer: quick) { fillers.append(e) }
        }
        let attempt = TCPDialer(timeout: .seconds(10)).dial(host: "127.0.0.1", port: port) { result.fulfill($0) }
        attempt.cancel()
        guard case .failure(let error)? = await result.wait() else {
            throw TestFailure("cancelled dial did not finish")
        }
        #expect(error == .dialCancelled)
        for e in fillers { _ = await closeAndWait(e) }
    }

    // MARK: Data transfer

    @Test func transfer64MiBBothDirectionsConcurrently() async throws {
        let total = 64 << 20
        let (harness, server, client) = try await connectedPair(
            server: .init(keepBytes: false, expectedBytes: total),
            client: .init(keepBytes: false, expectedBytes: total))
        let clientPump = Pump(client.connection, total: total)
        let serverPump = Pump(server.connection, total: total)
        var meter = Throughput()
        client.connection.queue.async { clientPump.run() }
        server.connection.queue.async { serverPump.run() }
        #expect(await clientPump.done.wait(60) == .some(nil))
        #expect(await serverPump.done.wait(60) == .some(nil))
        #expect(await server.gotAll.wait(60) == total)
        #expect(await client.gotAll.wait(60) == total)
        meter.add(2 * total)
        meter.stop()
        print("transport: 64 MiB each way concurrently (debug build): \(meter)")
        let sentByClient = await onQueue(client.connection.queue) { clientPump.hasher.finalize() }
        let sentByServer = await onQueue(server.connection.queue) { serverPump.hasher.finalize() }
        #expect(await onQueue(server.connection.queue) { server.receivedCount } == total)
        #expect(await onQueue(server.connection.queue) { server.digest } == sentByClient)
        #expect(await onQueue(client.connection.queue) { client.receivedCount } == total)
        #expect(await onQueue(client.connection.queue) { client.digest } == sentByServer)
        _ = await closeAndWait(client)
        _ = await closeAndWait(server)
        await harness.close()
    }

    @Test func writeContentsOfSeveralBuffersKeepsOrder() async throws {
        let (harness, server, client) = try await connectedPair(server: .init(expectedBytes: 10 + 100 * 1000))
        let buffers = [Array("0123456789".utf8)] + (0..<100).map { Pattern.chunk($0, size: 1000) }
        let error = await errorOnQueue(client.connection.queue) { () throws(TransportError) in
            try client.connection.write(contentsOf: buffers)
        }
        #expect(error == nil)
        #expect(await server.gotAll.wait() == 10 + 100 * 1000)
        #expect(await onQueue(server.connection.queue) { server.received } == buffers.flatMap { $0 })
        _ = await closeAndWait(client)
        _ = await closeAndWait(server)
        await harness.close()
    }

    @Test func halfCloseKeepsTheOtherDirectionOpen() async throws {
        // The server answers after the client's FIN, then half-closes too; both sides then close
        // themselves with no error.
        let server = Endpoint.Config(onEOF: { connection in
            try? connection.write(Array("world".utf8))
            connection.shutdownWrite()
        })
        let (harness, s, c) = try await connectedPair(server: server)
        #expect(await write(c, Array("hello".utf8)) == nil)
        let afterShutdown = await errorOnQueue(c.connection.queue) { () throws(TransportError) in
            c.connection.shutdownWrite()
            try c.connection.write([1])
        }
        #expect(afterShutdown == .writeAfterShutdown)
        #expect(await onQueue(c.connection.queue) { c.connection.isWritable } == false)
        #expect(await s.eof.wait() == true)
        #expect(await onQueue(s.connection.queue) { s.received } == Array("hello".utf8))
        #expect(await c.eof.wait() == true)
        #expect(await onQueue(c.connection.queue) { c.received } == Array("world".utf8))
        #expect(await c.closed.wait() == .some(nil))
        #expect(await s.closed.wait() == .some(nil))
        #expect(await write(c, [1]) == .closed)
        await harness.close()
    }

    // MARK: Back-pressure, limits, stalls

    @Test func backPressureTurnsWritableOffThenOnWritableAfterResume() async throws {
        let small = TCPConnection.Options(
            writeHighWatermark: 256 * 1024, writeLowWatermark: 64 * 1024, writeBufferLimit: 1 << 20,
            socketSendBufferSize: 64 * 1024, socketReceiveBufferSize: 64 * 1024)
        let (harness, s, c) = try await connectedPair(
            listenerOptions: .init(connection: small), server: .init(keepBytes: false, startPaused: true),
            dialer: TCPDialer(connectionOptions: small))
        let writable = Promise<Bool>()
        let fill = await onQueue(c.connection.queue) { () -> (written: Int, blocked: Bool, overCap: TransportError?) in
            c.connection.onWritable = { writable.fulfill(true) }
            var written = 0
            var k = 0
            while c.connection.isWritable && written < 64 << 20 {
                let chunk = Pattern.chunk(k, size: 64 * 1024)
                k += 1
                do throws(TransportError) { try c.connection.write(chunk) } catch { return (written, false, error) }
                written += chunk.count
            }
            var overCap: TransportError?
            do throws(TransportError) {
                try c.connection.write([UInt8](repeating: 0, count: 1 << 20))
            } catch { overCap = error }
            return (written, !c.connection.isWritable, overCap)
        }
        #expect(fill.blocked, "isWritable never turned false after \(fill.written) bytes")
        guard case .writeBufferFull(_, let attempted, let limit)? = fill.overCap else {
            throw TestFailure("write past the hard cap was accepted: \(String(describing: fill.overCap))")
        }
        #expect(attempted == 1 << 20 && limit == 1 << 20)
        #expect(await onQueue(s.connection.queue) { s.receivedCount } == 0)  // paused: nothing delivered
        #expect(writable.value == nil)
        await onQueue(s.connection.queue) { s.connection.resumeReading() }
        #expect(await writable.wait() == true)
        let drained = Promise<Int>()
        let target = fill.written
        await onQueue(s.connection.queue) {
            if s.receivedCount >= target { drained.fulfill(s.receivedCount) }
            s.connection.onRead = { chunk in
                s.receivedCount += chunk.count
                if s.receivedCount >= target { drained.fulfill(s.receivedCount) }
            }
        }
        #expect(await drained.wait() == fill.written)
        #expect(await onQueue(c.connection.queue) { c.connection.isWritable })
        _ = await closeAndWait(c)
        _ = await closeAndWait(s)
        await harness.close()
    }

    @Test func peerThatNeverReadsIsDroppedAfterStallTimeout() async throws {
        let stalling = TCPConnection.Options(
            writeHighWatermark: 128 * 1024, writeLowWatermark: 32 * 1024, writeStallTimeout: .milliseconds(300),
            socketSendBufferSize: 32 * 1024)
        let (harness, s, c) = try await connectedPair(
            listenerOptions: .init(connection: .init(socketReceiveBufferSize: 32 * 1024)),
            server: .init(keepBytes: false, startPaused: true), dialer: TCPDialer(connectionOptions: stalling))
        let pump = Pump(c.connection, total: 64 << 20)
        c.connection.queue.async { pump.run() }
        guard case .some(.some(.writeStalled(let buffered, let ns))) = await c.closed.wait() else {
            throw TestFailure("the stalled connection was not closed with .writeStalled")
        }
        #expect(buffered > 0 && ns == 300_000_000)
        #expect(c.closeCount.value == 1)
        _ = await closeAndWait(s)
        await harness.close()
    }

    // MARK: Scale, close, leaks

    @Test func twoHundredConcurrentConnections() async throws {
        let harness = try Harness(server: .echoServer)
        let count = 200
        let allEchoed = Promise<Int>()
        let echoed = Counter()
        let failures = Counter()
        let closed = Counter()
        let allClosed = Promise<Int>()
        for i in 0..<count {
            let message = Array("connection \(i) ".utf8) + Pattern.chunk(i, size: 1000)
            TCPDialer().dial(host: "127.0.0.1", port: harness.port) { result in
                guard case .success(let connection) = result else {
                    failures.increment()
                    return
                }
                var received: [UInt8] = []
                connection.onRead = { chunk in
                    received.append(contentsOf: chunk)
                    if received.count == message.count {
                        if received == message { echoed.increment() } else { failures.increment() }
                        if echoed.value == count { allEchoed.fulfill(count) }
                        connection.close()
                    }
                }
                connection.onClose = { _ in
                    closed.increment()
                    if closed.value == count { allClosed.fulfill(count) }
                }
                connection.start()
                try? connection.write(message)
            }
        }
        #expect(await allEchoed.wait(60) == count, "echoed \(echoed.value), failures \(failures.value)")
        #expect(await allClosed.wait(60) == count)
        #expect(failures.value == 0 && harness.acceptCount.value == count)
        await harness.close()
        #expect(await eventually { openDescriptors(onPort: harness.port) == 0 })  // the echo servers closed on EOF
    }

    @Test func closeFromEitherSideCallsOnCloseExactlyOnce() async throws {
        for clientClosesFirst in [true, false] {
            let (harness, s, c) = try await connectedPair()
            let (first, second) = clientClosesFirst ? (c, s) : (s, c)
            #expect(await closeAndWait(first) == .some(nil))
            #expect(await second.eof.wait() == true)  // the other side sees EOF, can still write, then closes
            #expect(await closeAndWait(second) == .some(nil))
            for e in [first, second] {
                await onQueue(e.connection.queue) {
                    e.connection.close()
                    e.connection.close()
                }
                await onQueue(e.connection.queue) {}  // anything queued by the extra closes has run
                #expect(e.closeCount.value == 1)
                #expect(await write(e, [1]) == .closed)
                #expect(await onQueue(e.connection.queue) { e.connection.isWritable } == false)
            }
            await harness.close()
        }
    }

    @Test func closingWithUnreadDataResetsThePeer() async throws {
        let (harness, s, c) = try await connectedPair(server: .init(startPaused: true))
        #expect(await write(c, Pattern.chunk(0, size: 10_000)) == nil)
        try await Task.sleep(for: .milliseconds(50))  // let the bytes land in the server's receive buffer
        #expect(await closeAndWait(s) == .some(nil))  // unread data: the kernel answers with RST
        #expect(await c.closed.wait() == .some(.connectionReset))
        #expect(c.closeCount.value == 1)
        await harness.close()
    }

    @Test func unstartedConnectionClosesItsDescriptors() async throws {
        let harness = try Harness()
        let port = harness.port
        let closed = Promise<TransportError?>()
        let dialed = Promise<Bool>()
        TCPDialer().dial(host: "127.0.0.1", port: port) { result in
            guard case .success(let connection) = result else { return }
            connection.onClose = { closed.fulfill($0) }
            connection.close()  // never started
            dialed.fulfill(true)
        }
        #expect(await dialed.wait() == true)
        #expect(await closed.wait() == .some(nil))
        let s = try #require(await harness.accepted.wait())
        _ = await closeAndWait(s)
        await harness.close()
        #expect(openDescriptors(onPort: port) == 0)
    }

    @Test func writesBeforeStartAndShutdownAfterBufferedDataAreDelivered() async throws {
        // 8 MiB written before start() and a half-close requested while most of it is still buffered:
        // everything arrives, in order, followed by EOF.
        let total = 8 << 20
        let harness = try Harness(server: .init(keepBytes: false, expectedBytes: total))
        let sentDigest = Promise<[UInt8]>()
        let clientClosed = Promise<TransportError?>()
        TCPDialer(connectionOptions: .init(writeHighWatermark: 16 << 20)).dial(host: "127.0.0.1", port: harness.port) {
            result in
            guard case .success(let connection) = result else { return }
            var hasher = SHA2.Hasher()
            for k in 0..<(total / 65536) {
                let chunk = Pattern.chunk(k, size: 65536)
                hasher.update(chunk)
                try? connection.write(chunk)
            }
            sentDigest.fulfill(hasher.finalize())
            connection.shutdownWrite()
            connection.onReadEOF = { connection.close() }
            connection.onClose = { clientClosed.fulfill($0) }
            connection.start()
        }
        let server = try #require(await harness.accepted.wait())
        #expect(await server.eof.wait() == true)
        #expect(await onQueue(server.connection.queue) { server.receivedCount } == total)
        #expect(await onQueue(server.connection.queue) { server.digest } == sentDigest.value)
        #expect(await closeAndWait(server) == .some(nil))
        #expect(await clientClosed.wait() == .some(nil))
        await harness.close()
    }

    @Test func droppedUnstartedConnectionReleasesItsDescriptors() async throws {
        let harness = try Harness()
        let port = harness.port
        let dropped = Promise<Bool>()
        TCPDialer().dial(host: "127.0.0.1", port: port) { result in
            if case .success = result { dropped.fulfill(true) }  // the connection is dropped here
        }
        #expect(await dropped.wait() == true)
        let server = try #require(await harness.accepted.wait())
        #expect(await server.eof.wait() == true)  // deinit closed the client's descriptors
        _ = await closeAndWait(server)
        await harness.close()
        #expect(openDescriptors(onPort: port) == 0)
    }

    @Test func noDescriptorLeak() async throws {
        let totalBefore = totalDescriptors()
        let harness = try Harness(server: .echoServer)
        let port = harness.port
        #expect(openDescriptors(onPort: port) == 1)
        let n = 20
        var clients: [Endpoint] = []
        for _ in 0..<n {
            guard case .success(let c)? = await dial(host: "127.0.0.1", port: port) else {
                throw TestFailure("dial failed")
            }
            clients.append(c)
        }
        #expect(await eventually { harness.acceptCount.value == n })
        // The listener, and per connection on each side the socket and the dup for its write source.
        #expect(openDescriptors(onPort: port) == 1 + 4 * n)
        for c in clients { #expect(await closeAndWait(c) == .some(nil)) }
        for s in harness.all.all { #expect(await s.closed.wait() == .some(nil)) }  // echo servers close on EOF
        await harness.close()
        #expect(openDescriptors(onPort: port) == 0)
        #expect(harness.all.all.allSatisfy { $0.closeCount.value == 1 })
        #expect(clients.allSatisfy { $0.closeCount.value == 1 })
        // Informational only: other suites may open files concurrently in this process.
        print("transport: process descriptors before \(totalBefore), after \(totalDescriptors())")
    }

    // MARK: Timers, clock, throughput

    @Test func queueTimerFiresCancelsAndRepeats() async throws {
        let queue = DispatchQueue(label: "test.timer")
        let timer = await onQueue(queue) { QueueTimer(queue: queue) }
        let fired = Promise<Bool>()
        let cancelledFired = Counter()
        await onQueue(queue) {
            timer.schedule(after: .milliseconds(20)) { cancelledFired.increment() }
            timer.cancel()
            #expect(!timer.isScheduled)
            timer.schedule(after: .milliseconds(10)) { fired.fulfill(true) }
        }
        #expect(await fired.wait() == true)
        let ticks = Counter()
        let threeTicks = Promise<Bool>()
        await onQueue(queue) {
            timer.schedule(after: .milliseconds(5), repeating: .milliseconds(5)) {
                ticks.increment()
                if ticks.value == 3 {
                    timer.cancel()
                    threeTicks.fulfill(true)
                }
            }
        }
        #expect(await threeTicks.wait() == true)
        try await Task.sleep(for: .milliseconds(50))
        #expect(ticks.value == 3 && cancelledFired.value == 0)
        #expect(await onQueue(queue) { timer.isScheduled } == false)
    }

    @Test func systemClockAndDurations() {
        let clock = SystemClock()
        let a = clock.now()
        let b = clock.now()
        #expect(b >= a)
        #expect(clock.unixSeconds() > 1_600_000_000)
        #expect(Duration.milliseconds(1500).clampedNanoseconds == 1_500_000_000)
        #expect(Duration.nanoseconds(-5).clampedNanoseconds == 0)
        #expect(Duration.seconds(Int64.max).clampedNanoseconds == .max)
        var meter = Throughput(clock: clock)
        meter.add(1_000_000)
        meter.add(-3)
        meter.stop()
        #expect(meter.bytes == 1_000_000 && meter.description.hasSuffix("MB/s"))
    }

    @Test func writeBufferRingMatchesReferenceModel() {
        var rng = TestRNG(seed: 7)
        let ring = WriteBuffer(limit: 200_000)
        var model: [UInt8] = []
        for step in 0..<3000 {
            if rng.next() % 3 != 0 && model.count < 150_000 {
                let parts = (0..<Int(rng.next() % 3) + 1).map { _ in rng.bytes(Int(rng.next() % 5000)) }
                let total = parts.reduce(0) { $0 + $1.count }
                let skip = total == 0 ? 0 : Int(rng.next() % UInt64(total))
                Self.withRegions(parts) { ring.append($0, skip: skip, total: total) }
                model.append(contentsOf: parts.flatMap { $0 }.dropFirst(skip))
            } else {
                Self.consumeSome(ring, &model, &rng)
            }
            guard Self.ringMatches(ring, model, limit: 200_000, step: step) else { return }
        }
    }

    /// Consumes a random prefix of the ring and of its model.
    private static func consumeSome(_ ring: WriteBuffer, _ model: inout [UInt8], _ rng: inout TestRNG) {
        let n = model.isEmpty ? 0 : Int(rng.next() % UInt64(model.count + 1))
        ring.consume(n)
        model.removeFirst(n)
    }

    /// Whether the ring holds exactly `model` within its limit (recording the failure).
    private static func ringMatches(_ ring: WriteBuffer, _ model: [UInt8], limit: Int, step: Int) -> Bool {
        // memcmp, not arrays: this runs 3,000 times per test on up to 300 KB, in a debug build.
        let same = ring.count == model.count && model.withUnsafeBytes { m in
            ring.withReadableRegions { a, b in
                a.count + b.count == m.count
                    && (a.isEmpty || memcmp(a.baseAddress!, m.baseAddress!, a.count) == 0)  // safe: non-empty buffers have a base
                    && (b.isEmpty || memcmp(b.baseAddress!, m.baseAddress! + a.count, b.count) == 0)  // safe: as above
            }
        }
        #expect(same, "step \(step)")
        #expect(ring.capacity <= limit)
        return same
    }

    /// `n` random bytes, eight per draw (`SplitMix64.bytes` draws one per byte: slow in debug for 70 KB).
    private static func wideRandomBytes(_ n: Int, _ rng: inout TestRNG) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: n)
        out.withUnsafeMutableBytes { buf in
            var i = 0
            while i < n {
                var word = rng.next()
                let take = min(8, n - i)
                withUnsafeBytes(of: &word) { buf.baseAddress!.advanced(by: i).copyMemory(from: $0.baseAddress!, byteCount: take) }  // safe: n > 0 here
                i += take
            }
        }
        return out
    }

    /// `reserve`/`commit` (the sealer's path) mixed with copying appends and partial consumes: every
    /// reservation is contiguous and at least as large as asked, contents match a plain array.
    @Test func writeBufferReservationsMatchReferenceModel() {
        var rng = TestRNG(seed: 0xB1B)
        let ring = WriteBuffer(limit: 300_000)
        var model: [UInt8] = []
        for step in 0..<3000 {
            let op = model.count < 200_000 ? rng.next() % 4 : 3
            switch op {
            case 0, 1:
                let bytes = Self.wideRandomBytes(Int(rng.next() % 70_000) + 1, &rng)
                let space = ring.reserve(bytes.count + 16)
                #expect(space.count >= bytes.count + 16, "step \(step)")
                guard space.count >= bytes.count else { return }
                bytes.withUnsafeBytes { space.copyMemory(from: $0) }
                ring.commit(bytes.count)
                model += bytes
            case 2:
                let bytes = rng.bytes(Int(rng.next() % 3000))
                bytes.withUnsafeBytes { ring.append(CollectionOfOne($0), total: bytes.count) }
                model += bytes
            default:
                Self.consumeSome(ring, &model, &rng)
            }
            guard Self.ringMatches(ring, model, limit: 300_000, step: step) else { return }
        }
        ring.consume(ring.count)
        ring.releaseStorageIfIdle()
        #expect(ring.capacity == 0 && ring.isEmpty)
    }

    /// `write(capacity:_:)` output goes out in order with ordinary writes; the hard cap refuses a
    /// reservation without calling `fill`; after `idleBufferRelease` without traffic both buffers
    /// are freed, and the connection works as before when traffic resumes.
    @Test func writeInPlaceKeepsOrderAndIdleBuffersAreReleased() async throws {
        let (harness, server, client) = try await connectedPair(server: .echoServer)
        var rng = TestRNG(seed: 5150)
        let parts = (0..<40).map { _ in rng.bytes(Int(rng.next() % 40_000) + 1) }
        let expected = parts.reduce(0) { $0 + $1.count }
        let expectAll = Promise<Int>()
        await onQueue(client.connection.queue) {
            client.connection.onRead = { chunk in
                client.received.append(contentsOf: chunk)
                if client.received.count >= expected { expectAll.fulfill(client.received.count) }
            }
        }
        let error = await errorOnQueue(client.connection.queue) { () throws(TransportError) in
            for (i, part) in parts.enumerated() {
                if i % 2 == 0 {
                    try client.connection.write(part)
                } else {
                    try client.connection.write(capacity: part.count + 10) { out in
                        part.withUnsafeBytes { out.copyMemory(from: $0) }
                        return part.count
                    }
                }
            }
        }
        #expect(error == nil)
        #expect(await expectAll.wait() == expected)
        #expect(await onQueue(client.connection.queue) { client.received } == parts.flatMap { $0 })
        let refused = await errorOnQueue(client.connection.queue) { () throws(TransportError) in
            try client.connection.write(capacity: client.connection.options.writeBufferLimit + 1) { _ in
                Issue.record("fill called past the hard cap")
                return 0
            }
        }
        if case .writeBufferFull? = refused {} else { Issue.record("expected writeBufferFull, got \(String(describing: refused))") }
        #expect(await onQueue(server.connection.queue) { server.connection.bufferCapacities.read } > 0)
        try await Task.sleep(for: TCPConnection.idleBufferRelease + .milliseconds(400))
        #expect(await onQueue(client.connection.queue) { client.connection.bufferCapacities } == (0, 0))
        #expect(await onQueue(server.connection.queue) { server.connection.bufferCapacities } == (0, 0))
        let again = Promise<Int>()
        await onQueue(client.connection.queue) {
            client.received = []
            client.connection.onRead = { chunk in
                client.received.append(contentsOf: chunk)
                if client.received.count >= 3 { again.fulfill(client.received.count) }
            }
        }
        #expect(await write(client, [1, 2, 3]) == nil)
        #expect(await again.wait() == 3)
        #expect(await closeAndWait(client) == .some(nil))
        #expect(await server.closed.wait() == .some(nil))  // the echo server closes on EOF
        await harness.close()
    }

    private static func withRegions(_ parts: [[UInt8]], _ body: ([UnsafeRawBufferPointer]) -> Void) {
        func nest(_ i: Int, _ acc: [UnsafeRawBufferPointer]) {
            guard i < parts.count else { return body(acc) }
            parts[i].withUnsafeBytes { nest(i + 1, acc + [$0]) }
        }
        nest(0, [])
    }
}
