import Foundation
import S3Client
import SwampCore
import SwampSupport
import SwampTestSupport
import Testing

@testable import S3Datastore

/// "A version that was written is never lost, and one user's crash never blocks another":
/// real `swamp` processes on one bucket, with faults and kills injected by a proxy in front of
/// the S3 server (scripts/fault-proxy.py) or by failpoints (`SWAMP_FAILPOINT`).
@Suite(.enabled(if: ProcessInfo.processInfo.environment["SWAMP_TEST_S3_ENDPOINT"] != nil, "needs the S3 test server (scripts/test.sh)"))
struct S3SafetyTests {
    /// A's push fails, so A's v2 stays local; B writes its own v2 and pushes. A's next sync must
    /// not overwrite B's v2: A's becomes v3, and everyone reads both.
    @Test func aTeammatesVersionIsNeverOverwritten() async throws {
        let team = S3Team()
        defer { team.remove() }
        _ = try await team.start(models: ["m"])
        let proxy = try await FaultProxy.start(upstream: S3Team.endpoint)
        defer { proxy.stop() }
        let a = team.cli("a", through: proxy)
        let b = team.cli("b")
        #expect(try await a.run(["model", "method", "run", "m", "execute"]).status == 0)
        #expect(try await b.run(["datastore", "sync", "--pull"]).status == 0)

        // A's commit is refused by the server (no retry on 403): the run fails, v2 stays local.
        try await proxy.set([.init("error", method: "PUT", path: "_swamp/meta.json", count: -1, status: 403, code: "AccessDenied")])
        let failed = try await a.run(["model", "method", "run", "m", "execute"])
        #expect(failed.status != 0)
        let aBytes = try #require(try await a.content("m", version: 2))
        try await proxy.set([])

        let bRun = try await b.run(["model", "method", "run", "m", "execute", "--json"]).json()
        let bWritten = try #require((bRun["data"] as? [[String: Any]])?.first)
        #expect(bWritten["version"] as? Int == 2)
        let bBytes = try #require(try await b.content("m", version: 2))
        #expect(aBytes != bBytes)

        // A syncs: its v2 is renumbered, not pushed over B's.
        let sync = try await a.run(["datastore", "sync", "--json"])
        #expect(sync.status == 0, "\(sync.stderr)")
        let renumbered = try #require(try sync.json()["renumbered"] as? [[String: Any]])
        #expect(renumbered.count == 1)
        #expect(renumbered.first?["from"] as? Int == 2 && renumbered.first?["to"] as? Int == 3, "\(renumbered)")
        let text = try await a.run(["datastore", "sync"])
        #expect(text.status == 0)

        #expect(try await b.run(["datastore", "sync", "--pull"]).status == 0)
        let fresh = try team.clone("fresh")
        #expect(try await fresh.run(["datastore", "sync", "--pull"]).status == 0)
        for user in [a, b, fresh] {
            #expect(try await user.versions("m") == [1, 2, 3], "\(user.repo)")
            #expect(try await user.content("m", version: 2) == bBytes, "\(user.repo) lost B's v2")
            #expect(try await user.content("m", version: 3) == aBytes, "\(user.repo) lost A's work")
            #expect(try await user.content("m") == aBytes, "latest is the highest version")
        }
        _ = try await team.verifyConsistency()
    }

