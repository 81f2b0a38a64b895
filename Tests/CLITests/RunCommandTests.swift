import Foundation
import Testing

/// `p2pnode run` as an operator starts it.
@Suite(.serialized) struct RunCommandTests {
    func tempDir() throws -> String {
        let d = NSTemporaryDirectory() + "p2pnode-run-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    /// The multiaddr from a `listening on …` log line.
    func address(_ line: String) -> String? {
        guard let r = line.range(of: "listening on ") else { return nil }
        return String(line[r.upperBound...].prefix { $0 != "\"" && $0 != " " })
    }

    @Test func twoNodesConnectThroughStaticPeers() async throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let a = try RunningNode(["run", "--p2p.listen.ip", "127.0.0.1", "--p2p.listen.tcp", "0", "--p2p.priv.path", "a.key"], cwd: dir)
        let listenLine = try #require(await a.waitFor("listening on"), "node output: \(a.output), running: \(a.process.isRunning)")
        let addr = try #require(address(listenLine))
        #expect(addr.hasPrefix("/ip4/127.0.0.1/tcp/") && addr.contains("/p2p/16Uiu2HA"))
        // The key file was created as op-node does: 64 hex characters, mode 0600.
        let attrs = try FileManager.default.attributesOfItem(atPath: dir + "/a.key")
        #expect((attrs[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        #expect(try String(contentsOfFile: dir + "/a.key", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines).count == 64)

        let b = try RunningNode(["run", "--p2p.listen.ip", "127.0.0.1", "--p2p.listen.tcp", "0", "--p2p.priv.path", "b.key",
                                 "--p2p.static", addr], cwd: dir)
        #expect(await b.waitFor("peer connected") != nil)
        #expect(await a.waitFor("peer connected") != nil)
        #expect(a.stop() == 0)
        #expect(b.stop() == 0)
        // Restarting reuses the same key, hence the same peer id.
        let a2 = try RunningNode(["run", "--p2p.listen.ip", "127.0.0.1", "--p2p.listen.tcp", "0", "--p2p.priv.path", "a.key"], cwd: dir)
        let again = try #require(await a2.waitFor("listening on"))
        #expect(address(again)?.split(separator: "/").last == addr.split(separator: "/").last)
        #expect(a2.stop() == 0)
    }

    @Test func badFlagsAreOneLineErrors() throws {
        for args in [["run", "--p2p.listen.tcp", "80"], ["run", "--p2p.listen.ip", "not-an-ip"],
                     ["run", "--p2p.static", "/ip4/1.2.3.4/tcp/9222"], ["run", "--p2p.static", "garbage"],
                     ["run", "--p2p.priv.raw", "zz"], ["run", "--log.level", "loud"], ["run", "--p2p.peers.grace", "soon"]] {
            let r = try CLI.run(args + ["--p2p.priv.path", NSTemporaryDirectory() + "unused-\(UUID().uuidString).key"], timeout: 10)
            #expect(r.status != 0 && !r.crashed, "\(args)")
            #expect(r.stderr.contains("Error:"), "\(args): \(r.stderr)")
        }
    }
}
