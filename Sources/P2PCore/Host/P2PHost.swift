import Dispatch
import Foundation
import Logging

/// Events a host reports to its observers (on the host's queue).
public enum HostEvent: Sendable {
    case connected(PeerID, Direction, remote: Multiaddr)
    case disconnected(PeerID, error: HostError?)
    case identified(PeerID, Identify.Info)
}

/// A summary of one live connection, readable from any thread.
public struct ConnectionInfo: Sendable {
    public let peer: PeerID
    public let direction: Direction
    public let remoteAddress: Multiaddr
    public let localAddress: Multiaddr
    public let openedAt: UInt64
}

/// The libp2p host: listeners, dialing, the upgrade pipeline (via `Connection`), inbound stream
/// routing by protocol, outbound streams, identify and identify push, ping, the connection gater,
/// the connection manager, and static peers redialled every minute.
///
/// P2PHost-wide state (connections by peer, pending dials, static peers) is confined to `queue`;
/// the handler table and the connection snapshot are behind locks so connection queues can read
/// them. That discipline is what makes `@unchecked Sendable` safe. One connection per peer: a
/// simultaneous dial keeps the connection dialled by the peer with the smaller id, on both sides.
public final class P2PHost: @unchecked Sendable, ConnectionDelegate {
    public let config: HostConfig
    public let peerID: PeerID
    public let queue = DispatchQueue(label: "p2pnode.host")
    public let peerstore = Peerstore()
    public let gater: ConnectionGater
    public var logger = Logger(label: "p2pnode.host")

    private let handlers = Locked<[String: StreamHandler]>([:])
    private let snapshot = Locked<[PeerID: ConnectionInfo]>([:])
    private let observers = Locked<[@Sendable (HostEvent) -> Void]>([])
    private let listenAddrs = Locked<[Multiaddr]>([])
    private let protectedPeers = Locked<[PeerID: Set<String>]>([:])

    // Confined to `queue`.
    private var connections: [PeerID: Connection] = [:]
    private var upgrading: [ObjectIdentifier: Connection] = [:]
    private var pendingDials: [PeerID: [(Result<PeerID, HostError>) -> Void]] = [:]
    private var listeners: [TCPListener] = []
    private var staticPeers: [PeerID: Multiaddr] = [:]
    private var connManager: ConnectionManager
    private var closed = false
    private let staticTimer: QueueTimer
    private let trimTimer: QueueTimer

    public static let staticRedialInterval: Duration = .seconds(60)

    public init(config: HostConfig, clock: any NodeClock = SystemClock()) {
        self.config = config
        self.peerID = config.identity.peerID
        self.gater = ConnectionGater(clock: clock)
        self.connManager = ConnectionManager(config: config.connectionManager)
        self.staticTimer = QueueTimer(queue: queue)
        self.trimTimer = QueueTimer(queue: queue)
        setStreamHandler(Identify.protocolID) { [weak self] s in self?.serveIdentify(s) }
        setStreamHandler(Identify.pushProtocolID) { [weak self] s in self?.receiveIdentifyPush(s) }
        setStreamHandler(Ping.protocolID) { s in Ping.serve(s) }
        trimTimer.schedule(after: .seconds(10), repeating: .seconds(10)) { [weak self] in self?.trimConnections() }
    }

    // MARK: Public API

    /// Starts listening on `/ip4|ip6/<ip>/tcp/<port>` (port 0 = any). Returns the bound address.
    @discardableResult
    public func listen(on address: Multiaddr) throws(HostError) -> Multiaddr {
        guard address.components.count == 2, case .tcp(let port) = address.components[1] else {
            throw .invalidAddress("\(address): expected /ip4|ip6/<ip>/tcp/<port>")
        }
        let ip: IPAddress?
        switch address.components[0] {
        case .ip4(let b), .ip6(let b): ip = IPAddress(bytes: b)
        default: ip = nil
        }
        guard let ip else { throw .invalidAddress("\(address): listen needs an IP address") }
        let listener: TCPListener
        do {
            var options = TCPListener.Options()
            options.connection = config.tcp
            listener = try TCPListener(bindTo: SocketAddress(ip: ip, port: port), options: options) { [weak self] tcp in
                self?.accepted(tcp)
            }
        } catch {
            throw .transport(error)
        }
        let bound = Identify.multiaddr(listener.localAddress)
        queue.sync { listeners.append(listener) }
        listenAddrs.withLock { $0.append(bound) }
        return bound
    }

