import Testing
import P2PCore
import Rollup
import ReqResp

/// `payload_by_number` end to end in simulation (spec §5): one client running `SyncScheduler`
/// fills a 1,000-block gap from 8 servers running `PayloadByNumberServer` at op-node's rate limits
/// over a `SimNetwork` with latency, jitter and loss. Two servers are hostile: one answers with
/// wrong-chain blocks, garbage and wrong numbers; one answers late or never (slow drip). Blocks are
/// tiny V4 payloads with real hashes, decoded and verified by `ResponseDecoder` on the client path.
@Suite struct ReqRespSimulationTests {
    @Test func thousandBlockGapFillsFromEightServersTwoHostile() throws {
        let seed = simulationSeed(default: 0x5ec0_11ec7)
        let sim = try ReqRespSim(seed: seed)
        let result = sim.run()
        let note = seedNote(seed)

        #expect(result.completed, "\(note): range did not complete; delivered \(result.delivered.count)")
        #expect(result.delivered.map(\.payload.blockNumber) == Array(1...ReqRespSim.gap), "\(note)")
        #expect(result.delivered.map(\.payload.blockHash) == sim.chain[1...Int(ReqRespSim.gap)].map(\.payload.blockHash), "\(note)")
        for (i, score) in result.scores.enumerated() {
            if sim.isHostile(i) {
                #expect(score < 0, "\(note): hostile server \(i) has application score \(score)")
            } else {
                #expect(score > 0, "\(note): honest server \(i) has application score \(score)")
            }
        }
        let honestFloor = result.scores.enumerated().filter { !sim.isHostile($0.offset) }.map(\.element).min() ?? 0
        let hostileCeiling = result.scores.enumerated().filter { sim.isHostile($0.offset) }.map(\.element).max() ?? 0
        #expect(hostileCeiling < honestFloor, "\(note)")

        // Throughput against the ceiling: 6 honest servers × 4/s = 24/s exceeds the client's global
        // 20/s (burst 40), so the client's global limiter is the cap: 40 at once, then 20/s.
        let seconds = Double(result.elapsedNs) / 1e9
        let ceiling = Double(ReqRespSim.gap - 40) / 20
        print("""
            req-resp simulation (\(note)): \(ReqRespSim.gap) blocks in \(String(format: "%.2f", seconds)) s virtual \
            (\(String(format: "%.1f", Double(ReqRespSim.gap) / seconds)) blocks/s; ceiling \(String(format: "%.1f", ceiling)) s \
            at the client's global 20/s after a burst of 40); requests \(result.stats.requestsSent), hedged \
            \(result.stats.hedgedRequests), timeouts \(result.stats.timeouts), failures \(result.stats.failedResponses), \
            rejected payloads \(result.stats.rejectedPayloads), evictions \(result.stats.quarantineEvictions), \
            stall reports \(sim.stalls.count), \
            datagrams lost \(result.lost)/\(result.datagrams); scores \(result.scores.map { String(format: "%.2f", $0) })
            """)
        #expect(seconds >= ceiling - 0.001, "\(note): faster than the global rate limit allows")
        #expect(seconds < ceiling * 1.5, "\(note): \(seconds) s is far from the \(ceiling) s ceiling")
        #expect(result.stats.rejectedPayloads > 0, "\(note): the wrong-chain server was never caught")
        #expect(result.stats.timeouts > 0, "\(note): the slow server never timed out")
    }
}

/// One simulated network: node 0 is the client, nodes 1…8 the servers.
private final class ReqRespSim {
    static let gap: UInt64 = 1000
    static let servers = 8
    static let wrongServer = 3
    static let slowServer = 6
    /// The client's read timeout (spec §5.2).
    static let readTimeoutNs: UInt64 = 10_000_000_000

    let seed: UInt64
    let net: SimNetwork
    let config = RollupConfig.forTesting(chainID: 901, genesisTime: 1_000_000, genesisNumber: 0, blockTime: 2)
    /// Blocks 0 … gap + 1: the client has block 0; block gap + 1 is the trusted target.
    let chain: [ExecutionPayloadEnvelope]
    let peers: [PeerID]
    private let clientPeer: PeerID
    private var servers: [PayloadByNumberServer] = []
    private var client = SyncScheduler()
    private var scores = ApplicationScore(params: .opNode(blockTime: 2))
    private var delivered: [ExecutionPayloadEnvelope] = []
    private var completed = false
    private var lastRequestID: UInt64 = 0
    private var requests: [UInt64: (server: Int, number: UInt64)] = [:]
    private var armedTick: UInt64?
    private var rng: SimRNG
    private var finishedAt: UInt64 = 0
    private(set) var stalls: [SyncStallReason] = []

