/// The libp2p Noise secure channel after the handshake (libp2p/specs noise/README.md §"Wire
/// Format"): every message is a 2-byte big-endian length followed by a ChaChaPoly ciphertext of at
/// most 65535 bytes, so at most 65519 plaintext bytes per frame.
///
/// `encrypt` frames any amount of plaintext in one allocation, sealing straight into the output;
/// `sealFrame(gathering:into:)` seals one frame from scattered plaintext into the caller's buffer
/// (the socket's write buffer, on the transport hot path: no ciphertext array, no joined plaintext).
/// `decrypt` is a streaming decryptor: feed it byte chunks of any size and it returns the
/// plaintext of every complete frame; it buffers at most one partial frame (≤ 65537 bytes).
/// Full frames inside a chunk are copied once into the output and opened in place;
/// `decrypt(inPlace:deliver:)` opens them in the caller's receive buffer instead (no copy), which
/// is what `Connection` uses on the transport hot path.
/// Any error (short frame, authentication failure, nonce exhaustion) is final.
public struct NoiseSession: Sendable {
    public static let lengthPrefixSize = 2
    public static let maxFrameLength = 65535
    public static let maxPlaintextPerFrame = maxFrameLength - CipherState.tagSize

    private var sendCipher: CipherState
    private var receiveCipher: CipherState
    /// A partial incoming frame, length prefix included.
    private var pending: [UInt8] = []
    private var failed = false

    /// A session from the `Split()` of a completed handshake (`send` encrypts our frames).
    public init(send: CipherState, receive: CipherState) {
        sendCipher = send
        receiveCipher = receive
    }

    /// Bytes of an incomplete frame held back until the rest arrives.
    public var bufferedCiphertext: Int { pending.count }

    // MARK: Encryption

    public mutating func encrypt(_ plaintext: [UInt8]) throws(NoiseError) -> [UInt8] {
        try plaintext.withUnsafeBytes { p in Result { () throws(NoiseError) in try encrypt(p) } }.get()
    }

    /// Encrypts `plaintext` into length-prefixed frames of at most 65535 ciphertext bytes.
    public mutating func encrypt(_ plaintext: UnsafeRawBufferPointer) throws(NoiseError) -> [UInt8] {
        guard !failed else { throw .failed }
        guard !plaintext.isEmpty else { return [] }
        let maxPlain = Self.maxPlaintextPerFrame
        let frames = (plaintext.count + maxPlain - 1) / maxPlain
        let total = plaintext.count + frames * (Self.lengthPrefixSize + CipherState.tagSize)
        var caught: NoiseError?
        let out = [UInt8](unsafeUninitializedCapacity: total) { out, initialized in
            let raw = UnsafeMutableRawBufferPointer(out)
            var o = 0
            var i = 0
            do throws(NoiseError) {
                while i < plaintext.count {
                    let n = min(maxPlain, plaintext.count - i)
                    let part = UnsafeRawBufferPointer(rebasing: plaintext[i..<(i + n)])
                    o += try sealFrame(gathering: CollectionOfOne(part), into: UnsafeMutableRawBufferPointer(rebasing: raw[o...]))
                    i += n
                }
            } catch {
                caught = error
            }
            initialized = o
        }
        if let caught { throw caught }  // sealFrame has marked the session failed
        return out
    }

    /// Bytes one frame of `plaintextCount` (≤ `maxPlaintextPerFrame`) plaintext bytes takes on the wire.
    public static func frameSize(plaintextCount: Int) -> Int {
        lengthPrefixSize + plaintextCount + CipherState.tagSize
    }

    /// Seals one frame whose plaintext is the concatenation of `parts` (1 ... `maxPlaintextPerFrame`
    /// bytes in all) into `out` as length prefix ++ ciphertext ++ tag, and returns its size
    /// (`frameSize(plaintextCount:)`); `out` must hold that many bytes and not overlap `parts`.
    public mutating func sealFrame<Parts: Collection<UnsafeRawBufferPointer>>(
        gathering parts: Parts, into out: UnsafeMutableRawBufferPointer
    ) throws(NoiseError) -> Int {
        guard !failed else { throw .failed }
        let count = parts.reduce(0) { $0 + $1.count }
        let size = Self.frameSize(plaintextCount: count)
        guard count > 0, count <= Self.maxPlaintextPerFrame, out.count >= size else { throw .failed }
        let frameLength = count + CipherState.tagSize
        out[0] = UInt8(truncatingIfNeeded: frameLength >> 8)
        out[1] = UInt8(truncatingIfNeeded: frameLength)
        do throws(NoiseError) {
            let dst = UnsafeMutableRawBufferPointer(rebasing: out[Self.lengthPrefixSize..<size])
            guard try sendCipher.seal(gathering: parts, into: dst) == frameLength else { throw .failed }
        } catch {
            failed = true
            throw error
        }
        return size
    }

