import ArgumentParser
import Dispatch
import Foundation
import Gossip
import P2PCore

/// `p2pnode-interop-peer gossip`: a gossipsub peer driven line by line over stdin, for the gossip
/// interop runner (`interop/gossip`, docs/INTEROP.md "Gossip interop"). Same contract as the go and
/// py gossip peers (interop/peers/go_gossip.py, py_gossip.py).
///
/// `--mode go` is go-libp2p-pubsub's default router, which the go binding runs: StrictSign
/// (`libp2p-pubsub:` ‖ message, secp256k1), `from ‖ seqno` message ids, `GossipSubParameters.goDefaults`,
/// `/meshsub/1.2.0`, `/meshsub/1.1.0` and `/meshsub/1.0.0`, no scoring. `--mode opnode` is op-node's policy without
/// scoring (spec §2.3, §2.5, §4.1): StrictNoSign, the op-node message id, `.opNode` parameters.
///
/// Prints `LISTEN <addr>/p2p/<id>`, then one JSON object per line. Commands (one per line):
/// `connect <multiaddr>/p2p/<id>`, `publish <topic> <hex>`, `peers <topic>`, `peer <id>` (the
/// gossipsub version negotiated with it and the message ids it said with IDONTWANT it does not
/// want, still remembered: `{"event":"peer","peer","protocol","unwanted":[hex…]}`), `quit`. stdin EOF,
/// SIGTERM/SIGINT or `--timeout` also end it; the last line is `{"event":"bye",…}`.
struct GossipPeer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gossip", abstract: "A gossipsub peer driven over stdin (docs/INTEROP.md, Gossip interop).")

    @Option(name: .customLong("key-hex")) var keyHex: String?
    @Option var port: UInt16 = 0
    @Option var timeout: Double = 120
    @Option(help: "go (StrictSign, from‖seqno ids, go defaults) or opnode (StrictNoSign, op-node ids).")
    var mode: String = "go"
    @Option(name: .customLong("topic"), help: "Topic to join at start (repeatable).")
    var topics: [String] = []

    func run() async throws {
        signal(SIGPIPE, SIG_IGN)
        let privateKey = try key(keyHex)
        var hostConfig = HostConfig(identity: privateKey)
        hostConfig.agentVersion = "p2pnode/0.1.0"
        let host = P2PHost(config: hostConfig)
        let me = host.peerID
        let seed = UInt64.random(in: 0...UInt64.max)
        let config: GossipSubConfiguration
        switch mode {
        case "go":
            config = GossipSubConfiguration(localPeer: me, parameters: .goDefaults, scoring: nil,
                                            signaturePolicy: .strictSign(privateKey), messageID: .fromAndSeqno,
                                            randomSeed: seed)
        case "opnode":
            config = GossipSubConfiguration(localPeer: me, parameters: .opNode, scoring: nil,
                                            signaturePolicy: .strictNoSign, messageID: .opStack, randomSeed: seed)
        default:
            throw ValidationError("--mode must be go or opnode")
        }
        let service = try GossipService(host: host, configuration: config, protocols: [.meshsub12, .meshsub11, .meshsub10])
        let messageID = config.messageID
        service.subscribe { topic, message, from, _ in
            var author = ""
            if message.hasFrom {
                author = (try? PeerID(bytes: [UInt8](message.from)))?.description ?? "invalid:" + [UInt8](message.from).hexString
            }
            emit(["event": "message", "topic": topic, "data": [UInt8](message.data).hexString,
                  "from": author, "seqno": [UInt8](message.seqno).hexString,
                  "signed": message.hasSignature, "has_key": message.hasKey,
                  "forwarder": from.description, "local": from == me, "id": messageID(message).bytes.hexString])
        }
        let bound = try host.listen(on: try Multiaddr("/ip4/127.0.0.1/tcp/\(port)"))
        service.start()
        for t in topics { try service.join(t) }
        printLine("LISTEN \(bound.appending(.p2p(me)))")

        let (lines, stop) = commandLines(timeout: timeout)
        for await line in lines {
            let words = line.split(separator: " ").map(String.init)
            guard let cmd = words.first else { continue }
            switch (cmd, words.count) {
            case ("connect", 2):
                do {
                    let target = try Multiaddr(words[1])
                    let t0 = DispatchTime.now().uptimeNanoseconds
                    let peer = try await withTimeout(15) { try await host.connect(target) }
                    let ms = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6
                    emit(["event": "connect", "ok": peer == target.peerID, "peer": peer.description, "ms": ms])
                } catch {
                    emit(["event": "connect", "ok": false, "error": "\(error)"])
                }
            case ("publish", 3):
                do {
                    let data = try [UInt8](hex: words[2])
                    try service.publish(topic: words[1], data: data)
                    emit(["event": "publish", "ok": true, "topic": words[1], "bytes": data.count])
                } catch {
                    emit(["event": "publish", "ok": false, "topic": words[1], "error": "\(error)"])
                }
            case ("peers", 2):
                let (mesh, subscribed, connected) = service.inspect { r in
                    (r.meshPeers(of: words[1]), r.topicPeers(of: words[1]), r.connectedPeers)
                }
                emit(["event": "peers", "topic": words[1], "mesh": mesh.map(\.description),
                      "topic_peers": subscribed.map(\.description), "connected": connected.map(\.description)])
            case ("peer", 2):
                guard let peer = try? PeerID(string: words[1]) else {
                    emit(["event": "peer", "ok": false, "error": "not a peer id: \(words[1])"])
                    break
                }
                let (proto, unwanted) = service.inspect { r in (r.protocolOf(peer), r.unwantedIDs(of: peer)) }
                emit(["event": "peer", "peer": peer.description, "protocol": proto?.rawValue ?? "",
                      "unwanted": unwanted.map(\.bytes.hexString).sorted()])
            case ("quit", _):
                stop.withLock { $0 = $0 ?? "quit" }
                lines.finish()
            default:
                emit(["event": "error", "error": "unknown command: \(line)"])
            }
            if stop.current != nil { break }
        }
        emit(["event": "bye", "peer_id": me.description, "stopped_by": stop.current ?? "stdin-eof",
              "trace": service.traceCounters])
        service.stop()
        host.close()
    }
}

