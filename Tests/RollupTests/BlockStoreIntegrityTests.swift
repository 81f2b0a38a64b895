/// BlockStore on damaged or foreign files (typed errors naming the file, never a crash), schema
/// versioning, and readers running while a writer inserts.
import Foundation
import P2PCore
import Testing
@testable import Rollup

@Suite struct BlockStoreIntegrityTests {
    /// A closed store of `count` multi-page blocks; returns the directory and the database path.
    private func filledStore(count: UInt64 = 60) throws -> (dir: String, file: String) {
        let dir = StoreFixtures.scratchDirectory()
        let store = try BlockStore(directory: dir)
        for b in StoreFixtures.chain(from: 0, to: count - 1, txBytes: 3000) {
            try store.put(b, version: .v4, receivedAt: 0, source: .gossip)
        }
        store.close()
        let file = store.path
        #expect(!FileManager.default.fileExists(atPath: file + "-wal"), "close checkpoints the WAL into the file")
        return (dir, file)
    }

    private func overwrite(_ file: String, at offset: UInt64, with bytes: [UInt8]) throws {
        let h = try #require(FileHandle(forUpdatingAtPath: file))
        try h.seek(toOffset: offset)
        try h.write(contentsOf: Data(bytes))
        try h.close()
    }

    private func expectCorrupt(_ dir: String, file: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try BlockStore(directory: dir)
            Issue.record("opened a corrupt store", sourceLocation: sourceLocation)
        } catch {
            guard case .corrupt(let path, let detail) = error else {
                Issue.record("expected .corrupt, got \(error)", sourceLocation: sourceLocation)
                return
            }
            #expect(path == file, sourceLocation: sourceLocation)
            #expect(!detail.isEmpty && error.description.contains(file), sourceLocation: sourceLocation)
        }
    }

    @Test func garbageInTheMiddleOfTheFileFailsTheOpenCheck() throws {
        let (dir, file) = try filledStore()
        defer { StoreFixtures.remove(dir) }
        let size = try #require(try FileManager.default.attributesOfItem(atPath: file)[.size] as? NSNumber).uint64Value
        #expect(size > 100_000)
        var rng = SplitMix64(seed: 0xC0_22_AB7)
        try overwrite(file, at: (size / 2) & ~4095, with: rng.bytes(3 * 4096))
        expectCorrupt(dir, file: file)

        // Without the open check, every read is a value or a typed error.
        let store = try BlockStore(directory: dir, verifyIntegrity: false)
        for n in UInt64(0)..<60 {
            do {
                if let b = try store.canonical(number: n) { _ = try b.envelope() }
            } catch {
                switch error {
                case .corrupt, .invalidStoredBlock: break
                default: Issue.record("unexpected \(error)")
                }
            }
        }
        #expect(throws: BlockStoreError.self) { try store.integrityCheck() }
    }

    @Test func damagedHeaderAndForeignFilesAreCorrupt() throws {
        let (dir, file) = try filledStore(count: 3)
        defer { StoreFixtures.remove(dir) }
        try overwrite(file, at: 0, with: [UInt8](repeating: 0x5a, count: 100))
        expectCorrupt(dir, file: file)

        let dir2 = StoreFixtures.scratchDirectory()
        defer { StoreFixtures.remove(dir2) }
        let file2 = dir2 + "/" + BlockStore.fileName
        #expect(FileManager.default.createFile(atPath: file2, contents: Data(String(repeating: "not a database\n", count: 400).utf8)))
        expectCorrupt(dir2, file: file2)
    }

    @Test func directoryProblemsAndNewerSchemasAreReported() throws {
        let notDir = NSTemporaryDirectory() + "p2pnode-blockstore-file-\(UUID().uuidString)"
        #expect(FileManager.default.createFile(atPath: notDir, contents: Data([1])))
        defer { try? FileManager.default.removeItem(atPath: notDir) }
        #expect(throws: BlockStoreError.cannotCreateDirectory(path: notDir, reason: "not a directory")) {
            try BlockStore(directory: notDir)
        }

        let (dir, file) = try filledStore(count: 2)
        defer { StoreFixtures.remove(dir) }
        // user_version lives at byte 60 of the header (big-endian).
        try overwrite(file, at: 60, with: [0, 0, 0, 99])
        #expect(throws: BlockStoreError.unsupportedSchemaVersion(path: file, found: 99, supported: BlockStoreSchema.current)) {
            try BlockStore(directory: dir)
        }
        try overwrite(file, at: 60, with: [0, 0, 0, UInt8(BlockStoreSchema.current)])
        let store = try BlockStore(directory: dir)
        #expect(try store.count() == 2)
        try store.integrityCheck()
    }

    @Test func readersSeeConsistentStateWhileAWriterInserts() throws {
        let dir = StoreFixtures.scratchDirectory()
        defer { StoreFixtures.remove(dir) }
        let store = try BlockStore(directory: dir)
        let chain = StoreFixtures.chain(from: 0, to: 149, txBytes: 500)
        let problems = ProblemLog()
        DispatchQueue.concurrentPerform(iterations: 4) { worker in
            do {
                if worker == 0 {
                    for b in chain { try store.put(b, version: .v4, receivedAt: 0, source: .gossip) }
                    return
                }
                var lastHead: UInt64 = 0
                var reads = 0
                while reads < 5000 {
                    reads += 1
                    guard let head = try store.head() else { continue }
                    if head.number < lastHead { problems.add("head went back from \(lastHead) to \(head.number)") }
                    lastHead = head.number
                    let k = UInt64(worker * 7 + reads) % (head.number + 1)
                    guard let b = try store.canonical(number: k), let env = try b.envelope() else {
                        problems.add("no canonical block \(k) below head \(head.number)")
                        continue
                    }
                    if env.payload.blockHash != chain[Int(k)].payload.blockHash || !env.checkBlockHash(version: .v4) {
                        problems.add("block \(k) read back wrong")
                    }
                    if head.number == 149 { break }
                }
            } catch {
                problems.add("worker \(worker): \(error)")
            }
        }
        #expect(problems.entries.isEmpty, "\(problems.entries.prefix(5))")
        #expect(try store.count() == 150)
        #expect(try store.head()?.number == 149)
    }
}

/// Problems reported by concurrent workers (a lock around an array; bounded to 100 entries).
private final class ProblemLog: @unchecked Sendable {  // safe: `items` is only touched under `lock`
    private let lock = NSLock()
    private var items = [String]()
    func add(_ s: String) { lock.lock(); if items.count < 100 { items.append(s) }; lock.unlock() }
    var entries: [String] { lock.lock(); defer { lock.unlock() }; return items }
}
