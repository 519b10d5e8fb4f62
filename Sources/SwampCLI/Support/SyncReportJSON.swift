import SwampContracts

/// What a sync did, as `--json` output shows it (`model method run`'s `sync`, `datastore sync`).
struct SyncReportJSON: Encodable {
    let synced: Bool
    /// Why nothing was synced, when nothing was.
    let reason: String?
    let pulled: Int
    let pushed: Int
    let deleted: Int
    /// Requests by kind (`GET`, `PUT`...), retries included.
    let requests: [String: Int]
    let bytesUp: Int64
    let bytesDown: Int64

    /// From the service's accounting; `fallback` counts when the service does not count.
    init(synced: Bool, reason: String? = nil, activity: SyncActivity?, fallback: SyncActivity = SyncActivity()) {
        let counts = activity ?? fallback
        self.synced = synced
        self.reason = reason
        pulled = counts.pulled
        pushed = counts.pushed
        deleted = counts.deleted
        requests = counts.requests
        bytesUp = counts.bytesUp
        bytesDown = counts.bytesDown
    }
}
