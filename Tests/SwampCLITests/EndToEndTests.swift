import Foundation
import Testing

@Suite struct EndToEndTests {
    /// A command that writes more stderr than the output record keeps: the record holds the last
    /// 64 KiB, after a line saying how much came before; the run's memory does not grow with it.
    @Test func onlyTheEndOfALongStderrIsKept() async throws {
        let repo = try await TemporaryRepository.make()
        defer { repo.remove() }
        try await repo.shellModel("noisy", "echo first-line >&2; head -c 3000000 /dev/zero | tr '\\0' x >&2; echo last-line >&2; echo out")
        let run = try await repo.cli.run(["model", "method", "run", "noisy", "execute", "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let stderr = try #require(try run.json()["stderr"] as? String)
        let total = 11 + 3_000_000 + 10
        #expect(stderr.hasPrefix("[swamp: the first \(total - 65536) of \(total) bytes of stderr are not kept]\n"), "\(stderr.prefix(120))")
        #expect(stderr.hasSuffix("xxxxlast-line\n"))
        #expect(!stderr.contains("first-line"))
        #expect(stderr.utf8.count < 65536 + 100)

        // At the limit exactly, everything is kept.
        try await repo.shellModel("exact", "head -c 65536 /dev/zero | tr '\\0' y >&2")
        let exact = try await repo.cli.run(["model", "method", "run", "exact", "execute", "--json"])
        let whole = try #require(try exact.json()["stderr"] as? String)
        #expect(whole.utf8.count == 65536 && whole.allSatisfy { $0 == "y" })
    }

    @Test func initCreateRunListGet() async throws {
        let repo = try await TemporaryRepository.make()
        defer { repo.remove() }
        #expect(FileManager.default.fileExists(atPath: "\(repo.path)/.swamp.yaml"))
        try await repo.shellModel("hello", "echo hello; echo oops >&2")
        let created = try await repo.cli.run(["model", "create", "AWS::EC2::VPC", "vpc", "--set", "run=printf vpc", "--json"])
        // Unknown type: the model type registry knows command/shell only.
        #expect(created.status != 0)
        #expect(created.stderr.contains("unknown model type 'aws/ec2/vpc'"))

        let run = try await repo.cli.run(["model", "method", "run", "hello", "execute", "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let document = try run.json()
        #expect(document["status"] as? String == "succeeded")
        #expect(document["exitStatus"] as? Int == 0)
        #expect(document["stderr"] as? String == "oops\n")
        let data = try #require((document["data"] as? [[String: Any]])?.first)
        #expect(data["name"] as? String == "result")
        #expect(data["version"] as? Int == 1)
        #expect(data["size"] as? Int == 6)
        #expect(data["sha256"] as? String == "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03")
        let output = try #require(document["output"] as? String)
        #expect(FileManager.default.fileExists(atPath: "\(repo.path)/.swamp/\(output)"))
        let record = try String(contentsOfFile: "\(repo.path)/.swamp/\(output)", encoding: .utf8)
        #expect(record.contains("exitStatus: 0") && record.contains("oops"))

        #expect(try await repo.cli.run(["model", "method", "run", "hello", "execute"]).status == 0)
        let list = try await repo.cli.run(["data", "list", "--json"]).json()
        let items = try #require(list["items"] as? [[String: Any]])
        #expect(items.count == 1)
        let item = items[0]
        let model = try #require(item["model"] as? [String: Any])
        #expect(model["name"] as? String == "hello" && model["type"] as? String == "command/shell")
        #expect((model["id"] as? String)?.count == 36)
        #expect(item["name"] as? String == "result" && item["version"] as? Int == 2 && item["size"] as? Int == 6)
        #expect(item["createdAt"] is String && item["sha256"] is String)

        let get = try await repo.cli.run(["data", "get", "hello", "result"])
        #expect(get.stdout == Data("hello\n".utf8))
        let first = try await repo.cli.run(["data", "get", "hello", "result", "--version", "1"])
        #expect(first.stdout == Data("hello\n".utf8))
        let versions = try await repo.cli.run(["data", "versions", "hello", "result", "--json"]).json()
        #expect((versions["versions"] as? [[String: Any]])?.compactMap { $0["version"] as? Int } == [1, 2])

        let models = try await repo.cli.run(["model", "list", "--json"]).json()
        #expect((models["models"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == ["hello"])
        let shown = try await repo.cli.run(["model", "get", "hello", "--json"]).json()
        #expect((shown["arguments"] as? [String: String])?["run"] == "echo hello; echo oops >&2")
    }

    /// `git -C D` habits: the global options work before the subcommand as well as after it.
    @Test func globalOptionsWorkBeforeOrAfterTheSubcommand() async throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("swamp-global-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let before = try await CLI.exec(["--repo-dir", "\(scratch)/one", "--json", "repo", "init"], environment: [:], cwd: scratch)
        #expect(before.status == 0, "\(before.stderr)")
        #expect(try before.json()["repoId"] is String)
        let after = try await CLI.exec(["repo", "init", "--repo-dir", "\(scratch)/two"], environment: [:], cwd: scratch)
        #expect(after.status == 0, "\(after.stderr)")
        let equals = try await CLI.exec(["--repo-dir=\(scratch)/one", "data", "list", "--json"], environment: [:], cwd: scratch)
        #expect(equals.status == 0, "\(equals.stderr)")
        #expect(try equals.json()["items"] is [Any])
        for name in ["one", "two"] { #expect(FileManager.default.fileExists(atPath: "\(scratch)/\(name)/.swamp.yaml")) }
        // Without a subcommand, a global option says what it goes with.
        let alone = try await CLI.exec(["--repo-dir", "\(scratch)/one"], environment: [:], cwd: scratch)
        #expect(alone.status == 64)
        #expect(alone.stderr.contains("goes with a subcommand"), "\(alone.stderr)")
        // An unknown leading option is still an error that names it.
        let unknown = try await CLI.exec(["--colour", "repo", "init"], environment: [:], cwd: scratch)
        #expect(unknown.status != 0)
        #expect(unknown.stderr.contains("--colour"))
    }

    @Test func failingCommandStillRecordsItsOutputAndExitsNonZero() async throws {
        let repo = try await TemporaryRepository.make()
        defer { repo.remove() }
        try await repo.shellModel("broken", "printf partial; echo bad >&2; exit 3")
        let run = try await repo.cli.run(["model", "method", "run", "broken", "execute", "--json"])
        #expect(run.status != 0)
        let document = try run.json()
        #expect(document["status"] as? String == "failed")
        #expect(document["exitStatus"] as? Int == 3)
        #expect(document["stderr"] as? String == "bad\n")
        #expect(try await repo.cli.run(["data", "get", "broken", "result"]).stdout == Data("partial".utf8))
        #expect(run.stderr.contains("failed"))
    }

    @Test func statusSyncAndLocksOnTheFilesystemDatastore() async throws {
        let repo = try await TemporaryRepository.make()
        defer { repo.remove() }
        try await repo.shellModel("a", "echo a")
        _ = try await repo.cli.run(["model", "method", "run", "a", "execute"])
        let status = try await repo.cli.run(["datastore", "status", "--json"]).json()
        #expect(status["type"] as? String == "filesystem")
        #expect(status["source"] as? String == "default")
        #expect(status["path"] as? String == "\(repo.path)/.swamp")
        #expect((status["health"] as? [String: Any])?["healthy"] as? Bool == true)
        #expect((status["catalog"] as? [String: Any])?["versions"] as? Int == 1)
        #expect(status["locksHeld"] as? Int == 0)

        let sync = try await repo.cli.run(["datastore", "sync"])
        #expect(sync.status == 0)
        #expect(sync.text.contains("nothing to sync"))
        let syncJSON = try await repo.cli.run(["datastore", "sync", "--push", "--json"]).json()
        #expect(syncJSON["synced"] as? Bool == false)

        let locks = try await repo.cli.run(["datastore", "lock", "status", "--json"]).json()
        #expect((locks["locks"] as? [Any])?.isEmpty == true)
    }

    @Test func lockStatusShowsAHeldLockAndForceReleaseRemovesIt() async throws {
        let repo = try await TemporaryRepository.make()
        defer { repo.remove() }
        try await repo.shellModel("slow", "echo x")
        let list = try await repo.cli.run(["model", "get", "slow", "--json"]).json()
        let id = try #require((list["model"] as? [String: Any])?["id"] as? String)
        // A lock left by a crashed process (fresh, so it blocks).
        let lockPath = "\(repo.path)/.swamp/data/command/shell/\(id)/.lock"
        try FileManager.default.createDirectory(atPath: (lockPath as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let now = Date.ISO8601FormatStyle(includingFractionalSeconds: true).format(Date())
        let info = #"{"acquiredAt":"\#(now)","holder":"crashed run","hostname":"elsewhere","nonce":"n-1","pid":4242,"ttlMs":600000}"#
        try Data(info.utf8).write(to: URL(fileURLWithPath: lockPath))

        let blocked = try await repo.cli.run(["model", "method", "run", "slow", "execute"], environment: ["SWAMP_LOCK_TIMEOUT_MS": "300"])
        #expect(blocked.status != 0)
        #expect(blocked.stderr.contains("crashed run (pid 4242 on elsewhere)"))
        #expect(blocked.stderr.contains("swamp datastore lock release --force --model command/shell/\(id)"))

        let status = try await repo.cli.run(["datastore", "lock", "status", "--json"]).json()
        let locks = try #require(status["locks"] as? [[String: Any]])
        #expect(locks.count == 1 && locks.first?["model"] as? String == "command/shell/\(id)" && locks.first?["pid"] as? Int == 4242)

        let released = try await repo.cli.run(["datastore", "lock", "release", "--force", "--model", "command/shell/\(id)", "--json"]).json()
        #expect(released["released"] as? Bool == true)
        #expect(!FileManager.default.fileExists(atPath: lockPath))
        #expect(try await repo.cli.run(["model", "method", "run", "slow", "execute"]).status == 0)
    }

    @Test func dataGCKeepsTheNewestVersions() async throws {
        let repo = try await TemporaryRepository.make()
        defer { repo.remove() }
        try await repo.shellModel("counter", "date +%N")
        for _ in 0..<4 { #expect(try await repo.cli.run(["model", "method", "run", "counter", "execute"]).status == 0) }
        let gc = try await repo.cli.run(["data", "gc", "--keep", "2", "--json"]).json()
        #expect((gc["deleted"] as? [[String: Any]])?.compactMap { $0["version"] as? Int } == [1, 2])
        let versions = try await repo.cli.run(["data", "versions", "counter", "result", "--json"]).json()
        #expect((versions["versions"] as? [[String: Any]])?.compactMap { $0["version"] as? Int } == [3, 4])
        #expect(try await repo.cli.run(["data", "get", "counter", "result", "--version", "1"]).status != 0)
    }

    @Test func setupFilesystemMovesDataToAnotherDirectory() async throws {
        let repo = try await TemporaryRepository.make()
        defer { repo.remove() }
        try await repo.shellModel("m", "printf moved")
        _ = try await repo.cli.run(["model", "method", "run", "m", "execute"])
        let setup = try await repo.cli.run(["datastore", "setup", "filesystem", "--path", "shared-store"])
        #expect(setup.status == 0, "\(setup.stderr)")
        #expect(try String(contentsOfFile: "\(repo.path)/.swamp.yaml", encoding: .utf8).contains("shared-store"))
        let status = try await repo.cli.run(["datastore", "status", "--json"]).json()
        #expect(status["path"] as? String == "\(repo.path)/shared-store")
        #expect(try await repo.cli.run(["data", "get", "m", "result"]).stdout == Data("moved".utf8))
        // SWAMP_DATASTORE overrides the file.
        let other = try await repo.cli.run(["datastore", "status", "--json"], environment: ["SWAMP_DATASTORE": "filesystem:\(repo.path)/elsewhere"])
            .json()
        #expect(other["source"] as? String == "SWAMP_DATASTORE")
        #expect(other["path"] as? String == "\(repo.path)/elsewhere")
    }
}
