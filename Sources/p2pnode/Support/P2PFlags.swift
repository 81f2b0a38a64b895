import ArgumentParser
import Foundation
import P2PCore

/// op-node's p2p flags (spec §9.2), each also read from its `OP_NODE_P2P_*` environment variable.
struct P2PFlags: ParsableArguments {
    @Option(name: .customLong("p2p.priv.path"), help: "Node key file: 64 hex chars; generated with mode 0600 if missing. (env OP_NODE_P2P_PRIV_PATH)")
    var privPath: String?

    @Option(name: .customLong("p2p.priv.raw"), help: .hidden)
    var privRaw: String?

    @Option(name: .customLong("p2p.listen.ip"), help: "IP to listen on. (default 0.0.0.0; env OP_NODE_P2P_LISTEN_IP)")
    var listenIP: String?

    @Option(name: .customLong("p2p.listen.tcp"), help: "TCP port to listen on; 0 = any free port. (default 9222; env OP_NODE_P2P_LISTEN_TCP_PORT)")
    var listenTCP: UInt16?

    @Option(name: .customLong("p2p.static"), help: "Comma-separated multiaddrs with /p2p/<id>, always connected. (env OP_NODE_P2P_STATIC)")
    var staticPeers: String?

    @Option(name: .customLong("p2p.peers.lo"), help: "Connection manager low water. (default 20; env OP_NODE_P2P_PEERS_LO)")
    var peersLo: Int?

    @Option(name: .customLong("p2p.peers.hi"), help: "Connection manager high water. (default 30; env OP_NODE_P2P_PEERS_HI)")
    var peersHi: Int?

    @Option(name: .customLong("p2p.peers.grace"), help: "Grace period before a new connection may be trimmed. (default 30s; env OP_NODE_P2P_PEERS_GRACE)")
    var peersGrace: String?

    @Option(name: .customLong("p2p.timeout.dial"), help: .hidden)
    var dialTimeout: String?

    @Option(name: .customLong("p2p.useragent"), help: .hidden)
    var userAgent: String?

    struct Resolved {
        var key: PrivateKey
        var keySource: String
        var listen: Multiaddr
        var staticPeers: [Multiaddr]
        var host: HostConfig
    }

    func resolve() throws -> Resolved {
        // Key: raw flag, else file (created if missing), as op-node's loadNetworkPrivKey.
        let key: PrivateKey
        let source: String
        if let raw = Env.string(privRaw, "P2P_PRIV_RAW") {
            do { key = try NodeKeyFile.parse(raw, path: "--p2p.priv.raw") } catch { throw CLIError("\(error)") }
            source = "--p2p.priv.raw"
        } else {
            let path = Env.string(privPath, "P2P_PRIV_PATH") ?? "opnode_p2p_priv.txt"
            do { key = try NodeKeyFile.loadOrCreate(path: path) } catch { throw CLIError("\(error)") }
            source = path
        }
        let ipText = Env.string(listenIP, "P2P_LISTEN_IP") ?? "0.0.0.0"
        guard let ip = IPAddress(ipText) else { throw CLIError("--p2p.listen.ip \(ipText): not an IP address") }
        let port = try Env.parse(listenTCP, "P2P_LISTEN_TCP_PORT", name: "p2p.listen.tcp") { UInt16($0) } ?? 9222
        if port != 0 && port < 1024 { throw CLIError("--p2p.listen.tcp \(port): ports below 1024 are not allowed (0 = any)") }
        let listen = Multiaddr(components: [ip.family == .v4 ? .ip4(ip.bytes) : .ip6(ip.bytes), .tcp(port)])

        var statics: [Multiaddr] = []
        for item in (Env.string(staticPeers, "P2P_STATIC") ?? "").split(separator: ",") {
            let text = item.trimmingCharacters(in: .whitespaces)
            guard !text.isEmpty else { continue }
            let m: Multiaddr
            do { m = try Multiaddr(text) } catch { throw CLIError("--p2p.static \(text): \(error)") }
            guard m.peerID != nil else { throw CLIError("--p2p.static \(text): needs /p2p/<peer id>") }
            statics.append(m)
        }

        var host = HostConfig(identity: key)
        host.agentVersion = Env.string(userAgent, "P2P_AGENT") ?? "p2pnode/\(P2PNode.version)"
        let lo = try Env.parse(peersLo, "P2P_PEERS_LO", name: "p2p.peers.lo") { Int($0) } ?? 20
        let hi = try Env.parse(peersHi, "P2P_PEERS_HI", name: "p2p.peers.hi") { Int($0) } ?? 30
        guard lo >= 0, hi >= lo else { throw CLIError("--p2p.peers.lo \(lo) / --p2p.peers.hi \(hi): need 0 ≤ lo ≤ hi") }
        host.connectionManager.lowWater = lo
        host.connectionManager.highWater = hi
        if let g = Env.string(peersGrace, "P2P_PEERS_GRACE") {
            guard let d = Env.duration(g) else { throw CLIError("--p2p.peers.grace \(g): not a duration (e.g. 30s)") }
            host.connectionManager.gracePeriod = d
        }
        if let t = Env.string(dialTimeout, "P2P_TIMEOUT_DIAL") {
            guard let d = Env.duration(t) else { throw CLIError("--p2p.timeout.dial \(t): not a duration (e.g. 10s)") }
            host.dialTimeout = d
        }
        host.maxConnections = max(host.maxConnections, hi * 2)
        return Resolved(key: key, keySource: source, listen: listen, staticPeers: statics, host: host)
    }
}
