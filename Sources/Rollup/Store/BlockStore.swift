/// The persistent block store: every accepted L2 block, by hash, with a per-height index and the
/// canonical chain, in SQLite (WAL, synchronous=FULL). The payload_by_number server (spec §5.1)
/// answers from `sszBytes(number:)`; the layouts are spec §1.3. DESIGN.md Principles 4–6: queries
/// and per-put work are bounded, every failure is a typed `BlockStoreError`, and a block is on
/// disk before `put` returns.
import Foundation
import P2PCore

/// A directory holding `blocks.sqlite` (plus its -wal/-shm files while open).
///
/// **Concurrency.** Two SQLite connections, each opened with SQLITE_OPEN_NOMUTEX and used only
/// while holding its own lock: `writer` (every write, inside `BEGIN IMMEDIATE` transactions) and
/// `reader` (every query). In WAL mode a reader sees the last committed state and never waits for
/// a writer's fsync. All other stored properties are immutable. That is what makes the
/// `@unchecked Sendable` conformance safe: the class may be shared by any number of threads.
/// Several processes may open the same store (SQLite's file locks and a busy timeout arbitrate);
/// all canonical-chain state lives in the database, not in memory.
///
/// **Canonical chain.** The head is the highest-numbered block; at equal height the first one
/// stored stays head. The chain below it follows parent hashes and is kept in a `canonical` table
/// (number → hash), updated incrementally in the same transaction as each insert: a new head walks
/// down until it joins the existing chain (at most `maxCanonicalWalk` steps per put); a block that
/// is the parent of the canonical block above it extends the chain downwards (how gap fills and
/// backwards req-resp syncs land). Where the parent of a canonical block is not stored (a gap),
/// the walk stops and the blocks below keep their previous canonical status until the gap is filled.
///
/// **Retention.** With `retention = N`, only blocks numbered `head − N + 1 … head` are kept: each
/// insert deletes at most `pruneBatch` older rows (bounded work per put), and `init` prunes fully.
public final class BlockStore: @unchecked Sendable {
    /// The database file name inside the data directory.
    public static let fileName = "blocks.sqlite"
    /// Upper bound on rows returned by any one query.
    public static let maxQueryLimit = 1024
    /// Blocks kept at one height; `put` refuses more (op-node's validator REJECTs after 5).
    public static let maxBlocksPerHeight = 64
    /// Largest SSZ block accepted (the payload_by_number response limit, spec §5.1).
    public static let maxBlockSize = 10 * 1024 * 1024
    /// Most canonical entries one put rewrites when a new head switches branches.
    public static let maxCanonicalWalk = 8192
    /// Most rows one put deletes when the retention window moves.
    static let pruneBatch = 4096
    static let busyTimeoutMillis: Int32 = 5000

    /// The database file.
    public let path: String
    /// Blocks kept below and including the head, or nil to keep everything.
    public let retention: UInt64?

    private let writeLock = NSLock()
    private let writer: SQLiteConnection
    private let readLock = NSLock()
    private let reader: SQLiteConnection