    /// The bound listen addresses (without `/p2p/`).
    public var listenAddresses: [Multiaddr] { listenAddrs.current }

    public func setStreamHandler(_ protocolID: String, _ handler: @escaping StreamHandler) {
        handlers.withLock { $0[protocolID] = handler }
        queue.async { [weak self] in self?.pushIdentify() }
    }

    public func removeStreamHandler(_ protocolID: String) {
        handlers.withLock { $0[protocolID] = nil }
        queue.async { [weak self] in self?.pushIdentify() }
    }

    public var supportedProtocols: [String] { handlers.withLock { $0.keys.sorted() } }

    /// Reports connection events on the host queue.
    public func observe(_ observer: @escaping @Sendable (HostEvent) -> Void) { observers.withLock { $0.append(observer) } }

    public var connectedPeers: [PeerID] { snapshot.withLock { $0.keys.sorted() } }
    public var connectionInfos: [ConnectionInfo] { snapshot.withLock { Array($0.values) } }
    public func connectionInfo(_ peer: PeerID) -> ConnectionInfo? { snapshot.withLock { $0[peer] } }
    public func isConnected(_ peer: PeerID) -> Bool { connectionInfo(peer) != nil }

    /// Dials `address`, which should end in `/p2p/<id>` (the Noise handshake then proves it).
    public func connect(_ address: Multiaddr, completion: @escaping @Sendable (Result<PeerID, HostError>) -> Void) {
        queue.async { self.dial(address, completion: completion) }
    }

    public func connect(_ address: Multiaddr) async throws(HostError) -> PeerID {
        let r: Result<PeerID, HostError> = await withCheckedContinuation { c in connect(address) { c.resume(returning: $0) } }
        return try r.get()
    }

    /// Opens a stream to a connected peer, negotiating the first of `protocols` it supports.
    /// The completion runs on the stream's queue.
    public func newStream(to peer: PeerID, protocols: [String],
                          completion: @escaping @Sendable (Result<P2PStream, HostError>) -> Void) {
        queue.async {
            guard let c = self.connections[peer] else { completion(.failure(.notConnected(peer))); return }
            c.queue.async { c.openStream(protocols: protocols) { completion($0) } }
        }
    }

    public func newStream(to peer: PeerID, protocols: [String]) async throws(HostError) -> P2PStream {
        let r: Result<P2PStream, HostError> = await withCheckedContinuation { c in
            newStream(to: peer, protocols: protocols) { c.resume(returning: $0) }
        }
        return try r.get()
    }

    /// One libp2p ping round trip.
    public func ping(_ peer: PeerID) async throws(HostError) -> Duration {
        let stream = try await newStream(to: peer, protocols: [Ping.protocolID])
        let payload = secureRandomBytes(Ping.size)
        let start = DispatchTime.now().uptimeNanoseconds
        stream.send(payload)
        let echo = try await stream.read(exactly: Ping.size)
        let rtt = Duration.nanoseconds(Int64(clamping: DispatchTime.now().uptimeNanoseconds &- start))
        stream.abort()
        guard echo == payload else { throw .malformed("ping echo differs") }
        peerstore.update(peer) { $0.latency = rtt }
        return rtt
    }

    /// Closes the connection to `peer` (gracefully).
    public func disconnect(_ peer: PeerID) {
        queue.async {
            guard let c = self.connections[peer] else { return }
            c.queue.async { c.shutdown() }
        }
    }

    /// Protects `peer` from the connection manager under `tag` (op-node: "static", "api-protected").
    public func protect(_ peer: PeerID, tag: String) { _ = protectedPeers.withLock { $0[peer, default: []].insert(tag) } }
    public func unprotect(_ peer: PeerID, tag: String) {
        protectedPeers.withLock { p in p[peer]?.remove(tag); if p[peer]?.isEmpty == true { p[peer] = nil } }
    }
    public func isProtected(_ peer: PeerID) -> Bool { protectedPeers.withLock { $0[peer] != nil } }

