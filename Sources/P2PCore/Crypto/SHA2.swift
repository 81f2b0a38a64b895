import Crypto

/// SHA-256, HMAC-SHA256 and HKDF-SHA256. swift-crypto (BoringSSL, SHA-NI) measured 4x faster
/// than libsodium's portable SHA-256 on this hardware (BENCHMARKS.md), and every gossip message id
/// hashes a whole block, so SHA-256 comes from swift-crypto.
public enum SHA2 {
    public static func sha256<C: Collection>(_ data: C) -> [UInt8] where C.Element == UInt8 {
        withContiguousBytes(data) { Array(Crypto.SHA256.hash(data: $0)) }
    }

    /// SHA-256 of the concatenation of several byte strings.
    public static func sha256(parts: [[UInt8]]) -> [UInt8] {
        var h = Crypto.SHA256()
        for p in parts { p.withUnsafeBytes { h.update(bufferPointer: $0) } }
        return Array(h.finalize())
    }

    /// Incremental SHA-256.
    public struct Hasher {
        private var h = Crypto.SHA256()
        public init() {}
        public mutating func update<C: Collection>(_ data: C) where C.Element == UInt8 {
            withContiguousBytes(data) { h.update(bufferPointer: $0) }
        }
        public mutating func update(raw: UnsafeRawBufferPointer) { h.update(bufferPointer: raw) }
        public func finalize() -> [UInt8] { Array(h.finalize()) }
    }

    public static func hmacSHA256(key: [UInt8], data: [UInt8]) -> [UInt8] {
        hmacSHA256(key: key, parts: [data])
    }

    public static func hmacSHA256(key: [UInt8], parts: [[UInt8]]) -> [UInt8] {
        var mac = Crypto.HMAC<Crypto.SHA256>(key: SymmetricKey(data: key))
        for p in parts { mac.update(data: p) }
        return Array(mac.finalize())
    }

    /// RFC 5869 HKDF-SHA256 (extract then expand).
    public static func hkdf(inputKeyMaterial: [UInt8], salt: [UInt8], info: [UInt8], outputByteCount: Int) -> [UInt8] {
        let key = Crypto.HKDF<Crypto.SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: inputKeyMaterial),
            salt: salt, info: info, outputByteCount: outputByteCount)
        return key.withUnsafeBytes { Array($0) }
    }
}
