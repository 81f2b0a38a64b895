import Foundation
import P2PCore

// `make bench`: figures, not assertions. Sections can be chosen: p2pnode-bench [primitives] [validation] …
let args = Set(CommandLine.arguments.dropFirst())
func wants(_ s: String) -> Bool { args.isEmpty || args.contains(s) }

AllocatorTuning.apply()  // as `p2pnode run` does (P2PCore/Support/AllocatorTuning.swift)
print("p2pnode benchmarks — \(ProcessInfo.processInfo.activeProcessorCount) cores, release build")
let costs = wants("primitives") || wants("validation") ? PrimitiveBenchmarks.run() : PrimitiveBenchmarks.Costs()
if wants("validation") {
    do { try ValidationBenchmarks.run(costs: costs) } catch { print("validation benchmark failed: \(error)") }
}
if wants("transport") { TransportBenchmarks.run() }
let gossipOneHop = wants("gossip") || args.contains("gossip-onehop")
let gossipMesh = wants("gossip") || args.contains("gossip-mesh")
if gossipOneHop || gossipMesh {
    do { try await GossipBenchmarks.run(oneHop: gossipOneHop, mesh: gossipMesh) } catch { print("gossip benchmark failed: \(error)") }
}
if wants("reqresp") {
    do { try await ReqRespBenchmarks.run() } catch { print("req-resp benchmark failed: \(error)") }
}
