import Testing
@testable import P2PCore

/// Multiaddr text and binary forms (multiformats `multiaddr`, go-multiaddr's text output).
@Suite struct MultiaddrTests {
    static let qm = "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N"
    static let qmBytes = "12209dff3b17d74cf4d38a50d8b6383e92d181a10395a5e73a726dcccbd21bf6f0b9"

    @Test(arguments: [
        ("/ip4/127.0.0.1/tcp/4001", "047f000001060fa1"),
        ("/ip4/0.0.0.0/tcp/9222", "0400000000062406"),
        ("/ip6/::1/tcp/3217", "2900000000000000000000000000000001060c91"),
        ("/ip6/2001:db8::1/tcp/0", "2920010db8000000000000000000000001060000"),
        ("/dns4/example.com/tcp/443", "360b6578616d706c652e636f6d0601bb"),
        ("/dns/localhost", "35096c6f63616c686f7374"),
        ("/dns6/a.b/tcp/65535", "3703612e6206ffff"),
        ("/p2p/\(qm)", "a50322\(qmBytes)"),
        ("/ip4/1.2.3.4/tcp/80/p2p/\(qm)", "040102030406 0050 a50322\(qmBytes)"),
    ])
    func knownVectors(text: String, hex: String) throws {
        let bytes = try [UInt8](hex: hex.replacingOccurrences(of: " ", with: ""))
        let fromText = try Multiaddr(text)
        #expect(fromText.bytes == bytes)
        #expect(fromText.description == text)
        let fromBytes = try Multiaddr(bytes: bytes)
        #expect(fromBytes == fromText)
        #expect(fromBytes.description == text)
    }

    @Test func componentsAndPeerID() throws {
        let m = try Multiaddr("/ip4/127.0.0.1/tcp/4001")
        #expect(m.components == [.ip4([127, 0, 0, 1]), .tcp(4001)])
        #expect(m.peerID == nil)
        let id = try PeerID(string: "16Uiu2HAmLhLvBoYaoZfaMUKuibM6ac163GwKY74c5kiSLg5KvLpY")
        let full = m.appending(.p2p(id))
        #expect(full.description == "/ip4/127.0.0.1/tcp/4001/p2p/16Uiu2HAmLhLvBoYaoZfaMUKuibM6ac163GwKY74c5kiSLg5KvLpY")
        #expect(full.peerID == id)
        #expect(full.withoutPeerID() == m)
        #expect(m.withoutPeerID() == m)
        #expect(try Multiaddr(bytes: full.bytes) == full)
        #expect(full.components.map(\.name) == ["ip4", "tcp", "p2p"])
        #expect(full.components.map(\.code) == [4, 6, 0x1a5])
        // /ipfs is read as /p2p; trailing slashes are ignored.
        let alias = try Multiaddr("/ip4/127.0.0.1/tcp/4001/ipfs/16Uiu2HAmLhLvBoYaoZfaMUKuibM6ac163GwKY74c5kiSLg5KvLpY/")
        #expect(alias == full)
        // A /p2p component in the middle is not "the" peer id.
        #expect(Multiaddr(components: [.p2p(id), .tcp(1)]).peerID == nil)
    }

