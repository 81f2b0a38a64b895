/// What a `YamuxSession` reports to the layer above after receiving bytes or flushing output.
public enum YamuxEvent: Equatable, Sendable {
    /// The peer opened a stream (SYN).
    case inboundStream(YamuxStreamID)
    /// Bytes for a stream, in order. Call `consumed(_:_:now:)` once the application has taken
    /// them, so the peer's window is replenished.
    case data(YamuxStreamID, [UInt8])
    /// The peer closed its write side (FIN); no more data will arrive on the stream.
    case remoteClosedWrite(YamuxStreamID)
    /// The peer reset the stream (RST), or we reset it because it misbehaved.
    case reset(YamuxStreamID)
    /// A stream whose `write` was short has room in its send queue again.
    case writable(YamuxStreamID)
    /// The peer sent GoAway. With `.normal` existing streams continue but no new ones may be opened.
    case goAway(YamuxGoAwayCode)
    /// Our ping `id` was answered after `rtt`.
    case pong(id: UInt32, rtt: Duration)
    /// The session ended: `nil` after a local `close()` or a normal shutdown, otherwise the error.
    case sessionClosed(YamuxError?)
}
