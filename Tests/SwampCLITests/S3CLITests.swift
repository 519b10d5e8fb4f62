import Foundation
import S3Client
import SwampSupport
import Testing

@testable import S3Datastore
@testable import SwampCore

/// The `swamp` binary against the S3 test server, as several real processes.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["SWAMP_TEST_S3_ENDPOINT"] != nil, "needs the S3 test server (scripts/test.sh)"))
struct S3CLITests {
    static let endpoint = ProcessInfo.processInfo.environment["SWAMP_TEST_S3_ENDPOINT"] ?? ""

    typealias Team = S3Team

    @Test func twoUsersRunningDifferentModelsConcurrentlyLoseNothing() async throws {
        let team = Team()
        defer { team.remove() }
        let (a, b) = try await team.start(models: ["x", "y"])
        let seqBefore = try await team.verifyConsistency().seq

        async let runsA: [Int32] = Self.runs(a, model: "x", count: 20)
        async let runsB: [Int32] = Self.runs(b, model: "y", count: 20)
        let (statusesA, statusesB) = try await (runsA, runsB)
        #expect(statusesA.allSatisfy { $0 == 0 } && statusesB.allSatisfy { $0 == 0 })

        for user in [a, b] {
            #expect(try await user.run(["datastore", "sync"]).status == 0)
            for model in ["x", "y"] {
                let versions = try await user.run(["data", "versions", model, "result", "--json"]).json()
                let listed = (versions["versions"] as? [[String: Any]])?.compactMap { $0["version"] as? Int }
                #expect(listed == Array(1...20), "\(user.repo) sees \(model) versions \(listed ?? [])")
            }
        }
        let (seq, entries) = try await team.verifyConsistency()
        #expect(seq == seqBefore + 40)  // one commit per run, none lost
        #expect(entries == 2 * 20 * 3)  // per model: 20 × (metadata.yaml, raw, output record); `latest` is derived
    }

