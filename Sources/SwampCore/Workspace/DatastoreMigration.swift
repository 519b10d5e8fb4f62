import Foundation
import SwampContracts
import SwampSupport

/// Moves a repository to another datastore without losing data: copy first,
/// switch `.swamp.yaml` last.
public struct DatastoreMigration: Sendable {
    public let workspace: Workspace

    public init(workspace: Workspace) { self.workspace = workspace }

    public struct Result: Sendable {
        public let root: String
        public let copiedFiles: Int
    }

    /// Copies `data/` and `outputs/` into the directory at `path`, then records it in `.swamp.yaml`.
    public func moveToFilesystem(path: String) async throws -> Result {
        let target = FilesystemProvider.resolve(path, repoDir: workspace.repoDir)
        let source = workspace.layout.root
        return try await StructuralCommand(workspace: workspace).run {
            var copied = 0
            if target != source {
                for top in ["data", "outputs"] where FileManager.default.fileExists(atPath: "\(target)/\(top)") {
                    let existing = (try? FileManager.default.contentsOfDirectory(atPath: "\(target)/\(top)")) ?? []
                    if !existing.isEmpty {
                        throw SwampError(
                            .invalidArgument, "'\(target)' already holds datastore data (\(top)/)",
                            hint: "choose an empty directory; nothing was changed")
                    }
                }
                copied = try Self.copyTree(from: source, to: target)
            }
            var config = workspace.config
            config.datastore = DatastoreSpec(type: "filesystem", path: path)
            try AtomicFile.write(Data(config.yaml().utf8), to: "\(workspace.repoDir)/\(RepositoryConfig.fileName)")
            try workspace.catalog.invalidate()
            return Result(root: target, copiedFiles: copied)
        }
    }

    /// What ``moveToRemote(_:registry:progress:)`` did.
    public struct RemoteResult: Sendable {
        public let bucket: String
        public let cachePath: String
        public let pushed: Int
        public let pulled: Int
        public let health: DatastoreHealth
        /// Files, requests and bytes the setup's sync cost, when the service counts them.
        public internal(set) var activity: SyncActivity?
    }

    /// Moves the repository onto a remote datastore: verify it → fill the cache from the
    /// remote → refuse if local data conflicts with it → copy local data into the cache
    /// (marked dirty) → push → and only then write `.swamp.yaml`.
    public func moveToRemote(
        _ spec: DatastoreSpec, registry: DatastoreTypeRegistry, progress: @escaping @Sendable (String) -> Void,
        transferProgress: (@Sendable (SyncProgress) -> Void)? = nil
    ) async throws -> RemoteResult {
        let environment = DatastoreEnvironment(
            repoDir: workspace.repoDir, repoId: workspace.config.repoId, variables: ProcessInfo.processInfo.environment)
        let provider: any DatastoreProvider
        do {
            provider = try registry.makeProvider(spec, environment: environment)
        } catch let error as ContractError {
            throw SwampError(.invalidConfig, error.message)
        }
        progress("checking the remote…")
        let health = try await provider.createVerifier().verify()
        guard health.healthy else {
            throw SwampError(
                SwampError.Code(health.errorCode ?? SwampError.Code.syncFailed.rawValue), "the datastore is not usable: \(health.message)",
                hint: "\(health.hint.map { "\($0); " } ?? "")nothing was changed; run setup again when it is fixed")
        }
        let cacheRoot = provider.resolveDatastorePath(repoDir: workspace.repoDir)
        guard let service = try provider.createSyncService(repoDir: workspace.repoDir, cachePath: cacheRoot) else {
            throw SwampError(.unsupported, "datastore type '\(spec.type)' has no remote to set up")
        }
        // The new datastore's cache is not the catalog's source yet: it is invalidated once, at the switch.
        let sync = SyncGateway(service: service, invalidateCatalog: {})
        sync.reportProgress(to: transferProgress)
        let lockOptions = workspace.lockOptions
        // Set up again on the same remote (another hydration strategy, say): its global lock is the
        // one the structural command already holds; taking it twice would wait on ourselves.
        let sameRemote = provider.remoteIdentity != nil && provider.remoteIdentity == workspace.provider.remoteIdentity
        return try await StructuralCommand(workspace: workspace).run(pull: false, push: false) {
            let global = sameRemote ? nil : try provider.createLock(.global, options: lockOptions)
            // Measured around the new remote's global lock too (its acquire and release).
            let (filled, activity) = try await sync.measuring {
                try await Self.holding(global) {
                    try await fill(sync, cacheRoot: cacheRoot, holding: global.map { [$0] } ?? [], spec: spec, health: health, progress: progress)
                }
            }
            var result = filled
            result.activity = activity
            return result
        }
    }

