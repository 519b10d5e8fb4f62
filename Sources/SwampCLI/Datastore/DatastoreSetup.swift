import ArgumentParser
import Foundation
import SwampCore

struct DatastoreSetup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "setup", abstract: "Point the repository at another datastore.", subcommands: [SetupFilesystem.self, SetupS3.self])
}

struct SetupFilesystem: SwampCommand {
    static let configuration = CommandConfiguration(
        commandName: "filesystem", abstract: "Use a directory (possibly shared) as the datastore.",
        discussion: """
            Copies the current datastore's data and outputs into the new directory, then writes .swamp.yaml. \
            The new directory must not already hold data. A failure leaves .swamp.yaml as it was.
            """)

    @OptionGroup var global: GlobalOptions

    @Option(help: "The datastore directory (relative paths are relative to the repository).")
    var path: String

    func execute(_ output: Output) async throws {
        let workspace = try openWorkspace()
        let result = try await DatastoreMigration(workspace: workspace).moveToFilesystem(path: path)
        try output.document(["path": result.root, "copiedFiles": String(result.copiedFiles)])
        output.line("Datastore is now the directory \(result.root) (\(result.copiedFiles) file(s) copied).")
    }
}
