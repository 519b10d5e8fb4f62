import ArgumentParser
import SwampContracts
import SwampCore

struct DatastoreRepair: SwampCommand {
    static let configuration = CommandConfiguration(
        commandName: "repair", abstract: "Fix what crashed writers or outside tools left in a remote datastore.",
        discussion: """
            A structural command: takes the global lock (waiting for running models), then fixes what \
            'swamp datastore verify' reports as repairable, safely: entries whose objects are gone are \
            tombstoned, commits a dead writer announced but never wrote are re-committed, objects left under \
            tombstones are deleted, and orphan uploads older than --min-orphan-age are deleted — only after a \
            commit that stops any writer still holding an old view of their partition. Local data is not touched.

            Run with --dry-run first: it reports what would be done and changes nothing.
            """)

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Report what would be fixed; change nothing.")
    var dryRun = false

    @Option(help: "Delete orphan objects only when older than this many seconds (default 3600: an upload in progress is young).")
    var minOrphanAge: Double = 3600

    func validate() throws {
        if minOrphanAge < 0 { throw ValidationError("--min-orphan-age must be 0 or more seconds") }
    }

    struct Document: Encodable {
        let dryRun: Bool
        let findings: [ConsistencyFinding]
    }

    func execute(_ output: Output) async throws {
        let workspace = try openWorkspace()
        guard let checker = workspace.sync.consistency else {
            let reason = "the \(workspace.spec.type) datastore has no remote index to repair"
            try output.document(Document(dryRun: dryRun, findings: []))
            output.line("Nothing to repair: \(reason).")
            return
        }
        let options = RepairOptions(dryRun: dryRun, minimumOrphanAge: .milliseconds(Int64(minOrphanAge * 1000)))
        let report = try await workspace.coordinator.withGlobalLock { try await checker.repair(options) }
        try output.document(Document(dryRun: dryRun, findings: report.findings))
        for finding in report.findings {
            let status: String
            if dryRun {
                status = finding.repairable ? "would fix" : "left alone"
            } else {
                status = finding.fixed == true ? "fixed" : "left alone"
            }
            output.line("\(status): \(finding.kind) \(finding.key) — \(finding.detail)")
        }
        let fixed = report.findings.filter { $0.fixed == true }.count
        if report.findings.isEmpty {
            output.line("Nothing to repair: the index and the objects agree.")
        } else if dryRun {
            output.line(
                "Dry run: \(report.findings.filter(\.repairable).count) of \(report.findings.count) finding(s) would be fixed; nothing changed.")
        } else {
            output.line("Fixed \(fixed) of \(report.findings.count) finding(s).")
        }
    }
}
