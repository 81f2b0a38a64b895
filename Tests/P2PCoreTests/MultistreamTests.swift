import Testing
@testable import P2PCore

/// multistream-select 1.0: framing, dialer and listener state machines, limits, hostile input.
@Suite struct MultistreamTests {
    static func frame(_ s: String) -> [UInt8] { Multistream.encode(s) }

    @Test func wireFormat() {
        #expect(Multistream.encode(Multistream.protocolID) == [0x13] + Array("/multistream/1.0.0\n".utf8))
        #expect(Multistream.encode("na") == [0x03, 0x6E, 0x61, 0x0A])
        // A 200-byte id needs a two-byte varint (201 = 0xC9 0x01).
        let long = String(repeating: "a", count: 200)
        #expect(Array(Multistream.encode(long).prefix(2)) == [0xC9, 0x01])
    }

    @Test func pipelinedSelection() throws {
        var dialer = try MultistreamDialer(protocols: ["/noise"])
        var listener = MultistreamListener(supported: ["/noise", "/tls/1.0.0"])
        let hello = dialer.takeOutbound()
        #expect(hello == Self.frame("/multistream/1.0.0") + Self.frame("/noise"))
        #expect(try listener.receive(hello) == .selected(protocol: "/noise", leftover: []))
        let answer = listener.takeOutbound()
        #expect(answer == Self.frame("/multistream/1.0.0") + Self.frame("/noise"))
        #expect(try dialer.receive(answer) == .selected(protocol: "/noise", leftover: []))
        #expect(throws: MultistreamError.finished) { try dialer.receive([]) }
        #expect(throws: MultistreamError.finished) { try listener.receive([]) }
    }

    @Test func triesEachProtocolInOrder() throws {
        var dialer = try MultistreamDialer(protocols: ["/mplex/6.7.0", "/a", "/yamux/1.0.0"])
        var listener = MultistreamListener(supported: ["/yamux/1.0.0"])
        var toListener = dialer.takeOutbound()
        var selectedByDialer: MultistreamStatus = .pending
        var selectedByListener: MultistreamStatus = .pending
        var rounds = 0
        while selectedByDialer == .pending {
            rounds += 1
            if selectedByListener == .pending { selectedByListener = try listener.receive(toListener) }
            selectedByDialer = try dialer.receive(listener.takeOutbound())
            toListener = dialer.takeOutbound()
        }
        #expect(rounds == 3)
        #expect(selectedByDialer == .selected(protocol: "/yamux/1.0.0", leftover: []))
        #expect(selectedByListener == .selected(protocol: "/yamux/1.0.0", leftover: []))
    }

    @Test func allRefusedFailsTyped() throws {
        var dialer = try MultistreamDialer(protocols: ["/x", "/y"])
        var listener = MultistreamListener(supported: ["/z"])
        _ = try listener.receive(dialer.takeOutbound())
        #expect(try dialer.receive(listener.takeOutbound()) == .pending)
        _ = try listener.receive(dialer.takeOutbound())
        #expect(throws: MultistreamError.protocolsExhausted(["/x", "/y"])) { try dialer.receive(listener.takeOutbound()) }
    }

    @Test func leftoverBytesAreHandedBack() throws {
        let app: [UInt8] = [0x00, 0x20, 0xDE, 0xAD]
        var listener = MultistreamListener(supported: ["/noise"])
        let input = Self.frame("/multistream/1.0.0") + Self.frame("/noise") + app
        #expect(try listener.receive(input) == .selected(protocol: "/noise", leftover: app))

        var dialer = try MultistreamDialer(protocols: ["/noise"])
        _ = dialer.takeOutbound()
        #expect(try dialer.receive(Self.frame("/multistream/1.0.0")) == .pending)
        #expect(try dialer.receive(Self.frame("/noise") + app) == .selected(protocol: "/noise", leftover: app))
    }

    @Test func byteByByteFeeding() throws {
        var listener = MultistreamListener(matcher: { $0.hasPrefix("/meshsub/") })
        let input = Self.frame("/multistream/1.0.0") + Self.frame("/floodsub/1.0.0") + Self.frame("/meshsub/1.1.0") + [9, 9]
        var status = MultistreamStatus.pending
        var fed = 0
        for byte in input where status == .pending {
            status = try listener.receive([byte])
            fed += 1
        }
        #expect(status == .selected(protocol: "/meshsub/1.1.0", leftover: []))
        #expect(fed == input.count - 2)
        #expect(listener.takeOutbound() == Self.frame("/multistream/1.0.0") + Self.frame("na") + Self.frame("/meshsub/1.1.0"))
    }

