import Foundation
import Logging

/// op-node style logfmt lines on stderr: `t=<RFC 3339> lvl=<level> msg="…" key=value …`.
struct LogfmtHandler: LogHandler {
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info
    let label: String

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var out = "t=\(Self.timestamp()) lvl=\(Self.name(event.level)) msg=\(Self.quote(event.message.description))"
        var all = metadata.merging(event.metadata ?? [:]) { _, new in new }
        if let error = event.error { all["err"] = "\(error)" }
        for key in all.keys.sorted() { out += " \(key)=\(Self.quote("\(all[key]!)"))" }  // safe: key from all.keys
        out += "\n"
        FileHandle.standardError.write(Data(out.utf8))
    }

    static func name(_ l: Logger.Level) -> String {
        switch l {
        case .trace: return "trce"
        case .debug: return "dbug"
        case .info: return "info"
        case .notice: return "info"
        case .warning: return "warn"
        case .error: return "eror"
        case .critical: return "crit"
        }
    }

    static func quote(_ s: String) -> String {
        if !s.isEmpty, !s.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" }) { return s }
        return "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    static func timestamp() -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: Date())
    }

    /// Installs the handler process-wide at `level` (`--log.level`: trace, debug, info, warn, error, crit).
    static func bootstrap(level: String) throws {
        let map: [String: Logger.Level] = ["trace": .trace, "debug": .debug, "info": .info, "warn": .warning,
                                           "warning": .warning, "error": .error, "crit": .critical]
        guard let l = map[level.lowercased()] else { throw CLIError("--log.level \(level): expected trace, debug, info, warn, error or crit") }
        LoggingSystem.bootstrap { label in
            var h = LogfmtHandler(label: label)
            h.logLevel = l
            return h
        }
    }
}
