import Foundation
import SwampContracts
import SwampSupport

#if canImport(Glibc)
    import Glibc
#endif

/// The S3 sync's local, never-uploaded state, in `{cache}/.swamp-sync/`:
///
/// - `state.json` — the remote fingerprint the cache has fully applied
///   (`pulledThroughSeq` + the meta ETag) and the last meta seen (for writes);
/// - `partitions/{partition}.json` — per partition: its remote ETag and index as last
///   applied, and each local file's size, mtime and sha256 as of the last sync;
/// - `dirty/{partition}.log` — paths marked dirty since the last push (append-only);
///   `dirty/_bulk` — a bulk change: walk everything.
///
/// A missing or unreadable file means "slow path" (re-read, re-walk), never "skip".
final class SyncSidecar: Sendable {
    let directory: String
    /// `bucket/prefix`: state recorded for another remote is ignored.
    let remoteIdentity: String
    /// More distinct dirty paths than this in one partition: walk it instead. Default 10 000.
    let dirtyLimit: Int

    struct State: Codable, Equatable {
        var format = 1
        var remote: String
        /// The commit sequence up to which every partition change has been applied locally.
        var pulledThroughSeq: Int?
        /// The meta ETag at ``pulledThroughSeq`` (for `If-None-Match`).
        var pulledMetaETag: String?
        /// The last meta object seen or written, with its ETag (for `If-Match` writes).
        var knownMetaETag: String?
        var knownMeta: MetaIndex?
        /// Commits the meta announced whose partition write this cache has not seen yet
        /// (partition name → announced seq): checked again by every unscoped pull.
        var pending: [String: Int]?
    }

    struct FileRecord: Codable, Equatable, Sendable {
        var size: Int64
        var mtimeNs: Int64
        var sha256: String
        /// The inode's change time and number: a rewrite within the file system's timestamp
        /// granularity, or a replacement by rename, changes one of them even when size and
        /// mtime look the same. (Absent in records of older versions: then the file is hashed.)
        var ctimeNs: Int64?
        var inode: UInt64?

        init(size: Int64, mtimeNs: Int64, sha256: String, ctimeNs: Int64? = nil, inode: UInt64? = nil) {
            self.size = size
            self.mtimeNs = mtimeNs
            self.sha256 = sha256
            self.ctimeNs = ctimeNs
            self.inode = inode
        }

        /// The record of `local` with hash `sha256`.
        init(_ local: LocalFile, sha256: String) {
            self.init(size: local.size, mtimeNs: local.mtimeNs, sha256: sha256, ctimeNs: local.ctimeNs, inode: local.inode)
        }

        /// Whether `local` is the very file this record describes (no need to hash it again).
        func describes(_ local: LocalFile) -> Bool {
            size == local.size && mtimeNs == local.mtimeNs && ctimeNs == local.ctimeNs && inode == local.inode
        }
    }

    struct PartitionState: Codable, Equatable, Sendable {
        var format = 1
        /// The remote partition's ETag when last applied or written.
        var etag: String?
        /// The remote partition as last applied or written.
        var index: PartitionIndex?
        /// Local files as of the last sync.
        var files: [String: FileRecord] = [:]
        /// The index holds entries the cache has not applied (a commit merged a teammate's
        /// entries, or a download was skipped): the next pull applies it even on a 304.
        var stale: Bool?
    }

    /// Paths marked dirty in one partition, and how much of the log they came from.
    struct DirtyRead {
        /// `nil` when the log overflowed or could not be read: walk the partition.
        var paths: Set<String>?
        var length: Int
        /// What writers recorded of the files they wrote (``appendDirty(_:written:)``), by path:
        /// the hash of a file as it was right after its write. Only a file that still matches
        /// its record's size, times and inode may be taken to hash to it.
        var written: [String: FileRecord] = [:]
    }

    init(cacheRoot: String, remoteIdentity: String, dirtyLimit: Int = 10_000) {
        directory = "\(cacheRoot)/.swamp-sync"
        self.remoteIdentity = remoteIdentity
        self.dirtyLimit = dirtyLimit
    }

    // MARK: State

    func loadState() -> State {
        guard let data = try? AtomicFile.readIfPresent("\(directory)/state.json"),
            let state = try? JSONDecoder().decode(State.self, from: data), state.format == 1, state.remote == remoteIdentity
        else { return State(remote: remoteIdentity) }
        return state
    }

    /// Read-modify-write of `state.json`, serialised between local processes.
    func updateState(_ body: (inout State) -> Void) throws {
        try withFileLock {
            var state = loadState()
            body(&state)
            try AtomicFile.write(try JSONEncoder().encode(state), to: "\(directory)/state.json")
        }
    }

    // MARK: Partitions

    func loadPartition(_ partition: PartitionID) -> PartitionState {
        guard let data = try? AtomicFile.readIfPresent(partitionPath(partition)),
            let state = try? JSONDecoder().decode(PartitionState.self, from: data), state.format == 1
        else { return PartitionState() }
        return state
    }

    func savePartition(_ partition: PartitionID, _ state: PartitionState) throws {
        try AtomicFile.write(try JSONEncoder().encode(state), to: partitionPath(partition))
    }

    /// Partitions with local state.
    func knownPartitions() -> [PartitionID] {
        names(in: "\(directory)/partitions", suffix: ".json")
    }

    private func partitionPath(_ partition: PartitionID) -> String { "\(directory)/partitions/\(partition.fileName).json" }

