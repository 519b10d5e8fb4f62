import Foundation
import SwampTestSupport
import Testing

/// Over a network's latency, the requests of one sync overlap: the partitions of a push are
/// committed side by side, and the partitions of a pull do not wait for each other (one
/// transfer window, no barrier between partitions). Measured through a proxy that adds 30 ms
/// to every request, so that requests in flight together visibly overlap.
@Suite(.enabled(if: !S3Team.endpoint.isEmpty, "needs the S3 test server (scripts/test.sh)"))
struct NetworkTests {
    static let models = 12

    @Test func thePartitionsOfAPushAndOfAPullOverlap() async throws {
        let team = S3Team()
        defer { team.remove() }
        try await team.client.createBucket()
        let proxy = try await FaultProxy.start(upstream: S3Team.endpoint)
        defer { proxy.stop() }

        // A: 12 models, each run once on the filesystem datastore; then one push of all of it.
        let a = try await Self.repository(of: team, models: Self.models) { "echo \($0)-$$" }
        try await proxy.set([.init("delay", count: -1, ms: 30)])
        let config = #"{"bucket":"\#(team.bucket)","endpoint":"\#(proxy.endpoint)","forcePathStyle":true}"#
        let setup = try await a.run(["datastore", "setup", "s3", "--config", config])
        #expect(setup.status == 0, "\(setup.stderr)")
        let pushed = try await proxy.log()
        let commits = pushed.filter { $0.method == "PUT" && $0.path.contains("/_swamp/index/") }
        #expect(commits.count == Self.models)
        #expect(Self.mostInFlight(commits) >= 4, "partition commits one after another: \(Self.describe(commits))")
        let pushPath = FaultProxy.criticalPath(pushed)

        // B, a teammate who never synced, pulls everything.
        try await proxy.clearLog()
        let b = try team.clone("b")
        let pull = try await b.run(["datastore", "sync", "--pull"], environment: ["SWAMP_DATASTORE": team.datastore(through: proxy)])
        #expect(pull.status == 0, "\(pull.stderr)")
        let pulled = try await proxy.log()
        let downloads = pulled.filter { $0.method == "GET" && $0.path.contains("/data/") }
        #expect(downloads.count == Self.models * 2, "metadata.yaml and raw of each model's version")
        #expect(Self.mostPartitionsInFlight(downloads) >= 2, "downloads one partition at a time: \(Self.describe(downloads))")
        let pullPath = FaultProxy.criticalPath(pulled)
        // meta → LIST of the index → the partitions side by side → their 36 downloads: about 6
        // on an idle machine; one partition after another would be 2 + 12 × 2 = 26 at least.
        // (Loose: this test shares 2 cores with the rest of the suite.)
        #expect(pullPath <= 16, "pull: \(pullPath) round trips on the critical path: \(Self.describe(pulled))")
        for index in 0..<Self.models {
            #expect(try await b.versions("m\(index)") == [1])
        }
        print("12 partitions through 30 ms: push \(pushed.count) requests, \(pushPath) on the critical path; pull \(pulled.count), \(pullPath)")
    }

    /// Objects streamed whole (1 MiB or more, under the multipart threshold) go at most eight at
    /// a time, as the parts of a large object do, whatever `pushConcurrency` (each costs memory
    /// beyond its chunks); they still overlap, and small objects are not held back by them.
    @Test func streamedObjectsGoAtMostEightAtATime() async throws {
        let team = S3Team()
        defer { team.remove() }
        try await team.client.createBucket()
        let proxy = try await FaultProxy.start(upstream: S3Team.endpoint)
        defer { proxy.stop() }
        let a = try await Self.repository(of: team, models: 16) { _ in "head -c 1572864 /dev/urandom" }
        try await proxy.set([.init("delay", count: -1, ms: 30)])
        let config = #"{"bucket":"\#(team.bucket)","endpoint":"\#(proxy.endpoint)","forcePathStyle":true,"pushConcurrency":32}"#
        let setup = try await a.run(["datastore", "setup", "s3", "--config", config])
        #expect(setup.status == 0, "\(setup.stderr)")
        let puts = try await proxy.log().filter { $0.method == "PUT" && $0.path.contains("/data/") }
        let streamed = puts.filter { $0.path.hasSuffix("/raw") }
        #expect(streamed.count == 16, "\(Self.describe(puts))")
        #expect(Self.mostInFlight(streamed) <= 8, "streamed uploads: \(Self.describe(streamed))")
        #expect(Self.mostInFlight(streamed) >= 4, "streamed uploads one after another: \(Self.describe(streamed))")
        #expect(Self.mostInFlight(puts) > Self.mostInFlight(streamed), "small uploads waited for the streamed ones: \(Self.describe(puts))")
    }

    /// `team`'s user A on the filesystem datastore: models `m0`… each run once, `command(index)`
    /// the shell command of each.
    static func repository(of team: S3Team, models: Int, command: (Int) -> String) async throws -> CLI {
        let a = team.cli("a")
        try FileManager.default.createDirectory(atPath: a.repo, withIntermediateDirectories: true)
        try #require(try await a.run(["repo", "init"]).status == 0)
        for index in 0..<models {
            try #require(try await a.run(["model", "create", "command/shell", "m\(index)", "--set", "run=\(command(index))"]).status == 0)
            try #require(try await a.run(["model", "method", "run", "m\(index)", "execute"]).status == 0)
        }
        return a
    }

    /// The most requests in flight at one instant.
    static func mostInFlight(_ requests: [FaultProxy.Entry]) -> Int {
        requests.map { request in requests.filter { $0.start <= request.start && request.start < $0.end }.count }.max() ?? 0
    }

    /// The most distinct models whose objects were being downloaded at one instant.
    static func mostPartitionsInFlight(_ requests: [FaultProxy.Entry]) -> Int {
        requests.map { request in
            Set(requests.filter { $0.start <= request.start && request.start < $0.end }.map { model(of: $0.path) }).count
        }.max() ?? 0
    }

    /// The model id in an object's key (`…/data/command/shell/{id}/…`).
    static func model(of path: String) -> String {
        path.split(separator: "/").first { $0.count == 36 && $0.filter { $0 == "-" }.count == 4 }.map(String.init) ?? path
    }

    static func describe(_ requests: [FaultProxy.Entry]) -> String {
        guard let origin = requests.map(\.start).min() else { return "[]" }
        return requests.sorted { $0.start < $1.start }.map {
            "\($0.method) \($0.path.split(separator: "/").suffix(2).joined(separator: "/")) \(Int(($0.start - origin) * 1000))–\(Int(($0.end - origin) * 1000)) ms"
        }.joined(separator: "; ")
    }
}