    // MARK: Decryption

    /// Opens every complete frame of `input` in place (in the caller's receive buffer, so no copy)
    /// and passes each frame's plaintext to `deliver`, valid during the call only. Returns how many
    /// leading bytes were consumed: the rest is the start of a frame, to be presented again with
    /// the bytes that follow it. A partial frame left by the copying `decrypt` is completed first.
    /// `deliver` may stop the session by returning false; the bytes after that frame are then
    /// reported as unconsumed.
    public mutating func decrypt(
        inPlace input: UnsafeMutableRawBufferPointer, deliver: (UnsafeRawBufferPointer) -> Bool
    ) throws(NoiseError) -> Int {
        var plain = UnsafeRawBufferPointer(start: nil, count: 0)
        return try decrypt(inPlace: input, frame: { plain = $0.next($0.remaining) }, verified: {
            plain.isEmpty || deliver(plain)
        })
    }

    /// Like `decrypt(inPlace:deliver:)`, but the caller reads each frame's plaintext itself, in
    /// order, through `frame`'s reader: in place, or decrypted straight into buffers of its own
    /// (e.g. the arrays handed to the application, which saves copying them out of the receive
    /// buffer). What `frame` read is unauthenticated until `verified` is called for that frame;
    /// if the frame's tag does not verify, this throws instead and `verified` is not called, so
    /// the caller must keep what it read to itself until then. Bytes `frame` leaves unread are
    /// decrypted in place and dropped.
    public mutating func decrypt(
        inPlace input: UnsafeMutableRawBufferPointer,
        frame read: (inout NoiseFrameReader) -> Void, verified: () -> Bool
    ) throws(NoiseError) -> Int {
        guard !failed else { throw .failed }
        var i = 0
        do throws(NoiseError) {
            if !pending.isEmpty {
                // A frame begun by the copying API: finish it in `pending` and open it there.
                var frame = pending
                pending = []
                if frame.count < Self.lengthPrefixSize {
                    i = min(Self.lengthPrefixSize - frame.count, input.count)
                    frame.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[0..<i]))
                }
                if frame.count >= Self.lengthPrefixSize {
                    let frameLength = Int(frame[0]) << 8 | Int(frame[1])
                    guard frameLength >= CipherState.tagSize else { throw .frameTooShort(frameLength) }
                    let take = min(Self.lengthPrefixSize + frameLength - frame.count, input.count - i)
                    frame.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[i..<(i + take)]))
                    i += take
                }
                guard frame.count >= Self.lengthPrefixSize,
                      frame.count == Self.lengthPrefixSize + (Int(frame[0]) << 8 | Int(frame[1])) else {
                    pending = frame
                    return input.count
                }
                var cipher = receiveCipher
                try frame.withUnsafeMutableBytes { f in
                    Result { () throws(NoiseError) in
                        let body = UnsafeMutableRawBufferPointer(rebasing: f[Self.lengthPrefixSize...])
                        let n = try cipher.open(inPlace: body)
                        var reader = NoiseFrameReader(plaintext: UnsafeMutableRawBufferPointer(rebasing: body[0..<n]))
                        read(&reader)
                    }
                }.get()
                receiveCipher = cipher
                if !verified() { return i }
            }
            while input.count - i >= Self.lengthPrefixSize {
                let frameLength = Int(input[i]) << 8 | Int(input[i + 1])
                guard frameLength >= CipherState.tagSize else { throw .frameTooShort(frameLength) }
                guard input.count - i - Self.lengthPrefixSize >= frameLength else { break }
                let start = i + Self.lengthPrefixSize
                let bodyEnd = start + frameLength - CipherState.tagSize
                if let decryptor = receiveCipher.beginOpen(count: bodyEnd - start) {
                    var reader = NoiseFrameReader(ciphertext: UnsafeMutableRawBufferPointer(rebasing: input[start..<bodyEnd]),
                                                  decryptor: decryptor)
                    read(&reader)
                    guard reader.finishReading() else { throw .decryptionFailed }
                    try receiveCipher.finishOpen(decryptor, tag: UnsafeRawBufferPointer(rebasing: input[bodyEnd..<(start + frameLength)]))
                } else {
                    let body = UnsafeMutableRawBufferPointer(rebasing: input[start..<(start + frameLength)])
                    let n = try receiveCipher.open(inPlace: body)
                    var reader = NoiseFrameReader(plaintext: UnsafeMutableRawBufferPointer(rebasing: body[0..<n]))
                    read(&reader)
                }
                i = start + frameLength
                if !verified() { return i }
            }
        } catch {
            failed = true
            pending = []
            throw error
        }
        return i
    }

    public mutating func decrypt(_ ciphertext: [UInt8]) throws(NoiseError) -> [UInt8] {
        try ciphertext.withUnsafeBytes { c in Result { () throws(NoiseError) in try decrypt(c) } }.get()
    }

    /// Feeds received bytes; returns the plaintext of every frame completed by them (possibly none).
    public mutating func decrypt(_ input: UnsafeRawBufferPointer) throws(NoiseError) -> [UInt8] {
        guard !failed else { throw .failed }
        guard !input.isEmpty else { return [] }
        var caught: NoiseError?
        var cipher = receiveCipher
        var pending = self.pending
        self.pending = []
        let capacity = pending.count + input.count
        let out = [UInt8](unsafeUninitializedCapacity: capacity) { out, initialized in
            let raw = UnsafeMutableRawBufferPointer(out)
            var o = 0
            var i = 0
            do throws(NoiseError) {
                // Complete a frame left over from earlier chunks.
                if !pending.isEmpty {
                    if pending.count < 2 {
                        let take = min(2 - pending.count, input.count)
                        pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[0..<take]))
                        i = take
                    }
                    if pending.count >= 2 {
                        let frameLength = Int(pending[0]) << 8 | Int(pending[1])
                        guard frameLength >= CipherState.tagSize else { throw .frameTooShort(frameLength) }
                        let take = min(2 + frameLength - pending.count, input.count - i)
                        pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[i..<(i + take)]))
                        i += take
                        if pending.count == 2 + frameLength {
                            let dst = UnsafeMutableRawBufferPointer(rebasing: raw[o..<(o + frameLength)])
                            pending.withUnsafeBytes { dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[2...])) }
                            o += try cipher.open(inPlace: dst)
                            pending.removeAll(keepingCapacity: true)
                        }
                    }
                }
                // Whole frames inside this chunk.
                while input.count - i >= 2 {
                    let frameLength = Int(input[i]) << 8 | Int(input[i + 1])
                    guard frameLength >= CipherState.tagSize else { throw .frameTooShort(frameLength) }
                    guard input.count - i - 2 >= frameLength else { break }
                    let dst = UnsafeMutableRawBufferPointer(rebasing: raw[o..<(o + frameLength)])
                    dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: input[(i + 2)..<(i + 2 + frameLength)]))
                    o += try cipher.open(inPlace: dst)
                    i += 2 + frameLength
                }
                // Keep the start of the next frame.
                if i < input.count {
                    if pending.capacity < 2 + Self.maxFrameLength { pending.reserveCapacity(2 + Self.maxFrameLength) }
                    pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[i...]))
                }
            } catch {
                caught = error
            }
            initialized = o
        }
        receiveCipher = cipher
        self.pending = pending
        if let caught {
            failed = true
            self.pending = []
            throw caught
        }
        return out
    }
}

