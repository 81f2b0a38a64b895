import Dispatch
import Foundation
import Testing
@testable import P2PCore

/// A raw client that speaks the upgrade by hand with the sans-IO cores, so tests can misbehave
/// at any layer.
private final class RawPeer: @unchecked Sendable {  // safe: `state` is behind a lock; conn is used on its queue
    let conn: TCPConnection
    private let state = Locked((inbox: [UInt8](), closed: false))

    private init(_ conn: TCPConnection) {
        self.conn = conn
        conn.onRead = { [state] buf in state.withLock { $0.inbox += Array(buf) } }
        conn.onReadEOF = { [state] in state.withLock { $0.closed = true } }
        conn.onClose = { [state] _ in state.withLock { $0.closed = true } }
        conn.start()
    }

    static func connect(_ host: P2PHost) async throws -> RawPeer {
        let addr = try #require(host.listenAddresses.first)
        guard case .tcp(let port) = addr.components[1] else { throw HostError.invalidAddress("\(addr)") }
        let r: Result<TCPConnection, TransportError> = await withCheckedContinuation { c in
            TCPDialer().dial(host: "127.0.0.1", port: port) { c.resume(returning: $0) }
        }
        let conn = try r.get()
        return await withCheckedContinuation { c in conn.queue.async { c.resume(returning: RawPeer(conn)) } }
    }

    func send(_ bytes: [UInt8]) { conn.queue.async { try? self.conn.write(bytes) } }
    var isClosed: Bool { state.withLock { $0.closed } }

    /// Waits for at least one byte (or close); returns and clears what arrived.
    func read(timeout: Double = 5) async -> [UInt8] {
        let deadline = Date().addingTimeInterval(timeout)
        func take() -> [UInt8]? {
            state.withLock { s -> [UInt8]? in
                if !s.inbox.isEmpty { defer { s.inbox = [] }; return s.inbox }
                return s.closed ? [] : nil
            }
        }
        while Date() < deadline {
            if let got = take() { return got }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return take() ?? []  // once more: the task may have slept through the deadline
    }

    /// Waits until the host closed this connection.
    func waitClosed(timeout: Double = 5) async -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if isClosed { return true }
            _ = state.withLock { $0.inbox = [] }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return isClosed
    }

    func close() { conn.queue.async { self.conn.close() } }

    /// multistream /noise → Noise XX → multistream /yamux/1.0.0, by hand.
    func upgrade(identity: PrivateKey = .generate(.secp256k1)) async throws -> NoiseSession {
        var ms = try MultistreamDialer(protocols: ["/noise"])
        send(ms.takeOutbound())
        var leftover: [UInt8] = []
        while true {
            let b = await read()
            guard !b.isEmpty else { throw HostError.connectionClosed }
            if case .selected(_, let l) = try ms.receive(b) { leftover = l; break }
        }
        var hs = NoiseHandshake(role: .initiator, identity: identity)
        send(hs.takeOutbound())
        var result = try hs.receive(leftover)
        while result == nil {
            let b = await read()
            guard !b.isEmpty else { throw HostError.connectionClosed }
            result = try hs.receive(b)
        }
        send(hs.takeOutbound())
        var session = try #require(result).session
        var mux = try MultistreamDialer(protocols: ["/yamux/1.0.0"])
        send(try session.encrypt(mux.takeOutbound()))
        while true {
            let b = await read()
            guard !b.isEmpty else { throw HostError.connectionClosed }
            if case .selected = try mux.receive(try session.decrypt(b)) { break }
        }
        return session
    }
}

/// The node survives hostile peers at every layer: it closes that connection and keeps serving
/// others.
@Suite(.serialized) struct HostHostileInputTests {
    static func host(_ tweak: (inout HostConfig) -> Void = { _ in }) throws -> P2PHost {
        var config = HostConfig(identity: .generate(.secp256k1))
        tweak(&config)
        let h = P2PHost(config: config)
        h.setStreamHandler("/echo") { s in
            var got: [UInt8] = []
            s.onData = { got += $0 }
            s.onRemoteClose = { s.write(got); s.closeWrite() }
        }
        try h.listen(on: try Multiaddr("/ip4/127.0.0.1/tcp/0"))
        return h
    }

    /// A well-behaved client still gets served.
    static func stillServes(_ h: P2PHost) async throws {
        let client = P2PHost(config: HostConfig(identity: .generate(.secp256k1)))
        defer { client.close() }
        let addr = try #require(h.listenAddresses.first).appending(.p2p(h.peerID))
        _ = try await client.connect(addr)
        let s = try await client.newStream(to: h.peerID, protocols: ["/echo"])
        s.send([1, 2, 3], closeWrite: true)
        #expect(try await s.readToEnd(limit: 10) == [1, 2, 3])
    }

