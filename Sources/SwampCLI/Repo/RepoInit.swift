import ArgumentParser
import Foundation
import SwampCore

struct RepoInit: SwampCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Make a directory a swamp repository.",
        discussion: """
            Writes .swamp.yaml (the repository's id; the datastore defaults to the filesystem at .swamp/), \
            creates models/ for model definitions and .swamp/ for local runtime state (git-ignored). \
            Fails, changing nothing, if the directory already is a repository.
            """)

    @OptionGroup var global: GlobalOptions

    func execute(_ output: Output) async throws {
        let directory = global.repoDir ?? FileManager.default.currentDirectoryPath
        let config = try Workspace.initialize(repoDir: directory)
        let path = (directory as NSString).standardizingPath
        try output.document(["repoDir": path, "repoId": config.repoId, "datastore": "filesystem"])
        output.line("Initialized swamp repository \(config.repoId) in \(path)")
        output.line("Next: swamp model create command/shell hello --set run='echo hello'")
    }
}