    /// Adds a static peer (`--p2p.static`): protected, dialled now and redialled every minute
    /// while disconnected. Our own id is skipped.
    public func addStaticPeer(_ address: Multiaddr) throws(HostError) {
        guard let peer = address.peerID else { throw .invalidAddress("\(address): static peers need /p2p/<id>") }
        guard peer != peerID else { return }
        protect(peer, tag: "static")
        queue.async {
            self.staticPeers[peer] = address
            self.dial(address) { _ in }
            if !self.staticTimer.isScheduled {
                self.staticTimer.schedule(after: Self.staticRedialInterval, repeating: Self.staticRedialInterval) { [weak self] in
                    self?.redialStaticPeers()
                }
            }
        }
    }

    public var staticPeerIDs: [PeerID] { queue.sync { Array(staticPeers.keys) } }

    /// Closes listeners and connections.
    public func close() {
        queue.sync {
            closed = true
            staticTimer.cancel()
            trimTimer.cancel()
            for l in listeners { l.close() }
            listeners = []
            for c in connections.values { c.queue.async { c.shutdown() } }
            for c in upgrading.values { c.queue.async { c.close(.hostClosed) } }
            for (_, waiters) in pendingDials { for w in waiters { w(.failure(.hostClosed)) } }
            pendingDials = [:]
        }
    }

    // MARK: Dialing

    private func dial(_ address: Multiaddr, completion: @escaping (Result<PeerID, HostError>) -> Void) {
        guard !closed else { completion(.failure(.hostClosed)); return }
        let peer = address.peerID
        if peer == peerID { completion(.failure(.dialToSelf)); return }
        if let peer, connections[peer] != nil { completion(.success(peer)); return }
        if let peer, !gater.allowDial(peer: peer) { completion(.failure(.gated("peer \(peer) is blocked"))); return }
        let target: (host: String, port: UInt16, family: AddressFamilyFilter)
        switch (address.components.first, address.components.dropFirst().first) {
        case (.ip4(let b)?, .tcp(let p)?), (.ip6(let b)?, .tcp(let p)?):
            guard let ip = IPAddress(bytes: b) else { completion(.failure(.invalidAddress("\(address)"))); return }
            if let peer, !gater.allowDial(peer: peer, address: ip) { completion(.failure(.gated("address \(ip) is blocked"))); return }
            target = ("\(ip)", p, .any)
        case (.dns(let h)?, .tcp(let p)?): target = (h, p, .any)
        case (.dns4(let h)?, .tcp(let p)?): target = (h, p, .ipv4)
        case (.dns6(let h)?, .tcp(let p)?): target = (h, p, .ipv6)
        default:
            completion(.failure(.invalidAddress("\(address): expected /ip4|ip6|dns|dns4|dns6/…/tcp/<port>[/p2p/<id>]")))
            return
        }
        if let peer {
            if pendingDials[peer] != nil { pendingDials[peer]?.append(completion); return }
            pendingDials[peer] = [completion]
        }
        let dialer = TCPDialer(timeout: config.dialTimeout, connectionOptions: config.tcp)
        let box = UncheckedBox(completion)
        dialer.dial(host: target.host, port: target.port, family: target.family) { [weak self] result in
            guard let self else { return }
            switch result {
            case .failure(let e):
                self.queue.async { self.finishDial(peer, .failure(.transport(e)), fallback: box.value) }
            case .success(let tcp):
                let conn = Connection(tcp: tcp, direction: .outbound, config: self.config, expectedPeer: peer)
                conn.delegate = self
                self.queue.async {
                    guard !self.closed else { tcp.queue.async { tcp.close() }; self.finishDial(peer, .failure(.hostClosed), fallback: box.value); return }
                    self.upgrading[ObjectIdentifier(conn)] = conn
                    if peer == nil { self.anonymousDials[ObjectIdentifier(conn)] = box.value }
                    tcp.queue.async { conn.start() }
                }
            }
        }
    }

    /// Dials without a known peer id complete when their connection is established.
    private var anonymousDials: [ObjectIdentifier: (Result<PeerID, HostError>) -> Void] = [:]

    private func finishDial(_ peer: PeerID?, _ result: Result<PeerID, HostError>, fallback: ((Result<PeerID, HostError>) -> Void)?) {
        if let peer, let waiters = pendingDials.removeValue(forKey: peer) {
            for w in waiters { w(result) }
        } else if peer == nil {
            fallback?(result)
        }
    }

