import ArgumentParser
import SwampContracts
import SwampCore

struct DatastoreVerify: SwampCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify", abstract: "Check the datastore: reachable and writable, and its remote index consistent with its objects.",
        discussion: """
            For a remote datastore, also reads the whole index and lists every object, and reports what does not \
            match: index entries whose objects are missing (dangling), objects no entry references (orphans: \
            uploads whose commit never happened), objects left under tombstones, and commits announced in the \
            meta but never written (a writer that died mid-commit). Changes nothing; 'swamp datastore repair' \
            fixes what it reports as repairable. Exits 1 when anything needs attention (a young orphan, which \
            may be an upload in progress, does not count).

            Example: swamp datastore verify --json
            """)

    @OptionGroup var global: GlobalOptions

    @Option(help: "Orphan objects younger than this many seconds are reported as possibly in progress (default 3600).")
    var minOrphanAge: Double = 3600

    func validate() throws {
        if minOrphanAge < 0 { throw ValidationError("--min-orphan-age must be 0 or more seconds") }
    }

    struct Document: Encodable {
        let checks: [DatastoreHealth]
        let consistency: ConsistencyReport?
    }

    func execute(_ output: Output) async throws {
        let workspace = try openWorkspace()
        var checks = [try await workspace.provider.createVerifier().verify()]
        if let health = try await workspace.sync.verify() { checks.append(health) }
        var consistency: ConsistencyReport?
        if let checker = workspace.sync.consistency, checks.allSatisfy(\.healthy) {
            consistency = try await checker.checkConsistency(RepairOptions(minimumOrphanAge: .milliseconds(Int64(minOrphanAge * 1000))))
        }
        try output.document(Document(checks: checks, consistency: consistency))
        for check in checks { output.line("\(check.healthy ? "ok" : "FAILED"): \(check.message)") }
        var attention = checks.contains { !$0.healthy }
        if let consistency {
            output.line("index: \(consistency.checkedEntries) entries, \(consistency.checkedObjects) objects")
            for finding in consistency.findings {
                output.line("\(finding.kind): \(finding.key) — \(finding.detail)\(finding.repairable ? " [repairable]" : "")")
            }
            if consistency.findings.isEmpty { output.line("ok: the index and the objects agree") }
            attention = attention || consistency.findings.contains { $0.repairable || $0.kind != ConsistencyFinding.orphanObject }
        }
        if attention {
            if consistency?.findings.contains(where: \.repairable) == true {
                output.note("hint: 'swamp datastore repair --dry-run' shows what a repair would do")
            }
            throw ExitCode(1)
        }
    }
}
