import Foundation

/// An in-memory network for sans-IO cores. Nodes are integers. Two kinds of traffic:
///
/// - **byte pipes** (`openPipe`) model a TCP connection: reliable and in order, but delivered in
///   randomly sized chunks after a seeded latency; a partition or `breakPipe` closes them;
/// - **datagrams** (`send`) model RPC-level delivery between routers: seeded latency with jitter
///   (which reorders messages between and within links), loss, and partitions.
///
/// Everything is driven by `SimScheduler`, so a failing run replays from its seed.
final class SimNetwork {
    struct LinkModel {
        var latencyNs: UInt64 = 2_000_000       // 2 ms one way
        var jitterNs: UInt64 = 1_000_000        // uniform extra 0…1 ms
        var loss: Double = 0                    // datagram loss probability
        var maxChunk: Int = 16 * 1024           // pipe delivery chunk bound
    }

    let scheduler: SimScheduler
    var rng: SimRNG
    let seed: UInt64
    var model: LinkModel
    private var partitionOf: [Int: Int] = [:]   // node -> partition id (absent = 0)
    private(set) var datagramsSent = 0
    private(set) var datagramsLost = 0

    init(seed: UInt64, model: LinkModel = LinkModel()) {
        self.seed = seed
        self.rng = SimRNG(seed: seed)
        self.model = model
        self.scheduler = SimScheduler()
    }

    var now: UInt64 { scheduler.now }

    func canReach(_ a: Int, _ b: Int) -> Bool { (partitionOf[a] ?? 0) == (partitionOf[b] ?? 0) }

    /// Puts `nodes` in partition `id` (0 = the main network). Open pipes across partitions break.
    func partition(_ nodes: [Int], into id: Int) {
        for n in nodes { partitionOf[n] = id }
        for p in pipes where !p.closed && !canReach(p.a, p.b) { p.breakPipe() }
    }

    func heal() {
        partitionOf.removeAll()
    }

    func delay() -> UInt64 { model.latencyNs + (model.jitterNs > 0 ? rng.next() % model.jitterNs : 0) }

    /// Datagram delivery: `deliver` runs after latency unless lost or partitioned.
    func send(from a: Int, to b: Int, _ deliver: @escaping () -> Void) {
        datagramsSent += 1
        guard canReach(a, b), !rng.chance(model.loss) else { datagramsLost += 1; return }
        scheduler.schedule(after: delay()) { [weak self] in
            guard let self, self.canReach(a, b) else { return }
            deliver()
        }
    }

    // MARK: byte pipes

    final class Pipe {
        let a: Int, b: Int
        unowned let net: SimNetwork
        var onBytes: [Int: ([UInt8]) -> Void] = [:]     // keyed by receiving node
        var onClose: [Int: () -> Void] = [:]
        private var nextDelivery: [Int: UInt64] = [:]   // keeps per-direction FIFO order
        private(set) var closed = false

        init(a: Int, b: Int, net: SimNetwork) { self.a = a; self.b = b; self.net = net }

        /// Sends bytes from `from` to the other end, chunked, in order.
        func write(from: Int, _ bytes: [UInt8]) {
            guard !closed, !bytes.isEmpty else { return }
            let to = from == a ? b : a
            var offset = 0
            while offset < bytes.count {
                let n = min(bytes.count - offset, 1 + Int(net.rng.next() % UInt64(net.model.maxChunk)))
                let chunk = Array(bytes[offset..<(offset + n)])
                offset += n
                let t = max(net.now + net.delay(), (nextDelivery[to] ?? 0) + 1)
                nextDelivery[to] = t
                net.scheduler.schedule(at: t) { [weak self] in
                    guard let self, !self.closed else { return }
                    self.onBytes[to]?(chunk)
                }
            }
        }

        func breakPipe() {
            guard !closed else { return }
            closed = true
            let handlers = onClose
            net.scheduler.schedule(after: 0) { for (_, h) in handlers.sorted(by: { $0.key < $1.key }) { h() } }
        }
    }

    private(set) var pipes: [Pipe] = []

    func openPipe(_ a: Int, _ b: Int) -> Pipe? {
        guard canReach(a, b) else { return nil }
        let p = Pipe(a: a, b: b, net: self)
        pipes.append(p)
        return p
    }
}

/// Prints the seed of a failing simulation so it can be replayed.
func seedNote(_ seed: UInt64) -> String { "simulation seed \(seed) (replay: SIM_SEED=\(seed))" }

/// The seed for a run: `SIM_SEED` from the environment, or the given default.
func simulationSeed(default value: UInt64) -> UInt64 {
    if let s = ProcessInfo.processInfo.environment["SIM_SEED"], let v = UInt64(s) { return v }
    return value
}

