import Foundation
import P2PCore

/// op-node's gossip message id (spec §2.5, `BuildMsgIdFn`), including the topic — the form the
/// op-node majority runs, not the prose spec's:
///
///     valid snappy (≤ 10 MiB):  sha256(01 00 00 00 ++ u64le(len(topic)) ++ topic ++ decompressed)[:20]
///     otherwise:                sha256(00 00 00 00 ++ u64le(len(topic)) ++ topic ++ raw data)[:20]
public enum OPMessageID {
    public static let maxGossipSize = 10 * 1024 * 1024
    static let validSnappyDomain: [UInt8] = [1, 0, 0, 0]
    static let invalidSnappyDomain: [UInt8] = [0, 0, 0, 0]

    /// Computes the id of `data` received or published on `topic` (the router's message-id
    /// function, `MessageIDFunction.opStack(preparingIn:)`, calls this). A copy of a recent
    /// message's exact bytes gets that message's id from `cache` without decompressing or
    /// hashing. Otherwise the data is decompressed once and, if `forValidation`, the payload
    /// hash for the signature check is started on another core right away (it runs while this
    /// thread hashes the id) and both are left in `cache` for the block validator
    /// (`PreparedBlockCache`); our own publishes pass false: they are never validated.
    public static func compute(topic: String, data: some ContiguousBytes & Sendable,
                               cache: PreparedBlockCache, forValidation: Bool = true) -> [UInt8] {
        data.withUnsafeBytes { raw in
            if let id = cache.knownID(topic: topic, data: raw) { return id }
            let decompressed = decompress(raw)
            let payloadHash = forValidation ? decompressed.flatMap(cache.speculate) : nil
            if let payloadHash { SpeculationThread.shared.submit(payloadHash) }
            let id = compute(topic: topic, data: raw, decompressed: decompressed)
            if forValidation, let decompressed {
                cache.insert(id: id, PreparedBlock(decompressed: decompressed, payloadHash: payloadHash))
            }
            cache.remember(topic: topic, data: data, count: raw.count, id: id)
            return id
        }
    }

    /// The id alone (nothing remembered or prepared).
    public static func compute(topic: String, data: [UInt8]) -> [UInt8] {
        data.withUnsafeBytes { compute(topic: topic, data: $0) }
    }

    /// The same over borrowed bytes (the router's message data, without copying it first).
    static func compute(topic: String, data: UnsafeRawBufferPointer) -> [UInt8] {
        compute(topic: topic, data: data, decompressed: decompress(data))
    }

    /// Computes the id when the caller already decompressed the data (nil = not valid snappy
    /// or over 10 MiB), so a block is decompressed once for id and validation together.
    public static func compute(topic: String, data: [UInt8], decompressed: [UInt8]?) -> [UInt8] {
        data.withUnsafeBytes { compute(topic: topic, data: $0, decompressed: decompressed) }
    }

    static func compute(topic: String, data: UnsafeRawBufferPointer, decompressed: [UInt8]?) -> [UInt8] {
        var h = SHA2.Hasher()
        h.update(decompressed == nil ? invalidSnappyDomain : validSnappyDomain)
        let topicBytes = Array(topic.utf8)
        withUnsafeBytes(of: UInt64(topicBytes.count).littleEndian) { h.update(raw: $0) }
        h.update(topicBytes)
        if let decompressed { h.update(decompressed) } else { h.update(raw: data) }
        return Array(h.finalize().prefix(20))
    }

    /// snappy block decode with op-node's 10 MiB bound checked on the declared length first.
    public static func decompress(_ data: [UInt8]) -> [UInt8]? {
        data.withUnsafeBytes { decompress($0) }
    }

    static func decompress(_ data: UnsafeRawBufferPointer) -> [UInt8]? {
        try? Snappy.decompress(data, maxLength: maxGossipSize)
    }
}
