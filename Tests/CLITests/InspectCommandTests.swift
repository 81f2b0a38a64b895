import Foundation
import Testing

/// `p2pnode inspect …` and `p2pnode key …` run as a user would run them.
@Suite struct InspectCommandTests {
    let t = CLI.testdata
    let signer = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"

    @Test(arguments: [
        ("real/unichain-sepolia-35535698.envelope.json", nil as Int?),
        ("real/goerli-l1-8656414-post-shanghai.payload.json", nil),
        ("real/goerli-l1-8651337-pre-shanghai.payload.json", nil),
        ("real/unichain-sepolia-35535698.envelope-v4.ssz", 4),
        ("real/goerli-l1-8656414-post-shanghai.payload-v2.ssz", 2),
        ("real/goerli-l1-8651337-pre-shanghai.payload-v1.ssz", 1),
    ])
    func payloadHashesVerify(file: String, version: Int?) throws {
        var args = ["inspect", "payload", "\(t)/\(file)"]
        if let v = version { args += ["--version", "\(v)"] }
        let r = try CLI.run(args)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("hash:                   OK"))
    }

    @Test func payloadWithWrongLayoutOrMissingRootFails() throws {
        let wrong = try CLI.run(["inspect", "payload", "\(t)/real/goerli-l1-8651337-pre-shanghai.payload-v1.ssz", "--version", "2"])
        #expect(wrong.status == 1 && !wrong.crashed)
        #expect(wrong.stderr.contains("offset(extraData)"))
        let bare = try CLI.run(["inspect", "payload", "\(t)/real/unichain-sepolia-35535698.payload-v4.ssz", "--version", "4"])
        #expect(bare.status == 1)
        let withRoot = try CLI.run(["inspect", "payload", "\(t)/real/unichain-sepolia-35535698.payload-v4.ssz", "--version", "4",
                                    "--parent-beacon-root", "0xf6d335a6b2b4fd8fb539cd51a49769df4d53c31a90c54dd270e54542638ff101"])
        #expect(withRoot.status == 0, "\(withRoot.stdout)")
    }

    @Test(arguments: 1...4)
    func gossipVectorsAccept(n: Int) throws {
        let r = try CLI.run(["inspect", "gossip", "\(t)/gossip/synthetic-chain10-v\(n).snappy.bin", "--topic", "/optimism/10/\(n - 1)/blocks",
                             "--signer", signer, "--now", "\(1_700_000_000 + 2 * n)"])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("outcome: ACCEPT"))
        #expect(r.stdout.contains("signer (recovered):     \(signer)"))
    }

    @Test func gossipOutcomesAndExitCodes() throws {
        let file = "\(t)/gossip/synthetic-chain10-v4.snappy.bin"
        // Wrong topic version: the V4 bytes do not decode with the V3 layout.
        let wrongTopic = try CLI.run(["inspect", "gossip", file, "--topic", "/optimism/10/2/blocks", "--signer", signer, "--now", "1700000008"])
        #expect(wrongTopic.status == 1)
        #expect(wrongTopic.stdout.contains("outcome: REJECT: payload does not decode"))
        // Stale clock.
        let stale = try CLI.run(["inspect", "gossip", file, "--topic", "/optimism/10/3/blocks", "--signer", signer, "--now", "1800000000"])
        #expect(stale.stdout.contains("outcome: REJECT: timestamp"))
        // Another signer.
        let other = try CLI.run(["inspect", "gossip", file, "--topic", "/optimism/10/3/blocks",
                                 "--signer", "0x0000000000000000000000000000000000000001", "--now", "1700000008"])
        #expect(other.stdout.contains("outcome: REJECT: signed by"))
        // Zero signer: IGNORE.
        let zero = try CLI.run(["inspect", "gossip", file, "--topic", "/optimism/10/3/blocks",
                                "--signer", "0x0000000000000000000000000000000000000000", "--now", "1700000008"])
        #expect(zero.stdout.contains("outcome: IGNORE: no unsafe-block signer configured"))
        #expect(zero.status == 1)
        // No --signer: judged as if the recovered one were configured, and says so.
        let implicit = try CLI.run(["inspect", "gossip", file, "--topic", "/optimism/10/3/blocks", "--now", "1700000008"])
        #expect(implicit.status == 0)
        #expect(implicit.stdout.contains("judging as if the recovered signer \(signer) were configured"))
        // The message id is op-node's.
        #expect(implicit.stdout.contains("0xa3b62712f6c0b48a5db6ec16fca5de84ed540709"))
    }

    @Test func gossipFromHexTextAndRealBlock() throws {
        let cases = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(t)/gossip/unichain-sepolia-35535698.v4.signed-test-key.json"))) as? [String: Any]
        let hex = try #require(cases?["snappy_block_compressed (one valid encoding; encoders may differ)"] as? String)
        let path = CLI.tempFile(Array((hex + "\n").utf8))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let r = try CLI.run(["inspect", "gossip", path, "--topic", "/optimism/1301/3/blocks", "--signer", signer, "--now", "1762388126"])
        #expect(r.status == 0, "\(r.stdout)")
        #expect(r.stdout.contains("number 35535698"))
    }

    @Test func reqrespDecodes() throws {
        let r = try CLI.run(["inspect", "reqresp", "\(t)/reqresp/unichain-sepolia-35535698.response.bin", "--chain-id", "1301"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("/opstack/req/payload_by_number/1301/0"))
        #expect(r.stdout.contains("0xc463a3120c35268f610d969f5608b479332ef10953af77c7a6be806195831196"))
        let wrongNumber = try CLI.run(["inspect", "reqresp", "\(t)/reqresp/unichain-sepolia-35535698.response.bin", "--chain-id", "1301", "--number", "5"])
        #expect(wrongNumber.status == 1 && wrongNumber.stderr.contains("asked for block 5"))
        let notFound = CLI.tempFile([1])
        defer { try? FileManager.default.removeItem(atPath: notFound) }
        let nf = try CLI.run(["inspect", "reqresp", notFound, "--chain-id", "10"])
        #expect(nf.status == 1 && nf.stdout.contains("1 (not found)"))
    }

    @Test func hostileFilesGiveOneLineErrorsNeverCrash() throws {
        var rng = SystemRandomNumberGenerator()
        let valid = try Data(contentsOf: URL(fileURLWithPath: "\(t)/reqresp/unichain-sepolia-35535698.response.bin"))
        for i in 0..<12 {
            var bytes = [UInt8](valid)
            if i % 2 == 0 {
                bytes = (0..<Int.random(in: 0..<3000, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            } else {
                for _ in 0..<4 { bytes[Int.random(in: 0..<bytes.count, using: &rng)] ^= 0x5a }
            }
            let path = CLI.tempFile(bytes)
            defer { try? FileManager.default.removeItem(atPath: path) }
            for args in [["inspect", "payload", path, "--version", "\(1 + i % 4)"], ["inspect", "payload", path],
                         ["inspect", "gossip", path, "--topic", "/optimism/10/3/blocks"],
                         ["inspect", "reqresp", path, "--chain-id", "1301"]] {
                let r = try CLI.run(args)
                #expect(!r.crashed, "\(args) crashed: \(r.stderr)")
                #expect(r.status != 0 || r.stdout.contains("OK") || r.stdout.contains("ACCEPT"), "\(args)")
                if r.status != 0 && !r.stderr.isEmpty {
                    #expect(r.stderr.split(separator: "\n").count <= 2, "\(args): \(r.stderr)")
                }
            }
        }
        let missing = try CLI.run(["inspect", "payload", "/nonexistent/file.json"])
        #expect(missing.status == 1 && missing.stderr.contains("no such file"))
        let badFlag = try CLI.run(["inspect", "gossip", "\(t)/gossip/synthetic-chain10-v1.snappy.bin", "--topic", "/optimism/10/0/blocks", "--signer", "0x12"])
        #expect(badFlag.status != 0 && badFlag.stderr.contains("--signer"))
    }

    @Test func keyNewAndShow() throws {
        let dir = NSTemporaryDirectory() + "p2pnode-key-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let made = try CLI.run(["key", "new", "--out", "\(dir)/node.key"])
        #expect(made.status == 0)
        let attrs = try FileManager.default.attributesOfItem(atPath: "\(dir)/node.key")
        #expect((attrs[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        let shown = try CLI.run(["key", "show", "--p2p.priv.path", "\(dir)/node.key"])
        #expect(shown.stdout == made.stdout)
        #expect(shown.stdout.contains("peer id:                16Uiu2HA"))
        #expect(try CLI.run(["key", "new", "--out", "\(dir)/node.key"]).status != 0)
        // The libp2p spec vector.
        try "0x53dadf1d5a164d6b4acdb15e24aa4c5b1d3461bdbd42abedb0a4404d56ced8fb\n".write(toFile: "\(dir)/spec.key", atomically: true, encoding: .utf8)
        let spec = try CLI.run(["key", "show", "--p2p.priv.path", "\(dir)/spec.key"])
        #expect(spec.stdout.contains("16Uiu2HAmLhLvBoYaoZfaMUKuibM6ac163GwKY74c5kiSLg5KvLpY"))
    }
}
