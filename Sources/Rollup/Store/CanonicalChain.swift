/// Incremental maintenance of the block store's canonical chain (the `canonical` table, number →
/// hash), run inside the insert's transaction. The rule: the head is the highest-numbered block
/// (at equal height the first stored stays), and the chain below follows parent hashes. Work per
/// insert is bounded by `BlockStore.maxCanonicalWalk` index lookups; see `BlockStore` for how gaps
/// are treated.

enum CanonicalChain {
    /// Updates the chain after `hash` was inserted at `number`; `head` is the head number before.
    static func didInsert(_ db: SQLiteConnection, number: Int64, hash: [UInt8], parentHash: [UInt8],
                          head: Int64?) throws(BlockStoreError) {
        if let head, number <= head {
            // Not a new head: canonical only if it is the parent of the canonical block above it.
            guard number < Int64.max, let above = try canonicalHash(db, number + 1),
                  let (_, aboveParent) = try numberAndParent(db, hash: above), aboveParent == hash else { return }
        }
        try setCanonical(db, number: number, hash: hash)
        try walkDown(db, from: number - 1, expected: parentHash)
    }

    /// Makes the chain below a newly canonical block follow its parent hashes, from `number`
    /// down, until it meets the existing chain, reaches a block that is not stored (a gap: the
    /// conflicting entry there is removed, the ones below stay), or has taken `maxCanonicalWalk` steps.
    private static func walkDown(_ db: SQLiteConnection, from start: Int64, expected parent: [UInt8]) throws(BlockStoreError) {
        var number = start
        var expected = parent
        var steps = 0
        while number >= 0 && steps < BlockStore.maxCanonicalWalk {
            let current = try canonicalHash(db, number)
            if current == expected { return }
            guard let (storedNumber, grandparent) = try numberAndParent(db, hash: expected), storedNumber == number else {
                if current != nil { try db.run("DELETE FROM canonical WHERE number = ?", [.int(number)]) }
                return
            }
            try setCanonical(db, number: number, hash: expected)
            expected = grandparent
            number -= 1
            steps += 1
        }
    }

    private static func setCanonical(_ db: SQLiteConnection, number: Int64, hash: [UInt8]) throws(BlockStoreError) {
        try db.run("INSERT OR REPLACE INTO canonical (number, hash) VALUES (?, ?)", [.int(number), .blob(hash)])
    }

    private static func canonicalHash(_ db: SQLiteConnection, _ number: Int64) throws(BlockStoreError) -> [UInt8]? {
        try db.one("SELECT hash FROM canonical WHERE number = ?", [.int(number)]) { $0.blob(0) }
    }

    private static func numberAndParent(_ db: SQLiteConnection, hash: [UInt8]) throws(BlockStoreError) -> (Int64, [UInt8])? {
        try db.one("SELECT number, parent_hash FROM blocks WHERE hash = ?", [.blob(hash)]) { ($0.int64(0), $0.blob(1)) }
    }
}
