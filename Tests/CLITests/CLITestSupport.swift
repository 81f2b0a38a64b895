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
