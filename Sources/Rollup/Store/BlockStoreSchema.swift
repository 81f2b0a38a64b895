/// The block store's SQLite schema and its migrations, versioned with `PRAGMA user_version`.
/// Migration `i` takes a database from version `i` to `i + 1` inside one transaction; a fresh
/// file is version 0. A file newer than `current` is refused rather than guessed at.

enum BlockStoreSchema {
    /// The schema version this code writes.
    static var current: Int32 { Int32(migrations.count) }

    /// `migrations[i]` upgrades version i to i + 1. Append new steps; never edit shipped ones.
    static let migrations: [String] = [
        // 0 → 1: blocks by hash, the per-height index, and the canonical chain (number → hash).
        """
        CREATE TABLE blocks (
            hash        BLOB    NOT NULL PRIMARY KEY CHECK (length(hash) = 32),
            number      INTEGER NOT NULL CHECK (number >= 0),
            parent_hash BLOB    NOT NULL CHECK (length(parent_hash) = 32),
            version     INTEGER NOT NULL CHECK (version BETWEEN 1 AND 4),
            envelope    BLOB    NOT NULL,
            timestamp   INTEGER NOT NULL,
            received_at INTEGER NOT NULL,
            source      TEXT    NOT NULL CHECK (source IN ('gossip', 'reqresp', 'import', 'engine'))
        );
        CREATE INDEX blocks_by_number ON blocks (number);
        CREATE TABLE canonical (
            number INTEGER PRIMARY KEY,
            hash   BLOB NOT NULL CHECK (length(hash) = 32)
        );
        """,
    ]

    /// Brings the database to `current`, each step in its own transaction.
    static func migrate(_ db: SQLiteConnection) throws(BlockStoreError) {
        let found = try db.one("PRAGMA user_version") { Int32(truncatingIfNeeded: $0.int64(0)) } ?? 0
        guard found <= current else {
            throw .unsupportedSchemaVersion(path: db.path, found: found, supported: current)
        }
        guard found >= 0 else { throw .corrupt(path: db.path, detail: "negative schema version \(found)") }
        for version in Int(found)..<migrations.count {
            try db.exec("BEGIN IMMEDIATE")
            do {
                try db.exec(migrations[version])
                try db.exec("PRAGMA user_version = \(version + 1)")
                try db.exec("COMMIT")
            } catch {
                try? db.exec("ROLLBACK")
                throw error
            }
        }
    }
}
