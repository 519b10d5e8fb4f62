import Foundation
import Testing

/// Bad input: a clear error, a non-zero exit, and nothing changed on disk.
@Suite struct BadInputTests {
    /// Runs `arguments` and checks the failure contract; returns stderr.
    @discardableResult
    func expectRefused(
        _ repo: TemporaryRepository, _ arguments: [String], environment: [String: String] = [:], mentioning: String
    ) async throws -> String {
        let before = repo.snapshot()
        let result = try await repo.cli.run(arguments, environment: environment)
        #expect(result.status != 0, "\(arguments) succeeded")
        #expect(result.stderr.contains(mentioning), "stderr of \(arguments): \(result.stderr)")
        #expect(result.stdout.isEmpty || arguments.contains("--json"))
        #expect(repo.snapshot() == before, "\(arguments) changed the repository")
        return result.stderr
    }

    @Test func unknownModel() async throws {
        let repo = try await TemporaryRepository.make()
        defer { repo.remove() }
        try await repo.shellModel("known", "echo")
        try await expectRefused(repo, ["model", "method", "run", "unknown", "execute"], mentioning: "unknown model 'unknown'")
        let stderr = try await expectRefused(repo, ["data", "get", "unknown", "result"], mentioning: "unknown model 'unknown'")
        #expect(stderr.contains("known models: known"))
        try await expectRefused(repo, ["model", "get", "../known"], mentioning: "unknown model")
        try await expectRefused(repo, ["model", "method", "run", "known", "explode"], mentioning: "has no method 'explode'")
        // --json also puts an error document on stdout.
        let json = try await repo.cli.run(["data", "list", "nope", "--json"])
        #expect(json.status != 0)
        let error = try #require(try json.json()["error"] as? [String: Any])
        #expect(error["code"] as? String == "unknown_model")
    }

    @Test(arguments: ["latest", "../x", "a/b", "..", ".hidden", "tab\there"])
    func reservedOrTraversingDataNames(name: String) async throws {
        let repo = try await TemporaryRepository.make()
        defer { repo.remove() }
        try await repo.shellModel("m", "echo")
        _ = try await repo.cli.run(["model", "method", "run", "m", "execute"])
        try await expectRefused(repo, ["data", "get", "m", name], mentioning: "invalid data name")
    }

    @Test(arguments: ["../escape", "a/b", "latest-but-ok/../x", ".hidden"])
    func traversingModelNames(name: String) async throws {
        let repo = try await TemporaryRepository.make()
        defer { repo.remove() }
        try await expectRefused(repo, ["model", "create", "command/shell", name, "--set", "run=echo"], mentioning: "invalid model name")
    }

    /// `models/*.yaml` comes from git: a traversing or non-canonical id or type is refused,
    /// naming the file and the field, before anything is written.
    @Test(arguments: [
        ("id", "../../x"), ("id", "0B0E0000-0000-4000-8000-000000000000"), ("id", "not-a-uuid"),
        ("type", "../../x"), ("type", "Command/Shell"), ("name", "other"),
    ])
    func untrustedModelFilesAreRefused(field: String, value: String) async throws {
        let repo = try await TemporaryRepository.make()
        defer { repo.remove() }
        try await repo.shellModel("m", "echo hi")
        let file = "\(repo.path)/models/m.yaml"
        var lines = try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let index = try #require(lines.firstIndex { $0.hasPrefix("\(field): ") })
        lines[index] = "\(field): '\(value)'"
        try lines.joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)
        for arguments in [["model", "method", "run", "m", "execute"], ["data", "list", "m"], ["model", "list"]] {
            let stderr = try await expectRefused(repo, arguments, mentioning: "field '\(field)'")
            #expect(stderr.contains("models/m.yaml"), "\(stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: "\(repo.path)/../x"))
    }

    @Test func duplicateModelAndBadArguments() async throws {
        let repo = try await TemporaryRepository.make()
        defer { repo.remove() }
        try await repo.shellModel("m", "echo")
        try await expectRefused(repo, ["model", "create", "command/shell", "m", "--set", "run=echo"], mentioning: "already exists")
        try await expectRefused(repo, ["model", "create", "command/shell", "n"], mentioning: "needs a 'run' argument")
        try await expectRefused(repo, ["model", "create", "command/shell", "n", "--set", "rn=echo"], mentioning: "no argument 'rn'")
        try await expectRefused(repo, ["model", "create", "::", "n", "--set", "run=echo"], mentioning: "empty after normalisation")
    }

    @Test func malformedConfig() async throws {
        let repo = try await TemporaryRepository.make()
        defer { repo.remove() }
        try await repo.shellModel("m", "echo")
        let config = "\(repo.path)/.swamp.yaml"
        let original = try String(contentsOfFile: config, encoding: .utf8)
        try (original + "datastore:\n  type: filesystem\n  colour: blue\n").write(toFile: config, atomically: true, encoding: .utf8)
        try await expectRefused(repo, ["model", "method", "run", "m", "execute"], mentioning: "datastore.colour")
        try (original + "datastore: [unclosed\n").write(toFile: config, atomically: true, encoding: .utf8)
        try await expectRefused(repo, ["data", "list"], mentioning: "not valid YAML")
        try (original + "datastore:\n  type: filesystem\n  hydrationStrategy: eventually\n").write(toFile: config, atomically: true, encoding: .utf8)
        try await expectRefused(repo, ["datastore", "status"], mentioning: "datastore.hydrationStrategy")
    }

    @Test func unknownDatastoreType() async throws {
        let repo = try await TemporaryRepository.make()
        defer { repo.remove() }
        try await repo.shellModel("m", "echo")
        let config = "\(repo.path)/.swamp.yaml"
        let original = try String(contentsOfFile: config, encoding: .utf8)
        try (original + "datastore:\n  type: ftp\n").write(toFile: config, atomically: true, encoding: .utf8)
        let stderr = try await expectRefused(repo, ["model", "method", "run", "m", "execute"], mentioning: "unknown datastore type 'ftp'")
        #expect(stderr.contains("filesystem"))
        try original.write(toFile: config, atomically: true, encoding: .utf8)
        try await expectRefused(
            repo, ["data", "list"], environment: ["SWAMP_DATASTORE": #"gopher:{"x":1}"#], mentioning: "unknown datastore type 'gopher'")
        try await expectRefused(repo, ["data", "list"], environment: ["SWAMP_DATASTORE": "no-colon"], mentioning: "SWAMP_DATASTORE")
    }

    @Test func lockReleaseWithoutForce() async throws {
        let repo = try await TemporaryRepository.make()
        defer { repo.remove() }
        try await expectRefused(repo, ["datastore", "lock", "release"], mentioning: "without --force")
        try await expectRefused(repo, ["datastore", "lock", "release", "--model", "command/shell/x"], mentioning: "without --force")
    }

    @Test func notARepository() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("not-a-repo-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let result = try await CLI(repo: directory).run(["data", "list"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("not a swamp repository"))
        #expect(result.stderr.contains("swamp repo init"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)
        let again = try await CLI(repo: directory).run(["repo", "init"])
        #expect(again.status == 0)
        #expect(try await CLI(repo: directory).run(["repo", "init"]).stderr.contains("already a swamp repository"))
    }
}
