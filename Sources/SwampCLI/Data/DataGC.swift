import ArgumentParser
import SwampContracts
import SwampCore

struct DataGC: SwampCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc", abstract: "Delete old data versions, keeping the newest of each item.",
        discussion: """
            A structural command: it takes the datastore's global lock (waiting for running models to finish), \
            pulls, deletes, and pushes the deletions so teammates' caches drop them too.
            """)

    @OptionGroup var global: GlobalOptions

    @Option(help: "How many versions of each item to keep (at least 1).")
    var keep = 5

    func validate() throws {
        if keep < 1 { throw ValidationError("--keep must be at least 1") }
    }

    func execute(_ output: Output) async throws {
        let workspace = try openWorkspace()
        let (report, counts) = try await StructuralCommand(workspace: workspace).runCounting { try workspace.data.collectGarbage(keep: keep) }
        try output.document(Document(deleted: report.deleted, bytesFreed: report.bytesFreed, sync: counts.activity))
        output.line("Deleted \(report.deleted.count) version(s), freed \(ByteCount.format(report.bytesFreed))")
    }

    /// What `--json` prints: the collection, and what the sync around it cost.
    struct Document: Encodable {
        let deleted: [GarbageReport.Deleted]
        let bytesFreed: Int64
        /// Files and requests (lock requests included) the pull and push around the collection cost.
        let sync: SyncActivity?
    }
}
