import Foundation
import Testing
@testable import P2PCore

/// `Noise_XX_25519_ChaChaPoly_SHA256` against the cacophony vectors (Vectors/, taken from
/// mcginty/snow tests/vectors/cacophony.txt): every handshake message, the handshake hash and the
/// transport messages must match byte for byte.
@Suite struct NoiseVectorsTests {
    struct Message: Decodable {
        let payload: String
        let ciphertext: String
    }

    struct Vector: Decodable {
        let protocol_name: String
        let init_prologue: String
        let init_static: String
        let init_ephemeral: String
        let resp_prologue: String
        let resp_static: String
        let resp_ephemeral: String
        let handshake_hash: String
        let final_handshake_hash: String
        let messages: [Message]
    }

    struct File: Decodable { let vectors: [Vector] }

    static func vectors() throws -> [Vector] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Vectors/noise-xx-25519-chachapoly-sha256.json")
        return try JSONDecoder().decode(File.self, from: Data(contentsOf: url)).vectors
    }

    static func hex(_ s: String) throws -> [UInt8] { try [UInt8](hex: s) }

    @Test func handshakeAndTransportMatchCacophony() throws {
        let vectors = try Self.vectors()
        #expect(!vectors.isEmpty)
        for v in vectors {
            #expect(v.protocol_name == HandshakeState.protocolName)
            var initiator = HandshakeState(
                role: .initiator, prologue: try Self.hex(v.init_prologue),
                staticKeyPair: try X25519KeyPair(privateKey: try Self.hex(v.init_static)),
                ephemeralKeyPair: try X25519KeyPair(privateKey: try Self.hex(v.init_ephemeral)))
            var responder = HandshakeState(
                role: .responder, prologue: try Self.hex(v.resp_prologue),
                staticKeyPair: try X25519KeyPair(privateKey: try Self.hex(v.resp_static)),
                ephemeralKeyPair: try X25519KeyPair(privateKey: try Self.hex(v.resp_ephemeral)))
            var initiatorSession: NoiseSession?
            var responderSession: NoiseSession?
            var transportChecked = 0

            for (i, m) in v.messages.enumerated() {
                let payload = try Self.hex(m.payload)
                let expected = try Self.hex(m.ciphertext)
                let initiatorSends = i % 2 == 0
                if i < 3 {
                    if initiatorSends {
                        let ct = try initiator.writeMessage(payload: payload)
                        #expect(ct == expected, "handshake message \(i)")
                        #expect(try responder.readMessage(ct) == payload)
                    } else {
                        let ct = try responder.writeMessage(payload: payload)
                        #expect(ct == expected, "handshake message \(i)")
                        #expect(try initiator.readMessage(ct) == payload)
                    }
                    if i == 1 {
                        // cacophony's handshake_hash is h before the last handshake message.
                        #expect(initiator.handshakeHash.hexString == v.handshake_hash)
                        #expect(responder.handshakeHash.hexString == v.handshake_hash)
                    }
                    if i == 2 {
                        #expect(initiator.isComplete && responder.isComplete)
                        #expect(initiator.handshakeHash.hexString == v.final_handshake_hash)
                        #expect(responder.handshakeHash.hexString == v.final_handshake_hash)
                        #expect(initiator.remoteStaticKey == (try X25519KeyPair(privateKey: try Self.hex(v.resp_static))).publicKey)
                        let (iSend, iReceive) = try initiator.split()
                        let (rSend, rReceive) = try responder.split()
                        initiatorSession = NoiseSession(send: iSend, receive: iReceive)
                        responderSession = NoiseSession(send: rSend, receive: rReceive)
                    }
                } else {
                    // Transport messages alternate, continuing the handshake's order; the secure
                    // channel frames them with a 2-byte length.
                    var sender = try #require(initiatorSends ? initiatorSession : responderSession)
                    var receiver = try #require(initiatorSends ? responderSession : initiatorSession)
                    let frame = try sender.encrypt(payload)
                    #expect(frame.count == expected.count + 2)
                    #expect(Int(frame[0]) << 8 | Int(frame[1]) == expected.count)
                    #expect(Array(frame[2...]) == expected, "transport message \(i)")
                    #expect(try receiver.decrypt(frame) == payload)
                    if initiatorSends {
                        initiatorSession = sender
                        responderSession = receiver
                    } else {
                        responderSession = sender
                        initiatorSession = receiver
                    }
                    transportChecked += 1
                }
            }
            #expect(transportChecked == v.messages.count - 3)
        }
    }

    @Test func tamperedHandshakeMessageFailsAuthentication() throws {
        let v = try #require(try Self.vectors().first)
        var responder = HandshakeState(
            role: .responder, prologue: try Self.hex(v.resp_prologue),
            staticKeyPair: try X25519KeyPair(privateKey: try Self.hex(v.resp_static)),
            ephemeralKeyPair: try X25519KeyPair(privateKey: try Self.hex(v.resp_ephemeral)))
        var initiator = HandshakeState(
            role: .initiator, prologue: try Self.hex(v.init_prologue),
            staticKeyPair: try X25519KeyPair(privateKey: try Self.hex(v.init_static)),
            ephemeralKeyPair: try X25519KeyPair(privateKey: try Self.hex(v.init_ephemeral)))
        _ = try responder.readMessage(try initiator.writeMessage(payload: []))
        var message2 = try responder.writeMessage(payload: [1, 2, 3])
        message2[40] ^= 0x01 // inside the encrypted static key
        #expect(throws: NoiseError.decryptionFailed) { try initiator.readMessage(message2) }
    }
}