/// The plaintext of one received Noise frame, read in order by the `frame` closure of
/// `NoiseSession.decrypt(inPlace:frame:verified:)`: each part decrypted in place in the receive
/// buffer, or straight into a buffer of the reader's choosing. Small frames (libsodium) arrive
/// already opened and verified, and reading them copies; large ones (OpenSSL) are decrypted as
/// they are read. Valid only during that closure.
public struct NoiseFrameReader {
    private let buffer: UnsafeMutableRawBufferPointer
    /// nil: `buffer` already holds verified plaintext.
    private let decryptor: OpenSSLChaChaPoly.Decryptor?
    private var offset = 0
    private var failed = false

    init(plaintext: UnsafeMutableRawBufferPointer) {
        buffer = plaintext
        decryptor = nil
    }

    init(ciphertext: UnsafeMutableRawBufferPointer, decryptor: OpenSSLChaChaPoly.Decryptor) {
        buffer = ciphertext
        self.decryptor = decryptor
    }

    /// Plaintext bytes not read yet.
    public var remaining: Int { buffer.count - offset }

    /// The next `count` bytes (at most `remaining`), decrypted in place.
    public mutating func next(_ count: Int) -> UnsafeRawBufferPointer {
        let n = min(max(count, 0), remaining)
        let part = UnsafeMutableRawBufferPointer(rebasing: buffer[offset..<(offset + n)])
        if let decryptor, !decryptor.update(UnsafeRawBufferPointer(part), into: part) { failed = true }
        offset += n
        return UnsafeRawBufferPointer(part)
    }

    /// Decrypts the next `out.count` bytes (at most `remaining`) into `out`; returns how many.
    @discardableResult
    public mutating func next(into out: UnsafeMutableRawBufferPointer) -> Int {
        let n = min(out.count, remaining)
        let part = UnsafeRawBufferPointer(rebasing: buffer[offset..<(offset + n)])
        if let decryptor {
            if !decryptor.update(part, into: out) { failed = true }
        } else if n > 0, let dst = out.baseAddress, let src = part.baseAddress {
            dst.copyMemory(from: src, byteCount: n)
        }
        offset += n
        return n
    }

    /// Decrypts what was left unread (in place); false if any part failed to decrypt.
    mutating func finishReading() -> Bool {
        _ = next(remaining)
        return !failed
    }
}
