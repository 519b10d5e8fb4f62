import ArgumentParser
import Foundation
import SwampContracts
import SwampCore

struct DatastoreSync: SwampCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync", abstract: "Pull remote changes into the cache and push local ones (both by default).",
        discussion: """
            With a push, a structural command: takes the global lock, waits for running models, and reports \
            what moved. --pull alone takes no lock (a pull reads committed states only): when nothing \
            changed it costs one request. A version a teammate committed under a number you also used \
            locally is not overwritten: yours is renumbered (reported). 'requests' in --json counts sync \
            requests and 'lockRequests' lock requests: together, everything the remote saw. On a \
            filesystem datastore there is no remote, so there is nothing to sync.
            """)

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Only pull.") var pull = false
    @Flag(help: "Only push.") var push = false

    @Option(help: "Give up after this many seconds per direction (default 300).")
    var timeout: Double?

    func validate() throws {
        if pull && push { throw ValidationError("--pull and --push together are the default; pass neither to do both") }
        if let timeout, timeout <= 0 { throw ValidationError("--timeout must be a positive number of seconds") }
    }

    func execute(_ output: Output) async throws {
        let workspace = try openWorkspace()
        workspace.sync.reportProgress(to: ProgressPrinter.handler())
        guard workspace.sync.isRemote else {
            let reason = "the \(workspace.spec.type) datastore at \(workspace.layout.root) is local: there is nothing to sync"
            try output.document(SyncReportJSON(synced: false, reason: reason, activity: nil))
            output.line("Nothing to sync: \(reason).")
            return
        }
        let doPull = !push
        let doPush = !pull
        let deadline = Date().addingTimeInterval(timeout ?? 300)
        let (_, counts) = try await StructuralCommand(workspace: workspace).runCounting(pull: doPull, push: doPush, deadline: deadline) {}
        let activity = counts.activity ?? SyncActivity(pulled: counts.pulled, pushed: counts.pushed)
        try output.document(SyncReportJSON(synced: true, activity: activity, resolution: counts.resolution))
        output.line(
            "Pulled \(activity.pulled) file(s), pushed \(activity.pushed), deleted \(activity.deleted); "
                + "\(activity.allRequests) request(s), \(ByteCount.format(activity.bytesUp)) up, \(ByteCount.format(activity.bytesDown)) down.")
        for line in SyncReportJSON.lines(counts.resolution) { output.line(line) }
        if activity.skipped > 0 {
            output.note(
                "warning: \(activity.skipped) index entr\(activity.skipped == 1 ? "y" : "ies") could not be read (named above) and \(activity.skipped == 1 ? "was" : "were") skipped; run 'swamp datastore verify'"
            )
        }
    }
}
