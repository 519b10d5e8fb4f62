import Foundation
import Testing

/// Several `swamp` processes at once on one repository.
@Suite struct ConcurrencyTests {
    @Test func eightProcessesOnTheSameModelProduceVersionsOneToEight() async throws {
        let repo = try await TemporaryRepository.make()
        defer { repo.remove() }
        // Each run prints its own pid, so every version's content is distinct.
        try await repo.shellModel("shared", "echo run-$$")
        let commands = (0..<8).map { _ in
            (arguments: ["model", "method", "run", "shared", "execute", "--json", "--repo-dir", repo.path], cwd: repo.path)
        }
        let results = try await CLI.parallel(commands)
        for result in results { #expect(result.status == 0, "\(result.stderr)") }
        let written = try results.map { try #require(($0.json()["data"] as? [[String: Any]])?.first?["version"] as? Int) }
        #expect(written.sorted() == Array(1...8))

        let versions = try await repo.cli.run(["data", "versions", "shared", "result", "--json"]).json()
        let listed = try #require(versions["versions"] as? [[String: Any]])
        #expect(listed.compactMap { $0["version"] as? Int } == Array(1...8))
        // No lost write: eight distinct contents, each readable.
        var contents = Set<Data>()
        for version in 1...8 {
            contents.insert(try await repo.cli.run(["data", "get", "shared", "result", "--version", "\(version)"]).stdout)
        }
        #expect(contents.count == 8)
        let latest = try String(contentsOfFile: try await latestMarker(repo, "shared"), encoding: .utf8)
        #expect(latest == "8\n")
        #expect(try await repo.cli.run(["datastore", "lock", "status", "--json"]).json()["locks"] as? [Any] != nil)
        #expect((try await repo.cli.run(["datastore", "lock", "status", "--json"]).json()["locks"] as? [Any])?.isEmpty == true)
    }

    @Test func eightProcessesOnEightModelsAllSucceedWithVersionOne() async throws {
        let repo = try await TemporaryRepository.make()
        defer { repo.remove() }
        for index in 0..<8 { try await repo.shellModel("model-\(index)", "echo \(index)") }
        let commands = (0..<8).map {
            (arguments: ["model", "method", "run", "model-\($0)", "execute", "--json", "--repo-dir", repo.path], cwd: repo.path)
        }
        let results = try await CLI.parallel(commands)
        for (index, result) in results.enumerated() {
            #expect(result.status == 0, "\(result.stderr)")
            let data = try #require((try result.json()["data"] as? [[String: Any]])?.first)
            #expect(data["version"] as? Int == 1)
            #expect(try await repo.cli.run(["data", "get", "model-\(index)", "result"]).stdout == Data("\(index)\n".utf8))
        }
        let list = try await repo.cli.run(["data", "list", "--json"]).json()
        #expect((list["items"] as? [Any])?.count == 8)
    }

    /// Eight processes run models while eight others loop `data list` (rebuilding the catalog
    /// as they go): afterwards `data list` and `data versions` match the files exactly.
    @Test func catalogReadersDuringWritesMissNothing() async throws {
        let repo = try await TemporaryRepository.make()
        defer { repo.remove() }
        for index in 0..<4 { try await repo.shellModel("m\(index)", "echo $$") }
        let runs = (0..<8).map {
            (arguments: ["model", "method", "run", "m\($0 % 4)", "execute", "--repo-dir", repo.path], cwd: repo.path)
        }
        async let written = CLI.parallel(runs)
        var listings = 0
        let readers = (0..<8).map { _ in (arguments: ["data", "list", "--repo-dir", repo.path], cwd: repo.path) }
        while listings < 24 {
            for result in try await CLI.parallel(readers) { #expect(result.status == 0, "\(result.stderr)") }
            listings += 8
        }
        for result in try await written { #expect(result.status == 0, "\(result.stderr)") }
        for index in 0..<4 {
            let versions = try await repo.cli.run(["data", "versions", "m\(index)", "result", "--json"]).json()
            #expect((versions["versions"] as? [[String: Any]])?.compactMap { $0["version"] as? Int } == [1, 2])
        }
        let list = try await repo.cli.run(["data", "list", "--json"]).json()
        let latest = (list["items"] as? [[String: Any]])?.compactMap { $0["version"] as? Int }
        #expect(latest == [2, 2, 2, 2])
    }

    /// Two repositories on one shared filesystem datastore: B's `data list` shows A's new
    /// version with no manual step.
    @Test func aSharedFilesystemDatastoreShowsTeammatesVersions() async throws {
        let a = try await TemporaryRepository.make()
        let b = try await TemporaryRepository.make()
        let shared = FileManager.default.temporaryDirectory.appendingPathComponent("swamp-shared-\(UUID().uuidString)").path
        defer {
            a.remove()
            b.remove()
            try? FileManager.default.removeItem(atPath: shared)
        }
        try await a.shellModel("m", "echo $$")
        #expect(try await a.cli.run(["datastore", "setup", "filesystem", "--path", shared]).status == 0)
        try FileManager.default.removeItem(atPath: "\(b.path)/.swamp.yaml")
        try FileManager.default.copyItem(atPath: "\(a.path)/.swamp.yaml", toPath: "\(b.path)/.swamp.yaml")
        try? FileManager.default.removeItem(atPath: "\(b.path)/models")
        try FileManager.default.copyItem(atPath: "\(a.path)/models", toPath: "\(b.path)/models")
        #expect(try await a.cli.run(["model", "method", "run", "m", "execute"]).status == 0)
        let first = try await b.cli.run(["data", "list", "--json"]).json()
        #expect((first["items"] as? [[String: Any]])?.first?["version"] as? Int == 1)
        #expect(try await a.cli.run(["model", "method", "run", "m", "execute"]).status == 0)
        let second = try await b.cli.run(["data", "list", "--json"]).json()
        #expect((second["items"] as? [[String: Any]])?.first?["version"] as? Int == 2, "B's catalog did not see A's v2")
    }

    private func latestMarker(_ repo: TemporaryRepository, _ model: String) async throws -> String {
        let shown = try await repo.cli.run(["model", "get", model, "--json"]).json()
        let id = try #require((shown["model"] as? [String: Any])?["id"] as? String)
        return "\(repo.path)/.swamp/data/command/shell/\(id)/result/latest"
    }
}
