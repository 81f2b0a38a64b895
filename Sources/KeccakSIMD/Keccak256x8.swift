/// keccak256 (Keccak-256 with the original 0x01 … 0x80 padding, rate 136 bytes) of many
/// independent messages, eight at a time on `keccakF1600x8`. Lane scheduling: messages go
/// longest first, and a lane whose message ends is refilled with the next one at once, so mixed
/// lengths keep all eight lanes busy until the queue runs dry. Needs AVX-512F (see
/// KeccakF1600x8.swift); P2PCore's `Keccak256.hash(_:ranges:)` is the checked entry point.
public enum Keccak256x8 {
    static let rate = 136
    static let digestSize = 32

    /// Writes keccak256(`bytes[ranges[i]]`) to `digests[32 i ..< 32 i + 32]` for every `i`.
    /// The caller guarantees that every range lies within `bytes`, that `digests` holds
    /// `32 * ranges.count` bytes, and that the CPU supports AVX-512F.
    public static func hash(_ bytes: UnsafeRawBufferPointer, ranges: UnsafeBufferPointer<Range<Int>>,
                            digests: UnsafeMutableRawBufferPointer) {
        guard let out = digests.baseAddress, !ranges.isEmpty else { return }
        var order = Array(ranges.indices)
        order.sort { ranges[$0].count > ranges[$1].count }

        // One allocation: the 1600-byte lane-sliced state (64-byte aligned), eight padded final
        // blocks, an all-zero block for idle lanes, the eight block pointers, and per lane the
        // message it hashes (-1 = idle) and the offset of its next block.
        let stateBytes = 25 * 64, padBytes = 8 * rate
        let zeroed = stateBytes + padBytes + rate
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: zeroed + 24 * 8, alignment: 64)
        defer { scratch.deallocate() }
        scratch.initializeMemory(as: UInt8.self, repeating: 0, count: zeroed)
        let state = scratch
        let pads = scratch + stateBytes
        let zero = UnsafeRawPointer(scratch + stateBytes + padBytes)
        let blocks = (scratch + zeroed).bindMemory(to: UnsafeRawPointer.self, capacity: 8)
        let message = (scratch + zeroed + 8 * 8).bindMemory(to: Int.self, capacity: 16)
        let position = message + 8

        var queued = 0
        var active = 0
        func assign(_ lane: Int) {
            if queued < order.count {
                message[lane] = order[queued]
                position[lane] = ranges[order[queued]].lowerBound
                queued += 1
                active += 1
            } else {
                message[lane] = -1
            }
        }
        for lane in 0..<8 { assign(lane) }

        while active > 0 {
            // One block per busy lane: the next 136 bytes in place, or the padded final block.
            var finishing: UInt8 = 0
            for lane in 0..<8 {
                guard message[lane] >= 0 else { blocks[lane] = zero; continue }
                let p = position[lane], end = ranges[message[lane]].upperBound
                if end - p >= rate, let base = bytes.baseAddress {
                    blocks[lane] = base + p
                    position[lane] = p + rate
                } else {
                    let pad = pads + lane * rate
                    pad.initializeMemory(as: UInt8.self, repeating: 0, count: rate)
                    if end > p, let base = bytes.baseAddress { pad.copyMemory(from: base + p, byteCount: end - p) }
                    pad.storeBytes(of: 0x01, toByteOffset: end - p, as: UInt8.self)
                    let last = pad.load(fromByteOffset: rate - 1, as: UInt8.self)
                    pad.storeBytes(of: last | 0x80, toByteOffset: rate - 1, as: UInt8.self)
                    blocks[lane] = UnsafeRawPointer(pad)
                    finishing |= 1 << lane
                }
            }
            keccakF1600x8(state, absorbing: blocks)
            // Lanes that absorbed their final block: squeeze, clear, refill.
            while finishing != 0 {
                let lane = finishing.trailingZeroBitCount
                finishing &= finishing - 1
                for w in 0..<4 {
                    let v = state.load(fromByteOffset: w &* 64 &+ lane &* 8, as: UInt64.self)
                    (out + digestSize * message[lane]).storeBytes(of: v.littleEndian, toByteOffset: w * 8, as: UInt64.self)
                }
                for w in 0..<25 { state.storeBytes(of: 0, toByteOffset: w &* 64 &+ lane &* 8, as: UInt64.self) }
                active -= 1
                assign(lane)
            }
        }
    }
}
