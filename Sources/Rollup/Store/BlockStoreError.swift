/// Errors of the persistent block store (`BlockStore`). Each names the database file or the block
/// concerned, so a one-line report is enough to act on (DESIGN.md Principle 5).

public enum BlockStoreError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The data directory does not exist and could not be created, or is not a directory.
    case cannotCreateDirectory(path: String, reason: String)
    /// The database file is not a database or fails `PRAGMA quick_check`.
    case corrupt(path: String, detail: String)
    /// The file was written by a newer p2pnode (its `user_version` is above what this one knows).
    case unsupportedSchemaVersion(path: String, found: Int32, supported: Int32)
    /// Any other SQLite failure: the operation, SQLite's (extended) result code and message.
    case sqlite(path: String, operation: String, code: Int32, message: String)
    /// The store was closed.
    case closed(path: String)
    /// The retention window must keep at least one block.
    case invalidRetention(UInt64)
    /// A block given to `put` is structurally unusable (cannot be encoded, too large, number out of range).
    case invalidBlock(String)
    /// `put` refused a block because its height already holds `limit` blocks.
    case tooManyBlocksAtHeight(number: UInt64, limit: Int)
    /// A stored row no longer decodes (bad version, source or SSZ bytes).
    case invalidStoredBlock(hash: String, reason: String)

    public var description: String {
        switch self {
        case .cannotCreateDirectory(let p, let r): return "block store directory \(p): \(r)"
        case .corrupt(let p, let d): return "block store \(p) is corrupt: \(d)"
        case .unsupportedSchemaVersion(let p, let f, let s):
            return "block store \(p) has schema version \(f); this p2pnode supports up to \(s)"
        case .sqlite(let p, let op, let c, let m): return "block store \(p): \(op): SQLite error \(c): \(m)"
        case .closed(let p): return "block store \(p) is closed"
        case .invalidRetention(let n): return "block store retention must be at least 1 block, got \(n)"
        case .invalidBlock(let r): return "block not storable: \(r)"
        case .tooManyBlocksAtHeight(let n, let l): return "block store already holds \(l) blocks at height \(n)"
        case .invalidStoredBlock(let h, let r): return "stored block \(h) is unreadable: \(r)"
        }
    }
}
