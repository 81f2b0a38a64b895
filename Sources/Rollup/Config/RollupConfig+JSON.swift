/// Reads op-node's `rollup.json` (the JSON form of op-node/rollup/types.go `Config`): genesis,
/// `block_time`, `l2_chain_id`, `l1_chain_id` and the `<fork>_time` fields. Unknown fields
/// (system config, addresses, `interop_time`, …) are ignored; an absent or null fork time means
/// the fork never activates.
import Foundation

private struct RollupJSON: Decodable {
    struct ID: Decodable {
        let hash: String
        let number: UInt64
    }

    struct GenesisJSON: Decodable {
        let l1: ID
        let l2: ID
        let l2Time: UInt64?

        enum CodingKeys: String, CodingKey {
            case l1, l2
            case l2Time = "l2_time"
        }
    }

    struct ForkKey: CodingKey {
        let stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    enum CodingKeys: String, CodingKey {
        case genesis
        case blockTime = "block_time"
        case l2ChainID = "l2_chain_id"
        case l1ChainID = "l1_chain_id"
    }

    let genesis: GenesisJSON
    let blockTime: UInt64?
    let l2ChainID: UInt64?
    let l1ChainID: UInt64?
    let forkTimes: [Fork: UInt64]

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        genesis = try c.decode(GenesisJSON.self, forKey: .genesis)
        blockTime = try c.decodeIfPresent(UInt64.self, forKey: .blockTime)
        l2ChainID = try c.decodeIfPresent(UInt64.self, forKey: .l2ChainID)
        l1ChainID = try c.decodeIfPresent(UInt64.self, forKey: .l1ChainID)
        let forks = try decoder.container(keyedBy: ForkKey.self)
        var times = [Fork: UInt64]()
        for fork in Fork.allCases {
            guard let key = fork.rollupConfigKey else { continue }
            if let t = try forks.decodeIfPresent(UInt64.self, forKey: ForkKey(stringValue: key)) { times[fork] = t }
        }
        forkTimes = times
    }
}

extension RollupConfig {
    /// Largest accepted `rollup.json` (real ones are a few KB).
    public static let maxJSONSize = 1 << 20

    /// Parses and validates a `rollup.json` document.
    public init(json data: some Collection<UInt8>) throws(RollupConfigError) {
        guard data.count <= Self.maxJSONSize else { throw .fileTooLarge(path: "<memory>", size: data.count, max: Self.maxJSONSize) }
        let raw: RollupJSON
        do {
            raw = try JSONDecoder().decode(RollupJSON.self, from: Data(data))
        } catch let error as DecodingError {
            throw Self.describe(error)
        } catch {
            throw .malformedJSON("\(error)")
        }
        func hash(_ s: String, _ field: String) throws(RollupConfigError) -> [UInt8] {
            guard s.hasHexPrefix else { throw .invalidField(field: field, reason: "hash lacks the 0x prefix") }
            do { return try [UInt8](hex: s, count: 32) } catch { throw .invalidField(field: field, reason: error.description) }
        }
        guard let chainID = raw.l2ChainID else { throw .missingChainID }
        guard let blockTime = raw.blockTime else { throw .zeroBlockTime }
        guard let l2Time = raw.genesis.l2Time else { throw .missingGenesisL2Time }
        let genesis = Genesis(l1: BlockID(hash: try hash(raw.genesis.l1.hash, "genesis.l1.hash"), number: raw.genesis.l1.number),
                              l2: BlockID(hash: try hash(raw.genesis.l2.hash, "genesis.l2.hash"), number: raw.genesis.l2.number),
                              l2Time: l2Time)
        try self.init(chainID: chainID, l1ChainID: raw.l1ChainID, genesis: genesis, blockTime: blockTime, forkTimes: raw.forkTimes)
    }

    /// Reads and parses a `rollup.json` file (at most `maxJSONSize` bytes).
    public init(jsonFile path: String) throws(RollupConfigError) {
        let url = URL(fileURLWithPath: path)
        guard let attrs = try? FileManager.default.attributesOfItem(atPath: path) else { throw .unreadableFile(path: path) }
        let size = (attrs[.size] as? NSNumber)?.intValue ?? 0
        guard size <= Self.maxJSONSize else { throw .fileTooLarge(path: path, size: size, max: Self.maxJSONSize) }
        guard let data = try? Data(contentsOf: url) else { throw .unreadableFile(path: path) }
        try self.init(json: data)
    }

    private static func describe(_ error: DecodingError) -> RollupConfigError {
        func path(_ keys: [any CodingKey]) -> String {
            keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case .typeMismatch(let type, let ctx):
            return .invalidField(field: path(ctx.codingPath), reason: "expected \(type)")
        case .valueNotFound(let type, let ctx):
            return .invalidField(field: path(ctx.codingPath), reason: "expected \(type), found null")
        case .keyNotFound(let key, let ctx):
            return .invalidField(field: path(ctx.codingPath + [key]), reason: "missing")
        case .dataCorrupted(let ctx):
            if ctx.codingPath.isEmpty { return .malformedJSON(ctx.debugDescription) }
            return .invalidField(field: path(ctx.codingPath), reason: ctx.debugDescription)
        @unknown default:
            return .malformedJSON("\(error)")
        }
    }
}
