/// Engine-API JSON for payloads and envelopes, field for field as op-node's `eth.ExecutionPayload`
/// (op-service/eth/types.go) and go-ethereum's `hexutil` rules. Spec §1.5: quantities are minimal
/// `0x`-hex, byte fields `0x`-hex; `withdrawals`, `blobGasUsed`/`excessBlobGas`, `withdrawalsRoot`
/// and the envelope's `parentBeaconBlockRoot` are omitted when nil. Decoding is strict and bounded:
/// every malformed field gives a `PayloadJSONError` naming it.
import Foundation
import P2PCore

/// Why a JSON document is not a valid payload or envelope. `field` is a path such as
/// `executionPayload.transactions[3]`.
public enum PayloadJSONError: Error, Equatable, Sendable, CustomStringConvertible {
    case documentTooLarge(Int, max: Int)
    case nestingTooDeep(max: Int)
    case malformedJSON
    case expectedObject(field: String)
    case missingField(String)
    case wrongType(field: String, expected: String)
    case invalidHex(field: String, reason: String)
    case invalidQuantity(field: String, HexQuantityError)
    case wrongLength(field: String, expected: Int, got: Int)
    case tooMany(field: String, max: Int, got: Int)

    public var description: String {
        switch self {
        case .documentTooLarge(let n, let m): return "JSON document of \(n) bytes exceeds \(m)"
        case .nestingTooDeep(let m): return "JSON document nests arrays/objects deeper than \(m)"
        case .malformedJSON: return "document is not valid JSON"
        case .expectedObject(let f): return "\(f) must be a JSON object"
        case .missingField(let f): return "missing required field \(f)"
        case .wrongType(let f, let e): return "\(f) must be \(e)"
        case .invalidHex(let f, let r): return "\(f): \(r)"
        case .invalidQuantity(let f, let e): return "\(f): \(e)"
        case .wrongLength(let f, let e, let g): return "\(f) must be \(e) bytes, got \(g)"
        case .tooMany(let f, let m, let g): return "\(f) has \(g) entries, at most \(m) allowed"
        }
    }
}

/// Bounds for decoding.
enum PayloadJSONLimits {
    /// A 10 MiB payload (the gossip maximum) is about 21 MiB as hex; leave headroom.
    static let maxDocumentSize = 32 << 20
    /// An envelope nests 4 deep (envelope, payload, withdrawals, withdrawal); the parser is
    /// recursive, so deeper documents are refused before parsing.
    static let maxNesting = 32
}

// MARK: - Decoding

/// Reads fields of one JSON object, naming them by path in errors.
private struct JSONFields {
    let object: [String: Any]
    let path: String

    init(_ value: Any, path: String) throws(PayloadJSONError) {
        guard let o = value as? [String: Any] else { throw .expectedObject(field: path.isEmpty ? "document" : path) }
        object = o
        self.path = path
    }

