import Foundation
import Logging
import SwampContracts
import SwampSupport

/// An opened repository: its configuration, datastore, catalog, models and the
/// coordinator that runs the lock-and-sync protocol. The CLI's entry point.
public final class Workspace: Sendable {
    public let repoDir: String
    public let config: RepositoryConfig
    public let spec: DatastoreSpec
    public let source: DatastoreSource
    public let provider: any DatastoreProvider
    /// How the datastore's backend is called for sync (the only holder of its sync service).
    public let sync: SyncGateway
    public let layout: DatastoreLayout
    public let catalog: Catalog
    public let data: DataRepository
    public let models: ModelStore
    public let modelTypes: ModelTypeRegistry
    public let coordinator: ModelLockCoordinator
    public let lockOptions: LockOptions
    /// The locks of the `swamp model method run` this process runs inside, when it is nested.
    package let parentLocks: NestedLocks?
    /// Names this workspace's datastore for ``NestedLocks``.
    package var datastoreIdentity: String { provider.remoteIdentity ?? "file://\(layout.root)" }

    /// The built-in datastore types (`filesystem`).
    public static var builtInDatastores: DatastoreTypeRegistry {
        var registry = DatastoreTypeRegistry()
        FilesystemProvider.register(in: &registry)
        return registry
    }

    /// Opens the repository at `repoDir` (or the nearest enclosing one of the
    /// current directory when `nil`).
    public init(
        repoDir: String?, datastoreFlag: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment,
        datastores: DatastoreTypeRegistry = Workspace.builtInDatastores, modelTypes: ModelTypeRegistry = .builtIn,
        lockHolder: String = "swamp", logger: Logger = Logger(label: "swamp", factory: { _ in SwiftLogNoOpLogHandler() })
    ) throws {
        let repoDir = try RepositoryLocator.find(repoDir)
        self.repoDir = repoDir
        let configPath = "\(repoDir)/\(RepositoryConfig.fileName)"
        guard let text = try AtomicFile.readIfPresent(configPath) else {
            throw SwampError(
                .notARepository, "'\(repoDir)' is not a swamp repository (no \(RepositoryConfig.fileName))", hint: "run 'swamp repo init'")
        }
        config = try RepositoryConfig.parse(yaml: String(decoding: text, as: UTF8.self), path: configPath)
        (spec, source) = try DatastoreSelection.resolve(environment: environment, flag: datastoreFlag, config: config)
        let datastoreEnvironment = DatastoreEnvironment(repoDir: repoDir, repoId: config.repoId, variables: environment)
        do {
            provider = try datastores.makeProvider(spec, environment: datastoreEnvironment)
        } catch let error as ContractError {
            throw SwampError(.invalidConfig, "\(error.message) (from \(source.rawValue))")
        }
        let root = provider.resolveDatastorePath(repoDir: repoDir)
        let service = try provider.createSyncService(repoDir: repoDir, cachePath: provider.resolveCachePath(repoDir: repoDir) ?? root)
        layout = DatastoreLayout(root: root)
        let catalog = try Catalog(path: "\(repoDir)/.swamp/catalog.db", layout: layout)
        self.catalog = catalog
        sync = SyncGateway(service: service, invalidateCatalog: { try catalog.invalidate() }, logger: logger)
        data = DataRepository(layout: layout, catalog: catalog, sync: sync)
        self.modelTypes = modelTypes
        models = ModelStore(repoDir: repoDir, types: modelTypes)
        lockOptions = try Self.lockOptions(environment, holder: lockHolder)
        parentLocks = NestedLocks.from(environment)
        coordinator = ModelLockCoordinator(provider: provider, sync: sync, lockOptions: lockOptions, repository: data, logger: logger)
    }

    /// Fails at once when this process runs inside a model run on the same datastore and
    /// `needsGlobal` (a structural command) or `models` include a lock the parent holds —
    /// waiting for it would last until the lock timeout, since the parent waits for us.
    package func refuseNestedWait(command: String, needsGlobal: Bool, models: [ModelRef] = []) throws {
        guard let parent = parentLocks, parent.datastore == datastoreIdentity else { return }
        let held = models.filter { parent.models.contains($0) }
        guard needsGlobal || !held.isEmpty else { return }
        let what =
            needsGlobal ? "the datastore's global lock, which waits for running models" : "the lock of \(held.map(\.sortKey).joined(separator: ", "))"
        throw SwampError(
            .nestedLock,
            "'\(command)' cannot run inside the model run that started it: it needs \(what), and that run holds its model's lock until it finishes",
            hint: "run it after the model run, or read data with read-only commands ('swamp data get', 'swamp data list'), which need no lock")
    }

    /// Creates a new repository at `repoDir`: `.swamp.yaml`, `models/`, `.swamp/`.
    @discardableResult
    public static func initialize(repoDir: String) throws -> RepositoryConfig {
        let directory = (repoDir as NSString).standardizingPath
        let config = RepositoryConfig(repoId: UUID().uuidString.lowercased())
        let marker = "\(directory)/\(RepositoryConfig.fileName)"
        guard try AtomicFile.createExclusively(Data(config.yaml().utf8), at: marker) else {
            throw SwampError(.alreadyInitialized, "'\(directory)' is already a swamp repository", hint: "its configuration is \(marker)")
        }
        try AtomicFile.makeDirectories("\(directory)/models")
        try AtomicFile.write(Data("# local runtime state of swamp: never commit\n*\n".utf8), to: "\(directory)/.swamp/.gitignore")
        return config
    }

    /// Lock options from the environment: `SWAMP_LOCK_TIMEOUT_MS` (wait, default 60 000)
    /// and `SWAMP_LOCK_TTL_MS` (TTL, default 30 000).
    static func lockOptions(_ environment: [String: String], holder: String) throws -> LockOptions {
        var options = LockOptions(holder: holder)
        func milliseconds(_ name: String) throws -> Duration? {
            guard let text = environment[name], !text.isEmpty else { return nil }
            guard let value = Int(text), value > 0 else {
                throw SwampError(.invalidConfig, "\(name) must be a positive number of milliseconds, not '\(text)'")
            }
            return .milliseconds(value)
        }
        if let wait = try milliseconds("SWAMP_LOCK_TIMEOUT_MS") { options.waitTimeout = wait }
        if let ttl = try milliseconds("SWAMP_LOCK_TTL_MS") { options.ttl = ttl }
        return options
    }
}

/// Finds the repository directory.
enum RepositoryLocator {
    static func find(_ given: String?) throws -> String {
        let fileManager = FileManager.default
        if let given {
            let absolute = given.hasPrefix("/") ? given : "\(fileManager.currentDirectoryPath)/\(given)"
            return (absolute as NSString).standardizingPath
        }
        var directory = (fileManager.currentDirectoryPath as NSString).standardizingPath
        while true {
            if fileManager.fileExists(atPath: "\(directory)/\(RepositoryConfig.fileName)") { return directory }
            let parent = (directory as NSString).deletingLastPathComponent
            if parent == directory || parent.isEmpty {
                throw SwampError(
                    .notARepository, "no swamp repository here or in any parent directory",
                    hint: "run 'swamp repo init' or pass --repo-dir")
            }
            directory = parent
        }
    }
}
