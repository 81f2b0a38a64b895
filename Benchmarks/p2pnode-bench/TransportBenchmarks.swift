import Dispatch
import Foundation
import P2PCore
#if canImport(Glibc)
import Glibc
#endif

/// The secure transport (TCP loopback → multistream → Noise XX → yamux, DESIGN.md "Layout"
/// Transport/Security/Muxer/Host) held against the platform limits (BENCHMARKS.md §Transport):
/// single-stream throughput between two `P2PHost`s, full connection upgrades per second, the bare
/// sans-IO `NoiseHandshake` pair per second, and resident memory per idle connection pair.
///
/// Prints `RESULT transport.<name>=<value>` lines that `interop/bench` parses to put the Swift
/// figures next to go-libp2p's. Every wait is bounded (`timeout`); a measurement that does not
/// finish prints why and is skipped.
enum TransportBenchmarks {
    static let benchProtocol = "/p2pnode/bench/1.0.0"
    static let transferBytes = 256 << 20
    static let chunkBytes = 1 << 20
    static let timeout: DispatchTimeInterval = .seconds(60)
    static let idleConnections = 200
    static let cores = ProcessInfo.processInfo.activeProcessorCount

    static func run() {
        print("Transport (Noise + yamux over TCP loopback, release, client and server in one process):")
        // `p2pnode-bench transport [stream] [handshakes] [memory]`: a subset, e.g. for a profiler.
        let parts = ["stream", "handshakes", "memory"]
        let chosen = Set(CommandLine.arguments.dropFirst()).intersection(parts)
        func on(_ part: String) -> Bool { chosen.isEmpty || chosen.contains(part) }
        if on("memory") { idleMemory() }
        if on("stream") { throughput() }
        if on("handshakes") { handshakes() }
    }

    /// Pushes printed lines out now: interop/bench reads them through a pipe, and a profiler
    /// attached from outside watches for them.
    static func flush() { fflush(nil) }

    /// A machine-readable figure for interop/bench: `RESULT transport.<key>=<value>`.
    static func result(_ key: String, _ value: Double) {
        print("RESULT transport.\(key)=\(String(format: "%.2f", value))")
        flush()
    }

    // MARK: Hosts

    static func makeHost(_ tune: (inout HostConfig) -> Void = { _ in }) -> P2PHost? {
        var config = HostConfig(identity: .generate(.secp256k1))
        // Benchmarks open more connections than op-node's peer limits; keep them all.
        config.connectionManager.highWater = 100_000
        config.connectionManager.lowWater = 100_000
        config.maxConnections = 100_000
        tune(&config)
        let host = P2PHost(config: config)
        do {
            try host.listen(on: try Multiaddr("/ip4/127.0.0.1/tcp/0"))
        } catch {
            print("  cannot listen on 127.0.0.1: \(error)")
            return nil
        }
        return host
    }

    static func dialAddress(of host: P2PHost) -> Multiaddr? {
        host.listenAddresses.first.map { $0.appending(.p2p(host.peerID)) }
    }

    /// Connects `from` to `to`, waiting at most `timeout`.
    static func connect(_ from: P2PHost, to: P2PHost) -> Result<PeerID, HostError>? {
        guard let addr = dialAddress(of: to) else { return .failure(.noAddresses(to.peerID)) }
        let box = ResultBox<PeerID>()
        from.connect(addr) { box.set($0) }
        return box.wait(timeout)
    }

    // MARK: Single-stream throughput

