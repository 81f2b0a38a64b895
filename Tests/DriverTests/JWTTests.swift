import Foundation
import Testing
@testable import Driver

private let testdata = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/testdata")

@Suite struct JWTTests {
    @Test func matchesTestdataToken() throws {
        let data = try Data(contentsOf: testdata.appendingPathComponent("engine/jwt-hs256-example.json"))
        let obj = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let secret = try JWTSecret(fileContents: try #require(obj["secret_hex"] as? String))
        let token = secret.token(issuedAt: 1_700_000_000)
        #expect(token == obj["token"] as? String)
        #expect("Authorization: Bearer \(token)" == obj["http_header"] as? String)
        // A different iat gives a different signature.
        #expect(secret.token(issuedAt: 1_700_000_001) != token)
    }

    @Test func secretFileParsingAndCreation() throws {
        #expect(throws: (any Error).self) { try JWTSecret(fileContents: "0x1234") }
        #expect(throws: (any Error).self) { try JWTSecret(fileContents: String(repeating: "zz", count: 32)) }
        let s = try JWTSecret(fileContents: "  0x" + String(repeating: "ab", count: 32) + "\n")
        #expect(s.bytes == [UInt8](repeating: 0xab, count: 32))

        let path = NSTemporaryDirectory() + "/p2pnode-jwt-\(UInt32.random(in: 0...UInt32.max)).hex"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let created = try JWTSecret.loadOrCreate(path: path)
        let attrs = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attrs[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        #expect(try JWTSecret.loadOrCreate(path: path) == created)
        try "not hex".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: JWTSecret.Error.self) { try JWTSecret.loadOrCreate(path: path) }
    }
}
