import Foundation
import P2PCore
import Rollup
import Testing

/// DESIGN.md Principle 6 (nothing accepted is lost): a writer process acknowledges each block
/// after `put` returns and is killed with SIGKILL mid-run; every acknowledged block must be on
/// disk, readable and canonical, and the store must pass its integrity check.
@Suite struct StoreDurabilityTests {
    /// Acknowledgements parsed from `ack <number> <hash>` lines.
    private struct Ack {
        let number: UInt64
        let hash: [UInt8]
    }

    /// Runs `p2pnode store stress-write`, reads its acks as they arrive, SIGKILLs it after
    /// `killAfter` of them, and returns every ack it printed before dying.
    private func writeAndKill(dir: String, killAfter: Int) throws -> (acks: [Ack], killed: Bool) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CLI.binary)
        p.arguments = ["store", "stress-write", "--datadir", dir, "--count", "1000000", "--tx-bytes", "2000"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let reader = out.fileHandleForReading
        var pending = [UInt8]()
        var acks = [Ack]()
        func parse() throws {
            while let nl = pending.firstIndex(of: 0x0a) {
                let line = String(decoding: pending[..<nl], as: UTF8.self)
                pending.removeSubrange(...nl)
                let parts = line.split(separator: " ")
                guard parts.count == 3, parts[0] == "ack", let n = UInt64(parts[1]) else {
                    Issue.record("unexpected line \(line)")
                    continue
                }
                acks.append(Ack(number: n, hash: try [UInt8](hex: String(parts[2]), count: 32)))
            }
        }
        let deadline = Date().addingTimeInterval(60)
        while acks.count < killAfter && Date() < deadline {
            let chunk = reader.availableData
            if chunk.isEmpty { break }  // EOF: the writer ended on its own
            pending += chunk
            try parse()
        }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        pending += reader.readDataToEndOfFile()
        try parse()
        return (acks, p.terminationReason == .uncaughtSignal && p.terminationStatus == SIGKILL)
    }

    @Test func everyAcknowledgedBlockSurvivesSIGKILL() throws {
        let dir = NSTemporaryDirectory() + "p2pnode-store-durability-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var all = [Ack]()
        // Three kill/restart rounds: each resumes on top of what the last one left on disk.
        for round in 0..<3 {
            let (acks, killed) = try writeAndKill(dir: dir, killAfter: 50)
            #expect(killed, "round \(round): the writer was not killed by SIGKILL")
            #expect(acks.count >= 50, "round \(round): only \(acks.count) acks")
            if let first = acks.first, let last = all.last { #expect(first.number > last.number) }
            all += acks

            let store = try BlockStore(directory: dir)  // runs quick_check on open
            try store.integrityCheck()
            for ack in all {
                let stored = try #require(try store.get(hash: ack.hash), "acknowledged block \(ack.number) is missing")
                #expect(stored.number == ack.number)
                #expect(stored.isCanonical)
                let env = try #require(try stored.envelope())
                #expect(env.checkBlockHash(version: .v4))
                #expect(try store.canonical(number: ack.number)?.hash == ack.hash)
            }
            #expect(try store.count() >= all.count)
            store.close()
        }
    }
}
