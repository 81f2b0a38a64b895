/// Block signing (spec §2.1): op-node's and op-alloy's signing-hash vectors and the signed gossip
/// vectors, whose signatures our RFC 6979 signer must reproduce byte for byte.
import Foundation
import P2PCore
import Testing
@testable import Rollup

@Suite struct BlockSigningTests {
    @Test func opNodeVector() throws {
        let domain = [0x7b, 0x2a] + [UInt8](repeating: 0, count: 30)
        let data = Array("arbitraryData".utf8)
        #expect(BlockSigning.payloadHash(payloadBytes: data).prefixedHex
                == "0xeea6bb6591d20b52f2b6574fb20bf7279cd03d581613d8ea1e88c82b8400144b")
        #expect(BlockSigning.signingHash(domain: domain, chainID: 100, payloadBytes: data).prefixedHex
                == "0xc724de7aefa316a12cbbd5edc39d512830598cce5d6ac81d1b518ef69450ad77")
        // A short domain is right-padded, as Go copies it into [32]byte.
        #expect(BlockSigning.signingHash(domain: [0x7b, 0x2a], chainID: 100, payloadBytes: data)
                == BlockSigning.signingHash(domain: domain, chainID: 100, payloadBytes: data))
    }

    @Test func opAlloyVector() {
        let payload = [UInt8](repeating: 0x99, count: 32)
        #expect(BlockSigning.signingHash(chainID: 10, payloadBytes: payload).prefixedHex
                == "0x44a0e2b1aba1aae1771eddae1dcd2ad18a8cdac8891517153f03253e49d3f206")
    }

    static let vectorFiles = (1...4).map { "gossip/synthetic-chain10-v\($0).json" }
        + ["gossip/unichain-sepolia-35535698.v4.signed-test-key.json"]

    @Test(arguments: vectorFiles)
    func signedGossipVectors(file: String) throws {
        let doc = try TestData.json(file)
        let chainID = try #require((doc["chain_id"] as? NSNumber)?.uint64Value)
        let signed = try hex(vectorField(doc, "signed_bytes"))
        let key = try Secp256k1PrivateKey(bytes: hex(vectorField(doc, "signer_private_key")))
        let expectedSig = try hex(vectorField(doc, "signature_r_s_v"))
        let signer = try hex(vectorField(doc, "signer_address"))

        #expect(BlockSigning.payloadHash(payloadBytes: signed) == (try hex(vectorField(doc, "payload_hash"))))
        #expect(BlockSigning.signingHash(chainID: chainID, payloadBytes: signed) == (try hex(vectorField(doc, "signing_hash"))))
        #expect(try BlockSigning.sign(payloadBytes: signed, chainID: chainID, key: key) == expectedSig)
        #expect(try BlockSigning.recoverSigner(signature: expectedSig, chainID: chainID, payloadBytes: signed) == signer)
        #expect(key.publicKey.ethereumAddress == signer)
        // The uncompressed message is signature ++ signed bytes.
        #expect(try hex(vectorField(doc, "uncompressed_message")) == expectedSig + signed)
        // Signed for another chain, the signature recovers someone else.
        #expect(try BlockSigning.recoverSigner(signature: expectedSig, chainID: chainID + 1, payloadBytes: signed) != signer)
        // Slices (the bytes after the signature in a gossip message) hash the same.
        let message = expectedSig + signed
        #expect(try BlockSigning.recoverSigner(signature: Array(message[0..<65]), chainID: chainID, payloadBytes: message[65...]) == signer)
    }

    @Test func malformedSignatures() throws {
        let payload: [UInt8] = [1, 2, 3]
        let key = try Secp256k1PrivateKey(bytes: [UInt8](repeating: 0x11, count: 32))
        var sig = try BlockSigning.sign(payloadBytes: payload, chainID: 10, key: key)
        #expect(sig.count == 65 && sig[64] < 2)
        #expect(throws: CryptoError.invalidSignature) {
            try BlockSigning.recoverSigner(signature: Array(sig.prefix(64)), chainID: 10, payloadBytes: payload)
        }
        sig[64] += 27  // go-ethereum rejects 27/28
        #expect(throws: CryptoError.self) { try BlockSigning.recoverSigner(signature: sig, chainID: 10, payloadBytes: payload) }
        let zeros = [UInt8](repeating: 0, count: 65)
        #expect(throws: CryptoError.self) { try BlockSigning.recoverSigner(signature: zeros, chainID: 10, payloadBytes: payload) }
    }
}
