import ArgumentParser
import Rollup

/// `--rollup.config FILE` / `--network NAME`, as op-node names them (env `OP_NODE_ROLLUP_CONFIG`,
/// `OP_NODE_NETWORK`).
struct RollupOptions: ParsableArguments {
    @Option(name: .customLong("rollup.config"), help: "Rollup configuration file (op-node rollup.json).")
    var rollupConfig: String?

    @Option(name: .customLong("network"), help: "Built-in network: \(RollupConfig.presetNames.joined(separator: ", ")).")
    var network: String?

    /// The configuration from the flags or environment, or nil when none was given.
    func load() throws -> RollupConfig? {
        let env = Environment.current
        if let path = rollupConfig ?? env["OP_NODE_ROLLUP_CONFIG"] {
            do { return try RollupConfig(jsonFile: path) } catch { throw CLIError("--rollup.config \(path): \(error)") }
        }
        if let name = network ?? env["OP_NODE_NETWORK"] {
            guard let c = RollupConfig.preset(named: name) else {
                throw CLIError("--network \(name): unknown network (known: \(RollupConfig.presetNames.joined(separator: ", ")))")
            }
            return c
        }
        return nil
    }
}

import Foundation

/// Process environment access (one place, so flags and env vars resolve the same way).
enum Environment {
    static var current: [String: String] { ProcessInfo.processInfo.environment }
}
