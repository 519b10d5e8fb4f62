import Foundation
import SwampContracts

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

    /// Copies the datastore tier's files (not locks, not temporary files); returns how many.
    static func copyTree(from source: String, to target: String) throws -> Int {
        var count = 0
        for top in ["data", "outputs"] {
            let root = "\(source)/\(top)"
            guard let enumerator = FileManager.default.enumerator(atPath: root) else { continue }
            while let relative = enumerator.nextObject() as? String {
                let name = (relative as NSString).lastPathComponent
                guard name != DatastoreLayout.modelLockName, !AtomicFile.isTemporaryName(name) else { continue }
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: "\(root)/\(relative)", isDirectory: &isDirectory), !isDirectory.boolValue else {
                    continue
                }
                guard let data = try AtomicFile.readIfPresent("\(root)/\(relative)") else { continue }
                try AtomicFile.write(data, to: "\(target)/\(top)/\(relative)")
                count += 1
            }
        }
        return count
    }
}
