import Testing
@testable import P2PCore

/// yamux: frame codec, session state machine against go-yamux behaviour, limits, hostile input.
@Suite struct YamuxTests {
    /// Two sessions wired back to back, with an application that reads (and reports consumed)
    /// everything it is given unless told otherwise.
    struct Pair {
        var client: YamuxSession
        var server: YamuxSession
        var clientEvents: [YamuxEvent] = []
        var serverEvents: [YamuxEvent] = []
        var now: Duration = .zero
        var autoConsume = true

        init(client: YamuxConfig = YamuxConfig(), server: YamuxConfig = YamuxConfig()) {
            self.client = YamuxSession(role: .client, config: client)
            self.server = YamuxSession(role: .server, config: server)
        }

        /// Exchanges bytes until both sides are quiet. Returns the number of rounds.
        @discardableResult
        mutating func pump(maxRounds: Int = 10_000) -> Int {
            for round in 0..<maxRounds {
                let toServer = client.takeOutbound()
                clientEvents += client.takeEvents()
                let toClient = server.takeOutbound()
                serverEvents += server.takeEvents()
                if toServer.isEmpty && toClient.isEmpty { return round }
                let s = server.receive(toServer, now: now)
                serverEvents += s
                let c = client.receive(toClient, now: now)
                clientEvents += c
                if autoConsume {
                    for case .data(let id, let bytes) in s { server.consumed(id, bytes.count, now: now) }
                    for case .data(let id, let bytes) in c { client.consumed(id, bytes.count, now: now) }
                }
            }
            return maxRounds
        }
    }

    static func data(_ id: YamuxStreamID, in events: [YamuxEvent]) -> [UInt8] {
        var out = [UInt8]()
        for case .data(let sid, let bytes) in events where sid == id { out += bytes }
        return out
    }

    static func frame(_ type: YamuxFrameHeader.FrameType, _ flags: YamuxFrameHeader.Flags, _ id: UInt32, _ length: UInt32,
                      payload: [UInt8] = []) -> [UInt8] {
        YamuxFrameHeader(type: type, flags: flags, streamID: id, length: length).encoded + payload
    }

    static let goAwayProtocolError: [UInt8] = [0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]

    // MARK: Codec

    @Test func headerEncodingAndDecoding() throws {
        let h = YamuxFrameHeader(type: .windowUpdate, flags: [.syn], streamID: 1, length: 0)
        #expect(h.encoded == [0, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0])
        let d = YamuxFrameHeader(type: .data, flags: [.ack, .fin], streamID: 0x0102_0304, length: 0xA0B0_C0D0)
        #expect(d.encoded == [0, 0, 0, 6, 1, 2, 3, 4, 0xA0, 0xB0, 0xC0, 0xD0])
        #expect(try YamuxFrameHeader.decode(d.encoded) == d)
        #expect(throws: YamuxError.invalidVersion(1)) { try YamuxFrameHeader.decode([1] + [UInt8](repeating: 0, count: 11)) }
        #expect(throws: YamuxError.invalidFrameType(4)) { try YamuxFrameHeader.decode([0, 4] + [UInt8](repeating: 0, count: 10)) }
        #expect(throws: YamuxError.truncatedHeader(3)) { try YamuxFrameHeader.decode([0, 0, 0]) }
    }

    @Test func headerDecoderFuzz() {
        var rng = TestRNG(seed: 3)
        var ok = 0
        for round in 0..<5000 {
            var bytes = rng.bytes(Int(rng.next() % 16))
            // Half the inputs get a valid version and a near-valid type, to reach the other checks.
            if round % 2 == 0 && bytes.count >= 2 {
                bytes[0] = 0
                bytes[1] %= 5
            }
            if let h = try? YamuxFrameHeader.decode(bytes) {
                ok += 1
                #expect(h.encoded == Array(bytes.prefix(12)))
            }
        }
        #expect(ok > 0)
    }

    // MARK: Streams

