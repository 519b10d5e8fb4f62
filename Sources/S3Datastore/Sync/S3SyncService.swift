import Foundation
import Logging
import S3Client
import SwampContracts
import SwampSupport
import Synchronization

/// Keeps a local cache in sync with an S3 bucket, scoped to the models an
/// operation is about (see docs/s3-layout.md for the remote layout and protocol).
///
/// - A scoped pull of model M is one conditional GET of M's index partition.
/// - An unscoped pull is one conditional GET of `_swamp/meta.json` when nothing changed.
/// - A push with nothing dirty makes no request; one modified file costs the upload,
///   the partition write and the meta write, each conditional.
public final class S3SyncService: DatastoreSyncService, SyncProgressReporting {
    let client: S3Client
    let remote: RemoteLayout
    let cache: DatastoreLayout
    let sidecar: SyncSidecar
    let settings: S3DatastoreConfig
    let hydration: HydrationStrategy
    let logger: Logger
    private let counters = Mutex(SyncActivity())
    /// What this service uploaded during its life (one command): a push retried after the caller
    /// resolved a conflict does not send those bytes again.
    let uploadedThisRun = Mutex<[String: SyncSidecar.FileRecord]>([:])
    private let progressHandler = Mutex<(@Sendable (SyncProgress) -> Void)?>(nil)
    /// The part hashes of large files the push in progress hashed, by absolute path (see
    /// ``PlannedParts``); emptied when the push ends.
    let plannedParts = Mutex<[String: PlannedParts]>([:])
    /// Bytes of local files read to hash them before a push sends them (planning, and a
    /// multipart upload's own pass when the plan did not hash the file).
    let bytesHashedForPush = Mutex<Int64>(0)
    /// Files read early on the meta's hint during pulls (``prefetch(_:transfers:)``): asked,
    /// matching their hint, and written because the index agreed.
    let hintedFiles = Mutex<(read: Int, matching: Int, used: Int)>((0, 0, 0))

    /// The accounting of the client the locks use (their requests are reported too).
    let lockAccounting: RequestAccounting?

    init(
        client: S3Client, settings: S3DatastoreConfig, cacheRoot: String, hydration: HydrationStrategy, lockAccounting: RequestAccounting? = nil,
        dirtyLimit: Int = 10_000, logger: Logger = Logger(label: "swamp.s3sync", factory: { _ in SwiftLogNoOpLogHandler() })
    ) {
        self.client = client
        self.lockAccounting = lockAccounting
        self.settings = settings
        remote = RemoteLayout(prefix: settings.prefix)
        cache = DatastoreLayout(root: cacheRoot)
        sidecar = SyncSidecar(cacheRoot: cacheRoot, remoteIdentity: "\(settings.bucket)/\(remote.prefix)", dirtyLimit: dirtyLimit)
        self.hydration = hydration
        self.logger = logger
    }

    public func capabilities() throws -> SyncCapabilities {
        SyncCapabilities(scopedSync: true, lazyHydration: hydration == .lazy, fencedCommits: true, contentHashes: true)
    }

    public func activity() -> SyncActivity? {
        var activity = counters.withLock { $0 }
        let requests = client.accounting.snapshot
        activity.requests = requests.requests
        activity.bytesUp = requests.bytesUp
        activity.bytesDown = requests.bytesDown
        activity.lockRequests = lockAccounting?.snapshot.requests ?? [:]
        return activity
    }

    public func setProgressHandler(_ handler: (@Sendable (SyncProgress) -> Void)?) {
        progressHandler.withLock { $0 = handler }
    }

    /// The transfers of one operation (`phase`: pull, push, delete; `nil`: report no progress):
    /// one window of `width` requests in flight shared by all of them, progress counted across
    /// every partition.
    func transfers(_ phase: String?, width: Int) -> Transfers {
        let window = TransferWindow(width: width)
        return Transfers(
            window: window, parts: TransferWindow(width: min(width, Transfers.partsInFlight), within: window),
            progress: phase.flatMap { phase in progressHandler.withLock { $0 }.map { ProgressTally(phase: phase, report: $0) } })
    }

