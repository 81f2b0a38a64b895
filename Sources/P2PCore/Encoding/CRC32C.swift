/// CRC-32C (Castagnoli, reflected polynomial 0x82f63b78), table-driven with slicing-by-8, and the
/// masked form the snappy framing format stores (Google `framing_format.txt` §3; spec §5.1).
public enum CRC32C {
    /// Eight 256-entry tables; table k gives the CRC of a byte followed by k zero bytes.
    /// Built once, lazily and thread-safely, as a global constant.
    private static let tables: [UInt32] = {
        var t = [UInt32](repeating: 0, count: 8 * 256)
        for i in 0..<256 {
            var c = UInt32(i)
            for _ in 0..<8 { c = (c & 1) != 0 ? (c >> 1) ^ 0x82f6_3b78 : c >> 1 }
            t[i] = c
        }
        for k in 1..<8 {
            for i in 0..<256 {
                let prev = t[(k - 1) * 256 + i]
                t[k * 256 + i] = (prev >> 8) ^ t[Int(prev & 0xff)]
            }
        }
        return t
    }()

    /// CRC-32C of `data`.
    public static func checksum<C: Collection>(_ data: C) -> UInt32 where C.Element == UInt8 {
        withContiguousBytes(data) { checksum($0) }
    }

    /// CRC-32C of the bytes in `data`.
    public static func checksum(_ data: UnsafeRawBufferPointer) -> UInt32 {
        update(0, data)
    }

    /// Continues a CRC-32C over more bytes (`crc` is a previous result, 0 to start).
    public static func update(_ crc: UInt32, _ data: UnsafeRawBufferPointer) -> UInt32 {
        var c = ~crc
        tables.withUnsafeBufferPointer { t in
            var i = 0
            let n = data.count
            while n - i >= 8 {
                let lo = data.loadUnaligned(fromByteOffset: i, as: UInt32.self).littleEndian ^ c
                let hi = data.loadUnaligned(fromByteOffset: i + 4, as: UInt32.self).littleEndian
                c = t[7 * 256 + Int(lo & 0xff)] ^ t[6 * 256 + Int((lo >> 8) & 0xff)]
                    ^ t[5 * 256 + Int((lo >> 16) & 0xff)] ^ t[4 * 256 + Int(lo >> 24)]
                    ^ t[3 * 256 + Int(hi & 0xff)] ^ t[2 * 256 + Int((hi >> 8) & 0xff)]
                    ^ t[1 * 256 + Int((hi >> 16) & 0xff)] ^ t[Int(hi >> 24)]
                i += 8
            }
            while i < n {
                c = (c >> 8) ^ t[Int((c ^ UInt32(data[i])) & 0xff)]
                i += 1
            }
        }
        return ~c
    }

    /// The snappy framing format's masked CRC: `((c >> 15) | (c << 17)) + 0xa282ead8` (mod 2^32).
    public static func mask(_ crc: UInt32) -> UInt32 {
        ((crc >> 15) | (crc << 17)) &+ 0xa282_ead8
    }

    /// Masked CRC-32C of `data`, as stored in snappy framed chunks.
    public static func maskedChecksum(_ data: UnsafeRawBufferPointer) -> UInt32 {
        mask(checksum(data))
    }
}