    static func throughput() {
        // Seal measured now, on the same (possibly shared) machine: under load, the fraction of
        // it reached says more than the fraction of the quiet-machine figure.
        let sealNow = sealMBs()
        let openNow = openMBs()
        // Both ends in this process on `cores` cores: the sender seals, the receiver opens; at best
        // each on its own core (the slower one bounds), at worst both on one core.
        let parallelBound = min(sealNow, openNow)
        let oneCoreBound = 1 / (1 / sealNow + 1 / openNow)
        print(String(format: "  ChaChaPoly (%@) measured now: seal %.0f MB/s, open in place %.0f MB/s → bound %.0f MB/s with seal ∥ open on 2 cores, %.0f MB/s on one core (kernel copies not counted)",
                     ChaChaPoly.largeMessageLibrary, sealNow, openNow, parallelBound, oneCoreBound))
        result("open_now.mbps", openNow)
        // Default configuration (256 KiB yamux window, auto-tuned up to 16 MiB as go-yamux does),
        // then two diagnostics: a fixed 256 KiB window (auto-tuning off), and the receive window
        // opened to 16 MiB up front.
        let configs: [(label: String, key: String?, tune: (inout HostConfig) -> Void)] = [
            ("default config", nil, { _ in }),
            ("256 KiB yamux window, no auto-tuning", "window256k_fixed", { $0.yamux.windowAutoTuning = false }),
            ("16 MiB yamux window", "window16m", { $0.yamux.initialStreamWindow = 16 << 20 }),
        ]
        for (label, key, tune) in configs {
            guard let r = transferRuns(tune) else { continue }
            Bench.row("1 stream, 256 MiB, \(label)", r.median, unit: "MB/s", limit: Limits.loopbackOneWayMBs,
                      limitNote: "(loopback one way)")
            print(String(format: "    vs the crypto bound measured now: seal ∥ open %.0f%%, seal + open on one core %.0f%%",
                         r.median / parallelBound * 100, r.median / oneCoreBound * 100))
            print(String(format: "    median of %d runs: %@ MB/s; process CPU %.2f core-s per GB (%.0f%% of %d cores)",
                         r.runs.count, r.runs.map { Bench.format($0) }.joined(separator: ", "), r.cpuPerGB, r.cpuShare * 100, cores))
            if let key {
                result("stream.\(key).mbps", r.median)
                result("stream.\(key).cpu_s_per_gb", r.cpuPerGB)
            } else {
                result("stream.mbps", r.median)
                result("stream.best_mbps", r.runs.max() ?? 0)
                result("stream.cpu_s_per_gb", r.cpuPerGB)
                result("seal_now.mbps", sealNow)
            }
        }
    }

    /// ChaCha20-Poly1305 seal of 64 KiB frames (the Noise frame size) into a caller's buffer.
    static func sealMBs() -> Double {
        let key = secureRandomBytes(32)
        let frame = secureRandomBytes(NoiseSession.maxPlaintextPerFrame)
        var out = [UInt8](repeating: 0, count: frame.count + ChaChaPoly.tagSize)
        return Bench.opsPerSecond(seconds: 0.5) {
            frame.withUnsafeBytes { p in out.withUnsafeMutableBytes { o in _ = ChaChaPoly.seal(key: key, nonce: 1, ad: [], plaintext: p, into: o) } }
        } * Double(frame.count) / 1e6
    }

    /// ChaCha20-Poly1305 open in place of 64 KiB frames, as the receiving Noise session does.
    static func openMBs() -> Double {
        let key = secureRandomBytes(32)
        let frame = secureRandomBytes(NoiseSession.maxPlaintextPerFrame)
        let sealed = ChaChaPoly.seal(key: key, nonce: 1, ad: [], plaintext: frame)
        var work = sealed
        return Bench.opsPerSecond(seconds: 0.5) {
            work.withUnsafeMutableBytes { w in sealed.withUnsafeBytes { w.copyMemory(from: $0) } }
            _ = try? work.withUnsafeMutableBytes { try ChaChaPoly.open(key: key, nonce: 1, ad: [], inPlace: $0) }
        } * Double(frame.count) / 1e6
    }

    struct TransferResult {
        var runs: [Double]
        var median: Double
        var cpuPerGB: Double
        var cpuShare: Double
    }

