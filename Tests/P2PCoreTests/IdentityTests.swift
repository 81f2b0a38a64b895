import Testing
import Foundation
@testable import P2PCore

/// Keys, peer ids and the node key file (spec §6.2; libp2p specs `peer-ids/peer-ids.md`).
@Suite struct IdentityTests {
    static func vectors() throws -> [String: Any] { try TestData.json("identity/peer-ids-and-enr.json") }

    @Test(arguments: ["libp2p-spec-vector", "anvil-0-test-key"])
    func secp256k1Vectors(name: String) throws {
        let v = try #require(try Self.vectors()[name] as? [String: Any])
        let sk = try Secp256k1PrivateKey(bytes: try [UInt8](hex: try #require(v["private_key"] as? String)))
        let key = PrivateKey.secp256k1(sk)
        let pub = key.publicKey
        #expect(pub.keyType == .secp256k1)
        #expect(pub.marshal().prefixedHex == v["libp2p_pubkey_protobuf"] as? String)
        let id = PeerID(publicKey: pub)
        #expect(id.bytes.prefixedHex == v["peer_id_bytes (identity multihash)"] as? String)
        let text = try #require(v["peer_id_base58"] as? String)
        #expect(id.description == text)
        #expect(key.peerID == id)
        // And back.
        let parsed = try PeerID(string: text)
        #expect(parsed == id)
        #expect(parsed.publicKey == pub)
        #expect(try PeerID(bytes: id.bytes) == id)
        #expect(try PublicKey.unmarshal(pub.marshal()) == pub)
        #expect(parsed.matches(pub))
    }

    @Test func libp2pSpecPrivateKeyProtobuf() throws {
        // peer-ids.md test vector: secp256k1 PrivateKey protobuf → the spec's public key.
        let pk = try PrivateKey.unmarshal(try [UInt8](hex: "0802122053DADF1D5A164D6B4ACDB15E24AA4C5B1D3461BDBD42ABEDB0A4404D56CED8FB"))
        #expect(pk.keyType == .secp256k1)
        #expect(pk.publicKey.marshal().hexString == "08021221037777e994e452c21604f91de093ce415f5432f701dd8cd1a7a6fea0e630bfca99")
        #expect(pk.marshal().hexString == "0802122053dadf1d5a164d6b4acdb15e24aa4c5b1d3461bdbd42abedb0a4404d56ced8fb")
    }

    @Test func baseBootnodePeerID() throws {
        let enr = try #require(try Self.vectors()["base_mainnet_bootnode_enr"] as? [String: Any])
        let pairs = try #require(enr["pairs"] as? [String: Any])
        let compressed = try [UInt8](hex: try #require(pairs["secp256k1"] as? String))
        let pub = PublicKey.secp256k1(try Secp256k1PublicKey(bytes: compressed))
        let id = PeerID(publicKey: pub)
        #expect(id.description == enr["libp2p_peer_id"] as? String)
        #expect(id.description.hasPrefix("16Uiu2HAm"))
        #expect(try PeerID(string: id.description).publicKey == pub)
    }

    @Test func ed25519SpecVectorAndPeerID() throws {
        let sk = try PrivateKey.unmarshal(try [UInt8](hex:
            "080112407e0830617c4a7de83925dfb2694556b12936c477a0e1feb2e148ec9da60fee7d1ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e"))
        let pubBytes = try [UInt8](hex: "080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e")
        #expect(sk.keyType == .ed25519)
        #expect(sk.publicKey.marshal() == pubBytes)
        #expect(try PublicKey.unmarshal(pubBytes) == sk.publicKey)
        let id = PeerID(publicKey: sk.publicKey)
        // Identity multihash of the 36-byte protobuf.
        #expect(Array(id.bytes.prefix(2)) == [0x00, 0x24])
        #expect(Array(id.bytes.dropFirst(2)) == pubBytes)
        #expect(id.description == "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq")
        #expect(try PeerID(string: id.description) == id)
        #expect(sk.marshal() == (try [UInt8](hex:
            "080112407e0830617c4a7de83925dfb2694556b12936c477a0e1feb2e148ec9da60fee7d1ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e")))
        // The legacy 96-byte form (redundant public key appended) reads the same key.
        let legacyData = Array(sk.marshal().dropFirst(4)) + Array(pubBytes.dropFirst(4))
        let legacy = [0x08, 0x01, 0x12, 0x60] + legacyData
        #expect(try PrivateKey.unmarshal(legacy).publicKey == sk.publicKey)
        var badLegacy = legacy
        badLegacy[badLegacy.count - 1] ^= 1
        #expect(throws: IdentityError.invalidKey(.ed25519, .invalidPrivateKey)) { try PrivateKey.unmarshal(badLegacy) }
    }

