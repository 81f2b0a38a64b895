/// The listener (responder) side of multistream-select 1.0, sans-IO, as go-multistream's
/// `MultistreamMuxer.Negotiate`: the header is sent eagerly, the dialer's header must be
/// `/multistream/1.0.0`, a proposal the matcher accepts is echoed back and ends negotiation,
/// anything else is answered `na`. `ls` is answered with the advertised list when one is
/// configured (older go-multistream behaviour), otherwise it is just an unknown protocol.
/// The number of refused proposals is bounded.
public struct MultistreamListener: Sendable {
    /// Decides whether a proposed protocol id is supported (exact match, or several ids).
    public typealias Matcher = @Sendable (String) -> Bool

    /// Default bound on refused proposals before the negotiation fails.
    public static let defaultMaxProposals = 32

    private let matcher: Matcher
    private let advertised: [String]?
    private let maxProposals: Int
    private var refused = 0
    private var headerReceived = false
    private var done = false
    private var reader = MultistreamReader()
    private var outbound: [UInt8] = []

    /// - Parameters:
    ///   - matcher: returns true for a supported protocol id.
    ///   - advertised: if non-nil, `ls` is answered with these ids.
    ///   - maxProposals: refused proposals (and `ls` requests) allowed before failing.
    public init(matcher: @escaping Matcher, advertised: [String]? = nil,
                maxProposals: Int = MultistreamListener.defaultMaxProposals) {
        self.matcher = matcher
        self.advertised = advertised
        self.maxProposals = maxProposals
        Multistream.append(Multistream.protocolID, to: &outbound)
    }

    /// Accepts exactly the given protocol ids.
    public init(supported: Set<String>, advertiseList: Bool = false,
                maxProposals: Int = MultistreamListener.defaultMaxProposals) {
        self.init(matcher: { supported.contains($0) }, advertised: advertiseList ? supported.sorted() : nil,
                  maxProposals: maxProposals)
    }

    /// Bytes to send to the peer (our header right after `init`, then `na`s and the echo).
    public mutating func takeOutbound() -> [UInt8] {
        defer { outbound = [] }
        return outbound
    }

    public var hasOutbound: Bool { !outbound.isEmpty }

    /// Feeds bytes received from the peer. On `.selected`, send `takeOutbound()` (the echo)
    /// before any bytes of the selected protocol.
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
                if message != Multistream.list && matcher(message) {
                    Multistream.append(message, to: &outbound)
                    done = true
                    return .selected(protocol: message, leftover: reader.takeRemaining())
                }
                refused += 1
                guard refused <= maxProposals else { throw .tooManyProposals(maxProposals) }
                if message == Multistream.list, let advertised {
                    appendList(advertised)
                } else {
                    Multistream.append(Multistream.notAvailable, to: &outbound)
                }
            }
        } catch {
            done = true
            throw error
        }
        return .pending
    }

    /// The `ls` answer: one message whose body is the concatenation of framed protocol ids.
    private mutating func appendList(_ ids: [String]) {
        var body = [UInt8]()
        for id in ids { Multistream.append(id, to: &body) }
        Varint.append(UInt64(body.count + 1), to: &outbound)
        outbound.append(contentsOf: body)
        outbound.append(0x0A)
    }
}
