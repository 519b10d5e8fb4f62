import Foundation
import S3Client
import SwampContracts
import SwampCore
import SwampSupport
import Testing

@testable import S3Datastore

/// Lazy hydration through the `swamp` binary, on a bucket holding 1000 files of 5 KiB over 50 models.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["SWAMP_TEST_S3_ENDPOINT"] != nil, "needs the S3 test server (scripts/test.sh)"))
struct S3LazyCLITests {
    /// A teammate's repository: 50 models × 20 versions of 5 KiB, pushed to the bucket; and a new
    /// member's clone set up lazily. Returns the clone, the models (name → id) and the team.
    static func joinLazily() async throws -> (CLI, [String: String], S3CLITests.Team, Int) {
        let team = S3CLITests.Team()
        try await team.client.createBucket()
        let origin = team.cli("origin")
        try FileManager.default.createDirectory(atPath: origin.repo, withIntermediateDirectories: true)
        try #require(try await origin.run(["repo", "init"]).status == 0)
        for index in 0..<50 {
            try #require(try await origin.run(["model", "create", "command/shell", "m\(index)", "--set", "run=true"]).status == 0)
        }
        let listed = try await origin.run(["model", "list", "--json"]).json()
        var ids: [String: String] = [:]
        for model in (listed["models"] as? [[String: Any]]) ?? [] {
            if let name = model["name"] as? String, let id = model["id"] as? String { ids[name] = id }
        }
        // The teammate's data, written and pushed through the library (as their swamp would).
        let seedRoot = "\(team.root)/seed-cache"
        let settings = try S3DatastoreConfig.parse(
            .object(["bucket": .string(team.bucket), "endpoint": .string(S3CLITests.endpoint), "forcePathStyle": .bool(true)]))
        let provider = S3Provider(
            settings: settings, credentials: S3Credentials(accessKeyId: "test", secretAccessKey: "test"), cacheRoot: seedRoot, hydration: .full,
            logger: .init(label: "seed"))
        let sync = provider.makeSyncService()
        let catalog = try Catalog(path: "\(team.root)/seed.db", layout: DatastoreLayout(root: seedRoot))
        let repository = DataRepository(layout: DatastoreLayout(root: seedRoot), catalog: catalog, syncService: sync)
        var contentBytes = 0
        for (name, id) in ids.sorted(by: { $0.key < $1.key }) {
            let model = ModelDefinition(id: id, name: name, type: "command/shell", arguments: ["run": "true"], createdAt: Date())
            for version in 1...20 {
                let content = Data((0..<5120).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ version &+ name.count) })
                try repository.writeVersion(of: model, name: "result", content: content)
                contentBytes += content.count
            }
        }
        _ = try await sync.pushChanged(nil)

        let member = team.cli("member")
        try FileManager.default.createDirectory(atPath: member.repo, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: "\(origin.repo)/.swamp.yaml", toPath: "\(member.repo)/.swamp.yaml")
        try FileManager.default.copyItem(atPath: "\(origin.repo)/models", toPath: "\(member.repo)/models")
        return (member, ids, team, contentBytes)
    }

    @Test func lazySetupListsEverythingAndFetchesContentOnFirstRead() async throws {
        let (member, ids, team, contentBytes) = try await Self.joinLazily()
        defer { team.remove() }
        #expect(contentBytes == 1000 * 5120)

        let setup = try await member.run(["datastore", "setup", "s3", "--config", team.configJSON, "--hydration-strategy", "lazy", "--json"])
        try #require(setup.status == 0, "\(setup.stderr)")
        let document = try setup.json()
        #expect(document["hydrationStrategy"] as? String == "lazy")
        let sync = try #require(document["sync"] as? [String: Any])
        let bytesDown = try #require(sync["bytesDown"] as? Int)
        #expect(bytesDown < contentBytes / 4, "lazy setup downloaded \(bytesDown) bytes")
        #expect(try String(contentsOfFile: "\(member.repo)/.swamp.yaml", encoding: .utf8).contains("hydrationStrategy: lazy"))

        let list = try await member.run(["data", "list", "--json"]).json()
        let items = try #require(list["items"] as? [[String: Any]])
        #expect(items.count == 50)
        #expect(Set(items.compactMap { ($0["model"] as? [String: Any])?["name"] as? String }) == Set(ids.keys))
        #expect(items.allSatisfy { $0["version"] as? Int == 20 && $0["size"] as? Int == 5120 })

        // First read: exactly one content GET, the right bytes; second read: no request.
        let expected = Data((0..<5120).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7 &+ "m3".count) })
        let first = try await member.run(["data", "get", "m3", "result", "--version", "7", "--json"]).json()
        #expect(first["hydrated"] as? Bool == true)
        #expect((first["sync"] as? [String: Any])?["requests"] as? [String: Int] == ["GET": 1])
        #expect(Data(base64Encoded: first["contentBase64"] as? String ?? "") == expected)
        let second = try await member.run(["data", "get", "m3", "result", "--version", "7", "--json"]).json()
        #expect(second["hydrated"] as? Bool == false)
        #expect(((second["sync"] as? [String: Any])?["requests"] as? [String: Int])?.isEmpty == true)
        let raw = try await member.run(["data", "get", "m3", "result", "--version", "7"])
        #expect(raw.stdout == expected)

        // Four readers of one un-hydrated item at once all get the right bytes.
        let commands = (0..<4).map { _ in (arguments: ["data", "get", "m5", "result", "--repo-dir", member.repo], cwd: member.repo) }
        let results = try await CLI.parallel(commands, environment: member.environment)
        let wanted = Data((0..<5120).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 20 &+ "m5".count) })
        for result in results {
            #expect(result.status == 0, "\(result.stderr)")
            let same = result.stdout == wanted
            #expect(same)
        }

        // A full push from the lazy cache deletes nothing remotely.
        let before = try await team.client.list(prefix: "data/").count
        let status = try await member.run(["datastore", "status", "--json"]).json()
        let cache = try #require(status["path"] as? String)
        _ = FileManager.default.createFile(atPath: "\(cache)/.swamp-sync/dirty/_bulk", contents: Data())
        let push = try await member.run(["datastore", "sync", "--push", "--json"]).json()
        #expect(push["deleted"] as? Int == 0)
        #expect(try await team.client.list(prefix: "data/").count == before)

        // Running a model in a lazy cache first fetches that model's content in full.
        let idM7 = try #require(ids["m7"])
        let contentDirectory = "\(cache)/data/command/shell/\(idM7)/result"
        #expect(!FileManager.default.fileExists(atPath: "\(contentDirectory)/1/raw"))
        let run = try await member.run(["model", "method", "run", "m7", "execute", "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect((1...20).allSatisfy { FileManager.default.fileExists(atPath: "\(contentDirectory)/\($0)/raw") })
        #expect(((try run.json()["sync"] as? [String: Any])?["pulled"] as? Int) == 20)

        // Prefetching one model hydrates its other 20 versions less the one already read.
        let hydrate = try await member.run(["datastore", "hydrate", "m3", "--json"]).json()
        #expect(hydrate["checked"] as? Int == 20)
        #expect(hydrate["hydrated"] as? Int == 19)
    }

    @Test func aRemoteObjectThatDoesNotMatchTheIndexIsRefusedOnRead() async throws {
        let (member, ids, team, _) = try await Self.joinLazily()
        defer { team.remove() }
        try #require(try await member.run(["datastore", "setup", "s3", "--config", team.configJSON, "--hydration-strategy", "lazy"]).status == 0)
        let id = try #require(ids["m9"])
        let key = "data/command/shell/\(id)/result/2/raw"
        try await team.client.put(key, data: Data("tampered".utf8))
        let result = try await member.run(["data", "get", "m9", "result", "--version", "2"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("does not match the index"))
        #expect(result.stdout.isEmpty)
        let status = try await member.run(["datastore", "status", "--json"]).json()
        let cache = try #require(status["path"] as? String)
        #expect(!FileManager.default.fileExists(atPath: "\(cache)/\(key)"))
    }
}
