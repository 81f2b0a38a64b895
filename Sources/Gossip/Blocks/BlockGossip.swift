import Dispatch
import Foundation
import Logging
import P2PCore
import Rollup

/// A block accepted from gossip (spec §3 "After ACCEPT").
public struct AcceptedBlock: Sendable {
    public let envelope: ExecutionPayloadEnvelope
    public let version: PayloadVersion
    public let from: PeerID
    /// The compressed gossip data, as received (to relay or store verbatim). Copied out of the
    /// router's message only when read, so a handler that does not need it does not pay a copy
    /// of the whole block before it is called.
    public var data: [UInt8] { [UInt8](compressed) }
    private let compressed: Data

    init(envelope: ExecutionPayloadEnvelope, version: PayloadVersion, from: PeerID, compressed: Data) {
        self.envelope = envelope
        self.version = version
        self.from = from
        self.compressed = compressed
    }
}

/// op-node's block gossip on top of `GossipService`: joins all four block topics of the chain
/// (they are also the subscription allow-list), validates each with its own `BlockValidator` —
/// the expensive checks concurrently, the per-height cache serialised — drops our own messages
/// (`FilterSelf`), hands accepted blocks to `onBlock`, and publishes signed payloads on the topic
/// of their fork.
public final class BlockGossip: @unchecked Sendable {  // safe: mutable state is behind Locked
    public let service: GossipService
    public let topics: BlockTopics
    public let rollup: RollupConfig
    public var logger = Logger(label: "p2pnode.blocks")

    private let validators: [PayloadVersion: Locked<BlockValidator>]
    private let handlers = Locked<[@Sendable (AcceptedBlock) -> Void]>([])
    private let clock: any NodeClock
    private let prepared: PreparedBlockCache
    /// A signer to check and a second core: the payload hash may start ahead (`start`).
    private let speculates: Bool
    private let counts = Locked<[String: Int]>([:])
    private let reused = Locked(0)
    /// Envelopes of messages this node accepted, by message id, so delivery does not decompress
    /// and decode a block a second time. Bounded: the router delivers right after validation.
    private let accepted = Locked(LRUCache<MessageID, (ExecutionPayloadEnvelope, PayloadVersion)>(capacity: 64))

    /// - Parameters:
    ///   - signer: the unsafe-block signer address (20 bytes; all zeros = none, everything IGNOREd).
    ///   - pastThreshold: `--p2p.gossip.timestamp.threshold` in seconds.
    ///   - prepared: the cache the service's message-id function fills (`gossipConfiguration`).
    public init(service: GossipService, rollup: RollupConfig, signer: [UInt8], pastThreshold: UInt64 = 60,
                prepared: PreparedBlockCache, clock: any NodeClock = SystemClock()) {
        self.service = service
        self.prepared = prepared
        self.rollup = rollup
        self.topics = BlockTopics(chainID: rollup.chainID)
        self.clock = clock
        // One-hop latency: with a second core free, the payload's signature hash overlaps the block hash.
        let config = BlockValidatorConfig(rollup: rollup, signer: signer, pastThreshold: pastThreshold,
                                          overlapHashing: ProcessInfo.processInfo.activeProcessorCount > 1)
        speculates = config.overlapHashing && signer.contains { $0 != 0 }
        var v: [PayloadVersion: Locked<BlockValidator>] = [:]
        for version in PayloadVersion.allCases { v[version] = Locked(BlockValidator(config: config)) }
        validators = v
    }

    /// op-node's gossipsub configuration for this chain (StrictNoSign, op-node message id,
    /// op-node parameters, light scoring, the four topics as allow-list).
    /// `prepared` is the node's cache its `BlockGossip` is given too: the id function leaves each
    /// block's decompressed bytes and payload hash there for the validator.
    public static func gossipConfiguration(localPeer: PeerID, rollup: RollupConfig,
                                           preparingIn prepared: PreparedBlockCache) -> GossipSubConfiguration {
        var c = GossipSubConfiguration.opNode(localPeer: localPeer, blockTime: rollup.blockTime,
                                              topics: Set(BlockTopics(chainID: rollup.chainID).all),
                                              randomSeed: UInt64.random(in: 0...UInt64.max))
        c.messageID = .opStack(preparingIn: prepared)
        return c
    }