    @Test func openAcceptEchoAndClose() throws {
        var p = Pair()
        let id = try p.client.openStream(now: p.now)
        #expect(id == YamuxStreamID(1))
        #expect(p.client.takeOutbound() == Self.frame(.windowUpdate, .syn, 1, 0)) // SYN right away, as go-yamux
        #expect(p.server.receive(Self.frame(.windowUpdate, .syn, 1, 0), now: p.now) == [.inboundStream(id)])

        try p.client.write(id, Array("hello".utf8))
        p.serverEvents += p.server.receive(p.client.takeOutbound(), now: p.now)
        #expect(Self.data(id, in: p.serverEvents) == Array("hello".utf8))

        // The server's first frame on the stream is the ACK (a window update, as go-yamux sends).
        try p.server.write(id, Array("HELLO".utf8))
        let out = p.server.takeOutbound()
        try #require(out.count == 12 + 12 + 5)
        #expect(Array(out.prefix(12)) == Self.frame(.windowUpdate, .ack, 1, 0))
        #expect(Array(out[12..<24]) == Self.frame(.data, [], 1, 5))
        p.clientEvents += p.client.receive(out, now: p.now)
        #expect(Self.data(id, in: p.clientEvents) == Array("HELLO".utf8))

        try p.client.closeWrite(id)
        p.pump()
        #expect(p.serverEvents.contains(.remoteClosedWrite(id)))
        #expect(throws: YamuxError.writeClosed(id)) { try p.client.write(id, [1]) }
        // Half-closed: the server can still write.
        try p.server.write(id, [42])
        try p.server.closeWrite(id)
        p.pump()
        #expect(Self.data(id, in: p.clientEvents).last == 42)
        #expect(p.clientEvents.contains(.remoteClosedWrite(id)))
        #expect(p.client.streamCount == 0 && p.server.streamCount == 0)
        #expect(!p.client.isClosed && !p.server.isClosed)
    }

    @Test func serverOpensEvenStreams() throws {
        var p = Pair()
        let a = try p.server.openStream(now: p.now)
        let b = try p.server.openStream(now: p.now)
        #expect(a.rawValue == 2 && b.rawValue == 4)
        p.pump()
        #expect(p.clientEvents == [.inboundStream(a), .inboundStream(b)])
    }

    @Test func manyConcurrentStreamsEcho() throws {
        var p = Pair()
        var ids = [YamuxStreamID]()
        for i in 0..<200 {
            let id = try p.client.openStream(now: p.now)
            ids.append(id)
            try p.client.write(id, [UInt8](repeating: UInt8(i), count: 1000 + i * 37))
            try p.client.closeWrite(id)
        }
        p.pump()
        // Server echoes every stream back and closes.
        for id in ids {
            let got = Self.data(id, in: p.serverEvents)
            #expect(got.count == 1000 + Int(id.rawValue / 2) * 37)
            try p.server.write(id, got)
            try p.server.closeWrite(id)
        }
        p.pump()
        for (i, id) in ids.enumerated() {
            #expect(Self.data(id, in: p.clientEvents) == [UInt8](repeating: UInt8(i), count: 1000 + i * 37))
        }
        #expect(p.client.streamCount == 0 && p.server.streamCount == 0)
    }

    @Test func resetSemantics() throws {
        var p = Pair()
        let id = try p.client.openStream(now: p.now)
        try p.client.write(id, [1, 2, 3])
        p.pump()
        p.client.reset(id)
        #expect(!p.client.isOpen(id))
        // The server writes before it learns of the RST; that data crosses the RST on the wire.
        try p.server.write(id, [UInt8](repeating: 9, count: 5000))
        let inFlight = p.server.takeOutbound()
        p.serverEvents += p.server.receive(p.client.takeOutbound(), now: p.now)
        #expect(p.serverEvents.contains(.reset(id)))
        #expect(!p.server.isOpen(id))
        #expect(throws: YamuxError.streamNotFound(id)) { try p.server.write(id, [1]) }
        // The late data for a stream we reset is discarded, not a protocol error.
        let events = p.client.receive(inFlight, now: p.now)
        #expect(events.isEmpty)
        #expect(!p.client.isClosed)
    }

