import Foundation
import P2PCore
import Testing
import Gossip

/// Gossipsub with op-node's parameters and light scoring on 100 simulated nodes: full delivery,
/// mesh degrees within [Dlo, Dhi] after warm-up, and recovery via gossip under loss and
/// partitions. Replay a failure with `SIM_SEED=<seed>`.
@Suite struct GossipSimulationTests {
    static let s = GossipSim.second

    @Test func hundredNodesDeliverEveryMessageWithMeshDegreesInBounds() throws {
        let seed = simulationSeed(default: 0x60551b)
        let note = seedNote(seed)
        let sim = try GossipSim(seed: seed, nodes: 100, scoring: .opNodeLight(blockTime: 2))
        sim.randomTopology(dials: 8...10)
        #expect(sim.isConnected(), "\(note): topology not connected")
        try sim.joinAll()
        sim.startHeartbeats()
        let p = sim.parameters
        var checking = false
        var checks = 0
        var violations: [String] = []
        sim.afterHeartbeat = { node in
            guard checking else { return }
            checks += 1
            let n = sim.meshSize(node)
            if n < p.dlo || n > p.dhi { violations.append("node \(node): mesh \(n) at t=\(sim.net.now)") }
        }
        sim.run(for: 5 * Self.s)   // warm-up
        checking = true
        var ids: [MessageID] = []
        for _ in 0..<300 {
            let publisher = Int(sim.rng.next() % 100)
            ids.append(try sim.publish(from: publisher))
            sim.run(for: Self.s / 10)
        }
        sim.run(for: 3 * Self.s)
        checking = false
        let undelivered = ids.filter { !sim.missing($0).isEmpty }
        #expect(undelivered.isEmpty, "\(note): \(undelivered.count) of \(ids.count) messages missed some node, e.g. \(undelivered.prefix(3).map { "\($0): \(sim.missing($0))" })")
        #expect(checks > 5_000, "\(note): mesh checked at every heartbeat (\(checks))")
        #expect(violations.isEmpty, "\(note): \(violations.count) mesh-degree violations, e.g. \(violations.prefix(5))")
        // Each message was validated once per node, not once per copy.
        #expect(sim.validations <= 100 * ids.count, "\(note): \(sim.validations) validations")
    }

    @Test func lossAndHealingPartitionsAreRepairedByGossip() throws {
        let seed = simulationSeed(default: 0x1055)
        let note = seedNote(seed)
        var model = SimNetwork.LinkModel()
        model.loss = 0.05
        let sim = try GossipSim(seed: seed, nodes: 60, scoring: .opNodeLight(blockTime: 2), model: model)
        sim.randomTopology(dials: 8...10)
        #expect(sim.isConnected(), "\(note)")
        try sim.joinAll()
        sim.startHeartbeats()
        sim.run(for: 5 * Self.s)
        var ids: [MessageID] = []
        for round in 0..<12 {
            // Every other round, cut a random tenth of the network off for 800 ms (its connections
            // across the cut close), publishing on both sides meanwhile; then heal and redial.
            let cut = round % 2 == 0 ? (0..<6).map { _ in Int(sim.rng.next() % 60) } : []
            if !cut.isEmpty { sim.partition(cut) }
            for _ in 0..<8 {
                ids.append(try sim.publish(from: Int(sim.rng.next() % 60)))
                sim.run(for: Self.s / 10)
            }
            sim.heal()
            sim.run(for: Self.s)
        }
        sim.run(for: 4 * Self.s)
        #expect(sim.net.datagramsLost > 1_000, "\(note): loss and partitions dropped traffic (\(sim.net.datagramsLost))")
        let undelivered = ids.filter { !sim.missing($0).isEmpty }
        #expect(undelivered.isEmpty, "\(note): \(undelivered.count) of \(ids.count) messages incomplete, e.g. \(undelivered.prefix(3).map { "\($0): \(sim.missing($0))" })")
    }

    @Test func sameSeedSameRun() throws {
        func run(_ seed: UInt64) throws -> [Int] {
            let sim = try GossipSim(seed: seed, nodes: 20, model: .init(latencyNs: 2_000_000, jitterNs: 3_000_000, loss: 0.02))
            sim.randomTopology(dials: 4...6)
            try sim.joinAll()
            sim.startHeartbeats()
            sim.run(for: 2 * Self.s)
            for i in 0..<20 {
                try sim.publish(from: i)
                sim.run(for: Self.s / 20)
            }
            sim.run(for: 2 * Self.s)
            return sim.honest.map { sim.meshSize($0) } + [sim.rpcsDelivered, sim.net.datagramsLost]
        }
        let seed = simulationSeed(default: 77)
        #expect(try run(seed) == run(seed), "\(seedNote(seed))")
    }
}
