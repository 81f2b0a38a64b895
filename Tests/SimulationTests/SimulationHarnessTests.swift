import Testing

/// The harness itself: determinism, ordering and partitions.
@Suite struct SimulationHarnessTests {
    @Test func sameSeedSameRun() {
        func trace(seed: UInt64) -> [String] {
            let net = SimNetwork(seed: seed, model: .init(latencyNs: 1_000, jitterNs: 5_000, loss: 0.2))
            var log: [String] = []
            for i in 0..<200 { net.send(from: i % 5, to: (i + 1) % 5) { log.append("\(i)@\(net.now)") } }
            net.scheduler.run()
            return log
        }
        let seed = simulationSeed(default: 42)
        #expect(trace(seed: seed) == trace(seed: seed), "\(seedNote(seed))")
        #expect(trace(seed: seed) != trace(seed: seed + 1), "\(seedNote(seed))")
        // Loss of 20 % drops some but not most datagrams.
        let n = trace(seed: seed).count
        #expect(n > 120 && n < 190, "\(seedNote(seed)): delivered \(n)")
    }

    @Test func pipesAreReliableAndOrderedDespiteJitter() throws {
        let seed = simulationSeed(default: 7)
        let net = SimNetwork(seed: seed, model: .init(latencyNs: 100_000, jitterNs: 900_000, maxChunk: 97))
        let pipe = try #require(net.openPipe(1, 2))
        var got: [UInt8] = []
        pipe.onBytes[2] = { got += $0 }
        var rng = SimRNG(seed: seed)
        let sent = rng.bytes(50_000)
        var off = 0
        while off < sent.count {
            let n = min(sent.count - off, Int(rng.next() % 3000) + 1)
            pipe.write(from: 1, Array(sent[off..<(off + n)]))
            off += n
        }
        net.scheduler.run()
        #expect(got == sent, "\(seedNote(seed))")
    }

    @Test func partitionsDropTrafficAndBreakPipes() throws {
        let net = SimNetwork(seed: 1)
        let pipe = try #require(net.openPipe(1, 2))
        var closed = false
        pipe.onClose[1] = { closed = true }
        var delivered = 0
        net.partition([2], into: 1)
        net.send(from: 1, to: 2) { delivered += 1 }
        net.send(from: 1, to: 3) { delivered += 1 }
        #expect(net.openPipe(1, 2) == nil)
        net.scheduler.run()
        #expect(delivered == 1)
        #expect(closed)
        net.heal()
        net.send(from: 1, to: 2) { delivered += 1 }
        net.scheduler.run()
        #expect(delivered == 2)
    }
}
