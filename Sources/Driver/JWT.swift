import Foundation
import P2PCore

/// Engine API authentication (spec §7.2): HS256 JWTs with an `iat` claim, minted fresh for
/// every HTTP request, signed with the 32-byte secret from `--l2.jwt-secret`.
public struct JWTSecret: Sendable, Equatable {
    public let bytes: [UInt8]

    public enum Error: Swift.Error, Equatable, CustomStringConvertible {
        case unreadable(path: String, reason: String)
        case malformed(path: String, reason: String)

        public var description: String {
            switch self {
            case .unreadable(let p, let r): return "JWT secret \(p): cannot read: \(r)"
            case .malformed(let p, let r): return "JWT secret \(p): \(r)"
            }
        }
    }

    public init(bytes: [UInt8]) throws(HexError) {
        guard bytes.count == 32 else { throw .wrongLength(expected: 32, got: bytes.count) }
        self.bytes = bytes
    }

    /// Parses the file format: 32 bytes as hex, `0x` optional, surrounding whitespace trimmed.
    public init(fileContents: String) throws(HexError) {
        let trimmed = fileContents.trimmingCharacters(in: .whitespacesAndNewlines)
        try self.init(bytes: try [UInt8](hex: trimmed, count: 32))
    }

    /// op-node's `ObtainJWTSecret`: read the file, or generate a secret and write it as `0x…`
    /// with mode 0600 when the file does not exist.
    public static func loadOrCreate(path: String) throws(Error) -> JWTSecret {
        let fm = FileManager.default
        if !fm.fileExists(atPath: path) {
            let secret: JWTSecret
            do { secret = try JWTSecret(bytes: secureRandomBytes(32)) } catch { throw .malformed(path: path, reason: "\(error)") }
            let text = secret.bytes.prefixedHex + "\n"
            guard fm.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]) else {
                throw .unreadable(path: path, reason: "cannot create the file")
            }
            return secret
        }
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch { throw .unreadable(path: path, reason: "\(error.localizedDescription)") }
        do { return try JWTSecret(fileContents: text) } catch { throw .malformed(path: path, reason: "\(error)") }
    }

    /// A token `{"alg":"HS256","typ":"JWT"}.{"iat":<issuedAt>}` signed with HMAC-SHA256.
    public func token(issuedAt: UInt64) -> String {
        let header = base64url(Array(#"{"alg":"HS256","typ":"JWT"}"#.utf8))
        let claims = base64url(Array("{\"iat\":\(issuedAt)}".utf8))
        let signingInput = header + "." + claims
        let mac = SHA2.hmacSHA256(key: bytes, data: Array(signingInput.utf8))
        return signingInput + "." + base64url(mac)
    }
}

/// Base64url without padding (RFC 7515 §2).
func base64url(_ bytes: [UInt8]) -> String {
    Data(bytes).base64EncodedString()
        .replacingOccurrences(of: "+", with: "-")
        .replacingOccurrences(of: "/", with: "_")
        .replacingOccurrences(of: "=", with: "")
}
