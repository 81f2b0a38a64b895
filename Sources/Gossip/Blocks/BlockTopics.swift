import Rollup

/// op-node's four block topics (spec §1.1): `/optimism/<chainId>/{0,1,2,3}/blocks`, one per
/// payload version. A node subscribes to and validates all four at all times; publishing picks
/// the topic from the payload's fork by timestamp (Isthmus → 3, Ecotone → 2, Canyon → 1, else 0).
public struct BlockTopics: Sendable, Equatable {
    public let chainID: UInt64

    public init(chainID: UInt64) { self.chainID = chainID }

    public func topic(for version: PayloadVersion) -> String {
        "/optimism/\(chainID)/\(version.rawValue - 1)/blocks"
    }

    /// All four topic strings, v1 first. This is also the subscription allow-list.
    public var all: [String] { PayloadVersion.allCases.map { topic(for: $0) } }

    /// The block version a topic carries, or nil if it is not one of this chain's block topics.
    public func version(of topic: String) -> PayloadVersion? {
        PayloadVersion.allCases.first { self.topic(for: $0) == topic }
    }

    /// The topic a payload with this timestamp is published on.
    public func publishTopic(timestamp: UInt64, config: RollupConfig) -> String {
        topic(for: config.payloadVersion(at: timestamp))
    }
}
