/// Text forms of IP addresses inside multiaddrs, matching go-multiaddr (which uses Go's `net`):
/// IPv4 is dotted decimal without leading zeros; IPv6 is parsed like Go's `netip.ParseAddr`
/// (no zones) and printed in RFC 5952 compressed form, with IPv4-mapped addresses printed as
/// `::ffff:a.b.c.d` (go-multiaddr `ip6BtS`). Pure Swift: no C strings, no allocation beyond the result.
enum IPAddressText {
    /// Parses dotted-decimal IPv4 (Go `parseIPv4`: 4 fields, 0–255, no leading zeros).
    static func parseIPv4<S: Collection>(_ s: S) -> [UInt8]? where S.Element == UInt8 {
        var out = [UInt8](repeating: 0, count: 4)
        var field = 0
        var value = 0
        var digits = 0
        for c in s {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                if digits == 1 && value == 0 { return nil }  // leading zero
                value = value * 10 + Int(c - UInt8(ascii: "0"))
                digits += 1
                if value > 255 { return nil }
            case UInt8(ascii: "."):
                if digits == 0 || field == 3 { return nil }
                out[field] = UInt8(value)
                field += 1
                value = 0
                digits = 0
            default:
                return nil
            }
        }
        guard field == 3, digits > 0 else { return nil }
        out[3] = UInt8(value)
        return out
    }

    /// Parses IPv6 text (Go `netip.parseIPv6`), including `::` and a trailing embedded IPv4.
    /// A plain IPv4 address is accepted too and mapped to `::ffff:a.b.c.d`, as Go's `ParseIP` does.
    static func parseIPv6(_ text: Substring.UTF8View) -> [UInt8]? {
        if !text.contains(UInt8(ascii: ":")) {
            guard let v4 = parseIPv4(text) else { return nil }
            return [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff] + v4
        }
        let s = Array(text)
        var ip = [UInt8](repeating: 0, count: 16)
        var ellipsis = -1
        var p = 0
        if s.count >= 2 && s[0] == UInt8(ascii: ":") && s[1] == UInt8(ascii: ":") {
            ellipsis = 0
            p = 2
            if p == s.count { return ip }
        }
        var i = 0
        while i < 16 {
            var off = 0
            var acc: UInt32 = 0
            while p + off < s.count, let h = hexValue(s[p + off]) {
                acc = (acc << 4) + UInt32(h)
                if off > 3 || acc > 0xffff { return nil }
                off += 1
            }
            if off == 0 { return nil }
            if p + off < s.count && s[p + off] == UInt8(ascii: ".") {
                // Embedded IPv4: must fill the last 4 bytes (or precede an expanded `::`).
                if ellipsis < 0 && i != 12 { return nil }
                if i + 4 > 16 { return nil }
                guard let v4 = parseIPv4(s[p...]) else { return nil }
                ip.replaceSubrange(i..<i + 4, with: v4)
                p = s.count
                i += 4
                break
            }
            ip[i] = UInt8(acc >> 8)
            ip[i + 1] = UInt8(acc & 0xff)
            i += 2
            p += off
            if p == s.count { break }
            if s[p] != UInt8(ascii: ":") || p + 1 == s.count { return nil }
            p += 1
            if s[p] == UInt8(ascii: ":") {
                if ellipsis >= 0 { return nil }
                ellipsis = i
                p += 1
                if p == s.count { break }
            }
        }
        if p != s.count { return nil }
        if i < 16 {
            if ellipsis < 0 { return nil }
            let n = 16 - i
            var j = i - 1
            while j >= ellipsis {
                ip[j + n] = ip[j]
                j -= 1
            }
            for k in ellipsis..<ellipsis + n { ip[k] = 0 }
        } else if ellipsis >= 0 {
            return nil  // `::` must stand for at least one zero group
        }
        return ip
    }

    /// Dotted decimal. Expects 4 bytes; other lengths are printed field by field without trapping.
    static func formatIPv4<C: Collection>(_ b: C) -> String where C.Element == UInt8 {
        b.map { String($0) }.joined(separator: ".")
    }

    /// RFC 5952 text, as Go prints it; IPv4-mapped addresses as `::ffff:a.b.c.d`.
    /// Expects 16 bytes; other lengths are printed as hex.
    static func formatIPv6(_ b: [UInt8]) -> String {
        guard b.count == 16 else { return "0x" + b.hexString }
        if b[0..<10].allSatisfy({ $0 == 0 }) && b[10] == 0xff && b[11] == 0xff {
            return "::ffff:" + formatIPv4(b[12..<16])
        }
        var groups = [UInt16](repeating: 0, count: 8)
        for g in 0..<8 { groups[g] = UInt16(b[2 * g]) << 8 | UInt16(b[2 * g + 1]) }
        // Longest run of at least two zero groups; the first one wins a tie.
        var zeroStart = -1
        var zeroEnd = -1
        var g = 0
        while g < 8 {
            var j = g
            while j < 8 && groups[j] == 0 { j += 1 }
            if j - g >= 2 && j - g > zeroEnd - zeroStart {
                zeroStart = g
                zeroEnd = j
            }
            g = max(j, g + 1)
        }
        var out = ""
        g = 0
        while g < 8 {
            if g == zeroStart {
                out += "::"
                g = zeroEnd
                if g >= 8 { break }
            } else if g > 0 {
                out += ":"
            }
            out += String(groups[g], radix: 16)
            g += 1
        }
        return out
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
