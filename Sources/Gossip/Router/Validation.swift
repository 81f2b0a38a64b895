import P2PCore

/// Bookkeeping of the validation pipeline (go-libp2p-pubsub `validation.go`): messages handed to
/// the application with `.validate` and not yet answered are bounded per topic
/// (`WithValidatorConcurrency`, op-node 4) and in total (`WithValidateThrottle`, op-node 512);
/// messages beyond those bounds wait in a FIFO queue (go's `validateQ`, `WithValidateQueueSize`,
/// op-node 256) and are handed out as answers free slots. A message that finds the queue full is
/// dropped before it is marked seen, without penalising its sender (go
/// `RejectValidationQueueFull`). An answer that does not come within the validation timeout
/// counts as IGNORE, so a host that never answers cannot wedge the pipeline.
///
/// go starts each validation on its own goroutine and drops (as "throttled") one that finds its
/// topic's slots busy at that instant; a sans-IO router hands out all the messages of an RPC
/// before the host answers any, so waiting in the queue is what keeps a repair burst (several
/// messages in one IWANT answer) from being dropped.
struct ValidationPipeline {
    struct Pending {
        let message: PBMessage
        let topic: String
        let from: PeerID
        var started: UInt64
    }

    let perTopicLimit: Int
    let totalLimit: Int
    let queueLimit: Int
    let timeout: UInt64
    private(set) var inFlight: [MessageID: Pending] = [:]
    private var perTopic: [String: Int] = [:]
    private var queue: [(id: MessageID, pending: Pending)] = []

    init(perTopicLimit: Int, totalLimit: Int, queueLimit: Int, timeout: UInt64) {
        self.perTopicLimit = perTopicLimit
        self.totalLimit = totalLimit
        self.queueLimit = queueLimit
        self.timeout = timeout
    }

    var count: Int { inFlight.count + queue.count }
    var queued: Int { queue.count }

    private func canStart(_ topic: String) -> Bool {
        inFlight.count < totalLimit && perTopic[topic, default: 0] < perTopicLimit
    }

    /// Whether a message for `topic` would be accepted (started or queued) now.
    func hasRoom(for topic: String) -> Bool {
        canStart(topic) || queue.count < queueLimit
    }

    /// Starts `id` if a slot is free (true: hand it to the application now) or queues it (false).
    /// The caller checks `hasRoom` first.
    mutating func submit(_ id: MessageID, _ p: Pending) -> Bool {
        if canStart(p.topic) && inFlight[id] == nil {
            start(id, p)
            return true
        }
        queue.append((id, p))
        return false
    }

    private mutating func start(_ id: MessageID, _ p: Pending) {
        inFlight[id] = p
        perTopic[p.topic, default: 0] += 1
    }

    /// Releases the slot of `id`, returning what was in flight (nil if unknown or already answered).
    mutating func complete(_ id: MessageID) -> Pending? {
        guard let p = inFlight.removeValue(forKey: id) else { return nil }
        let n = (perTopic[p.topic] ?? 1) - 1
        perTopic[p.topic] = n > 0 ? n : nil
        return p
    }

    /// Moves queued messages whose topic has a free slot into flight, oldest first; returns them.
    mutating func startQueued(now: UInt64) -> [(id: MessageID, pending: Pending)] {
        guard !queue.isEmpty else { return [] }
        var started: [(id: MessageID, pending: Pending)] = []
        var waiting: [(id: MessageID, pending: Pending)] = []
        for var entry in queue {
            if canStart(entry.pending.topic) && inFlight[entry.id] == nil {
                entry.pending.started = now
                start(entry.id, entry.pending)
                started.append(entry)
            } else {
                waiting.append(entry)
            }
        }
        queue = waiting
        return started
    }

    /// In-flight ids whose validation has timed out, oldest first.
    func expired(now: UInt64) -> [MessageID] {
        inFlight.filter { $0.value.started &+ timeout <= now }
            .sorted { a, b in
                a.value.started != b.value.started ? a.value.started < b.value.started
                    : a.key.bytes.lexicographicallyPrecedes(b.key.bytes)
            }
            .map(\.key)
    }
}
