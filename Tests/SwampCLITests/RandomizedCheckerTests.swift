import Foundation
import S3Client
import SwampCore
import SwampSupport
import SwampTestSupport
import Testing

/// A randomized multi-user checker: three users (separate caches, real `swamp` processes, one
/// real S3 server, each behind its own fault proxy) run random operations — model runs, garbage
/// collection, syncs — some of them killed at a random request, failed by the server, or killed
/// at a failpoint. Then every user syncs, a fresh clone pulls, and the invariants are checked:
///
/// - every version a successful command reported is readable by the fresh clone with its bytes
///   (unless a garbage collection removed it);
/// - a version number names one content: no two successful commands reported different bytes
///   for it, and every cache agrees with the fresh clone;
/// - `latest` is the highest version;
/// - the index matches the objects (no dangling entry; after `repair`, `verify` is clean);
/// - no command failed except those a fault was injected into.
///
/// CI runs 20 seeds of 8 rounds (up to 3 operations each). A longer run:
/// `SWAMP_CHECKER_SEEDS=1-200 SWAMP_CHECKER_ROUNDS=40 bash scripts/test.sh --filter RandomizedChecker`.
/// Each seed prints itself; the operations are reproducible from it (their interleaving is not).
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["SWAMP_TEST_S3_ENDPOINT"] != nil, "needs the S3 test server (scripts/test.sh)"))
struct RandomizedCheckerTests {
    static let seeds: [UInt64] = {
        let text = ProcessInfo.processInfo.environment["SWAMP_CHECKER_SEEDS"] ?? "1-20"
        let bounds = text.split(separator: "-").compactMap { UInt64($0) }
        if bounds.count == 2, bounds[0] <= bounds[1] { return Array(bounds[0]...bounds[1]) }
        return text.split(separator: ",").compactMap { UInt64($0) }
    }()
    static let rounds = Int(ProcessInfo.processInfo.environment["SWAMP_CHECKER_ROUNDS"] ?? "") ?? 8
    static let models = ["x", "y"]
    static let script = "head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \\n'"

