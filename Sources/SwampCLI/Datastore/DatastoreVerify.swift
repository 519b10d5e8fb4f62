import ArgumentParser
import SwampContracts
import SwampCore

struct DatastoreVerify: SwampCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify", abstract: "Check that the datastore (and its remote, if any) is reachable and writable.")

    @OptionGroup var global: GlobalOptions

    func execute(_ output: Output) async throws {
        let workspace = try openWorkspace()
        var checks = [try await workspace.provider.createVerifier().verify()]
        if let sync = workspace.syncService { checks.append(try await sync.verify()) }
        try output.document(["checks": checks])
        for check in checks { output.line("\(check.healthy ? "ok" : "FAILED"): \(check.message)") }
        if checks.contains(where: { !$0.healthy }) { throw ExitCode(1) }
    }
}
