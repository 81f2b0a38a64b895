import Testing
@testable import P2PCore

/// The transport's sans-IO cores (multistream-select → Noise XX → multistream → yamux) driven over
/// the simulated network: random chunking, seeded latency and jitter, partitions. No sockets.
private final class SimEndpoint {
    enum Phase { case security, handshake, muxer, muxed, failed }
    let node: Int
    let pipe: SimNetwork.Pipe
    let initiator: Bool
    let identity = PrivateKey.generate(.secp256k1)
    let expected: PeerID?
    var phase = Phase.security
    var dialer: MultistreamDialer?
    var listener: MultistreamListener?
    var hs: NoiseHandshake?
    var noise: NoiseSession?
    var yamux: YamuxSession
    var remote: PeerID?
    var received: [UInt32: [UInt8]] = [:]
    var finished: Set<UInt32> = []
    var closed = false
    var error: String?
    let now: () -> Duration

    init(node: Int, pipe: SimNetwork.Pipe, initiator: Bool, expected: PeerID?, now: @escaping () -> Duration) {
        self.node = node
        self.pipe = pipe
        self.initiator = initiator
        self.expected = expected
        self.now = now
        yamux = YamuxSession(role: initiator ? .client : .server)
        pipe.onBytes[node] = { [unowned self] in self.receive($0) }
        pipe.onClose[node] = { [unowned self] in self.closed = true }
    }

    func start() throws {
        if initiator {
            dialer = try MultistreamDialer(protocols: ["/noise"])
            send(dialer!.takeOutbound())  // safe: just assigned
        } else {
            listener = MultistreamListener(supported: ["/noise"])
            send(listener!.takeOutbound())  // safe: just assigned
        }
    }

    func send(_ b: [UInt8]) { pipe.write(from: node, b) }
    func sendSecure(_ b: [UInt8]) { if !b.isEmpty, let enc = try? noise?.encrypt(b) { send(enc) } }

    func fail(_ e: Any) { phase = .failed; error = "\(e)" }

    func receive(_ bytes: [UInt8]) {
        do {
            switch phase {
            case .failed: return
            case .security:
                let st = initiator ? try dialer!.receive(bytes) : try listener!.receive(bytes)  // safe: set in start()
                if !initiator { send(listener!.takeOutbound()) }  // safe: as above
                guard case .selected(_, let left) = st else { return }
                phase = .handshake
                hs = NoiseHandshake(role: initiator ? .initiator : .responder, identity: identity, expectedRemotePeer: expected)
                send(hs!.takeOutbound())  // safe: just assigned
                if !left.isEmpty { receive(left) }
            case .handshake:
                let r = try hs!.receive(bytes)  // safe: set with .handshake
                send(hs!.takeOutbound())  // safe: as above
                guard let r else { return }
                noise = r.session
                remote = r.remotePeerID
                phase = .muxer
                if initiator { dialer = try MultistreamDialer(protocols: ["/yamux/1.0.0"]); sendSecure(dialer!.takeOutbound()) }  // safe: just assigned
                else { listener = MultistreamListener(supported: ["/yamux/1.0.0"]); sendSecure(listener!.takeOutbound()) }  // safe: just assigned
                if !r.leftover.isEmpty { receiveSecure(try noise!.decrypt(r.leftover)) }  // safe: just assigned
            case .muxer, .muxed:
                receiveSecure(try noise!.decrypt(bytes))  // safe: set before .muxer
            }
        } catch {
            fail(error)
        }
    }

    func receiveSecure(_ plain: [UInt8]) {
        guard !plain.isEmpty else { return }
        do {
            if phase == .muxer {
                let st = initiator ? try dialer!.receive(plain) : try listener!.receive(plain)  // safe: set with .muxer
                if !initiator { sendSecure(listener!.takeOutbound()) }  // safe: as above
                guard case .selected(_, let left) = st else { return }
                phase = .muxed
                if !left.isEmpty { receiveSecure(left) }
                return
            }
            for e in yamux.receive(plain, now: now()) {
                switch e {
                case .data(let id, let b):
                    received[id.rawValue, default: []] += b
                    yamux.consumed(id, b.count, now: now())
                case .remoteClosedWrite(let id):
                    finished.insert(id.rawValue)
                    if !initiator {   // the responder echoes each stream, then closes it
                        try yamux.write(id, received[id.rawValue] ?? [])
                        try yamux.closeWrite(id)
                    }
                case .sessionClosed(let err): fail(err.map { "\($0)" } ?? "closed")
                default: break
                }
            }
            flush()
        } catch {
            fail(error)
        }
    }

