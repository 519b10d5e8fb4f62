import Foundation
import SwampContracts
import SwampSupport

#if canImport(Glibc)
    import Glibc
#endif

/// A local version given a new number because the remote already held its number.
public struct Renumbering: Sendable, Hashable, Codable {
    public var model: ModelRef
    public var modelName: String
    public var dataName: String
    public var from: Int
    public var to: Int
}

/// What resolving a push's conflicts changed locally.
public struct ConflictResolution: Sendable, Hashable, Codable {
    /// Versions renumbered (`v3 → v5`).
    public var renumbered: [Renumbering] = []
    /// Output records renamed, cache-relative `from → to`.
    public var renamedRecords: [String: String] = [:]
    /// Half-written versions (a crash between their files) removed.
    public var discarded: [SyncConflict.Incomplete] = []

    public init() {}

    public var isEmpty: Bool { renumbered.isEmpty && renamedRecords.isEmpty && discarded.isEmpty }

    public mutating func merge(_ other: ConflictResolution) {
        renumbered += other.renumbered
        renamedRecords.merge(other.renamedRecords) { $1 }
        discarded += other.discarded
    }

    /// The models whose local versions changed (a pull brings the remote's under the freed numbers).
    public var models: [ModelRef] { ModelRef.sortedUnique(renumbered.map(\.model) + discarded.map(\.model)) }
}

/// The record of a renumbering in progress, written before its first step so that a crash
/// part-way is finished by the next push (``DataRepository/finishInterruptedRenumberings()``).
struct RenumberJournal: Codable {
    var model: ModelRef
    var dataName: String
    var from: Int
    var to: Int
}

extension DataRepository {
    /// Where renumbering journals and discarded half-versions live (local only, never synced).
    var journalDirectory: String { layout.absolute(".swamp-journal") }

    /// Resolves what a push left to its caller, locally, without losing anything:
    /// - a version whose number the remote holds with other content gets the next free number
    ///   (its metadata and the output records naming it follow; the catalog and `latest` too);
    /// - an output record whose name the remote holds gets a free name;
    /// - a half-written version (a crash between its files) is removed; a `raw` without its
    ///   metadata is kept aside in `.swamp-journal/discarded/`.
    public func resolve(_ conflict: SyncConflict) throws -> ConflictResolution {
        var resolution = ConflictResolution()
        for item in conflict.incomplete {
            try discardIncomplete(item)
            resolution.discarded.append(item)
        }
        for item in conflict.versions {
            if let renumbering = try renumber(item) { resolution.renumbered.append(renumbering) }
        }
        for path in conflict.outputRecords {
            if let renamed = try renameOutputRecord(path) { resolution.renamedRecords[path] = renamed }
        }
        if !resolution.isEmpty {
            DatastoreGeneration.bump(layout)
            try catalog.invalidate()
        }
        return resolution
    }

    // MARK: Renumbering

    /// Gives local version `item.version` the next free number (at least `item.firstFree`).
    func renumber(_ item: SyncConflict.Version) throws -> Renumbering? {
        let ref = item.model
        guard FileManager.default.fileExists(atPath: layout.absolute(DatastoreLayout.metadataRel(ref, item.dataName, item.version))) else {
            return nil
        }
        var target = max(item.firstFree, (try existingVersions(ref, item.dataName).last ?? 0) + 1)
        while !(try AtomicFile.makeDirectoryExclusively(layout.absolute(DatastoreLayout.versionRel(ref, item.dataName, target)))) { target += 1 }
        let journal = RenumberJournal(model: ref, dataName: item.dataName, from: item.version, to: target)
        let journalPath = "\(journalDirectory)/renumber-\(UUID().uuidString.lowercased()).json"
        try AtomicFile.write(try JSONEncoder().encode(journal), to: journalPath)
        return try finish(journal, at: journalPath)
    }