    static func transferRuns(_ tune: (inout HostConfig) -> Void) -> TransferResult? {
        guard let server = makeHost(tune), let client = makeHost(tune) else { return nil }
        defer { client.close(); server.close() }
        let sink = Sink()
        server.setStreamHandler(benchProtocol) { stream in sink.attach(stream) }
        switch connect(client, to: server) {
        case .success?: break
        case .failure(let e)?: print("  connect failed: \(e)"); return nil
        case nil: print("  connect timed out"); return nil
        }
        // Warm-up: a 32 MiB transfer (page faults, Dispatch threads, allocator).
        guard transfer(client, to: server.peerID, bytes: 32 << 20, sink: sink) != nil else { return nil }
        var runs: [Double] = []
        var cpu = 0.0
        var wall = 0.0
        for _ in 0..<3 {
            let cpu0 = processCPUSeconds()
            guard let seconds = transfer(client, to: server.peerID, bytes: transferBytes, sink: sink) else { return nil }
            cpu += processCPUSeconds() - cpu0
            wall += seconds
            runs.append(Double(transferBytes) / seconds / 1e6)
        }
        let sorted = runs.sorted()
        let gb = Double(transferBytes * runs.count) / 1e9
        return TransferResult(runs: runs, median: sorted[sorted.count / 2], cpuPerGB: cpu / gb,
                              cpuShare: cpu / wall / Double(cores))
    }

    /// One stream: the sender writes `bytes` in `chunkBytes` chunks while the stream is writable
    /// (continuing in `onWritable`), then half-closes. Returns the seconds from the first write to
    /// the receiver's last byte, or nil (after printing why).
    static func transfer(_ client: P2PHost, to peer: PeerID, bytes: Int, sink: Sink) -> Double? {
        sink.expect(bytes)
        let opened = ResultBox<P2PStream>()
        client.newStream(to: peer, protocols: [benchProtocol]) { opened.set($0) }
        let stream: P2PStream
        switch opened.wait(timeout) {
        case .success(let s)?: stream = s
        case .failure(let e)?: print("  stream open failed: \(e)"); return nil
        case nil: print("  stream open timed out"); return nil
        }
        let sender = Sender(stream: stream, total: bytes)
        stream.queue.async { sender.start() }
        guard let received = sink.wait(timeout) else {
            print("  transfer timed out (\(sink.progress) of \(bytes) bytes received)")
            stream.abort()
            return nil
        }
        guard received.bytes == bytes, received.stray == 0, let started = sender.startedAt else {
            print("  transfer wrong: \(received.bytes) of \(bytes) bytes on the stream, \(received.stray) on others")
            return nil
        }
        return Double(received.lastByteAt &- started) / 1e9
    }

    /// Writes the payload, respecting back-pressure. Confined to the stream's queue.
    final class Sender: @unchecked Sendable {  // safe: used only on `stream.queue`
        let stream: P2PStream
        let total: Int
        let chunk: [UInt8]
        var sent = 0
        private let started = Locked<UInt64?>(nil)

        init(stream: P2PStream, total: Int) {
            self.stream = stream
            self.total = total
            chunk = secureRandomBytes(TransportBenchmarks.chunkBytes)
        }

        var startedAt: UInt64? { started.withLock { $0 } }

        func start() {
            started.withLock { $0 = Bench.now() }
            stream.onWritable = { self.pump() }   // cleared when done or on reset
            pump()
        }

        func pump() {
            while sent < total && stream.isWritable {
                let n = min(chunk.count, total - sent)
                // Count before writing: `write` may call `onWritable` (this function) re-entrantly.
                sent += n
                stream.write(n == chunk.count ? chunk : Array(chunk[0..<n]))
            }
            if sent == total {
                stream.onWritable = nil
                stream.closeWrite()
            }
        }
    }

    /// The server side: counts the bytes of the current transfer's stream and signals its last
    /// byte. Bytes arriving on any other stream are counted as stray (a muxer bug if ever > 0).
    final class Sink: @unchecked Sendable {  // safe: all state behind `state`'s lock
        struct Received { var bytes: Int; var lastByteAt: UInt64; var stray: Int }
        private struct State {
            var expected = 0
            var received = 0
            var stray = 0
            var current: ObjectIdentifier?
            var done: DispatchSemaphore?
            var finished: Received?
        }
        private let state = Locked(State())

        func expect(_ bytes: Int) {
            state.withLock { $0 = State(expected: bytes, done: DispatchSemaphore(value: 0)) }
        }

        var progress: Int { state.withLock { $0.received } }

