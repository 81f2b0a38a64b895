import Foundation
import P2PCore
import Testing
@testable import Gossip

/// Signature policies: StrictSign (libp2p message signing) and StrictNoSign (op-node).
@Suite struct RouterSigningTests {
    typealias F = RouterFixture
    let t = RouterFixture.topic

    /// Router 1 (StrictSign) joined to `t`, with peer 2 subscribed.
    func signingRouter() throws -> (GossipSubRouter, PeerID) {
        var r = try F.router(1, policy: .strictSign(F.key(1)))
        let b = F.peer(2)
        _ = try r.join(t, now: 0)
        _ = r.addPeer(b, protocol: .meshsub11, outbound: true, ip: nil, now: 0)
        _ = r.handleRPC(from: b, rpc: F.subscribe(t), now: 0)
        return (r, b)
    }

    /// A message signed by key 2 (as router 2 would publish it).
    func signedMessage(_ data: [UInt8], seqno: UInt64 = 1, key: PrivateKey = F.key(2)) throws -> PBMessage {
        var m = PBMessage()
        m.data = Data(data)
        m.topic = t
        m.seqno = withUnsafeBytes(of: seqno.bigEndian) { Data($0) }
        try MessageSigning.sign(&m, key: key)
        return m
    }

    @Test func publishedMessagesAreSignedAsLibp2pSpecifies() throws {
        var r = try F.router(1, policy: .strictSign(F.key(1)))
        let b = F.peer(2)
        _ = try r.join(t, now: 0)
        _ = r.addPeer(b, protocol: .meshsub11, outbound: true, ip: nil, now: 0)
        _ = r.handleRPC(from: b, rpc: F.subscribe(t), now: 0)
        _ = r.heartbeat(now: 1)
        let m1 = try #require(try r.publish(topic: t, data: [1], now: 2).sent(to: b).first?.publish.first)
        let m2 = try #require(try r.publish(topic: t, data: [1], now: 3).sent(to: b).first?.publish.first)
        #expect(m1.from == Data(F.peer(1).bytes))
        #expect(m1.seqno.count == 8)
        let s1 = m1.seqno.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let s2 = m2.seqno.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        #expect(s2 == s1 &+ 1, "big-endian counter")
        #expect(!m1.hasKey, "Ed25519 keys are inlined in the peer id")
        // The signature is over "libp2p-pubsub:" ++ the message without signature and key.
        var unsigned = m1
        unsigned.clearSignature()
        let body: [UInt8] = try unsigned.serializedBytes()
        #expect(F.key(1).publicKey.verify(signature: [UInt8](m1.signature), message: Array("libp2p-pubsub:".utf8) + body))
        #expect(MessageSigning.verify(m1))
    }

    @Test func validSignatureIsAccepted() throws {
        var (r, b) = try signingRouter()
        let m = try signedMessage([7])
        var rpc = PBRPC()
        rpc.publish = [m]
        let actions = r.handleRPC(from: b, rpc: rpc, now: 1)
        let req = try #require(actions.validations.first)
        #expect(req.id.bytes == [UInt8](m.from) + [UInt8](m.seqno), "DefaultMsgIdFn: from ++ seqno")
        #expect(actions.rejectReasons.isEmpty)
    }

    @Test func tamperedUnsignedAndForeignKeyedMessagesAreRejected() throws {
        var (r, b) = try signingRouter()
        var tampered = try signedMessage([7])
        tampered.data = Data([8])
        var unsigned = try signedMessage([9], seqno: 2)
        unsigned.clearSignature()
        // Attached key that does not match `from`.
        var wrongKey = try signedMessage([10], seqno: 3)
        wrongKey.key = Data(F.key(3).publicKey.marshal())
        // Signed by key 3 but claiming to be from peer 2.
        var forged = try signedMessage([11], seqno: 4, key: F.key(3))
        forged.from = Data(F.peer(2).bytes)
        // Claims to be from us.
        let selfOrigin = try signedMessage([12], seqno: 5, key: F.key(1))
        var reasons: [RejectReason] = []
        for m in [tampered, unsigned, wrongKey, forged, selfOrigin] {
            var rpc = PBRPC()
            rpc.publish = [m]
            let a = r.handleRPC(from: b, rpc: rpc, now: 1)
            #expect(a.validations.isEmpty)
            reasons += a.rejectReasons
        }
        #expect(reasons == [.invalidSignature, .missingSignature, .invalidSignature, .invalidSignature, .selfOrigin])
        // A forged copy did not poison the seen cache: the genuine message still goes through.
        var genuine = PBRPC()
        genuine.publish = [try signedMessage([7])]
        #expect(r.handleRPC(from: b, rpc: genuine, now: 1).validations.count == 1)
    }

    @Test func strictNoSignRejectsAuthorFields() throws {
        var r = try F.router(1)
        let b = F.peer(2)
        _ = try r.join(t, now: 0)
        _ = r.addPeer(b, protocol: .meshsub11, outbound: true, ip: nil, now: 0)
        _ = r.handleRPC(from: b, rpc: F.subscribe(t), now: 0)
        func with(_ change: (inout PBMessage) -> Void) -> PBRPC {
            var m = PBMessage()
            m.data = Data([1, 2, 3])
            m.topic = t
            change(&m)
            return PBRPC(message: m)
        }
        let cases: [(PBRPC, RejectReason)] = [
            (with { $0.signature = Data([1]) }, .unexpectedSignature),
            (with { $0.from = Data(F.peer(2).bytes) }, .unexpectedAuthInfo),
            (with { $0.seqno = Data([0, 0, 0, 0, 0, 0, 0, 1]) }, .unexpectedAuthInfo),
            (with { $0.key = Data([1, 2]) }, .unexpectedAuthInfo),
            (with { $0.from = Data(); $0.signature = Data() }, .unexpectedSignature),
        ]
        for (rpc, reason) in cases {
            let a = r.handleRPC(from: b, rpc: rpc, now: 1)
            #expect(a.validations.isEmpty)
            #expect(a.rejectReasons == [reason])
        }
        // Only data and topic: accepted for validation; our own publications carry nothing else.
        #expect(r.handleRPC(from: b, rpc: F.message([42]), now: 1).validations.count == 1)
        let published = try r.publish(topic: t, data: [43], now: 1)
        let m = try #require(published.deliveries.first)
        #expect(!m.hasFrom && !m.hasSeqno && !m.hasSignature && !m.hasKey && m.hasData && m.hasTopic)
    }

    @Test func strictNoSignNeedsAContentBasedMessageID() {
        var c = F.config(1)
        c.messageID = .fromAndSeqno
        #expect(throws: GossipConfigError.messageIDNotContentBased) { _ = try GossipSubRouter(configuration: c) }
        c.messageID = .opStack
        #expect(throws: Never.self) { _ = try GossipSubRouter(configuration: c) }
    }

    @Test func opStackMessageIDMatchesTheBlocksModule() {
        var m = PBMessage()
        m.topic = "/optimism/10/0/blocks"
        m.data = Data([0xff, 0x00, 0x01])
        #expect(MessageIDFunction.opStack(m).bytes == OPMessageID.compute(topic: m.topic, data: [0xff, 0x00, 0x01]))
        #expect(MessageIDFunction.opStack(m).bytes.count == 20)
    }
}
