import Foundation
import Logging
import S3Client
import S3Datastore
import SwampContracts
import SwampCore
import SwampSupport

// Benchmarks the S3 sync against the server at SWAMP_BENCH_S3_ENDPOINT.
// Requests and bytes are deterministic; times are medians of 5 runs, each on a fresh bucket.

enum Bench {
    static let environment = ProcessInfo.processInfo.environment
    static let endpoint = environment["SWAMP_BENCH_S3_ENDPOINT"] ?? ""
    static let runs = Int(environment["SWAMP_BENCH_RUNS"] ?? "") ?? 5
    static let credentials = S3Credentials(accessKeyId: "bench", secretAccessKey: "bench")
    static let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("swamp-bench-\(UUID().uuidString)").path
}
guard !Bench.endpoint.isEmpty else {
    FileHandle.standardError.write(Data("SWAMP_BENCH_S3_ENDPOINT is not set: run scripts/bench.sh\n".utf8))
    exit(2)
}
let runs = Bench.runs
let scratch = Bench.scratch
defer { try? FileManager.default.removeItem(atPath: scratch) }

struct Measurement {
    var activity: SyncActivity
    var seconds: Double
}

struct Bucket {
    let name = "bench-\(UUID().uuidString.lowercased().prefix(16))"

    func provider(_ label: String, hydration: HydrationStrategy = .full) throws -> S3Provider {
        let settings = try S3DatastoreConfig.parse(
            .object(["bucket": .string(name), "endpoint": .string(Bench.endpoint), "forcePathStyle": .bool(true)]))
        return S3Provider(
            settings: settings, credentials: Bench.credentials, cacheRoot: "\(Bench.scratch)/\(name)/\(label)", hydration: hydration,
            logger: Logger(label: "bench"))
    }

    func create() async throws { try await provider("admin").client.createBucket() }
}

/// Writes `filesPerModel` versions of ~5 KB spread over `models` models into a cache, marked
/// dirty: each a `raw` (returned) and its small `metadata.yaml` (a version without one is
/// half-written, and not pushed).
func populate(_ sync: S3SyncService, root: String, models: [ModelRef], filesPerModel: Int) throws -> [String] {
    var paths: [String] = []
    for model in models {
        for index in 0..<filesPerModel {
            let version = "data/\(model.modelType)/\(model.modelId)/item\(index)/1"
            try sync.markDirty(.path("\(version)/metadata.yaml"))
            try AtomicFile.write(Data("name: item\(index)\nversion: 1\n".utf8), to: "\(root)/\(version)/metadata.yaml")
            try sync.markDirty(.path("\(version)/raw"))
            try AtomicFile.write(Data((0..<5120).map { _ in UInt8.random(in: 0...255) }), to: "\(root)/\(version)/raw")
            paths.append("\(version)/raw")
        }
    }
    return paths
}

func measure(_ sync: S3SyncService, _ body: () async throws -> Void) async throws -> Measurement {
    let before = sync.activity() ?? SyncActivity()
    let start = ContinuousClock.now
    try await body()
    let elapsed = ContinuousClock.now - start
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    return Measurement(activity: (sync.activity() ?? SyncActivity()) - before, seconds: seconds)
}

func models(_ count: Int) -> [ModelRef] {
    (0..<count).map { _ in ModelRef(modelType: "command/shell", modelId: UUID().uuidString.lowercased()) }
}

/// One scenario: `prepare` builds a fresh state (untimed) and returns the timed operation.
func scenario(_ name: String, _ prepare: @escaping () async throws -> (S3SyncService, () async throws -> Void)) async throws -> (
    String, [Measurement]
) {
    var results: [Measurement] = []
    for _ in 0..<Bench.runs {
        let (sync, operation) = try await prepare()
        results.append(try await measure(sync, operation))
    }
    return (name, results)
}

func rewrite(_ sync: S3SyncService, root: String, _ paths: some Sequence<String>) throws {
    for rel in paths {
        try sync.markDirty(.path(rel))
        try AtomicFile.write(Data((0..<5120).map { _ in UInt8.random(in: 0...255) }), to: "\(root)/\(rel)")
    }
}

/// A bucket holding 1000 files over 50 models, pushed from cache "a".
func seeded() async throws -> (Bucket, S3Provider, S3SyncService, [ModelRef], [String]) {
    let bucket = Bucket()
    try await bucket.create()
    let a = try bucket.provider("a")
    let sync = a.makeSyncService()
    let refs = models(50)
    let paths = try populate(sync, root: a.cacheRoot, models: refs, filesPerModel: 20)
    _ = try await sync.pushChanged(nil)
    return (bucket, a, sync, refs, paths)
}

