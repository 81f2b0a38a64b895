import ArgumentParser
import Dispatch
import Foundation
import P2PCore

/// p2pnode's interop peer: the CLI contract of docs/INTEROP.md, shared with the go-libp2p and
/// py-libp2p peers in interop/peers/. `listen` serves identify, ping and two echo protocols and
/// reports what it saw; `dial` runs connect → identify → ping → echo → streams and prints one
/// JSON line per step.
@main
struct InteropPeer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "p2pnode-interop-peer",
                                                    subcommands: [Listen.self, Dial.self, GossipPeer.self])

    static let echo = "/p2pnode/echo/1.0.0"
    static let echoLP = "/p2pnode/echo-lp/1.0.0"
    static let echoLPMax = 64 << 20
}

/// What the listener saw, reported as `PEER-SAW {json}` at exit.
final class Saw: @unchecked Sendable {  // safe: every access holds `lock`
    let lock = NSLock()
    var inbound: [String] = []
    var echoStreams = 0, echoBytes = 0, echoLPStreams = 0, echoLPBytes = 0
    var errors: [String] = []

    func with(_ body: (Saw) -> Void) { lock.lock(); body(self); lock.unlock() }
}

func key(_ hex: String?) throws -> PrivateKey {
    guard let hex else { return .generate(.secp256k1) }
    return .secp256k1(try Secp256k1PrivateKey(bytes: try [UInt8](hex: hex, count: 32)))
}

/// Builds a host with the echo protocols, listening on 127.0.0.1.
func makeHost(key: PrivateKey, port: UInt16, saw: Saw) throws -> P2PHost {
    var config = HostConfig(identity: key)
    config.agentVersion = "p2pnode/0.1.0"
    let host = P2PHost(config: config)
    host.setStreamHandler(InteropPeer.echo) { s in
        var got: [UInt8] = []
        s.onData = { got += $0 }
        s.onRemoteClose = {
            saw.with { $0.echoStreams += 1; $0.echoBytes += got.count }
            s.write(got)
            s.closeWrite()
        }
    }
    host.setStreamHandler(InteropPeer.echoLP) { s in
        var got: [UInt8] = []
        var want: Int?
        s.onData = { chunk in
            got += chunk
            if want == nil, let (v, n) = try? Varint.decodePrefix(got) {
                guard v <= UInt64(InteropPeer.echoLPMax) else { s.reset(); saw.with { $0.errors.append("echo-lp: length \(v)") }; return }
                want = Int(v)
                got.removeFirst(n)
            }
            if let w = want, got.count >= w {
                saw.with { $0.echoLPStreams += 1; $0.echoLPBytes += w }
                s.write(Array(got.prefix(w)))
                s.closeWrite()
                want = -1
            }
        }
        s.onRemoteClose = { if want != -1 { s.closeWrite() } }
    }
    host.observe { e in
        if case .connected(let p, .inbound, _) = e { saw.with { if !$0.inbound.contains(p.description) { $0.inbound.append(p.description) } } }
    }
    try host.listen(on: try Multiaddr("/ip4/127.0.0.1/tcp/\(port)"))
    return host
}

func printLine(_ s: String) {
    FileHandle.standardOutput.write(Data((s + "\n").utf8))
}

func json(_ obj: Any) -> String {
    let data = (try? JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys])) ?? Data("{}".utf8)
    return String(decoding: data, as: UTF8.self)
}

struct Listen: AsyncParsableCommand {
    @Option(name: .customLong("key-hex")) var keyHex: String?
    @Option var port: UInt16 = 0
    @Option var muxer: String = "yamux"
    @Option var timeout: Double = 120

    func run() async throws {
        signal(SIGPIPE, SIG_IGN)
        let saw = Saw()
        let host = try makeHost(key: try key(keyHex), port: port, saw: saw)
        guard let addr = host.listenAddresses.first else { throw ExitCode(1) }
        printLine("LISTEN \(addr.appending(.p2p(host.peerID)))")
        let stopped = await waitForStop(timeout: timeout)
        var protocols: [String: [String]] = [:], agents: [String: String] = [:], identifyErrors: [String: String] = [:]
        let inbound = saw.lock.withLock { saw.inbound }
        for p in inbound {
            guard let peer = try? PeerID(string: p) else { continue }
            if let r = host.peerstore.record(peer), !r.protocols.isEmpty {
                protocols[p] = r.protocols
                agents[p] = r.agentVersion ?? ""
            } else {
                identifyErrors[p] = "no identify result"
            }
        }
        saw.with { s in
            printLine("PEER-SAW " + json([
                "impl": "swift", "peer_id": host.peerID.description, "inbound_peers": s.inbound,
                "remote_protocols": protocols, "remote_agents": agents, "identify_errors": identifyErrors,
                "echo_streams": s.echoStreams, "echo_bytes": s.echoBytes,
                "echo_lp_streams": s.echoLPStreams, "echo_lp_bytes": s.echoLPBytes,
                "errors": s.errors, "stopped_by": stopped,
            ] as [String: Any]))
        }
        host.close()
    }
}

