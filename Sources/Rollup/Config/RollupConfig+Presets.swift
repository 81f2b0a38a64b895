/// Built-in configurations for `--network NAME`, named as op-node names them (`<chain>-<superchain>`).
///
/// Sources (ethereum-optimism/superchain-registry, read through the project's code index):
/// - chain id, block time, genesis (L1/L2 hash and number, `l2_time`), Canyon…Holocene:
///   `superchain/configs/mainnet/op.toml` (commit 0ed9bb35), `…/mainnet/base.toml` (0ed9bb35),
///   `…/mainnet/unichain.toml` (c1c50a5b).
/// - Isthmus 1746806401 (Fri 9 May 2025 16:00:01 UTC): `…/mainnet/base.toml` (commit 0ab241df);
///   OP Mainnet and Unichain have `superchain_time = 0` and inherit the superchain-wide time.
/// - Jovian 1764691201 (Tue 2 Dec 2025 16:00:01 UTC): the registry snapshot in the index
///   (base.toml 0ab241df) still has the first schedule, 1764086401; the activation was moved to
///   1764691201 before it happened (op-node/v1.16.1 release notes, which list OP Mainnet, Base
///   Mainnet and Unichain Mainnet as inheriting it; ethereum-optimism/docs PR #1852).
/// - Regolith is 0 for every registry chain (op-node/chaincfg `regolithTime := uint64(0)`).
/// Sepolia networks are left out: the indexed registry files stop before Isthmus there.

extension RollupConfig {
    private static let mainnetSuperchainForks: [Fork: UInt64] = [
        .regolith: 0,
        .canyon: 1_704_992_401,
        .delta: 1_708_560_000,
        .ecotone: 1_710_374_401,
        .fjord: 1_720_627_201,
        .granite: 1_726_070_401,
        .holocene: 1_736_445_601,
        .isthmus: 1_746_806_401,
        .jovian: 1_764_691_201,
    ]

    private static func preset(chainID: UInt64, l1: (String, UInt64), l2: (String, UInt64), l2Time: UInt64,
                               blockTime: UInt64, forks: [Fork: UInt64]) -> RollupConfig? {
        guard let l1Hash = try? [UInt8](hex: l1.0, count: 32), let l2Hash = try? [UInt8](hex: l2.0, count: 32) else { return nil }
        return try? RollupConfig(chainID: chainID, l1ChainID: 1,
                                 genesis: Genesis(l1: BlockID(hash: l1Hash, number: l1.1), l2: BlockID(hash: l2Hash, number: l2.1),
                                                  l2Time: l2Time),
                                 blockTime: blockTime, forkTimes: forks)
    }

    /// OP Mainnet, chain 10 (registry `mainnet/op.toml`).
    public static var opMainnet: RollupConfig? {
        preset(chainID: 10,
               l1: ("0x438335a20d98863a4c0c97999eb2481921ccd28553eac6f913af7c12aec04108", 17_422_590),
               l2: ("0xdbf6a80fef073de06add9b0d14026d6e5a86c85f6d102c36d3d8e9cf89c2afd3", 105_235_063),
               l2Time: 1_686_068_903, blockTime: 2, forks: mainnetSuperchainForks)
    }

    /// Base, chain 8453 (registry `mainnet/base.toml`).
    public static var baseMainnet: RollupConfig? {
        preset(chainID: 8453,
               l1: ("0x5c13d307623a926cd31415036c8b7fa14572f9dac64528e857a470511fc30771", 17_481_768),
               l2: ("0xf712aa9241cc24369b143cf6dce85f0902a9731e70d66818a3a5845b296c73dd", 0),
               l2Time: 1_686_789_347, blockTime: 2, forks: mainnetSuperchainForks)
    }

    /// Unichain, chain 130 (registry `mainnet/unichain.toml`): Canyon…Granite at genesis, 1 s blocks.
    public static var unichainMainnet: RollupConfig? {
        var forks = mainnetSuperchainForks
        for fork in [Fork.canyon, .delta, .ecotone, .fjord, .granite] { forks[fork] = 0 }
        return preset(chainID: 130,
                      l1: ("0x8c799ed21bd97471f76ba48ea54b30f8169c7e4e4a22acfba06951b571e0f4b6", 21_116_363),
                      l2: ("0x3425162ddf41a0a1f0106d67b71828c9a9577e6ddeb94e4f33d2cde1fdc3befe", 0),
                      l2Time: 1_730_748_359, blockTime: 1, forks: forks)
    }

    /// The names `preset(named:)` accepts.
    public static let presetNames = ["op-mainnet", "base-mainnet", "unichain-mainnet"]

    /// The built-in configuration for an op-node network name, or nil if there is none.
    public static func preset(named name: String) -> RollupConfig? {
        switch name {
        case "op-mainnet": return opMainnet
        case "base-mainnet": return baseMainnet
        case "unichain-mainnet": return unichainMainnet
        default: return nil
        }
    }
}
