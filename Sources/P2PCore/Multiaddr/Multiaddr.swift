/// Multiaddrs (multiformats `multiaddr`): self-describing addresses such as
/// `/ip4/127.0.0.1/tcp/9222/p2p/16Uiu2…`, in text and binary form (binary: each component is
/// varint code ++ value). Text output matches go-multiaddr; `/ipfs` is read as `/p2p`.
/// Bounded: at most `maxLength` bytes (binary, or UTF-8 text) and `maxComponents` components.
public struct Multiaddr: Sendable, Hashable, CustomStringConvertible {
    public static let maxLength = 1024
    public static let maxComponents = 32

    public var components: [MultiaddrComponent]

    public init(components: [MultiaddrComponent]) {
        self.components = components
    }

    /// Parses the text form. Trailing slashes are ignored, as in go-multiaddr.
    public init(_ text: String) throws(MultiaddrError) {
        let utf8 = text.utf8
        guard utf8.count <= Self.maxLength else { throw .tooLong(length: utf8.count, limit: Self.maxLength) }
        // Split on the '/' byte (not Character: a combining mark must not hide a separator).
        var trimmed = Substring(text).utf8[...]
        while trimmed.last == UInt8(ascii: "/") { trimmed.removeLast() }
        guard !trimmed.isEmpty else { throw .empty }
        guard trimmed.first == UInt8(ascii: "/") else { throw .missingLeadingSlash }
        var parts = trimmed.dropFirst().split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
            .map { Substring($0) }[...]
        var components: [MultiaddrComponent] = []
        while let name = parts.popFirst() {
            guard components.count < Self.maxComponents else { throw .tooManyComponents(limit: Self.maxComponents) }
            guard MultiaddrComponent.isKnown(name) else { throw .unknownProtocol(String(name)) }
            guard let value = parts.popFirst() else { throw .missingValue(protocol: String(name)) }
            components.append(try MultiaddrComponent.parse(name: name, value: value))
        }
        self.components = components
    }

    /// Parses the binary form.
    public init(bytes: [UInt8]) throws(MultiaddrError) {
        guard !bytes.isEmpty else { throw .empty }
        guard bytes.count <= Self.maxLength else { throw .tooLong(length: bytes.count, limit: Self.maxLength) }
        var components: [MultiaddrComponent] = []
        var pos = 0
        while pos < bytes.count {
            guard components.count < Self.maxComponents else { throw .tooManyComponents(limit: Self.maxComponents) }
            let (component, used) = try MultiaddrComponent.decode(bytes[pos...])
            components.append(component)
            pos += used
        }
        self.components = components
    }

    /// The binary form.
    public var bytes: [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(components.count * 8)
        for c in components { c.append(to: &out) }
        return out
    }

    /// The text form, e.g. `/ip4/127.0.0.1/tcp/4001`.
    public var description: String {
        var out = ""
        for c in components {
            out += "/" + c.name + "/" + c.value
        }
        return out
    }

    /// The peer id of a trailing `/p2p` component.
    public var peerID: PeerID? {
        if case .p2p(let id)? = components.last { return id }
        return nil
    }

    /// This address without a trailing `/p2p` component (go-libp2p `peer.SplitAddr`).
    public func withoutPeerID() -> Multiaddr {
        guard peerID != nil else { return self }
        return Multiaddr(components: components.dropLast())
    }

    /// This address with `component` appended.
    public func appending(_ component: MultiaddrComponent) -> Multiaddr {
        Multiaddr(components: components + [component])
    }
}