    /// Opens or creates the store in `directory` (created if missing), migrates the schema, and
    /// (when `verifyIntegrity`) runs `PRAGMA quick_check`, failing with `.corrupt` naming the file.
    public init(directory: String, retention: UInt64? = nil, verifyIntegrity: Bool = true) throws(BlockStoreError) {
        if retention == 0 { throw .invalidRetention(0) }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw .cannotCreateDirectory(path: directory, reason: "not a directory") }
        } else {
            do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
                throw .cannotCreateDirectory(path: directory, reason: error.localizedDescription)
            }
        }
        let path = URL(fileURLWithPath: directory).appendingPathComponent(Self.fileName).path
        self.path = path
        self.retention = retention

        writer = try SQLiteConnection(path: path, create: true, busyTimeoutMillis: Self.busyTimeoutMillis)
        let mode = try writer.one("PRAGMA journal_mode = WAL") { $0.text(0) }
        guard mode?.lowercased() == "wal" else {
            throw .sqlite(path: path, operation: "PRAGMA journal_mode = WAL", code: 0, message: "journal mode is \(mode ?? "unknown")")
        }
        // Every commit fsyncs the WAL: an acknowledged put survives a crash or power loss.
        try writer.exec("PRAGMA synchronous = FULL; PRAGMA journal_size_limit = 67108864")
        if verifyIntegrity { try Self.quickCheck(writer) }
        try BlockStoreSchema.migrate(writer)

        reader = try SQLiteConnection(path: path, create: false, busyTimeoutMillis: Self.busyTimeoutMillis)
        try reader.exec("PRAGMA query_only = 1")

        if let retention, let head = try headNumber() {
            _ = try prune(keepingFrom: UInt64(clamping: Self.retentionFloor(head: head, retention: retention)))
        }
    }

    /// Closes both connections (the last close checkpoints the WAL into the main file). Later
    /// calls throw `.closed`. Also done on deinit.
    public func close() {
        readLock.lock()
        reader.close()
        readLock.unlock()
        writeLock.lock()
        writer.close()
        writeLock.unlock()
    }

    // MARK: - Writing

    /// Stores `envelope` in the SSZ layout of `version` (pbr ++ payload for V3/V4). Callers have
    /// validated the block (hash, signature, …); this checks only that it can be encoded and stored.
    /// The block is durable when this returns `.inserted`.
    @discardableResult
    public func put(_ envelope: ExecutionPayloadEnvelope, version: PayloadVersion, receivedAt: UInt64,
                    source: BlockSource) throws(BlockStoreError) -> PutResult {
        let ssz: [UInt8]
        do { ssz = try envelope.sszEncoded(version: version) } catch {
            throw .invalidBlock("cannot encode as \(version) SSZ: \(error)")
        }
        return try insert(ssz: ssz, payload: envelope.payload, version: version, receivedAt: receivedAt, source: source)
    }

    /// Stores SSZ bytes exactly as given (pbr ++ payload for V3/V4, payload for V1/V2), after
    /// checking that they decode in the `version` layout.
    @discardableResult
    public func put(ssz: [UInt8], version: PayloadVersion, receivedAt: UInt64,
                    source: BlockSource) throws(BlockStoreError) -> PutResult {
        guard ssz.count <= Self.maxBlockSize else {
            throw .invalidBlock("\(ssz.count) bytes exceed the \(Self.maxBlockSize)-byte limit")
        }
        let envelope: ExecutionPayloadEnvelope
        do { envelope = try ExecutionPayloadEnvelope(ssz: ssz, version: version) } catch {
            throw .invalidBlock("does not decode as \(version) SSZ: \(error)")
        }
        return try insert(ssz: ssz, payload: envelope.payload, version: version, receivedAt: receivedAt, source: source)
    }

    private func insert(ssz: [UInt8], payload p: ExecutionPayload, version: PayloadVersion, receivedAt: UInt64,
                        source: BlockSource) throws(BlockStoreError) -> PutResult {
        guard ssz.count <= Self.maxBlockSize else {
            throw .invalidBlock("\(ssz.count) bytes exceed the \(Self.maxBlockSize)-byte limit")
        }
        guard let number = Int64(exactly: p.blockNumber) else {
            throw .invalidBlock("block number \(p.blockNumber) is above \(Int64.max)")
        }
        guard p.blockHash.count == 32, p.parentHash.count == 32 else {
            throw .invalidBlock("block and parent hashes must be 32 bytes")
        }
        let retention = self.retention
        return try writing { db throws(BlockStoreError) -> PutResult in
            try Self.transaction(db) { () throws(BlockStoreError) -> PutResult in
                if try db.one("SELECT 1 FROM blocks WHERE hash = ?", [.blob(p.blockHash)], { _ in true }) != nil {
                    return .alreadyPresent
                }
                let head = try Self.headNumber(db)
                let newHead = max(head ?? number, number)
                let floor = retention.map { Self.retentionFloor(head: newHead, retention: $0) } ?? 0
                if number < floor { return .belowRetention }
                let atHeight = try db.one("SELECT count(*) FROM blocks WHERE number = ?", [.int(number)]) { $0.int64(0) } ?? 0
                guard atHeight < Self.maxBlocksPerHeight else {
                    throw .tooManyBlocksAtHeight(number: p.blockNumber, limit: Self.maxBlocksPerHeight)
                }
                try db.run("""
                    INSERT INTO blocks (hash, number, parent_hash, version, envelope, timestamp, received_at, source)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                    [.blob(p.blockHash), .int(number), .blob(p.parentHash), .int(Int64(version.rawValue)), .blob(ssz),
                     .int(Int64(bitPattern: p.timestamp)), .int(Int64(bitPattern: receivedAt)), .text(source.rawValue)])
                try CanonicalChain.didInsert(db, number: number, hash: p.blockHash, parentHash: p.parentHash, head: head)
                if floor > 0 { _ = try Self.deleteBatch(db, below: floor) }
                return .inserted
            }
        }
    }

    /// Deletes every block (and canonical entry) numbered below `number`, in batches of
    /// `pruneBatch` rows per transaction. Returns how many blocks were deleted.
    @discardableResult
    public func prune(keepingFrom number: UInt64) throws(BlockStoreError) -> Int {
        let floor = Int64(clamping: number)
        var total = 0
        while true {
            let deleted = try writing { db throws(BlockStoreError) -> Int in
                try Self.transaction(db) { () throws(BlockStoreError) -> Int in try Self.deleteBatch(db, below: floor) }
            }
            total += deleted
            if deleted < Self.pruneBatch { return total }
        }
    }

    /// Deletes up to `pruneBatch` blocks and canonical entries below `floor` (inside a transaction).
    private static func deleteBatch(_ db: SQLiteConnection, below floor: Int64) throws(BlockStoreError) -> Int {
        let blocks = try db.run(
            "DELETE FROM blocks WHERE rowid IN (SELECT rowid FROM blocks WHERE number < ? ORDER BY number LIMIT ?)",
            [.int(floor), .int(Int64(pruneBatch))])
        let entries = try db.run(
            "DELETE FROM canonical WHERE number IN (SELECT number FROM canonical WHERE number < ? ORDER BY number LIMIT ?)",
            [.int(floor), .int(Int64(pruneBatch))])
        return max(blocks, entries)
    }

    /// The lowest number kept when the head is `head`: the most recent `retention` numbers.
    static func retentionFloor(head: Int64, retention: UInt64) -> Int64 {
        let h = UInt64(clamping: head)
        return h >= retention ? Int64(clamping: h - retention + 1) : 0
    }

    // MARK: - Reading

    /// The block with this hash, canonical or not.
    public func get(hash: [UInt8]) throws(BlockStoreError) -> StoredBlock? {
        guard hash.count == 32 else { return nil }
        return try reading { db throws(BlockStoreError) in
            try db.one("SELECT \(Self.columns) \(Self.fromBlocks) WHERE b.hash = ?", [.blob(hash)], self.storedBlock)
        }
    }

    /// All blocks at one height (several are normal: equivocation, reorgs), first stored first;
    /// at most `limit` (capped at `maxQueryLimit`).
    public func blocks(atNumber number: UInt64, limit: Int = BlockStore.maxBlocksPerHeight) throws(BlockStoreError) -> [StoredBlock] {
        guard let n = Int64(exactly: number) else { return [] }
        return try list("SELECT \(Self.columns) \(Self.fromBlocks) WHERE b.number = ? ORDER BY b.rowid LIMIT ?", n, limit)
    }

    /// Blocks numbered `from` upwards, by number then arrival; at most `limit` (capped at `maxQueryLimit`).
    public func blocks(from number: UInt64, limit: Int) throws(BlockStoreError) -> [StoredBlock] {
        guard let n = Int64(exactly: number) else { return [] }
        return try list("SELECT \(Self.columns) \(Self.fromBlocks) WHERE b.number >= ? ORDER BY b.number, b.rowid LIMIT ?", n, limit)
    }

    /// The highest-numbered blocks at or below `number`, at most `limit` (capped at
    /// `maxQueryLimit`), returned in ascending order like `blocks(from:limit:)`.
    public func blocks(through number: UInt64, limit: Int) throws(BlockStoreError) -> [StoredBlock] {
        let n = Int64(clamping: number)
        return try list("SELECT \(Self.columns) \(Self.fromBlocks) WHERE b.number <= ? ORDER BY b.number DESC, b.rowid DESC LIMIT ?",
                        n, limit).reversed()
    }

    /// The canonical block at `number`, if any.
    public func canonical(number: UInt64) throws(BlockStoreError) -> StoredBlock? {
        guard let n = Int64(exactly: number) else { return nil }
        return try reading { db throws(BlockStoreError) in
            try db.one("SELECT \(Self.columns), 1 \(Self.fromCanonical) WHERE c.number = ?", [.int(n)], self.storedBlock)
        }
    }

    /// The head: the highest canonical block.
    public func head() throws(BlockStoreError) -> StoredBlock? {
        try reading { db throws(BlockStoreError) in
            try db.one("SELECT \(Self.columns), 1 \(Self.fromCanonical) ORDER BY c.number DESC LIMIT 1", [], self.storedBlock)
        }
    }

    /// The canonical block's stored SSZ bytes and layout, for payload_by_number: the response
    /// version is 1 (envelope) for V3/V4 and 0 (payload) for V1/V2.
    public func sszBytes(number: UInt64) throws(BlockStoreError) -> (ssz: [UInt8], version: PayloadVersion)? {
        guard let n = Int64(exactly: number) else { return nil }
        return try reading { db throws(BlockStoreError) in
            try db.one("SELECT b.envelope, b.version, b.hash \(Self.fromCanonical) WHERE c.number = ?", [.int(n)], Self.sszRow)
        }
    }

    /// A block's stored SSZ bytes and layout, by hash.
    public func sszBytes(hash: [UInt8]) throws(BlockStoreError) -> (ssz: [UInt8], version: PayloadVersion)? {
        guard hash.count == 32 else { return nil }
        return try reading { db throws(BlockStoreError) in
            try db.one("SELECT b.envelope, b.version, b.hash FROM blocks b WHERE b.hash = ?", [.blob(hash)], Self.sszRow)
        }
    }

    /// Number of stored blocks.
    public func count() throws(BlockStoreError) -> Int {
        try reading { db throws(BlockStoreError) in try db.one("SELECT count(*) FROM blocks") { Int($0.int64(0)) } ?? 0 }
    }

    /// Lowest and highest stored block numbers, or nil when empty.
    public func range() throws(BlockStoreError) -> ClosedRange<UInt64>? {
        try reading { db throws(BlockStoreError) -> ClosedRange<UInt64>? in
            let bounds = try db.one("SELECT min(number), max(number) FROM blocks") { row -> (UInt64, UInt64)? in
                row.isNull(0) ? nil : (UInt64(clamping: row.int64(0)), UInt64(clamping: row.int64(1)))
            }
            guard let (lo, hi) = bounds ?? nil, lo <= hi else { return nil }
            return lo...hi
        }
    }

    /// Runs `PRAGMA quick_check`; throws `.corrupt` with SQLite's first findings.
    public func integrityCheck() throws(BlockStoreError) {
        try writing { db throws(BlockStoreError) in try Self.quickCheck(db) }
    }

    // MARK: - Helpers

    /// Metadata columns read for a `StoredBlock`, followed by the canonical flag.
    private static let columns =
        "b.number, b.hash, b.parent_hash, b.version, b.timestamp, b.received_at, b.source, length(b.envelope)"
    private static let fromBlocks =
        ", c.hash IS NOT NULL FROM blocks b LEFT JOIN canonical c ON c.number = b.number AND c.hash = b.hash"
    private static let fromCanonical = "FROM canonical c JOIN blocks b ON b.hash = c.hash"

    private func list(_ sql: String, _ number: Int64, _ limit: Int) throws(BlockStoreError) -> [StoredBlock] {
        let cap = min(max(limit, 0), Self.maxQueryLimit)
        return try reading { db throws(BlockStoreError) -> [StoredBlock] in
            var out = [StoredBlock]()
            try db.query(sql, [.int(number), .int(Int64(cap))], limit: cap) { row throws(BlockStoreError) in
                out.append(try self.storedBlock(row))
            }
            return out
        }
    }

    private func storedBlock(_ row: SQLRow) throws(BlockStoreError) -> StoredBlock {
        let hash = row.blob(1)
        guard let version = PayloadVersion(rawValue: Int(row.int64(3))) else {
            throw .invalidStoredBlock(hash: hash.prefixedHex, reason: "version \(row.int64(3))")
        }
        guard let source = BlockSource(rawValue: row.text(6)) else {
            throw .invalidStoredBlock(hash: hash.prefixedHex, reason: "source \(row.text(6))")
        }
        return StoredBlock(number: UInt64(clamping: row.int64(0)), hash: hash, parentHash: row.blob(2), version: version,
                           timestamp: UInt64(bitPattern: row.int64(4)), receivedAt: UInt64(bitPattern: row.int64(5)),
                           source: source, sszSize: Int(row.int64(7)), isCanonical: row.int64(8) != 0, store: self)
    }

    private static func sszRow(_ row: SQLRow) throws(BlockStoreError) -> (ssz: [UInt8], version: PayloadVersion) {
        guard let version = PayloadVersion(rawValue: Int(row.int64(1))) else {
            throw .invalidStoredBlock(hash: row.blob(2).prefixedHex, reason: "version \(row.int64(1))")
        }
        return (row.blob(0), version)
    }

    private func headNumber() throws(BlockStoreError) -> Int64? {
        try writing { db throws(BlockStoreError) in try Self.headNumber(db) }
    }

    static func headNumber(_ db: SQLiteConnection) throws(BlockStoreError) -> Int64? {
        try db.one("SELECT max(number) FROM canonical") { $0.isNull(0) ? nil : $0.int64(0) } ?? nil
    }

    private static func quickCheck(_ db: SQLiteConnection) throws(BlockStoreError) {
        var findings = [String]()
        try db.query("PRAGMA quick_check(8)", [], limit: 8) { row throws(BlockStoreError) in findings.append(row.text(0)) }
        guard findings == ["ok"] else {
            throw .corrupt(path: db.path, detail: findings.isEmpty ? "quick_check returned nothing" : findings.joined(separator: "; "))
        }
    }

    private func writing<T>(_ body: (SQLiteConnection) throws(BlockStoreError) -> T) throws(BlockStoreError) -> T {
        writeLock.lock()
        defer { writeLock.unlock() }
        return try body(writer)
    }

    private func reading<T>(_ body: (SQLiteConnection) throws(BlockStoreError) -> T) throws(BlockStoreError) -> T {
        readLock.lock()
        defer { readLock.unlock() }
        return try body(reader)
    }

    /// Runs `body` in a `BEGIN IMMEDIATE` transaction; rolls back if it throws.
    private static func transaction<T>(_ db: SQLiteConnection, _ body: () throws(BlockStoreError) -> T) throws(BlockStoreError) -> T {
        try db.exec("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try db.exec("COMMIT")
            return result
        } catch {
            try? db.exec("ROLLBACK")
            throw error
        }
    }
}
