import P2PCore
import Rollup

/// The `payload_by_number` wire format (spec §5.1).
///
///     request:  u64le(block number)                                   exactly 8 bytes, then half-close
///     response: result[1]                                              result != 0: nothing else
///               result = 0: u32le(version) ++ snappy-FRAMED(payload)   read to EOF, ≤ 10 MiB raw
///
/// version 0 = SSZ ExecutionPayload (V1 or V2 layout by Canyon at TimestampForBlock(n)),
/// version 1 = envelope pbr ++ payload (V3 or V4 by Isthmus). The server sends 1 iff Ecotone is
/// active at the payload's timestamp. op-node never produces the prose spec's version 2.
public enum PayloadByNumber {
    /// op-node's protocol id (no trailing slash).
    public static func protocolID(chainID: UInt64) -> String { "/opstack/req/payload_by_number/\(chainID)/0" }
    /// kona's variant with a trailing slash; a server registers both.
    public static func protocolIDs(chainID: UInt64) -> [String] {
        let id = protocolID(chainID: chainID)
        return [id, id + "/"]
    }

    public static let requestSize = 8
    /// Raw response stream cap and decompressed cap (10 MiB each).
    public static let maxResponseSize = 10 * 1024 * 1024
    public static let headerSize = 5

    public enum ResultCode: UInt8, Sendable, CustomStringConvertible {
        case success = 0
        case notFound = 1
        case invalidRequest = 2
        case otherError = 3

        public var description: String {
            switch self {
            case .success: return "success"
            case .notFound: return "not found"
            case .invalidRequest: return "invalid request"
            case .otherError: return "error"
            }
        }
    }

    public static func encodeRequest(_ number: UInt64) -> [UInt8] {
        withUnsafeBytes(of: number.littleEndian) { Array($0) }
    }

    public static func decodeRequest<C: Collection>(_ bytes: C) throws(PayloadByNumberError) -> UInt64 where C.Element == UInt8 {
        guard bytes.count == requestSize else { throw .badRequestLength(bytes.count) }
        var v: UInt64 = 0
        for (i, b) in bytes.enumerated() { v |= UInt64(b) << (8 * UInt64(i)) }
        return v
    }

    /// The version byte a server sends for a payload: 1 (envelope) iff Ecotone is active at its timestamp.
    public static func responseVersion(for payload: ExecutionPayload, config: RollupConfig) -> UInt32 {
        config.isActive(.ecotone, at: payload.timestamp) ? 1 : 0
    }

    /// A complete success response for `envelope`. The SSZ layout follows the payload's fork.
    public static func encodeSuccess(_ envelope: ExecutionPayloadEnvelope, config: RollupConfig) throws(SSZError) -> [UInt8] {
        let version = responseVersion(for: envelope.payload, config: config)
        let layout = config.payloadVersion(at: envelope.payload.timestamp)
        let ssz = try envelope.sszEncoded(version: layout)
        return encodeSuccess(version: version, ssz: ssz)
    }

    /// A success response around already-encoded SSZ bytes (what the block store keeps).
    public static func encodeSuccess(version: UInt32, ssz: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [ResultCode.success.rawValue]
        withUnsafeBytes(of: version.littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: SnappyFramed.encode(ssz))
        return out
    }

    /// The SSZ layout a client decodes for `version` when it asked for block `number` (spec §5.1).
    public static func layout(version: UInt32, requestedNumber number: UInt64, config: RollupConfig) throws(PayloadByNumberError) -> PayloadVersion {
        let ts = config.timestampForBlock(number)
        switch version {
        case 0: return config.isActive(.canyon, at: ts) ? .v2 : .v1
        case 1: return config.isActive(.isthmus, at: ts) ? .v4 : .v3
        default: throw .unknownVersion(version)
        }
    }

    /// Decodes a whole response as op-node's client does and checks that it is block `number`
    /// with a valid hash. Returns the envelope and the layout it was decoded with.
    public static func decodeResponse(_ bytes: [UInt8], requestedNumber number: UInt64,
                                      config: RollupConfig) throws(PayloadByNumberError) -> (ExecutionPayloadEnvelope, PayloadVersion) {
        var d = ResponseDecoder(requestedNumber: number, config: config)
        try d.feed(bytes)
        return try d.finish()
    }
}

