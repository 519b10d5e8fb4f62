import Foundation
import SwampContracts

/// One file in a partition of the remote index.
public struct IndexEntry: Codable, Hashable, Sendable {
    public var size: Int64
    public var sha256: String
    /// The commit sequence this entry was written in.
    public var seq: Int
    /// A tombstone: the file was deleted; pulls remove local copies.
    public var deleted: Bool?

    public var isDeleted: Bool { deleted == true }

    /// A commit number in range, and for a live file a sha256 and a size a file may have.
    var isWellFormed: Bool {
        (0...MetaIndex.maximumSeq).contains(seq)
            && (isDeleted || (PartitionIndex.isSHA256(sha256) && (0...PartitionIndex.maximumSize).contains(size)))
    }

    public static func tombstone(seq: Int) -> IndexEntry { IndexEntry(size: 0, sha256: "", seq: seq, deleted: true) }
}

/// `_swamp/index/{partition}.json`: every file a partition owns.
public struct PartitionIndex: Codable, Hashable, Sendable {
    public var format: Int
    public var partition: String
    /// The commit sequence of the last commit that wrote this partition.
    public var seq: Int
    public var entries: [String: IndexEntry]
    /// A token a writer sets to change this object's ETag without changing its entries: it
    /// fences out every writer holding an older view (their `If-Match` fails).
    public var fence: String?

    public init(partition: PartitionID, seq: Int = 0, entries: [String: IndexEntry] = [:]) {
        format = 1
        self.partition = partition.name
        self.seq = seq
        self.entries = entries
    }

    /// Decodes and validates an index from the remote: known format, the expected
    /// partition, and every path safe and inside that partition.
    static func decode(_ data: Data, expected: PartitionID) throws -> PartitionIndex {
        let index: PartitionIndex
        do {
            index = try JSONDecoder().decode(PartitionIndex.self, from: data)
        } catch {
            throw S3SyncError(.corruptIndex, "the remote index partition '\(expected)' is not valid JSON; nothing was changed locally")
        }
        guard index.format == 1 else {
            throw S3SyncError(.corruptIndex, "the remote index partition '\(expected)' has format \(index.format); this swamp reads format 1")
        }
        guard (0...MetaIndex.maximumSeq).contains(index.seq) else {
            throw S3SyncError(.corruptIndex, "the remote index partition '\(expected)' has a commit number out of range")
        }
        guard index.partition == expected.name else {
            throw S3SyncError(.corruptIndex, "the remote index partition '\(expected)' claims to be '\(index.partition)'")
        }
        guard index.entries.count <= maximumEntries else {
            throw S3SyncError(
                .corruptIndex, "the remote index partition '\(expected)' lists \(index.entries.count) entries, more than \(maximumEntries)")
        }
        for (path, entry) in index.entries {
            try check(path, in: expected)
            guard entry.isWellFormed else {
                throw S3SyncError(.corruptIndex, "the remote index partition '\(expected)' has a malformed entry for '\(PathRules.printable(path))'")
            }
        }
        // A path cannot be both a file and a directory.
        let shape = TreeShape(index)
        for (path, entry) in index.entries where !entry.isDeleted && shape.clashes(path) {
            throw S3SyncError(
                .hostilePath, "the remote index partition '\(expected)' lists '\(PathRules.printable(path))' both as a file and as a directory")
        }
        return index
    }

    /// Checks that `path` is one partition `partition` may list: a safe relative path (see
    /// ``PathRules/validateRelativePath(_:)``), owned by that partition, and — for the shared
    /// partition — not under `data/` or `outputs/`, which the layout reserves for models.
    static func check(_ path: String, in partition: PartitionID) throws {
        let segments: [Substring]
        do {
            segments = try PathRules.validateRelativePath(path)
        } catch let error as ContractError {
            throw S3SyncError(.hostilePath, "the remote index partition '\(partition)' lists an unsafe path: \(error.message); nothing was written")
        }
        guard PartitionID.of(path) == partition else {
            throw S3SyncError(
                .hostilePath, "the remote index partition '\(partition)' lists '\(PathRules.printable(path))', which belongs to another partition")
        }
        if partition == .shared, let top = segments.first, top == "data" || top == "outputs" {
            throw S3SyncError(
                .hostilePath, "the remote index partition 'shared' lists '\(PathRules.printable(path))', which the layout reserves for models")
        }
    }