    /// Runs `body` over `items` in the operation's window, reporting progress as each completes;
    /// results in the order of `items`. Each item holds a slot of the window while it runs,
    /// except objects of the multipart threshold or more (`sizes`, in the order of `items`):
    /// their parts take slots of their own. An object streamed whole (``streamingBytes`` or more)
    /// also holds a slot of the parts window: the bodies in flight are as few as the parts of a
    /// large object, whatever the window's width (each costs memory beyond its chunks: ~0.5 MiB
    /// measured; 32 of them made a push of 100 files of 10 MiB twice as large as 8 did, and no
    /// faster). Large and small objects go in two loops side by side, so a large object waiting
    /// for a slot never holds back a small one.
    func transfer<Item: Sendable, Result: Sendable>(
        _ items: [Item], in transfers: Transfers, sizes: [Int64] = [], _ body: @escaping @Sendable (Item) async throws -> Result
    ) async throws -> [Result] {
        guard !items.isEmpty else { return [] }
        transfers.progress?.expect(items.count, bytes: sizes.reduce(0, +))
        let threshold = Int64(settings.multipartThreshold)
        let size: @Sendable (Int) -> Int64 = { index in index < sizes.count ? sizes[index] : 0 }
        let run: @Sendable (Int) async throws -> Result = { index in
            let item = items[index]
            let result: Result
            if size(index) >= threshold {
                // Its parts report their bytes as they go.
                result = try await body(item)
                transfers.progress?.completed()
            } else if size(index) >= Self.streamingBytes {
                result = try await transfers.parts.withSlot { try await body(item) }
                transfers.progress?.completed(bytes: size(index))
            } else {
                result = try await transfers.window.withSlot { try await body(item) }
                transfers.progress?.completed(bytes: size(index))
            }
            return result
        }
        let isLarge = items.indices.map { size($0) >= Self.streamingBytes }
        let large = items.indices.filter { isLarge[$0] }
        let small = items.indices.filter { !isLarge[$0] }
        async let largeResults = forEachConcurrently(large, limit: transfers.parts.width, run)
        let smallResults = try await forEachConcurrently(small, limit: transfers.window.width, run)
        var (nextLarge, nextSmall) = (try await largeResults.makeIterator(), smallResults.makeIterator())
        var results: [Result] = []
        results.reserveCapacity(items.count)
        for index in items.indices {
            if let result = isLarge[index] ? nextLarge.next() : nextSmall.next() { results.append(result) }
        }
        return results
    }

    /// A part of a multipart upload was sent, or a range of a large object received.
    func countPart(up: Bool) {
        counters.withLock {
            if up { $0.partsUp += 1 } else { $0.partsDown += 1 }
        }
    }

    func count(pulled: Int = 0, pushed: Int = 0, deleted: Int = 0, skipped: Int = 0) {
        counters.withLock {
            $0.pulled += pulled
            $0.pushed += pushed
            $0.deleted += deleted
            $0.skipped += skipped
        }
    }

    // MARK: markDirty

    public func markDirty(_ options: DatastoreSyncOptions?) throws {
        guard let relPath = options?.relPath else {
            try sidecar.markBulk()
            return
        }
        _ = try PathRules.validateRelativePath(relPath)
        // After a write: the file as it is now hashes to `sha256` (a malformed one is no record).
        let written = options?.sha256.flatMap { sha in
            PartitionIndex.isSHA256(sha) ? LocalFile.stat(cache.absolute(relPath)).map { SyncSidecar.FileRecord($0, sha256: sha) } : nil
        }
        try sidecar.appendDirty(relPath, written: written)
    }

    // MARK: Helpers

    static func milliseconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
    }

    /// Runs `body`, failing with a timeout that lists the remedies once `deadline` passes.
    func withDeadline<T: Sendable>(_ deadline: Date?, operation: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        guard let deadline else { return try await body() }
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: .milliseconds(max(0, Int64(deadline.timeIntervalSinceNow * 1000))))
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let value = first else {
                throw S3SyncError(
                    .timeout,
                    "the \(operation) did not finish in time; nothing partial was recorded. Retry, raise --timeout, or check the network and 'swamp datastore status'"
                )
            }
            return value
        }
    }
}

/// The shared window and progress of one operation's transfers.
struct Transfers: Sendable {
    /// Every request of the operation.
    let window: TransferWindow
    /// The parts and ranges of large objects, and the objects streamed whole (inside ``window``).
    let parts: TransferWindow
    let progress: ProgressTally?

    /// Parts of large objects in flight at once, all objects together. Each costs memory beyond
    /// its chunks (about 3 MiB measured with a server slower than the client): eight parts of
    /// 8 MiB in flight keep a 1 GiB push under 100 MiB resident, and a link busy.
    static let partsInFlight = 8
}

/// Progress of one operation across partitions: the total grows as each partition is planned.
final class ProgressTally: Sendable {
    private let phase: String
    private let report: @Sendable (SyncProgress) -> Void
    private struct Counts {
        var done = 0
        var total = 0
        var bytesDone: Int64 = 0
        var bytesTotal: Int64 = 0
    }
    private let counts = Mutex(Counts())

    init(phase: String, report: @escaping @Sendable (SyncProgress) -> Void) {
        self.phase = phase
        self.report = report
    }

    func expect(_ items: Int, bytes: Int64) {
        update {
            $0.total += items
            $0.bytesTotal += bytes
        }
    }

    /// A file is done (with `bytes` not reported part by part).
    func completed(bytes: Int64 = 0) {
        update {
            $0.done += 1
            $0.bytesDone += bytes
        }
    }

    /// A part of a large file is done.
    func advanced(bytes: Int64) { update { $0.bytesDone += bytes } }

    /// Reports under the lock, so that the counts a display sees never go backwards.
    private func update(_ change: (inout Counts) -> Void) {
        counts.withLock {
            change(&$0)
            report(SyncProgress(phase: phase, done: $0.done, total: $0.total, bytesDone: $0.bytesDone, bytesTotal: $0.bytesTotal))
        }
    }
}