/// Prints one JSON object as a line; one lock, so lines from several threads never interleave.
private let output = Locked(())
private func emit(_ obj: [String: Any]) {
    output.withLock { _ in printLine(json(obj)) }
}

/// stdin lines as an async sequence, finished by EOF, SIGTERM/SIGINT or the timeout. The second
/// value holds why it stopped (nil: EOF or still running).
private func commandLines(timeout: Double) -> (CommandLines, Locked<String?>) {
    let (stream, continuation) = AsyncStream.makeStream(of: String.self)
    let reason = Locked<String?>(nil)
    let lines = CommandLines(stream: stream, continuation: continuation)
    let q = DispatchQueue(label: "gossip-peer.stop")
    for sig in [SIGTERM, SIGINT] {
        signal(sig, SIG_IGN)
        let src = DispatchSource.makeSignalSource(signal: sig, queue: q)
        src.setEventHandler { reason.withLock { $0 = $0 ?? "signal" }; continuation.finish() }
        src.resume()
        keepAlive.withLock { $0.append(src) }
    }
    q.asyncAfter(deadline: .now() + timeout) { reason.withLock { $0 = $0 ?? "timeout" }; continuation.finish() }
    Thread.detachNewThread {
        while let line = readLine() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if !trimmed.isEmpty { continuation.yield(trimmed) }
        }
        continuation.finish()
    }
    return (lines, reason)
}

private struct CommandLines: AsyncSequence {
    typealias Element = String
    let stream: AsyncStream<String>
    let continuation: AsyncStream<String>.Continuation
    func makeAsyncIterator() -> AsyncStream<String>.Iterator { stream.makeAsyncIterator() }
    func finish() { continuation.finish() }
}
