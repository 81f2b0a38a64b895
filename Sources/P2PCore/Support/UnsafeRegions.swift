import Foundation

/// Raw views of several byte buffers at once, for gathered I/O and sealing (sendmsg iovecs,
/// Noise frames sealed from yamux headers plus slices of the application's arrays): nested
/// `withUnsafeBytes`, so nothing is copied and every view stays valid during `body`.
func withUnsafeRegions<Buffers: Collection, R>(
    _ buffers: Buffers, _ body: ([UnsafeRawBufferPointer]) -> R
) -> R where Buffers.Element: ContiguousBytes, Buffers.SubSequence == Buffers {
    var regions: [UnsafeRawBufferPointer] = []
    regions.reserveCapacity(buffers.count)
    return nestRegions(buffers, &regions, body)
}

private func nestRegions<Buffers: Collection, R>(
    _ buffers: Buffers, _ regions: inout [UnsafeRawBufferPointer], _ body: ([UnsafeRawBufferPointer]) -> R
) -> R where Buffers.Element: ContiguousBytes, Buffers.SubSequence == Buffers {
    guard let first = buffers.first else { return body(regions) }
    return first.withUnsafeBytes { raw in
        regions.append(raw)
        return nestRegions(buffers.dropFirst(), &regions, body)
    }
}
