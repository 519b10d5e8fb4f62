import Foundation
import SwampTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Ctrl-C (SIGINT) and SIGTERM: the command stops at a safe point, ends the model's command and
/// its children, releases every lock, says what was and was not done, and exits 130 (143).
@Suite struct InterruptTests {
    /// A model that sleeps `SWAMP_TEST_SLEEP` seconds (0 when unset) in a child process.
    static let sleeper = "sh -c 'sleep ${SWAMP_TEST_SLEEP:-0}'; echo slept"

    @Test(arguments: [(SIGINT, Int32(130)), (SIGTERM, Int32(143))])
    func aModelRunStopsReleasesItsLockAndExits(signal: Int32, status: Int32) async throws {
        let repo = try await TemporaryRepository.make()
        defer { repo.remove() }
        try await repo.shellModel("slow", Self.sleeper)
        try await Self.interruptedRun(repo.cli, signal: signal, status: status, seconds: "5.\(signal)")
    }

    @Test(.enabled(if: ProcessInfo.processInfo.environment["SWAMP_TEST_S3_ENDPOINT"] != nil, "needs the S3 test server (scripts/test.sh)"))
    func aModelRunOnS3StopsAndReleasesItsLocks() async throws {
        let team = S3Team()
        defer { team.remove() }
        let (a, _) = try await team.start(models: ["slow"], scripts: ["slow": Self.sleeper])
        try await Self.interruptedRun(a, signal: SIGINT, status: 130, seconds: "5.99")
    }

    /// SIGINT in the middle of an S3 push of many files: the locks are released at once, the
    /// next push completes, and a teammate's pull succeeds.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["SWAMP_TEST_S3_ENDPOINT"] != nil, "needs the S3 test server (scripts/test.sh)"))
    func aPushInterruptedMidwayReleasesItsLocksAndTheNextOneCompletes() async throws {
        let team = S3Team()
        defer { team.remove() }
        let (_, b) = try await team.start(models: ["bulk"])
        // From the 41st upload on, the proxy holds every upload: the interrupt lands mid-push.
        let proxy = try await FaultProxy.start(upstream: S3Team.endpoint)
        defer { proxy.stop() }
        try await proxy.set([.init("hold", method: "PUT", path: "/outputs/", nth: 41, count: -1, timeout: 60)])
        let a = team.cli("a", through: proxy)
        let cache = try #require(try await a.run(["datastore", "status", "--json"]).json()["path"] as? String)
        let id = try #require((try await a.run(["model", "get", "bulk", "--json"]).json()["model"] as? [String: Any])?["id"] as? String)
        let directory = "\(cache)/outputs/command/shell/\(id)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for index in 1...400 {
            try Data(repeating: UInt8(index % 251), count: 2048).write(to: URL(fileURLWithPath: "\(directory)/execute-\(index).yaml"))
        }
        try FileManager.default.createDirectory(atPath: "\(cache)/.swamp-sync/dirty", withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: "\(cache)/.swamp-sync/dirty/_bulk", contents: Data())

        let running = try a.spawn(["datastore", "sync", "--push"])
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline, try await proxy.log().filter({ $0.method == "PUT" && $0.path.contains("/outputs/") }).count < 40 {
            try await Task.sleep(for: .milliseconds(20))
        }
        kill(running.pid, SIGINT)
        let started = ContinuousClock.now
        let result = try await running.wait()
        #expect(result.status == 130, "\(result.stderr)")
        #expect(ContinuousClock.now - started < .seconds(3))
        #expect(result.stderr.contains("every lock released"), "\(result.stderr)")
        let locks = try await a.run(["datastore", "lock", "status", "--json"]).json()
        #expect((locks["locks"] as? [Any])?.isEmpty == true, "\(locks)")

        try await proxy.set([])
        let again = try await a.run(["datastore", "sync", "--push"])
        #expect(again.status == 0, "\(again.stderr)")
        _ = try await team.verifyConsistency()
        let pull = try await b.run(["datastore", "sync", "--pull"])
        #expect(pull.status == 0, "\(pull.stderr)")
        let bCache = try #require(try await b.run(["datastore", "status", "--json"]).json()["path"] as? String)
        let pulled = try FileManager.default.contentsOfDirectory(atPath: "\(bCache)/outputs/command/shell/\(id)")
        #expect(pulled.filter { $0.hasPrefix("execute-") && !$0.contains("T") }.count == 400)
    }

    /// Runs the sleeper for 5 s, signals it after 1 s; checks the exit, the locks, the children,
    /// and that a new run starts at once.
    static func interruptedRun(_ cli: CLI, signal: Int32, status: Int32, seconds: String) async throws {
        let running = try cli.spawn(["model", "method", "run", "slow", "execute"], environment: ["SWAMP_TEST_SLEEP": seconds])
        // Wait until the model's command runs (its child `sleep` exists), then interrupt.
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline, !Self.processExists(matching: "sleep \(seconds)") {
            try await Task.sleep(for: .milliseconds(20))
        }
        kill(running.pid, signal)
        let signalled = ContinuousClock.now
        let result = try await running.wait()
        #expect(result.status == status, "\(result.stderr)")
        #expect(ContinuousClock.now - signalled < .seconds(2), "took \(ContinuousClock.now - signalled)")
        #expect(result.stderr.contains("nothing was written"), "\(result.stderr)")
        #expect(result.stderr.contains("every lock released"), "\(result.stderr)")
        let locks = try await cli.run(["datastore", "lock", "status", "--json"]).json()
        #expect((locks["locks"] as? [Any])?.isEmpty == true, "\(locks)")
        #expect(!Self.processExists(matching: "sleep \(seconds)"), "the model's child process survived")
        let started = ContinuousClock.now
        let next = try await cli.run(["model", "method", "run", "slow", "execute"])
        #expect(next.status == 0, "\(next.stderr)")
        #expect(ContinuousClock.now - started < .seconds(5), "the next run waited for a lock")
    }

    /// Whether a process whose command line contains `text` runs (from /proc).
    static func processExists(matching text: String) -> Bool {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.contains { entry in
            guard Int(entry) != nil, let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { return false }
            return String(decoding: data.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self).contains(text)
        }
    }
}