    /// The most entries a partition may list (a model with a million files is unusual; a
    /// partition object of that size is about 200 MB, past ``S3DatastoreConfig/maxIndexBytes``' default).
    static let maximumEntries = 1_000_000
    /// The largest object an entry may describe: S3's limit, 5 TiB.
    static let maximumSize: Int64 = 5 << 40

    func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }

    /// Whether `text` is 64 lower-case hex digits.
    static func isSHA256(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }
}

/// `_swamp/meta.json`: the commit sequence and the partitions the recent commits touched.
public struct MetaIndex: Codable, Hashable, Sendable {
    public struct Commit: Codable, Hashable, Sendable {
        public var seq: Int
        public var partitions: [String]
        /// A hint, not the truth: small files this commit wrote, as its writer announced them
        /// (path → entry), so that a reader can fetch them beside the partitions' indexes
        /// instead of after them. A reader uses such bytes only where the partition's index,
        /// read as always, lists the same sha256; a commit that never lands, or lands merged
        /// differently, costs it a few wasted reads. Kept for the newest commits only (see
        /// ``hintBudget``); absent in commits of older clients.
        public var files: [String: IndexEntry]?

        public init(seq: Int, partitions: [String], files: [String: IndexEntry]? = nil) {
            self.seq = seq
            self.partitions = partitions
            self.files = files
        }