    func name(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// The value, or nil when absent or JSON null (Go pointer semantics).
    func optional(_ key: String) -> Any? {
        guard let v = object[key], !(v is NSNull) else { return nil }
        return v
    }

    func string(_ key: String) throws(PayloadJSONError) -> String? {
        guard let v = optional(key) else { return nil }
        guard let s = v as? String else { throw .wrongType(field: name(key), expected: "a string") }
        return s
    }

    func required<T>(_ key: String, _ read: (String) throws(PayloadJSONError) -> T?) throws(PayloadJSONError) -> T {
        guard let v = try read(key) else { throw .missingField(name(key)) }
        return v
    }

    /// `0x`-prefixed hex bytes, optionally of an exact length.
    func bytes(_ key: String, count: Int? = nil, max: Int? = nil) throws(PayloadJSONError) -> [UInt8]? {
        guard let s = try string(key) else { return nil }
        return try decodeHexBytes(s, field: name(key), count: count, max: max)
    }

    func uint64(_ key: String) throws(PayloadJSONError) -> UInt64? {
        guard let s = try string(key) else { return nil }
        do { return try UInt64(hexQuantity: s) } catch { throw .invalidQuantity(field: name(key), error) }
    }

    func uint256(_ key: String) throws(PayloadJSONError) -> UInt256? {
        guard let s = try string(key) else { return nil }
        do { return try UInt256(hexQuantity: s) } catch { throw .invalidQuantity(field: name(key), error) }
    }

    func array(_ key: String, max: Int) throws(PayloadJSONError) -> [Any]? {
        guard let v = optional(key) else { return nil }
        guard let a = v as? [Any] else { throw .wrongType(field: name(key), expected: "an array") }
        guard a.count <= max else { throw .tooMany(field: name(key), max: max, got: a.count) }
        return a
    }
}

private func decodeHexBytes(_ s: String, field: String, count: Int?, max: Int?) throws(PayloadJSONError) -> [UInt8] {
    guard s.hasHexPrefix else { throw .invalidHex(field: field, reason: "hex string lacks the 0x prefix") }
    let digits = s.utf8.count - 2
    if digits % 2 == 0 {
        if let count, digits / 2 != count { throw .wrongLength(field: field, expected: count, got: digits / 2) }
        if let max, digits / 2 > max { throw .tooMany(field: field, max: max, got: digits / 2) }
    }
    do { return try [UInt8](hex: s) } catch { throw .invalidHex(field: field, reason: error.description) }
}

/// The deepest array/object nesting of a JSON text (brackets inside strings do not count),
/// stopping early once it exceeds `limit`.
private func jsonNestingDepth(_ data: some Collection<UInt8>, limit: Int) -> Int {
    var depth = 0, deepest = 0
    var inString = false, escaped = false
    for c in data {
        if inString {
            if escaped { escaped = false } else if c == UInt8(ascii: "\\") { escaped = true } else if c == UInt8(ascii: "\"") { inString = false }
            continue
        }
        switch c {
        case UInt8(ascii: "\""): inString = true
        case UInt8(ascii: "["), UInt8(ascii: "{"):
            depth += 1
            deepest = max(deepest, depth)
            if deepest > limit { return deepest }
        case UInt8(ascii: "]"), UInt8(ascii: "}"): depth -= 1
        default: break
        }
    }
    return deepest
}

private func parseDocument(_ data: some Collection<UInt8>) throws(PayloadJSONError) -> Any {
    guard data.count <= PayloadJSONLimits.maxDocumentSize else {
        throw .documentTooLarge(data.count, max: PayloadJSONLimits.maxDocumentSize)
    }
    guard jsonNestingDepth(data, limit: PayloadJSONLimits.maxNesting) <= PayloadJSONLimits.maxNesting else {
        throw .nestingTooDeep(max: PayloadJSONLimits.maxNesting)
    }
    do {
        return try JSONSerialization.jsonObject(with: Data(data), options: [])
    } catch {
        throw .malformedJSON
    }
}

extension Withdrawal {
    init(jsonObject: Any, path: String) throws(PayloadJSONError) {
        let f = try JSONFields(jsonObject, path: path)
        self.init(index: try f.required("index", f.uint64),
                  validatorIndex: try f.required("validatorIndex", f.uint64),
                  address: try f.required("address") { k throws(PayloadJSONError) in try f.bytes(k, count: PayloadLimits.addressSize) },
                  amount: try f.required("amount", f.uint64))
    }
}

extension ExecutionPayload {
    /// Decodes Engine-API JSON: either a bare payload object or an envelope
    /// `{"executionPayload": …, "parentBeaconBlockRoot": …}` (the payload part is returned).
    public init(engineJSON data: some Collection<UInt8>) throws(PayloadJSONError) {
        self = try ExecutionPayloadEnvelope(engineJSON: data).payload
    }

    /// Decodes an already-parsed JSON payload object (e.g. from `JSONSerialization`), such as
    /// `params[0]` of `engine_newPayloadV4`. `path` prefixes field names in errors.
    public init(jsonObject: Any, path: String = "") throws(PayloadJSONError) {
        let f = try JSONFields(jsonObject, path: path)
        func hash(_ k: String) throws(PayloadJSONError) -> [UInt8] {
            try f.required(k) { k throws(PayloadJSONError) in try f.bytes(k, count: PayloadLimits.hashSize) }
        }
        // Fields are read in §1.5 order, so the first bad one in that order is reported.
        let parentHash = try hash("parentHash")
        let feeRecipient = try f.required("feeRecipient") { k throws(PayloadJSONError) in try f.bytes(k, count: PayloadLimits.addressSize) }
        let stateRoot = try hash("stateRoot")
        let receiptsRoot = try hash("receiptsRoot")
        let logsBloom = try f.required("logsBloom") { k throws(PayloadJSONError) in try f.bytes(k, count: PayloadLimits.bloomSize) }
        let prevRandao = try hash("prevRandao")
        let blockNumber = try f.required("blockNumber", f.uint64)
        let gasLimit = try f.required("gasLimit", f.uint64)
        let gasUsed = try f.required("gasUsed", f.uint64)
        let timestamp = try f.required("timestamp", f.uint64)
        let extraData = try f.required("extraData") { k throws(PayloadJSONError) in try f.bytes(k, max: PayloadLimits.maxExtraData) }
        let baseFeePerGas = try f.required("baseFeePerGas", f.uint256)
        let blockHash = try hash("blockHash")
        let txItems = try f.required("transactions") { k throws(PayloadJSONError) in
            try f.array(k, max: PayloadLimits.maxTransactions)
        }
        var transactions = [[UInt8]]()
        transactions.reserveCapacity(txItems.count)
        for (i, item) in txItems.enumerated() {
            let field = f.name("transactions[\(i)]")
            guard let s = item as? String else { throw .wrongType(field: field, expected: "a string") }
            transactions.append(try decodeHexBytes(s, field: field, count: nil, max: nil))
        }
        var withdrawals: [Withdrawal]? = nil
        if let items = try f.array("withdrawals", max: PayloadLimits.maxWithdrawals) {
            var ws = [Withdrawal]()
            ws.reserveCapacity(items.count)
            for (i, item) in items.enumerated() {
                ws.append(try Withdrawal(jsonObject: item, path: f.name("withdrawals[\(i)]")))
            }
            withdrawals = ws
        }
        self.init(
            parentHash: parentHash, feeRecipient: feeRecipient, stateRoot: stateRoot, receiptsRoot: receiptsRoot,
            logsBloom: logsBloom, prevRandao: prevRandao, blockNumber: blockNumber, gasLimit: gasLimit,
            gasUsed: gasUsed, timestamp: timestamp, extraData: extraData, baseFeePerGas: baseFeePerGas,
            blockHash: blockHash, transactions: transactions, withdrawals: withdrawals,
            blobGasUsed: try f.uint64("blobGasUsed"),
            excessBlobGas: try f.uint64("excessBlobGas"),
            withdrawalsRoot: try f.bytes("withdrawalsRoot", count: PayloadLimits.hashSize))
    }
}

extension ExecutionPayloadEnvelope {
    /// Decodes Engine-API JSON: an envelope `{"executionPayload": …, "parentBeaconBlockRoot": …}`,
    /// or a bare payload object (then `parentBeaconBlockRoot` is nil).
    public init(engineJSON data: some Collection<UInt8>) throws(PayloadJSONError) {
        try self.init(jsonObject: try parseDocument(data))
    }

