/// One thing a consistency check found in a remote datastore.
public struct ConsistencyFinding: Sendable, Hashable, Codable {
    /// What kind of inconsistency, as a stable code (`dangling_entry`, `orphan_object`...).
    public var kind: String
    /// The remote path or key it concerns.
    public var key: String
    /// One line a person can act on.
    public var detail: String
    /// Whether `swamp datastore repair` fixes it (now; a young orphan, say, is left alone).
    public var repairable: Bool
    /// After a repair: whether it was fixed.
    public var fixed: Bool?

    public init(kind: String, key: String, detail: String, repairable: Bool, fixed: Bool? = nil) {
        self.kind = kind
        self.key = key
        self.detail = detail
        self.repairable = repairable
        self.fixed = fixed
    }

    /// An index entry whose object is missing (or has another size).
    public static let danglingEntry = "dangling_entry"
    /// An object no index entry references (an upload whose commit never happened).
    public static let orphanObject = "orphan_object"
    /// An object whose index entry is a tombstone (a deletion that did not finish).
    public static let deletedObjectLeft = "deleted_object_left"
    /// A commit the meta announced whose partition write never happened.
    public static let pendingCommit = "pending_commit"
    /// A partition changed without the meta announcing it (incremental pulls miss it).
    public static let unannouncedPartition = "unannounced_partition"
    /// An index object that cannot be read.
    public static let corruptIndex = "corrupt_index"
    /// A multipart upload never completed nor aborted (its writer was killed): `key` is
    /// `{path}?uploadId={id}`. Its parts are not an object; repair aborts it once it is old.
    public static let unfinishedUpload = "unfinished_upload"
}

/// What a consistency check (or a repair) found.
public struct ConsistencyReport: Sendable, Hashable, Codable {
    public var findings: [ConsistencyFinding]
    /// Index entries and objects looked at.
    public var checkedEntries: Int
    public var checkedObjects: Int

    public init(findings: [ConsistencyFinding] = [], checkedEntries: Int = 0, checkedObjects: Int = 0) {
        self.findings = findings
        self.checkedEntries = checkedEntries
        self.checkedObjects = checkedObjects
    }

    /// Whether anything needs (or needed) attention.
    public var isClean: Bool { findings.isEmpty }
}

/// How a repair (or a check) treats what it finds.
public struct RepairOptions: Sendable, Hashable {
    /// Report what would be fixed, change nothing.
    public var dryRun: Bool
    /// Objects no entry references are deleted only when older than this (an upload in
    /// progress is young). Default: one hour.
    public var minimumOrphanAge: Duration

    public init(dryRun: Bool = false, minimumOrphanAge: Duration = .seconds(3600)) {
        self.dryRun = dryRun
        self.minimumOrphanAge = minimumOrphanAge
    }
}

/// A sync service that can check its remote's consistency and repair what crashed writers left.
public protocol ConsistencyChecking: Sendable {
    /// Lists what is inconsistent between the remote index and the objects. Changes nothing.
    func checkConsistency(_ options: RepairOptions) async throws -> ConsistencyReport

    /// Fixes what can be fixed safely (the caller holds the global lock); with
    /// `options.dryRun`, only reports. Every finding says whether it was fixed.
    func repair(_ options: RepairOptions) async throws -> ConsistencyReport
}
