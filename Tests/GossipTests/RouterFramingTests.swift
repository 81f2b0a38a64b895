import Foundation
import P2PCore
import Testing
@testable import Gossip

/// RPC framing: uvarint length prefix, frame limit, streaming decode, fragmentation, sizes,
/// and randomized inputs (typed error or a value, never a trap).
@Suite struct RouterFramingTests {
    /// SplitMix64 for reproducible random inputs.
    struct Rand {
        var s: UInt64
        mutating func next() -> UInt64 {
            s &+= 0x9e37_79b9_7f4a_7c15
            var z = s
            z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
            z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
            return z ^ (z >> 31)
        }
        mutating func int(_ n: Int) -> Int { Int(next() % UInt64(max(1, n))) }
        mutating func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8(truncatingIfNeeded: next()) } }
    }

    func sampleRPC(_ r: inout Rand) -> PBRPC {
        var rpc = PBRPC()
        for _ in 0..<r.int(3) { rpc.subscriptions.append(PBRPC.SubOpts(topic: "/t/\(r.int(100))", subscribe: r.int(2) == 0)) }
        for _ in 0..<r.int(4) {
            var m = PBMessage()
            m.data = Data(r.bytes(r.int(300)))
            m.topic = "/t/\(r.int(5))"
            if r.int(2) == 0 { m.from = Data(r.bytes(38)); m.seqno = Data(r.bytes(8)); m.signature = Data(r.bytes(64)) }
            if r.int(4) == 0 { m.key = Data(r.bytes(36)) }
            rpc.publish.append(m)
        }
        if r.int(2) == 0 {
            var c = PBControlMessage()
            for _ in 0..<r.int(3) {
                var h = PBControlIHave(); h.topicID = "/t/1"; h.messageIds = (0..<r.int(50)).map { _ in Data(r.bytes(20)) }
                c.ihave.append(h)
            }
            var w = PBControlIWant(); w.messageIds = (0..<r.int(30)).map { _ in Data(r.bytes(20)) }
            c.iwant = [w]
            var g = PBControlGraft(); g.topicID = "/t/2"
            c.graft = [g]
            var p = PBControlPrune(); p.topicID = "/t/3"; p.backoff = UInt64(r.int(100_000))
            var info = PBPeerInfo(); info.peerID = Data(r.bytes(38)); info.signedPeerRecord = Data(r.bytes(r.int(100)))
            p.peers = [info]
            c.prune = [p]
            var d = PBControlIDontWant(); d.messageIds = (0..<r.int(10)).map { _ in Data(r.bytes(20)) }
            c.idontwant = [d]
            rpc.control = c
        }
        return rpc
    }

    @Test func framingWithSharedMessageEncodingsIsByteIdentical() throws {
        var r = Rand(s: 7)
        var withMessages = 0
        for _ in 0..<200 {
            let rpc = sampleRPC(&r)
            let encoded = try rpc.publish.map { m throws(RPCFramingError) in try RPCFraming.encodeMessage(m) }
            let plain = try RPCFraming.encode(rpc, maxSize: 1 << 20)
            #expect(try RPCFraming.encode(rpc, encodedMessages: encoded, maxSize: 1 << 20) == plain)
            if !encoded.isEmpty { withMessages += 1 }
            // A mismatched list falls back to encoding the RPC whole.
            #expect(try RPCFraming.encode(rpc, encodedMessages: [[1, 2, 3]] + encoded, maxSize: 1 << 20) == plain)
            // The limit applies to the whole frame body.
            if plain.count > 10 {
                #expect(throws: RPCFramingError.self) {
                    try RPCFraming.encode(rpc, encodedMessages: encoded, maxSize: rpc.encodedSize - 1)
                }
            }
        }
        #expect(withMessages > 50)
    }

    @Test func framePiecesKeepLargeMessagesApartAndJoinToTheFrame() throws {
        var r = Rand(s: 11)
        var split = 0
        for _ in 0..<200 {
            var rpc = sampleRPC(&r)
            if r.int(2) == 0 {  // a block-sized message among the small ones
                var big = PBMessage(); big.topic = "/t/big"; big.data = Data(r.bytes(1024 + r.int(100_000)))
                rpc.publish.insert(big, at: r.int(rpc.publish.count + 1))
            }
            let encoded = try rpc.publish.map { m throws(RPCFramingError) in try RPCFraming.encodeMessage(m) }
            let pieces = try RPCFraming.encodePieces(rpc, encodedMessages: encoded, maxSize: 1 << 20)
            #expect(Array(pieces.joined()) == (try RPCFraming.encode(rpc, maxSize: 1 << 20)))
            // Every encoding of ≥ 1 KiB is a piece of its own (written without a copy), the rest are merged.
            let large = encoded.filter { $0.count >= 1024 }
            #expect(pieces.filter { p in large.contains(p) }.count == large.count)
            #expect(pieces.count <= 2 * large.count + 1)
            if !large.isEmpty { split += 1 }
        }
        #expect(split > 50)
    }

    @Test func encodedSizeIsExact() throws {
        var r = Rand(s: 1)
        for _ in 0..<200 {
            let rpc = sampleRPC(&r)
            let bytes: [UInt8] = try rpc.serializedBytes()
            #expect(rpc.encodedSize == bytes.count)
        }
    }

    @Test func frameRoundTripAndStreamingDecode() throws {
        var r = Rand(s: 2)
        var stream: [UInt8] = []
        var rpcs: [PBRPC] = []
        for _ in 0..<100 {
            let rpc = sampleRPC(&r)
            rpcs.append(rpc)
            stream += try RPCFraming.encode(rpc, maxSize: 1 << 20)
        }
        // Chunks as slices (always copied) and as whole arrays (taken without a copy when nothing
        // is pending), cut anywhere: inside prefixes, inside bodies, and across several frames.
        for asArrays in [false, true] {
            var decoder = RPCFrameDecoder(maxFrameSize: 1 << 20)
            var out: [PBRPC] = []
            var i = 0
            while i < stream.count {
                let n = min(stream.count - i, 1 + r.int(asArrays ? 3000 : 700))
                if asArrays { decoder.append(Array(stream[i..<(i + n)])) } else { decoder.append(stream[i..<(i + n)]) }
                i += n
                while let rpc = try decoder.next() { out.append(rpc) }
            }
            #expect(out == rpcs, "arrays: \(asArrays)")
            #expect(decoder.bufferedByteCount == 0)
        }
    }

    @Test func framesOverTheLimitAreRefusedFromThePrefix() throws {
        var decoder = RPCFrameDecoder(maxFrameSize: 10 * 1024 * 1024)
        var prefix: [UInt8] = []
        Varint.append(10 * 1024 * 1024 + 1, to: &prefix)
        decoder.append(prefix)
        #expect(throws: RPCFramingError.frameTooLarge(length: 10 * 1024 * 1024 + 1, limit: 10 * 1024 * 1024)) {
            _ = try decoder.next()
        }
        // An 11-byte varint is malformed.
        var bad = RPCFrameDecoder(maxFrameSize: 100)
        bad.append([UInt8](repeating: 0xff, count: 11))
        #expect(throws: RPCFramingError.self) { _ = try bad.next() }
        // Incomplete input waits for more.
        var partial = RPCFrameDecoder(maxFrameSize: 100)
        partial.append([0x80])
        let waiting = try partial.next()
        #expect(waiting == nil)
        partial.append([0x01])   // 128: over this decoder's 100
        #expect(throws: RPCFramingError.self) { _ = try partial.next() }
        // Encoding refuses an RPC over the limit.
        let big = PBRPC(message: { var m = PBMessage(); m.data = Data(count: 2000); return m }())
        #expect(throws: RPCFramingError.self) { _ = try RPCFraming.encode(big, maxSize: 1024) }
    }

    @Test func randomAndMutatedFramesNeverTrap() throws {
        var r = Rand(s: 3)
        var valid: [UInt8] = []
        for _ in 0..<20 { valid += try RPCFraming.encode(sampleRPC(&r), maxSize: 1 << 20) }
        var outcomes = (values: 0, errors: 0)
        for round in 0..<400 {
            var input: [UInt8]
            if round % 2 == 0 {
                input = r.bytes(r.int(2000))
            } else {
                input = valid
                for _ in 0..<(1 + r.int(8)) { input[r.int(input.count)] = UInt8(truncatingIfNeeded: r.next()) }
            }
            var d = RPCFrameDecoder(maxFrameSize: 64 * 1024)
            d.append(input)
            do {
                while try d.next() != nil { outcomes.values += 1 }
            } catch {
                #expect(!"\(error)".isEmpty)
                outcomes.errors += 1
            }
        }
        #expect(outcomes.values > 0 && outcomes.errors > 0)
    }

    @Test func fragmentationKeepsEveryPieceUnderTheLimit() throws {
        var rpc = PBRPC()
        for i in 0..<10 {
            var m = PBMessage(); m.data = Data(repeating: UInt8(i), count: 900); m.topic = "/t"
            rpc.publish.append(m)
        }
        var c = PBControlMessage()
        var h = PBControlIHave(); h.topicID = "/t"; h.messageIds = (0..<500).map { Data(repeating: UInt8($0 % 256), count: 20) }
        c.ihave = [h]
        var w = PBControlIWant(); w.messageIds = (0..<100).map { Data(repeating: UInt8($0), count: 20) }
        c.iwant = [w]
        var g = PBControlGraft(); g.topicID = "/t"
        c.graft = [g]
        rpc.control = c
        let pieces = try RPCFraming.fragment(rpc, limit: 2048)
        #expect(pieces.count > 5)
        for p in pieces { #expect(p.encodedSize <= 2048) }
        #expect(pieces.flatMap(\.publish) == rpc.publish)
        #expect(pieces.flatMap { $0.control.ihave.flatMap(\.messageIds) } == h.messageIds)
        #expect(pieces.flatMap { $0.control.iwant.flatMap(\.messageIds) } == w.messageIds)
        #expect(pieces.flatMap { $0.control.ihave.map(\.topicID) }.allSatisfy { $0 == "/t" })
        #expect(pieces.flatMap { $0.control.graft }.count == 1)
        // A single message over the limit cannot be split.
        var huge = PBRPC()
        huge.publish = [{ var m = PBMessage(); m.data = Data(count: 5000); return m }()]
        #expect(throws: RPCFramingError.self) { _ = try RPCFraming.fragment(huge, limit: 2048) }
    }
}
