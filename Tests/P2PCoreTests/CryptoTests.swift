import Testing
@testable import P2PCore

/// Published vectors for every primitive of the crypto facade.
@Suite struct CryptoTests {
    @Test func keccak256KnownVectors() throws {
        #expect(Keccak256.hash([UInt8]()).hexString == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470")
        #expect(Keccak256.hash(Array("abc".utf8)).hexString == "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45")
        // A 136-byte input exercises the full-block path plus a padding-only block.
        let block = [UInt8](repeating: 0x61, count: 136)
        #expect(Keccak256.hash(block) != Keccak256.hash(Array(block.dropLast())))
    }

    @Test func keccak256StreamingMatchesOneShot() {
        var rng = TestRNG(seed: 7)
        for _ in 0..<200 {
            let data = rng.bytes(Int(rng.next() % 700))
            var k = Keccak256()
            var i = 0
            while i < data.count {
                let n = min(data.count - i, Int(rng.next() % 150) + 1)
                k.update(data[i..<(i + n)])
                i += n
            }
            #expect(k.finalize() == Keccak256.hash(data))
        }
    }

    @Test func keccak256OfRealSignedEnvelope() throws {
        // testdata: payload_hash of the Unichain envelope bytes (§8 of the spec).
        let bytes = try TestData.bytes("real/unichain-sepolia-35535698.envelope-v4.ssz")
        #expect(Keccak256.hash(bytes).hexString == "ccddb0b3086235d74c664e914ce9727aa48a485bdcf744deb5a8c7d46c9450c1")
    }

    @Test func sha256HmacHkdf() throws {
        #expect(SHA2.sha256(Array("abc".utf8)).hexString == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA2.sha256(parts: [Array("a".utf8), Array("bc".utf8)]) == SHA2.sha256(Array("abc".utf8)))
        // RFC 4231 test case 1
        #expect(SHA2.hmacSHA256(key: [UInt8](repeating: 0x0b, count: 20), data: Array("Hi There".utf8)).hexString
                == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
        // RFC 5869 test case 1
        let okm = SHA2.hkdf(inputKeyMaterial: [UInt8](repeating: 0x0b, count: 22),
                            salt: try [UInt8](hex: "000102030405060708090a0b0c"),
                            info: try [UInt8](hex: "f0f1f2f3f4f5f6f7f8f9"), outputByteCount: 42)
        #expect(okm.hexString == "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")
    }

    @Test func x25519RFC7748() throws {
        let alice = try X25519KeyPair(privateKey: try [UInt8](hex: "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"))
        let bob = try X25519KeyPair(privateKey: try [UInt8](hex: "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"))
        #expect(alice.publicKey.hexString == "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
        #expect(bob.publicKey.hexString == "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
        let shared = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"
        #expect(try alice.sharedSecret(with: bob.publicKey).hexString == shared)
        #expect(try bob.sharedSecret(with: alice.publicKey).hexString == shared)
        // A low-order point gives an all-zero secret, which must be refused.
        #expect(throws: CryptoError.lowOrderPoint) { try alice.sharedSecret(with: [UInt8](repeating: 0, count: 32)) }
        #expect(throws: CryptoError.self) { try alice.sharedSecret(with: [1, 2, 3]) }
    }

    @Test func chachaPolyRFC8439() throws {
        let key = try [UInt8](hex: "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f")
        let nonce = try [UInt8](hex: "070000004041424344454647")
        let ad = try [UInt8](hex: "50515253c0c1c2c3c4c5c6c7")
        let pt = Array("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.".utf8)
        let sealed = try ChaChaPoly.seal(key: key, nonceBytes: nonce, ad: ad, plaintext: pt)
        #expect(sealed.hexString == "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116" + "1ae10b594f09e26a7e902ecbd0600691")
    }