    struct Result {
        var completed: Bool
        var delivered: [ExecutionPayloadEnvelope]
        var scores: [Double]
        var elapsedNs: UInt64
        var stats: SyncSchedulerStats
        var datagrams: Int
        var lost: Int
    }

    init(seed: UInt64) throws {
        self.seed = seed
        net = SimNetwork(seed: seed, model: .init(latencyNs: 15_000_000, jitterNs: 30_000_000, loss: 0.005, maxChunk: 4096))
        rng = SimRNG(seed: seed ^ 0xa5a5)
        chain = try SimChain.make(count: Int(Self.gap) + 2, config: config, salt: 0)
        clientPeer = try PeerID(bytes: [0x00, 0x02, 0x0c, 0x00])
        peers = try (1...Self.servers).map { try PeerID(bytes: [0x00, 0x02, 0x5e, UInt8($0)]) }
        let honest = StoredChain(blocks: try chain.map { ServedPayload(version: 1, ssz: try $0.sszEncoded(version: .v4)) })
        let wrong = HostileSource(canonical: honest, alternative: StoredChain(blocks: try SimChain.make(count: chain.count, config: config, salt: 0xba)
            .map { ServedPayload(version: 1, ssz: try $0.sszEncoded(version: .v4)) }))
        for i in 0..<Self.servers {
            let source: any PayloadSource = i == Self.wrongServer ? wrong : honest
            servers.append(PayloadByNumberServer(config: config, source: source))
        }
    }

    func isHostile(_ i: Int) -> Bool { i == Self.wrongServer || i == Self.slowServer }

    /// Wall-clock time as the nodes see it: far enough after genesis that every block exists.
    private var wall: Duration { .seconds(Int64(config.genesis.l2Time) + 2 * 5000) + .nanoseconds(Int64(net.now)) }
    private var clientNow: Duration { .nanoseconds(Int64(net.now)) }

    func run() -> Result {
        for (i, p) in peers.enumerated() {
            net.scheduler.schedule(after: UInt64(i) * 1_000_000) { [self] in
                perform(client.peerConnected(p, supportsProtocol: true, isStatic: false, now: clientNow))
            }
        }
        let head = chain[0].payload
        let target = chain[Int(Self.gap) + 1].payload
        net.scheduler.schedule(after: 10_000_000) { [self] in
            do {
                let (_, actions) = try client.requestRange(
                    start: .init(hash: head.blockHash, number: head.blockNumber),
                    end: SyncTarget(number: target.blockNumber, hash: target.blockHash, parentHash: target.parentHash),
                    now: clientNow)
                perform(actions)
            } catch {
                Issue.record("\(seedNote(seed)): requestRange: \(error)")
            }
        }
        let started: UInt64 = 10_000_000
        net.scheduler.run(until: 600_000_000_000, stopWhen: { completed })
        return Result(completed: completed, delivered: delivered, scores: peers.map { scores.score(of: $0) },
                      elapsedNs: finishedAt > started ? finishedAt - started : 0, stats: client.stats,
                      datagrams: net.datagramsSent, lost: net.datagramsLost)
    }

    // MARK: Client host glue

    private func perform(_ actions: [SyncAction]) {
        scores.tick(now: clientNow) { _ in true }
        for action in actions {
            switch action {
            case .sendRequest(let peer, let number):
                guard let server = peers.firstIndex(of: peer) else { continue }
                send(to: server, number: number)
            case .deliver(let envelope):
                delivered.append(envelope)
            case .scoreUpdate(let peer, let delta):
                scores.record(delta, for: peer)
            case .rangeComplete:
                completed = true
                finishedAt = net.now
            case .rangeStalled(_, let reason):
                stalls.append(reason)
                if case .doesNotConnect = reason { Issue.record("\(seedNote(seed)): \(reason)") }
            }
        }
        armTick()
    }

    private func armTick() {
        guard let deadline = client.nextDeadline else { return }
        let at = UInt64(max(0, deadline.components.seconds)) * 1_000_000_000
            + UInt64(deadline.components.attoseconds / 1_000_000_000) + 1
        if let armed = armedTick, armed <= at, armed > net.now { return }
        armedTick = at
        net.scheduler.schedule(at: at) { [self] in
            if armedTick == at { armedTick = nil }
            perform(client.tick(now: clientNow))
        }
    }

    private func send(to server: Int, number: UInt64) {
        lastRequestID += 1
        let id = lastRequestID
        requests[id] = (server, number)
        let bytes = PayloadByNumber.encodeRequest(number)
        net.send(from: 0, to: server + 1) { [self] in serve(server, request: bytes, id: id) }
        net.scheduler.schedule(after: Self.readTimeoutNs) { [self] in
            guard let r = requests.removeValue(forKey: id) else { return }
            perform(client.requestTimedOut(peer: peers[r.server], number: r.number, now: clientNow))
        }
    }

