import Foundation

/// The built-in `command/shell` type: `execute` runs the `run` argument with
/// `/bin/sh -c` and stores its stdout, byte for byte, as data `result`.
///
/// Arguments: `run` (required), `timeoutSeconds` (optional, default 300).
public struct ShellModelType: ModelTypeHandler {
    public let type = "command/shell"
    public let methods = ["execute"]

    public init() {}

    public func validate(arguments: [String: String]) throws {
        let known: Set = ["run", "timeoutSeconds"]
        if let unknown = arguments.keys.sorted().first(where: { !known.contains($0) }) {
            throw SwampError(.invalidArgument, "command/shell has no argument '\(unknown)'", hint: "arguments: run (required), timeoutSeconds")
        }
        guard let run = arguments["run"], !run.isEmpty else {
            throw SwampError(.invalidArgument, "command/shell needs a 'run' argument", hint: "e.g. --set run='echo hello'")
        }
        if let timeout = arguments["timeoutSeconds"], Double(timeout).map({ $0 > 0 }) != true {
            throw SwampError(.invalidArgument, "timeoutSeconds must be a positive number of seconds, not '\(timeout)'")
        }
    }

    public func run(method: String, model: ModelDefinition, context: MethodContext) async throws -> MethodOutcome {
        guard method == "execute" else {
            throw SwampError(.unknownMethod, "command/shell has no method '\(method)'", hint: "methods: execute")
        }
        try validate(arguments: model.arguments)
        let timeout = model.arguments["timeoutSeconds"].flatMap(Double.init) ?? 300
        let result = try await ShellCommand.run(
            model.arguments["run"] ?? "", workingDirectory: context.repoDir,
            environment: context.environment.merging(["SWAMP_MODEL_NAME": model.name, "SWAMP_MODEL_ID": model.id]) { $1 },
            timeout: .milliseconds(Int64(timeout * 1000)), stdout: "\(context.scratchDirectory)/stdout")
        return MethodOutcome(
            data: [ProducedData(name: "result", file: result.stdoutPath, contentType: "application/octet-stream")],
            succeeded: result.exitStatus == 0 && !result.timedOut,
            exitStatus: result.exitStatus,
            stderr: String(decoding: result.stderr, as: UTF8.self),
            timedOut: result.timedOut)
    }
}