        func attach(_ stream: P2PStream) {
            let id = ObjectIdentifier(stream)
            state.withLock { if $0.current == nil { $0.current = id } }
            stream.onData = { [self] bytes in
                let done: DispatchSemaphore? = state.withLock { s in
                    guard s.current == id else { s.stray += bytes.count; return nil }
                    s.received += bytes.count
                    guard s.received >= s.expected, let d = s.done else { return nil }
                    s.done = nil
                    s.finished = Received(bytes: s.received, lastByteAt: Bench.now(), stray: s.stray)
                    return d
                }
                done?.signal()
            }
            stream.onRemoteClose = { stream.closeWrite() }
        }

        func wait(_ timeout: DispatchTimeInterval) -> Received? {
            guard let semaphore = state.withLock({ $0.done }) else { return state.withLock { $0.finished } }
            guard semaphore.wait(timeout: .now() + timeout) == .success else { return nil }
            return state.withLock { $0.finished }
        }
    }

    // MARK: Handshakes

    static func handshakes() {
        // The bare sans-IO pair: both sides on this thread, so every X25519 of both sides is on one
        // core. Per side: ephemeral and static key generation and ee, es, se (counted as 4 DH).
        let identities = (PrivateKey.generate(.secp256k1), PrivateKey.generate(.secp256k1))
        var failures = 0
        let pairs = Bench.opsPerSecond(seconds: 1.0) {
            if !handshakePair(identities.0, identities.1) { failures += 1 }
        }
        let pairLimit = Limits.x25519PerSec / 8
        Bench.row("NoiseHandshake XX pair, in process", pairs, unit: "pairs/s", limit: pairLimit,
                  limitNote: "(X25519 37k/s ÷ 4 DH per side ÷ 2 sides, one core)")
        if failures > 0 { print("    \(failures) handshakes failed") }
        let bound = handshakeBoundNow(identities.0)
        print(String(format: "    primitives measured now, per side 2 X25519 keygen + 3 DH + 1 sign + 1 verify: keygen %.0f/s, DH %.0f/s, sign %.0f/s, verify %.0f/s → %.0f pairs/s; reached %.0f%%",
                     bound.keygen, bound.dh, bound.sign, bound.verify, bound.pairs, pairs / bound.pairs * 100))
        result("noise.pairs_per_s", pairs)
        result("noise.pair_bound_now", bound.pairs)

        // Full upgrades: TCP connect + multistream /noise + Noise XX + multistream /yamux/1.0.0 +
        // yamux, then identify. Fresh dialer hosts (one connection per peer pair), made beforehand.
        guard let server = makeHost() else { return }
        defer { server.close() }
        for (inFlight, count) in [(1, 200), (8, 400)] {
            let dialers = (0..<count).map { _ in P2PHost(config: HostConfig(identity: .generate(.secp256k1))) }
            defer { for d in dialers { d.close() } }
            let cpu0 = processCPUSeconds()
            guard let rate = connectAll(dialers, to: server, inFlight: inFlight) else { continue }
            let cpuPerConnection = (processCPUSeconds() - cpu0) / Double(count)
            Bench.row("connection upgrades, \(inFlight) in flight", rate, unit: "conn/s", limit: Limits.x25519PerSec / 4,
                      limitNote: "(X25519 ÷ 4 DH per side, both sides on 2 cores)")
            print(String(format: "    process CPU %.0f µs per connection (both sides; public-key work measured now: %.0f µs), %.0f%% of %d cores",
                         cpuPerConnection * 1e6, 1e6 / bound.pairs, cpuPerConnection * rate / Double(cores) * 100, cores))
            result("upgrades\(inFlight).per_s", rate)
            waitForDisconnects(server)
        }
    }

    /// The handshake's public-key work, measured now: what a pair would cost with zero overhead.
    static func handshakeBoundNow(_ identity: PrivateKey) -> (keygen: Double, dh: Double, sign: Double, verify: Double, pairs: Double) {
        let pair = X25519KeyPair()
        let other = X25519KeyPair().publicKey
        let keygen = Bench.opsPerSecond(seconds: 0.3) { _ = X25519KeyPair() }
        let dh = Bench.opsPerSecond(seconds: 0.3) { _ = try? pair.sharedSecret(with: other) }
        let message = secureRandomBytes(32 + 24)   // "noise-libp2p-static-key:" ++ static key
        let signature = identity.sign(message)
        let publicKey = identity.publicKey
        let sign = Bench.opsPerSecond(seconds: 0.3) { _ = identity.sign(message) }
        let verify = Bench.opsPerSecond(seconds: 0.3) { _ = publicKey.verify(signature: signature, message: message) }
        let perSide = 2 / keygen + 3 / dh + 1 / sign + 1 / verify
        return (keygen, dh, sign, verify, 1 / (2 * perSide))
    }

