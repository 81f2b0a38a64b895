/// SSZ codec for `ExecutionPayload` V1…V4 and the V3/V4 envelope (parentBeaconBlockRoot ++ payload),
/// equivalent to op-node's hand-written codec (op-service/eth/ssz.go). Spec §1.3: every decoder
/// bound is checked before anything is allocated; the layout always comes from the caller's version.

/// Why SSZ bytes could not be decoded, or a payload could not be encoded, for a version.
public enum SSZError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The input is shorter than the version's fixed part.
    case scopeTooSmall(version: PayloadVersion, fixedSize: Int, scope: Int)
    /// offset(extraData) at byte 436 must equal the fixed size.
    case invalidExtraDataOffset(expected: Int, got: Int)
    /// offset(transactions) at byte 504 must lie in [offset(extraData), scope].
    case invalidTransactionsOffset(offset: Int, extraDataOffset: Int, scope: Int)
    /// extraData is longer than 32 bytes.
    case extraDataTooLong(Int)
    /// offset(withdrawals) at byte 508 must lie in [offset(transactions), scope].
    case invalidWithdrawalsOffset(offset: Int, transactionsOffset: Int, scope: Int)
    /// A non-empty transaction list shorter than one 4-byte offset.
    case transactionListTooShort(Int)
    /// The first transaction offset must be a non-zero multiple of 4 within the list.
    case invalidFirstTransactionOffset(offset: Int, listSize: Int)
    case tooManyTransactions(Int)
    /// Transaction offsets must be non-decreasing and within the list.
    case invalidTransactionOffset(index: Int, offset: Int, previous: Int, listSize: Int)
    /// The withdrawals region must be a multiple of 44 bytes.
    case invalidWithdrawalsSize(Int)
    case tooManyWithdrawals(Int)
    /// A V3/V4 envelope shorter than its 32-byte parent beacon block root.
    case envelopeTooShort(Int)
    /// Encoding: the version requires a field that is nil.
    case missingField(String, version: PayloadVersion)
    /// Encoding: a fixed-size byte field has the wrong length.
    case wrongFieldLength(field: String, expected: Int, got: Int)
    /// Encoding: the payload does not fit 32-bit SSZ offsets.
    case payloadTooLarge(Int)

    public var description: String {
        switch self {
        case .scopeTooSmall(let v, let f, let s):
            return "SSZ payload of \(s) bytes is shorter than the \(v) fixed part (\(f) bytes)"
        case .invalidExtraDataOffset(let e, let g):
            return "SSZ offset(extraData) is \(g), must equal the fixed size \(e)"
        case .invalidTransactionsOffset(let o, let e, let s):
            return "SSZ offset(transactions) \(o) is outside [\(e), \(s)]"
        case .extraDataTooLong(let n): return "extraData is \(n) bytes, at most 32 allowed"
        case .invalidWithdrawalsOffset(let o, let t, let s):
            return "SSZ offset(withdrawals) \(o) is outside [\(t), \(s)]"
        case .transactionListTooShort(let n): return "SSZ transaction list of \(n) bytes has no room for an offset"
        case .invalidFirstTransactionOffset(let o, let n):
            return "SSZ first transaction offset \(o) is not a non-zero multiple of 4 within the \(n)-byte list"
        case .tooManyTransactions(let n): return "\(n) transactions exceed the limit of 1048576"
        case .invalidTransactionOffset(let i, let o, let p, let n):
            return "SSZ transaction offset #\(i) is \(o), after \(p), outside the \(n)-byte list or decreasing"
        case .invalidWithdrawalsSize(let n): return "SSZ withdrawals region of \(n) bytes is not a multiple of 44"
        case .tooManyWithdrawals(let n): return "\(n) withdrawals exceed the limit of 16"
        case .envelopeTooShort(let n): return "envelope of \(n) bytes is shorter than the 32-byte parent beacon block root"
        case .missingField(let f, let v): return "\(v) payload requires field \(f)"
        case .wrongFieldLength(let f, let e, let g): return "field \(f) must be \(e) bytes, got \(g)"
        case .payloadTooLarge(let n): return "payload of \(n) bytes does not fit 32-bit SSZ offsets"
        }
    }
}

