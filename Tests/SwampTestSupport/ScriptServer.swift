import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// A Python server of the repository's `scripts/` (the S3 test server, the fault proxy) run
/// by one test: started on a free loopback port, paused, resumed and stopped by PID.
public final class ScriptServer: Sendable {
    public let process: Process
    /// `http://127.0.0.1:PORT`.
    public let endpoint: String
    /// Everything the script wrote to its info file (`port`, and e.g. the test server's keys).
    public let info: [String: String]
    /// Where the script's stderr goes (removed by ``stop()``).
    let log: String

    private init(process: Process, endpoint: String, info: [String: String], log: String) {
        self.process = process
        self.endpoint = endpoint
        self.info = info
        self.log = log
    }

    public struct StartFailure: Error, CustomStringConvertible {
        public let description: String
    }

    /// The repository's `scripts/` directory.
    public static let scripts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts").path

    /// Starts `scripts/{name}` with `--info-file` and `extra` (and `environment` added to this
    /// process's), and waits until it listens.
    public static func start(script name: String, _ extra: [String] = [], environment: [String: String] = [:]) async throws -> ScriptServer {
        let info = FileManager.default.temporaryDirectory.appendingPathComponent("script-info-\(UUID().uuidString)").path
        let log = info + ".log"
        guard FileManager.default.createFile(atPath: log, contents: nil), let errors = FileHandle(forWritingAtPath: log) else {
            throw StartFailure(description: "cannot create \(log)")
        }
        defer { try? errors.close() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "\(scripts)/\(name)", "--info-file", info] + extra
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errors
        try process.run()
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if let text = try? String(contentsOfFile: info, encoding: .utf8), let port = Self.fields(text)["port"] {
                try? FileManager.default.removeItem(atPath: info)
                return ScriptServer(process: process, endpoint: "http://127.0.0.1:\(port)", info: Self.fields(text), log: log)
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        process.terminate()
        let said = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(atPath: log)
        throw StartFailure(description: "scripts/\(name) did not start within 30 s\(said.isEmpty ? "" : "; it said:\n\(said.suffix(4000))")")
    }

    /// `key=value` lines.
    static func fields(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            fields[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        return fields
    }

    /// What the script has written to stderr so far.
    public func said() -> String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

    public func pause() { kill(process.processIdentifier, SIGSTOP) }
    public func resume() { kill(process.processIdentifier, SIGCONT) }

    /// Stops the server: SIGTERM, then SIGKILL if it has not exited within 5 s. (Not
    /// `waitUntilExit`, which spins a run loop and never returns if the child ignores SIGTERM.)
    /// What its watchdog reported goes to stderr, unless `reportingStalls` is false (a test
    /// that stalls a request on purpose).
    public func stop(reportingStalls: Bool = true) {
        let pid = process.processIdentifier
        kill(pid, SIGCONT)
        kill(pid, SIGTERM)
        for _ in 0..<50 where process.isRunning { usleep(100_000) }
        if process.isRunning { kill(pid, SIGKILL) }
        // A request the server left unanswered: its watchdog's report, on the test's stderr.
        let said = said()
        if reportingStalls, let report = said.range(of: "s3-server watchdog:") {
            FileHandle.standardError.write(Data("the S3 test server (pid \(pid)) left requests unanswered:\n\(said[report.lowerBound...])".utf8))
        }
        try? FileManager.default.removeItem(atPath: log)
    }
}

/// `scripts/fault-proxy.py` in front of an S3 endpoint, with its control API: rules that fail,
/// cut, hold, slow or signal matching requests, and the log of every request it saw.
public final class FaultProxy: Sendable {
    public let server: ScriptServer
    public var endpoint: String { server.endpoint }

    private init(server: ScriptServer) { self.server = server }

    /// A proxy to `upstream` (plus the fixed-fault flags of `fault-proxy.py`, if any).
    public static func start(upstream: String, flags: [String] = []) async throws -> FaultProxy {
        FaultProxy(server: try await ScriptServer.start(script: "fault-proxy.py", ["--upstream", upstream] + flags))
    }

    /// One fault rule (see `scripts/fault-proxy.py`).
    public struct Rule: Encodable, Sendable {
        public var method: String?
        public var path: String?
        public var nth: Int?
        public var count: Int?
        public var action: String
        public var status: Int?
        public var code: String?
        public var signal: String?
        public var pid: Int32?
        public var then: String?
        public var when: String?
        public var ms: Int?
        public var rate: Int?
        public var seconds: Double?
        public var timeout: Double?
        public var region: String?
        public var body: String?

        public init(
            _ action: String, method: String? = nil, path: String? = nil, nth: Int? = nil, count: Int? = nil, status: Int? = nil,
            code: String? = nil, signal: String? = nil, pid: Int32? = nil, then: String? = nil, when: String? = nil, ms: Int? = nil,
            rate: Int? = nil, seconds: Double? = nil, timeout: Double? = nil, region: String? = nil, body: String? = nil
        ) {
            self.body = body
            self.region = region
            self.action = action
            self.method = method
            self.path = path
            self.nth = nth
            self.count = count
            self.status = status
            self.code = code
            self.signal = signal
            self.pid = pid
            self.then = then
            self.when = when
            self.ms = ms
            self.rate = rate
            self.seconds = seconds
            self.timeout = timeout
        }
    }

    /// A request the proxy saw.
    public struct Entry: Decodable, Sendable {
        public let method: String
        public let path: String
        /// The status returned (0: the connection was cut).
        public let status: Int
        public let fault: String?
        /// When the request arrived and was answered (the proxy's monotonic clock, seconds).
        public let start: Double
        public let end: Double
        /// Which client connection carried it (numbered from 1 in the proxy's life).
        public let connection: Int
        /// The access key id and region of its SigV4 credential scope (`nil` when unsigned).
        public let key: String?
        public let region: String?
    }

    /// The round trips on the critical path of `requests`: the longest chain in which each
    /// request starts after the one before it was answered (each had to wait for an answer,
    /// or for local work after it). Requests in flight together count once. Give every
    /// request a delay (a `delay` rule) so that concurrent ones visibly overlap.
    public static func criticalPath(_ requests: [Entry]) -> Int {
        var chain = 0
        var free = -Double.infinity
        for request in requests.sorted(by: { $0.end < $1.end }) where request.start >= free {
            chain += 1
            free = request.end
        }
        return chain
    }

    /// Replaces the rules.
    public func set(_ rules: [Rule]) async throws {
        _ = try await control("POST", "rules", body: try JSONEncoder().encode(rules))
    }

    /// Lets held requests go on.
    public func release() async throws { _ = try await control("POST", "release") }

    /// Every request seen since the last ``clearLog()``.
    public func log() async throws -> [Entry] {
        try JSONDecoder().decode([Entry].self, from: try await control("GET", "log"))
    }

    public func clearLog() async throws { _ = try await control("POST", "clear") }

    public func stop() { server.stop() }

    private func control(_ method: String, _ path: String, body: Data = Data()) async throws -> Data {
        guard let url = URL(string: "\(endpoint)/__proxy/\(path)") else { throw ScriptServer.StartFailure(description: "bad proxy URL") }
        var request = URLRequest(url: url)
        request.httpMethod = method
        if method == "POST" { request.httpBody = body }
        return try await withCheckedThrowingContinuation { continuation in
            URLSession.shared.dataTask(with: request) { data, _, error in
                if let error { continuation.resume(throwing: error) } else { continuation.resume(returning: data ?? Data()) }
            }.resume()
        }
    }
}
