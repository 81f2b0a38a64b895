/// Flag values fall back to op-node's environment variables (`OP_NODE_<SUFFIX>`), then to the default.
enum Env {
    static func string(_ flag: String?, _ suffix: String) -> String? {
        flag ?? Environment.current["OP_NODE_" + suffix]
    }

    static func parse<T>(_ flag: T?, _ suffix: String, name: String, _ convert: (String) -> T?) throws -> T? {
        if let flag { return flag }
        guard let raw = Environment.current["OP_NODE_" + suffix] else { return nil }
        guard let v = convert(raw) else { throw CLIError("OP_NODE_\(suffix)=\(raw): not a valid value for --\(name)") }
        return v
    }

    /// Go-style durations: "30s", "1m", "1h", "500ms", "1h30m".
    static func duration(_ s: String) -> Duration? {
        var total: Double = 0
        var number = ""
        var rest = Substring(s)
        guard !s.isEmpty else { return nil }
        while !rest.isEmpty {
            number = String(rest.prefix { $0.isNumber || $0 == "." })
            rest = rest.dropFirst(number.count)
            let unit = String(rest.prefix { $0.isLetter })
            rest = rest.dropFirst(unit.count)
            guard let v = Double(number) else { return nil }
            switch unit {
            case "ns": total += v / 1e9
            case "us", "µs": total += v / 1e6
            case "ms": total += v / 1e3
            case "s": total += v
            case "m": total += v * 60
            case "h": total += v * 3600
            default: return nil
            }
        }
        return .milliseconds(Int64(total * 1000))
    }
}