    /// Decodes an already-parsed JSON envelope or bare payload object.
    public init(jsonObject: Any) throws(PayloadJSONError) {
        let f = try JSONFields(jsonObject, path: "")
        if let inner = f.optional("executionPayload") {
            self.init(payload: try ExecutionPayload(jsonObject: inner, path: "executionPayload"),
                      parentBeaconBlockRoot: try f.bytes("parentBeaconBlockRoot", count: PayloadLimits.hashSize))
        } else {
            self.init(payload: try ExecutionPayload(jsonObject: jsonObject))
        }
    }
}

// MARK: - Encoding

extension ExecutionPayload {
    /// Compact Engine-API JSON of the payload. Optional fields are written iff non-nil (§1.5).
    public func engineJSON() -> String {
        var s = ""
        appendEngineJSON(to: &s)
        return s
    }

    func appendEngineJSON(to s: inout String) {
        s.reserveCapacity(s.utf8.count + 1200 + transactions.reduce(0) { $0 + 2 * $1.count + 5 })
        func field(_ key: String, _ value: String, first: Bool = false) {
            if !first { s += "," }
            s += "\"\(key)\":\"\(value)\""
        }
        s += "{"
        field("parentHash", parentHash.prefixedHex, first: true)
        field("feeRecipient", feeRecipient.prefixedHex)
        field("stateRoot", stateRoot.prefixedHex)
        field("receiptsRoot", receiptsRoot.prefixedHex)
        field("logsBloom", logsBloom.prefixedHex)
        field("prevRandao", prevRandao.prefixedHex)
        field("blockNumber", blockNumber.hexQuantity)
        field("gasLimit", gasLimit.hexQuantity)
        field("gasUsed", gasUsed.hexQuantity)
        field("timestamp", timestamp.hexQuantity)
        field("extraData", extraData.prefixedHex)
        field("baseFeePerGas", baseFeePerGas.hexQuantity)
        field("blockHash", blockHash.prefixedHex)
        s += ",\"transactions\":["
        for (i, tx) in transactions.enumerated() {
            if i > 0 { s += "," }
            s += "\"\(tx.prefixedHex)\""
        }
        s += "]"
        if let withdrawals {
            s += ",\"withdrawals\":["
            for (i, w) in withdrawals.enumerated() {
                if i > 0 { s += "," }
                s += "{\"index\":\"\(w.index.hexQuantity)\",\"validatorIndex\":\"\(w.validatorIndex.hexQuantity)\","
                s += "\"address\":\"\(w.address.prefixedHex)\",\"amount\":\"\(w.amount.hexQuantity)\"}"
            }
            s += "]"
        }
        if let blobGasUsed { field("blobGasUsed", blobGasUsed.hexQuantity) }
        if let excessBlobGas { field("excessBlobGas", excessBlobGas.hexQuantity) }
        if let withdrawalsRoot { field("withdrawalsRoot", withdrawalsRoot.prefixedHex) }
        s += "}"
    }
}

extension ExecutionPayloadEnvelope {
    /// `{"executionPayload":{…},"parentBeaconBlockRoot":"0x…"}`, the root omitted when nil.
    public func engineJSON() -> String {
        var s = "{\"executionPayload\":"
        payload.appendEngineJSON(to: &s)
        if let root = parentBeaconBlockRoot { s += ",\"parentBeaconBlockRoot\":\"\(root.prefixedHex)\"" }
        s += "}"
        return s
    }
}
