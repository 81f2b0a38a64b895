/// What the `payload_by_number` server reads: the local chain by block number, as op-node's
/// `L2Chain.PayloadByNumber` (spec §5.1). The block store implements it; tests use dictionaries.

/// A stored payload ready to serve: the response version and the SSZ bytes the version implies.
public struct ServedPayload: Sendable, Equatable {
    /// 0 = SSZ `ExecutionPayload` (pre-Ecotone), 1 = envelope `parentBeaconBlockRoot ++ payload`
    /// (Ecotone and later). The server answers any other value with result code 3.
    public var version: UInt32
    /// The SSZ encoding for `version` (uncompressed; the server frames it with snappy).
    public var ssz: [UInt8]

    public init(version: UInt32, ssz: [UInt8]) {
        self.version = version
        self.ssz = ssz
    }
}

/// The server's view of the local chain.
public protocol PayloadSource: Sendable {
    /// The canonical payload at `number`; nil if the node does not have it (result code 1). A
    /// thrown error is any other failure (result code 3).
    func payload(number: UInt64) throws -> ServedPayload?
}