    @Test func dataAfterRemoteFinResetsTheStream() throws {
        var server = YamuxSession(role: .server)
        var events = server.receive(Self.frame(.data, [.syn, .fin], 1, 2, payload: [1, 2]), now: .zero)
        #expect(events == [.inboundStream(YamuxStreamID(1)), .data(YamuxStreamID(1), [1, 2]), .remoteClosedWrite(YamuxStreamID(1))])
        events = server.receive(Self.frame(.data, [], 1, 1, payload: [3]), now: .zero)
        #expect(events == [.reset(YamuxStreamID(1))])
        #expect(server.takeOutbound() == Self.frame(.windowUpdate, .rst, 1, 0))
        #expect(!server.isClosed)
    }

    // MARK: Flow control

    /// A reader that raises a stream's window lets the writer send that much ahead at once, with
    /// the credit in one update (on the ACK for a stream not yet acknowledged); it is capped at
    /// the session maximum, never lowered, and ignored for unknown or closed streams.
    @Test func raisedReceiveWindowIsCreditedAtOnce() throws {
        var p = Pair()
        p.autoConsume = false
        let id = try p.client.openStream(now: p.now)
        p.pump()
        // Not acknowledged yet: the ACK carries the whole credit.
        p.server.raiseReceiveWindow(id, to: 4 * 1024 * 1024)
        #expect(p.server.takeOutbound() == Self.frame(.windowUpdate, .ack, 1, 4 * 1024 * 1024 - 256 * 1024))
        #expect(p.server.receiveWindow(id) == 4 * 1024 * 1024)
        p.server.raiseReceiveWindow(id, to: 4 * 1024 * 1024)  // the same size again: nothing
        p.server.raiseReceiveWindow(id, to: 64 * 1024)        // smaller: never lowered
        #expect(p.server.takeOutbound().isEmpty)
        p.client.receive(Self.frame(.windowUpdate, .ack, 1, 4 * 1024 * 1024 - 256 * 1024), now: p.now)
        // The reader consumes nothing (no window updates), yet 3 MiB go through.
        let payload = [UInt8](repeating: 9, count: 3 * 1024 * 1024)
        var written = 0
        for _ in 0..<100 where written < payload.count {
            written += try p.client.write(id, payload[written...])
            p.pump()
        }
        #expect(written == payload.count)
        #expect(Self.data(id, in: p.serverEvents).count == payload.count)
        #expect(p.client.queuedBytes(id) == 0)
        // Acknowledged stream: a plain update; capped at the session's maximum (16 MiB).
        p.server.raiseReceiveWindow(id, to: UInt32.max)
        #expect(p.server.receiveWindow(id) == 16 * 1024 * 1024)
        #expect(p.server.takeOutbound() == Self.frame(.windowUpdate, [], 1, 12 * 1024 * 1024))
        // Unknown stream: ignored.
        p.server.raiseReceiveWindow(YamuxStreamID(rawValue: 99), to: 1 << 20)
        #expect(p.server.takeOutbound().isEmpty)
    }

