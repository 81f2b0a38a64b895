import Foundation
import P2PCore

/// Reads input files for the inspection commands. Binary files are taken as they are; a file that
/// is entirely hex text (optional `0x`, surrounding whitespace) is decoded, so captured messages can
/// be pasted from logs.
enum InputFile {
    static let maxSize = 64 * 1024 * 1024

    static func read(_ path: String) throws -> [UInt8] {
        guard let attrs = try? FileManager.default.attributesOfItem(atPath: path) else {
            throw CLIError("\(path): no such file")
        }
        if let size = attrs[.size] as? NSNumber, size.intValue > maxSize {
            throw CLIError("\(path): file is larger than \(maxSize) bytes")
        }
        guard let data = FileManager.default.contents(atPath: path) else { throw CLIError("\(path): cannot read file") }
        return [UInt8](data)
    }

    /// The file's bytes, hex-decoded if the whole file is hex text.
    static func readBinaryOrHex(_ path: String) throws -> [UInt8] {
        let raw = try read(path)
        if let text = String(bytes: raw, encoding: .utf8) {
            let t = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if !t.isEmpty, let decoded = try? [UInt8](hex: t) { return decoded }
        }
        return raw
    }

    /// True if the first non-whitespace byte is `{` (a JSON document).
    static func looksLikeJSON(_ bytes: [UInt8]) -> Bool {
        bytes.first { !($0 == 0x20 || $0 == 0x09 || $0 == 0x0a || $0 == 0x0d) } == UInt8(ascii: "{")
    }
}

/// Parses a 20-byte address given as hex.
func parseAddress(_ text: String, flag: String) throws -> [UInt8] {
    do { return try [UInt8](hex: text.trimmingCharacters(in: .whitespaces), count: 20) } catch {
        throw CLIError("\(flag): not a 20-byte hex address: \(error)")
    }
}
