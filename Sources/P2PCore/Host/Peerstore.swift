import Foundation

/// What the host knows about peers: addresses (with expiry), protocols, agent, key, latency.
/// Thread-safe; bounded to `capacity` peers (least recently updated evicted), and to
/// `maxAddressesPerPeer` / `maxProtocolsPerPeer` per peer, since identify content is peer-controlled.
public final class Peerstore: @unchecked Sendable {  // safe: all state behind `state`'s lock
    public struct Record: Sendable {
        public var addresses: [Multiaddr: UInt64] = [:]   // address → expiry (ns, monotonic); .max = permanent
        public var protocols: [String] = []
        public var agentVersion: String?
        public var protocolVersion: String?
        public var publicKey: PublicKey?
        public var latency: Duration?
        public var observedAddress: Multiaddr?
    }

    public static let capacity = 10_000
    public static let maxAddressesPerPeer = 32
    public static let maxProtocolsPerPeer = 128
    public static let maxProtocolLength = 256

    private let state = Locked(LRUCache<PeerID, Record>(capacity: Peerstore.capacity))

    public init() {}

    public func record(_ peer: PeerID) -> Record? { state.withLock { $0.peek(peer) } }

    public var peers: [PeerID] { state.withLock { $0.keys } }

    public func update(_ peer: PeerID, _ body: (inout Record) -> Void) {
        _ = state.withLock { $0.update(peer, default: { Record() }, body) }
    }

    /// Adds addresses valid for `ttl` (nil = permanent). The `/p2p/` suffix is stripped.
    public func addAddresses(_ addrs: [Multiaddr], for peer: PeerID, ttl: Duration?, now: UInt64) {
        let expiry = ttl.map { now &+ $0.clampedNanoseconds } ?? .max
        update(peer) { r in
            for a in addrs {
                let plain = a.withoutPeerID()
                if r.addresses[plain] == nil && r.addresses.count >= Self.maxAddressesPerPeer { continue }
                r.addresses[plain] = max(r.addresses[plain] ?? 0, expiry)
            }
        }
    }

    /// Unexpired addresses of `peer`.
    public func addresses(of peer: PeerID, now: UInt64) -> [Multiaddr] {
        guard let r = record(peer) else { return [] }
        return r.addresses.filter { $0.value > now }.map(\.key).sorted { $0.description < $1.description }
    }

    public func setProtocols(_ protocols: [String], for peer: PeerID) {
        let bounded = protocols.filter { $0.utf8.count <= Self.maxProtocolLength }.prefix(Self.maxProtocolsPerPeer)
        update(peer) { $0.protocols = Array(bounded) }
    }

    public func supports(_ peer: PeerID, _ protocolID: String) -> Bool {
        record(peer)?.protocols.contains(protocolID) ?? false
    }

    public func remove(_ peer: PeerID) { state.withLock { _ = $0.remove(peer) } }
}
