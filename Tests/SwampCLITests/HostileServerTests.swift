import Foundation
import S3Client
import SwampCore
import SwampSupport
import SwampTestSupport
import Testing

@testable import S3Datastore

/// A bucket written by an attacker (objects forged with the `aws` CLI) or served by a broken
/// server (a proxy that trickles bodies or skews clocks): the client refuses, bounded, with a
/// clear error, writes nothing, and keeps serving the partitions nobody touched.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["SWAMP_TEST_S3_ENDPOINT"] != nil, "needs the S3 test server (scripts/test.sh)"))
struct HostileServerTests {
    /// Uploads `data` to `key` of the team's bucket with the `aws` CLI.
    static func forge(_ team: S3Team, _ key: String, _ data: Data) async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("forged-\(UUID().uuidString)")
        try data.write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["aws", "--endpoint-url", team.endpoint, "s3", "cp", "--quiet", file.path, "s3://\(team.bucket)/\(key)"]
        process.environment = ProcessInfo.processInfo.environment.merging(
            ["AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"]
        ) { $1 }
        process.standardOutput = FileHandle.nullDevice
        // Wait without blocking a thread of the cooperative pool (2 here: a blocked one stalls every test).
        let exited = AsyncStream<Void>.makeStream()
        process.terminationHandler = { _ in exited.continuation.finish() }
        try process.run()
        for await _ in exited.stream {}
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "aws s3 cp failed")
    }

    static func modelId(_ cli: CLI, _ name: String) async throws -> String {
        try #require((try await cli.run(["model", "get", name, "--json"]).json()["model"] as? [String: Any])?["id"] as? String)
    }

    /// Every object's key and ETag.
    static func objects(_ team: S3Team) async throws -> [String: String] {
        Dictionary(uniqueKeysWithValues: try await team.client.list(prefix: "").map { ($0.key, $0.etag) })
    }

    static let hostileEntries: [(label: String, path: @Sendable (String) -> String)] = [
        ("a dot segment", { id in "data/command/shell/\(id)/.swamp-sync/dirty/x.log" }),
        ("an over-long name", { id in "data/command/shell/\(id)/result/1/" + String(repeating: "n", count: 300) }),
        ("another partition's path", { _ in "data/command/shell/00000000-0000-4000-8000-000000000009/result/1/raw" }),
        ("a path that is also a directory", { id in "data/command/shell/\(id)/result" }),
    ]

    /// A forged entry in model m's partition: B's pull refuses m's partition with an error naming
    /// it, writes nothing of it, still pulls model n's new version, and writes nothing remotely.
    @Test(arguments: 0..<hostileEntries.count)
    func aHostileIndexEntryIsRefusedAndOtherPartitionsStillPull(case index: Int) async throws {
        let (label, makePath) = Self.hostileEntries[index]
        let team = S3Team()
        defer { team.remove() }
        let (a, b) = try await team.start(models: ["m", "n"])
        for model in ["m", "n"] { #expect(try await a.run(["model", "method", "run", model, "execute"]).status == 0) }
        #expect(try await b.run(["datastore", "sync", "--pull"]).status == 0)
        let id = try await Self.modelId(a, "m")
        let partitionKey = "_swamp/index/models/command/shell/\(id).json"
        guard case .found(let response) = try await team.client.get(partitionKey) else {
            Issue.record("no partition")
            return
        }
        var forged = try JSONSerialization.jsonObject(with: response.body) as? [String: Any] ?? [:]
        var entries = forged["entries"] as? [String: Any] ?? [:]
        let evil = Data("evil".utf8)
        entries[makePath(id)] = ["size": evil.count, "sha256": ContentHash.sha256(evil), "seq": 1]
        forged["entries"] = entries
        try await Self.forge(team, partitionKey, try JSONSerialization.data(withJSONObject: forged))
        // A teammate commits to the other model meanwhile; a new teammate pulls everything.
        #expect(try await a.run(["model", "method", "run", "n", "execute"]).status == 0)
        _ = b
        let victim = try team.clone("victim")

        let before = try await Self.objects(team)
        let pull = try await victim.run(["datastore", "sync", "--pull", "--json"])
        #expect(pull.status != 0, "\(label) was accepted")
        #expect(pull.stderr.contains("models/command/shell/\(id)"), "\(label): \(pull.stderr)")
        #expect(pull.stderr.contains("every other partition was pulled"), "\(pull.stderr)")
        #expect(try await victim.versions("n") == [1, 2], "the other partition was not pulled")
        #expect(try await victim.versions("m") == [])
        let cache = try #require(try await victim.run(["datastore", "status", "--json"]).json()["path"] as? String)
        #expect(FileManager.default.contents(atPath: "\(cache)/\(makePath(id))") != evil, "\(label) was written locally")
        #expect(try await Self.objects(team) == before, "the pull wrote to the bucket")
        // The model whose partition is hostile cannot run until it is fixed; the other one can.
        #expect(try await victim.run(["model", "method", "run", "n", "execute"]).status == 0)
        #expect(try await victim.run(["model", "method", "run", "m", "execute"]).status != 0)
    }

    /// A forged meta with `seq` at the integer limit (or negative): a clear error, never a trap,
    /// nothing written locally or remotely.
    @Test(arguments: ["9223372036854775807", "-1"])
    func aForgedMetaSeqIsAClearError(seq: String) async throws {
        let team = S3Team()
        defer { team.remove() }
        let (a, b) = try await team.start(models: ["m"])
        #expect(try await a.run(["model", "method", "run", "m", "execute"]).status == 0)
        try await Self.forge(team, "_swamp/meta.json", Data(#"{"format":1,"seq":\#(seq),"recent":[]}"#.utf8))
        let before = try await Self.objects(team)
        let pull = try await b.run(["datastore", "sync", "--pull"])
        #expect(pull.status == 1, "\(pull.stderr)")
        #expect(pull.stderr.contains("_swamp/meta.json"), "\(pull.stderr)")
        let run = try await a.run(["model", "method", "run", "m", "execute"])
        #expect(run.status == 1, "a run must fail with an error, not a trap: \(run.status) \(run.stderr)")
        #expect(run.stderr.contains("meta.json"), "\(run.stderr)")
        #expect(try await Self.objects(team).keys.filter { $0.hasPrefix("_swamp/index") } == before.keys.filter { $0.hasPrefix("_swamp/index") })
        let locks = try await a.run(["datastore", "lock", "status", "--json"]).json()
        #expect((locks["locks"] as? [Any])?.isEmpty == true, "\(locks)")
    }

    /// An oversized index is refused at the limit without being read further: memory stays
    /// bounded (peak resident size measured with /usr/bin/time). CI: 100 MiB against the default
    /// 64 MiB limit; `SWAMP_TEST_LONG=1`: 1 GiB.
    @Test func anOversizedIndexIsRefusedWithBoundedMemory() async throws {
        let long = ProcessInfo.processInfo.environment["SWAMP_TEST_LONG"] == "1"
        let team = S3Team()
        defer { team.remove() }
        let (a, b) = try await team.start(models: ["m"])
        #expect(try await a.run(["model", "method", "run", "m", "execute"]).status == 0)
        let id = try await Self.modelId(a, "m")
        try await Self.forge(team, "_swamp/index/models/command/shell/\(id).json", Data(count: (long ? 1024 : 100) << 20))
        let measured = try await CLI.exec(
            ["-v", CLI.binary, "datastore", "sync", "--pull", "--repo-dir", b.repo], environment: b.environment, cwd: b.repo,
            executable: "/usr/bin/time")
        #expect(measured.status != 0)
        #expect(measured.stderr.contains("maxIndexBytes"), "\(measured.stderr)")
        let line = measured.stderr.split(separator: "\n").first { $0.contains("Maximum resident set size") }
        let kilobytes = line.flatMap { Int($0.split(separator: ":").last?.trimmingCharacters(in: .whitespaces) ?? "") } ?? Int.max
        print("pull refusing a \(long ? 1024 : 100) MiB index: peak resident \(kilobytes / 1024) MiB")
        #expect(kilobytes < 160 * 1024, "peak resident \(kilobytes) KiB")
    }

    /// Listings from a server that answers 200 with something else, or that hands back the
    /// continuation token it was given: the listing fails as an invalid response. It is never
    /// read as empty and complete (no locks held, when there may be), and never loops.
    @Test func aListingIsReadOnlyFromAListingThatMovesOn() async throws {
        let team = S3Team()
        defer { team.remove() }
        _ = try await team.start(models: ["m"])
        let proxy = try await FaultProxy.start(upstream: team.endpoint)
        defer { proxy.stop() }
        let a = team.cli("a", through: proxy)
        let documents = [
            "<Error><Code>InternalError</Code><Message>sent with a 200</Message></Error>",
            "<html><body>a captive portal</body></html>",
            "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>",
            "<ListBucketResult><IsTruncated>true</IsTruncated><NextContinuationToken>again</NextContinuationToken></ListBucketResult>",
        ]
        for document in documents {
            // 20 answers at most: a client that loops gets the real listing after them, and succeeds.
            try await proxy.set([.init("respond", method: "GET", path: "list-type=2", count: 20, body: document)])
            let status = try await a.run(["datastore", "lock", "status", "--json"])
            #expect(status.status != 0, "\(document): \(status.stdout)")
            #expect(status.stderr.contains("ListObjectsV2"), "\(document): \(status.stderr)")
        }
        try await proxy.set([])
        let locks = try await a.run(["datastore", "lock", "status", "--json"])
        #expect(locks.status == 0, "\(locks.stderr)")
        #expect((try locks.json()["locks"] as? [Any])?.isEmpty == true, "\(locks.stdout)")
    }

    /// A proxy trickling the index at 1 byte/s: the run fails within requestTimeoutMs plus a
    /// small margin (not after minutes) and releases its lock.
    @Test func aTrickledBodyFailsWithinTheRequestTimeout() async throws {
        let team = S3Team()
        defer { team.remove() }
        _ = try await team.start(models: ["m"])
        let proxy = try await FaultProxy.start(upstream: team.endpoint)
        defer { proxy.stop() }
        var a = team.cli("a")
        a.environment["SWAMP_DATASTORE"] =
            #"s3:{"bucket":"\#(team.bucket)","endpoint":"\#(proxy.endpoint)","forcePathStyle":true,"requestTimeoutMs":3000}"#
        try await proxy.set([.init("trickle", method: "GET", path: "_swamp/index/", count: -1, rate: 1)])
        let started = ContinuousClock.now
        let run = try await a.run(["model", "method", "run", "m", "execute"])
        let took = ContinuousClock.now - started
        #expect(run.status != 0)
        #expect(run.stderr.contains("RequestTimeout"), "\(run.stderr)")
        print("a run whose index is trickled at 1 byte/s (requestTimeoutMs 3000) failed after \(took)")
        #expect(took < .seconds(6), "took \(took)")
        try await proxy.set([])
        let locks = try await a.run(["datastore", "lock", "status", "--json"]).json()
        #expect((locks["locks"] as? [Any])?.isEmpty == true, "\(locks)")
    }

    /// A proxy moving B's server `Date` 40 s ahead: B does not take A's live lock (staleness
    /// needs the TTL to pass by B's own clock too, on an unchanged lock object).
    @Test func aSkewedServerClockDoesNotStealALiveLock() async throws {
        let team = S3Team()
        defer { team.remove() }
        let (a, _) = try await team.start(models: ["slow"], scripts: ["slow": "sleep 6; echo slow"])
        let proxy = try await FaultProxy.start(upstream: team.endpoint)
        defer { proxy.stop() }
        try await proxy.set([.init("skew_date", count: -1, seconds: 40)])
        var b = team.cli("b", through: proxy)
        b.environment["SWAMP_LOCK_TIMEOUT_MS"] = "4000"
        let holder = try a.spawn(["model", "method", "run", "slow", "execute"])
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline, (try await a.run(["datastore", "lock", "status", "--json"]).json()["locks"] as? [Any])?.isEmpty ?? true
        {
            try await Task.sleep(for: .milliseconds(50))
        }
        let contender = try await b.run(["model", "method", "run", "slow", "execute"])
        #expect(contender.status == 3, "B took A's live lock: \(contender.status) \(contender.stderr)")
        let held = try await holder.wait()
        #expect(held.status == 0, "A lost its lock: \(held.stderr)")
    }
}
