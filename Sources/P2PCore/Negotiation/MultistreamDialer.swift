/// The dialer (initiator) side of multistream-select 1.0, sans-IO.
///
/// As go-multistream's `SelectOneOf`/`SelectProtoOrFail`: the header and the first proposal are
/// sent together (pipelined), then each further protocol is proposed in order after an `na`.
/// Negotiation fails with `.protocolsExhausted` when every protocol is refused.
/// Bytes that arrive after the listener's confirmation belong to the selected protocol and
/// are returned as `leftover`.
public enum MultistreamStatus: Sendable, Equatable {
    /// More bytes from the peer are needed (check `takeOutbound()` for bytes to send first).
    case pending
    /// `protocol` was agreed; `leftover` are bytes that followed the negotiation.
    case selected(protocol: String, leftover: [UInt8])
}

public struct MultistreamDialer: Sendable {
    private let protocols: [String]
    private var next = 0 // index of the proposal awaiting an answer
    private var headerReceived = false
    private var done = false
    private var reader = MultistreamReader()
    private var outbound: [UInt8] = []

    /// - Parameter protocols: the protocols to propose, in order of preference.
    public init(protocols: [String]) throws(MultistreamError) {
        guard !protocols.isEmpty else { throw .noProtocols }
        for p in protocols { try Multistream.validate(p) }
        self.protocols = protocols
        Multistream.append(Multistream.protocolID, to: &outbound)
        Multistream.append(protocols[0], to: &outbound)
    }

    /// Bytes to send to the peer (the header and first proposal right after `init`).
    public mutating func takeOutbound() -> [UInt8] {
        defer { outbound = [] }
        return outbound
    }

    /// Whether there are bytes waiting in `takeOutbound()`.
    public var hasOutbound: Bool { !outbound.isEmpty }

    /// Feeds bytes received from the peer.
    public mutating func receive(_ bytes: [UInt8]) throws(MultistreamError) -> MultistreamStatus {
        guard !done else { throw .finished }
        reader.append(bytes)
        do throws(MultistreamError) {
            while let message = try reader.next() {
                if !headerReceived {
                    guard message == Multistream.protocolID else { throw .unexpectedHeader(message) }
                    headerReceived = true
                    continue
                }
                if message == protocols[next] {
                    done = true
                    return .selected(protocol: message, leftover: reader.takeRemaining())
                }
                guard message == Multistream.notAvailable else { throw .unexpectedResponse(message) }
                next += 1
                guard next < protocols.count else { throw .protocolsExhausted(protocols) }
                Multistream.append(protocols[next], to: &outbound)
            }
        } catch {
            done = true
            throw error
        }
        return .pending
    }
}