    // MARK: Dirty tracking

    /// Appends one path to its partition's dirty log (`O_APPEND`: concurrent appends do not
    /// interleave), with the record of the file a writer has just put there when it knows its
    /// hash: `{path}\t{sha256} {size} {mtimeNs} {ctimeNs} {inode}`. A path's last line is the
    /// one that counts, so a plain line withdraws an earlier record. (A tab is never part of a
    /// path; an older swamp reading such a line walks the partition instead.)
    func appendDirty(_ relPath: String, written: FileRecord? = nil) throws {
        let path = dirtyPath(PartitionID.of(relPath))
        try AtomicFile.makeDirectories("\(directory)/dirty")
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileSystemError("open dirty log", path: path, errno: errno) }
        defer { close(fd) }
        let record = written.map { "\t\($0.sha256) \($0.size) \($0.mtimeNs) \($0.ctimeNs ?? 0) \($0.inode ?? 0)" } ?? ""
        // Begun with a newline too: a line an earlier append left torn (a full disk) then stays
        // a line of its own instead of swallowing this one (empty lines are skipped).
        let line = Array("\n\(relPath)\(record)\n".utf8)
        let written = line.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard written == line.count else { throw FileSystemError("append to dirty log", path: path, errno: errno) }
    }

    /// Records a bulk change: the next push walks every partition.
    func markBulk() throws {
        try AtomicFile.write(Data(), to: "\(directory)/dirty/_bulk")
    }

    var isBulk: Bool { FileManager.default.fileExists(atPath: "\(directory)/dirty/_bulk") }

    func clearBulk() throws { try AtomicFile.remove("\(directory)/dirty/_bulk") }

    func readDirty(_ partition: PartitionID) -> DirtyRead {
        guard let data = try? AtomicFile.readIfPresent(dirtyPath(partition)) else { return DirtyRead(paths: [], length: 0) }
        // Only complete lines count; a torn last line means "walk".
        guard data.isEmpty || data.last == UInt8(ascii: "\n") else { return DirtyRead(paths: nil, length: data.count) }
        var paths = Set<String>()
        var written: [String: FileRecord] = [:]
        for line in data.split(separator: UInt8(ascii: "\n")) {
            let fields = line.split(separator: UInt8(ascii: "\t"), maxSplits: 1, omittingEmptySubsequences: false)
            let path = String(decoding: fields[0], as: UTF8.self)
            guard (try? PathRules.validateRelativePath(path)) != nil, PartitionID.of(path) == partition else {
                return DirtyRead(paths: nil, length: data.count)
            }
            paths.insert(path)
            if paths.count > dirtyLimit { return DirtyRead(paths: nil, length: data.count) }
            // A record that does not parse is no record: the path is dirty all the same, and hashed.
            written[path] = fields.count == 2 ? Self.writtenRecord(fields[1]) : nil
        }
        return DirtyRead(paths: paths, length: data.count, written: written)
    }

    /// `{sha256} {size} {mtimeNs} {ctimeNs} {inode}`, strictly; `nil` otherwise.
    static func writtenRecord(_ text: some Collection<UInt8>) -> FileRecord? {
        let fields = text.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        guard fields.count == 5, PartitionIndex.isSHA256(fields[0]), let size = Int64(fields[1]), size >= 0, let mtime = Int64(fields[2]),
            let ctime = Int64(fields[3]), let inode = UInt64(fields[4])
        else { return nil }
        return FileRecord(size: size, mtimeNs: mtime, sha256: fields[0], ctimeNs: ctime, inode: inode)
    }

    /// Partitions with a dirty log.
    func dirtyPartitions() -> [PartitionID] { names(in: "\(directory)/dirty", suffix: ".log") }

    /// Forgets the first `length` bytes of a partition's dirty log (what a push processed),
    /// keeping anything appended since and the paths in `keep` (work the push left to its caller).
    func clearDirty(_ partition: PartitionID, processedLength length: Int, keep: Set<String> = []) throws {
        let path = dirtyPath(partition)
        try withFileLock {
            let data = try AtomicFile.readIfPresent(path) ?? Data()
            let kept = Data(keep.sorted().map { "\($0)\n" }.joined().utf8)
            let rest = data.count <= length ? Data() : data.subdata(in: length..<data.count)
            if kept.isEmpty && rest.isEmpty {
                try AtomicFile.remove(path)
            } else if !(kept.isEmpty && rest.count == data.count) {
                try AtomicFile.write(kept + rest, to: path)
            }
        }
    }

    private func dirtyPath(_ partition: PartitionID) -> String { "\(directory)/dirty/\(partition.fileName).log" }

    private func names(in folder: String, suffix: String) -> [PartitionID] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return entries.filter { $0.hasSuffix(suffix) && !$0.hasPrefix(".") }
            .map { PartitionID(String($0.dropLast(suffix.count)).replacingOccurrences(of: "~", with: "/")) }
            .sorted()
    }

    // MARK: Local serialisation

    /// Runs `body` holding an exclusive `flock` on the sidecar's lock file.
    func withFileLock<T>(_ body: () throws -> T) throws -> T {
        try AtomicFile.makeDirectories(directory)
        let path = "\(directory)/lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileSystemError("open", path: path, errno: errno) }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 {
            if errno != EINTR { throw FileSystemError("lock", path: path, errno: errno) }
        }
        defer { flock(fd, LOCK_UN) }
        return try body()
    }
}