var rows: [(String, [Measurement])] = []
/// `SWAMP_BENCH_ONLY=sweep`: only the sweep of model runs (`SWAMP_BENCH_SWEEP`: the sizes, default 10,100,1000).
let onlySweep = Bench.environment["SWAMP_BENCH_ONLY"] == "sweep"
if !onlySweep {
    rows.append(
        try await scenario("push cold (1000 files)") {
            let bucket = Bucket()
            try await bucket.create()
            let a = try bucket.provider("a")
            let sync = a.makeSyncService()
            _ = try populate(sync, root: a.cacheRoot, models: models(50), filesPerModel: 20)
            return (sync, { _ = try await sync.pushChanged(nil) })
        })
    rows.append(
        try await scenario("push 1 modified") {
            let (_, a, sync, _, paths) = try await seeded()
            try rewrite(sync, root: a.cacheRoot, paths.prefix(1))
            return (sync, { _ = try await sync.pushChanged(nil) })
        })
    rows.append(
        try await scenario("no-op push") {
            let (_, _, sync, _, _) = try await seeded()
            return (sync, { _ = try await sync.pushChanged(nil) })
        })
    rows.append(
        try await scenario("push 250 dirty") {
            let (_, a, sync, _, paths) = try await seeded()
            try rewrite(sync, root: a.cacheRoot, paths.shuffled().prefix(250))
            return (sync, { _ = try await sync.pushChanged(nil) })
        })
    rows.append(
        try await scenario("pull cold (1000 files)") {
            let (bucket, _, _, _, _) = try await seeded()
            let b = try bucket.provider("b").makeSyncService()
            return (b, { _ = try await b.pullChanged(nil) })
        })
    rows.append(
        try await scenario("pull 1 changed") {
            let (bucket, a, sync, _, paths) = try await seeded()
            let b = try bucket.provider("b").makeSyncService()
            _ = try await b.pullChanged(nil)
            try rewrite(sync, root: a.cacheRoot, paths.prefix(1))
            _ = try await sync.pushChanged(nil)
            return (b, { _ = try await b.pullChanged(nil) })
        })
    rows.append(
        try await scenario("no-op pull") {
            let (bucket, _, _, _, _) = try await seeded()
            let b = try bucket.provider("b").makeSyncService()
            _ = try await b.pullChanged(nil)
            return (b, { _ = try await b.pullChanged(nil) })
        })
    rows.append(
        try await scenario("scoped pull 1 of 50 (cold)") {
            let (bucket, _, _, refs, _) = try await seeded()
            let b = try bucket.provider("b").makeSyncService()
            return (b, { _ = try await b.pullChanged(.scoped(to: [refs[7]])) })
        })
    rows.append(
        try await scenario("lazy pull cold (1000 files)") {
            let (bucket, _, _, _, _) = try await seeded()
            let b = try bucket.provider("b", hydration: .lazy).makeSyncService()
            return (b, { _ = try await b.pullChanged(nil) })
        })

}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.isEmpty ? 0 : sorted[sorted.count / 2]
}

func format(_ name: String, _ results: [Measurement]) -> String {
    let first = results.first?.activity ?? SyncActivity()
    let requests = first.requests.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
    let stable = results.allSatisfy { $0.activity.requests == first.requests }
    let timings = results.map(\.seconds)
    return "| \(name) | \(first.totalRequests)\(stable ? "" : "*") | \(requests.isEmpty ? "–" : requests) | \(first.bytesUp) | \(first.bytesDown) | "
        + String(format: "%.3f | %.3f–%.3f |", median(timings), timings.min() ?? 0, timings.max() ?? 0)
}

if !onlySweep {
    print("| operation | requests | by kind | bytes up | bytes down | median s | range s |")
    print("|---|---|---|---|---|---|---|")
    for (name, results) in rows { print(format(name, results)) }
}

// Sweep: one scoped model run (locks + scoped pull + 3 files written + scoped push) in repositories of N models.
print("")
print("| models in bucket | requests per scoped run | by kind | median s |")
print("|---|---|---|---|")
let sizes = (Bench.environment["SWAMP_BENCH_SWEEP"] ?? "10,100,1000").split(separator: ",").compactMap { Int($0) }
for size in sizes {
    let bucket = Bucket()
    try await bucket.create()
    let a = try bucket.provider("a")
    let sync = a.makeSyncService()
    let refs = models(size)
    _ = try populate(sync, root: a.cacheRoot, models: refs, filesPerModel: 1)
    _ = try await sync.pushChanged(nil)
    _ = try await sync.pullChanged(nil)
    let catalog = try Catalog(path: "\(scratch)/\(bucket.name)-catalog.db", layout: DatastoreLayout(root: a.cacheRoot))
    let gateway = SyncGateway(service: sync, invalidateCatalog: { try catalog.invalidate() })
    let repository = DataRepository(layout: DatastoreLayout(root: a.cacheRoot), catalog: catalog, sync: gateway)
    let coordinator = ModelLockCoordinator(provider: a, sync: gateway, lockOptions: LockOptions())
    var timings: [Double] = []
    var last: (RequestAccounting.Snapshot, SyncActivity)?
    for run in 0..<runs {
        let model = ModelDefinition(id: refs[run % refs.count].modelId, name: "m", type: "command/shell", arguments: [:], createdAt: Date())
        let locksBefore = a.client.accounting.snapshot
        let m = try await measure(sync) {
            let session = try await coordinator.acquireModelLocks([model.ref])
            try repository.writeVersion(of: model, name: "result", content: Data("run \(run)".utf8))
            try await session.flush()
        }
        timings.append(m.seconds)
        last = (a.client.accounting.snapshot - locksBefore, m.activity)
    }
    if let (locks, activity) = last {
        var kinds = activity.requests
        for (kind, count) in locks.requests { kinds[kind, default: 0] += count }
        let total = kinds.values.reduce(0, +)
        let byKind = kinds.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        print(
            "| \(size) | \(total) (sync \(activity.totalRequests) + locks \(locks.totalRequests)) | \(byKind) | "
                + String(format: "%.3f |", median(timings)))
    }
}
