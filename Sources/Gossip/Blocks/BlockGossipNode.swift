import P2PCore
import Rollup

/// A host running op-node's block gossip on loopback-or-given address: host, gossip service and
/// block topics wired together. The unit that the devnet, the benchmarks and the tests compose.
public final class BlockGossipNode: @unchecked Sendable {  // safe: immutable after init; its parts are thread-safe
    public let host: P2PHost
    public let service: GossipService
    public let gossip: BlockGossip

    public init(rollup: RollupConfig, signer: [UInt8], identity: PrivateKey = .generate(.secp256k1),
                listen: String = "/ip4/127.0.0.1/tcp/0") throws {
        host = P2PHost(config: HostConfig(identity: identity))
        try host.listen(on: try Multiaddr(listen))
        let prepared = PreparedBlockCache()
        service = try GossipService(host: host, configuration: BlockGossip.gossipConfiguration(localPeer: host.peerID, rollup: rollup,
                                                                                             preparingIn: prepared))
        gossip = BlockGossip(service: service, rollup: rollup, signer: signer, prepared: prepared)
        service.start()
        try gossip.start()
    }

    /// The first listen address with `/p2p/<id>`.
    public var address: Multiaddr {
        (host.listenAddresses.first ?? Multiaddr(components: [])).appending(.p2p(host.peerID))
    }

    public func close() {
        service.stop()
        host.close()
    }
}