    @Test func lsIsAnsweredOnlyWhenAdvertised() throws {
        var listener = MultistreamListener(supported: ["/b", "/a"], advertiseList: true)
        _ = listener.takeOutbound()
        #expect(try listener.receive(Self.frame("/multistream/1.0.0") + Self.frame("ls")) == .pending)
        let body = Self.frame("/a") + Self.frame("/b")
        #expect(listener.takeOutbound() == [UInt8(body.count + 1)] + body + [0x0A])

        var quiet = MultistreamListener(supported: ["/a"])
        _ = quiet.takeOutbound()
        #expect(try quiet.receive(Self.frame("/multistream/1.0.0") + Self.frame("ls")) == .pending)
        #expect(quiet.takeOutbound() == Self.frame("na"))
    }

    @Test func limitsAndMalformedMessages() throws {
        // Longer than 1024 bytes (declared), rejected before the body arrives.
        var l1 = MultistreamListener(supported: ["/a"])
        #expect(throws: MultistreamError.messageTooLarge(1025)) { try l1.receive([0x81, 0x08]) }
        // Exactly 1024 is fine.
        var l2 = MultistreamListener(supported: ["/a"])
        let max = String(repeating: "p", count: 1023)
        #expect(try l2.receive(Self.frame("/multistream/1.0.0") + Self.frame(max)) == .pending)
        // No trailing newline; empty message.
        var l3 = MultistreamListener(supported: ["/a"])
        #expect(throws: MultistreamError.missingNewline) { try l3.receive([0x02, 0x61, 0x62]) }
        var l4 = MultistreamListener(supported: ["/a"])
        #expect(throws: MultistreamError.missingNewline) { try l4.receive([0x00]) }
        // Wrong header.
        var l5 = MultistreamListener(supported: ["/a"])
        #expect(throws: MultistreamError.unexpectedHeader("/multistream/2.0.0")) { try l5.receive(Self.frame("/multistream/2.0.0")) }
        // Non-minimal varint, overlong varint, invalid UTF-8.
        var l6 = MultistreamListener(supported: ["/a"])
        #expect(throws: MultistreamError.invalidLength(.nonMinimal)) { try l6.receive([0x83, 0x00]) }
        var l7 = MultistreamListener(supported: ["/a"])
        #expect(throws: MultistreamError.invalidLength(.overflow)) { try l7.receive([UInt8](repeating: 0xFF, count: 12)) }
        var l8 = MultistreamListener(supported: ["/a"])
        #expect(throws: MultistreamError.invalidUTF8) { try l8.receive([0x03, 0xC3, 0x28, 0x0A]) }
        // Unexpected response to the dialer.
        var d = try MultistreamDialer(protocols: ["/a"])
        #expect(throws: MultistreamError.unexpectedResponse("/b")) { try d.receive(Self.frame("/multistream/1.0.0") + Self.frame("/b")) }
        // Dialer argument checks.
        #expect(throws: MultistreamError.noProtocols) { try MultistreamDialer(protocols: []) }
        #expect(throws: MultistreamError.invalidProtocolID("/a\n/b")) { try MultistreamDialer(protocols: ["/a\n/b"]) }
        #expect(throws: MultistreamError.invalidProtocolID(max + "x")) { try MultistreamDialer(protocols: [max + "x"]) }
    }

    @Test func listenerBoundsRefusedProposals() throws {
        var listener = MultistreamListener(supported: ["/a"], maxProposals: 3)
        var input = Self.frame("/multistream/1.0.0")
        for i in 0..<3 { input += Self.frame("/no/\(i)") }
        #expect(try listener.receive(input) == .pending)
        #expect(throws: MultistreamError.tooManyProposals(3)) { try listener.receive(Self.frame("/no/3")) }
    }

    @Test func hostileInputNeverTraps() throws {
        var rng = TestRNG(seed: 42)
        let valid = Self.frame("/multistream/1.0.0") + Self.frame("/x") + Self.frame("/noise")
        var outcomes = [0, 0, 0] // pending, selected, error
        for round in 0..<2000 {
            var input: [UInt8]
            if round % 2 == 0 {
                input = rng.bytes(Int(rng.next() % 64))
            } else {
                input = valid
                for _ in 0..<(1 + rng.next() % 3) {
                    input[Int(rng.next() % UInt64(input.count))] = UInt8(truncatingIfNeeded: rng.next())
                }
            }
            var listener = MultistreamListener(supported: ["/noise"], maxProposals: 4)
            var dialer = try MultistreamDialer(protocols: ["/x", "/noise"])
            for party in [0, 1] {
                do {
                    let status = party == 0 ? try listener.receive(input) : try dialer.receive(input)
                    outcomes[status == .pending ? 0 : 1] += 1
                } catch {
                    #expect(!error.description.isEmpty)
                    outcomes[2] += 1
                }
            }
        }
        #expect(outcomes[2] > 0 && outcomes[0] > 0)
    }
}