    func flush() { while yamux.hasOutbound { sendSecure(yamux.takeOutbound()) } }
}

@Suite struct SecureChannelSimulationTests {
    @Test func manyConnectionsHandshakeAndEchoUnderJitter() throws {
        let seed = simulationSeed(default: 0x5eed_0003)
        let net = SimNetwork(seed: seed, model: .init(latencyNs: 500_000, jitterNs: 4_000_000, loss: 0, maxChunk: 1500))
        let now = { Duration.nanoseconds(Int64(net.now)) }
        var pairs: [(SimEndpoint, SimEndpoint, [[UInt8]])] = []
        var rng = SimRNG(seed: seed)
        for i in 0..<20 {
            let pipe = try #require(net.openPipe(2 * i, 2 * i + 1))
            let responder = SimEndpoint(node: 2 * i + 1, pipe: pipe, initiator: false, expected: nil, now: now)
            let initiator = SimEndpoint(node: 2 * i, pipe: pipe, initiator: true, expected: responder.identity.peerID, now: now)
            try responder.start()
            try initiator.start()
            pairs.append((initiator, responder, (0..<4).map { _ in rng.bytes(Int(rng.next() % 300_000)) }))
        }
        // Run until every pair is muxed, then open 4 streams per pair with random payloads.
        net.scheduler.run(until: 2_000_000_000) { pairs.allSatisfy { $0.0.phase == .muxed && $0.1.phase == .muxed } }
        for (i, r, _) in pairs {
            #expect(i.phase == .muxed && r.phase == .muxed, "\(seedNote(seed)): \(i.error ?? "") \(r.error ?? "")")
            #expect(i.remote == r.identity.peerID && r.remote == i.identity.peerID, "\(seedNote(seed))")
        }
        for (i, _, payloads) in pairs {
            for p in payloads {
                let id = try i.yamux.openStream(now: now())
                var off = 0
                while off < p.count { off += try i.yamux.write(id, Array(p[off...])); i.flush(); net.scheduler.run(until: net.now + 1_000_000) }
                try i.yamux.closeWrite(id)
                i.flush()
            }
        }
        net.scheduler.run(until: net.now + 60_000_000_000) { pairs.allSatisfy { $0.0.finished.count == 4 } }
        for (i, _, payloads) in pairs {
            // Streams are opened in order with odd ids 1, 3, 5, 7; each echo equals its payload.
            #expect(i.finished.count == 4, "\(seedNote(seed)): \(i.error ?? "")")
            for (k, p) in payloads.enumerated() {
                #expect((i.received[UInt32(2 * k + 1)] ?? []) == p, "\(seedNote(seed)): stream \(2 * k + 1)")
            }
        }
    }

    @Test func wrongPeerAndPartitionFailCleanly() throws {
        let seed = simulationSeed(default: 0x5eed_0004)
        let net = SimNetwork(seed: seed)
        let now = { Duration.nanoseconds(Int64(net.now)) }
        // An initiator expecting someone else fails the handshake with a typed error.
        let pipe = try #require(net.openPipe(1, 2))
        let r = SimEndpoint(node: 2, pipe: pipe, initiator: false, expected: nil, now: now)
        let i = SimEndpoint(node: 1, pipe: pipe, initiator: true, expected: PrivateKey.generate(.secp256k1).peerID, now: now)
        try r.start(); try i.start()
        net.scheduler.run(until: 1_000_000_000)
        #expect(i.phase == .failed && (i.error ?? "").lowercased().contains("peer"), "\(seedNote(seed)): \(i.error ?? "")")
        // A partition mid-handshake breaks the pipe; both ends learn it.
        let pipe2 = try #require(net.openPipe(3, 4))
        let r2 = SimEndpoint(node: 4, pipe: pipe2, initiator: false, expected: nil, now: now)
        let i2 = SimEndpoint(node: 3, pipe: pipe2, initiator: true, expected: r2.identity.peerID, now: now)
        try r2.start(); try i2.start()
        net.partition([4], into: 1)
        net.scheduler.run(until: net.now + 1_000_000_000)
        #expect(i2.closed && r2.closed, "\(seedNote(seed))")
        #expect(i2.phase != .muxed, "\(seedNote(seed))")
    }
}
