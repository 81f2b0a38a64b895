import ArgumentParser

/// `p2pnode`: the OP Stack p2p layer as one executable (see docs/OPERATIONS.md).
@main
struct P2PNode: AsyncParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "p2pnode",
        abstract: "OP Stack rollup-node p2p layer, wire-compatible with op-node.",
        version: version,
        subcommands: [Run.self, Sync.self, Devnet.self, Inspect.self, Store.self, Key.self, Dev.self]
    )
}

/// An error in the user's input: printed as one line on stderr, exit status 1.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