    @Test func aPushKilledMidwayIsCompletedByTheNextPush() async throws {
        let team = Team()
        defer { team.remove() }
        let (a, _) = try await team.start(models: ["bulk"])
        // 400 files a crashed run left in the cache, never pushed.
        let status = try await a.run(["datastore", "status", "--json"]).json()
        let cache = try #require(status["path"] as? String)
        let shown = try await a.run(["model", "get", "bulk", "--json"]).json()
        let id = try #require((shown["model"] as? [String: Any])?["id"] as? String)
        for index in 1...400 {
            let directory = "\(cache)/outputs/command/shell/\(id)"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try Data(repeating: UInt8(index % 251), count: 2048).write(to: URL(fileURLWithPath: "\(directory)/execute-\(index).yaml"))
        }
        try FileManager.default.createDirectory(atPath: "\(cache)/.swamp-sync/dirty", withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: "\(cache)/.swamp-sync/dirty/_bulk", contents: Data())

        let process = Process()
        process.executableURL = URL(fileURLWithPath: CLI.binary)
        process.arguments = ["datastore", "sync", "--push", "--repo-dir", a.repo]
        process.environment = ProcessInfo.processInfo.environment.merging(a.environment) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Kill it once some uploads have landed, before the commit.
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if try await team.client.list(prefix: "outputs/").count >= 50 { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()

        // Read-only commands make no request, so they work without credentials (offline).
        let offline = try await a.run(
            ["data", "list", "--json"], environment: ["AWS_ACCESS_KEY_ID": "", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent"])
        #expect(offline.status == 0, "\(offline.stderr)")

        let again = try await a.run(["datastore", "sync", "--push", "--json"])
        #expect(again.status == 0, "\(again.stderr)")
        let (_, entries) = try await team.verifyConsistency()
        #expect(entries >= 400)
        let b = team.cli("b")
        #expect(try await b.run(["datastore", "sync", "--pull"]).status == 0)
        let bStatus = try await b.run(["datastore", "status", "--json"]).json()
        let bCache = try #require(bStatus["path"] as? String)
        let pulled = try FileManager.default.contentsOfDirectory(atPath: "\(bCache)/outputs/command/shell/\(id)").filter {
            $0.hasPrefix("execute-") && !$0.contains("T")
        }
        #expect(pulled.count == 400)
    }

    /// `datastore setup s3` links the local datastore's files into the cache instead of copying
    /// them (no byte copied, no space used twice): the cache's file is the local one's inode.
    /// Yet the two part at the next change, and what is pushed and pulled is the data.
    @Test func setupLinksTheLocalFilesIntoTheCache() async throws {
        let team = Team()
        defer { team.remove() }
        let (a, local) = try await team.localRepository("a", script: "printf local-$$")
        let before = try await a.run(["data", "get", "m", "result"]).stdout
        let setup = try await a.run(["datastore", "setup", "s3", "--config", team.configJSON])
        try #require(setup.status == 0, "\(setup.stderr)")
        let cache = try #require(try await a.run(["datastore", "status", "--json"]).json()["cachePath"] as? String)
        let raws = DatastoreMigration.tierFiles(under: local).filter { $0.hasSuffix("/raw") }
        #expect(raws.count == 1)
        for raw in raws {
            let (mine, theirs) = (try #require(LocalFile.stat("\(local)/\(raw)")), try #require(LocalFile.stat("\(cache)/\(raw)")))
            #expect(mine.inode == theirs.inode, "linked, not copied: \(raw)")
        }
        #expect(try await a.run(["data", "get", "m", "result"]).stdout == before)
        // A new version is written beside them, never into a linked file.
        try #require(try await a.run(["model", "method", "run", "m", "execute"]).status == 0)
        let b = team.cli("b")
        try FileManager.default.createDirectory(atPath: b.repo, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: "\(a.repo)/.swamp.yaml", toPath: "\(b.repo)/.swamp.yaml")
        try FileManager.default.copyItem(atPath: "\(a.repo)/models", toPath: "\(b.repo)/models")
        try #require(try await b.run(["datastore", "sync"]).status == 0)
        #expect(try await b.run(["data", "get", "m", "result", "--version", "1"]).stdout == before)
        #expect(try await b.run(["data", "get", "m", "result"]).stdout == (try await a.run(["data", "get", "m", "result"]).stdout))
        #expect(FileManager.default.contents(atPath: "\(local)/\(try #require(raws.first))") == before, "the local datastore is as it was")
    }

    /// `datastore setup s3` gives the push each version's hash as its metadata records it, so the
    /// push does not read a large file once to hash it before sending it. A version changed in
    /// place since it was written (same size) makes that hash a lie: the upload, which hashes
    /// what it sends, commits nothing of it and fails setup, which changes nothing; setup run
    /// again hashes the file and pushes it as it is (as it always did).
    @Test func setupTakesEachVersionsHashFromItsMetadataAndNeverCommitsALie() async throws {
        let team = Team()
        defer { team.remove() }
        // 2 MiB: streamed, as every file from 1 MiB is (the smaller ones are read whole to be sent).
        let (a, local) = try await team.localRepository("a", script: "head -c 2097152 /dev/urandom")
        let raw = try #require(DatastoreMigration.tierFiles(under: local).first { $0.hasSuffix("/raw") })
        let handle = try #require(FileHandle(forUpdatingAtPath: "\(local)/\(raw)"))
        try handle.seek(toOffset: 1000)
        let byte = try #require(try handle.read(upToCount: 1)).first ?? 0
        try handle.seek(toOffset: 1000)
        try handle.write(contentsOf: Data([byte ^ 0xff]))
        try handle.close()
        let edited = try #require(FileManager.default.contents(atPath: "\(local)/\(raw)"))

        let refused = try await a.run(["datastore", "setup", "s3", "--config", team.configJSON])
        #expect(refused.status != 0, "the lie was taken and caught: \(refused.stdout)")
        #expect(refused.stderr.contains(raw) && refused.stderr.contains("Nothing of it was committed"), "\(refused.stderr)")
        #expect(refused.stderr.contains("Run 'swamp datastore setup s3' again"), "the command to run, not a push: \(refused.stderr)")
        #expect(try await a.run(["datastore", "status", "--json"]).json()["path"] as? String == local, "still on the local datastore")
        #expect(try await team.client.list(prefix: "").allSatisfy { !$0.key.hasSuffix("/raw") }, "no object of the version's bytes")

        let setup = try await a.run(["datastore", "setup", "s3", "--config", team.configJSON])
        try #require(setup.status == 0, "\(setup.stderr)")
        let b = try team.clone("b")
        try #require(try await b.run(["datastore", "sync"]).status == 0)
        #expect(try await b.run(["data", "get", "m", "result"]).stdout == edited, "the file as it is, hashed by the second push")
    }

    @Test func setupWithBadConfigChangesNothing() async throws {
        let team = Team()
        defer { team.remove() }
        let a = team.cli("a")
        try FileManager.default.createDirectory(atPath: a.repo, withIntermediateDirectories: true)
        _ = try await a.run(["repo", "init"])
        let before = try String(contentsOfFile: "\(a.repo)/.swamp.yaml", encoding: .utf8)
        for (config, mentioning) in [
            (#"{"bucket":"bucket-b","colour":"blue"}"#, "datastore.config.colour"),
            (#"{"prefix":"p"}"#, "datastore.config.bucket"),
            (#"{"bucket":"bucket-b","pullConcurrency":0}"#, "datastore.config.pullConcurrency"),
            (#"{"bucket":"bucket-b","forcePathStyle":"yes"}"#, "datastore.config.forcePathStyle"),
            ("not json", "not valid JSON"),
            (#"{"bucket":"B_ad"}"#, "not a valid bucket name"),
            (#"{"bucket":"no-such-bucket-here","endpoint":"\#(S3CLITests.endpoint)","forcePathStyle":true}"#, "not usable"),
        ] {
            let result = try await a.run(["datastore", "setup", "s3", "--config", config])
            #expect(result.status != 0)
            #expect(result.stderr.contains(mentioning), "\(result.stderr)")
        }
        #expect(try String(contentsOfFile: "\(a.repo)/.swamp.yaml", encoding: .utf8) == before)
        let missing = try await a.run(
            ["datastore", "status"],
            environment: ["SWAMP_DATASTORE": "s3:" + team.configJSON, "AWS_ACCESS_KEY_ID": "", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent"])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("credentials"))
    }

    /// On a terminal, long transfers show progress (`script` gives the process a pseudo-terminal);
    /// piped, they print none.
    @Test func setupShowsTransferProgressOnATerminalOnly() async throws {
        let team = Team()
        defer { team.remove() }
        try await team.client.createBucket()
        let a = team.cli("a")
        try FileManager.default.createDirectory(atPath: a.repo, withIntermediateDirectories: true)
        _ = try await a.run(["repo", "init"])
        _ = try await a.run(["model", "create", "command/shell", "p", "--set", "run=echo p"])
        for _ in 0..<3 { _ = try await a.run(["model", "method", "run", "p", "execute"]) }
        let command = ([CLI.binary, "datastore", "setup", "s3", "--config", team.configJSON, "--repo-dir", a.repo])
            .map { "'\($0.replacingOccurrences(of: "'", with: "'\\''"))'" }.joined(separator: " ")
        let onTerminal = try await CLI.exec(["-qec", command, "/dev/null"], environment: a.environment, cwd: a.repo, executable: "/usr/bin/script")
        #expect(onTerminal.status == 0, "\(onTerminal.text)")
        #expect(onTerminal.text.contains("push: 9/9 files"), "\(onTerminal.text)")  // 3 × (metadata, raw, output)
        let piped = try await team.cli("a").run(["datastore", "sync", "--push"])
        #expect(!piped.stderr.contains("files\r") && !piped.stderr.contains("push: "))
    }

    /// Setting up again on the same bucket (to switch to lazy hydration) takes seconds: it
    /// never waits on its own global lock.
    @Test func reRunningSetupSwitchesTheStrategyWithoutWaitingOnItself() async throws {
        let team = Team()
        defer { team.remove() }
        let (a, _) = try await team.start(models: ["m"])
        #expect(try await a.run(["model", "method", "run", "m", "execute"]).status == 0)
        // Waiting on itself would last the whole lock timeout (set to 40 s here) and end in exit 3;
        // well under it, whatever the machine's load, means it did not wait.
        let started = ContinuousClock.now
        let again = try await a.run(
            ["datastore", "setup", "s3", "--config", team.configJSON, "--hydration-strategy", "lazy"], environment: ["SWAMP_LOCK_TIMEOUT_MS": "40000"]
        )
        #expect(again.status == 0, "\(again.stderr)")
        #expect(ContinuousClock.now - started < .seconds(25))
        let status = try await a.run(["datastore", "status", "--json"]).json()
        #expect(status["hydrationStrategy"] as? String == "lazy")
        #expect(try await a.content("m") != nil)
    }

    static func runs(_ cli: CLI, model: String, count: Int) async throws -> [Int32] {
        var statuses: [Int32] = []
        for _ in 0..<count {
            let result = try await cli.run(["model", "method", "run", model, "execute"])
            if result.status != 0 { Issue.record("run of \(model) failed: \(result.stderr)") }
            statuses.append(result.status)
        }
        return statuses
    }
}
