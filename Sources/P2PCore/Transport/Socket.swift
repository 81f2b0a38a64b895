/// Thin POSIX socket helpers shared by the listener, dialer and connection: non-blocking
/// close-on-exec TCP sockets, socket options, SIGPIPE suppression (ignored process-wide once,
/// plus MSG_NOSIGNAL on Linux and SO_NOSIGPIPE on Darwin), sendmsg with iovecs, and address
/// queries. DESIGN.md "Platform facts": ignore SIGPIPE; TCP_NODELAY.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

enum Socket {
    /// At most this many iovecs are passed to one sendmsg (POSIX guarantees IOV_MAX >= 16; Linux 1024).
    static let maxIOVecs = 64

    /// Ignoring SIGPIPE process-wide, done once: a write to a socket the peer closed must return
    /// EPIPE, not kill the process.
    private static let sigpipeIgnored: Bool = {
        signal(SIGPIPE, SIG_IGN)
        return true
    }()

    static func ignoreSIGPIPE() {
        _ = sigpipeIgnored
    }

    #if os(Linux)
    static let sendFlags = Int32(MSG_NOSIGNAL)
    #else
    static let sendFlags: Int32 = 0
    #endif

    static func family(of ip: IPAddress) -> Int32 {
        ip.family == .v4 ? AF_INET : AF_INET6
    }

    /// A new non-blocking, close-on-exec TCP socket.
    static func makeTCPSocket(family: Int32) throws(TransportError) -> Int32 {
        ignoreSIGPIPE()
        #if os(Linux)
        let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        let fd = socket(family, type, Int32(IPPROTO_TCP))
        guard fd >= 0 else { throw .systemCall(operation: "socket", errno: errno) }
        #else
        let fd = socket(family, SOCK_STREAM, IPPROTO_TCP)
        guard fd >= 0 else { throw .systemCall(operation: "socket", errno: errno) }
        do {
            try configureAccepted(fd)
        } catch {
            closeDescriptor(fd)
            throw error
        }
        #endif
        return fd
    }

    /// Makes an accepted (or, on Darwin, freshly created) fd non-blocking, close-on-exec and free of
    /// SIGPIPE. (Glibc's module does not export accept4, so accepted sockets get two fcntl calls.)
    static func configureAccepted(_ fd: Int32) throws(TransportError) {
        let fdFlags = fcntl(fd, F_GETFD)
        guard fdFlags >= 0, fcntl(fd, F_SETFD, fdFlags | FD_CLOEXEC) == 0 else {
            throw .systemCall(operation: "fcntl(FD_CLOEXEC)", errno: errno)
        }
        let flags = fcntl(fd, F_GETFL)
        guard flags >= 0, fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0 else {
            throw .systemCall(operation: "fcntl(O_NONBLOCK)", errno: errno)
        }
        #if canImport(Darwin)
        try setOption(fd, SOL_SOCKET, SO_NOSIGPIPE, 1, name: "SO_NOSIGPIPE")
        #endif
    }

    static func setOption(
        _ fd: Int32, _ level: Int32, _ option: Int32, _ value: Int32, name: String
    ) throws(TransportError) {
        var v = value
        guard setsockopt(fd, level, option, &v, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
            throw .systemCall(operation: "setsockopt(\(name))", errno: errno)
        }
    }

    static func setNoDelay(_ fd: Int32) throws(TransportError) {
        try setOption(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1, name: "TCP_NODELAY")
    }

    /// The pending error of a socket (SO_ERROR), 0 when none.
    static func pendingError(_ fd: Int32) -> Int32 {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &value, &length) == 0 else { return errno }
        return value
    }

    static func localAddress(_ fd: Int32) throws(TransportError) -> SocketAddress {
        try queryAddress(fd, name: "getsockname") { getsockname(fd, $0, $1) }
    }

    static func remoteAddress(_ fd: Int32) throws(TransportError) -> SocketAddress {
        try queryAddress(fd, name: "getpeername") { getpeername(fd, $0, $1) }
    }

    private static func queryAddress(
        _ fd: Int32, name: String,
        _ call: (UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<socklen_t>) -> Int32
    ) throws(TransportError) -> SocketAddress {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result: SocketAddress?? = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                guard call(sa, &length) == 0 else { return .none }
                return .some(SocketAddress(sa, length: length))
            }
        }
        switch result {
        case .none: throw .systemCall(operation: name, errno: errno)
        case .some(.none): throw .systemCall(operation: "\(name) (unsupported address family)", errno: EAFNOSUPPORT)
        case .some(.some(let address)): return address
        }
    }

    /// sendmsg of the given regions. Returns bytes written (> 0), 0 when the socket would block,
    /// or a negative errno.
    static func send<Regions: Collection>(_ fd: Int32, _ regions: Regions) -> Int
    where Regions.Element == UnsafeRawBufferPointer {
        let count = min(regions.count, maxIOVecs)
        return withUnsafeTemporaryAllocation(of: iovec.self, capacity: count) { iovs -> Int in
            var n = 0
            for r in regions where r.count > 0 {
                guard n < count, let base = r.baseAddress else { continue }
                iovs[n] = iovec(iov_base: UnsafeMutableRawPointer(mutating: base), iov_len: r.count)
                n += 1
            }
            guard n > 0 else { return 0 }
            var msg = msghdr()
            msg.msg_iov = iovs.baseAddress
            #if os(Linux)
            msg.msg_iovlen = n
            #else
            msg.msg_iovlen = Int32(n)
            #endif
            while true {
                let written = sendmsg(fd, &msg, sendFlags)
                if written >= 0 { return written }
                let e = errno
                if e == EINTR { continue }
                if e == EAGAIN || e == EWOULDBLOCK { return 0 }
                return -Int(e)
            }
        }
    }

    /// Closes a descriptor exactly once; EINTR is not retried (on Linux the fd is gone either way).
    static func closeDescriptor(_ fd: Int32) {
        _ = close(fd)
    }
}
