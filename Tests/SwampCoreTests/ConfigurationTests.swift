import Foundation
import SwampContracts
import Testing

@testable import SwampCore

@Suite struct ConfigurationTests {
    @Test func parsesAFullDatastoreSection() throws {
        let yaml = """
            repoId: abc
            datastore:
              type: s3
              config: { bucket: b, prefix: team, forcePathStyle: true, pullConcurrency: 8, endpoint: "http://127.0.0.1:9000" }
              hydrationStrategy: lazy
              cachePath: /tmp/cache
            """
        let config = try RepositoryConfig.parse(yaml: yaml, path: ".swamp.yaml")
        #expect(config.repoId == "abc")
        let spec = try #require(config.datastore)
        #expect(spec.type == "s3")
        #expect(spec.hydrationStrategy == .lazy)
        #expect(spec.cachePath == "/tmp/cache")
        #expect(
            spec.config
                == .object([
                    "bucket": .string("b"), "prefix": .string("team"), "forcePathStyle": .bool(true),
                    "pullConcurrency": .number(8), "endpoint": .string("http://127.0.0.1:9000"),
                ]))
        // Round trip through the writer.
        #expect(try RepositoryConfig.parse(yaml: config.yaml(), path: "x") == config)
    }

    @Test(arguments: [
        ("repoId: a\ndatastore:\n  type: s3\n  bucket: b\n", "datastore.bucket"),
        ("repoId: a\ndatastore:\n  path: /x\n", "datastore.type"),
        ("repoId: a\ndatastore:\n  type: filesystem\n  hydrationStrategy: sometimes\n", "datastore.hydrationStrategy"),
        ("repoId: a\ndatastore: [1, 2]\n", "datastore must be a mapping"),
        ("datastore:\n  type: filesystem\n", "repoId"),
        ("repoId: a\nextra: 1\n", "unknown field 'extra'"),
        ("repoId: [unclosed\n", "not valid YAML"),
        ("", "empty"),
    ])
    func invalidConfigNamesTheField(yaml: String, field: String) {
        do {
            _ = try RepositoryConfig.parse(yaml: yaml, path: "/repo/.swamp.yaml")
            Issue.record("accepted: \(yaml)")
        } catch let error as SwampError {
            #expect(error.code == .invalidConfig)
            #expect(error.message.contains(field), "\(error.message)")
            #expect(error.message.hasPrefix("/repo/.swamp.yaml"))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func specifierFormsParse() throws {
        let fs = try DatastoreSelection.parseSpecifier("filesystem:/shared/store", origin: "SWAMP_DATASTORE")
        #expect(fs == DatastoreSpec(type: "filesystem", path: "/shared/store"))
        let s3 = try DatastoreSelection.parseSpecifier(#"s3:{"bucket":"b","hydrationStrategy":"lazy","cachePath":"/c"}"#, origin: "SWAMP_DATASTORE")
        #expect(s3 == DatastoreSpec(type: "s3", config: .object(["bucket": .string("b")]), hydrationStrategy: .lazy, cachePath: "/c"))
        for bad in ["filesystem", ":x", "s3:{not json", "s3:[1]", "filesystem:"] {
            #expect(throws: SwampError.self) { try DatastoreSelection.parseSpecifier(bad, origin: "SWAMP_DATASTORE") }
        }
    }

    @Test func precedenceIsEnvironmentThenFlagThenFileThenDefault() throws {
        let file = RepositoryConfig(repoId: "r", datastore: DatastoreSpec(type: "filesystem", path: "from-file"))
        let env = ["SWAMP_DATASTORE": "filesystem:/from-env"]
        #expect(try DatastoreSelection.resolve(environment: env, flag: "filesystem:/from-flag", config: file).source == .environment)
        #expect(try DatastoreSelection.resolve(environment: env, flag: "filesystem:/from-flag", config: file).spec.path == "/from-env")
        #expect(try DatastoreSelection.resolve(environment: [:], flag: "filesystem:/from-flag", config: file).spec.path == "/from-flag")
        #expect(try DatastoreSelection.resolve(environment: [:], flag: nil, config: file).spec.path == "from-file")
        let fallback = try DatastoreSelection.resolve(environment: [:], flag: nil, config: RepositoryConfig(repoId: "r"))
        #expect(fallback.source == .default && fallback.spec == DatastoreSpec(type: "filesystem"))
        // An invalid environment value is an error, not a fall-back to the file.
        #expect(throws: SwampError.self) { try DatastoreSelection.resolve(environment: ["SWAMP_DATASTORE": "nonsense"], flag: nil, config: file) }
    }

    @Test func filesystemPathsResolveAgainstTheRepository() throws {
        var registry = DatastoreTypeRegistry()
        FilesystemProvider.register(in: &registry)
        let environment = DatastoreEnvironment(repoDir: "/repo", repoId: "r", variables: [:])
        #expect(
            try registry.makeProvider(DatastoreSpec(type: "filesystem"), environment: environment).resolveDatastorePath(repoDir: "/repo")
                == "/repo/.swamp")
        #expect(
            try registry.makeProvider(DatastoreSpec(type: "filesystem", path: "shared/../store"), environment: environment).resolveDatastorePath(
                repoDir: "/repo") == "/repo/store")
        #expect(
            try registry.makeProvider(DatastoreSpec(type: "filesystem", config: .object(["path": .string("/abs")])), environment: environment)
                .resolveDatastorePath(repoDir: "/repo") == "/abs")
        #expect(throws: SwampError.self) {
            try registry.makeProvider(DatastoreSpec(type: "filesystem", config: .object(["bucket": .string("b")])), environment: environment)
        }
    }

    @Test func lockTimeoutComesFromTheEnvironment() throws {
        #expect(try Workspace.lockOptions(["SWAMP_LOCK_TIMEOUT_MS": "1500"], holder: "h").waitTimeout == .milliseconds(1500))
        #expect(try Workspace.lockOptions([:], holder: "h").waitTimeout == .seconds(60))
        #expect(throws: SwampError.self) { try Workspace.lockOptions(["SWAMP_LOCK_TIMEOUT_MS": "soon"], holder: "h") }
    }
}
