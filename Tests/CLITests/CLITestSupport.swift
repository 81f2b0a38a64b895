import Foundation

/// Runs the built `p2pnode` executable and captures its output.
enum CLI {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let testdata = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/testdata").path

    static var binary: String {
        let env = ProcessInfo.processInfo.environment["P2PNODE_BIN"]
        return env ?? packageRoot.appendingPathComponent(".build/debug/p2pnode").path
    }

    struct Result {
        let status: Int32
        let crashed: Bool
        let stdout: String
        let stderr: String
    }

    static func run(_ args: [String], timeout: TimeInterval = 30) throws -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        // Drain both pipes concurrently so a chatty child never blocks on a full pipe.
        nonisolated(unsafe) var outData = Data(), errData = Data()
        let group = DispatchGroup()
        group.enter(); DispatchQueue.global().async { outData = out.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        group.enter(); DispatchQueue.global().async { errData = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        if group.wait(timeout: .now() + timeout) == .timedOut { p.terminate() }
        p.waitUntilExit()
        return Result(status: p.terminationStatus, crashed: p.terminationReason == .uncaughtSignal,
                      stdout: String(decoding: outData, as: UTF8.self), stderr: String(decoding: errData, as: UTF8.self))
    }

    static func tempFile(_ bytes: [UInt8]) -> String {
        let path = NSTemporaryDirectory() + "p2pnode-cli-\(UUID().uuidString)"
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        return path
    }
}

/// A long-running `p2pnode` process whose stderr lines are collected as they arrive.
final class RunningNode: @unchecked Sendable {  // safe: `lines` is behind `lock`; the process is only signalled
    let process = Process()
    private let lock = NSLock()
    private var lines: [String] = []
    private var partial = ""

    init(_ args: [String], cwd: String) throws {
        process.executableURL = URL(fileURLWithPath: CLI.binary)
        process.arguments = args
        process.currentDirectoryURL = URL(fileURLWithPath: cwd)
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        let reader = err.fileHandleForReading
        try process.run()
        // A dedicated thread with blocking reads: independent of run loops and of how busy the
        // test process's Dispatch pool is.
        Thread.detachNewThread { [weak self] in
            while true {
                let d = reader.availableData
                guard !d.isEmpty, let self else { return }
                self.lock.lock()
                self.partial += String(decoding: d, as: UTF8.self)
                while let nl = self.partial.firstIndex(of: "\n") {
                    self.lines.append(String(self.partial[..<nl]))
                    self.partial = String(self.partial[self.partial.index(after: nl)...])
                }
                self.lock.unlock()
            }
        }
    }

    var output: [String] { lock.lock(); defer { lock.unlock() }; return lines }

    /// The first line containing `needle`, waiting up to `timeout` seconds.
    func waitFor(_ needle: String, timeout: Double = 30) async -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let l = output.first(where: { $0.contains(needle) }) { return l }
            if !process.isRunning { return output.first { $0.contains(needle) } }
            try? await Task.sleep(for: .milliseconds(20))
        }
        // Once more after the deadline: a test task can sleep through it on a busy machine.
        return output.first { $0.contains(needle) }
    }

    /// SIGTERM, then the exit status.
    func stop() -> Int32 {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        return process.terminationStatus
    }
}