        /// Malformed hints are no hints: they never make the meta unreadable.
        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            seq = try container.decode(Int.self, forKey: .seq)
            partitions = try container.decode([String].self, forKey: .partitions)
            files = try? container.decodeIfPresent([String: IndexEntry].self, forKey: .files)
        }
    }

    public var format: Int
    public var seq: Int
    /// The last ``ringSize`` commits, oldest first.
    public var recent: [Commit]

    /// How many commits `recent` keeps: enough for incremental pulls, small whatever the repository's size.
    public static let ringSize = 256

    public init(seq: Int = 0, recent: [Commit] = []) {
        format = 1
        self.seq = seq
        self.recent = recent
    }

    /// The highest commit sequence this format allows (well inside every integer type involved).
    static let maximumSeq = 1 << 53

    /// How many hinted files (``Commit/files``) the meta keeps in all, newest commits first:
    /// the meta every unscoped pull reads stays small (about 25 KB of hints at most; the hints
    /// of a model run's commit, three files, are ~0.6 KB: the last ~40 runs keep theirs).
    static let hintBudget = 128
    /// The most files one commit hints per partition, and the largest file it hints: the
    /// latency a hint saves matters for a few small files (a model run's); a large commit
    /// or a large file costs more than one round trip anyway.
    static let hintsPerPartition = 32
    static let hintMaximumBytes: Int64 = 256 << 10
    /// The most bytes of hinted files one pull reads (what it holds in memory until the
    /// indexes are read).
    static let hintBytesPerPull: Int64 = 16 << 20

    /// The next commit, touching `partitions`, hinting `files` (their `seq` is set here).
    func committing(_ partitions: [PartitionID], files: [String: IndexEntry] = [:]) throws -> MetaIndex {
        guard seq < Self.maximumSeq else {
            throw S3SyncError(.corruptIndex, "the remote _swamp/meta.json is at commit \(seq), the highest this format allows; nothing was committed")
        }
        var next = self
        next.seq += 1
        let hints = files.mapValues { IndexEntry(size: $0.size, sha256: $0.sha256, seq: next.seq) }
        next.recent.append(Commit(seq: next.seq, partitions: partitions.map(\.name).sorted(), files: hints.isEmpty ? nil : hints))
        if next.recent.count > Self.ringSize { next.recent.removeFirst(next.recent.count - Self.ringSize) }
        // Older commits lose their hints once the newer ones use up the budget.
        var kept = 0
        for position in next.recent.indices.reversed() {
            guard let hinted = next.recent[position].files?.count else { continue }
            if kept + hinted > Self.hintBudget { next.recent[position].files = nil } else { kept += hinted }
        }
        return next
    }

    /// The files the commits after `seq` hint, per partition, the newest entry of each path
    /// first — only those a reader may fetch: a valid path of a partition the commit names, a
    /// valid sha256, at most ``hintMaximumBytes``; the newest commits' first, up to
    /// ``hintBudget`` files and ``hintBytesPerPull`` in all (a hostile meta costs a bounded
    /// number of small reads, and never a write: see ``Commit/files``).
    func hints(after seq: Int) -> [PartitionID: [String: IndexEntry]] {
        var hints: [PartitionID: [String: IndexEntry]] = [:]
        var seen = Set<String>()
        var (count, bytes): (Int, Int64) = (0, 0)
        for commit in (commits(after: seq) ?? []).reversed() {
            let named = Set(commit.partitions)
            for (path, entry) in (commit.files ?? [:]).sorted(by: { $0.key < $1.key }) {
                // A newer commit's entry for the path stands, whether or not it is fetched.
                guard seen.insert(path).inserted else { continue }
                let partition = PartitionID.of(path)
                guard named.contains(partition.name), (try? PartitionIndex.check(path, in: partition)) != nil, entry.isWellFormed,
                    !entry.isDeleted, entry.size <= Self.hintMaximumBytes
                else { continue }
                guard count < Self.hintBudget, bytes + entry.size <= Self.hintBytesPerPull else { return hints }
                count += 1
                bytes += entry.size
                hints[partition, default: [:]][path] = entry
            }
        }
        return hints
    }

    /// The commits announced after `seq`, oldest first, or `nil` when the ring no longer reaches back that far.
    func commits(after seq: Int) -> [Commit]? {
        if seq >= self.seq { return [] }
        guard let oldest = recent.first?.seq, oldest <= seq + 1 else { return nil }
        return recent.filter { $0.seq > seq }
    }

    /// The partitions changed after `seq`, or `nil` when the ring no longer reaches back that far.
    func partitionsChanged(after seq: Int) -> [PartitionID]? {
        commits(after: seq).map { Array(Set($0.flatMap(\.partitions))).sorted().map(PartitionID.init) }
    }

    static func decode(_ data: Data) throws -> MetaIndex {
        do {
            let meta = try JSONDecoder().decode(MetaIndex.self, from: data)
            guard meta.format == 1 else {
                throw S3SyncError(.corruptIndex, "the remote _swamp/meta.json has format \(meta.format); this swamp reads format 1")
            }
            guard (0...maximumSeq).contains(meta.seq), meta.recent.count <= ringSize * 4,
                meta.recent.allSatisfy({ $0.seq >= 1 && $0.seq <= meta.seq && $0.partitions.count <= 100_000 })
            else {
                throw S3SyncError(.corruptIndex, "the remote _swamp/meta.json holds commit numbers out of range; nothing was changed locally")
            }
            return meta
        } catch let error as S3SyncError {
            throw error
        } catch {
            throw S3SyncError(.corruptIndex, "the remote _swamp/meta.json is not valid JSON; nothing was changed locally")
        }
    }

    func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }
}

/// The files and directories a partition's live entries make.
struct TreeShape {
    private var files = Set<String>()
    private var directories = Set<String>()

    init(_ index: PartitionIndex) {
        for (path, entry) in index.entries where !entry.isDeleted {
            files.insert(path)
            var prefix = ""
            for segment in path.split(separator: "/").dropLast() {
                prefix += prefix.isEmpty ? String(segment) : "/\(segment)"
                directories.insert(prefix)
            }
        }
    }

    /// Whether a file at `path` would be a directory there, or sit under a file.
    func clashes(_ path: String) -> Bool {
        if directories.contains(path) { return true }
        var prefix = ""
        for segment in path.split(separator: "/").dropLast() {
            prefix += prefix.isEmpty ? String(segment) : "/\(segment)"
            if files.contains(prefix) { return true }
        }
        return false
    }
}