    /// Joins the four topics and installs the validators.
    public func start() throws(GossipRouterError) {
        // With a signer to check and a second core, the message-id function starts each block's
        // payload hash for the signature check while the id is hashed (PreparedBlockCache).
        if speculates { prepared.speculation = true }
        for version in PayloadVersion.allCases {
            let topic = topics.topic(for: version)
            service.setValidator(topic) { [weak self] request in
                self?.validate(version: version, request: request) ?? .ignore
            }
            try service.join(topic)
        }
        let local = service.host.peerID
        service.subscribe { [weak self] topic, message, from, id in
            guard let self else { return }
            let validated = self.accepted.withLock { $0.remove(id) }
            guard from != local, self.topics.version(of: topic) != nil, let (env, version) = validated else { return }  // FilterSelf
            let block = AcceptedBlock(envelope: env, version: version, from: from, compressed: message.data)
            for h in self.handlers.current { h(block) }
        }
    }

    /// Receives every block accepted from a peer (not our own publishes).
    public func onBlock(_ handler: @escaping @Sendable (AcceptedBlock) -> Void) { handlers.withLock { $0.append(handler) } }

    /// Outcome counts by reason class (`accept`, `already_seen`, `block_hash`, …).
    public var outcomeCounts: [String: Int] { counts.current }

    /// Validations that used the message-id function's decompressed bytes instead of
    /// decompressing again (`PreparedBlockCache`).
    public var reusedDecompressions: Int { reused.current }

    private func validate(version: PayloadVersion, request: ValidationRequest) -> ValidationOutcome {
        guard let lock = validators[version] else { return .reject }
        let now = clock.unixSeconds()
        // The router's message-id function already decompressed the data and started the payload
        // hash (PreparedBlockCache); the compressed bytes are only needed on a miss.
        let prepared = self.prepared.take(id: request.id.bytes)
        if prepared != nil { reused.withLock { $0 += 1 } }
        let data = prepared == nil ? [UInt8](request.message.data) : []
        // Checks on this thread; a second core only if one is free (ValidationCores).
        ValidationCores.enter()
        defer { ValidationCores.leave() }
        var validator = lock.withLock { $0 }
        let spare = prepared?.payloadHash == nil && validator.config.overlapHashing && ValidationCores.reserveSpare()
        defer { if spare { ValidationCores.leave() } }
        validator.config.overlapHashing = spare
        let checked = validator.check(version: version, data: data, now: now, prepared: prepared)
        let result = lock.withLock { $0.record(checked) }
        if result.outcome == .accept, let env = result.envelope {
            _ = accepted.withLock { $0.set(request.id, (env, version)) }
        }
        let key = result.rejection?.reasonClass ?? "accept"
        counts.withLock { $0[key, default: 0] += 1 }
        if let r = result.rejection {
            logger.debug("block gossip not accepted", metadata: ["peer": "\(request.from)", "topic": "\(request.topic)",
                                                                 "outcome": "\(result.outcome)", "reason": "\(r)"])
        }
        return result.outcome
    }

    /// Signs and publishes a payload as the sequencer (op-node `SignAndPublishL2Payload`): the topic
    /// and SSZ layout follow the payload's fork by timestamp.
    public func publish(_ envelope: ExecutionPayloadEnvelope, key: Secp256k1PrivateKey) throws -> [UInt8] {
        let version = rollup.payloadVersion(at: envelope.payload.timestamp)
        let body = try envelope.sszEncoded(version: version)
        let signature = try BlockSigning.sign(payloadBytes: body, chainID: rollup.chainID, key: key)
        let data = Snappy.compress(signature + body)
        try publish(data: data, version: version)
        return data
    }

    /// Publishes already signed and compressed gossip data on the topic of `version`.
    public func publish(data: [UInt8], version: PayloadVersion) throws {
        // The router sends the copies first and then computes the id with the id function's
        // `local` form (remembered in `prepared`, nothing prepared for validation: our publishes
        // are not validated), so the hashing is off the path to the peers. Content seen recently
        // (a block that came from a peer first, or a republish) is found by `prepared` without
        // hashing and is a no-op.
        try service.publish(topic: topics.topic(for: version), data: Data(data))
    }
}