    @Test(arguments: seeds) func threeUsersNeverLoseAVersion(seed: UInt64) async throws {
        var random = SplitMix64(seed: seed)
        // A server of its own: the checker's load must not slow the other suites' shared server.
        let server = try await ScriptServer.start(script: "s3-server.py")
        defer { server.stop() }
        var team = S3Team()
        team.endpoint = server.endpoint
        defer { team.remove() }
        _ = try await team.start(models: Self.models, scripts: Dictionary(uniqueKeysWithValues: Self.models.map { ($0, Self.script) }))
        var users: [User] = []
        for name in ["a", "b", "c"] {
            let proxy = try await FaultProxy.start(upstream: server.endpoint)
            if name == "c" { _ = try team.clone("c") }
            users.append(User(name: name, cli: team.cli(name, through: proxy), proxy: proxy))
        }
        defer { for user in users { user.proxy.stop() } }
        var ledger = Ledger()

        for round in 0..<Self.rounds {
            let plan = users.map { _ in Operation.random(&random) }
            var results = [Outcome?](repeating: nil, count: plan.count)
            // A collection runs alone, so the checker knows exactly what it may remove: everything
            // it deletes is in the snapshot taken just before it (after a pull).
            for (index, operation) in plan.enumerated() where operation.isCollection {
                results[index] = try await operation.perform(by: users[index])
            }
            try await withThrowingTaskGroup(of: (Int, Outcome).self) { group in
                for (index, operation) in plan.enumerated() where !operation.isCollection {
                    let user = users[index]
                    group.addTask { (index, try await operation.perform(by: user)) }
                }
                for try await (index, outcome) in group { results[index] = outcome }
            }
            let outcomes = results.compactMap { $0 }
            for (index, outcome) in outcomes.enumerated() {
                ledger.history.append("round \(round) \(users[index].name) \(plan[index]): \(outcome.summary)")
                ledger.operations += 1
                if outcome.faulted { ledger.faults += 1 }
                if let failure = outcome.unexpectedFailure {
                    Issue.record("seed \(seed), round \(round): \(failure)")
                }
                for (model, version, sha) in outcome.reported {
                    if let conflict = ledger.report(model: model, version: version, sha256: sha) {
                        Issue.record("seed \(seed): \(conflict)")
                    }
                }
                ledger.collected.formUnion(outcome.collected)
                ledger.renumbered += outcome.renumbered
            }
        }

        // Settle: every user syncs (no faults), twice, so that renumbered versions reach everyone.
        for _ in 0..<2 {
            for user in users {
                let sync = try await user.cli.run(["datastore", "sync", "--json"])
                if sync.status != 0 { Issue.record("seed \(seed): final sync of \(user.name) failed: \(sync.stderr)") }
                ledger.renumbered += (try? sync.json()["renumbered"] as? [Any])??.count ?? 0
            }
        }
        let fresh = try team.clone("fresh")
        let pull = try await fresh.run(["datastore", "sync", "--pull", "--json"])
        #expect(pull.status == 0, "seed \(seed): the fresh clone's pull failed: \(pull.stderr)")
        #expect((try? pull.json()["skipped"] as? Int) == 0, "seed \(seed): the fresh clone skipped unreadable entries: \(pull.stderr)")

        // Every reported version is there, with its bytes, at its number (unless collected).
        let truth = try await Self.versions(fresh)
        var lost = false
        for (key, sha) in ledger.reported where !ledger.collected.contains(sha) {
            let found = truth[key.model]?[key.version]
            if found != sha { lost = true }
            #expect(
                found == sha,
                "seed \(seed): \(key.model) v\(key.version) reported as \(sha.prefix(12)) is \(found?.prefix(12) ?? "missing"); the clone has \(truth[key.model]?.sorted { $0.key < $1.key }.map { "v\($0.key)=\($0.value.prefix(8))" } ?? [])"
            )
        }
        if lost { print("seed \(seed) history:\n" + ledger.history.joined(separator: "\n")) }
        // Every cache agrees with the fresh clone, and `latest` is the highest version.
        for cli in users.map(\.cli) + [fresh] {
            let mine = try await Self.versions(cli)
            #expect(mine == truth, "seed \(seed): \(cli.repo) disagrees with a fresh clone")
            for model in Self.models {
                guard let highest = truth[model]?.keys.max(), let expected = truth[model]?[highest] else { continue }
                let latest = try await cli.run(["data", "get", model, "result"])
                #expect(ContentHash.sha256(latest.stdout) == expected, "seed \(seed): latest of \(model) in \(cli.repo) is not v\(highest)")
            }
        }
        // The index matches the objects: nothing dangles; repair leaves verify clean.
        let verify = try await fresh.run(["datastore", "verify", "--json", "--min-orphan-age", "0"])
        let findings = ((try? verify.json()["consistency"] as? [String: Any])??["findings"] as? [[String: Any]]) ?? []
        let kinds = Set(findings.compactMap { $0["kind"] as? String })
        #expect(kinds.isSubset(of: ["orphan_object", "deleted_object_left", "pending_commit"]), "seed \(seed): \(findings)")
        #expect(try await fresh.run(["datastore", "repair", "--min-orphan-age", "0"]).status == 0)
        let clean = try await fresh.run(["datastore", "verify", "--min-orphan-age", "0"])
        #expect(clean.status == 0, "seed \(seed): after repair: \(clean.text)")
        print(
            "randomized checker seed \(seed): \(ledger.operations) operations, \(ledger.faults) with an injected fault, "
                + "\(ledger.reported.count) versions reported, \(ledger.collected.count) collected, \(ledger.renumbered) renumbered, "
                + "final findings \(kinds.sorted())")
    }

    /// Every version a cache lists, per model: version → sha256 (from `data versions --json`).
    static func versions(_ cli: CLI) async throws -> [String: [Int: String]] {
        var result: [String: [Int: String]] = [:]
        for model in models {
            let listed = try await cli.run(["data", "versions", model, "result", "--json"])
            let items = (try? listed.json()["versions"] as? [[String: Any]]) ?? []
            for item in items {
                if let version = item["version"] as? Int, let sha = item["sha256"] as? String { result[model, default: [:]][version] = sha }
            }
        }
        return result
    }
}