    @Test func sendWindowExhaustionAndUpdates() throws {
        var p = Pair()
        p.autoConsume = false
        let id = try p.client.openStream(now: p.now)
        let payload = (0..<1_000_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        #expect(try p.client.write(id, payload) == payload.count)
        try p.client.closeWrite(id) // the FIN must wait behind the queued data
        p.pump()
        #expect(!p.serverEvents.contains(.remoteClosedWrite(id)))
        // Only the initial 256 KiB window got through; the rest waits in the queue.
        #expect(Self.data(id, in: p.serverEvents).count == 256 * 1024)
        #expect(p.client.sendWindow(id) == 0)
        #expect(p.client.queuedBytes(id) == payload.count - 256 * 1024)
        // The first read acknowledges the stream, which always carries a window update.
        p.server.consumed(id, 100 * 1024, now: p.now)
        let ack = p.server.takeOutbound()
        #expect(ack == Self.frame(.windowUpdate, .ack, 1, 100 * 1024))
        p.clientEvents += p.client.receive(ack, now: p.now)
        p.pump()
        #expect(Self.data(id, in: p.serverEvents).count == 356 * 1024)
        // Consuming less than half the window sends no update.
        p.server.consumed(id, 50 * 1024, now: p.now)
        #expect(p.server.takeOutbound().isEmpty)
        // Consuming the rest does; the reader keeps consuming from now on.
        p.server.consumed(id, 206 * 1024, now: p.now)
        let update = p.server.takeOutbound()
        #expect(update == Self.frame(.windowUpdate, [], 1, 256 * 1024))
        p.clientEvents += p.client.receive(update, now: p.now)
        p.autoConsume = true
        p.pump()
        #expect(Self.data(id, in: p.serverEvents) == payload)
        #expect(p.serverEvents.last == .remoteClosedWrite(id))
        #expect(p.client.queuedBytes(id) == 0)
    }

    @Test func writeBackPressureAndWritable() throws {
        var config = YamuxConfig()
        config.maxSendQueue = 64 * 1024
        var p = Pair(client: config)
        p.autoConsume = false
        let id = try p.client.openStream(now: p.now)
        // 256 KiB go straight out (window), 64 KiB are queued, the rest is refused.
        let accepted = try p.client.write(id, [UInt8](repeating: 1, count: 400 * 1024))
        #expect(accepted == 320 * 1024)
        #expect(try p.client.write(id, [1]) == 0)
        p.pump()
        #expect(!p.clientEvents.contains(.writable(id)))
        p.server.consumed(id, 256 * 1024, now: p.now)
        p.pump()
        #expect(p.clientEvents.contains(.writable(id)))
        #expect(p.client.queuedBytes(id) == 0)
    }

    @Test func windowOverrunIsAProtocolError() throws {
        var server = YamuxSession(role: .server)
        _ = server.receive(Self.frame(.windowUpdate, .syn, 1, 0), now: .zero)
        let tooMuch = UInt32(256 * 1024 + 1)
        let events = server.receive(Self.frame(.data, [], 1, tooMuch), now: .zero)
        #expect(events == [.sessionClosed(.windowExceeded(stream: 1, length: tooMuch, window: 256 * 1024))])
        #expect(server.takeOutbound() == Self.goAwayProtocolError)
        #expect(server.isClosed)
        #expect(throws: YamuxError.sessionClosed) { try server.openStream(now: .zero) }
        #expect(server.receive([1, 2, 3], now: .zero).isEmpty)
    }

    @Test func windowAutoTuningGrowsToTheMaximum() throws {
        var p = Pair()
        let id = try p.client.openStream(now: p.now)
        // Measure an RTT of 10 ms.
        let pingID = p.client.ping(now: .zero)
        p.now = .milliseconds(10)
        p.pump()
        #expect(p.clientEvents.contains(.pong(id: pingID, rtt: .milliseconds(10))))
        #expect(p.client.roundTripTime == .milliseconds(10))
        #expect(p.server.roundTripTime == nil)
        // The server needs its own RTT sample to tune its receive window.
        _ = p.server.ping(now: p.now)
        p.now += .milliseconds(10)
        p.pump()
        #expect(p.server.roundTripTime == .milliseconds(10))
        // A fast reader (every window consumed within the same instant) doubles the window each time.
        let chunk = [UInt8](repeating: 5, count: 1 << 20)
        for _ in 0..<40 {
            try p.client.write(id, chunk)
            p.pump()
        }
        #expect(p.server.receiveWindow(id) == 16 * 1024 * 1024)
        #expect(Self.data(id, in: p.serverEvents).count == 40 << 20)
        // A slow reader (64 KiB a second, so half a window takes longer than 4 RTTs) keeps its window.
        var q = Pair()
        q.autoConsume = false
        let sid = try q.client.openStream(now: q.now)
        _ = q.server.ping(now: .zero)
        q.now = .milliseconds(10)
        q.pump()
        #expect(q.server.roundTripTime == .milliseconds(10))
        try q.client.write(sid, chunk)
        var consumed = 0
        while consumed < chunk.count {
            q.pump()
            let n = min(64 * 1024, Self.data(sid, in: q.serverEvents).count - consumed)
            q.now += .seconds(1)
            q.server.consumed(sid, n, now: q.now)
            consumed += n
        }
        #expect(Self.data(sid, in: q.serverEvents).count == 1 << 20)
        #expect(q.server.receiveWindow(sid) == 256 * 1024)
    }

    // MARK: Limits

    @Test func inboundStreamLimitAndAcceptBacklog() throws {
        var serverConfig = YamuxConfig()
        serverConfig.maxInboundStreams = 2
        var p = Pair(server: serverConfig)
        let ids = try (0..<3).map { _ in try p.client.openStream(now: p.now) }
        p.pump()
        #expect(p.serverEvents == [.inboundStream(ids[0]), .inboundStream(ids[1])])
        #expect(p.clientEvents == [.reset(ids[2])])
        #expect(p.client.streamCount == 2)

        // Unacknowledged inbound streams beyond the backlog are reset.
        var backlog = YamuxConfig()
        backlog.acceptBacklog = 2
        var server = YamuxSession(role: .server, config: backlog)
        var input = [UInt8]()
        for id: UInt32 in [1, 3, 5] { input += Self.frame(.windowUpdate, .syn, id, 0) }
        #expect(server.receive(input, now: .zero) == [.inboundStream(YamuxStreamID(1)), .inboundStream(YamuxStreamID(3))])
        #expect(server.takeOutbound() == Self.frame(.windowUpdate, .rst, 5, 0))
        // Acknowledging one (by writing) frees a backlog slot.
        try server.write(YamuxStreamID(1), [0])
        _ = server.takeOutbound()
        #expect(server.receive(Self.frame(.windowUpdate, .syn, 7, 0), now: .zero) == [.inboundStream(YamuxStreamID(7))])
    }

    @Test func outboundLimits() throws {
        var config = YamuxConfig()
        config.acceptBacklog = 2
        config.maxOutboundStreams = 3
        var p = Pair(client: config)
        _ = try p.client.openStream(now: p.now)
        _ = try p.client.openStream(now: p.now)
        #expect(throws: YamuxError.tooManyUnacknowledgedStreams(2)) { try p.client.openStream(now: p.now) }
        // The server acknowledges both (its application writes), which frees the SYN budget.
        p.pump()
        for case .inboundStream(let id) in p.serverEvents { try p.server.write(id, [1]) }
        p.pump()
        _ = try p.client.openStream(now: p.now)
        #expect(throws: YamuxError.tooManyStreams(3)) { try p.client.openStream(now: p.now) }
    }

    @Test func framesForStreamsNeverOpenedAreProtocolErrors() throws {
        // Data for a server-parity stream the server never opened.
        var client = YamuxSession(role: .client)
        #expect(client.receive(Self.frame(.data, [], 2, 1, payload: [0]), now: .zero) == [.sessionClosed(.unknownStream(2))])
        #expect(client.takeOutbound() == Self.goAwayProtocolError)
        // A window update for one of our own ids we never used.
        var client2 = YamuxSession(role: .client)
        _ = try client2.openStream(now: .zero)
        _ = client2.takeOutbound()
        #expect(client2.receive(Self.frame(.windowUpdate, [], 3, 10), now: .zero) == [.sessionClosed(.unknownStream(3))])
        // Stream id 0, wrong-parity SYN, duplicate SYN.
        var s1 = YamuxSession(role: .server)
        #expect(s1.receive(Self.frame(.data, [], 0, 0), now: .zero) == [.sessionClosed(.invalidStreamID(0))])
        var s2 = YamuxSession(role: .server)
        #expect(s2.receive(Self.frame(.windowUpdate, .syn, 2, 0), now: .zero) == [.sessionClosed(.invalidStreamID(2))])
        var s3 = YamuxSession(role: .server)
        let dup = Self.frame(.windowUpdate, .syn, 1, 0)
        #expect(s3.receive(dup + dup, now: .zero) == [.inboundStream(YamuxStreamID(1)), .sessionClosed(.duplicateStream(1))])
        // Invalid version and type.
        var s4 = YamuxSession(role: .server)
        #expect(s4.receive([1] + [UInt8](repeating: 0, count: 11), now: .zero) == [.sessionClosed(.invalidVersion(1))])
        var s5 = YamuxSession(role: .server)
        #expect(s5.receive([0, 9] + [UInt8](repeating: 0, count: 10), now: .zero) == [.sessionClosed(.invalidFrameType(9))])
        #expect(s5.takeOutbound() == Self.goAwayProtocolError)
    }

    @Test func framesForClosedStreamsAreTolerated() throws {
        var p = Pair()
        let id = try p.client.openStream(now: p.now)
        try p.client.closeWrite(id)
        p.pump()
        try p.server.closeWrite(id)
        p.pump()
        #expect(p.client.streamCount == 0)
        // A stale window update and stale data for the closed stream.
        let stale = Self.frame(.windowUpdate, [], 1, 100) + Self.frame(.data, [], 1, 3, payload: [1, 2, 3])
        #expect(p.client.receive(stale, now: p.now).isEmpty)
        #expect(p.server.receive(stale, now: p.now).isEmpty)
        #expect(!p.client.isClosed && !p.server.isClosed)
        // But a discarded frame may not claim more than any window we grant.
        let maxWindow: UInt32 = 16 * 1024 * 1024
        let huge = Self.frame(.data, [], 1, maxWindow + 1)
        let expected: [YamuxEvent] = [.sessionClosed(.windowExceeded(stream: 1, length: maxWindow + 1, window: maxWindow))]
        #expect(p.server.receive(huge, now: p.now) == expected)
    }

    // MARK: Ping and GoAway

    @Test func pingIsAnsweredAndMeasured() throws {
        var p = Pair()
        let id = p.client.ping(now: .seconds(1))
        #expect(p.client.ping(now: .seconds(2)) == id) // one outstanding ping at a time
        #expect(p.client.pingOutstandingSince == .seconds(1))
        let syn = p.client.takeOutbound()
        #expect(syn == Self.frame(.ping, .syn, 0, id))
        #expect(p.server.receive(syn, now: .zero).isEmpty)
        let ack = p.server.takeOutbound()
        #expect(ack == Self.frame(.ping, .ack, 0, id))
        #expect(p.client.receive(ack, now: .milliseconds(1500)) == [.pong(id: id, rtt: .milliseconds(500))])
        #expect(p.client.pingOutstandingSince == nil)
        // An unsolicited ACK is ignored.
        #expect(p.client.receive(ack, now: .seconds(3)).isEmpty)
        #expect(p.client.ping(now: .seconds(4)) == id &+ 1)
    }

    @Test func pingRepliesAreBounded() {
        var server = YamuxSession(role: .server)
        var input = [UInt8]()
        for i: UInt32 in 0..<100 { input += Self.frame(.ping, .syn, 0, i) }
        _ = server.receive(input, now: .zero)
        #expect(server.takeOutbound().count == 32 * 12)
        _ = server.receive(Self.frame(.ping, .syn, 0, 7), now: .zero)
        #expect(server.takeOutbound() == Self.frame(.ping, .ack, 0, 7))
    }

    @Test func goAwaySemantics() throws {
        var p = Pair()
        let id = try p.client.openStream(now: p.now)
        p.pump()
        p.server.goAway()
        p.pump()
        #expect(p.clientEvents.contains(.goAway(.normal)))
        #expect(throws: YamuxError.remoteGoingAway) { try p.client.openStream(now: p.now) }
        // Existing streams keep working.
        try p.client.write(id, [1, 2])
        p.pump()
        #expect(Self.data(id, in: p.serverEvents) == [1, 2])
        // The server refuses new inbound streams after its GoAway.
        let events = p.server.receive(Self.frame(.windowUpdate, .syn, 3, 0), now: p.now)
        #expect(events.isEmpty)
        #expect(p.server.takeOutbound() == Self.frame(.windowUpdate, .rst, 3, 0))
        // An error GoAway ends the session.
        #expect(p.client.receive(Self.frame(.goAway, [], 0, 2), now: p.now) ==
                [.goAway(.internalError), .sessionClosed(.remoteGoAway(.internalError))])
        #expect(p.client.isClosed)
        // Local close.
        p.server.close()
        #expect(p.server.takeEvents() == [.sessionClosed(nil)])
        #expect(p.server.isClosed)
    }