    @Test func chachaPolyCounterNonceRoundTripAndTamper() throws {
        let key = secureRandomBytes(32)
        let ad = Array("ad".utf8)
        for n: UInt64 in [0, 1, 0xffff_ffff_ffff_fffe] {
            let msg = secureRandomBytes(Int(n % 1000) + 1)
            var sealed = ChaChaPoly.seal(key: key, nonce: n, ad: ad, plaintext: msg)
            #expect(sealed.count == msg.count + 16)
            #expect(try ChaChaPoly.open(key: key, nonce: n, ad: ad, ciphertext: sealed) == msg)
            #expect(throws: CryptoError.authenticationFailed) { try ChaChaPoly.open(key: key, nonce: n &+ 1, ad: ad, ciphertext: sealed) }
            sealed[0] ^= 1
            #expect(throws: CryptoError.authenticationFailed) { try ChaChaPoly.open(key: key, nonce: n, ad: ad, ciphertext: sealed) }
        }
        // The counter nonce is 4 zero bytes followed by the little-endian counter.
        let viaBytes = try ChaChaPoly.seal(key: key, nonceBytes: [0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0], ad: [], plaintext: [1, 2, 3])
        #expect(viaBytes == ChaChaPoly.seal(key: key, nonce: 5, ad: [], plaintext: [1, 2, 3]))
        // In-place open.
        var buf = ChaChaPoly.seal(key: key, nonce: 9, ad: [], plaintext: [9, 8, 7])
        let n = try buf.withUnsafeMutableBytes { try ChaChaPoly.open(key: key, nonce: 9, ad: [], inPlace: $0) }
        #expect(Array(buf[0..<n]) == [9, 8, 7])
        #expect(throws: CryptoError.authenticationFailed) { try ChaChaPoly.open(key: key, nonce: 0, ad: [], ciphertext: [1, 2]) }
    }

