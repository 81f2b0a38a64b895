import P2PCore

/// op-node's peer monitor and ban bookkeeping (spec §4.3; `op-node/p2p/monitor/peer_monitor.go`
/// `checkNextPeer`, `op-node/p2p/gating/expiry.go`): once per second the host asks for the next
/// connected peer, round-robin over a list refreshed when exhausted; a peer whose score is at or
/// below the threshold (op-node passes only `score > minScore`) and is not protected (static
/// peers) is banned for the ban duration — the host then closes it and its gater refuses it
/// until the ban expires. Expired bans are cleared lazily on the next check.
public struct PeerBanPolicy: Sendable {
    /// op-node `--p2p.ban.threshold` (default −100).
    public var threshold: Double
    /// op-node `--p2p.ban.duration` (default 1 h).
    public var banDuration: Duration
    /// op-node `--p2p.ban.peers` (default true).
    public var enabled: Bool
    public private(set) var protected: Set<PeerID> = []
    private var bans: [PeerID: UInt64] = [:]
    private var list: [PeerID] = []
    private var next = 0

    public init(threshold: Double = -100, banDuration: Duration = .seconds(3600), enabled: Bool = true) {
        self.threshold = threshold
        self.banDuration = banDuration
        self.enabled = enabled
    }

    /// Static peers are never banned.
    public mutating func protect(_ peer: PeerID) { protected.insert(peer) }
    public mutating func unprotect(_ peer: PeerID) { protected.remove(peer) }

    /// Examines one peer (call once per second). `connected` is asked for the peer list only when
    /// the previous list is exhausted. Returns the ban to carry out, if any (already recorded).
    public mutating func checkNext(connected: () -> [PeerID], score: (PeerID) -> Double, now: UInt64) -> BanDecision? {
        guard enabled else { return nil }
        if next >= list.count {
            list = connected()
            next = 0
        }
        guard next < list.count else { return nil }
        let peer = list[next]
        next += 1
        let s = score(peer)
        guard s <= threshold, !protected.contains(peer) else { return nil }
        let until = now &+ banDuration.clampedNanoseconds
        bans[peer] = until
        return BanDecision(peer: peer, score: s, until: until)
    }

    /// Whether `peer` is banned at `now`; an expired ban is removed here (count an unban).
    public mutating func isBanned(_ peer: PeerID, now: UInt64) -> Bool {
        guard let until = bans[peer] else { return false }
        if until > now { return true }
        bans[peer] = nil
        return false
    }

    /// Bans `peer` until `until` (the admin RPC `opp2p_blockPeer` path uses the gater instead).
    public mutating func ban(_ peer: PeerID, until: UInt64) { bans[peer] = until }
    public mutating func unban(_ peer: PeerID) { bans[peer] = nil }

    /// Current bans and their expiry (expired ones included until cleared).
    public var bannedPeers: [PeerID: UInt64] { bans }
}

/// A ban the monitor decided on.
public struct BanDecision: Sendable, Equatable {
    public let peer: PeerID
    public let score: Double
    /// Monotonic nanoseconds at which the ban expires.
    public let until: UInt64
}
