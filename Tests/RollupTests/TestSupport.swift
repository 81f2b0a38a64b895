/// Shared helpers for the Rollup tests: the testdata location, file loading, JSON access and a
/// seeded PRNG for the randomized decoder tests.
import Foundation
import P2PCore
import Testing
@testable import Rollup

enum TestData {
    /// Tests/RollupTests/TestSupport.swift → package root → ../shared/testdata.
    static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("../shared/testdata").standardized

    static func url(_ relative: String) -> URL { root.appendingPathComponent(relative) }

    static func bytes(_ relative: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: url(relative)))
    }

    static func json(_ relative: String) throws -> [String: Any] {
        let obj = try JSONSerialization.jsonObject(with: Data(contentsOf: url(relative)))
        return try #require(obj as? [String: Any], "\(relative) is not a JSON object")
    }

    static func files(in dir: String, suffix: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: url(dir).path)
            .filter { $0.hasSuffix(suffix) }.sorted().map { "\(dir)/\($0)" }
    }

    /// The real blocks: (SSZ file, JSON file, version). The Unichain JSON is an envelope.
    static let realBlocks: [(ssz: String, json: String, version: PayloadVersion)] = [
        ("real/goerli-l1-8651337-pre-shanghai.payload-v1.ssz", "real/goerli-l1-8651337-pre-shanghai.payload.json", .v1),
        ("real/goerli-l1-8656414-post-shanghai.payload-v2.ssz", "real/goerli-l1-8656414-post-shanghai.payload.json", .v2),
        ("real/unichain-sepolia-35535698.payload-v4.ssz", "real/unichain-sepolia-35535698.envelope.json", .v4),
    ]

    static let unichainBlockHash = "0xc463a3120c35268f610d969f5608b479332ef10953af77c7a6be806195831196"

    static func unichainEnvelope() throws -> ExecutionPayloadEnvelope {
        try ExecutionPayloadEnvelope(engineJSON: bytes("real/unichain-sepolia-35535698.envelope.json"))
    }
}

/// A field of a gossip vector file, whose keys carry explanations after the name.
func vectorField(_ doc: [String: Any], _ prefix: String) throws -> String {
    let key = try #require(doc.keys.first { $0 == prefix || $0.hasPrefix(prefix + " ") }, "no key \(prefix)")
    return try #require(doc[key] as? String, "\(key) is not a string")
}

func hex(_ s: String) throws -> [UInt8] { try [UInt8](hex: s) }

/// Parses JSON text (our encoder's output) back into Foundation objects for comparison.
func parseJSON(_ text: String) throws -> Any {
    try JSONSerialization.jsonObject(with: Data(text.utf8))
}

/// Deep equality of two JSONSerialization trees.
func jsonEqual(_ a: Any, _ b: Any) -> Bool {
    switch (a, b) {
    case let (x as [String: Any], y as [String: Any]):
        return x.count == y.count && x.allSatisfy { k, v in y[k].map { jsonEqual(v, $0) } ?? false }
    case let (x as [Any], y as [Any]):
        return x.count == y.count && zip(x, y).allSatisfy { jsonEqual($0, $1) }
    case let (x as String, y as String):
        return x == y
    case (is NSNull, is NSNull):
        return true
    case let (x as NSNumber, y as NSNumber):
        return x == y
    default:
        return false
    }
}

/// Randomized-test helpers on the project's seeded generator (P2PCore's `SplitMix64`), so every
/// randomized test replays from its seed.
extension SplitMix64 {

    /// One random edit of `input`: flip a byte, truncate, insert or delete a run, or overwrite a
    /// little-endian u32 (to hit SSZ offsets).
    mutating func mutate(_ input: [UInt8]) -> [UInt8] {
        var b = input
        guard !b.isEmpty else { return bytes(Int.random(in: 0...8, using: &self)) }
        switch Int.random(in: 0..<6, using: &self) {
        case 0:
            let i = Int.random(in: 0..<b.count, using: &self)
            b[i] ^= UInt8.random(in: 1...255, using: &self)
        case 1:
            b = Array(b.prefix(Int.random(in: 0..<b.count, using: &self)))
        case 2:
            let i = Int.random(in: 0...b.count, using: &self)
            b.insert(contentsOf: bytes(Int.random(in: 1...16, using: &self)), at: i)
        case 3:
            let i = Int.random(in: 0..<b.count, using: &self)
            b.removeSubrange(i..<min(b.count, i + Int.random(in: 1...16, using: &self)))
        case 4 where b.count >= 4:
            let i = Int.random(in: 0...(b.count - 4), using: &self)
            let v = UInt32.random(in: 0...UInt32(b.count + 64), using: &self)
            for k in 0..<4 { b[i + k] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(k))) }
        default:
            let i = Int.random(in: 0..<b.count, using: &self)
            b[i] = [0x00, 0xff, 0x80, 0x7f, 0x20, 0x04][Int.random(in: 0..<6, using: &self)]
        }
        return b
    }
}
