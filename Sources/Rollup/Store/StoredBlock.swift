/// The values the block store hands out: where a block came from, what `put` did with it, and a
/// stored block's metadata with its envelope loaded on demand (spec §5: the SSZ the
/// payload_by_number server sends; §1.3: the layout version).
import P2PCore

/// Where a stored block came from.
public enum BlockSource: String, Sendable, CaseIterable, CustomStringConvertible {
    /// Accepted from a gossip blocks topic.
    case gossip
    /// Fetched with payload_by_number and hash-chained to a trusted block.
    case reqresp
    /// Imported from a file (`p2pnode store import`).
    case `import`
    /// Produced by, or read from, the local execution engine.
    case engine

    public var description: String { rawValue }
}

/// What `BlockStore.put` did.
public enum PutResult: Sendable, Equatable, CustomStringConvertible {
    /// Newly stored, durably (synchronous=FULL) before `put` returned.
    case inserted
    /// A block with this hash was already stored; nothing changed.
    case alreadyPresent
    /// Not stored: the block is older than the retention window and would be pruned at once.
    case belowRetention

    public var description: String {
        switch self {
        case .inserted: return "inserted"
        case .alreadyPresent: return "already present"
        case .belowRetention: return "below the retention window"
        }
    }
}

/// A block in the store. The metadata is read with the row; the SSZ bytes and the decoded envelope
/// are loaded from the store when asked for (a pruned block then reports nil).
public struct StoredBlock: Sendable, Equatable, CustomStringConvertible {
    public let number: UInt64
    public let hash: [UInt8]
    public let parentHash: [UInt8]
    /// The SSZ layout of the stored bytes (V1–V4).
    public let version: PayloadVersion
    public let timestamp: UInt64
    /// When it was received, in the caller's clock (p2pnode uses Unix milliseconds).
    public let receivedAt: UInt64
    public let source: BlockSource
    /// Size of the stored SSZ bytes (pbr ++ payload for V3/V4, payload for V1/V2).
    public let sszSize: Int
    /// Whether it was on the canonical chain when it was read.
    public let isCanonical: Bool

    let store: BlockStore

    /// The stored SSZ bytes: exactly what `put` was given or encoded, and what payload_by_number
    /// sends (version 1 = envelope for V3/V4, 0 = payload for V1/V2). nil if pruned since.
    public func sszBytes() throws(BlockStoreError) -> [UInt8]? {
        try store.sszBytes(hash: hash)?.ssz
    }

    /// The decoded envelope (the parent beacon block root is nil for V1/V2). nil if pruned since.
    public func envelope() throws(BlockStoreError) -> ExecutionPayloadEnvelope? {
        guard let ssz = try sszBytes() else { return nil }
        do { return try ExecutionPayloadEnvelope(ssz: ssz, version: version) } catch {
            throw .invalidStoredBlock(hash: hash.prefixedHex, reason: error.description)
        }
    }

    public var description: String {
        "#\(number) \(hash.prefixedHex) (\(version), \(source)\(isCanonical ? ", canonical" : ""))"
    }

    public static func == (a: StoredBlock, b: StoredBlock) -> Bool {
        a.number == b.number && a.hash == b.hash && a.parentHash == b.parentHash && a.version == b.version
            && a.timestamp == b.timestamp && a.receivedAt == b.receivedAt && a.source == b.source
            && a.sszSize == b.sszSize && a.isCanonical == b.isCanonical
    }
}