    private func redialStaticPeers() {
        for (peer, addr) in staticPeers where connections[peer] == nil && pendingDials[peer] == nil {
            logger.debug("redialling static peer", metadata: ["peer": "\(peer)"])
            dial(addr) { [weak self] r in
                if case .failure(let e) = r { self?.logger.info("static peer dial failed", metadata: ["peer": "\(peer)", "error": "\(e)"]) }
            }
        }
    }

    // MARK: Accepting

    private func accepted(_ tcp: TCPConnection) {
        // On the new connection's queue, before start().
        guard gater.allowAccept(from: tcp.remoteAddress.ip) else { tcp.close(); return }
        let conn = Connection(tcp: tcp, direction: .inbound, config: config, expectedPeer: nil)
        conn.delegate = self
        queue.async {
            let total = self.connections.count + self.upgrading.count
            guard !self.closed, self.upgrading.count < self.config.maxPendingUpgrades, total < self.config.maxConnections else {
                tcp.queue.async { tcp.close() }
                return
            }
            self.upgrading[ObjectIdentifier(conn)] = conn
            tcp.queue.async { conn.start() }
        }
    }

    // MARK: ConnectionDelegate (called on connection queues)

    func streamHandler(for protocolID: String) -> StreamHandler? { handlers.withLock { $0[protocolID] } }

    func interceptSecured(_ connection: Connection) -> String? {
        guard let peer = connection.remotePeer else { return "no peer id" }
        if peer == peerID { return "connection to self" }
        return gater.allowSecured(direction: connection.direction, peer: peer, address: connection.remoteAddress.ip)
            ? nil : "peer \(peer) or its address is blocked"
    }

    func connectionEstablished(_ connection: Connection) {
        guard let peer = connection.remotePeer else { return }
        let info = ConnectionInfo(peer: peer, direction: connection.direction,
                                  remoteAddress: Identify.multiaddr(connection.remoteAddress),
                                  localAddress: Identify.multiaddr(connection.localAddress), openedAt: connection.openedAt)
        queue.async {
            let key = ObjectIdentifier(connection)
            self.upgrading[key] = nil
            let anonymous = self.anonymousDials.removeValue(forKey: key)
            if let existing = self.connections[peer], existing !== connection {
                // Simultaneous dial: keep the connection whose dialer has the smaller peer id.
                let existingDialer = existing.direction == .outbound ? self.peerID : peer
                let newDialer = connection.direction == .outbound ? self.peerID : peer
                let keepNew = newDialer < existingDialer
                let loser = keepNew ? existing : connection
                if keepNew { self.connections[peer] = connection; self.snapshot.withLock { $0[peer] = info } }
                loser.queue.async { loser.shutdown() }
                anonymous?(.success(peer))
                self.finishDial(peer, .success(peer), fallback: nil)
                return
            }
            self.connections[peer] = connection
            self.snapshot.withLock { $0[peer] = info }
            self.peerstore.update(peer) { $0.publicKey = connection.remotePublicKey }
            if connection.direction == .outbound {
                self.peerstore.addAddresses([info.remoteAddress], for: peer, ttl: .seconds(3600), now: DispatchTime.now().uptimeNanoseconds)
            }
            self.logger.debug("connected", metadata: ["peer": "\(peer)", "direction": "\(connection.direction)", "remote": "\(info.remoteAddress)"])
            anonymous?(.success(peer))
            self.finishDial(peer, .success(peer), fallback: nil)
            self.emit(.connected(peer, connection.direction, remote: info.remoteAddress))
            self.identify(peer)
            if self.connections.count > self.config.connectionManager.highWater { self.trimConnections() }
        }
    }

    func connectionClosed(_ connection: Connection, error: HostError?) {
        let peer = connection.remotePeer
        queue.async {
            let key = ObjectIdentifier(connection)
            if self.upgrading.removeValue(forKey: key) != nil {
                let failure = HostError.timedOut("upgrade")
                self.anonymousDials.removeValue(forKey: key)?(.failure(error ?? failure))
                if connection.direction == .outbound { self.finishDial(connection.expectedPeer, .failure(error ?? failure), fallback: nil) }
                return
            }
            guard let peer, self.connections[peer] === connection else { return }
            self.connections[peer] = nil
            self.snapshot.withLock { $0[peer] = nil }
            self.logger.debug("disconnected", metadata: ["peer": "\(peer)", "error": "\(error.map { "\($0)" } ?? "none")"])
            self.emit(.disconnected(peer, error: error))
        }
    }

