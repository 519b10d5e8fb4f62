import ArgumentParser
import Foundation
import SwampContracts
import SwampCore
import SwampSupport

struct DataGet: SwampCommand {
    static let configuration = CommandConfiguration(
        commandName: "get", abstract: "Write a data version's content, byte for byte, to stdout.",
        discussion: """
            Without --version, the latest version. The content is copied to stdout in chunks, so \
            versions of any size cost little memory. With --json, prints the version's metadata and its \
            content as base64 instead of raw bytes (held in memory: use it for small versions).
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The model's name.")
    var model: String

    @Argument(help: "The data name, e.g. result.")
    var data: String

    @Option(help: "The version to read (default: latest).")
    var version: Int?

    func validate() throws {
        if let version, version < 1 { throw ValidationError("--version must be 1 or more") }
    }

    struct Document: Encodable {
        let item: DataItemJSON
        let hydrated: Bool
        let contentBase64: String
        /// Requests and bytes the read cost (a lazy cache fetching content), when counted.
        let sync: SyncActivity?
    }

    func execute(_ output: Output) async throws {
        let workspace = try openWorkspace()
        let definition = try workspace.models.get(model)
        if global.json {
            let (read, activity) = try await workspace.sync.measuring {
                try await workspace.data.content(of: definition, name: data, version: version)
            }
            try output.document(
                Document(item: DataItemJSON(read.metadata), hydrated: read.hydrated, contentBase64: read.data.base64EncodedString(), sync: activity))
        } else {
            let file = try await workspace.data.contentFile(of: definition, name: data, version: version)
            try AtomicFile.stream(file.path, to: STDOUT_FILENO)
        }
    }
}