    @Test func generatedKeysSignVerifyAndRoundTrip() throws {
        for type in [KeyType.secp256k1, .ed25519] {
            let key = PrivateKey.generate(type)
            #expect(key.keyType == type)
            let msg = Array("noise-libp2p-static-key:".utf8) + secureRandomBytes(32)
            let sig = key.sign(msg)
            #expect(key.publicKey.verify(signature: sig, message: msg))
            #expect(!key.publicKey.verify(signature: sig, message: msg + [0]))
            var badSig = sig
            badSig[badSig.count / 2] ^= 0x10
            #expect(!key.publicKey.verify(signature: badSig, message: msg))
            #expect(!PrivateKey.generate(type).publicKey.verify(signature: sig, message: msg))
            let back = try PrivateKey.unmarshal(key.marshal())
            #expect(back.publicKey == key.publicKey)
            #expect(back.marshal() == key.marshal())
            let id = key.peerID
            #expect(id.description.hasPrefix(type == .ed25519 ? "12D3KooW" : "16Uiu2HA"))
            #expect(id.publicKey == key.publicKey)
        }
    }

    @Test func unmarshalRejectsUnsupportedAndMalformedKeys() throws {
        // ECDSA P-256 public key from the libp2p spec vectors.
        let ecdsa = try [UInt8](hex: "0803125b3059301306072a8648ce3d020106082a8648ce3d03010703420004de3d300fa36ae0e8f5d530899d83abab44abf3161f162a4bc901d8e6ecda020e8b6d5f8da30525e71d6851510c098e5c47c646a597fb4dcec034e9f77c409e62")
        #expect(throws: IdentityError.unsupportedKeyType("ECDSA")) { try PublicKey.unmarshal(ecdsa) }
        let rsa: [UInt8] = [0x08, 0x00, 0x12, 0x03, 1, 2, 3]
        #expect(throws: IdentityError.unsupportedKeyType("RSA")) { try PublicKey.unmarshal(rsa) }
        #expect(throws: IdentityError.unsupportedKeyType("RSA")) { try PrivateKey.unmarshal(rsa) }
        #expect(throws: IdentityError.keyTooLong(length: 2049, limit: 2048)) {
            try PublicKey.unmarshal([UInt8](repeating: 0, count: 2049))
        }
        // Missing Data field; missing Type field; truncated; unknown enum value.
        #expect(throws: IdentityError.self) { try PublicKey.unmarshal([0x08, 0x02]) }
        #expect(throws: IdentityError.self) { try PublicKey.unmarshal([0x12, 0x00]) }
        #expect(throws: IdentityError.self) { try PublicKey.unmarshal([0x08, 0x02, 0x12, 0x21, 0x03]) }
        #expect(throws: IdentityError.self) { try PublicKey.unmarshal([0x08, 0x07, 0x12, 0x00]) }
        #expect(throws: IdentityError.invalidKeyLength(.ed25519, expected: 32, got: 3)) {
            try PublicKey.unmarshal([0x08, 0x01, 0x12, 0x03, 1, 2, 3])
        }
        // A point not on the curve.
        #expect(throws: IdentityError.invalidKey(.secp256k1, .invalidPublicKey)) {
            try PublicKey.unmarshal([0x08, 0x02, 0x12, 0x21, 0x02] + [UInt8](repeating: 0, count: 32))
        }
        #expect(throws: IdentityError.invalidKeyLength(.secp256k1, expected: 32, got: 31)) {
            try PrivateKey.unmarshal([0x08, 0x02, 0x12, 0x1f] + [UInt8](repeating: 1, count: 31))
        }
        #expect(throws: IdentityError.invalidKey(.secp256k1, .invalidPrivateKey)) {
            try PrivateKey.unmarshal([0x08, 0x02, 0x12, 0x20] + [UInt8](repeating: 0, count: 32))
        }
        // An uncompressed secp256k1 point is read and re-marshalled compressed, as go-libp2p does.
        let key = Secp256k1PrivateKey()
        let uncompressed = [0x08, 0x02, 0x12, 0x41] + key.publicKey.uncompressed
        #expect(try PublicKey.unmarshal(uncompressed).marshal() == PublicKey.secp256k1(key.publicKey).marshal())
    }

    @Test func sha256PeerIDsAndCIDs() throws {
        let qm = try PeerID(string: "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N")
        #expect(Array(qm.bytes.prefix(2)) == [0x12, 0x20])
        #expect(qm.publicKey == nil)
        #expect(qm.description == "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N")
        // The same peer as a CIDv1 (libp2p-key, base32), from the libp2p peer-id spec.
        #expect(try PeerID(string: "bafzbeie5745rpv2m6tjyuugywy4d5ewrqgqqhfnf445he3omzpjbx5xqxe") == qm)
        #expect(throws: IdentityError.self) { try PeerID(string: "bafzbeie5745rpv2m6tjyuugywy4d5ewrqgqqhfnf445he3omzpjbx5xqx") }
        // A CIDv1 with the dag-pb codec (0x70) is not a peer id.
        #expect(throws: IdentityError.invalidPeerIDString("CID codec 0x70, expected libp2p-key (0x72)")) {
            try PeerID(string: "bafybeie5745rpv2m6tjyuugywy4d5ewrqgqqhfnf445he3omzpjbx5xqxe")
        }
    }

    @Test func peerIDRejectsBadInput() throws {
        #expect(throws: IdentityError.invalidPeerIDString("empty")) { try PeerID(string: "") }
        #expect(throws: IdentityError.self) { try PeerID(string: "zQm") }
        #expect(throws: IdentityError.invalidBase58(.invalidCharacter("0", offset: 3))) { try PeerID(string: "16U0") }
        #expect(throws: IdentityError.self) { try PeerID(string: String(repeating: "1", count: 129)) }
        // sha2-512 (0x13) and an identity digest over 42 bytes are not peer ids.
        #expect(throws: IdentityError.invalidMultihash(.unsupportedCode(0x13))) {
            try PeerID(bytes: [0x13, 0x40] + [UInt8](repeating: 0, count: 64))
        }
        #expect(throws: IdentityError.invalidMultihash(.digestTooLong(length: 43, limit: 42))) {
            try PeerID(bytes: [0x00, 0x2b] + [UInt8](repeating: 0, count: 43))
        }
        // Identity peer id whose inlined bytes are not a key: valid id, no public key.
        let odd = try PeerID(bytes: [0x00, 0x02, 0xaa, 0xbb])
        #expect(odd.publicKey == nil)
        // Ordering is by bytes.
        #expect(try PeerID(bytes: [0x00, 0x01, 0x01]) < PeerID(bytes: [0x00, 0x01, 0x02]))
    }

    // MARK: Node key file

    static func tempDir() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("p2pcore-keyfile-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir.path
    }

    @Test func nodeKeyFileCreatesThenLoads() throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/opnode_p2p_priv.txt"
        #expect(throws: NodeKeyFileError.notFound(path: path)) { try NodeKeyFile.load(path: path) }
        let created = try NodeKeyFile.loadOrCreate(path: path)
        #expect(created.keyType == .secp256k1)
        let attrs = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attrs[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.count == 64)
        #expect(text == created.marshal().dropFirst(4).hexString)
        let loaded = try NodeKeyFile.loadOrCreate(path: path)
        #expect(loaded.publicKey == created.publicKey)
        #expect(throws: NodeKeyFileError.alreadyExists(path: path)) { try NodeKeyFile.create(path: path) }
        // No temporary files left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["opnode_p2p_priv.txt"])
    }

    @Test func nodeKeyFileParsesOpNodeFormats() throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let hex = "53dadf1d5a164d6b4acdb15e24aa4c5b1d3461bdbd42abedb0a4404d56ced8fb"
        let expected = "16Uiu2HAmLhLvBoYaoZfaMUKuibM6ac163GwKY74c5kiSLg5KvLpY"
        for (i, content) in [hex, "0x" + hex, "  \n0x" + hex.uppercased() + "\n\n", "\t" + hex + " \r\n"].enumerated() {
            let path = dir + "/k\(i)"
            try content.write(toFile: path, atomically: false, encoding: .utf8)
            #expect(try NodeKeyFile.load(path: path).peerID.description == expected)
        }
        #expect(try NodeKeyFile.parse(hex, path: "--p2p.priv.raw").peerID.description == expected)

        func write(_ s: String) throws -> String {
            let path = dir + "/bad-\(UUID().uuidString)"
            try s.write(toFile: path, atomically: false, encoding: .utf8)
            return path
        }
        let notHex = try write("zz" + hex.dropFirst(2))
        #expect(throws: NodeKeyFileError.notHex(path: notHex, .invalidCharacter("z", offset: 0))) { try NodeKeyFile.load(path: notHex) }
        let odd = try write(String(hex.dropLast()))
        #expect(throws: NodeKeyFileError.notHex(path: odd, .oddLength(63))) { try NodeKeyFile.load(path: odd) }
        let short = try write(String(hex.dropLast(2)))
        #expect(throws: NodeKeyFileError.wrongLength(path: short, bytes: 31)) { try NodeKeyFile.load(path: short) }
        let zero = try write(String(repeating: "0", count: 64))
        #expect(throws: NodeKeyFileError.invalidKey(path: zero)) { try NodeKeyFile.load(path: zero) }
        let huge = try write(String(repeating: " ", count: 5000))
        #expect(throws: NodeKeyFileError.tooLarge(path: huge, size: 5000, limit: 4096)) { try NodeKeyFile.load(path: huge) }
        #expect(throws: NodeKeyFileError.self) { try NodeKeyFile.load(path: dir) }  // a directory
        #expect(throws: NodeKeyFileError.self) { try NodeKeyFile.loadOrCreate(path: dir + "/missing-dir/key") }
        #expect(NodeKeyFileError.wrongLength(path: "/x", bytes: 31).description.contains("/x"))
    }
}