    private func receive(id: UInt64, bytes: [UInt8]) {
        guard let r = requests.removeValue(forKey: id) else { return }   // timed out already
        var decoder = ResponseDecoder(requestedNumber: r.number, config: config)
        let result: Swift.Result<ExecutionPayloadEnvelope, PayloadByNumberError>
        do throws(PayloadByNumberError) {
            var offset = 0
            while offset < bytes.count {   // socket-sized reads
                let n = min(bytes.count - offset, 1 + Int(rng.next() % 2048))
                try decoder.feed(bytes[offset..<(offset + n)])
                offset += n
            }
            result = .success(try decoder.finish().0)
        } catch {
            result = .failure(error)
        }
        perform(client.responseReceived(peer: peers[r.server], number: r.number, result: result, now: clientNow))
    }

    // MARK: Server host glue

    private func serve(_ server: Int, request: [UInt8], id: UInt64) {
        let handling = servers[server].handleRequest(from: clientPeer, request: .success(request), now: wall)
        switch handling.action {
        case .respond(let response):
            reply(server, ticket: handling.ticket, response: response, id: id)
        case .respondAfter(let wait):
            let ns = UInt64(wait.components.seconds) * 1_000_000_000 + UInt64(wait.components.attoseconds / 1_000_000_000)
            net.scheduler.schedule(after: ns) { [self] in
                let response = servers[server].resume(handling.ticket, now: wall)
                reply(server, ticket: handling.ticket, response: response, id: id)
            }
        }
    }

    private func reply(_ server: Int, ticket: ServerTicket, response: ServerResponse, id: UInt64) {
        // The slow server drips: one answer in ten after 4–8 s, the rest after 12–30 s (beyond
        // the client's read timeout).
        var extra: UInt64 = 0
        if server == Self.slowServer {
            extra = rng.next() % 10 == 0 ? 4_000_000_000 + rng.next() % 4_000_000_000
                                        : 12_000_000_000 + rng.next() % 18_000_000_000
        }
        net.scheduler.schedule(after: extra) { [self] in
            servers[server].finished(ticket, now: wall)
            net.send(from: server + 1, to: 0) { [self] in receive(id: id, bytes: response.bytes) }
        }
    }
}

/// Tiny V4 blocks with real hashes: a template with number, timestamp, parent hash and extra data
/// changed and the hash recomputed.
private enum SimChain {
    static func make(count: Int, config: RollupConfig, salt: UInt8) throws -> [ExecutionPayloadEnvelope] {
        let zero32 = [UInt8](repeating: 0, count: 32)
        var blocks: [ExecutionPayloadEnvelope] = []
        blocks.reserveCapacity(count)
        var parent = zero32
        for n in 0..<UInt64(count) {
            // Chains with different salts share block 0 (the client's head) and diverge after it.
            let extra: [UInt8] = (n == 0 ? [0] : [salt]) + (0..<8).map { UInt8(truncatingIfNeeded: n >> (8 * UInt64($0))) }
            let payload = ExecutionPayload(
                parentHash: parent, feeRecipient: [UInt8](repeating: 0x11, count: 20), stateRoot: zero32,
                receiptsRoot: zero32, logsBloom: [UInt8](repeating: 0, count: 256), prevRandao: zero32, blockNumber: n,
                gasLimit: 30_000_000, gasUsed: 0, timestamp: config.timestampForBlock(n), extraData: extra,
                baseFeePerGas: UInt256(1), blockHash: zero32, transactions: [], withdrawals: [], blobGasUsed: 0,
                excessBlobGas: 0, withdrawalsRoot: zero32)
            var envelope = ExecutionPayloadEnvelope(payload: payload, parentBeaconBlockRoot: zero32)
            envelope.payload.blockHash = envelope.computeBlockHash(version: .v4)
            parent = envelope.payload.blockHash
            blocks.append(envelope)
        }
        return blocks
    }
}

/// The block store as the server sees it.
private struct StoredChain: PayloadSource {
    let blocks: [ServedPayload]
    func payload(number: UInt64) throws -> ServedPayload? {
        number < UInt64(blocks.count) ? blocks[Int(number)] : nil
    }
}

/// Wrong-chain blocks (valid hashes, another parent chain) for four numbers in six, garbage and
/// wrong numbers for the others.
private struct HostileSource: PayloadSource {
    let canonical: StoredChain
    let alternative: StoredChain
    func payload(number: UInt64) throws -> ServedPayload? {
        switch number % 6 {
        case 4: return ServedPayload(version: 1, ssz: (0..<600).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(number)) })
        case 5: return try canonical.payload(number: number + 1)
        default: return try alternative.payload(number: number)
        }
    }
}