    /// One complete XX handshake between two in-memory parties; false if it did not complete.
    static func handshakePair(_ a: PrivateKey, _ b: PrivateKey) -> Bool {
        var initiator = NoiseHandshake(role: .initiator, identity: a)
        var responder = NoiseHandshake(role: .responder, identity: b)
        do {
            guard try responder.receive(initiator.takeOutbound()) == nil,
                  try initiator.receive(responder.takeOutbound()) != nil,
                  try responder.receive(initiator.takeOutbound()) != nil else { return false }
            return true
        } catch {
            return false
        }
    }

    /// Connects every dialer to `server`, at most `inFlight` at a time; connections per second.
    static func connectAll(_ dialers: [P2PHost], to server: P2PHost, inFlight: Int) -> Double? {
        guard let addr = dialAddress(of: server) else { return nil }
        let slots = DispatchSemaphore(value: inFlight)
        let group = DispatchGroup()
        let failed = Locked<[String]>([])
        let start = Bench.now()
        for d in dialers {
            guard slots.wait(timeout: .now() + timeout) == .success else { print("  connect timed out"); return nil }
            group.enter()
            d.connect(addr) { r in
                if case .failure(let e) = r { failed.withLock { $0.append("\(e)") } }
                slots.signal()
                group.leave()
            }
        }
        guard group.wait(timeout: .now() + timeout) == .success else { print("  connects timed out"); return nil }
        let seconds = Double(Bench.now() - start) / 1e9
        let errors = failed.withLock { $0 }
        if !errors.isEmpty { print("    \(errors.count) of \(dialers.count) connects failed, e.g. \(errors[0])") }
        return Double(dialers.count - errors.count) / seconds
    }

    /// Waits (bounded) until `server` has no connections left, after the dialers were closed.
    static func waitForDisconnects(_ server: P2PHost) {
        let deadline = Bench.now() + 10_000_000_000
        while !server.connectionInfos.isEmpty && Bench.now() < deadline { usleep(10_000) }
    }

    // MARK: Memory per idle connection

    static func idleMemory() {
        guard let server = makeHost() else { return }
        defer { server.close() }
        server.setStreamHandler(benchProtocol) { s in
            s.onData = { _ in }
            s.onRemoteClose = { s.closeWrite() }
        }
        // Warm-up: a few connections opened, each carrying 1 MiB, and closed, so that one-time
        // allocations (Dispatch worker threads, allocator arenas, lazily initialised tables) are
        // not counted.
        let warm = (0..<16).map { _ in P2PHost(config: HostConfig(identity: .generate(.secp256k1))) }
        _ = connectAll(warm, to: server, inFlight: 8)
        _ = sendOnEach(warm, to: server.peerID, bytes: 1 << 20)
        for d in warm { d.close() }
        waitForDisconnects(server)

        let n = idleConnections
        let before = residentBytes()
        let dialers = (0..<n).map { _ in P2PHost(config: HostConfig(identity: .generate(.secp256k1))) }
        defer { for d in dialers { d.close() } }
        settle()
        let hostsOnly = residentBytes()
        guard connectAll(dialers, to: server, inFlight: 8) != nil else { return }
        settle()   // identify and identify push finish; connections go idle
        let connected = residentBytes()
        let threadsIdle = threadCount()
        let open = server.connectedPeers.count
        guard open > 0 else { print("  no connections open"); return }
        let perPair = Double(connected - hostsOnly) / Double(open)
        let perHost = Double(hostsOnly - before) / Double(n)
        Bench.row("RSS per idle connection pair (\(open) open)", perPair / 1024, unit: "KiB", limit: nil)
        print(String(format: "    both ends (client + server) in this process; an unconnected P2PHost costs %.1f KiB, not counted",
                     perHost / 1024))
        result("idle_conn_pair.kib", perPair / 1024)

        // The same connections after each carried one 1 MiB stream (client → server, then both
        // sides half-close): read buffers and write buffers have now been touched.
        guard sendOnEach(dialers, to: server.peerID, bytes: 1 << 20) else { return }
        let busy = residentBytes()
        let perPairBusy = Double(busy - hostsOnly) / Double(open)
        Bench.row("  same, just after 1 MiB on a stream of each", perPairBusy / 1024, unit: "KiB", limit: nil)
        result("busy_conn_pair.kib", perPairBusy / 1024)
        // Idle again: each connection frees its read buffer and write storage after
        // `TCPConnection.idleBufferRelease` without traffic.
        usleep(UInt32(clamping: TCPConnection.idleBufferRelease.clampedNanoseconds / 1000))
        settle()
        let used = residentBytes()
        let perPairUsed = Double(used - hostsOnly) / Double(open)
        Bench.row("  same, idle again (buffers released)", perPairUsed / 1024, unit: "KiB", limit: nil)
        result("used_conn_pair.kib", perPairUsed / 1024)
        // What stays above the first figure is glibc's per-thread arenas keeping freed pages
        // (with MALLOC_ARENA_MAX=1: 41.3 KiB idle, 45.7 KiB idle again); Dispatch workers started
        // by the transfers would count too, hence the warm-up transfers and this check.
        print("    threads: \(threadsIdle) before the transfers, \(threadCount()) now")
    }

