/// The libp2p Noise secure channel after the handshake (libp2p/specs noise/README.md §"Wire
/// Format"): every message is a 2-byte big-endian length followed by a ChaChaPoly ciphertext of at
/// most 65535 bytes, so at most 65519 plaintext bytes per frame.
///
/// `encrypt` frames any amount of plaintext in one allocation, sealing straight into the output.
/// `decrypt` is a streaming decryptor: feed it byte chunks of any size and it returns the
/// plaintext of every complete frame; it buffers at most one partial frame (≤ 65537 bytes).
/// Full frames inside a chunk are copied once into the output and opened in place.
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
        var cipher = sendCipher
        let out = [UInt8](unsafeUninitializedCapacity: total) { out, initialized in
            let raw = UnsafeMutableRawBufferPointer(out)
            var o = 0
            var i = 0
            do throws(NoiseError) {
                while i < plaintext.count {
                    let n = min(maxPlain, plaintext.count - i)
                    let frameLength = n + CipherState.tagSize
                    raw[o] = UInt8(truncatingIfNeeded: frameLength >> 8)
                    raw[o + 1] = UInt8(truncatingIfNeeded: frameLength)
                    let dst = UnsafeMutableRawBufferPointer(rebasing: raw[(o + 2)..<(o + 2 + frameLength)])
                    _ = try cipher.seal(UnsafeRawBufferPointer(rebasing: plaintext[i..<(i + n)]), into: dst)
                    o += 2 + frameLength
                    i += n
                }
            } catch {
                caught = error
            }
            initialized = o
        }
        sendCipher = cipher
        if let caught {
            failed = true
            throw caught
        }
        return out
    }

    // MARK: Decryption

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
