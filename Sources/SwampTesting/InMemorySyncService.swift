import Foundation
import SwampContracts
import SwampCore
import SwampSupport
import Synchronization

/// A remote held in memory: what every ``InMemorySyncService`` made from it shares.
public final class InMemoryRemote: Sendable {
    let objects = Mutex<[String: Data]>([:])

    public init() {}

    /// Puts `content` at `path` behind every client's back (a hostile or broken writer).
    public func plant(_ path: String, _ content: Data) { objects.withLock { $0[path] = content } }

    /// Every path the remote holds.
    public var paths: [String] { objects.withLock { $0.keys.sorted() } }
}

/// A small, honest ``DatastoreSyncService`` over an ``InMemoryRemote``: the reference a
/// backend author can read next to ``SyncServiceConformance``, and the double the conformance
/// suite is shown to pass with. Scoped sync is supported (and advertised) unless `scoped` is
/// false; lazy hydration when `lazy` is true (content — `raw` files — is fetched on first read).
public final class InMemorySyncService: DatastoreSyncService {
    public let root: String
    let remote: InMemoryRemote
    let scoped: Bool
    let lazy: Bool
    private let dirty = Mutex<Set<String>>([])
    /// A bulk change was marked: the next push looks at every file.
    private let bulk = Mutex(false)
    /// The paths this cache last synced, with their content: deletions are judged against it.
    private let known = Mutex<[String: Data]>([:])
    private let counted = Mutex(SyncActivity())

    public init(root: String, remote: InMemoryRemote, scoped: Bool = true, lazy: Bool = false) {
        self.root = root
        self.remote = remote
        self.scoped = scoped
        self.lazy = lazy
    }

    public func capabilities() throws -> SyncCapabilities {
        SyncCapabilities(scopedSync: scoped ? true : nil, lazyHydration: lazy ? true : nil)
    }

    public func markDirty(_ options: DatastoreSyncOptions?) throws {
        guard let path = options?.relPath else {
            bulk.withLock { $0 = true }
            return
        }
        _ = try PathRules.validateRelativePath(path)
        dirty.withLock { _ = $0.insert(path) }
    }

    /// Whether `path` is in what `options` asks for (everything without a context).
    static func inScope(_ path: String, _ options: DatastoreSyncOptions?) -> Bool {
        guard let models = options?.context?.models ?? nil else { return true }
        return models.contains { path.hasPrefix(DatastoreLayout.modelDataRel($0) + "/") || path.hasPrefix(DatastoreLayout.outputsRel($0) + "/") }
    }

    public func pushChanged(_ options: DatastoreSyncOptions?) async throws -> Int {
        if bulk.withLock({ $0 }) {
            // Every file here and every file last synced: new, changed or deleted since.
            var all = Set(known.withLock { $0.keys })
            if let walker = FileManager.default.enumerator(atPath: root) {
                while let path = walker.nextObject() as? String {
                    var directory: ObjCBool = false
                    guard !path.split(separator: "/").contains(where: { $0.hasPrefix(".") }),
                        FileManager.default.fileExists(atPath: "\(root)/\(path)", isDirectory: &directory), !directory.boolValue
                    else { continue }
                    all.insert(path)
                }
            }
            let synced = known.withLock { $0 }
            let changed = all.filter { path in FileManager.default.contents(atPath: "\(root)/\(path)") != synced[path] }
            dirty.withLock { $0.formUnion(changed) }
            if options?.context == nil { bulk.withLock { $0 = false } }
        }
        let paths = dirty.withLock { dirty in dirty.filter { Self.inScope($0, options) } }.sorted()
        var pushed = 0
        for path in paths {
            let content = FileManager.default.contents(atPath: "\(root)/\(path)")
            remote.objects.withLock { $0[path] = content }
            known.withLock { $0[path] = content }
            counted.withLock { counted in
                if content == nil { counted.deleted += 1 } else { counted.pushed += 1 }
                counted.requests[content == nil ? "DELETE" : "PUT", default: 0] += 1
            }
            if content != nil { pushed += 1 }
            dirty.withLock { _ = $0.remove(path) }
        }
        return pushed
    }

    public func pullChanged(_ options: DatastoreSyncOptions?) async throws -> Int {
        counted.withLock { $0.requests["GET", default: 0] += max(1, options?.context?.models?.count ?? 1) }
        let snapshot = remote.objects.withLock { $0 }.filter { Self.inScope($0.key, options) }
        var refused: [String] = []
        var pulled = 0
        for (path, content) in snapshot.sorted(by: { $0.key < $1.key }) {
            guard (try? PathRules.validateRelativePath(path)) != nil else {
                refused.append(path)
                continue
            }
            if dirty.withLock({ $0.contains(path) }) { continue }  // unpushed local work wins
            if known.withLock({ $0[path] }) == content, FileManager.default.fileExists(atPath: "\(root)/\(path)") || lazy { continue }
            known.withLock { $0[path] = content }
            if lazy && path.hasSuffix("/raw") { continue }
            try AtomicFile.write(content, to: "\(root)/\(path)")
            counted.withLock {
                $0.pulled += 1
                $0.bytesDown += Int64(content.count)
            }
            pulled += 1
        }
        for path in known.withLock({ Array($0.keys) }) where Self.inScope(path, options) && snapshot[path] == nil {
            if dirty.withLock({ $0.contains(path) }) { continue }
            try? FileManager.default.removeItem(atPath: "\(root)/\(path)")
            known.withLock { _ = $0.removeValue(forKey: path) }
        }
        if !refused.isEmpty {
            throw ContractError(
                .invalidPath, "the remote lists \(refused.count) path(s) that are not allowed, e.g. '\(refused[0])'; the rest was pulled")
        }
        return pulled
    }

    public func hydrateFile(_ relPath: String) async throws -> Bool {
        _ = try PathRules.validateRelativePath(relPath)
        let absolute = "\(root)/\(relPath)"
        if FileManager.default.fileExists(atPath: absolute) { return false }
        guard let content = remote.objects.withLock({ $0[relPath] }) else { return false }
        try AtomicFile.write(content, to: absolute)
        counted.withLock {
            $0.pulled += 1
            $0.bytesDown += Int64(content.count)
            $0.requests["GET", default: 0] += 1
        }
        return true
    }

    public func activity() -> SyncActivity? { counted.withLock { $0 } }
}