public enum PayloadByNumberError: Error, Equatable, Sendable, CustomStringConvertible {
    case badRequestLength(Int)
    case emptyResponse
    case resultCode(UInt8)
    case truncatedHeader
    case unknownVersion(UInt32)
    case responseTooLarge
    case snappy(SnappyError)
    case ssz(SSZError)
    case wrongBlockNumber(expected: UInt64, got: UInt64)
    case invalidBlockHash

    public var description: String {
        switch self {
        case .badRequestLength(let n): return "request must be 8 bytes, got \(n)"
        case .emptyResponse: return "empty response"
        case .resultCode(let c):
            let name = PayloadByNumber.ResultCode(rawValue: c).map { "\($0)" } ?? "unknown"
            return "peer answered result code \(c) (\(name))"
        case .truncatedHeader: return "response ends inside the 5-byte header"
        case .unknownVersion(let v): return "unrecognized version \(v)"
        case .responseTooLarge: return "response exceeds 10 MiB"
        case .snappy(let e): return "snappy framed: \(e)"
        case .ssz(let e): return "payload: \(e)"
        case .wrongBlockNumber(let e, let g): return "asked for block \(e), got \(g)"
        case .invalidBlockHash: return "block hash does not match contents"
        }
    }

    /// True when the peer said it does not have the block (not penalised, spec §4.2).
    public var isNotFound: Bool { self == .resultCode(PayloadByNumber.ResultCode.notFound.rawValue) }
}

/// Streaming, bounded decoder for one response: feed socket reads as they come, then `finish()`
/// at EOF. Never buffers more than 10 MiB of input or output.
public struct ResponseDecoder: Sendable {
    public let requestedNumber: UInt64
    public let config: RollupConfig
    private var header: [UInt8] = []
    private var received = 0
    private var framed = SnappyFramedDecoder(maxOutput: PayloadByNumber.maxResponseSize)

    public init(requestedNumber: UInt64, config: RollupConfig) {
        self.requestedNumber = requestedNumber
        self.config = config
    }

    public mutating func feed<C: Collection>(_ bytes: C) throws(PayloadByNumberError) where C.Element == UInt8 {
        received += bytes.count
        guard received <= PayloadByNumber.maxResponseSize else { throw .responseTooLarge }
        var rest = bytes[...]
        if header.count < PayloadByNumber.headerSize {
            let take = min(PayloadByNumber.headerSize - header.count, rest.count)
            header.append(contentsOf: rest.prefix(take))
            rest = rest.dropFirst(take)
            if let code = header.first, code != 0 { throw .resultCode(code) }  // anything after is ignored
        }
        if !rest.isEmpty {
            do { try framed.feed(rest) } catch { throw .snappy(error) }
        }
    }

    public mutating func finish() throws(PayloadByNumberError) -> (ExecutionPayloadEnvelope, PayloadVersion) {
        guard let code = header.first else { throw .emptyResponse }
        guard code == 0 else { throw .resultCode(code) }
        guard header.count == PayloadByNumber.headerSize else { throw .truncatedHeader }
        let version = UInt32(header[1]) | UInt32(header[2]) << 8 | UInt32(header[3]) << 16 | UInt32(header[4]) << 24
        let layout = try PayloadByNumber.layout(version: version, requestedNumber: requestedNumber, config: config)
        let ssz: [UInt8]
        do { ssz = try framed.finish() } catch { throw .snappy(error) }
        let envelope: ExecutionPayloadEnvelope
        do { envelope = try ExecutionPayloadEnvelope(ssz: ssz, version: layout) } catch { throw .ssz(error) }
        guard envelope.payload.blockNumber == requestedNumber else {
            throw .wrongBlockNumber(expected: requestedNumber, got: envelope.payload.blockNumber)
        }
        guard envelope.checkBlockHash(version: layout) else { throw .invalidBlockHash }
        return (envelope, layout)
    }
}

extension PayloadByNumber {
    /// The layout of decompressed response bytes judged from the extraData offset alone, for
    /// inspection without a rollup config (the offset equals the layout's fixed size, §1.3).
    public static func inferLayout(version: UInt32, ssz: [UInt8]) -> PayloadVersion? {
        let base = version == 1 ? 32 : 0
        guard version <= 1, ssz.count >= base + 440 else { return nil }
        let off = Int(ssz[base + 436]) | Int(ssz[base + 437]) << 8 | Int(ssz[base + 438]) << 16 | Int(ssz[base + 439]) << 24
        let candidates: [PayloadVersion] = version == 1 ? [.v3, .v4] : [.v1, .v2]
        return candidates.first { $0.sszFixedSize == off }
    }
}
