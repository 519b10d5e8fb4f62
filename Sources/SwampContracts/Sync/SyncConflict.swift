/// Thrown by a push that found local work it must not send as it is: version numbers the
/// remote already committed with other content, output records whose names are taken,
/// and versions a crash left half-written. Nothing of those was committed; everything
/// else the push could commit, it did.
///
/// The caller (the core's push driver) resolves each item locally — renumbers the version,
/// renames the record, completes or discards the half-written version — and pushes again.
/// A backend never overwrites to resolve a conflict.
public struct SyncConflict: Error, Sendable, Hashable, CustomStringConvertible {
    /// A version this cache wrote whose number the remote already holds with other content
    /// (or once held: a collected version's number is never reused).
    public struct Version: Sendable, Hashable, Codable {
        public var model: ModelRef
        public var dataName: String
        public var version: Int
        /// The lowest number the remote has not used for this data item.
        public var firstFree: Int

        public init(model: ModelRef, dataName: String, version: Int, firstFree: Int) {
            self.model = model
            self.dataName = dataName
            self.version = version
            self.firstFree = firstFree
        }
    }

    /// A version directory holding only some of its files (a crash during the write).
    public struct Incomplete: Sendable, Hashable, Codable {
        public var model: ModelRef
        public var dataName: String
        public var version: Int
        /// The files present, e.g. `["metadata.yaml"]`.
        public var present: [String]

        public init(model: ModelRef, dataName: String, version: Int, present: [String]) {
            self.model = model
            self.dataName = dataName
            self.version = version
            self.present = present
        }
    }

    /// Versions to renumber.
    public var versions: [Version]
    /// Cache-relative paths of output records the remote holds with other content: rename them.
    public var outputRecords: [String]
    /// Half-written versions: complete or discard them.
    public var incomplete: [Incomplete]

    public init(versions: [Version] = [], outputRecords: [String] = [], incomplete: [Incomplete] = []) {
        self.versions = versions
        self.outputRecords = outputRecords
        self.incomplete = incomplete
    }

    public var isEmpty: Bool { versions.isEmpty && outputRecords.isEmpty && incomplete.isEmpty }

    public static func + (lhs: SyncConflict, rhs: SyncConflict) -> SyncConflict {
        SyncConflict(
            versions: lhs.versions + rhs.versions, outputRecords: lhs.outputRecords + rhs.outputRecords, incomplete: lhs.incomplete + rhs.incomplete)
    }

    public var description: String {
        var parts: [String] = []
        for item in versions { parts.append("\(item.model) \(item.dataName) v\(item.version) is taken remotely (first free: v\(item.firstFree))") }
        for path in outputRecords { parts.append("output record '\(path)' is taken remotely") }
        for item in incomplete {
            parts.append("\(item.model) \(item.dataName) v\(item.version) is half-written (has \(item.present.joined(separator: ", ")))")
        }
        return "the push found local work it must not send as it is: " + parts.joined(separator: "; ")
    }
}

/// An error that may concern one item only (a collected version, an object missing or corrupt
/// on the remote): an operation over many items reports such an item and goes on.
public protocol ItemScopedError: Error {
    /// Whether this failure concerns only the item being handled (not the remote as a whole).
    var concernsOneItem: Bool { get }
}
