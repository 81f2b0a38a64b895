import Foundation
import Rollup
import Testing

/// `p2pnode store import|ls|get` run as a user would run them, on the real test blocks.
@Suite struct StoreCommandTests {
    let t = CLI.testdata
    static let unichainHash = "0xc463a3120c35268f610d969f5608b479332ef10953af77c7a6be806195831196"

    private func scratch() -> String {
        let dir = NSTemporaryDirectory() + "p2pnode-store-cli-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// A rollup.json whose forks place the real blocks in their layouts: the Goerli blocks either
    /// side of Canyon (V1, V2), the Unichain block after Isthmus (V4).
    private func rollupConfig(in dir: String) -> String {
        let forks = ["regolith_time": 0, "canyon_time": 1_678_832_736, "delta_time": 1_678_832_736,
                     "ecotone_time": 1_700_000_000, "fjord_time": 1_700_000_000, "granite_time": 1_700_000_000,
                     "holocene_time": 1_700_000_000, "isthmus_time": 1_750_000_000]
        let zero = "0x" + String(repeating: "0", count: 64)
        let json = """
            {"genesis": {"l1": {"hash": "\(zero)", "number": 0}, "l2": {"hash": "\(zero)", "number": 0}, "l2_time": 1000},
             "block_time": 2, "l2_chain_id": 1301, \(forks.map { "\"\($0.key)\": \($0.value)" }.joined(separator: ", "))}
            """
        let path = dir + "/rollup.json"
        #expect(FileManager.default.createFile(atPath: path, contents: Data(json.utf8)))
        return path
    }

    @Test func importListAndGetTheRealBlocksFromJSON() throws {
        let dir = scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let imp = try CLI.run(["store", "import", "--datadir", dir,
                               "\(t)/real/unichain-sepolia-35535698.envelope.json",
                               "\(t)/real/goerli-l1-8656414-post-shanghai.payload.json",
                               "\(t)/real/goerli-l1-8651337-pre-shanghai.payload.json"])
        #expect(imp.status == 0, "\(imp.stderr)")
        #expect(imp.stdout.contains("block 35535698 \(Self.unichainHash) V4: inserted"))
        #expect(imp.stdout.contains("imported 3, already present 0, below retention 0, failed 0"))

        // The same blocks as SSZ (explicit layouts) are already there.
        for (file, v) in [("unichain-sepolia-35535698.envelope-v4.ssz", 4), ("goerli-l1-8651337-pre-shanghai.payload-v1.ssz", 1),
                          ("goerli-l1-8656414-post-shanghai.payload-v2.ssz", 2)] {
            let again = try CLI.run(["store", "import", "--datadir", dir, "--version", "\(v)", "\(t)/real/\(file)"])
            #expect(again.status == 0, "\(again.stderr)")
            #expect(again.stdout.contains("already present 1"), "\(file): \(again.stdout)")
        }

        let ls = try CLI.run(["store", "ls", "--datadir", dir])
        #expect(ls.status == 0, "\(ls.stderr)")
        #expect(ls.stdout.contains("35535698    \(Self.unichainHash)"))
        #expect(ls.stdout.contains("3 blocks, numbers 8651337…35535698, head 35535698 \(Self.unichainHash)"))
        let lines = ls.stdout.split(separator: "\n")
        #expect(lines.count == 5)
        #expect(lines.filter { $0.hasPrefix("35535698") }.allSatisfy { $0.hasSuffix("*") })
        let fromLs = try CLI.run(["store", "ls", "--datadir", dir, "--from", "8656414", "--limit", "1"])
        #expect(fromLs.stdout.split(separator: "\n").filter { $0.hasPrefix("8656414 ") }.count == 1)
        #expect(!fromLs.stdout.contains(Self.unichainHash + "  "))

        let get = try CLI.run(["store", "get", "--datadir", dir, "35535698"])
        #expect(get.status == 0, "\(get.stderr)")
        #expect(get.stdout.contains("hash:                   OK"))
        #expect(get.stdout.contains("source:                 import"))
        #expect(get.stdout.contains("canonical:              yes"))
        let v1 = try CLI.run(["store", "get", "--datadir", dir, "0x9ef7cd2241202b919a0e51240818a8666c73f7ce4b908931e3ae6d26d30f7663"])
        #expect(v1.status == 0, "\(v1.stderr)")
        #expect(v1.stdout.contains("layout:                 V1"))

        let json = try CLI.run(["store", "get", "--datadir", dir, "35535698", "--json"])
        #expect(json.status == 0)
        let env = try ExecutionPayloadEnvelope(engineJSON: Array(json.stdout.utf8))
        #expect(env.payload.blockHash == (try [UInt8](hex: Self.unichainHash)))
        #expect(env.checkBlockHash(version: .v4))

        let out = dir + "/out.ssz"
        let ssz = try CLI.run(["store", "get", "--datadir", dir, "35535698", "--ssz-out", out])
        #expect(ssz.status == 0, "\(ssz.stderr)")
        #expect(FileManager.default.contents(atPath: out) == FileManager.default.contents(atPath: "\(t)/real/unichain-sepolia-35535698.envelope-v4.ssz"))
    }

    @Test func sszImportKeepsTheFileBytesWithVersionOrConfig() throws {
        let dir = scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let envelopeFile = "\(t)/real/unichain-sepolia-35535698.envelope-v4.ssz"
        let noLayout = try CLI.run(["store", "import", "--datadir", dir + "/a", envelopeFile])
        #expect(noLayout.status == 1 && !noLayout.crashed)
        #expect(noLayout.stderr.contains("needs --version"))

        let byVersion = try CLI.run(["store", "import", "--datadir", dir + "/a", "--version", "4", envelopeFile])
        #expect(byVersion.status == 0, "\(byVersion.stderr)")
        let out = dir + "/a.ssz"
        _ = try CLI.run(["store", "get", "--datadir", dir + "/a", "35535698", "--ssz-out", out])
        #expect(FileManager.default.contents(atPath: out) == FileManager.default.contents(atPath: envelopeFile))

        // With a rollup config the layout comes from each block's timestamp; hex text works too.
        let hexFile = CLI.tempFile(Array(("0x" + (try Data(contentsOf: URL(fileURLWithPath: envelopeFile))).map { String(format: "%02x", $0) }.joined() + "\n").utf8))
        defer { try? FileManager.default.removeItem(atPath: hexFile) }
        let config = rollupConfig(in: dir)
        let byConfig = try CLI.run(["store", "import", "--datadir", dir + "/b", "--rollup.config", config, hexFile,
                                    "\(t)/real/goerli-l1-8651337-pre-shanghai.payload-v1.ssz",
                                    "\(t)/real/goerli-l1-8656414-post-shanghai.payload-v2.ssz"])
        #expect(byConfig.status == 0, "\(byConfig.stdout)\(byConfig.stderr)")
        #expect(byConfig.stdout.contains("V4: inserted") && byConfig.stdout.contains("V1: inserted") && byConfig.stdout.contains("V2: inserted"))

        // A bare V4 payload needs its parent beacon block root.
        let bare = "\(t)/real/unichain-sepolia-35535698.payload-v4.ssz"
        let noRoot = try CLI.run(["store", "import", "--datadir", dir + "/c", "--version", "4", bare])
        #expect(noRoot.status == 1)
        #expect(noRoot.stderr.contains("parent beacon block root"))
        let withRoot = try CLI.run(["store", "import", "--datadir", dir + "/c", "--version", "4", bare, "--parent-beacon-root",
                                    "0xf6d335a6b2b4fd8fb539cd51a49769df4d53c31a90c54dd270e54542638ff101"])
        #expect(withRoot.status == 0, "\(withRoot.stderr)")
        let out2 = dir + "/c.ssz"
        _ = try CLI.run(["store", "get", "--datadir", dir + "/c", "35535698", "--ssz-out", out2])
        #expect(FileManager.default.contents(atPath: out2) == FileManager.default.contents(atPath: envelopeFile))
    }

    @Test func wrongHashesAndBadFilesAreRefusedAndReported() throws {
        let dir = scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let good = "\(t)/real/goerli-l1-8651337-pre-shanghai.payload.json"
        var text = try String(contentsOfFile: "\(t)/real/unichain-sepolia-35535698.envelope.json", encoding: .utf8)
        let gasUsed = try #require(text.range(of: #""gasUsed":\s*"0x[0-9a-f]+""#, options: .regularExpression))
        text.replaceSubrange(gasUsed, with: #""gasUsed": "0x1""#)
        let tampered = CLI.tempFile(Array(text.utf8))
        let empty = CLI.tempFile([])
        let garbage = CLI.tempFile((0..<700).map { UInt8(truncatingIfNeeded: $0 &* 37) })
        let badJSON = CLI.tempFile(Array("{\"executionPayload\": {\"parentHash\": 5".utf8))
        defer { for f in [tampered, empty, garbage, badJSON] { try? FileManager.default.removeItem(atPath: f) } }

        let r = try CLI.run(["store", "import", "--datadir", dir, tampered, empty, garbage, badJSON,
                             dir + "/missing", good])
        #expect(r.status == 1 && !r.crashed)
        #expect(r.stderr.contains("wrong hash: claimed \(Self.unichainHash)"), "\(r.stderr)")
        #expect(r.stderr.split(separator: "\n").filter { $0.hasPrefix("error: ") }.count == 5, "\(r.stderr)")
        #expect(r.stdout.contains("imported 1, already present 0, below retention 0, failed 5"))
        let get = try CLI.run(["store", "get", "--datadir", dir, "35535698"])
        #expect(get.status == 1)
        #expect(get.stderr.contains("no canonical block at 35535698"))

        // --stop-on-error stops at the first failure.
        let stop = try CLI.run(["store", "import", "--datadir", dir + "/s", "--stop-on-error", tampered, good])
        #expect(stop.status == 1)
        #expect(stop.stdout.contains("imported 0, already present 0, below retention 0, failed 1"))
    }

    @Test func retentionAndUsageErrors() throws {
        let dir = scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try CLI.run(["store", "import", "--datadir", dir, "--store.retention", "1000",
                             "\(t)/real/unichain-sepolia-35535698.envelope.json", "\(t)/real/goerli-l1-8651337-pre-shanghai.payload.json"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("V1: below the retention window"))

        for args in [["store", "ls", "--datadir", dir + "/nothing"], ["store", "get", "--datadir", dir + "/nothing", "1"],
                     ["store", "ls", "--datadir", dir, "--limit", "0"], ["store", "get", "--datadir", dir, "1", "--json", "--ssz-out", "x"],
                     ["store", "get", "--datadir", dir, "0x1234"], ["store", "get", "--datadir", dir, "abc"],
                     ["store", "import", "--datadir", dir, "--version", "7", "x"], ["store", "import", "--datadir", dir, "--store.retention", "0", "x"]] {
            let bad = try CLI.run(args)
            #expect(bad.status != 0 && !bad.crashed, "\(args)")
            #expect(!bad.stderr.isEmpty, "\(args)")
        }
        #expect(!FileManager.default.fileExists(atPath: dir + "/nothing"), "read commands never create a store")

        // A corrupt database file is reported by name, not a crash.
        let corrupt = dir + "/corrupt"
        try FileManager.default.createDirectory(atPath: corrupt, withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: corrupt + "/" + BlockStore.fileName, contents: Data(repeating: 0x41, count: 8192)))
        let ls = try CLI.run(["store", "ls", "--datadir", corrupt])
        #expect(ls.status == 1 && !ls.crashed)
        #expect(ls.stderr.contains("\(corrupt)/\(BlockStore.fileName) is corrupt"), "\(ls.stderr)")
    }
}