// MARK: - Decoding

extension ExecutionPayload {
    /// Decodes an SSZ payload in the layout of `version` (the whole input is the SSZ scope).
    public init(ssz bytes: some Collection<UInt8>, version: PayloadVersion) throws(SSZError) {
        self = try withRawBytes(bytes) { raw throws(SSZError) in try Self.decodeSSZ(raw, version: version) }
    }

    static func decodeSSZ(_ buf: UnsafeRawBufferPointer, version: PayloadVersion) throws(SSZError) -> ExecutionPayload {
        let scope = buf.count
        let fixed = version.sszFixedSize
        guard scope >= fixed else { throw .scopeTooSmall(version: version, fixedSize: fixed, scope: scope) }

        func u32(_ at: Int) -> Int { Int(UInt32(littleEndian: buf.loadUnaligned(fromByteOffset: at, as: UInt32.self))) }
        func u64(_ at: Int) -> UInt64 { UInt64(littleEndian: buf.loadUnaligned(fromByteOffset: at, as: UInt64.self)) }
        func bytes(_ range: Range<Int>) -> [UInt8] { Array(UnsafeRawBufferPointer(rebasing: buf[range])) }

        let extraOffset = u32(436)
        guard extraOffset == fixed else { throw .invalidExtraDataOffset(expected: fixed, got: extraOffset) }
        let txOffset = u32(504)
        guard txOffset >= extraOffset, txOffset <= scope else {
            throw .invalidTransactionsOffset(offset: txOffset, extraDataOffset: extraOffset, scope: scope)
        }
        guard txOffset - extraOffset <= PayloadLimits.maxExtraData else { throw .extraDataTooLong(txOffset - extraOffset) }

        var txEnd = scope
        if version.hasWithdrawals {
            let wOffset = u32(508)
            guard wOffset >= txOffset, wOffset <= scope else {
                throw .invalidWithdrawalsOffset(offset: wOffset, transactionsOffset: txOffset, scope: scope)
            }
            txEnd = wOffset
        }
        let transactions = try decodeTransactions(UnsafeRawBufferPointer(rebasing: buf[txOffset..<txEnd]))
        let withdrawals = version.hasWithdrawals
            ? try decodeWithdrawals(UnsafeRawBufferPointer(rebasing: buf[txEnd..<scope])) : nil

        return ExecutionPayload(
            parentHash: bytes(0..<32), feeRecipient: bytes(32..<52), stateRoot: bytes(52..<84),
            receiptsRoot: bytes(84..<116), logsBloom: bytes(116..<372), prevRandao: bytes(372..<404),
            blockNumber: u64(404), gasLimit: u64(412), gasUsed: u64(420), timestamp: u64(428),
            extraData: bytes(extraOffset..<txOffset),
            baseFeePerGas: UInt256(uncheckedBytesLE: UnsafeRawBufferPointer(rebasing: buf[440..<472])),
            blockHash: bytes(472..<504),
            transactions: transactions,
            withdrawals: withdrawals,
            blobGasUsed: version.hasBlobGas ? u64(512) : nil,
            excessBlobGas: version.hasBlobGas ? u64(520) : nil,
            withdrawalsRoot: version.hasWithdrawalsRoot ? bytes(528..<560) : nil)
    }