/// One simulated user: a repository, a cache, and a fault proxy of its own.
struct User: Sendable {
    let name: String
    let cli: CLI
    let proxy: FaultProxy
}

/// What the checker knows must hold.
struct Ledger {
    struct Key: Hashable {
        let model: String
        let version: Int
    }
    /// (model, version) → sha256, as successful commands reported them.
    var reported: [Key: String] = [:]
    /// Contents a garbage collection removed (they may be gone).
    var collected: Set<String> = []
    var operations = 0
    var faults = 0
    var renumbered = 0
    /// What each operation did, for the report of a failing seed.
    var history: [String] = []

    /// Records a report; returns a description when it contradicts an earlier one.
    mutating func report(model: String, version: Int, sha256: String) -> String? {
        let key = Key(model: model, version: version)
        if let earlier = reported[key], earlier != sha256 {
            return "\(model) v\(version) was reported with two contents: \(earlier.prefix(12)) and \(sha256.prefix(12))"
        }
        reported[key] = sha256
        return nil
    }
}

/// What one operation came to.
struct Outcome: Sendable {
    var faulted = false
    var unexpectedFailure: String?
    var reported: [(String, Int, String)] = []
    var collected: Set<String> = []
    var renumbered = 0
    var status: Int32 = 0
    var note = ""

    var summary: String {
        "exit \(status)" + (reported.isEmpty ? "" : " reported \(reported.map { "\($0.0) v\($0.1)=\($0.2.prefix(8))" })")
            + (collected.isEmpty ? "" : " collected \(collected.map { $0.prefix(8) }.sorted())") + (note.isEmpty ? "" : " \(note)")
    }
}

/// One random operation of one user.
enum Operation: Sendable {
    case run(String)
    case runKilled(String, atRequest: Int)
    case runRefused(String)
    case runFailpoint(String, String)
    case gc
    case gcKilled(atRequest: Int)
    case sync
    case pull
    case push

    static func random(_ random: inout SplitMix64) -> Operation {
        let model = RandomizedCheckerTests.models[random.next(below: 2)]
        switch random.next(below: 20) {
        case 0..<7: return .run(model)
        case 7..<9: return .runKilled(model, atRequest: 1 + random.next(below: 12))
        case 9: return .runRefused(model)
        case 10: return .runFailpoint(model, random.next(below: 2) == 0 ? "data.after-metadata" : "push.after-commit")
        case 11..<13: return .gc
        case 13: return .gcKilled(atRequest: 1 + random.next(below: 10))
        case 14..<16: return .sync
        case 16..<18: return .pull
        default: return .push
        }
    }

