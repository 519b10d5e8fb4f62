import Foundation

/// Runs `/bin/sh -c` with stdout and stderr captured byte-exact (through temporary
/// files, so large output cannot dead-lock on a pipe) and a timeout.
enum ShellCommand {
    struct Result: Sendable {
        var stdout: Data
        var stderr: Data
        var exitStatus: Int32
        var timedOut: Bool
    }

    static func run(_ script: String, workingDirectory: String, environment: [String: String], timeout: Duration) async throws -> Result {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("swamp-sh-\(UUID().uuidString)")
        try AtomicFile.makeDirectories(scratch.path)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let outPath = scratch.appendingPathComponent("stdout").path
        let errPath = scratch.appendingPathComponent("stderr").path
        guard FileManager.default.createFile(atPath: outPath, contents: nil),
            FileManager.default.createFile(atPath: errPath, contents: nil),
            let out = FileHandle(forWritingAtPath: outPath), let err = FileHandle(forWritingAtPath: errPath)
        else {
            throw FileSystemError("create output files in", path: scratch.path, errno: errno)
        }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", script]
        process.currentDirectoryURL = URL(fileURLWithPath: workingDirectory)
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = out
        process.standardError = err

        let exited = AsyncStream<Void>.makeStream()
        process.terminationHandler = { _ in
            exited.continuation.yield()
            exited.continuation.finish()
        }
        do {
            try process.run()
        } catch {
            try? out.close()
            try? err.close()
            throw SwampError(.methodFailed, "cannot start /bin/sh: \(error)")
        }
        try? out.close()
        try? err.close()

        let timedOut = await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                for await _ in exited.stream {}
                return false
            }
            group.addTask {
                do {
                    try await Task.sleep(for: timeout)
                } catch {
                    return false
                }
                return true
            }
            let first = await group.next() ?? false
            if first {
                process.terminate()
                // Wait for the exit the terminate causes.
                _ = await group.next()
            }
            group.cancelAll()
            return first
        }
        process.waitUntilExit()
        let stdout = try Data(contentsOf: URL(fileURLWithPath: outPath))
        let stderr = try Data(contentsOf: URL(fileURLWithPath: errPath))
        return Result(stdout: stdout, stderr: stderr, exitStatus: process.terminationStatus, timedOut: timedOut)
    }
}
