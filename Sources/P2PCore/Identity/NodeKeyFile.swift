/// The node's libp2p key file, as op-node handles `--p2p.priv.path` / `--p2p.priv.raw`
/// (`op-node/p2p/cli/load_config.go` `loadNetworkPrivKey`, `parsePriv`; spec §6.2): 64 hex
/// characters of a secp256k1 private key, `0x` optional, surrounding whitespace ignored. A missing
/// file is created with a fresh key, written as bare lower-case hex with mode 0600. Creation is
/// atomic and never replaces a file that appeared meanwhile (write a temporary file, fsync,
/// then hard-link it into place).
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public enum NodeKeyFileError: Error, Equatable, CustomStringConvertible {
    case notFound(path: String)
    case unreadable(path: String, reason: String)
    case tooLarge(path: String, size: Int, limit: Int)
    case notHex(path: String, HexError)
    case wrongLength(path: String, bytes: Int)
    case invalidKey(path: String)
    case alreadyExists(path: String)
    case writeFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case .notFound(let p): return "p2p key file \(p) does not exist"
        case .unreadable(let p, let r): return "cannot read p2p key file \(p): \(r)"
        case .tooLarge(let p, let n, let l): return "p2p key file \(p) is \(n) bytes, more than the \(l) a key file can be"
        case .notHex(let p, let e): return "p2p key in \(p) is not formatted in hex chars: \(e)"
        case .wrongLength(let p, let n): return "p2p key in \(p) is \(n) bytes, expected 32"
        case .invalidKey(let p): return "p2p key in \(p) is not a valid secp256k1 private key"
        case .alreadyExists(let p): return "p2p key file \(p) already exists"
        case .writeFailed(let p, let r): return "cannot write p2p key file \(p): \(r)"
        }
    }
}

public enum NodeKeyFile {
    /// Largest key file read (64 hex characters plus generous whitespace).
    public static let maxFileSize = 4096

    /// Reads the key in the file at `path`.
    public static func load(path: String) throws(NodeKeyFileError) -> PrivateKey {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let e = errno
            if e == ENOENT { throw .notFound(path: path) }
            throw .unreadable(path: path, reason: errorText(e))
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .unreadable(path: path, reason: errorText(errno)) }
        guard Int(st.st_size) <= maxFileSize else { throw .tooLarge(path: path, size: Int(st.st_size), limit: maxFileSize) }
        var data = [UInt8](repeating: 0, count: maxFileSize + 1)
        var count = 0
        while count < data.count {
            let n = data.withUnsafeMutableBytes { read(fd, $0.baseAddress?.advanced(by: count), $0.count - count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .unreadable(path: path, reason: errorText(errno))
            }
            if n == 0 { break }
            count += n
        }
        // The file may have grown after fstat.
        guard count <= maxFileSize else { throw .tooLarge(path: path, size: count, limit: maxFileSize) }
        return try parse(String(decoding: data[0..<count], as: UTF8.self), path: path)
    }

    /// Reads the key at `path`, or, if there is no file, creates one with a new secp256k1 key.
    public static func loadOrCreate(path: String) throws(NodeKeyFileError) -> PrivateKey {
        do throws(NodeKeyFileError) {
            return try load(path: path)
        } catch .notFound {
            do throws(NodeKeyFileError) {
                return try create(path: path)
            } catch .alreadyExists {
                return try load(path: path)  // another process created it first
            }
        } catch {
            throw error
        }
    }

    /// Creates a key file at `path` holding `key` (a fresh one by default). Fails with
    /// `.alreadyExists` rather than replacing an existing file.
    @discardableResult
    public static func create(path: String, key: Secp256k1PrivateKey = Secp256k1PrivateKey()) throws(NodeKeyFileError) -> PrivateKey {
        let tmp = path + ".tmp-" + secureRandomBytes(8).hexString
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .writeFailed(path: path, reason: errorText(errno)) }
        defer { unlink(tmp) }
        do {
            defer { close(fd) }
            guard fchmod(fd, 0o600) == 0 else { throw .writeFailed(path: path, reason: errorText(errno)) }
            let text = Array(key.bytes.hexString.utf8)
            var written = 0
            while written < text.count {
                let n = text.withUnsafeBytes { write(fd, $0.baseAddress?.advanced(by: written), $0.count - written) }
                if n < 0 {
                    if errno == EINTR { continue }
                    throw .writeFailed(path: path, reason: errorText(errno))
                }
                written += n
            }
            guard fsync(fd) == 0 else { throw .writeFailed(path: path, reason: errorText(errno)) }
        }
        guard link(tmp, path) == 0 else {
            let e = errno
            throw e == EEXIST ? .alreadyExists(path: path) : .writeFailed(path: path, reason: errorText(e))
        }
        syncDirectory(of: path)
        return .secp256k1(key)
    }

    /// Parses key text (also the `--p2p.priv.raw` value): hex, `0x` optional, whitespace trimmed.
    /// `path` names the source in errors.
    public static func parse(_ text: String, path: String) throws(NodeKeyFileError) -> PrivateKey {
        var trimmed = Substring(text)
        while trimmed.first?.isWhitespace == true { trimmed.removeFirst() }
        while trimmed.last?.isWhitespace == true { trimmed.removeLast() }
        let bytes: [UInt8]
        do throws(HexError) { bytes = try [UInt8](hex: trimmed) } catch { throw .notHex(path: path, error) }
        guard bytes.count == 32 else { throw .wrongLength(path: path, bytes: bytes.count) }
        do throws(CryptoError) {
            return .secp256k1(try Secp256k1PrivateKey(bytes: bytes))
        } catch {
            throw .invalidKey(path: path)
        }
    }

    /// fsyncs the directory holding `path`, so the new name survives a crash (best effort).
    private static func syncDirectory(of path: String) {
        let dir: String
        if let slash = path.lastIndex(of: "/") {
            dir = slash == path.startIndex ? "/" : String(path[..<slash])
        } else {
            dir = "."
        }
        let fd = open(dir, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }

    private static func errorText(_ code: Int32) -> String {
        String(cString: strerror(code))
    }
}
