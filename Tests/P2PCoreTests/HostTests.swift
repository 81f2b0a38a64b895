import Dispatch
import Foundation
import Testing
@testable import P2PCore

/// Two or more hosts on loopback: the whole upgrade pipeline over real sockets.
@Suite(.serialized) struct HostTests {
    static let echo = "/p2pnode/echo/1.0.0"

    static func makeHost(_ type: KeyType = .secp256k1) throws -> P2PHost {
        var config = HostConfig(identity: .generate(type))
        config.agentVersion = "p2pnode-test"
        let host = P2PHost(config: config)
        host.setStreamHandler(echo) { s in
            var got: [UInt8] = []
            s.onData = { got += $0 }
            s.onRemoteClose = { s.write(got); s.closeWrite() }
        }
        try host.listen(on: try Multiaddr("/ip4/127.0.0.1/tcp/0"))
        return host
    }

    static func address(_ h: P2PHost) throws -> Multiaddr {
        try #require(h.listenAddresses.first).appending(.p2p(h.peerID))
    }

    static func echoRoundTrip(_ from: P2PHost, _ to: PeerID, _ bytes: [UInt8]) async throws -> [UInt8] {
        let s = try await from.newStream(to: to, protocols: [echo])
        s.send(bytes, closeWrite: true)
        return try await s.readToEnd(limit: bytes.count + 1)
    }

