/// libp2p peer ids: the multihash of a marshalled public key, inlined with the identity hash when
/// the key is at most 42 bytes (secp256k1: `00 25 08 02 12 21 <33>`, Ed25519: `00 24 08 01 12 20 <32>`)
/// and sha2-256 otherwise. Text form: base58btc; CIDv1 (`b…`, base32, codec libp2p-key 0x72) is
/// also read. Sources: libp2p specs `peer-ids/peer-ids.md`, go-libp2p `core/peer` (`Decode`),
/// rust-libp2p `PeerId::from_multihash` (identity ≤ 42 bytes); spec §6.2.
public struct PeerID: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Marshalled keys up to this length are inlined with the identity multihash.
    public static let maxInlineKeyLength = 42
    /// Longest peer id text accepted (an inlined key is ≤ 61 base58 characters).
    public static let maxStringLength = 128
    /// The multicodec of libp2p keys in CIDs.
    static let libp2pKeyCodec: UInt64 = 0x72

    /// The multihash.
    public let bytes: [UInt8]

    // The bytes in one call: the synthesized form combines them one by one, and peer ids key
    // every per-peer table of the router and the host (0.5 % of the 50-node gossip profile).
    public func hash(into hasher: inout Hasher) {
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }

    public init(publicKey: PublicKey) {
        let key = publicKey.marshal()
        bytes = key.count <= Self.maxInlineKeyLength ? Multihash(identity: key).bytes : Multihash(sha256Of: key).bytes
    }

    /// Validates `bytes` as an identity (≤ 42 bytes) or sha2-256 multihash.
    public init(bytes: [UInt8]) throws(IdentityError) {
        do throws(MultihashError) {
            _ = try Multihash(bytes: bytes, maxDigestLength: Self.maxInlineKeyLength)
        } catch {
            throw .invalidMultihash(error)
        }
        self.bytes = bytes
    }

    /// Parses the text form as go-libp2p's `peer.Decode` does: base58btc when it starts with
    /// `1` or `Qm`, otherwise a CIDv1 whose multibase is base32 (`b`) and codec libp2p-key.
    public init(string: String) throws(IdentityError) {
        let utf8 = string.utf8
        guard !utf8.isEmpty else { throw .invalidPeerIDString("empty") }
        guard utf8.count <= Self.maxStringLength else {
            throw .invalidPeerIDString("\(utf8.count) characters exceeds limit \(Self.maxStringLength)")
        }
        if string.hasPrefix("1") || string.hasPrefix("Qm") {
            let decoded: [UInt8]
            do throws(Base58Error) { decoded = try Base58.decode(string, maxLength: Self.maxStringLength) } catch {
                throw .invalidBase58(error)
            }
            try self.init(bytes: decoded)
        } else if string.hasPrefix("b") {
            try self.init(bytes: try Self.multihash(fromCIDv1Base32: utf8.dropFirst()))
        } else {
            throw .invalidPeerIDString("neither base58btc (1…, Qm…) nor a base32 CID (b…)")
        }
    }

    /// base58btc.
    public var description: String { Base58.encode(bytes) }

    /// The public key inlined in an identity multihash; nil for sha2-256 ids or undecodable keys.
    public var publicKey: PublicKey? {
        guard bytes.count >= 2, bytes[0] == 0x00 else { return nil }
        return try? PublicKey.unmarshal(Array(bytes[2...]))  // bytes[1] is the one-byte length (≤ 42)
    }

    /// Whether `key` is the key this peer id was derived from.
    public func matches(_ key: PublicKey) -> Bool {
        PeerID(publicKey: key) == self
    }

    public static func < (a: PeerID, b: PeerID) -> Bool {
        a.bytes.lexicographicallyPrecedes(b.bytes)
    }

    /// The multihash inside a CIDv1 (`varint 1 ++ varint 0x72 ++ multihash`) written in
    /// RFC 4648 base32, lower case, without padding (multibase `b`, prefix already removed).
    private static func multihash(fromCIDv1Base32 text: Substring.UTF8View) throws(IdentityError) -> [UInt8] {
        var cid = [UInt8]()
        cid.reserveCapacity(text.count * 5 / 8)
        var buffer: UInt32 = 0
        var bits = 0
        for (offset, c) in text.enumerated() {
            let v: UInt32
            switch c {
            case UInt8(ascii: "a")...UInt8(ascii: "z"): v = UInt32(c - UInt8(ascii: "a"))
            case UInt8(ascii: "2")...UInt8(ascii: "7"): v = UInt32(c - UInt8(ascii: "2")) + 26
            default: throw .invalidPeerIDString("invalid base32 character at offset \(offset + 1)")
            }
            buffer = (buffer << 5) | v
            bits += 5
            if bits >= 8 {
                bits -= 8
                cid.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits)))
            }
        }
        // RFC 4648 without padding: at most 4 leftover bits, and they must be zero.
        guard bits < 5, buffer & ((1 << UInt32(bits)) - 1) == 0 else { throw .invalidPeerIDString("non-canonical base32 ending") }
        let version: (value: UInt64, length: Int)
        let codec: (value: UInt64, length: Int)
        do throws(VarintError) {
            version = try Varint.decode(cid)
            codec = try Varint.decode(cid[version.length...])
        } catch {
            throw .invalidPeerIDString("CID: \(error)")
        }
        guard version.value == 1 else { throw .invalidPeerIDString("CID version \(version.value), expected 1") }
        guard codec.value == libp2pKeyCodec else {
            throw .invalidPeerIDString("CID codec 0x\(String(codec.value, radix: 16)), expected libp2p-key (0x72)")
        }
        return Array(cid[(version.length + codec.length)...])
    }
}
