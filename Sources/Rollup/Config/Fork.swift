/// OP Stack network upgrades in activation order, as op-node's `rollup.Config` knows them
/// (op-node/rollup/types.go `IsRegolith` … `IsJovian`). Bedrock is the genesis rules.

public enum Fork: String, Sendable, CaseIterable, Comparable, CustomStringConvertible {
    case bedrock, regolith, canyon, delta, ecotone, fjord, granite, holocene, isthmus, jovian

    /// The `rollup.json` key of the activation time (nil for Bedrock, which has none).
    public var rollupConfigKey: String? { self == .bedrock ? nil : "\(rawValue)_time" }

    public var description: String { rawValue.prefix(1).uppercased() + rawValue.dropFirst() }

    public static func < (a: Fork, b: Fork) -> Bool {
        (allCases.firstIndex(of: a) ?? 0) < (allCases.firstIndex(of: b) ?? 0)
    }
}
