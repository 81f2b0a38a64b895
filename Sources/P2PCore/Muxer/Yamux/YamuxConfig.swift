/// yamux session limits and windows. Defaults follow go-yamux's `DefaultConfig` (mux.go):
/// 256 KiB initial window, 16 MiB maximum window (reached by window auto-tuning), 256 accept
/// backlog (unacknowledged streams), 1000 incoming streams, 32 queued ping replies, 64 KiB
/// messages. The send-queue and outbound bounds are ours: go-yamux blocks writers instead.
public struct YamuxConfig: Sendable, Equatable {
    /// The window every stream starts with, fixed by the protocol.
    public static let protocolInitialWindow: UInt32 = 256 * 1024

    /// Receive window granted to the peer per stream (≥ 256 KiB; the extra is granted with the
    /// SYN or ACK window update).
    public var initialStreamWindow: UInt32 = YamuxConfig.protocolInitialWindow
    /// Largest receive window auto-tuning may grow a stream to.
    public var maxStreamWindow: UInt32 = 16 * 1024 * 1024
    /// Grow the receive window (doubling, up to `maxStreamWindow`) when the application consumes a
    /// whole window within four round trips, as go-yamux does. Needs an RTT sample from `ping`.
    /// Kept on, with the 256 KiB start, because nothing measured faster: one 256 MiB stream over
    /// loopback on 2 shared cores (`p2pnode-bench transport stream`, medians of 3 runs, 9 sets):
    /// auto-tuned 920–2199 MB/s at 0.92–1.53 core-s/GB; 16 MiB from the start 1009–1829 MB/s at
    /// 1.08–1.56; fixed 256 KiB (auto-tuning off) 788–1054 MB/s at 1.29–1.61.
    public var windowAutoTuning = true
    /// Inbound streams not yet acknowledged (no frame sent on them yet) before new SYNs are reset;
    /// also the number of our own opened streams that may await the peer's ACK.
    public var acceptBacklog = 256
    /// Inbound streams open at once; further SYNs are answered with RST.
    public var maxInboundStreams = 1000
    /// Outbound streams open at once; `openStream` throws beyond it.
    public var maxOutboundStreams = 1000
    /// Largest data payload we put in one frame (go-yamux: MaxMessageSize 64 KiB minus the header).
    public var maxFrameData = 64 * 1024 - YamuxFrameHeader.size
    /// Bytes `write` queues per stream beyond what the send window lets out; `write` accepts
    /// less than asked when the queue is full and `.writable` follows when it drains to half.
    public var maxSendQueue = 1024 * 1024
    /// Ping replies queued before `takeOutbound` collects them; more pings are not answered.
    public var pingBacklog = 32

    public init() {}
}