    // MARK: Hostile and fragmented input

    @Test func byteByByteFeedingGivesTheSameStreams() throws {
        var client = YamuxSession(role: .client)
        var ids = [YamuxStreamID]()
        for i in 0..<5 {
            let id = try client.openStream(now: .zero)
            ids.append(id)
            try client.write(id, [UInt8](repeating: UInt8(i), count: 3000))
            try client.closeWrite(id)
        }
        _ = client.ping(now: .zero)
        let wire = client.takeOutbound()
        var server = YamuxSession(role: .server)
        var events = [YamuxEvent]()
        for byte in wire { events += server.receive([byte], now: .zero) }
        for (i, id) in ids.enumerated() {
            #expect(events.contains(.inboundStream(id)))
            #expect(events.contains(.remoteClosedWrite(id)))
            #expect(Self.data(id, in: events) == [UInt8](repeating: UInt8(i), count: 3000))
        }
        #expect(server.takeOutbound().suffix(12) == Self.frame(.ping, .ack, 0, 0)[...])
    }

    /// Written arrays are referenced by the output, not copied: a large write comes back from
    /// `takeOutboundSegments` as slices of the caller's own storage (queued or framed at once),
    /// small payloads are joined to their headers, and the segments carry the same bytes as
    /// `takeOutbound` would, in order, for the peer.
    @Test func outputReferencesWrittenArrays() throws {
        var p = Pair()
        let id = try p.client.openStream(now: .zero)
        p.pump()
        var rng = TestRNG(seed: 0x5e9)
        let big = rng.bytes(600_000)   // beyond the 256 KiB window: part framed, part queued
        let small = rng.bytes(100)
        #expect(try p.client.write(id, big) == big.count)
        #expect(try p.client.write(id, small) == small.count)
        var wire: [UInt8] = []
        var referenced = 0
        let bigRange = big.withUnsafeBytes { b in
            (UInt(bitPattern: b.baseAddress), UInt(bitPattern: b.baseAddress) + UInt(b.count))
        }
        for _ in 0..<200 {
            let segments = p.client.takeOutboundSegments(limit: 100_000)
            for segment in segments {
                segment.withUnsafeBytes { s in
                    let start = UInt(bitPattern: s.baseAddress)
                    if start >= bigRange.0 && start < bigRange.1 { referenced += s.count }
                }
                wire += segment
            }
            let events = p.server.receive(wire, now: .zero)
            wire = []
            p.serverEvents += events
            for case .data(let sid, let bytes) in events { p.server.consumed(sid, bytes.count, now: .zero) }
            _ = p.client.receive(p.server.takeOutbound(), now: .zero)
            if Self.data(id, in: p.serverEvents).count == big.count + small.count { break }
        }
        #expect(Self.data(id, in: p.serverEvents) == big + small)
        // Only frame tails shorter than `copyBelow` (where the window ran out) are copied.
        #expect(referenced > big.count - 8 * YamuxSession.copyBelow)
    }

