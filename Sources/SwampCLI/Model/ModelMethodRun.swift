import ArgumentParser
import Foundation
import SwampContracts
import SwampCore

struct ModelMethodRun: SwampCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a method of a model and store what it produces as new data versions.",
        discussion: """
            Takes the model's lock (other models can run at the same time), pulls that model's data when \
            the datastore is remote, runs the method, writes the data and an output record, and pushes once. \
            A method that fails still records its output; the command then exits non-zero.

            Example: swamp model method run hello execute --json
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The model's name.")
    var name: String

    @Argument(help: "The method, e.g. execute.")
    var method: String

    struct Document: Encodable {
        let model: ModelJSON
        let method: String
        let status: String
        let exitStatus: Int32?
        let timedOut: Bool
        let stderr: String?
        let data: [OutputRecord.WrittenData]
        let output: String
        let sync: SyncReportJSON
    }

    func execute(_ output: Output) async throws {
        let workspace = try openWorkspace()
        let report = try await ModelRunner(workspace: workspace).run(modelName: name, method: method)
        let outcome = report.outcome
        try output.document(
            Document(
                model: ModelJSON(report.model), method: method, status: outcome.succeeded ? "succeeded" : "failed",
                exitStatus: outcome.exitStatus, timedOut: outcome.timedOut, stderr: outcome.stderr,
                data: report.written.map(OutputRecord.WrittenData.init), output: report.outputPath,
                sync: SyncReportJSON(
                    synced: report.synced, activity: report.activity, fallback: SyncActivity(pushed: report.pushed), resolution: report.resolution)))
        let written = report.written.map { "\($0.name) v\($0.version) (\(ByteCount.format($0.size)))" }.joined(separator: ", ")
        let status = outcome.timedOut ? "timed out" : "exit \(outcome.exitStatus.map(String.init) ?? "?")"
        output.line(
            "\(outcome.succeeded ? "Ran" : "Failed:") \(report.model.name) \(method): \(status); wrote \(written.isEmpty ? "nothing" : written)")
        for line in SyncReportJSON.lines(report.resolution) { output.line(line) }
        if !outcome.succeeded {
            if !output.json, let stderr = outcome.stderr, !stderr.isEmpty { output.note(stderr.hasSuffix("\n") ? String(stderr.dropLast()) : stderr) }
            output.note("error: method \(method) of \(report.model.name) failed (\(status)); its output was recorded in \(report.outputPath)")
            throw ExitCode(1)
        }
    }
}
