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

    private func latestMarker(_ repo: TemporaryRepository, _ model: String) async throws -> String {
        let shown = try await repo.cli.run(["model", "get", model, "--json"]).json()
        let id = try #require((shown["model"] as? [String: Any])?["id"] as? String)
        return "\(repo.path)/.swamp/data/command/shell/\(id)/result/latest"
    }
}