    /// A's run over an existing data item dies (SIGKILL) after its uploads, before its commit:
    /// a fresh teammate pulls everything consistent, B runs the model, and A's next sync pushes
    /// A's work (nothing lost, nobody blocked).
    @Test func aWriterKilledBeforeItsCommitBlocksNobody() async throws {
        let team = S3Team()
        defer { team.remove() }
        _ = try await team.start(models: ["m"])
        let proxy = try await FaultProxy.start(upstream: S3Team.endpoint)
        defer { proxy.stop() }
        let a = team.cli("a", through: proxy)
        for _ in 0..<2 { #expect(try await a.run(["model", "method", "run", "m", "execute"]).status == 0) }

        let result = try await Self.run(a, ["model", "method", "run", "m", "execute"], killedAt: "_swamp/meta.json", proxy: proxy)
        #expect(result.status == 9, "killed: \(result.stderr)")
        let uploads = try await proxy.log().filter { $0.method == "PUT" && $0.path.contains("/data/") && $0.status == 200 }
        #expect(uploads.count >= 2, "the uploads happened before the kill")

        let fresh = try team.clone("fresh")
        let pull = try await fresh.run(["datastore", "sync", "--pull"])
        #expect(pull.status == 0, "\(pull.stderr)")
        #expect(try await fresh.versions("m") == [1, 2])
        for version in [1, 2] { #expect(try await fresh.content("m", version: version) != nil) }
        #expect(try await fresh.content("m") == (try await fresh.content("m", version: 2)))
        let b = team.cli("b")
        let run = try await b.run(["model", "method", "run", "m", "execute", "--json"])
        #expect(run.status == 0, "B is not blocked: \(run.stderr)")

        // A's uploaded-but-uncommitted v3 is renumbered past B's v3 when A syncs.
        let sync = try await a.run(["datastore", "sync"])
        #expect(sync.status == 0, "\(sync.stderr)")
        #expect(sync.text.contains("renumbered m result v3 → v4"), "\(sync.text)")
        #expect(try await fresh.run(["datastore", "sync", "--pull"]).status == 0)
        #expect(try await fresh.versions("m") == [1, 2, 3, 4])
        _ = try await team.verifyConsistency()
    }

    /// `data gc` killed before its commit, and again after its commit but before its deletes:
    /// pulls stay consistent; verify names what was left and repair removes it.
    @Test func aGarbageCollectionKilledMidwayBlocksNobody() async throws {
        let team = S3Team()
        defer { team.remove() }
        _ = try await team.start(models: ["m"])
        let proxy = try await FaultProxy.start(upstream: S3Team.endpoint)
        defer { proxy.stop() }
        let a = team.cli("a", through: proxy)
        for _ in 0..<4 { #expect(try await a.run(["model", "method", "run", "m", "execute"]).status == 0) }

        // Before the commit: nothing tombstoned, nothing deleted.
        let beforeCommit = try await Self.run(a, ["data", "gc", "--keep", "1"], killedAt: "_swamp/meta.json", proxy: proxy)
        #expect(beforeCommit.status == 9)
        let fresh = try team.clone("fresh")
        #expect(try await fresh.run(["datastore", "sync", "--pull"]).status == 0)
        #expect(try await fresh.versions("m") == [1, 2, 3, 4])

        // After the commit, at the first object delete: tombstones committed, objects still there.
        let afterCommit = try await Self.run(a, ["data", "gc", "--keep", "1"], killedAt: "/data/", method: "DELETE", proxy: proxy)
        #expect(afterCommit.status == 9)
        let pull = try await fresh.run(["datastore", "sync", "--pull"])
        #expect(pull.status == 0, "\(pull.stderr)")
        #expect(try await fresh.versions("m") == [4])
        #expect(try await fresh.content("m") != nil)

        let verify = try await a.run(["datastore", "verify", "--json"])
        #expect(verify.status == 1)
        let findings = try #require((try verify.json()["consistency"] as? [String: Any])?["findings"] as? [[String: Any]])
        #expect(findings.contains { $0["kind"] as? String == "deleted_object_left" }, "\(findings)")
        let repair = try await a.run(["datastore", "repair"])
        #expect(repair.status == 0, "\(repair.stderr)")
        #expect(try await a.run(["datastore", "verify"]).status == 0)
        #expect(try await a.run(["datastore", "sync"]).status == 0)
        _ = try await team.verifyConsistency()
    }

    /// A dies between announcing its commit and writing the partition: B's unscoped pulls carry
    /// on (the commit stays pending), verify names it, and A's next sync completes it.
    @Test func aCommitAnnouncedButNotWrittenIsHealed() async throws {
        let team = S3Team()
        defer { team.remove() }
        let (_, b) = try await team.start(models: ["m", "n"])
        let proxy = try await FaultProxy.start(upstream: S3Team.endpoint)
        defer { proxy.stop() }
        let a = team.cli("a", through: proxy)
        #expect(try await a.run(["model", "method", "run", "m", "execute"]).status == 0)
        #expect(try await b.run(["datastore", "sync", "--pull"]).status == 0)

        let killed = try await Self.run(a, ["model", "method", "run", "m", "execute"], killedAt: "_swamp/index/", proxy: proxy)
        #expect(killed.status == 9)
        let pull = try await b.run(["datastore", "sync", "--pull", "--json"])
        #expect(pull.status == 0, "\(pull.stderr)")
        #expect(try await b.versions("m") == [1])
        let verify = try await b.run(["datastore", "verify", "--json"])
        let findings = try #require((try verify.json()["consistency"] as? [String: Any])?["findings"] as? [[String: Any]])
        #expect(findings.contains { $0["kind"] as? String == "pending_commit" }, "\(findings)")

        // The next writer (A, once its lock expired) completes it; B's incremental pull sees it.
        let sync = try await a.run(["datastore", "sync"])
        #expect(sync.status == 0, "\(sync.stderr)")
        #expect(try await b.run(["datastore", "sync", "--pull"]).status == 0)
        #expect(try await b.versions("m") == [1, 2])
        let clean = try await b.run(["datastore", "verify"])
        #expect(clean.status == 0, "\(clean.text)")
    }

    /// A partition changed without the meta announcing it (what an older client that died
    /// between its two writes leaves): incremental pulls miss it until `repair` announces it.
    @Test func anUnannouncedPartitionIsFoundAndAnnouncedByRepair() async throws {
        let team = S3Team()
        defer { team.remove() }
        let (a, b) = try await team.start(models: ["m"])
        #expect(try await a.run(["model", "method", "run", "m", "execute"]).status == 0)
        #expect(try await b.run(["datastore", "sync", "--pull"]).status == 0)
        let id = try #require((try await a.run(["model", "get", "m", "--json"]).json()["model"] as? [String: Any])?["id"] as? String)

        // Plant a state file with its index entry, behind the meta's back.
        let client = team.client
        let layout = RemoteLayout(prefix: "")
        let partition = PartitionID("models/command/shell/\(id)")
        guard case .found(let response) = try await client.get(layout.partitionKey(partition)) else {
            Issue.record("no partition")
            return
        }
        var index = try PartitionIndex.decode(response.body, expected: partition)
        let planted = Data("planted by an older client".utf8)
        let path = "data/command/shell/\(id)/state.json"
        try await client.put(layout.objectKey(path), data: planted)
        index.seq += 1
        index.entries[path] = IndexEntry(size: Int64(planted.count), sha256: ContentHash.sha256(planted), seq: index.seq)
        try await client.put(layout.partitionKey(partition), data: try index.encoded(), condition: .ifMatch(response.etag ?? ""))

        #expect(try await b.run(["datastore", "sync", "--pull"]).status == 0)
        let cacheB = try #require(try await b.run(["datastore", "status", "--json"]).json()["path"] as? String)
        #expect(!FileManager.default.fileExists(atPath: "\(cacheB)/\(path)"), "an incremental pull cannot see it yet")
        let verify = try await b.run(["datastore", "verify", "--json"])
        #expect(verify.status == 1)
        let findings = try #require((try verify.json()["consistency"] as? [String: Any])?["findings"] as? [[String: Any]])
        #expect(findings.contains { $0["kind"] as? String == "unannounced_partition" }, "\(findings)")
        #expect(try await b.run(["datastore", "repair"]).status == 0)
        #expect(try await b.run(["datastore", "sync", "--pull"]).status == 0)
        #expect(FileManager.default.contents(atPath: "\(cacheB)/\(path)") == planted)
        #expect(try await b.run(["datastore", "verify"]).status == 0)
    }

    /// A is frozen (SIGSTOP) during its uploads past its lock's TTL; B takes the lock and
    /// commits v2; A resumes: its commit is refused (non-zero exit, work kept), B's v2 intact,
    /// and A's version is renumbered when A next syncs.
    @Test func twoWritersUnderOneLockNeverBothCommit() async throws {
        let team = S3Team()
        defer { team.remove() }
        let (_, b) = try await team.start(models: ["big"], scripts: ["big": "head -c 2000000 /dev/urandom"])
        let proxy = try await FaultProxy.start(upstream: S3Team.endpoint)
        defer { proxy.stop() }
        var a = team.cli("a", through: proxy)
        // A is frozen with requests in flight, and their deadlines run on while it is stopped:
        // with the default 30 s, a slow run of B (2 cores shared with the parallel suites) made
        // them time out the moment A resumed, before A could learn it had lost its lock.
        a.environment["SWAMP_DATASTORE"] =
            #"s3:{"bucket":"\#(team.bucket)","endpoint":"\#(proxy.endpoint)","forcePathStyle":true,"requestTimeoutMs":180000}"#
        #expect(try await a.run(["model", "method", "run", "big", "execute"]).status == 0)
        #expect(try await b.run(["datastore", "sync", "--pull"]).status == 0)

        // Freeze A at its first upload of v2, and hold every upload of A's until released.
        try await proxy.set([.init("hold")])
        let running = try a.spawn(["model", "method", "run", "big", "execute"])
        try await proxy.set([.init("signal", method: "PUT", path: "/data/", count: -1, signal: "STOP", pid: running.pid, then: "hold", timeout: 60)])
        try await Self.waitFor { Self.isStopped(running.pid) }
        try await Task.sleep(for: .seconds(4))  // past A's 3 s TTL: A is frozen, its heartbeat silent

        let bRun = try await b.run(["model", "method", "run", "big", "execute", "--json"])
        #expect(bRun.status == 0, "\(bRun.stderr)")
        let bVersion = try #require((try bRun.json()["data"] as? [[String: Any]])?.first?["version"] as? Int)
        #expect(bVersion == 2)
        let bBytes = try #require(try await b.content("big", version: 2))

        try await proxy.set([])
        kill(running.pid, SIGCONT)
        let aResult = try await running.wait()
        #expect(aResult.status != 0, "A's commit must be refused")
        #expect(aResult.stderr.contains("lost the"), "\(aResult.stderr)")
        let aBytes = try #require(try await a.content("big", version: 2))
        #expect(aBytes != bBytes)

        let sync = try await a.run(["datastore", "sync"])
        #expect(sync.status == 0, "\(sync.stderr)")
        #expect(sync.text.contains("renumbered big result v2 → v3"), "\(sync.text)")
        let fresh = try team.clone("fresh")
        #expect(try await fresh.run(["datastore", "sync", "--pull"]).status == 0)
        #expect(try await fresh.content("big", version: 2) == bBytes)
        #expect(try await fresh.content("big", version: 3) == aBytes)
        #expect(try await fresh.run(["model", "method", "run", "big", "execute"]).status == 0)
        #expect(try await fresh.versions("big") == [1, 2, 3, 4])
        _ = try await team.verifyConsistency()
    }

    /// A dies between writing a version's metadata.yaml and its raw; B commits the same version
    /// number; A syncs: B's bytes intact, A's half-version never pushed (discarded, reported).
    @Test func aHalfWrittenVersionIsNeverPushed() async throws {
        let team = S3Team()
        defer { team.remove() }
        let (a, b) = try await team.start(models: ["m"])
        #expect(try await a.run(["model", "method", "run", "m", "execute"]).status == 0)
        #expect(try await b.run(["datastore", "sync", "--pull"]).status == 0)

        let crashed = try await a.run(["model", "method", "run", "m", "execute"], environment: ["SWAMP_FAILPOINT": "data.after-metadata"])
        #expect(crashed.status == 9)
        let bRun = try await b.run(["model", "method", "run", "m", "execute"])  // waits out A's stale lock
        #expect(bRun.status == 0, "\(bRun.stderr)")
        let bBytes = try #require(try await b.content("m", version: 2))
        let bMetadata = try await team.client.get(try await Self.metadataKey(b, "m", 2))

        let sync = try await a.run(["datastore", "sync", "--json"])
        #expect(sync.status == 0, "\(sync.stderr)")
        #expect((try sync.json()["discarded"] as? [String])?.count == 1)
        #expect(try await a.content("m", version: 2) == bBytes)
        let after = try await team.client.get(try await Self.metadataKey(b, "m", 2))
        if case .found(let before) = bMetadata, case .found(let now) = after {
            #expect(before.body == now.body)
        } else {
            Issue.record("metadata missing")
        }
        _ = try await team.verifyConsistency()
    }

    /// A writer killed right after a version's `raw` is in place (no writer's record yet), or right
    /// after its record is appended (`latest` and the catalog not updated): its next sync commits
    /// the version whole (hashing the file, or taking the record, which the upload checks), and a
    /// teammate reads the bytes A has.
    @Test func aWriterKilledAroundItsRecordLosesNothing() async throws {
        let team = S3Team()
        defer { team.remove() }
        // 2 MiB: streamed, checked against its hash as it is sent.
        let (a, b) = try await team.start(models: ["m"], scripts: ["m": "head -c 2097152 /dev/urandom"])
        let cache = try #require(try await a.run(["datastore", "status", "--json"]).json()["cachePath"] as? String)
        let hex = try Regex(#"/raw\t[0-9a-f]{64} "#)
        for (version, failpoint) in [(1, "data.after-raw"), (2, "data.after-record")] {
            let crashed = try await a.run(["model", "method", "run", "m", "execute"], environment: ["SWAMP_FAILPOINT": failpoint])
            #expect(crashed.status == 9, "\(failpoint): \(crashed.stderr)")
            let logs = try FileManager.default.contentsOfDirectory(atPath: "\(cache)/.swamp-sync/dirty").filter { $0.hasSuffix(".log") }
            let recorded = try logs.contains { try String(contentsOfFile: "\(cache)/.swamp-sync/dirty/\($0)", encoding: .utf8).contains(hex) }
            #expect(recorded == (failpoint == "data.after-record"), "\(failpoint): the writer's record appended only after the raw")
            let sync = try await a.run(["datastore", "sync"])
            #expect(sync.status == 0, "\(failpoint): \(sync.stderr)")
            #expect(try await a.versions("m") == Array(1...version), "\(failpoint)")
            let mine = try #require(try await a.content("m", version: version))
            #expect(mine.count == 2_097_152)
            #expect(try await b.run(["datastore", "sync", "--pull"]).status == 0)
            #expect(try await b.content("m", version: version) == mine, "\(failpoint): the teammate reads A's bytes")
        }
        _ = try await team.verifyConsistency()
    }

    /// A dies after its commit, before recording it; B runs; A syncs: A's `latest` is not lower
    /// than B's, and nothing is renumbered (A's commit is adopted as A's).
    @Test func aWriterKilledAfterItsCommitNeverMovesLatestBack() async throws {
        let team = S3Team()
        defer { team.remove() }
        let (a, b) = try await team.start(models: ["m"])
        #expect(try await a.run(["model", "method", "run", "m", "execute"]).status == 0)
        let crashed = try await a.run(["model", "method", "run", "m", "execute"], environment: ["SWAMP_FAILPOINT": "push.after-commit"])
        #expect(crashed.status == 9)
        #expect(try await b.run(["model", "method", "run", "m", "execute"]).status == 0)
        let bBytes = try #require(try await b.content("m"))
        let sync = try await a.run(["datastore", "sync", "--json"])
        #expect(sync.status == 0, "\(sync.stderr)")
        #expect((try sync.json()["renumbered"] as? [[String: Any]])?.isEmpty == true)
        #expect(try await a.versions("m") == [1, 2, 3])
        #expect(try await a.content("m") == bBytes, "latest is B's v3")
        _ = try await team.verifyConsistency()
    }

    /// verify names a dangling entry and an orphan; repair --dry-run changes nothing; repair
    /// fixes both; a second verify is clean and pulls work.
    @Test func verifyNamesAndRepairFixesADanglingEntryAndAnOrphan() async throws {
        let team = S3Team()
        defer { team.remove() }
        let (a, b) = try await team.start(models: ["m"])
        for _ in 0..<2 { #expect(try await a.run(["model", "method", "run", "m", "execute"]).status == 0) }
        let id = try #require((try await a.run(["model", "get", "m", "--json"]).json()["model"] as? [String: Any])?["id"] as? String)
        let dangling = "data/command/shell/\(id)/result/1/raw"
        let orphan = "data/command/shell/\(id)/result/9/raw"
        try await team.client.delete(dangling)
        try await team.client.put(orphan, data: Data("left by a crashed upload".utf8))

        let verify = try await b.run(["datastore", "verify", "--json", "--min-orphan-age", "0"])
        #expect(verify.status == 1)
        let findings = try #require((try verify.json()["consistency"] as? [String: Any])?["findings"] as? [[String: Any]])
        #expect(findings.contains { $0["kind"] as? String == "dangling_entry" && $0["key"] as? String == dangling }, "\(findings)")
        #expect(findings.contains { $0["kind"] as? String == "orphan_object" && $0["key"] as? String == orphan }, "\(findings)")
        // A young orphan is not deleted by default.
        let young = try await b.run(["datastore", "verify", "--json"])
        let youngFindings = try #require((try young.json()["consistency"] as? [String: Any])?["findings"] as? [[String: Any]])
        #expect(youngFindings.contains { $0["key"] as? String == orphan && $0["repairable"] as? Bool == false })

        let snapshot = try await Self.bucketSnapshot(team)
        let dryRun = try await b.run(["datastore", "repair", "--dry-run", "--min-orphan-age", "0"])
        #expect(dryRun.status == 0, "\(dryRun.stderr)")
        #expect(dryRun.text.contains("would fix: dangling_entry \(dangling)"), "\(dryRun.text)")
        #expect(try await Self.bucketSnapshot(team) == snapshot, "a dry run changes nothing")

        let repair = try await b.run(["datastore", "repair", "--min-orphan-age", "0"])
        #expect(repair.status == 0, "\(repair.stderr)")
        #expect(repair.text.contains("fixed: orphan_object \(orphan)"), "\(repair.text)")
        let clean = try await b.run(["datastore", "verify", "--min-orphan-age", "0"])
        #expect(clean.status == 0, "\(clean.text)")
        #expect(try await b.run(["datastore", "sync"]).status == 0)
        #expect(try await b.versions("m") == [2])
        #expect(try await team.clone("fresh").run(["datastore", "sync", "--pull"]).status == 0)
    }

    /// A model run on an unchanged model costs 10 requests as the server sees them, 7 of them
    /// on its critical path (lock; global-lock read; partition read; the uploads and a meta
    /// read side by side; announce; partition; release) — also when a teammate committed since
    /// (no refused announcement) — and its `--json` report (sync + lock requests) says exactly
    /// that; a pull of the model the teammate changed waits for 2 round trips (the meta; the
    /// index and the files the meta hints side by side); a no-op `sync --pull` costs 1.
    @Test func requestCountsAreWhatTheServerSaw() async throws {
        let team = S3Team()
        defer { team.remove() }
        let (_, b) = try await team.start(models: ["m", "n"])
        let proxy = try await FaultProxy.start(upstream: S3Team.endpoint)
        defer { proxy.stop() }
        var a = team.cli("a", through: proxy)
        a.environment["SWAMP_LOCK_TTL_MS"] = "30000"  // no heartbeat during the run, whatever the machine's load
        #expect(try await a.run(["model", "method", "run", "m", "execute"]).status == 0)
        #expect(try await b.run(["model", "method", "run", "n", "execute"]).status == 0)  // a teammate's commit
        try await proxy.clearLog()
        // 40 ms on every request, so that requests in flight together visibly overlap.
        try await proxy.set([.init("delay", count: -1, ms: 40)])
        let run = try await a.run(["model", "method", "run", "m", "execute", "--json"])
        try await proxy.set([])
        #expect(run.status == 0)
        let seen = try await proxy.log()
        let described = seen.map { "\($0.method) \($0.path) \($0.status)" }
        #expect(seen.count == 10, "\(described)")
        #expect(!seen.contains { $0.status == 412 }, "\(described)")
        #expect(!seen.contains { $0.path.contains("/data/") && $0.method == "GET" }, "nothing downloaded: \(described)")
        let rounds = FaultProxy.criticalPath(seen)
        #expect(rounds <= 7, "critical path \(rounds): \(described)")
        let sync = try #require(try run.json()["sync"] as? [String: Any])
        #expect(Self.total(sync) == seen.count, "reported \(sync), the server saw \(seen.count)")
        print("model run on an unchanged model: \(seen.count) requests, \(rounds) on the critical path: \(seen.map { "\($0.method) \($0.status)" })")

        #expect(try await a.run(["datastore", "sync", "--pull"]).status == 0)
        #expect(try await b.run(["model", "method", "run", "n", "execute"]).status == 0)
        try await proxy.clearLog()
        // 100 ms here: an exact count of round trips must not depend on the machine's load.
        try await proxy.set([.init("delay", count: -1, ms: 100)])
        let changed = try await a.run(["datastore", "sync", "--pull"])
        try await proxy.set([])
        #expect(changed.status == 0, "\(changed.stderr)")
        let fetched = try await proxy.log()
        let fetchedPaths = fetched.map { "\($0.method) \($0.path) \($0.status)" }
        // The meta, n's index, and n's new version (metadata.yaml, raw) and output record.
        #expect(fetched.count == 5, "\(fetchedPaths)")
        #expect(FaultProxy.criticalPath(fetched) == 2, "\(fetchedPaths)")
        #expect(try await a.versions("n") == [1, 2])

        for _ in 0..<2 { #expect(try await a.run(["datastore", "sync", "--pull"]).status == 0) }
        try await proxy.clearLog()
        let pull = try await a.run(["datastore", "sync", "--pull", "--json"])
        #expect(pull.status == 0)
        let pulled = try await proxy.log()
        #expect(pulled.count == 1, "\(pulled.map { "\($0.method) \($0.path) \($0.status)" })")
        #expect(Self.total(try pull.json()) == 1)

        // A full sync and a gc run under the global lock: its waits, acquire and release count too.
        for command in [["datastore", "sync", "--json"], ["data", "gc", "--keep", "1", "--json"]] {
            try await proxy.clearLog()
            let result = try await a.run(command)
            #expect(result.status == 0, "\(result.stderr)")
            let seen = try await proxy.log()
            let document = try result.json()
            let report = (document["sync"] as? [String: Any]) ?? document
            #expect(Self.total(report) == seen.count, "\(command): reported \(report), the server saw \(seen.map { "\($0.method) \($0.path)" })")
        }
    }

    /// Sync plus lock requests of a `--json` sync report.
    static func total(_ report: [String: Any]) -> Int {
        let sync = (report["requests"] as? [String: Int])?.values.reduce(0, +) ?? 0
        let locks = (report["lockRequests"] as? [String: Int])?.values.reduce(0, +) ?? 0
        return sync + locks
    }

    // MARK: Helpers

    /// Runs `arguments` as user `cli` and SIGKILLs it (via the proxy) when its first request
    /// matching `path` (and `method`) arrives, before that request reaches the server.
    static func run(_ cli: CLI, _ arguments: [String], killedAt path: String, method: String = "PUT", proxy: FaultProxy) async throws -> CLI.Result {
        try await proxy.clearLog()
        // Hold the first request until the kill rule (which needs the pid) is in place.
        try await proxy.set([.init("hold")])
        let running = try cli.spawn(arguments)
        try await proxy.set([.init("signal", method: method, path: path, signal: "KILL", pid: running.pid)])
        let result = try await running.wait()
        try await proxy.set([])
        return result
    }

    static func waitFor(_ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("condition not met within 30 s")
    }

    static func metadataKey(_ cli: CLI, _ model: String, _ version: Int) async throws -> String {
        let shown = try await cli.run(["model", "get", model, "--json"]).json()
        guard let id = (shown["model"] as? [String: Any])?["id"] as? String else { throw CLIFailure("no model \(model)") }
        return "data/command/shell/\(id)/result/\(version)/metadata.yaml"
    }

    /// Whether process `pid` is stopped (state `T` in /proc/PID/stat).
    static func isStopped(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return false }
        return stat[stat.index(close, offsetBy: 2)...].hasPrefix("T")
    }

    /// Every object's key and ETag.
    static func bucketSnapshot(_ team: S3Team) async throws -> [String: String] {
        Dictionary(uniqueKeysWithValues: try await team.client.list(prefix: "").map { ($0.key, $0.etag) })
    }
}

struct CLIFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