    /// Finishes renumberings a crash interrupted (idempotent; called before every push).
    package func finishInterruptedRenumberings() throws {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: journalDirectory)) ?? []
        for name in names.sorted() where name.hasPrefix("renumber-") && name.hasSuffix(".json") {
            let path = "\(journalDirectory)/\(name)"
            guard let data = try AtomicFile.readIfPresent(path), let journal = try? JSONDecoder().decode(RenumberJournal.self, from: data) else {
                try AtomicFile.remove(path)
                continue
            }
            _ = try finish(journal, at: path)
        }
    }

    /// The steps of a renumbering, each idempotent: the new version complete (raw linked, then
    /// metadata with the new number), output records pointing at it, the old directory gone,
    /// `latest` and the catalog updated, the journal removed.
    private func finish(_ journal: RenumberJournal, at journalPath: String) throws -> Renumbering? {
        let ref = journal.model
        let name = journal.dataName
        let oldRaw = layout.absolute(DatastoreLayout.rawRel(ref, name, journal.from))
        let newRawRel = DatastoreLayout.rawRel(ref, name, journal.to)
        let newMetadataRel = DatastoreLayout.metadataRel(ref, name, journal.to)
        var metadata: DataMetadata
        if let existing = try? self.metadata(ref, name, version: journal.to) {
            metadata = existing
        } else if let old = try? self.metadata(ref, name, version: journal.from) {
            metadata = old
        } else {
            // Neither copy readable: nothing left to move. Drop the claimed number.
            try? FileManager.default.removeItem(atPath: layout.absolute(DatastoreLayout.versionRel(ref, name, journal.to)))
            try AtomicFile.remove(journalPath)
            return nil
        }
        if !FileManager.default.fileExists(atPath: layout.absolute(newRawRel)) {
            guard FileManager.default.fileExists(atPath: oldRaw) else {
                try? FileManager.default.removeItem(atPath: layout.absolute(DatastoreLayout.versionRel(ref, name, journal.to)))
                try AtomicFile.remove(journalPath)
                return nil
            }
            try sync.markDirty(newRawRel)
            if link(oldRaw, layout.absolute(newRawRel)) != 0 {
                // Streamed, whatever the size.
                try AtomicFile.copy(oldRaw, to: layout.absolute(newRawRel))
            }
        }
        Failpoint.hit("renumber.after-raw")
        if metadata.version != journal.to || !FileManager.default.fileExists(atPath: layout.absolute(newMetadataRel)) {
            metadata.version = journal.to
            try sync.markDirty(newMetadataRel)
            try AtomicFile.write(try MetadataCoding.encode(metadata), to: layout.absolute(newMetadataRel))
        }
        try repointOutputRecords(ref, dataName: name, sha256: metadata.sha256, from: journal.from, to: journal.to)
        // The old number is the remote's now: drop our copy without marking it (it is not a deletion).
        let oldDirectory = layout.absolute(DatastoreLayout.versionRel(ref, name, journal.from))
        for file in (try? FileManager.default.contentsOfDirectory(atPath: oldDirectory)) ?? [] {
            try AtomicFile.remove("\(oldDirectory)/\(file)")
        }
        rmdir(oldDirectory)
        if (try latestVersion(ref, name) ?? 0) < journal.to {
            try writeFile(Data("\(journal.to)\n".utf8), rel: DatastoreLayout.latestRel(ref, name))
        }
        try catalog.remove(modelId: ref.modelId, name: name, version: journal.from)
        try catalog.upsert(metadata)
        try AtomicFile.remove(journalPath)
        return Renumbering(model: ref, modelName: metadata.modelName, dataName: name, from: journal.from, to: journal.to)
    }

    /// Rewrites the output records of `model` that name version `from` of `dataName` (with
    /// these bytes) to name `to`.
    private func repointOutputRecords(_ ref: ModelRef, dataName: String, sha256: String, from: Int, to: Int) throws {
        let directory = layout.absolute(DatastoreLayout.outputsRel(ref))
        for file in ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted() where !file.hasPrefix(".") {
            let rel = "\(DatastoreLayout.outputsRel(ref))/\(file)"
            guard let data = try AtomicFile.readIfPresent(layout.absolute(rel)),
                var record = try? MetadataCoding.decode(OutputRecord.self, from: data, path: rel)
            else { continue }
            var changed = false
            for index in record.data.indices where record.data[index].name == dataName && record.data[index].version == from {
                guard record.data[index].sha256 == sha256 else { continue }
                record.data[index].version = to
                changed = true
            }
            if changed { try writeFile(try MetadataCoding.encode(record), rel: rel) }
        }
    }

    // MARK: Output records and half-written versions

    /// Moves an output record to a free name beside it (`…-2.yaml`, `…-3.yaml`…).
    func renameOutputRecord(_ rel: String) throws -> String? {
        let absolute = layout.absolute(rel)
        guard FileManager.default.fileExists(atPath: absolute), rel.hasSuffix(".yaml") else { return nil }
        let base = String(rel.dropLast(".yaml".count))
        var attempt = 2
        while FileManager.default.fileExists(atPath: layout.absolute("\(base)-\(attempt).yaml")) { attempt += 1 }
        let target = "\(base)-\(attempt).yaml"
        try sync.markDirty(target)
        guard rename(absolute, layout.absolute(target)) == 0 else { throw FileSystemError("rename", path: absolute, errno: errno) }
        return target
    }

    /// Removes a half-written version; a `raw` without metadata is kept aside, not deleted.
    func discardIncomplete(_ item: SyncConflict.Incomplete) throws {
        let ref = item.model
        let versionRel = DatastoreLayout.versionRel(ref, item.dataName, item.version)
        let directory = layout.absolute(versionRel)
        let raw = "\(directory)/raw"
        if FileManager.default.fileExists(atPath: raw) {
            let aside = "\(journalDirectory)/discarded/\(versionRel)"
            try AtomicFile.makeDirectories(aside)
            guard rename(raw, "\(aside)/raw") == 0 else { throw FileSystemError("move aside", path: raw, errno: errno) }
        }
        for file in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
            try AtomicFile.remove("\(directory)/\(file)")
        }
        rmdir(directory)
        try catalog.remove(modelId: ref.modelId, name: item.dataName, version: item.version)
        // `latest` may have named it: point it at the highest complete version left.
        if try latestVersion(ref, item.dataName) == item.version {
            let complete = try existingVersions(ref, item.dataName).filter {
                FileManager.default.fileExists(atPath: layout.absolute(DatastoreLayout.metadataRel(ref, item.dataName, $0)))
            }
            if let highest = complete.last {
                try writeFile(Data("\(highest)\n".utf8), rel: DatastoreLayout.latestRel(ref, item.dataName))
            } else {
                try AtomicFile.remove(layout.absolute(DatastoreLayout.latestRel(ref, item.dataName)))
            }
        }
    }
}
