import Foundation
import P2PCore
import Testing
import Gossip

/// gossipsub v1.2 IDONTWANT on the simulated network (`gossipsub-v1.2.md`): the same seeded run
/// once with every link on /meshsub/1.1.0 and once on /meshsub/1.2.0, messages above the
/// IDONTWANT threshold and a validation delay like a block's. With 1.2 a node tells its mesh
/// that it has a message before validating it, so its mesh peers stop sending it copies: the
/// duplicates received per delivered message must drop clearly, and delivery stay complete.
@Suite struct GossipIDontWantSimulationTests {
    static let s = GossipSim.second

    struct Run {
        var delivered = 0
        var duplicates = 0
        var incomplete = 0
        var idontwantIDs = 0
        var perDelivery: Double { delivered > 0 ? Double(duplicates) / Double(delivered) : .infinity }
    }

    func run(seed: UInt64, _ version: GossipSubProtocol) throws -> Run {
        let n = 40
        let sim = try GossipSim(seed: seed, nodes: n, scoring: .opNodeLight(blockTime: 2), protocolVersion: version)
        sim.validationDelay = 3_000_000   // 3 ms, about a block's checks
        sim.randomTopology(dials: 8...10)
        #expect(sim.isConnected(), "\(seedNote(seed))")
        var copies: [Int: [MessageID: Int]] = [:]
        var result = Run()
        sim.observe = { node, _, rpc in
            for m in rpc.publish { copies[node, default: [:]][MessageID(Array(m.data.prefix(8))), default: 0] += 1 }
            if rpc.hasControl { result.idontwantIDs += rpc.control.idontwant.reduce(0) { $0 + $1.messageIds.count } }
        }
        try sim.joinAll()
        sim.startHeartbeats()
        sim.run(for: 5 * Self.s)
        var ids: [MessageID] = []
        for _ in 0..<60 {
            ids.append(try sim.publish(from: Int(sim.rng.next() % UInt64(n)), size: 4096))
            sim.run(for: Self.s / 10)
        }
        sim.run(for: 3 * Self.s)
        for id in ids {
            result.incomplete += sim.missing(id).isEmpty ? 0 : 1
            for node in sim.honest {
                let c = copies[node]?[id] ?? 0
                if c > 0 {
                    result.delivered += 1
                    result.duplicates += c - 1
                }
            }
        }
        return result
    }

    @Test func idontwantCutsDuplicatesPerDeliveredMessage() throws {
        let seed = simulationSeed(default: 0x1d0_0a47)
        let note = seedNote(seed)
        let v11 = try run(seed: seed, .meshsub11)
        let v12 = try run(seed: seed, .meshsub12)
        #expect(v11.incomplete == 0 && v12.incomplete == 0, "\(note): incomplete 1.1 \(v11.incomplete), 1.2 \(v12.incomplete)")
        #expect(v11.idontwantIDs == 0, "\(note): no IDONTWANT on 1.1 links")
        #expect(v12.idontwantIDs > 0, "\(note)")
        #expect(v11.perDelivery > 1, "\(note): the 1.1 mesh sends duplicates (\(v11.perDelivery) per delivery)")
        // A clear reduction: at most 60 % of the 1.1 duplicates.
        #expect(v12.perDelivery < 0.6 * v11.perDelivery,
                "\(note): duplicates per delivered message 1.1 \(v11.perDelivery), 1.2 \(v12.perDelivery)")
    }
}
