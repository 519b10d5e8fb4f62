import ArgumentParser
import Foundation
import SwampContracts
import SwampCore

struct DatastoreSync: SwampCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync", abstract: "Pull remote changes into the cache and push local ones (both by default).",
        discussion: """
            A structural command: takes the global lock, waits for running models, and reports what moved. \
            On a filesystem datastore there is no remote, so there is nothing to sync.
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

    struct Document: Encodable {
        let synced: Bool
        let reason: String?
        let pulled: Int
        let pushed: Int
        let deleted: Int
        let requests: [String: Int]
        let bytesUp: Int64
        let bytesDown: Int64
    }

    func execute(_ output: Output) async throws {
        let workspace = try openWorkspace()
        ProgressPrinter.attach(to: workspace.syncService)
        guard workspace.syncService != nil else {
            let reason = "the \(workspace.spec.type) datastore at \(workspace.layout.root) is local: there is nothing to sync"
            try output.document(Document(synced: false, reason: reason, pulled: 0, pushed: 0, deleted: 0, requests: [:], bytesUp: 0, bytesDown: 0))
            output.line("Nothing to sync: \(reason).")
            return
        }
        let doPull = !push
        let doPush = !pull
        let deadline = Date().addingTimeInterval(timeout ?? 300)
        let (_, counts) = try await StructuralCommand(workspace: workspace).runCounting(pull: doPull, push: doPush, deadline: deadline) {}
        let activity = counts.activity ?? SyncActivity(pulled: counts.pulled, pushed: counts.pushed)
        try output.document(
            Document(
                synced: true, reason: nil, pulled: activity.pulled, pushed: activity.pushed, deleted: activity.deleted,
                requests: activity.requests, bytesUp: activity.bytesUp, bytesDown: activity.bytesDown))
        output.line(
            "Pulled \(activity.pulled) file(s), pushed \(activity.pushed), deleted \(activity.deleted); "
                + "\(activity.totalRequests) request(s), \(ByteCount.format(activity.bytesUp)) up, \(ByteCount.format(activity.bytesDown)) down.")
    }
}
