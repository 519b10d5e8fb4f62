/// What a push will do for one partition, decided from local state alone (no I/O on the remote).
struct PushPlan: Sendable {
    let partition: PartitionID
    let state: SyncSidecar.PartitionState
    /// Bytes of the dirty log this plan covers (cleared after the commit).
    let dirtyLength: Int
    /// Files to upload, with the hash and size planned.
    var uploads: [(path: String, sha256: String, size: Int64)] = []
    /// Files to delete remotely (tombstone in the index).
    var deletes: [String] = []
    /// Local records to update without any transfer (the remote already matches).
    var adopted: [String: SyncSidecar.FileRecord] = [:]
    /// Local records to drop (file gone, nothing to tell the remote).
    var forgotten: [String] = []

    init(partition: PartitionID, state: SyncSidecar.PartitionState, dirtyLength: Int) {
        self.partition = partition
        self.state = state
        self.dirtyLength = dirtyLength
    }

    /// Whether the remote index must change.
    var changesRemote: Bool { !uploads.isEmpty || !deletes.isEmpty }

    /// Decides what to do with one candidate path.
    ///
    /// - A file changed since the last sync (or new, or marked dirty) is uploaded unless
    ///   the remote already has exactly these bytes.
    /// - A file the cache never synced is not pushed over a different or deleted remote
    ///   entry unless it was marked dirty: an unchanged stale copy never resurrects a
    ///   teammate's deletion.
    /// - A missing file is deleted remotely only if the cache had synced it or it was
    ///   marked dirty: content that was merely never fetched (lazy) is never deleted.
    mutating func decide(path: String, local: LocalFile?, sha256: String?, dirty: Bool) {
        let record = state.files[path]
        let remote = state.index?.entries[path]
        guard let local, let sha256 else {
            if record != nil || dirty, let remote, !remote.isDeleted {
                deletes.append(path)
            } else if record != nil {
                forgotten.append(path)
            }
            return
        }
        let current = SyncSidecar.FileRecord(size: local.size, mtimeNs: local.mtimeNs, sha256: sha256)
        if let record, record.sha256 == sha256 {
            if record != current { adopted[path] = current }
            return
        }
        if let remote, !remote.isDeleted, remote.sha256 == sha256 {
            adopted[path] = current
            return
        }
        if record == nil, !dirty, remote != nil {
            return  // a stale or conflicting copy the cache never synced: the pull reconciles it
        }
        uploads.append((path, sha256, local.size))
    }
}
