import SwampContracts

/// What a push will do for one partition, decided from local state alone (no I/O on the remote).
///
/// Files are decided in the units the layout gives them: the files of one version together
/// (a version is immutable once committed, so it is sent whole or not at all), each output
/// record alone (immutable too), and any other file alone (last writer wins).
///
/// - A version the remote has never seen is uploaded whole, once it is complete (its
///   `metadata.yaml` and `raw` both present); a half-written one is left to the caller.
/// - A version this cache wrote under a number the remote already holds (or held, before a
///   collection) with other content is a conflict: the caller renumbers it. Nothing is
///   overwritten.
/// - A committed version changed locally after it was synced is not pushed (committed
///   versions are immutable); the next pull that applies its partition restores it.
/// - A missing file is tombstoned only if its remote entry is the one this cache last synced
///   (same hash); a version goes as a unit: once one of its synced files is gone, every live
///   file of it is tombstoned (a lazy cache never fetched the `raw` its collection deletes).
///   Crash residue (marked dirty, never written, never synced) deletes nothing.
/// - The local `latest` marker is derived from the versions and never pushed.
struct PushPlan: Sendable {
    /// One file to upload.
    struct Upload: Sendable, Hashable {
        var path: String
        var sha256: String
        var size: Int64
        /// Created with `If-None-Match: *` (version files, output records), never overwritten.
        var immutable: Bool
        /// The unit it goes with: its version directory, or the path itself.
        var unit: String
    }

    /// One tombstone to commit, if the remote entry still has the hash this cache knew.
    struct Delete: Sendable, Hashable {
        var path: String
        var expected: String
    }

    let partition: PartitionID
    let state: SyncSidecar.PartitionState
    /// Bytes of the dirty log this plan covers (cleared after the commit).
    let dirtyLength: Int
    var uploads: [Upload] = []
    var deletes: [Delete] = []
    /// Local records to update without any transfer (the remote already matches).
    var adopted: [String: SyncSidecar.FileRecord] = [:]
    /// Local records to drop (file gone, nothing to tell the remote).
    var forgotten: [String] = []
    /// Work left to the caller: versions to renumber, records to rename, half-written versions.
    var conflict = SyncConflict()
    /// Paths of that work: they stay marked dirty.
    var keepDirty: Set<String> = []
    /// Committed files changed locally after they were synced: not pushed.
    var modifiedAfterCommit: [String] = []

    init(partition: PartitionID, state: SyncSidecar.PartitionState, dirtyLength: Int) {
        self.partition = partition
        self.state = state
        self.dirtyLength = dirtyLength
    }

    /// Whether the remote index must change.
    var changesRemote: Bool { !uploads.isEmpty || !deletes.isEmpty }

    /// Plans `candidates` (dirty paths, or a walk) of one partition.
    /// - Parameter dirty: the paths marked dirty, or `nil` when that is unknown (an overflowing or torn log).
    static func make(
        partition: PartitionID, state: SyncSidecar.PartitionState, dirtyLength: Int, dirty: Set<String>?, candidates: Set<String>,
        local: some LocalView
    ) throws -> PushPlan {
        var plan = PushPlan(partition: partition, state: state, dirtyLength: dirtyLength)
        let remote = IndexShape((state.index?.entries ?? [:]).keys)
        let recorded = IndexShape(state.files.keys)
        var units = Set<String>()
        for path in candidates.sorted() {
            let classified = DatastorePath(path)
            switch classified.kind {
            case .versionFile:
                if let unit = classified.versionDirectory { units.insert(unit) }
            case .outputRecord:
                try plan.decideRecord(path, local: local)
            case .latest:
                if state.files[path] != nil { plan.forgotten.append(path) }
            case .other:
                try plan.decideOther(path, dirty: dirty?.contains(path) ?? false, local: local)
            }
        }
        for unit in units.sorted() {
            try plan.decideVersion(unit, remote: remote, recorded: recorded, local: local)
        }
        if !plan.conflict.versions.isEmpty || !plan.conflict.incomplete.isEmpty {
            // A record names version numbers: it waits until they are settled.
            let held = plan.uploads.filter(\.isOutputRecord).map(\.path)
            plan.uploads.removeAll(where: \.isOutputRecord)
            plan.keepDirty.formUnion(held)
        }
        return plan
    }

    // MARK: Versions

