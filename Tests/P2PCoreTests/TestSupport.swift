import Foundation
import P2PCore

/// Locates `../shared/testdata` relative to the package root.
enum TestData {
    static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("shared/testdata")

    static func bytes(_ relative: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: root.appendingPathComponent(relative)))
    }

    static func json(_ relative: String) throws -> [String: Any] {
        let obj = try JSONSerialization.jsonObject(with: Data(try bytes(relative)))
        return obj as? [String: Any] ?? [:]
    }
}

/// The project's seeded generator under the name these tests use.
typealias TestRNG = P2PCore.SplitMix64
