import Foundation
import Testing

/// Runs the built `swamp` binary as a real process.
struct CLI {
    struct Result: Sendable {
        let status: Int32
        let stdout: Data
        let stderr: String
        var text: String { String(decoding: stdout, as: UTF8.self) }

        /// The stdout parsed as one JSON object.
        func json() throws -> [String: Any] {
            let object = try JSONSerialization.jsonObject(with: stdout)
            return try #require(object as? [String: Any], "stdout is not a JSON object: \(text)")
        }
    }

    /// The `swamp` executable: `SWAMP_BIN`, or beside the test bundle, or in `.build/debug`.
    static let binary: String = {
        if let path = ProcessInfo.processInfo.environment["SWAMP_BIN"] { return path }
        let testBinary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var directory = testBinary.deletingLastPathComponent()
        for _ in 0..<3 {
            let candidate = directory.appendingPathComponent("swamp").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return packageRoot.appendingPathComponent(".build/debug/swamp").path
    }()

    let repo: String
    var environment: [String: String] = [:]

    /// Runs `swamp` with `arguments` (plus `--repo-dir`), waiting for it to exit.
    func run(_ arguments: [String], repoDir: Bool = true, environment extra: [String: String] = [:]) async throws -> Result {
        try await Self.exec(arguments + (repoDir ? ["--repo-dir", repo] : []), environment: environment.merging(extra) { $1 }, cwd: repo)
    }

    static func exec(_ arguments: [String], environment: [String: String], cwd: String, executable: String = binary) async throws -> Result {
        try await spawn(arguments, environment: environment, cwd: cwd, executable: executable).wait()
    }

    /// Starts `swamp` (plus `--repo-dir`) in the background: to signal it, or kill it mid-way.
    func spawn(_ arguments: [String], environment extra: [String: String] = [:]) throws -> Running {
        try Self.spawn(arguments + ["--repo-dir", repo], environment: environment.merging(extra) { $1 }, cwd: repo)
    }

    static func spawn(_ arguments: [String], environment: [String: String], cwd: String, executable: String = binary) throws -> Running {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("swamp-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        let out = scratch.appendingPathComponent("out")
        let err = scratch.appendingPathComponent("err")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: cwd)
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "SWAMP_DATASTORE")
        // Never the real metadata addresses (169.254.169.254, 169.254.170.2): a test that wants
        // instance metadata or container credentials points them at a loopback server.
        env["AWS_EC2_METADATA_DISABLED"] = "true"
        for name in [
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN",
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "AWS_EC2_METADATA_SERVICE_ENDPOINT",
        ] {
            env.removeValue(forKey: name)
        }
        process.environment = env.merging(environment) { $1 }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        // Wait without blocking a thread of the cooperative pool (only 2 on this machine).
        let exited = AsyncStream<Void>.makeStream()
        process.terminationHandler = { _ in
            exited.continuation.yield()
            exited.continuation.finish()
        }
        try process.run()
        return Running(process: process, exited: exited.stream, scratch: scratch)
    }

    /// A `swamp` process running in the background.
    struct Running: @unchecked Sendable {  // Process is not Sendable; only its pid and termination are used across tasks.
        let process: Process
        let exited: AsyncStream<Void>
        let scratch: URL

        var pid: Int32 { process.processIdentifier }

        /// Waits for it to exit and returns what it printed.
        func wait() async throws -> Result {
            defer { try? FileManager.default.removeItem(at: scratch) }
            for await _ in exited {}
            process.waitUntilExit()
            return Result(
                status: process.terminationStatus, stdout: try Data(contentsOf: scratch.appendingPathComponent("out")),
                stderr: String(decoding: try Data(contentsOf: scratch.appendingPathComponent("err")), as: UTF8.self))
        }
    }

    /// Starts `count` processes at once and waits for all of them.
    static func parallel(_ commands: [(arguments: [String], cwd: String)], environment: [String: String] = [:]) async throws -> [Result] {
        try await withThrowingTaskGroup(of: (Int, Result).self) { group in
            for (index, command) in commands.enumerated() {
                group.addTask { (index, try await exec(command.arguments, environment: environment, cwd: command.cwd)) }
            }
            var results = [Result?](repeating: nil, count: commands.count)
            for try await (index, result) in group { results[index] = result }
            return results.compactMap { $0 }
        }
    }
}

/// A new repository in a temporary directory, initialised with `swamp repo init`.
struct TemporaryRepository {
    let path: String
    let cli: CLI

    private init(path: String) {
        self.path = path
        cli = CLI(repo: path)
    }

    static func make() async throws -> TemporaryRepository {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("swamp-repo-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let repo = TemporaryRepository(path: path)
        let result = try await repo.cli.run(["repo", "init"])
        try #require(result.status == 0, "repo init failed: \(result.stderr)")
        return repo
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }

    /// Every file and directory under the repository, with file contents.
    func snapshot() -> [String: Data] {
        var result: [String: Data] = [:]
        guard let enumerator = FileManager.default.enumerator(atPath: path) else { return result }
        while let relative = enumerator.nextObject() as? String {
            var isDirectory: ObjCBool = false
            let full = "\(path)/\(relative)"
            // The catalog's SQLite files may be touched by reads; they are a local cache.
            if relative.hasPrefix(".swamp/catalog.db") { continue }
            if FileManager.default.fileExists(atPath: full, isDirectory: &isDirectory), !isDirectory.boolValue {
                result[relative] = FileManager.default.contents(atPath: full) ?? Data()
            } else {
                result[relative + "/"] = Data()
            }
        }
        return result
    }

    /// Creates a `command/shell` model running `script`.
    func shellModel(_ name: String, _ script: String) async throws {
        let result = try await cli.run(["model", "create", "command/shell", name, "--set", "run=\(script)"])
        try #require(result.status == 0, "model create failed: \(result.stderr)")
    }
}
