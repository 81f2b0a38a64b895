/// Randomized hostile input for the SSZ decoders: random bytes, truncations and mutations of every
/// real SSZ file, decoded as every version. Each input must give an `SSZError` or a payload, and a
/// decoded payload must re-encode to exactly the input (the decoder accepts only canonical bytes).
import P2PCore
import Testing
@testable import Rollup

@Suite struct SSZFuzzTests {
    static let files = TestData.realBlocks.map(\.ssz) + ["real/unichain-sepolia-35535698.envelope-v4.ssz"]

    /// Decodes as payload and as envelope; returns how many inputs decoded.
    @discardableResult
    static func exercise(_ input: [UInt8], version: PayloadVersion) -> Int {
        var ok = 0
        do {
            let p = try ExecutionPayload(ssz: input, version: version)
            #expect(try p.sszEncoded(version: version) == input, "non-canonical \(version) input accepted")
            ok += 1
        } catch {
            #expect(!error.description.isEmpty)
        }
        do {
            let e = try ExecutionPayloadEnvelope(ssz: input, version: version)
            #expect(try e.sszEncoded(version: version) == input, "non-canonical \(version) envelope accepted")
            ok += 1
        } catch {
            #expect(!error.description.isEmpty)
        }
        return ok
    }

    @Test(arguments: PayloadVersion.allCases)
    func randomBytes(version: PayloadVersion) {
        var rng = SplitMix64(seed: 0x55a1 &+ UInt64(version.rawValue))
        for _ in 0..<400 {
            let n = Int.random(in: 0...(version.sszFixedSize + 200), using: &rng)
            var b = rng.bytes(n)
            // Half the time plant a plausible extraData offset so decoding gets past the first check.
            if Bool.random(using: &rng), b.count >= 440 { SSZTests.putU32(&b, at: 436, version.sszFixedSize) }
            Self.exercise(b, version: version)
        }
    }

    @Test(arguments: files)
    func truncations(file: String) throws {
        let bytes = try TestData.bytes(file)
        // Every length around the fixed parts, then a stride through the rest.
        var lengths = Set(0...min(bytes.count, 700))
        for n in stride(from: 700, through: bytes.count, by: max(1, bytes.count / 300)) { lengths.insert(n) }
        for n in lengths.sorted() {
            for v in PayloadVersion.allCases { Self.exercise(Array(bytes.prefix(n)), version: v) }
        }
    }

    @Test(arguments: files)
    func mutations(file: String) throws {
        let bytes = try TestData.bytes(file)
        var rng = SplitMix64(seed: UInt64(bytes.count))
        var decoded = 0
        let rounds = bytes.count > 20_000 ? 150 : 600
        for _ in 0..<rounds {
            var m = bytes
            for _ in 0..<Int.random(in: 1...3, using: &rng) { m = rng.mutate(m) }
            for v in PayloadVersion.allCases { decoded += Self.exercise(m, version: v) }
        }
        // Mutations inside transaction bytes keep the payload decodable: both outcomes occur.
        #expect(decoded > 0)
    }
}