    /// Large messages go to OpenSSL (when libcrypto 3 is installed, as it is on the project's
    /// machines): its output must equal libsodium's byte for byte, in place and into a buffer, with
    /// and without associated data, on both sides of the size threshold; tampering must fail.
    @Test func chachaPolyOpenSSLMatchesLibsodium() throws {
        #if os(Linux)
        #expect(OpenSSLChaChaPoly.library != nil, "libcrypto.so.3 not found: large frames use libsodium")
        #endif
        var rng = TestRNG(seed: 0x5eed_c4ac)
        let key = rng.bytes(32)
        let threshold = OpenSSLChaChaPoly.minimumLength
        for (count, ad) in [(threshold - 1, [UInt8]()), (threshold, []), (threshold + 1, [1, 2, 3]), (65519, []), (100_000, rng.bytes(40))] {
            let msg = rng.bytes(count)
            let nonce = rng.next()
            // Reference: libsodium's array API (never routed to OpenSSL).
            let reference = ChaChaPoly.seal(key: key, nonce: nonce, ad: ad, plaintext: msg)
            var sealed = [UInt8](repeating: 0, count: count + ChaChaPoly.tagSize)
            let written = msg.withUnsafeBytes { p in sealed.withUnsafeMutableBytes { ChaChaPoly.seal(key: key, nonce: nonce, ad: ad, plaintext: p, into: $0) } }
            #expect(written == sealed.count)
            #expect(sealed == reference, "seal of \(count) bytes")
            var work = sealed
            let opened = try work.withUnsafeMutableBytes { try ChaChaPoly.open(key: key, nonce: nonce, ad: ad, inPlace: $0) }
            #expect(opened == count && Array(work[0..<count]) == msg, "open of \(count) bytes")
            for position in [0, count / 2, count + 3] {
                var tampered = sealed
                tampered[position] ^= 0x40
                #expect(throws: CryptoError.authenticationFailed) {
                    try tampered.withUnsafeMutableBytes { try ChaChaPoly.open(key: key, nonce: nonce, ad: ad, inPlace: $0) }
                }
                // No unauthenticated plaintext is left in the buffer.
                if count >= threshold { #expect(!tampered.contains(where: { $0 != 0 })) }
            }
            var wrongNonce = sealed
            #expect(throws: CryptoError.authenticationFailed) {
                try wrongNonce.withUnsafeMutableBytes { try ChaChaPoly.open(key: key, nonce: nonce &+ 1, ad: ad, inPlace: $0) }
            }
        }
    }

    @Test func ed25519RFC8032() throws {
        let sk = try Ed25519PrivateKey(seed: try [UInt8](hex: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"))
        #expect(sk.publicKey.hexString == "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
        let sig = sk.sign([])
        #expect(sig.hexString == "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b")
        #expect(Ed25519.verify(signature: sig, message: [], publicKey: sk.publicKey))
        #expect(!Ed25519.verify(signature: sig, message: [0], publicKey: sk.publicKey))
        #expect(!Ed25519.verify(signature: Array(sig.dropLast()), message: [], publicKey: sk.publicKey))
        #expect(try Ed25519PrivateKey(libp2pBytes: sk.libp2pBytes).publicKey == sk.publicKey)
        var bad = sk.libp2pBytes
        bad[40] ^= 1
        #expect(throws: CryptoError.invalidPrivateKey) { try Ed25519PrivateKey(libp2pBytes: bad) }
    }

    @Test func secp256k1AddressSignRecover() throws {
        let key = try Secp256k1PrivateKey(bytes: try [UInt8](hex: "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"))
        #expect(key.publicKey.ethereumAddress.hexString == "f39fd6e51aad88f6f4ce6ab8827279cfffb92266")
        #expect(key.publicKey.compressed.hexString == "038318535b54105d4a7aae60c08fc45f9687181b4fdfc625bd1a753fa7397fed75")
        let hash = Keccak256.hash(Array("hello".utf8))
        let sig = try key.signRecoverable(hash: hash)
        #expect(sig.count == 65 && sig[64] < 2)
        #expect(try Secp256k1.recoverAddress(hash: hash, signature: sig) == key.publicKey.ethereumAddress)
        // Deterministic (RFC 6979).
        #expect(try key.signRecoverable(hash: hash) == sig)
        // go-ethereum rejects v = 27/28 and any length other than 65.
        var v27 = sig
        v27[64] += 27
        #expect(throws: CryptoError.invalidSignature) { try Secp256k1.recover(hash: hash, signature: v27) }
        #expect(throws: CryptoError.invalidSignature) { try Secp256k1.recover(hash: hash, signature: Array(sig.dropLast())) }
        // A different hash recovers a different address.
        #expect(try Secp256k1.recoverAddress(hash: Keccak256.hash([1]), signature: sig) != key.publicKey.ethereumAddress)
        #expect(throws: CryptoError.invalidPrivateKey) { try Secp256k1PrivateKey(bytes: [UInt8](repeating: 0, count: 32)) }
        #expect(throws: CryptoError.invalidPrivateKey) { try Secp256k1PrivateKey(bytes: [UInt8](repeating: 0xff, count: 32)) }
    }

    @Test func secp256k1Libp2pSignatures() throws {
        let key = Secp256k1PrivateKey()
        let msg = Array("noise-libp2p-static-key:".utf8) + secureRandomBytes(32)
        let der = key.signLibp2p(msg)
        #expect(der.first == 0x30 && der.count <= 72)
        #expect(key.publicKey.verifyLibp2p(signature: der, message: msg))
        #expect(!key.publicKey.verifyLibp2p(signature: der, message: msg + [0]))
        #expect(!Secp256k1PrivateKey().publicKey.verifyLibp2p(signature: der, message: msg))
        #expect(!key.publicKey.verifyLibp2p(signature: [0x30, 0x02, 0x01], message: msg))
        let parsed = try Secp256k1PublicKey(bytes: key.publicKey.uncompressed)
        #expect(parsed == key.publicKey)
        #expect(throws: CryptoError.invalidPublicKey) { try Secp256k1PublicKey(bytes: [0x02] + [UInt8](repeating: 0xff, count: 32)) }
    }
}