    /// Polls `condition` until true or the deadline passes.
    static func eventually(_ seconds: Double = 5, _ condition: () -> Bool) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return condition()
    }

    @Test(arguments: [KeyType.secp256k1, .ed25519])
    func connectIdentifyPingEcho(keyType: KeyType) async throws {
        let a = try Self.makeHost(keyType), b = try Self.makeHost(.secp256k1)
        defer { a.close(); b.close() }
        let peer = try await a.connect(try Self.address(b))
        #expect(peer == b.peerID)
        #expect(await Self.eventually { b.isConnected(a.peerID) })
        // Identify both ways.
        #expect(await Self.eventually { a.peerstore.supports(b.peerID, Self.echo) && b.peerstore.supports(a.peerID, Self.echo) })
        #expect(a.peerstore.record(b.peerID)?.agentVersion == "p2pnode-test")
        #expect(a.peerstore.record(b.peerID)?.protocols.contains(Ping.protocolID) == true)
        // Ping.
        let rtt = try await a.ping(b.peerID)
        #expect(rtt < .seconds(1))
        // 1 MiB echo with half-close.
        let data = secureRandomBytes(1 << 20)
        let back = try await Self.echoRoundTrip(a, b.peerID, data)
        #expect(back == data)
        #expect(b.connectionInfo(a.peerID)?.direction == .inbound)
        #expect(a.connectionInfo(b.peerID)?.direction == .outbound)
    }

    @Test func hundredConcurrentStreams() async throws {
        let a = try Self.makeHost(), b = try Self.makeHost()
        defer { a.close(); b.close() }
        _ = try await a.connect(try Self.address(b))
        try await withThrowingTaskGroup(of: Bool.self) { group in
            for i in 0..<100 {
                group.addTask {
                    let data = [UInt8](repeating: UInt8(i), count: 1024) + secureRandomBytes(16)
                    return try await Self.echoRoundTrip(a, b.peerID, data) == data
                }
            }
            var ok = 0
            for try await r in group where r { ok += 1 }
            #expect(ok == 100)
        }
    }

    /// A peer that never half-closes costs a reader its timeout, not forever; one that sends too
    /// much is cut off at the limit. Both reset the stream, and the connection serves on.
    @Test(.timeLimit(.minutes(1))) func readToEndTimesOutAndLimits() async throws {
        let a = try Self.makeHost(), b = try Self.makeHost()
        defer { a.close(); b.close() }
        _ = try await a.connect(try Self.address(b))
        let stalled = try await a.newStream(to: b.peerID, protocols: [Self.echo])
        stalled.send([1, 2, 3])  // no half-close: the echo handler waits for one
        let start = DispatchTime.now().uptimeNanoseconds
        let timedOut = await #expect(throws: HostError.self) { try await stalled.readToEnd(limit: 100, timeout: .milliseconds(200)) }
        #expect(timedOut.map { "\($0)" } == "\(HostError.timedOut("read"))")
        #expect(DispatchTime.now().uptimeNanoseconds - start >= 200_000_000)
        #expect(await Self.eventually { stalled.isReset })
        let large = try await a.newStream(to: b.peerID, protocols: [Self.echo])
        large.send([UInt8](repeating: 9, count: 5000), closeWrite: true)
        // Let the whole echo and its FIN arrive first: the reset at the limit must then not be
        // followed by a clean EOF (it was, through `reset` clearing the handlers).
        try await Task.sleep(for: .milliseconds(200))
        let tooLarge = await #expect(throws: HostError.self) { try await large.readToEnd(limit: 4096, timeout: .seconds(5)) }
        guard case .messageTooLarge(let got, let limit)? = tooLarge else { Issue.record("expected messageTooLarge, got \(String(describing: tooLarge))"); return }
        #expect(got > 4096 && got <= 5000 && limit == 4096)
        #expect(try await Self.echoRoundTrip(a, b.peerID, [4, 5]) == [4, 5])
    }

    @Test func wrongExpectedPeerIsRefused() async throws {
        let a = try Self.makeHost(), b = try Self.makeHost()
        defer { a.close(); b.close() }
        let impostor = PrivateKey.generate(.secp256k1).peerID
        let addr = try #require(b.listenAddresses.first).appending(.p2p(impostor))
        await #expect(throws: HostError.self) { _ = try await a.connect(addr) }
        #expect(!a.isConnected(b.peerID))
    }

    @Test func unsupportedProtocolAndGater() async throws {
        let a = try Self.makeHost(), b = try Self.makeHost()
        defer { a.close(); b.close() }
        _ = try await a.connect(try Self.address(b))
        await #expect(throws: HostError.self) { _ = try await a.newStream(to: b.peerID, protocols: ["/nope/1.0.0"]) }
        // The connection survives a refused protocol.
        #expect(try await Self.echoRoundTrip(a, b.peerID, [1, 2, 3]) == [1, 2, 3])
        // A blocked peer cannot connect in.
        let c = try Self.makeHost()
        defer { c.close() }
        b.gater.blockPeer(c.peerID)
        _ = try? await c.connect(try Self.address(b))
        try await Task.sleep(for: .milliseconds(200))
        #expect(!b.isConnected(c.peerID))
        b.gater.unblockPeer(c.peerID)
        _ = try await c.connect(try Self.address(b))
        #expect(await Self.eventually { b.isConnected(c.peerID) })
    }

    @Test func simultaneousDialKeepsOneConnection() async throws {
        let a = try Self.makeHost(), b = try Self.makeHost()
        defer { a.close(); b.close() }
        async let x = a.connect(try Self.address(b))
        async let y = b.connect(try Self.address(a))
        _ = try await (x, y)
        #expect(await Self.eventually { a.connectedPeers == [b.peerID] && b.connectedPeers == [a.peerID] })
        try await Task.sleep(for: .milliseconds(300))
        // Both sides kept the same connection: streams still work both ways.
        #expect(try await Self.echoRoundTrip(a, b.peerID, [7]) == [7])
        #expect(try await Self.echoRoundTrip(b, a.peerID, [8]) == [8])
        #expect(a.connectionInfo(b.peerID)?.direction != b.connectionInfo(a.peerID)?.direction)
    }

    @Test func disconnectNotifiesObservers() async throws {
        let a = try Self.makeHost(), b = try Self.makeHost()
        defer { a.close(); b.close() }
        let events = Locked<[String]>([])
        b.observe { e in
            switch e {
            case .connected: events.withLock { $0.append("connected") }
            case .disconnected: events.withLock { $0.append("disconnected") }
            case .identified: events.withLock { $0.append("identified") }
            }
        }
        _ = try await a.connect(try Self.address(b))
        #expect(await Self.eventually { events.current.contains("identified") })
        a.disconnect(b.peerID)
        #expect(await Self.eventually { events.current.contains("disconnected") })
        #expect(await Self.eventually { !a.isConnected(b.peerID) && !b.isConnected(a.peerID) })
    }
}