/// Waits for stdin EOF, SIGTERM/SIGINT or the timeout; returns which.
func waitForStop(timeout: Double) async -> String {
    await withCheckedContinuation { (c: CheckedContinuation<String, Never>) in
        let once = Locked(false)
        @Sendable func finish(_ why: String) {
            if once.withLock({ done in defer { done = true }; return !done }) { c.resume(returning: why) }
        }
        let q = DispatchQueue(label: "stop")
        for sig in [SIGTERM, SIGINT] {
            signal(sig, SIG_IGN)
            let src = DispatchSource.makeSignalSource(signal: sig, queue: q)
            src.setEventHandler { finish("stdin-eof-or-signal") }
            src.resume()
            keepAlive.withLock { $0.append(src) }
        }
        q.asyncAfter(deadline: .now() + timeout) { finish("timeout") }
        Thread.detachNewThread {
            while true {
                let d = FileHandle.standardInput.availableData
                if d.isEmpty { break }
            }
            finish("stdin-eof-or-signal")
        }
    }
}

let keepAlive = Locked<[any DispatchSourceSignal]>([])

struct Dial: AsyncParsableCommand {
    @Argument var addr: String
    @Option(name: .customLong("key-hex")) var keyHex: String?
    @Option var muxer: String = "yamux"
    @Option(name: .customLong("expect-protocols")) var expectProtocols: String = "/ipfs/id/1.0.0,/ipfs/ping/1.0.0,/p2pnode/echo/1.0.0"
    @Option(name: .customLong("echo-bytes")) var echoBytes: Int = 1 << 20
    @Option var streams: Int = 100
    @Option(name: .customLong("stream-bytes")) var streamBytes: Int = 1024
    @Option var timeout: Double = 50

    func step(_ name: String, _ ok: Bool, _ detail: Any) {
        printLine(json(["step": name, "ok": ok, "detail": detail]))
    }

    func run() async throws {
        signal(SIGPIPE, SIG_IGN)
        let saw = Saw()
        let target = try Multiaddr(addr)
        guard let remote = target.peerID else { throw ValidationError("the multiaddr must end in /p2p/<peer id>") }
        let host = try makeHost(key: try key(keyHex), port: 0, saw: saw)
        var failed = false
        let steps = ["connect", "identify", "ping", "echo", "streams"]
        var done = 0
        func report(_ name: String, _ ok: Bool, _ detail: Any) {
            step(name, ok, detail)
            failed = failed || !ok
            done += 1
        }
        defer { host.close() }
        do {
            let peer = try await withTimeout(timeout) { try await host.connect(target) }
            report("connect", peer == remote, ["local": host.peerID.description, "remote": peer.description])
        } catch {
            report("connect", false, ["local": host.peerID.description, "error": "\(error)"])
            for s in steps.dropFirst(done) { step(s, false, "not run: connect failed") }
            throw ExitCode(1)
        }
        // identify: request it explicitly so the result is this step's own observation.
        do {
            let s = try await host.newStream(to: remote, protocols: ["/ipfs/id/1.0.0"])
            let bytes = try await s.readToEnd(limit: 80 * 1024)
            let info = try Identify.decode(bytes)
            let expect = expectProtocols.split(separator: ",").map(String.init)
            let missing = expect.filter { !info.protocols.contains($0) }
            let keyOK = info.publicKey.map { PeerID(publicKey: $0) == remote } ?? false
            report("identify", missing.isEmpty && keyOK, ["agent_version": info.agentVersion ?? "", "protocol_version": info.protocolVersion ?? "",
                                                          "protocols": info.protocols, "missing": missing, "key_matches": keyOK])
        } catch {
            report("identify", false, "\(error)")
        }
        do {
            var rtts: [Double] = []
            for _ in 0..<3 { rtts.append(Double((try await host.ping(remote)).components.attoseconds) / 1e15) }
            report("ping", true, ["rtt_ms": rtts])
        } catch {
            report("ping", false, "\(error)")
        }
        do {
            let data = secureRandomBytes(echoBytes)
            let s = try await host.newStream(to: remote, protocols: [InteropPeer.echo])
            s.send(data, closeWrite: true)
            let back = try await s.readToEnd(limit: echoBytes + 1)
            report("echo", back == data, ["protocol": InteropPeer.echo, "bytes": back.count, "sha256_equal": SHA2.sha256(back) == SHA2.sha256(data)])
        } catch {
            report("echo", false, "\(error)")
        }
        let resets = Locked(0)
        let n = streams, size = streamBytes
        let ok = await withTaskGroup(of: Bool.self) { group -> Int in
            for _ in 0..<n {
                group.addTask {
                    for attempt in 0...5 {
                        do {
                            let data = secureRandomBytes(size)
                            let s = try await host.newStream(to: remote, protocols: [InteropPeer.echo])
                            s.send(data, closeWrite: true)
                            return try await s.readToEnd(limit: size + 1) == data
                        } catch {
                            resets.withLock { $0 += 1 }
                            try? await Task.sleep(for: .milliseconds(20 * (attempt + 1)))
                        }
                    }
                    return false
                }
            }
            var ok = 0
            for await r in group where r { ok += 1 }
            return ok
        }
        report("streams", ok == n, ["ok": ok, "of": n, "resets": resets.current])
        if failed { throw ExitCode(1) }
    }
}

struct TimeoutError: Error, CustomStringConvertible { var description: String { "timed out" } }

func withTimeout<T: Sendable>(_ seconds: Double, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask { try await Task.sleep(for: .seconds(seconds)); throw TimeoutError() }
        defer { group.cancelAll() }
        guard let r = try await group.next() else { throw TimeoutError() }
        return r
    }
}
