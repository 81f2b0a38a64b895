/// The block-hash check: keccak256 of the RLP block header rebuilt from a payload, as op-node's
/// `ExecutionPayloadEnvelope.CheckBlockHash` (op-service/eth/types.go). Spec §1.4: London fields,
/// then per version withdrawalsRoot (V2+), blob gas and parent beacon root (V3+), requestsHash (V4).
import P2PCore

enum HeaderConstants {
    /// keccak256(RLP([])): the ommers hash of every post-merge block.
    static let emptyOmmersHash: [UInt8] = [
        0x1d, 0xcc, 0x4d, 0xe8, 0xde, 0xc7, 0x5d, 0x7a, 0xab, 0x85, 0xb5, 0x67, 0xb6, 0xcc, 0xd4, 0x1a,
        0xd3, 0x12, 0x45, 0x1b, 0x94, 0x8a, 0x74, 0x13, 0xf0, 0xa1, 0x42, 0xfd, 0x40, 0xd4, 0x93, 0x47,
    ]
    /// sha256(""): the Isthmus requestsHash (no execution-layer requests on L2).
    static let emptyRequestsHash: [UInt8] = [
        0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
        0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
    ]
}

extension ExecutionPayloadEnvelope {
    /// The RLP header for `version`. Absent optional fields needed by the version are taken as
    /// their empty values (no withdrawals, zero blob gas, zero beacon root, empty withdrawals
    /// root); `checkBlockHash` rejects such payloads instead.
    func headerRLP(version: PayloadVersion) -> [UInt8] {
        let p = payload
        var h = [UInt8]()
        h.reserveCapacity(700)
        RLP.append(bytes: p.parentHash, to: &h)
        RLP.append(bytes: HeaderConstants.emptyOmmersHash, to: &h)
        RLP.append(bytes: p.feeRecipient, to: &h)
        RLP.append(bytes: p.stateRoot, to: &h)
        RLP.append(bytes: OrderedTrie.root(of: p.transactions), to: &h)
        RLP.append(bytes: p.receiptsRoot, to: &h)
        RLP.append(bytes: p.logsBloom, to: &h)
        RLP.append(uint: 0, to: &h)  // difficulty
        RLP.append(uint: p.blockNumber, to: &h)
        RLP.append(uint: p.gasLimit, to: &h)
        RLP.append(uint: p.gasUsed, to: &h)
        RLP.append(uint: p.timestamp, to: &h)
        RLP.append(bytes: p.extraData, to: &h)
        RLP.append(bytes: p.prevRandao, to: &h)  // mixDigest
        RLP.append(bytes: [UInt8](repeating: 0, count: 8), to: &h)  // nonce
        RLP.append(bytes: p.baseFeePerGas.minimalBytesBE, to: &h)
        if version >= .v4 {
            RLP.append(bytes: p.withdrawalsRoot ?? OrderedTrie.emptyRoot, to: &h)
        } else if version >= .v2 {
            RLP.append(bytes: OrderedTrie.withdrawalsRoot(p.withdrawals ?? []), to: &h)
        }
        if version >= .v3 {
            RLP.append(uint: p.blobGasUsed ?? 0, to: &h)
            RLP.append(uint: p.excessBlobGas ?? 0, to: &h)
            RLP.append(bytes: parentBeaconBlockRoot ?? [UInt8](repeating: 0, count: 32), to: &h)
        }
        if version >= .v4 {
            RLP.append(bytes: HeaderConstants.emptyRequestsHash, to: &h)
        }
        return RLP.encodeList(payload: h)
    }

    /// keccak256 of the header rebuilt for `version` (see `headerRLP` for absent fields).
    public func computeBlockHash(version: PayloadVersion) -> [UInt8] {
        Keccak256.hash(headerRLP(version: version))
    }

    /// True iff the fields `version` needs are present and well-sized (V3+: a 32-byte parent
    /// beacon block root) and `payload.blockHash` equals the computed hash.
    public func checkBlockHash(version: PayloadVersion) -> Bool {
        guard (try? payload.checkFields(version: version)) != nil else { return false }
        if version.hasParentBeaconBlockRoot {
            guard parentBeaconBlockRoot?.count == 32 else { return false }
        }
        return computeBlockHash(version: version) == payload.blockHash
    }
}
