/// Per-stream state of a `YamuxSession`: lifecycle, send window and queue, receive window
/// accounting. Mirrors go-yamux `stream.go` (states, `sendFlags`, `sendWindowUpdate`) and the
/// window arithmetic of `segmentedBuffer.GrowTo` in `util.go`.
struct YamuxStream {
    enum Phase {
        /// We opened it; the SYN went out, the peer's ACK has not arrived.
        case synSent
        /// The peer opened it; our ACK has not gone out yet.
        case synReceived
        case established
    }

    var phase: Phase
    /// We sent FIN.
    var writeClosed = false
    /// `closeWrite` was called while data was still queued: FIN follows the queue.
    var finPending = false
    /// The peer sent FIN.
    var readClosed = false

    // Send side.
    var sendWindow: UInt32 = YamuxConfig.protocolInitialWindow
    var queue = ByteQueue()
    /// A `write` was short; `.writable` is owed once the queue drains to half.
    var writerBlocked = false
    /// The stream is in the session's round-robin list of streams with something to send.
    var scheduled = false

    // Receive side (go-yamux: recvWindow, segmentedBuffer cap/len).
    /// Target receive window; grows with auto-tuning.
    var recvWindow: UInt32
    /// Credit the peer still has: bytes it may send before our next window update.
    var recvAvailable: UInt32 = YamuxConfig.protocolInitialWindow
    /// Bytes delivered to the application and not yet reported consumed.
    var buffered: UInt32 = 0
    /// Start of the current auto-tuning epoch (last window update).
    var epochStart: Duration

    init(phase: Phase, recvWindow: UInt32, now: Duration) {
        self.phase = phase
        self.recvWindow = recvWindow
        self.epochStart = now
    }

    var isFinished: Bool { writeClosed && readClosed }
    var hasSendable: Bool { (!queue.isEmpty && sendWindow > 0) || (finPending && queue.isEmpty) }

    /// go-yamux `GrowTo(max, force)`: if the window (credit + unconsumed) has fallen to half of
    /// `max` or less (or `force`), credit the peer up to `max`. Returns whether an update is due
    /// and the credit added.
    mutating func growReceiveWindow(to max: UInt32, force: Bool) -> (needed: Bool, delta: UInt32) {
        let current = UInt64(recvAvailable) + UInt64(buffered)
        guard current < UInt64(max) else { return (force, 0) }
        let delta = UInt32(UInt64(max) - current)
        if delta < max / 2 && !force { return (false, 0) }
        recvAvailable += delta
        return (true, delta)
    }
}

/// A FIFO byte queue of slices of the writers' arrays (no copy of large writes); small writes are
/// joined into one segment so that a stream of tiny messages does not become a list of tiny slices.
struct ByteQueue {
    private var segments: [ArraySlice<UInt8>] = []
    private var head = 0
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    /// The oldest queued segment.
    var first: ArraySlice<UInt8>? { head < segments.count ? segments[head] : nil }

    mutating func append(_ bytes: ArraySlice<UInt8>) {
        guard !bytes.isEmpty else { return }
        count += bytes.count
        if bytes.count < YamuxSession.copyBelow, segments.count > head,
           segments[segments.count - 1].count < 16 * YamuxSession.copyBelow {
            segments[segments.count - 1].append(contentsOf: bytes)
        } else {
            segments.append(bytes)
        }
    }

    /// Removes the first `n` (at most `count`) queued bytes and returns them as slices.
    mutating func take(_ n: Int) -> [ArraySlice<UInt8>] {
        var out: [ArraySlice<UInt8>] = []
        removeFirst(n) { out.append($0) }
        return out
    }

    /// Removes the first `n` (at most `count`) queued bytes, handing each removed slice to `each`.
    mutating func removeFirst(_ n: Int, _ each: (ArraySlice<UInt8>) -> Void = { _ in }) {
        var left = min(n, count)
        count -= left
        while left > 0 && head < segments.count {
            let first = segments[head]
            if first.count <= left {
                each(first)
                left -= first.count
                segments[head] = []
                head += 1
            } else {
                each(first.prefix(left))
                segments[head] = first.dropFirst(left)
                left = 0
            }
        }
        if head == segments.count {
            segments.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 64 && head * 2 >= segments.count {
            segments.removeSubrange(0..<head)
            head = 0
        }
    }

    mutating func removeAll() {
        segments = []
        head = 0
        count = 0
    }
}