    /// Feeding the receiver the way the transport does (headers up to `bytesToNextBoundary`,
    /// announced stream data as ready-made arrays through `receivePayload`) gives the same data
    /// and the same arrays, uncopied, as plain `receive`.
    @Test func payloadRunsArriveAsTheCallersArrays() throws {
        var p = Pair()
        let ids = try (0..<3).map { _ in try p.client.openStream(now: .zero) }
        p.pump()
        var rng = TestRNG(seed: 0xDA7A)
        var expected: [YamuxStreamID: [UInt8]] = [:]
        for round in 0..<20 {
            let id = ids[round % ids.count]
            let m = rng.bytes(Int(rng.next() % 90_000) + 1)
            #expect(try p.client.write(id, m) == m.count)
            expected[id, default: []] += m
        }
        var got: [YamuxStreamID: [UInt8]] = [:]
        var handedOver = 0
        var delivered = 0
        for _ in 0..<500 {
            let wire = p.client.takeOutbound()
            var events: [YamuxEvent] = []
            var i = 0
            while i < wire.count {
                let n = min(wire.count - i, Int(rng.next() % 30_000) + 1)
                if let run = p.server.deliverablePayload {
                    let piece = Array(wire[i..<(i + min(n, run))])
                    i += piece.count
                    handedOver += piece.count
                    events += p.server.receivePayload(piece, now: .zero)
                } else {
                    let k = min(n, p.server.bytesToNextBoundary)
                    events += p.server.receive(Array(wire[i..<(i + k)]), now: .zero)
                    i += k
                }
            }
            for case .data(let sid, let bytes) in events {
                got[sid, default: []] += bytes
                delivered += bytes.count
                p.server.consumed(sid, bytes.count, now: .zero)
            }
            _ = p.client.receive(p.server.takeOutbound(), now: .zero)
            if !p.client.hasOutbound { break }
        }
        #expect(got == expected)
        #expect(handedOver == delivered && delivered == expected.values.reduce(0) { $0 + $1.count })
        // Not announced (no payload pending): handed to `receive` as is.
        #expect(p.server.deliverablePayload == nil && p.server.bytesToNextBoundary == YamuxFrameHeader.size)
        #expect(p.server.receivePayload(Self.frame(.ping, .syn, 0, 7), now: .zero).isEmpty)
        #expect(p.server.takeOutbound() == Self.frame(.ping, .ack, 0, 7))
    }

