import SwampContracts
import SwampCore

/// What a sync did, as `--json` output shows it (`model method run`'s `sync`, `datastore sync`).
struct SyncReportJSON: Encodable {
    let synced: Bool
    /// Why nothing was synced, when nothing was.
    let reason: String?
    let pulled: Int
    let pushed: Int
    let deleted: Int
    /// Index entries a pull skipped because their object is missing or corrupt (named on stderr).
    let skipped: Int
    /// Sync requests by kind (`GET`, `PUT`...), retries included.
    let requests: [String: Int]
    /// Lock requests by kind: with `requests`, everything the remote saw.
    let lockRequests: [String: Int]
    let bytesUp: Int64
    let bytesDown: Int64
    /// Parts of multipart uploads sent and ranges of large objects received.
    let partsUp: Int
    let partsDown: Int
    /// Local versions given new numbers because a teammate had committed theirs (nothing was overwritten).
    let renumbered: [RenumberingJSON]
    /// Output records renamed because their names were taken remotely.
    let renamedRecords: [String: String]
    /// Half-written versions (a crash between their files) removed before the push.
    let discarded: [String]

    struct RenumberingJSON: Encodable {
        let model: String
        let modelId: String
        let data: String
        let from: Int
        let to: Int
    }

    /// From the service's accounting; `fallback` counts when the service does not count.
    init(
        synced: Bool, reason: String? = nil, activity: SyncActivity?, fallback: SyncActivity = SyncActivity(),
        resolution: ConflictResolution = ConflictResolution()
    ) {
        let counts = activity ?? fallback
        self.synced = synced
        self.reason = reason
        pulled = counts.pulled
        pushed = counts.pushed
        deleted = counts.deleted
        skipped = counts.skipped
        requests = counts.requests
        lockRequests = counts.lockRequests
        bytesUp = counts.bytesUp
        bytesDown = counts.bytesDown
        partsUp = counts.partsUp
        partsDown = counts.partsDown
        renumbered = resolution.renumbered.map {
            RenumberingJSON(model: $0.modelName, modelId: $0.model.modelId, data: $0.dataName, from: $0.from, to: $0.to)
        }
        renamedRecords = resolution.renamedRecords
        discarded = resolution.discarded.map { "\($0.model)/\($0.dataName)/\($0.version)" }
    }

    /// One line per change a conflict resolution made, for people.
    static func lines(_ resolution: ConflictResolution) -> [String] {
        resolution.renumbered.map {
            "renumbered \($0.modelName) \($0.dataName) v\($0.from) → v\($0.to) (a teammate had committed another v\($0.from); both are kept)"
        } + resolution.renamedRecords.sorted { $0.key < $1.key }.map { "renamed output record \($0.key) → \($0.value)" }
            + resolution.discarded.map {
                "discarded \($0.dataName) v\($0.version) of \($0.model): half-written (only \($0.present.joined(separator: ", "))) by an interrupted run"
            }
    }
}