    /// Pulls into the new cache, copies the local data in (marked dirty), pushes, and switches
    /// `.swamp.yaml`: the part of ``moveToRemote(_:registry:progress:transferProgress:)`` that
    /// holds the new remote's global lock.
    private func fill(
        _ sync: SyncGateway, cacheRoot: String, holding locks: [any DistributedLock], spec: DatastoreSpec, health: DatastoreHealth,
        progress: @Sendable (String) -> Void
    ) async throws -> RemoteResult {
        let source = workspace.layout.root
        progress("pulling from the remote…")
        let pulled = try await sync.pull(.all)
        let (copies, conflicts) = try Self.plan(from: source, to: cacheRoot)
        if !conflicts.isEmpty {
            throw SwampError(
                .syncFailed,
                "\(conflicts.count) local file(s) differ from the remote's at the same path, e.g. \(conflicts.prefix(3).joined(separator: ", "))",
                hint: "nothing was changed in .swamp.yaml; the local data stays where it is. Resolve the conflicting versions first")
        }
        progress("pushing \(copies.count) local file(s)…")
        let copied = Set(copies)
        for relPath in copies where FileManager.default.fileExists(atPath: "\(source)/\(relPath)") {
            try sync.markDirty(relPath)
            // Linked where it can be (no copy of a large datastore's bytes, no space used twice):
            // the cache, like the local datastore, replaces files by renames, never in place.
            try AtomicFile.share("\(source)/\(relPath)", to: "\(cacheRoot)/\(relPath)")
            if let sha256 = Self.recordedHash(of: relPath, under: source, copied: copied) { sync.recordWritten(relPath, sha256: sha256) }
        }
        // Not resolved against this repository's data: the cache being filled is not its datastore yet.
        let pushed: Int
        do {
            pushed = try await sync.push(.all, holding: locks, repository: nil).pushed
        } catch let error as any ReportableError where error.errorCode == "local_file_changed" {
            // Its own words say to push again; here that is setup again (`.swamp.yaml` still names the local datastore).
            throw SwampError(
                SwampError.Code(error.errorCode), error.errorMessage,
                hint: "nothing was changed in .swamp.yaml: the local datastore is still the one in use. Run 'swamp datastore setup s3' again")
        }
        var config = workspace.config
        config.datastore = spec
        try AtomicFile.write(Data(config.yaml().utf8), to: "\(workspace.repoDir)/\(RepositoryConfig.fileName)")
        try workspace.catalog.invalidate()
        let bucket: String
        if case .object(let fields)? = spec.config, case .string(let name)? = fields["bucket"] { bucket = name } else { bucket = spec.type }
        return RemoteResult(bucket: bucket, cachePath: cacheRoot, pushed: pushed, pulled: pulled, health: health, activity: nil)
    }

    /// The hash a version's writer recorded for its content (`raw`) in its `metadata.yaml`, when
    /// the file under `root` has the size recorded there and the version is new to the remote
    /// (its `metadata.yaml` is `copied` too: the pull brought none). Given to the push as the
    /// file's writer's record, it spares the push a read of the whole file before the first
    /// byte is sent (a second of a 1 GiB artifact). Only a hint: the upload hashes the bytes it
    /// sends, and a file that does not hash to it is never committed; its record is withdrawn,
    /// and the next push (setup run again) hashes the file as it is. Not for a version the
    /// remote holds: a plan that finds the remote's entry equal to a record adopts the file
    /// without reading it, and a version changed in place since it was written would be taken
    /// for the remote's.
    static func recordedHash(of relPath: String, under root: String, copied: Set<String>) -> String? {
        let classified = DatastorePath(relPath)
        let metadataRel = classified.versionDirectory.map { "\($0)/metadata.yaml" }
        let metadataPath = metadataRel.map { "\(root)/\($0)" }
        guard case .versionFile(_, _, _, "raw") = classified.kind, let metadataRel, copied.contains(metadataRel), let metadataPath,
            let data = try? AtomicFile.readIfPresent(metadataPath),
            let metadata = try? MetadataCoding.decode(DataMetadata.self, from: data, path: metadataPath),
            LocalFile.stat("\(root)/\(relPath)")?.size == metadata.size
        else { return nil }
        return metadata.sha256
    }

    /// Runs `body` holding `lock` (when there is one to take).
    static func holding<T: Sendable>(_ lock: (any DistributedLock)?, _ body: () async throws -> T) async throws -> T {
        guard let lock else { return try await body() }
        return try await lock.withLock(body)
    }

    /// The local files to copy into the cache, and those that conflict with what it holds.
    static func plan(from source: String, to target: String) throws -> (copies: [String], conflicts: [String]) {
        guard source != target else { return ([], []) }
        var copies: [String] = []
        var conflicts: [String] = []
        for relPath in tierFiles(under: source) {
            guard FileManager.default.fileExists(atPath: "\(target)/\(relPath)") else {
                copies.append(relPath)
                continue
            }
            // Compared by hash, read in chunks: files of any size.
            if try ContentHash.sha256(ofFile: "\(source)/\(relPath)") != ContentHash.sha256(ofFile: "\(target)/\(relPath)") {
                conflicts.append(relPath)
            }
        }
        return (copies, conflicts)
    }

    /// The datastore-tier files under `root` (`data/`, `outputs/`; no locks or temporary files).
    static func tierFiles(under root: String) -> [String] {
        var files: [String] = []
        for top in ["data", "outputs"] {
            guard let enumerator = FileManager.default.enumerator(atPath: "\(root)/\(top)") else { continue }
            while let relative = enumerator.nextObject() as? String {
                if relative.split(separator: "/").contains(where: { $0.hasPrefix(".") }) { continue }
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: "\(root)/\(top)/\(relative)", isDirectory: &isDirectory), !isDirectory.boolValue else {
                    continue
                }
                files.append("\(top)/\(relative)")
            }
        }
        return files.sorted()
    }

    /// Copies the datastore tier's files (not locks, not temporary files); returns how many.
    /// Copied, not linked: the target is often a directory teammates share, whose files take its
    /// group (a link would keep the source's owner, group and mode).
    static func copyTree(from source: String, to target: String) throws -> Int {
        var count = 0
        for relPath in tierFiles(under: source) where FileManager.default.fileExists(atPath: "\(source)/\(relPath)") {
            try AtomicFile.copy("\(source)/\(relPath)", to: "\(target)/\(relPath)")
            count += 1
        }
        return count
    }
}
