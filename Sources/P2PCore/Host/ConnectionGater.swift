import Foundation

/// Refuses peers, IPs and subnets, permanently or until an expiry (go-libp2p's
/// `BasicConnectionGater` plus op-node's expiring bans, spec §4.3): consulted when dialling a
/// peer (`InterceptPeerDial`), dialling an address (`InterceptAddrDial`), accepting a socket
/// (`InterceptAccept`) and after the Noise handshake of an inbound connection
/// (`InterceptSecured`). Expired bans are cleared lazily on the next check and counted.
/// Thread-safe. Bounded: at most `maxEntries` of each kind.
public final class ConnectionGater: @unchecked Sendable {  // safe: all state behind `state`'s lock
    public static let maxEntries = 100_000

    public struct Subnet: Hashable, Sendable, CustomStringConvertible {
        public let network: IPAddress
        public let prefixLength: Int

        /// Parses `a.b.c.d/n` or `v6::/n`.
        public init?(_ cidr: String) {
            let parts = cidr.split(separator: "/")
            guard parts.count == 2, let ip = IPAddress(String(parts[0])), let n = Int(parts[1]) else { return nil }
            let bits = ip.bytes.count * 8
            guard n >= 0, n <= bits else { return nil }
            network = Subnet.mask(ip, n)
            prefixLength = n
        }

        public func contains(_ ip: IPAddress) -> Bool {
            ip.bytes.count == network.bytes.count && Subnet.mask(ip, prefixLength) == network
        }

        static func mask(_ ip: IPAddress, _ n: Int) -> IPAddress {
            var b = ip.bytes
            for i in 0..<b.count {
                let keep = max(0, min(8, n - i * 8))
                b[i] &= keep == 8 ? 0xff : UInt8(truncatingIfNeeded: 0xff << (8 - keep))
            }
            return IPAddress(bytes: b) ?? ip
        }

        public var description: String { "\(network)/\(prefixLength)" }
    }

    private struct State {
        var peers: [PeerID: UInt64] = [:]       // expiry, unix seconds; .max = permanent
        var ips: [IPAddress: UInt64] = [:]
        var subnets: [Subnet: UInt64] = [:]
        var peerUnbans = 0
        var ipUnbans = 0
    }

    private let state = Locked(State())
    private let clock: any NodeClock

    public init(clock: any NodeClock = SystemClock()) { self.clock = clock }

    // MARK: Blocking

    /// Blocks `peer` until `until` (unix seconds), or permanently.
    public func blockPeer(_ peer: PeerID, until: UInt64? = nil) {
        state.withLock { s in if s.peers[peer] != nil || s.peers.count < Self.maxEntries { s.peers[peer] = until ?? .max } }
    }

    public func unblockPeer(_ peer: PeerID) { state.withLock { _ = $0.peers.removeValue(forKey: peer) } }

    public func blockAddress(_ ip: IPAddress, until: UInt64? = nil) {
        state.withLock { s in if s.ips[ip] != nil || s.ips.count < Self.maxEntries { s.ips[ip] = until ?? .max } }
    }

    public func unblockAddress(_ ip: IPAddress) { state.withLock { _ = $0.ips.removeValue(forKey: ip) } }

    public func blockSubnet(_ subnet: Subnet, until: UInt64? = nil) {
        state.withLock { s in if s.subnets[subnet] != nil || s.subnets.count < Self.maxEntries { s.subnets[subnet] = until ?? .max } }
    }

    public func unblockSubnet(_ subnet: Subnet) { state.withLock { _ = $0.subnets.removeValue(forKey: subnet) } }

    public var blockedPeers: [PeerID] { clearExpired(); return state.withLock { $0.peers.keys.sorted() } }
    public var blockedAddresses: [IPAddress] { clearExpired(); return state.withLock { $0.ips.keys.sorted { $0.description < $1.description } } }
    public var blockedSubnets: [Subnet] { clearExpired(); return state.withLock { $0.subnets.keys.sorted { $0.description < $1.description } } }
    /// Expired bans cleared so far (op-node's `peer_unbans` / `ip_unbans` metrics).
    public var unbanCounts: (peers: Int, ips: Int) { state.withLock { ($0.peerUnbans, $0.ipUnbans) } }

    // MARK: Checks

    public func isBlocked(peer: PeerID) -> Bool {
        let now = clock.unixSeconds()
        return state.withLock { s in
            guard let exp = s.peers[peer] else { return false }
            if exp <= now { s.peers[peer] = nil; s.peerUnbans += 1; return false }
            return true
        }
    }

    public func isBlocked(ip: IPAddress) -> Bool {
        let now = clock.unixSeconds()
        return state.withLock { s in
            if let exp = s.ips[ip] {
                if exp <= now { s.ips[ip] = nil; s.ipUnbans += 1 } else { return true }
            }
            for (subnet, exp) in s.subnets where subnet.contains(ip) {
                if exp <= now { s.subnets[subnet] = nil } else { return true }
            }
            return false
        }
    }

    /// `InterceptPeerDial`.
    public func allowDial(peer: PeerID) -> Bool { !isBlocked(peer: peer) }
    /// `InterceptAddrDial`.
    public func allowDial(peer: PeerID, address: IPAddress) -> Bool { !isBlocked(peer: peer) && !isBlocked(ip: address) }
    /// `InterceptAccept`.
    public func allowAccept(from address: IPAddress) -> Bool { !isBlocked(ip: address) }
    /// `InterceptSecured` (only inbound connections are checked, as in op-node).
    public func allowSecured(direction: Direction, peer: PeerID, address: IPAddress) -> Bool {
        direction == .outbound || (!isBlocked(peer: peer) && !isBlocked(ip: address))
    }

    private func clearExpired() {
        let now = clock.unixSeconds()
        state.withLock { s in
            for (p, e) in s.peers where e <= now { s.peers[p] = nil; s.peerUnbans += 1 }
            for (i, e) in s.ips where e <= now { s.ips[i] = nil; s.ipUnbans += 1 }
            for (n, e) in s.subnets where e <= now { s.subnets[n] = nil }
        }
    }
}
