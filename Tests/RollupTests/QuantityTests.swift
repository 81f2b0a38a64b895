/// UInt256 conversions and text forms, and go-ethereum hex-quantity rules.
import P2PCore
import Testing
@testable import Rollup

@Suite struct QuantityTests {
    @Test func uint256Forms() throws {
        let v = UInt256(0x3b9a_ca07)
        #expect(v.bytesBE.count == 32 && v.bytesBE.suffix(4) == [0x3b, 0x9a, 0xca, 0x07])
        #expect(v.bytesLE.prefix(4) == [0x07, 0xca, 0x9a, 0x3b])
        #expect(try UInt256(bytesLE: v.bytesLE) == v)
        #expect(try UInt256(bytesBE: [0x3b, 0x9a, 0xca, 0x07]) == v)
        #expect(v.minimalBytesBE == [0x3b, 0x9a, 0xca, 0x07])
        #expect(v.hexQuantity == "0x3b9aca07")
        #expect(v.decimalString == "1000000007" && v.description == "1000000007")
        #expect(v.uint64Value == 1_000_000_007)
        #expect(UInt256.zero.hexQuantity == "0x0" && UInt256.zero.decimalString == "0" && UInt256.zero.minimalBytesBE.isEmpty)
        #expect(UInt256(0x33).hexQuantity == "0x33" && UInt256(0x3).hexQuantity == "0x3")
        let max = try UInt256(bytesBE: [UInt8](repeating: 0xff, count: 32))
        #expect(max.decimalString == "115792089237316195423570985008687907853269984665640564039457584007913129639935")
        #expect(max.hexQuantity == "0x" + String(repeating: "f", count: 64))
        #expect(try UInt256(hexQuantity: max.hexQuantity) == max)
        #expect(max.uint64Value == nil)
        #expect(UInt256(5) < UInt256(6) && UInt256(.max) < max)
        #expect(throws: UInt256Error.tooManyBytes(33)) { try UInt256(bytesBE: [UInt8](repeating: 1, count: 33)) }
        #expect(throws: UInt256Error.wrongLength(expected: 32, got: 31)) { try UInt256(bytesLE: [UInt8](repeating: 1, count: 31)) }
    }

    @Test func hexQuantityRules() throws {
        #expect(try UInt64(hexQuantity: "0x0") == 0)
        #expect(try UInt64(hexQuantity: "0xFFffFFffFFffFFff") == .max)
        #expect(UInt64(0x21e3b52).hexQuantity == "0x21e3b52")
        #expect(try UInt256(hexQuantity: "0x7ccf990f8").uint64Value == 0x7_ccf9_90f8)
        let bad: [(String, HexQuantityError)] = [
            ("", .missingPrefix), ("12", .missingPrefix), ("x12", .missingPrefix), ("0x", .empty),
            ("0x00", .leadingZeros), ("0x0g", .leadingZeros), ("0xg", .invalidCharacter("g")),
            ("0x1 ", .invalidCharacter(" ")), ("0x10000000000000000", .overflow(maxBits: 64)),
        ]
        for (text, error) in bad {
            #expect(throws: error, "\(text)") { try UInt64(hexQuantity: text) }
        }
        #expect(throws: HexQuantityError.overflow(maxBits: 256)) { try UInt256(hexQuantity: "0x1" + String(repeating: "0", count: 64)) }
        // Random strings: a typed error or a value that prints back the same (case-folded).
        var rng = SplitMix64(seed: 0x9e)
        let alphabet = Array("0123456789abcdefABCDEFxX g")
        for _ in 0..<3000 {
            let s = String((0..<Int.random(in: 0...20, using: &rng)).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &rng)] })
            if let v = try? UInt64(hexQuantity: s) { #expect(v.hexQuantity == s.lowercased().replacingOccurrences(of: "0X", with: "0x")) }
            if let v = try? UInt256(hexQuantity: s) { #expect(v.hexQuantity == s.lowercased()) }
        }
    }
}
