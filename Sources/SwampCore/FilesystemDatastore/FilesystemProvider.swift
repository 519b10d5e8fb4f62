import Foundation
import Logging
import SwampContracts
import SwampSupport

/// The embedded default datastore: a directory (by default `{repo}/.swamp`).
///
/// Locks are files — the global lock at the datastore root, each model's lock
/// inside the model's data directory. There is no remote, so no sync service.
public struct FilesystemProvider: DatastoreProvider {
    public let type = "filesystem"
    /// The absolute datastore root.
    public let root: String
    private let logger: Logger

    public init(root: String, logger: Logger = Logger(label: "swamp.filesystem", factory: { _ in SwiftLogNoOpLogHandler() })) {
        self.root = root
        self.logger = logger
    }

    /// Registers `filesystem` in `registry`. `path` (or `config.path`) may be
    /// relative to the repository; absent means `{repo}/.swamp`.
    public static func register(in registry: inout DatastoreTypeRegistry) {
        registry.register("filesystem") { spec, environment in
            var path = spec.path
            if case .object(let fields)? = spec.config {
                for (field, value) in fields {
                    guard field == "path" else {
                        throw SwampError(.invalidConfig, "datastore.config.\(field) is not a filesystem setting; the only one is 'path'")
                    }
                    guard case .string(let text) = value, !text.isEmpty else {
                        throw SwampError(.invalidConfig, "datastore.config.path must be a non-empty string, not \(value.typeName)")
                    }
                    path = text
                }
            } else if let config = spec.config, config != .null {
                throw SwampError(.invalidConfig, "datastore.config must be an object for a filesystem datastore, not \(config.typeName)")
            }
            return FilesystemProvider(root: resolve(path, repoDir: environment.repoDir))
        }
    }

    static func resolve(_ path: String?, repoDir: String) -> String {
        guard let path, !path.isEmpty else { return "\(repoDir)/.swamp" }
        let expanded = (path as NSString).expandingTildeInPath
        let absolute = expanded.hasPrefix("/") ? expanded : "\(repoDir)/\(expanded)"
        return (absolute as NSString).standardizingPath
    }

    public func createLock(_ key: LockKey, options: LockOptions) throws -> any DistributedLock {
        let layout = DatastoreLayout(root: root)
        switch key.scope {
        case .global:
            return FileLock(key: key, path: layout.globalLockPath, options: options, logger: logger)
        case .model(let ref):
            return FileLock(key: key, path: layout.modelLockPath(ref), options: options, logger: logger)
        }
    }

    public func heldLocks() async throws -> [(key: LockKey, info: LockInfo)] {
        var result: [(key: LockKey, info: LockInfo)] = []
        let inspector = LockOptions()
        if let info = try FileLock(key: .global, path: DatastoreLayout(root: root).globalLockPath, options: inspector).readLockFile() {
            result.append((.global, info))
        }
        for (ref, path) in modelLockFiles() {
            if let info = try FileLock(key: .model(ref), path: path, options: inspector).readLockFile() {
                result.append((.model(ref), info))
            }
        }
        return result.sorted { $0.key.description < $1.key.description }
    }

    /// The lock files under `data/`: one per model directory (`…/{modelId}/.lock`).
    private func modelLockFiles() -> [(ModelRef, String)] {
        let dataRoot = "\(root)/data"
        guard let enumerator = FileManager.default.enumerator(atPath: dataRoot) else { return [] }
        var found: [(ModelRef, String)] = []
        while let relative = enumerator.nextObject() as? String {
            let segments = relative.split(separator: "/")
            guard let last = segments.last else { continue }
            if UUID(uuidString: String(last)) != nil, segments.count >= 2 {
                enumerator.skipDescendants()
                let lockPath = "\(dataRoot)/\(relative)/\(DatastoreLayout.modelLockName)"
                if FileManager.default.fileExists(atPath: lockPath) {
                    let type = segments.dropLast().joined(separator: "/")
                    found.append((ModelRef(modelType: type, modelId: String(last)), lockPath))
                }
            }
        }
        return found
    }

    public func createVerifier() -> any DatastoreVerifier { FilesystemVerifier(root: root) }

    public func createSyncService(repoDir: String, cachePath: String) throws -> (any DatastoreSyncService)? { nil }

    public func resolveDatastorePath(repoDir: String) -> String { root }

    public func resolveCachePath(repoDir: String) -> String? { nil }
}
