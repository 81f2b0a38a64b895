import Dispatch
import Foundation
import Logging
import P2PCore
import Rollup

/// Serves `payload_by_number` on a host: registers op-node's protocol id and kona's trailing-slash
/// variant, reads the 8-byte request (10 s), lets the sans-IO `PayloadByNumberServer` decide
/// (rate limits, result codes, throttling waits), and writes the response (10 s), then closes.
///
/// The server core lives on `queue`; streams on their connections' queues.
/// `@unchecked Sendable` is safe because each piece of state is only touched on its own queue.
public final class PayloadByNumberService: @unchecked Sendable {
    public static let readTimeout: Duration = .seconds(10)
    public static let writeTimeout: Duration = .seconds(10)

    public let host: P2PHost
    public let queue = DispatchQueue(label: "p2pnode.reqresp.server")
    public var logger = Logger(label: "p2pnode.reqresp")
    private var server: PayloadByNumberServer
    private let chainID: UInt64

    public init(host: P2PHost, config: RollupConfig, source: any PayloadSource,
                options: PayloadByNumberServer.Options = .init()) {
        self.host = host
        self.chainID = config.chainID
        self.server = PayloadByNumberServer(config: config, source: source, options: options)
    }

    /// Registers the protocol handlers. They hold the service, so it lives as long as they are
    /// registered.
    public func start() {
        for id in PayloadByNumber.protocolIDs(chainID: chainID) {
            host.setStreamHandler(id) { stream in self.serve(stream) }
        }
    }

    public var stats: PayloadByNumberServerStats { queue.sync { server.stats } }

    private var now: Duration { .nanoseconds(Int64(Date().timeIntervalSince1970 * 1e9)) }

    /// On the stream's queue: collect exactly 8 bytes (the client half-closes after them).
    private func serve(_ stream: P2PStream) {
        var request: [UInt8] = []
        var handled = false
        let timer = QueueTimer(queue: stream.queue)
        func handle(_ r: Result<[UInt8], any Error>) {
            guard !handled else { return }
            handled = true
            timer.cancel()
            stream.onData = { _ in }
            queue.async { self.decide(stream, r) }
        }
        timer.schedule(after: Self.readTimeout) { handle(.failure(HostError.timedOut("request read"))) }
        stream.onData = { chunk in
            request += chunk
            if request.count >= PayloadByNumber.requestSize { handle(.success(Array(request.prefix(PayloadByNumber.requestSize)))) }
        }
        stream.onRemoteClose = { handle(request.count == PayloadByNumber.requestSize ? .success(request) : .failure(HostError.malformed("short request"))) }
        stream.onReset = { _ in handle(.failure(HostError.streamReset)) }
    }

    /// On `queue`.
    private func decide(_ stream: P2PStream, _ request: Result<[UInt8], any Error>) {
        let handling = server.handleRequest(from: stream.remotePeer, request: request, now: now)
        switch handling.action {
        case .respond(let response):
            write(response, on: stream, ticket: handling.ticket)
        case .respondAfter(let wait):
            queue.asyncAfter(deadline: .now() + .nanoseconds(Int(clamping: wait.clampedNanoseconds))) {
                if stream.isReset { self.server.finished(handling.ticket, now: self.now, delivered: false); return }
                self.write(self.server.resume(handling.ticket, now: self.now), on: stream, ticket: handling.ticket)
            }
        }
    }

    private func write(_ response: ServerResponse, on stream: P2PStream, ticket: ServerTicket) {
        stream.queue.async {
            let timer = QueueTimer(queue: stream.queue)
            var done = false
            func finish(_ delivered: Bool) {
                guard !done else { return }
                done = true
                timer.cancel()
                self.queue.async { self.server.finished(ticket, now: self.now, delivered: delivered) }
            }
            timer.schedule(after: Self.writeTimeout) { stream.reset(); finish(false) }
            stream.onReset = { _ in finish(false) }
            stream.write(response.bytes)
            stream.closeWrite()
            if stream.isWritable { finish(!stream.isReset) } else { stream.onWritable = { finish(true) } }
        }
    }
}

extension BlockStore: PayloadSource {
    /// The canonical block at `number` as the server sends it: version 1 (envelope) for V3/V4
    /// layouts, i.e. Ecotone and later, version 0 otherwise (spec §5.1).
    public func payload(number: UInt64) throws -> ServedPayload? {
        guard let (ssz, layout) = try sszBytes(number: number) else { return nil }
        return ServedPayload(version: layout >= .v3 ? 1 : 0, ssz: ssz)
    }
}
