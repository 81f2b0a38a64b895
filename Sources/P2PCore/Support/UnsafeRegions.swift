/// Raw views of several byte slices at once, for gathered I/O and sealing (sendmsg iovecs,
/// Noise frames sealed from yamux headers plus slices of the application's arrays): nested
/// `withUnsafeBytes`, so nothing is copied and every view stays valid during `body`.
func withUnsafeRegions<Slices: Collection<ArraySlice<UInt8>>, R>(
    _ slices: Slices, _ body: ([UnsafeRawBufferPointer]) -> R
) -> R where Slices.SubSequence == Slices {
    var regions: [UnsafeRawBufferPointer] = []
    regions.reserveCapacity(slices.count)
    return nestRegions(slices, &regions, body)
}

private func nestRegions<Slices: Collection<ArraySlice<UInt8>>, R>(
    _ slices: Slices, _ regions: inout [UnsafeRawBufferPointer], _ body: ([UnsafeRawBufferPointer]) -> R
) -> R where Slices.SubSequence == Slices {
    guard let first = slices.first else { return body(regions) }
    return first.withUnsafeBytes { raw in
        regions.append(raw)
        return nestRegions(slices.dropFirst(), &regions, body)
    }
}