    /// Every dialer sends `bytes` on a new stream to `peer` and waits for the server's FIN.
    static func sendOnEach(_ dialers: [P2PHost], to peer: PeerID, bytes: Int) -> Bool {
        let payload = secureRandomBytes(bytes)
        let slots = DispatchSemaphore(value: 8)
        let group = DispatchGroup()
        let failed = Locked(0)
        for d in dialers {
            guard slots.wait(timeout: .now() + timeout) == .success else { print("  streams timed out"); return false }
            group.enter()
            let finish: @Sendable (Bool) -> Void = { ok in
                if !ok { failed.withLock { $0 += 1 } }
                slots.signal()
                group.leave()
            }
            d.newStream(to: peer, protocols: [benchProtocol]) { r in
                guard case .success(let s) = r else { finish(false); return }
                var done = false
                s.onData = { _ in }   // onRemoteClose is only delivered to a stream with onData set
                s.onRemoteClose = { if !done { done = true; finish(true) } }
                s.onReset = { _ in if !done { done = true; finish(false) } }
                s.write(payload)
                s.closeWrite()
            }
        }
        guard group.wait(timeout: .now() + timeout) == .success else { print("  streams timed out"); return false }
        let errors = failed.withLock { $0 }
        if errors > 0 { print("    \(errors) of \(dialers.count) streams failed") }
        return errors == 0
    }

    static func settle() { usleep(1_000_000) }

    /// glibc's `malloc_trim` (not in the Glibc module map): hands free heap pages back to the
    /// kernel, so that RSS deltas count live memory rather than what malloc keeps for reuse.
    static let mallocTrim: (@convention(c) (Int) -> Int32)? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (Int) -> Int32).self)
    }()

    /// Resident set size from /proc/self/statm (second field, in pages), after `malloc_trim(0)`.
    static func residentBytes() -> Int {
        _ = mallocTrim?(0)
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .ascii) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// The process's thread count, from /proc/self/status.
    static func threadCount() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .ascii),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("Threads:") }) else { return 0 }
        return Int(line.dropFirst("Threads:".count).trimmingCharacters(in: .whitespaces)) ?? 0
    }

    static func processCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }

    /// A one-shot result handed from a callback to the waiting benchmark thread.
    final class ResultBox<T: Sendable>: @unchecked Sendable {  // safe: `value` is behind a lock
        private let value = Locked<Result<T, HostError>?>(nil)
        private let ready = DispatchSemaphore(value: 0)

        func set(_ r: Result<T, HostError>) {
            value.withLock { $0 = r }
            ready.signal()
        }

        func wait(_ timeout: DispatchTimeInterval) -> Result<T, HostError>? {
            guard ready.wait(timeout: .now() + timeout) == .success else { return nil }
            return value.withLock { $0 }
        }
    }
}