    private mutating func decideVersion(_ unit: String, remote: IndexShape, recorded: IndexShape, local: some LocalView) throws {
        guard case .versionFile(let model, let dataName, let version, _) = DatastorePath("\(unit)/raw").kind else { return }
        let entries = state.index?.entries ?? [:]
        var paths = Set(local.files(in: unit).map { "\(unit)/\($0)" })
        paths.formUnion(remote.units[unit] ?? [])
        paths.formUnion(recorded.units[unit] ?? [])
        var present: [String: SyncSidecar.FileRecord] = [:]
        for path in paths { present[path] = try local.file(path, takingWritersRecord: entries[path] == nil) }

        if present.isEmpty {
            // Gone locally. A collection if the cache had synced one of its files as committed.
            let collected = paths.contains { path in
                guard let record = state.files[path], let entry = entries[path], !entry.isDeleted else { return false }
                return entry.sha256 == record.sha256
            }
            for path in paths.sorted() {
                if collected, let entry = entries[path], !entry.isDeleted {
                    deletes.append(Delete(path: path, expected: entry.sha256))
                } else if state.files[path] != nil {
                    forgotten.append(path)
                }
            }
            return
        }

        let unsynced = present.filter { state.files[$0.key]?.sha256 != $0.value.sha256 }
        if unsynced.isEmpty {
            for (path, info) in present where state.files[path] != info { adopted[path] = info }
            for path in paths where present[path] == nil && state.files[path] != nil { forgotten.append(path) }
            return
        }

        let known = paths.filter { entries[$0] != nil }
        let identical =
            !known.isEmpty
            && present.allSatisfy { path, info in
                guard let entry = entries[path], !entry.isDeleted else { return false }
                return entry.sha256 == info.sha256
            }
        if identical {
            for (path, info) in present where state.files[path] != info { adopted[path] = info }
            return
        }
        let names = Set(present.keys.map { String($0.split(separator: "/").last ?? "") })
        let complete = names.contains("metadata.yaml") && names.contains("raw")
        let neverSynced = present.keys.allSatisfy { state.files[$0] == nil }
        if !complete {
            // Part of a version this cache wrote and never synced: a crash between its files.
            if neverSynced {
                conflict.incomplete.append(.init(model: model, dataName: dataName, version: version, present: names.sorted()))
                keepDirty.formUnion(paths)
            }
            return
        }
        if known.isEmpty {
            // A version the remote has never seen: whole.
            for (path, info) in present.sorted(by: { $0.key < $1.key }) {
                uploads.append(Upload(path: path, sha256: info.sha256, size: info.size, immutable: true, unit: unit))
            }
            return
        }
        let changedAfterSync = unsynced.keys.allSatisfy { path in
            guard let record = state.files[path], let entry = entries[path], !entry.isDeleted else { return false }
            return entry.sha256 == record.sha256
        }
        if changedAfterSync {
            modifiedAfterCommit.append(contentsOf: unsynced.keys.sorted())
            return
        }
        // Another version under a number the remote holds or held: renumber ours.
        let firstFree = (remote.highestVersion[IndexShape.itemDirectory(ofUnit: unit)] ?? version) + 1
        conflict.versions.append(.init(model: model, dataName: dataName, version: version, firstFree: max(firstFree, version + 1)))
        keepDirty.formUnion(paths)
    }

    // MARK: Output records

    private mutating func decideRecord(_ path: String, local: some LocalView) throws {
        let record = state.files[path]
        let entry = state.index?.entries[path]
        guard let info = try local.file(path, takingWritersRecord: entry == nil) else {
            if let record, let entry, !entry.isDeleted, entry.sha256 == record.sha256 {
                deletes.append(Delete(path: path, expected: entry.sha256))
            } else if record != nil {
                forgotten.append(path)
            }
            return
        }
        if let record, record.sha256 == info.sha256 {
            if record != info { adopted[path] = info }
            return
        }
        guard let entry else {
            uploads.append(Upload(path: path, sha256: info.sha256, size: info.size, immutable: true, unit: path))
            return
        }
        if !entry.isDeleted, entry.sha256 == info.sha256 {
            adopted[path] = info
        } else if let record, !entry.isDeleted, entry.sha256 == record.sha256 {
            modifiedAfterCommit.append(path)
        } else {
            conflict.outputRecords.append(path)
            keepDirty.insert(path)
        }
    }

    // MARK: Other files (last writer wins)

    private mutating func decideOther(_ path: String, dirty: Bool, local: some LocalView) throws {
        let record = state.files[path]
        let entry = state.index?.entries[path]
        guard let info = try local.file(path, takingWritersRecord: entry == nil) else {
            if let record, let entry, !entry.isDeleted, entry.sha256 == record.sha256 {
                deletes.append(Delete(path: path, expected: entry.sha256))
            } else if record != nil {
                forgotten.append(path)
            }
            return
        }
        if let record, record.sha256 == info.sha256 {
            if record != info { adopted[path] = info }
            return
        }
        if let entry, !entry.isDeleted, entry.sha256 == info.sha256 {
            adopted[path] = info
            return
        }
        if record == nil, !dirty, entry != nil {
            return  // a stale or conflicting copy the cache never synced: the pull reconciles it
        }
        uploads.append(Upload(path: path, sha256: info.sha256, size: info.size, immutable: false, unit: path))
    }
}