    func perform(by user: User) async throws -> Outcome {
        let cli = user.cli
        var outcome = Outcome()
        switch self {
        case .run(let model):
            let result = try await cli.run(["model", "method", "run", model, "execute", "--json"])
            outcome.record(result, model: model, expectSuccess: true)
            outcome.status = result.status
        case .runKilled(let model, let nth):
            outcome.faulted = true
            let result = try await Self.killed(cli, ["model", "method", "run", model, "execute", "--json"], nth: nth, proxy: user.proxy)
            if result.status == 0 { outcome.record(result, model: model, expectSuccess: true) }
            outcome.status = result.status
        case .runRefused(let model):
            outcome.faulted = true
            try await user.proxy.set([.init("error", method: "PUT", path: "_swamp/meta.json", count: -1, status: 403, code: "AccessDenied")])
            let result = try await cli.run(["model", "method", "run", model, "execute", "--json"])
            try await user.proxy.set([])
            if result.status == 0 { outcome.record(result, model: model, expectSuccess: true) }
            outcome.status = result.status
        case .runFailpoint(let model, let point):
            outcome.faulted = true
            let result = try await cli.run(["model", "method", "run", model, "execute", "--json"], environment: ["SWAMP_FAILPOINT": point])
            outcome.status = result.status
            if result.status != 9 {
                outcome.unexpectedFailure = "the failpoint \(point) did not kill \(user.name): \(result.status) \(result.stderr)"
            }
        case .gc, .gcKilled:
            let pull = try await cli.run(["datastore", "sync", "--pull"])
            if pull.status != 0 { outcome.unexpectedFailure = "pull before gc by \(user.name) failed: \(pull.stderr)" }
            let before = try await RandomizedCheckerTests.versions(cli)
            let result: CLI.Result
            if case .gcKilled(let nth) = self {
                outcome.faulted = true
                result = try await Self.killed(cli, ["data", "gc", "--keep", "2"], nth: nth, proxy: user.proxy)
            } else {
                result = try await cli.run(["data", "gc", "--keep", "2"])
                if result.status != 0 { outcome.unexpectedFailure = "gc by \(user.name) failed: \(result.stderr)" }
            }
            outcome.status = result.status
            let after = try await RandomizedCheckerTests.versions(cli)
            for (model, versions) in before {
                for (version, sha) in versions where after[model]?[version] != sha { outcome.collected.insert(sha) }
            }
        case .sync, .pull, .push:
            let flag = self.flag
            let result = try await cli.run(["datastore", "sync", "--json"] + flag)
            if result.status != 0 { outcome.unexpectedFailure = "datastore sync \(flag.joined()) by \(user.name) failed: \(result.stderr)" }
            outcome.renumbered = ((try? result.json()["renumbered"] as? [Any]) ?? nil)?.count ?? 0
            outcome.status = result.status
            if outcome.renumbered > 0 { outcome.note = "renumbered \(((try? result.json()["renumbered"]) ?? nil).map { "\($0)" } ?? "")" }
        }
        return outcome
    }

    /// Whether this is a garbage collection (run alone in its round).
    var isCollection: Bool {
        switch self {
        case .gc, .gcKilled: return true
        default: return false
        }
    }

    private var flag: [String] {
        switch self {
        case .pull: return ["--pull"]
        case .push: return ["--push"]
        default: return []
        }
    }

    /// Runs `arguments`, SIGKILLed (by the proxy) at its `nth` request, before that request reaches the server.
    static func killed(_ cli: CLI, _ arguments: [String], nth: Int, proxy: FaultProxy) async throws -> CLI.Result {
        try await proxy.set([.init("hold")])
        let running = try cli.spawn(arguments)
        try await proxy.set([.init("signal", nth: nth, signal: "KILL", pid: running.pid)])
        let result = try await running.wait()
        try await proxy.set([])
        return result
    }
}

extension Outcome {
    /// Records what a model run reported (its versions, under their final numbers).
    mutating func record(_ result: CLI.Result, model: String, expectSuccess: Bool) {
        guard result.status == 0 else {
            if expectSuccess { unexpectedFailure = "run of \(model) failed: \(result.stderr)" }
            return
        }
        guard let document = try? result.json(), let data = document["data"] as? [[String: Any]] else {
            unexpectedFailure = "run of \(model) printed no JSON: \(result.text)"
            return
        }
        for item in data {
            if let version = item["version"] as? Int, let sha = item["sha256"] as? String { reported.append((model, version, sha)) }
        }
        let moved = ((document["sync"] as? [String: Any])?["renumbered"] as? [Any]) ?? []
        renumbered += moved.count
        if !moved.isEmpty { note = "renumbered \(moved)" }
    }
}

/// A small seeded generator (SplitMix64): the same seed gives the same operations.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func next(below bound: Int) -> Int { Int(next() % UInt64(bound)) }
}