    @Test func garbageBeforeHandshake() async throws {
        let h = try Self.host()
        defer { h.close() }
        let raw = try await RawPeer.connect(h)
        raw.send(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8) + secureRandomBytes(512))
        #expect(await raw.waitClosed())
        try await Self.stillServes(h)
    }

    @Test func garbageDuringHandshake() async throws {
        let h = try Self.host()
        defer { h.close() }
        let raw = try await RawPeer.connect(h)
        var ms = try MultistreamDialer(protocols: ["/noise"])
        raw.send(ms.takeOutbound())
        _ = await raw.read()
        // Message 1 is an unauthenticated ephemeral key: any 32+ bytes pass. Message 3 does
        // not: a maximum-size frame of garbage must end the connection.
        raw.send([0x00, 0x40] + secureRandomBytes(64))
        _ = await raw.read()
        raw.send([0xff, 0xff] + secureRandomBytes(65535))
        #expect(await raw.waitClosed())
        try await Self.stillServes(h)
    }

    @Test func stalledHandshakeTimesOut() async throws {
        let h = try Self.host { $0.upgradeTimeout = .milliseconds(300) }
        defer { h.close() }
        let raw = try await RawPeer.connect(h)
        var ms = try MultistreamDialer(protocols: ["/noise"])
        raw.send(ms.takeOutbound())
        _ = await raw.read()
        raw.send([0x00, 0x40] + secureRandomBytes(10))   // half a message, then silence
        #expect(await raw.waitClosed(timeout: 3))
        try await Self.stillServes(h)
    }

    @Test func bogusTransportFrameAfterHandshake() async throws {
        let h = try Self.host()
        defer { h.close() }
        let raw = try await RawPeer.connect(h)
        _ = try await raw.upgrade()
        // A frame shorter than the 16-byte tag, then a full-size frame that fails authentication.
        raw.send([0x00, 0x05, 1, 2, 3, 4, 5])
        #expect(await raw.waitClosed())
        let raw2 = try await RawPeer.connect(h)
        _ = try await raw2.upgrade()
        raw2.send([0xff, 0xff] + secureRandomBytes(65535))
        #expect(await raw2.waitClosed())
        try await Self.stillServes(h)
    }

    @Test func yamuxFrameForUnknownStream() async throws {
        let h = try Self.host()
        defer { h.close() }
        let raw = try await RawPeer.connect(h)
        var session = try await raw.upgrade()
        let frame = YamuxFrameHeader(type: .data, flags: [], streamID: 99, length: 4).encoded + [1, 2, 3, 4]
        raw.send(try session.encrypt(frame))
        #expect(await raw.waitClosed())
        try await Self.stillServes(h)
    }

    @Test func windowOverrun() async throws {
        let h = try Self.host()
        defer { h.close() }
        let raw = try await RawPeer.connect(h)
        var session = try await raw.upgrade()
        var out = YamuxFrameHeader(type: .windowUpdate, flags: .syn, streamID: 1, length: 0).encoded
        // One 300 KiB data frame against the 256 KiB initial window.
        out += YamuxFrameHeader(type: .data, flags: [], streamID: 1, length: 300 * 1024).encoded
        out += [UInt8](repeating: 0x41, count: 300 * 1024)
        raw.send(try session.encrypt(out))
        #expect(await raw.waitClosed())
        try await Self.stillServes(h)
    }

    @Test func moreStreamsThanTheLimit() async throws {
        let h = try Self.host { $0.yamux.maxInboundStreams = 8; $0.yamux.acceptBacklog = 8 }
        defer { h.close() }
        let raw = try await RawPeer.connect(h)
        var session = try await raw.upgrade()
        var out: [UInt8] = []
        for i in 0..<20 { out += YamuxFrameHeader(type: .windowUpdate, flags: .syn, streamID: UInt32(2 * i + 1), length: 0).encoded }
        raw.send(try session.encrypt(out))
        // Streams over the limit are refused with RST (go-yamux behaviour); count them.
        var resets = 0
        var pending: [UInt8] = []
        let deadline = Date().addingTimeInterval(3)
        while resets < 12 && Date() < deadline && !raw.isClosed {
            pending += try session.decrypt(await raw.read(timeout: 1))
            while pending.count >= 12, let hdr = try? YamuxFrameHeader.decode(Array(pending.prefix(12))) {
                let len = hdr.type == .data ? Int(hdr.length) : 0
                guard pending.count >= 12 + len else { break }
                if hdr.flags.contains(.rst) { resets += 1 }
                pending.removeFirst(12 + len)
            }
        }
        #expect(resets >= 12 || raw.isClosed, "resets: \(resets)")
        try await Self.stillServes(h)
    }

    @Test func peerThatStopsReadingIsDropped() async throws {
        let h = try Self.host { c in
            c.tcp = TCPConnection.Options(writeHighWatermark: 64 * 1024, writeLowWatermark: 16 * 1024,
                                          writeBufferLimit: 1024 * 1024, writeStallTimeout: .milliseconds(300),
                                          socketSendBufferSize: 16 * 1024)
        }
        defer { h.close() }
        // A host client whose socket we stop reading: ask the echo service for far more than
        // socket buffers hold, never read the answer.
        let raw = try await RawPeer.connect(h)
        var session = try await raw.upgrade()
        raw.conn.queue.async { raw.conn.pauseReading() }
        var mux = try MultistreamDialer(protocols: ["/echo"])
        var out = YamuxFrameHeader(type: .windowUpdate, flags: .syn, streamID: 1, length: 16 * 1024 * 1024 - 256 * 1024).encoded
        let proposal = mux.takeOutbound()
        out += YamuxFrameHeader(type: .data, flags: [], streamID: 1, length: UInt32(proposal.count)).encoded + proposal
        raw.send(try session.encrypt(out))
        // Send 200 KiB, then FIN: the echo answers 200 KiB we never read.
        var body: [UInt8] = []
        for _ in 0..<4 { body += YamuxFrameHeader(type: .data, flags: [], streamID: 1, length: 50 * 1024).encoded + [UInt8](repeating: 7, count: 50 * 1024) }
        body += YamuxFrameHeader(type: .windowUpdate, flags: .fin, streamID: 1, length: 0).encoded
        raw.send(try session.encrypt(body))
        // The host must drop us (write stall) rather than buffer forever.
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline, h.connectedPeers.count > 0 { try await Task.sleep(for: .milliseconds(50)) }
        #expect(h.connectedPeers.isEmpty)
        raw.close()
        try await Self.stillServes(h)
    }
}
