/// A thin wrapper over one SQLite connection (libsqlite3 via `CSQLite`) for the block store:
/// open with pragmas, run statements with bound values, read rows, map result codes to
/// `BlockStoreError` (SQLITE_CORRUPT / SQLITE_NOTADB become `.corrupt`, naming the file).
/// Not thread-safe by itself: the connection is opened with SQLITE_OPEN_NOMUTEX and its owner
/// (`BlockStore`) serialises every call with a lock.
import CSQLite

/// A value bound to a statement parameter.
enum SQLValue {
    case int(Int64)
    case blob([UInt8])
    case text(String)
}

/// The current row of a stepping statement. Valid only inside the row callback.
struct SQLRow {
    fileprivate let stmt: OpaquePointer

    func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(stmt, column) }

    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(stmt, column) == SQLITE_NULL }

    func blob(_ column: Int32) -> [UInt8] {
        let count = Int(sqlite3_column_bytes(stmt, column))
        guard count > 0, let base = sqlite3_column_blob(stmt, column) else { return [] }
        return [UInt8](UnsafeRawBufferPointer(start: base, count: count))
    }

    func text(_ column: Int32) -> String {
        guard let base = sqlite3_column_text(stmt, column) else { return "" }
        let count = Int(sqlite3_column_bytes(stmt, column))
        return String(decoding: UnsafeBufferPointer(start: base, count: count), as: UTF8.self)
    }
}

/// `SQLITE_TRANSIENT`: SQLite copies bound blobs and text before `bind` returns.
private let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

final class SQLiteConnection {
    let path: String
    private var db: OpaquePointer?
    /// Prepared statements by SQL text. Bounded: only the fixed SQL strings in the store's code.
    private var statements: [String: OpaquePointer] = [:]

    /// Opens (creating if `create`) the database file with SQLITE_OPEN_NOMUTEX.
    init(path: String, create: Bool, busyTimeoutMillis: Int32) throws(BlockStoreError) {
        self.path = path
        var handle: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &handle, flags, nil)
        guard rc == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
            sqlite3_close_v2(handle)
            throw Self.error(rc, path: path, operation: "open", message: message)
        }
        db = handle
        sqlite3_extended_result_codes(handle, 1)
        sqlite3_busy_timeout(handle, busyTimeoutMillis)
    }

    deinit { close() }

    var isOpen: Bool { db != nil }

    /// Finalizes the statements and closes the connection (idempotent). The last connection to a
    /// WAL database checkpoints it and removes the -wal file.
    func close() {
        for stmt in statements.values { sqlite3_finalize(stmt) }
        statements.removeAll()
        if let db { sqlite3_close_v2(db) }
        db = nil
    }

    /// Runs one or more statements without parameters or results (DDL, pragmas, BEGIN/COMMIT).
    func exec(_ sql: String) throws(BlockStoreError) {
        guard let db else { throw .closed(path: path) }
        var errmsg: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(db, sql, nil, nil, &errmsg)
        let message = errmsg.map { String(cString: $0) }
        sqlite3_free(errmsg)
        guard rc == SQLITE_OK else { throw Self.error(rc, path: path, operation: sql, message: message ?? lastMessage) }
    }

    /// Runs a statement to completion; returns the number of rows it changed.
    @discardableResult
    func run(_ sql: String, _ args: [SQLValue] = []) throws(BlockStoreError) -> Int {
        try query(sql, args, limit: 0) { _ throws(BlockStoreError) in }
        guard let db else { throw .closed(path: path) }
        return Int(sqlite3_changes(db))
    }

    /// Steps a statement, calling `body` for at most `limit` rows (0: none are expected).
    func query(_ sql: String, _ args: [SQLValue], limit: Int,
               _ body: (SQLRow) throws(BlockStoreError) -> Void) throws(BlockStoreError) {
        let stmt = try prepared(sql)
        defer {
            sqlite3_reset(stmt)
            sqlite3_clear_bindings(stmt)
        }
        for (i, value) in args.enumerated() {
            let index = Int32(i + 1)
            let rc: Int32
            switch value {
            case .int(let v): rc = sqlite3_bind_int64(stmt, index, v)
            case .text(let s): rc = sqlite3_bind_text(stmt, index, s, -1, transient)
            case .blob(let b):
                rc = b.isEmpty ? sqlite3_bind_zeroblob(stmt, index, 0)
                    : b.withUnsafeBytes { sqlite3_bind_blob(stmt, index, $0.baseAddress, Int32(b.count), transient) }
            }
            guard rc == SQLITE_OK else { throw Self.error(rc, path: path, operation: "bind", message: lastMessage) }
        }
        var rows = 0
        while true {
            let rc = sqlite3_step(stmt)
            if rc == SQLITE_DONE { return }
            guard rc == SQLITE_ROW else { throw Self.error(rc, path: path, operation: sql, message: lastMessage) }
            guard rows < limit else { return }
            rows += 1
            try body(SQLRow(stmt: stmt))
        }
    }

    /// The first row mapped by `map`, or nil when there is none.
    func one<T>(_ sql: String, _ args: [SQLValue] = [],
                _ map: (SQLRow) throws(BlockStoreError) -> T) throws(BlockStoreError) -> T? {
        var result: T?
        try query(sql, args, limit: 1) { row throws(BlockStoreError) in result = try map(row) }
        return result
    }

    private func prepared(_ sql: String) throws(BlockStoreError) -> OpaquePointer {
        guard let db else { throw .closed(path: path) }
        if let stmt = statements[sql] { return stmt }
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v3(db, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &stmt, nil)
        guard rc == SQLITE_OK, let stmt else {
            sqlite3_finalize(stmt)
            throw Self.error(rc, path: path, operation: sql, message: lastMessage)
        }
        statements[sql] = stmt
        return stmt
    }

    private var lastMessage: String {
        guard let db else { return "connection closed" }
        return String(cString: sqlite3_errmsg(db))
    }

    /// Maps a result code: corruption gets its own case, the rest keep SQLite's code and message.
    static func error(_ rc: Int32, path: String, operation: String, message: String) -> BlockStoreError {
        switch rc & 0xff {
        case SQLITE_CORRUPT, SQLITE_NOTADB: return .corrupt(path: path, detail: message)
        default: return .sqlite(path: path, operation: operation, code: rc, message: message)
        }
    }
}
