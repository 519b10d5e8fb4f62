import ArgumentParser
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
        let report = try await StructuralCommand(workspace: workspace).run { try workspace.data.collectGarbage(keep: keep) }
        try output.document(report)
        output.line("Deleted \(report.deleted.count) version(s), freed \(ByteCount.format(report.bytesFreed))")
    }
}
