import Foundation
import S3Client
import SwampContracts
import SwampSupport

extension PushPlan {
    /// Removes the uploads of `units` (their paths are taken remotely) and returns the conflicts
    /// that makes: versions to renumber, records to rename. Their paths stay dirty; so do this
    /// partition's new output records once a version is held back (a record names version
    /// numbers, and is committed only with them).
    mutating func dropUnits(_ units: Set<String>, shape: IndexShape) -> SyncConflict {
        let dropped = uploads.filter { units.contains($0.unit) }
        guard !dropped.isEmpty else { return SyncConflict() }
        let conflict = Self.conflict(for: Set(dropped.map(\.unit)), highest: shape)
        var held = Set(dropped.map(\.path))
        if !conflict.versions.isEmpty { held.formUnion(uploads.filter(\.isOutputRecord).map(\.path)) }
        uploads.removeAll { held.contains($0.path) }
        keepDirty.formUnion(held)
        return conflict
    }

    /// The conflicts of `units` (version directories or output record paths) against an index's shape.
    static func conflict(for units: Set<String>, highest shape: IndexShape) -> SyncConflict {
        var conflict = SyncConflict()
        for unit in units.sorted() {
            switch DatastorePath("\(unit)/raw").kind {
            case .versionFile(let model, let dataName, let version, _):
                let highest = shape.highestVersion[IndexShape.itemDirectory(ofUnit: unit)] ?? 0
                conflict.versions.append(.init(model: model, dataName: dataName, version: version, firstFree: max(highest, version) + 1))
            default:
                conflict.outputRecords.append(unit)
            }
        }
        return conflict
    }
}

extension PushPlan.Upload {
    /// Whether this is a method-run record (committed only with the versions it names).
    var isOutputRecord: Bool {
        if case .outputRecord = DatastorePath(path).kind { return true }
        return false
    }
}
