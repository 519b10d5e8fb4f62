import SwampContracts

/// What a pull does with one partition's index, decided from local state alone (no I/O on the remote).
///
/// The mirror of ``PushPlan``, in the same units:
/// - A version (or output record) holding local work — a file that is neither what this cache
///   last synced nor what the remote holds — is left alone, whole: the push renumbers it,
///   discards it if it is half-written, and only then does a pull bring the remote's in.
///   So a crash's residue is never mixed with a teammate's bytes in one version.
/// - A version whose synced files are gone locally is a collection not pushed yet: it is not
///   brought back.
/// - Other files: an unpushed local change is kept over the remote's; a tombstone removes a
///   local copy unless it is an unpushed change.
/// - `latest` entries (written by older clients) are ignored: the marker is derived locally.
struct PullPlan: Sendable {
    struct Download: Sendable, Hashable {
        var path: String
        var entry: IndexEntry
    }

    var downloads: [Download] = []
    /// Local copies of tombstoned files to remove.
    var removals: [String] = []
    /// Local files that already match the index: record them.
    var matched: [String: SyncSidecar.FileRecord] = [:]
    /// Records to drop (tombstoned or gone).
    var forgotten: [String] = []
    /// Unpushed local work kept over the remote's entries.
    var keptLocal: [String] = []
    /// Version directories to create for `raw` files a lazy pull does not fetch.
    var lazyDirectories: Set<String> = []

    /// Plans applying `index` to the cache.
    /// - Parameter dirty: the partition's dirty paths, or `nil` when unknown (an overflowing or torn log).
    static func make(
        index: PartitionIndex, state: SyncSidecar.PartitionState, dirty: Set<String>?, lazy: Bool, local: some LocalView
    ) throws -> PullPlan {
        var plan = PullPlan()
        let shape = IndexShape(index.entries.keys)
        for (unit, paths) in shape.units.sorted(by: { $0.key < $1.key }) {
            let names = Set(paths).union(local.files(in: unit).map { "\(unit)/\($0)" })
            try plan.applyUnit(paths: paths.sorted(), all: names, index: index, state: state, lazy: lazy, unit: unit, local: local)
        }
        for path in index.entries.keys.sorted() {
            switch DatastorePath(path).kind {
            case .versionFile, .latest:
                continue
            case .outputRecord:
                try plan.applyUnit(paths: [path], all: [path], index: index, state: state, lazy: false, unit: nil, local: local)
            case .other:
                try plan.applyOther(path, index: index, state: state, dirty: dirty, local: local)
            }
        }
        return plan
    }

    /// Applies the entries `paths` of one immutable unit (a version, or one output record).
    private mutating func applyUnit(
        paths: [String], all: Set<String>, index: PartitionIndex, state: SyncSidecar.PartitionState, lazy: Bool, unit: String?,
        local: some LocalView
    ) throws {
        var present: [String: SyncSidecar.FileRecord] = [:]
        for path in all { present[path] = try local.file(path, takingWritersRecord: index.entries[path] == nil) }
        let work = present.filter { path, info in
            if state.files[path]?.sha256 == info.sha256 { return false }
            guard let entry = index.entries[path], !entry.isDeleted else { return true }
            // A committed file this cache synced, changed here since (in place: an editor, say,
            // through a hard link `datastore setup` made) is no work of ours: committed versions
            // are immutable, and the push never sends it. The remote's bytes are restored.
            if state.files[path]?.sha256 == entry.sha256 { return false }
            return entry.sha256 != info.sha256
        }
        if !work.isEmpty {
            keptLocal.append(contentsOf: work.keys.sorted())
            return
        }
        let collected = all.contains { path in
            guard present[path] == nil, let record = state.files[path], let entry = index.entries[path], !entry.isDeleted else { return false }
            return entry.sha256 == record.sha256
        }
        if collected { return }  // deleted here, deletion not pushed yet: do not bring it back
        for path in paths {
            guard let entry = index.entries[path] else { continue }
            if entry.isDeleted {
                if present[path] != nil { removals.append(path) }
                if state.files[path] != nil || present[path] != nil { forgotten.append(path) }
            } else if let info = present[path], info.sha256 == entry.sha256 {
                matched[path] = info
            } else if present[path] == nil, lazy, let unit, Self.isLazyContent(path) {
                lazyDirectories.insert(unit)
            } else {
                downloads.append(Download(path: path, entry: entry))
            }
        }
    }

    /// Whether a lazy pull leaves `path` for its first read: a version's `raw`.
    static func isLazyContent(_ path: String) -> Bool {
        path.hasSuffix("/raw") && DatastorePath(path).versionDirectory != nil
    }

    /// Applies one entry of a file outside the immutable layout (last writer wins).
    private mutating func applyOther(
        _ path: String, index: PartitionIndex, state: SyncSidecar.PartitionState, dirty: Set<String>?, local: some LocalView
    ) throws {
        guard let entry = index.entries[path] else { return }
        let info = try local.file(path, takingWritersRecord: false)
        let record = state.files[path]
        let changedHere = info != nil && record?.sha256 != info?.sha256
        let unpushed = changedHere && (dirty?.contains(path) ?? true)
        if entry.isDeleted {
            if info != nil, !unpushed { removals.append(path) }
            if !unpushed { forgotten.append(path) }
            return
        }
        if let info {
            if info.sha256 == entry.sha256 {
                matched[path] = info
            } else if unpushed {
                keptLocal.append(path)
            } else {
                downloads.append(Download(path: path, entry: entry))
            }
            return
        }
        if let record, record.sha256 == entry.sha256 { return }  // deleted here, not pushed yet
        downloads.append(Download(path: path, entry: entry))
    }
}