    private func emit(_ event: HostEvent) {
        for o in observers.current { o(event) }
    }

    // MARK: Identify

    private func identifyMessage(observed: Multiaddr?) -> [UInt8] {
        Identify.encode(identity: config.identity.publicKey, listen: listenAddresses, observed: observed,
                        protocols: supportedProtocols, agentVersion: config.agentVersion, protocolVersion: config.protocolVersion)
    }

    private func serveIdentify(_ stream: P2PStream) {
        let observed = connectionInfo(stream.remotePeer)?.remoteAddress
        stream.write(identifyMessage(observed: observed))
        stream.closeWrite()
        stream.onData = { _ in }
    }

    /// Asks `peer` who it is. Callbacks on the host's and the stream's queues only: identify
    /// must not wait for a thread of the Swift concurrency pool, which the application may be
    /// keeping busy (a test run measured identify starved for over 5 s that way).
    private func identify(_ peer: PeerID) {
        newStream(to: peer, protocols: [Identify.protocolID]) { [weak self] opened in
            guard let self else { return }
            switch opened {
            case .failure(let error):
                self.logger.debug("identify failed", metadata: ["peer": "\(peer)", "error": "\(error)"])
            case .success(let stream):
                stream.readToEnd(limit: Identify.maxMessageSize * Identify.maxMessages, timeout: Identify.timeout) { [weak self] read in
                    stream.closeWrite()
                    self?.learn(peer, read, what: "identify")
                }
            }
        }
    }

    private func receiveIdentifyPush(_ stream: P2PStream) {
        let peer = stream.remotePeer
        stream.readToEnd(limit: Identify.maxMessageSize * Identify.maxMessages, timeout: Identify.timeout) { [weak self] read in
            self?.learn(peer, read, what: "identify push")
        }
    }

    private func learn(_ peer: PeerID, _ read: Result<[UInt8], HostError>, what: String) {
        do {
            learn(peer, try Identify.decode(try read.get()))
        } catch {
            logger.debug("\(what) failed", metadata: ["peer": "\(peer)", "error": "\(error)"])
        }
    }

    private func learn(_ peer: PeerID, _ info: Identify.Info) {
        if let key = info.publicKey, PeerID(publicKey: key) != peer {
            logger.info("identify: public key does not match peer id; ignored", metadata: ["peer": "\(peer)"])
            return
        }
        peerstore.setProtocols(info.protocols, for: peer)
        peerstore.addAddresses(info.listenAddresses, for: peer, ttl: .seconds(3600), now: DispatchTime.now().uptimeNanoseconds)
        peerstore.update(peer) { r in
            r.agentVersion = info.agentVersion
            r.protocolVersion = info.protocolVersion
            r.observedAddress = info.observedAddress
        }
        queue.async { self.emit(.identified(peer, info)) }
    }

    private var pushScheduled = false

    /// Tells connected peers our protocols changed (coalesced).
    private func pushIdentify() {
        guard !pushScheduled, !connections.isEmpty else { return }
        pushScheduled = true
        queue.asyncAfter(deadline: .now() + .milliseconds(100)) {
            self.pushScheduled = false
            for peer in self.connections.keys {
                let message = self.identifyMessage(observed: self.connectionInfo(peer)?.remoteAddress)
                self.newStream(to: peer, protocols: [Identify.pushProtocolID]) { r in
                    if case .success(let s) = r { s.write(message); s.closeWrite(); s.onData = { _ in } }
                }
            }
        }
    }

    // MARK: Connection manager

    private func trimConnections() {
        let now = DispatchTime.now().uptimeNanoseconds
        let candidates = connections.map { peer, c in
            ConnectionManager.Candidate(peer: peer, openedAt: c.openedAt, value: 0, protected: isProtected(peer))
        }
        for peer in connManager.trim(candidates, now: now) {
            logger.debug("connection manager trims", metadata: ["peer": "\(peer)"])
            if let c = connections[peer] { c.queue.async { c.shutdown() } }
        }
    }
}