    @Test func hostileInputNeverTraps() throws {
        var rng = TestRNG(seed: 0xBAD)
        var client = YamuxSession(role: .client)
        for _ in 0..<3 {
            let id = try client.openStream(now: .zero)
            try client.write(id, rng.bytes(500))
        }
        let valid = client.takeOutbound()
        var closedWithError = 0
        for round in 0..<1500 {
            var input: [UInt8]
            if round % 3 == 0 {
                input = rng.bytes(Int(rng.next() % 200))
            } else {
                input = valid
                for _ in 0..<(1 + rng.next() % 4) {
                    input[Int(rng.next() % UInt64(input.count))] = UInt8(truncatingIfNeeded: rng.next())
                }
            }
            var server = YamuxSession(role: .server)
            var i = 0
            var events = [YamuxEvent]()
            while i < input.count {
                let n = min(input.count - i, Int(rng.next() % 64) + 1)
                events += server.receive(Array(input[i..<(i + n)]), now: .zero)
                i += n
            }
            for case .sessionClosed(let error) in events where error != nil {
                closedWithError += 1
                #expect(server.isClosed)
                #expect(!(error?.description.isEmpty ?? true))
            }
            #expect(server.streamCount <= server.config.maxInboundStreams)
            _ = server.takeOutbound()
        }
        #expect(closedWithError > 0)
    }
}