    /// `List[ByteList, 2^20]`: N u32 offsets (relative to the list start, first = 4·N), then the bytes.
    static func decodeTransactions(_ list: UnsafeRawBufferPointer) throws(SSZError) -> [[UInt8]] {
        let size = list.count
        if size == 0 { return [] }
        guard size >= 4 else { throw .transactionListTooShort(size) }
        func offset(_ i: Int) -> Int { Int(UInt32(littleEndian: list.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
        let first = offset(0)
        guard first != 0, first % 4 == 0, first <= size else { throw .invalidFirstTransactionOffset(offset: first, listSize: size) }
        let count = first / 4
        guard count <= PayloadLimits.maxTransactions else { throw .tooManyTransactions(count) }
        var txs = [[UInt8]]()
        txs.reserveCapacity(count)
        var start = first
        for i in 0..<count {
            let end = i + 1 < count ? offset(i + 1) : size
            guard end >= start, end <= size else {
                throw .invalidTransactionOffset(index: i + 1, offset: end, previous: start, listSize: size)
            }
            txs.append(Array(UnsafeRawBufferPointer(rebasing: list[start..<end])))
            start = end
        }
        return txs
    }

    /// Fixed-size 44-byte items: index u64 ++ validatorIndex u64 ++ address[20] ++ amount u64.
    static func decodeWithdrawals(_ region: UnsafeRawBufferPointer) throws(SSZError) -> [Withdrawal] {
        let size = region.count
        guard size % PayloadLimits.withdrawalSSZSize == 0 else { throw .invalidWithdrawalsSize(size) }
        let count = size / PayloadLimits.withdrawalSSZSize
        guard count <= PayloadLimits.maxWithdrawals else { throw .tooManyWithdrawals(count) }
        var out = [Withdrawal]()
        out.reserveCapacity(count)
        for i in 0..<count {
            let o = i * PayloadLimits.withdrawalSSZSize
            func u64(_ at: Int) -> UInt64 { UInt64(littleEndian: region.loadUnaligned(fromByteOffset: o + at, as: UInt64.self)) }
            out.append(Withdrawal(index: u64(0), validatorIndex: u64(8),
                                  address: Array(UnsafeRawBufferPointer(rebasing: region[(o + 16)..<(o + 36)])),
                                  amount: u64(36)))
        }
        return out
    }
}

extension ExecutionPayloadEnvelope {
    /// Decodes an envelope: for V3/V4 the 32-byte parent beacon block root followed by the payload;
    /// for V1/V2 the payload alone (the root is nil).
    public init(ssz bytes: some Collection<UInt8>, version: PayloadVersion) throws(SSZError) {
        self = try withRawBytes(bytes) { raw throws(SSZError) in
            guard version.hasParentBeaconBlockRoot else {
                return ExecutionPayloadEnvelope(payload: try ExecutionPayload.decodeSSZ(raw, version: version))
            }
            guard raw.count >= 32 else { throw .envelopeTooShort(raw.count) }
            let payload = try ExecutionPayload.decodeSSZ(UnsafeRawBufferPointer(rebasing: raw[32...]), version: version)
            return ExecutionPayloadEnvelope(payload: payload,
                                            parentBeaconBlockRoot: Array(UnsafeRawBufferPointer(rebasing: raw[0..<32])))
        }
    }
}

/// Runs `body` over the contiguous bytes of `c` (copying only if it has no contiguous storage).
private func withRawBytes<C: Collection, T>(
    _ c: C, _ body: (UnsafeRawBufferPointer) throws(SSZError) -> T
) throws(SSZError) -> T where C.Element == UInt8 {
    let run = { (p: UnsafeBufferPointer<UInt8>) -> Result<T, SSZError> in
        Result { () throws(SSZError) -> T in try body(UnsafeRawBufferPointer(p)) }
    }
    if let r = c.withContiguousStorageIfAvailable(run) { return try r.get() }
    return try Array(c).withUnsafeBufferPointer(run).get()
}

// MARK: - Encoding

extension ExecutionPayload {
    /// Checks that the fields `version` needs are present and every fixed-size field has its size.
    func checkFields(version: PayloadVersion) throws(SSZError) {
        func check(_ name: String, _ value: [UInt8], _ size: Int) throws(SSZError) {
            guard value.count == size else { throw .wrongFieldLength(field: name, expected: size, got: value.count) }
        }
        try check("parentHash", parentHash, PayloadLimits.hashSize)
        try check("feeRecipient", feeRecipient, PayloadLimits.addressSize)
        try check("stateRoot", stateRoot, PayloadLimits.hashSize)
        try check("receiptsRoot", receiptsRoot, PayloadLimits.hashSize)
        try check("logsBloom", logsBloom, PayloadLimits.bloomSize)
        try check("prevRandao", prevRandao, PayloadLimits.hashSize)
        try check("blockHash", blockHash, PayloadLimits.hashSize)
        guard extraData.count <= PayloadLimits.maxExtraData else { throw .extraDataTooLong(extraData.count) }
        if version.hasWithdrawals {
            guard let withdrawals else { throw .missingField("withdrawals", version: version) }
            for (i, w) in withdrawals.enumerated() {
                try check("withdrawals[\(i)].address", w.address, PayloadLimits.addressSize)
            }
        }
        if version.hasBlobGas {
            guard blobGasUsed != nil else { throw .missingField("blobGasUsed", version: version) }
            guard excessBlobGas != nil else { throw .missingField("excessBlobGas", version: version) }
        }
        if version.hasWithdrawalsRoot {
            guard let withdrawalsRoot else { throw .missingField("withdrawalsRoot", version: version) }
            try check("withdrawalsRoot", withdrawalsRoot, PayloadLimits.hashSize)
        }
    }

    /// Encodes the payload in the SSZ layout of `version`. Fields the version does not carry are
    /// ignored; fields it needs must be present and well-sized.
    public func sszEncoded(version: PayloadVersion) throws(SSZError) -> [UInt8] {
        var out = [UInt8]()
        try appendSSZ(to: &out, version: version)
        return out
    }

    func appendSSZ(to out: inout [UInt8], version: PayloadVersion) throws(SSZError) {
        try checkFields(version: version)
        guard transactions.count <= PayloadLimits.maxTransactions else { throw .tooManyTransactions(transactions.count) }
        let ws = version.hasWithdrawals ? (withdrawals ?? []) : []
        guard ws.count <= PayloadLimits.maxWithdrawals else { throw .tooManyWithdrawals(ws.count) }

        let fixed = version.sszFixedSize
        let txListSize = transactions.reduce(4 * transactions.count) { $0 + $1.count }
        let txOffset = fixed + extraData.count
        let wOffset = txOffset + txListSize
        let total = wOffset + ws.count * PayloadLimits.withdrawalSSZSize
        guard total <= Int(UInt32.max) else { throw .payloadTooLarge(total) }

        out.reserveCapacity(out.count + total)
        func u32(_ v: Int) { withUnsafeBytes(of: UInt32(truncatingIfNeeded: v).littleEndian) { out.append(contentsOf: $0) } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }

        out.append(contentsOf: parentHash)
        out.append(contentsOf: feeRecipient)
        out.append(contentsOf: stateRoot)
        out.append(contentsOf: receiptsRoot)
        out.append(contentsOf: logsBloom)
        out.append(contentsOf: prevRandao)
        u64(blockNumber)
        u64(gasLimit)
        u64(gasUsed)
        u64(timestamp)
        u32(fixed)
        out.append(contentsOf: baseFeePerGas.bytesLE)
        out.append(contentsOf: blockHash)
        u32(txOffset)
        if version.hasWithdrawals { u32(wOffset) }
        if version.hasBlobGas {
            u64(blobGasUsed ?? 0)
            u64(excessBlobGas ?? 0)
        }
        if version.hasWithdrawalsRoot { out.append(contentsOf: withdrawalsRoot ?? []) }

        out.append(contentsOf: extraData)
        var txPos = 4 * transactions.count
        for tx in transactions {
            u32(txPos)
            txPos += tx.count
        }
        for tx in transactions { out.append(contentsOf: tx) }
        for w in ws {
            u64(w.index)
            u64(w.validatorIndex)
            out.append(contentsOf: w.address)
            u64(w.amount)
        }
    }
}

extension ExecutionPayloadEnvelope {
    /// V3/V4: parentBeaconBlockRoot[32] ++ SSZ payload (plain concatenation, §1.2); V1/V2: the payload.
    public func sszEncoded(version: PayloadVersion) throws(SSZError) -> [UInt8] {
        var out = [UInt8]()
        if version.hasParentBeaconBlockRoot {
            guard let root = parentBeaconBlockRoot else { throw .missingField("parentBeaconBlockRoot", version: version) }
            guard root.count == PayloadLimits.hashSize else {
                throw .wrongFieldLength(field: "parentBeaconBlockRoot", expected: PayloadLimits.hashSize, got: root.count)
            }
            out.append(contentsOf: root)
        }
        try payload.appendSSZ(to: &out, version: version)
        return out
    }
}