    @Test(arguments: [
        ("::", "::"),
        ("0:0:0:0:0:0:0:1", "::1"),
        ("1::", "1::"),
        ("2001:0DB8:0000:0000:0001:0000:0000:0001", "2001:db8::1:0:0:1"),  // first longest run wins
        ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),  // a single zero group is not compressed
        ("2001:db8:0:0:1:0:0:0", "2001:db8:0:0:1::"),  // the longer run wins
        ("::ffff:1.2.3.4", "::ffff:1.2.3.4"),  // IPv4-mapped, printed as go-multiaddr does
        ("::ffff:102:304", "::ffff:1.2.3.4"),
        ("1.2.3.4", "::ffff:1.2.3.4"),  // Go's ParseIP maps plain IPv4 for /ip6
        ("::1.2.3.4", "::102:304"),
        ("fe80::1:2:3:4", "fe80::1:2:3:4"),
        ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"),
        ("1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304"),
        ("0001:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"),
    ])
    func ipv6TextLikeGo(input: String, output: String) throws {
        let m = try Multiaddr("/ip6/" + input)
        #expect(m.description == "/ip6/" + output)
        #expect(try Multiaddr(m.description) == m)
    }

    @Test(arguments: [
        "/ip6/1:2:3:4:5:6:7:8:9", "/ip6/1::2::3", "/ip6/1:2:3:4:5:6:7::8", "/ip6/12345::", "/ip6/:1", "/ip6/1:",
        "/ip6/::g", "/ip6/1:2:3:4:5:6:7:1.2.3.4", "/ip6/::1.2.3", "/ip6/fe80::1%eth0", "/ip6/", "/ip6/1:2:3:4:5:6:7:8::",
        "/ip4/01.2.3.4", "/ip4/256.0.0.1", "/ip4/1.2.3", "/ip4/1.2.3.4.5", "/ip4/1..2.3", "/ip4/.1.2.3", "/ip4/1.2.3.",
        "/ip4/::1", "/ip4/1.2.3.4 ",
        "/tcp/65536", "/tcp/-1", "/tcp/+1", "/tcp/", "/tcp/0x10", "/tcp/123456",
        "/dns4/a/b",
    ])
    func invalidValues(text: String) {
        #expect(throws: MultiaddrError.self) { try Multiaddr(text) }
    }

    @Test func typedErrors() throws {
        #expect(throws: MultiaddrError.empty) { try Multiaddr("") }
        #expect(throws: MultiaddrError.empty) { try Multiaddr("/") }
        #expect(throws: MultiaddrError.empty) { try Multiaddr(bytes: []) }
        #expect(throws: MultiaddrError.missingLeadingSlash) { try Multiaddr("ip4/1.2.3.4") }
        #expect(throws: MultiaddrError.unknownProtocol("udp")) { try Multiaddr("/ip4/1.2.3.4/udp/30303") }
        #expect(throws: MultiaddrError.missingValue(protocol: "tcp")) { try Multiaddr("/ip4/1.2.3.4/tcp") }
        // udp (0x0111) in binary.
        #expect(throws: MultiaddrError.unknownProtocolCode(0x111)) { try Multiaddr(bytes: [0x91, 0x02, 0x76, 0x5f]) }
        #expect(throws: MultiaddrError.truncated(protocol: "ip4", needed: 4, available: 3)) { try Multiaddr(bytes: [0x04, 1, 2, 3]) }
        #expect(throws: MultiaddrError.truncated(protocol: "tcp", needed: 2, available: 1)) { try Multiaddr(bytes: [0x06, 1]) }
        #expect(throws: MultiaddrError.truncated(protocol: "dns", needed: 5, available: 2)) { try Multiaddr(bytes: [0x35, 5, 0x61, 0x62]) }
        #expect(throws: MultiaddrError.invalidVarint(.truncated)) { try Multiaddr(bytes: [0x80]) }
        #expect(throws: MultiaddrError.invalidVarint(.nonMinimal)) { try Multiaddr(bytes: [0x84, 0x00, 1, 2, 3, 4]) }
        #expect(throws: MultiaddrError.self) { try Multiaddr(bytes: [0x35, 2, 0xff, 0xfe]) }  // not UTF-8
        #expect(throws: MultiaddrError.self) { try Multiaddr(bytes: [0x35, 0]) }  // empty name
        #expect(throws: MultiaddrError.self) { try Multiaddr(bytes: [0x35, 1, 0x2f]) }  // '/'
        #expect(throws: MultiaddrError.invalidPeerID(.invalidMultihash(.unsupportedCode(0x13)))) {
            try Multiaddr(bytes: [0xa5, 0x03, 0x03, 0x13, 0x01, 0x00])
        }
        #expect(throws: MultiaddrError.self) { try Multiaddr("/p2p/notapeerid") }
    }

    @Test func bounds() throws {
        let name255 = String(repeating: "a", count: 255)
        #expect(try Multiaddr("/dns/" + name255).bytes.count == 1 + 2 + 255)
        #expect(throws: MultiaddrError.self) { try Multiaddr("/dns/" + name255 + "a") }
        #expect(throws: MultiaddrError.self) { try Multiaddr(bytes: [0x35, 0x80, 0x02] + [UInt8](repeating: 0x61, count: 256)) }
        let many = String(repeating: "/tcp/1", count: 33)
        #expect(throws: MultiaddrError.tooManyComponents(limit: 32)) { try Multiaddr(many) }
        #expect(throws: MultiaddrError.tooManyComponents(limit: 32)) { try Multiaddr(bytes: Array(repeating: [0x06, 0, 1], count: 33).flatMap { $0 }) }
        #expect(try Multiaddr(String(repeating: "/tcp/1", count: 32)).components.count == 32)
        #expect(throws: MultiaddrError.tooLong(length: 1025, limit: 1024)) { try Multiaddr("/" + String(repeating: "a", count: 1024)) }
        #expect(throws: MultiaddrError.tooLong(length: 1025, limit: 1024)) { try Multiaddr(bytes: [UInt8](repeating: 6, count: 1025)) }
    }
}
