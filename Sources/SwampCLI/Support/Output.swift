import ArgumentParser
import Foundation
import S3Client
import S3Datastore
import SwampContracts
import SwampCore

/// Writes a command's result: text for people, one JSON document with `--json`.
struct Output: Sendable {
    let json: Bool

    /// Prints human text (ignored in JSON mode).
    func line(_ text: String) {
        guard !json else { return }
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }

    /// Prints the JSON document (ignored in text mode).
    func document(_ value: some Encodable) throws {
        guard json else { return }
        FileHandle.standardOutput.write(try Self.encode(value) + Data("\n".utf8))
    }

    /// Prints a note to stderr (progress and warnings; never in the JSON document).
    func note(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    static func encode(_ value: some Encodable) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(LockDates.format(date))
        }
        return try encoder.encode(value)
    }

    /// Runs a command body, turning every failure into a message on stderr (and
    /// an `error` document with `--json`) and a non-zero exit status.
    static func run(json: Bool, _ body: (Output) async throws -> Void) async throws {
        let output = Output(json: json)
        do {
            try await body(output)
        } catch let exit as ExitCode {
            throw exit
        } catch let error as ValidationError {
            throw error
        } catch  where Task.isCancelled {
            // Interrupted: say what was and was not done; `Interrupts` says the rest.
            if let interrupted = error as? OperationInterrupted { output.note(interrupted.description) }
            throw error
        } catch {
            let report = ErrorReport(error)
            var text = "error: \(report.message)"
            if let hint = report.hint { text += "\nhint: \(hint)" }
            output.note(text)
            if json { try? output.document(["error": report]) }
            throw ExitCode(report.exitCode)
        }
    }
}

/// An error as shown to users: code, message, hint.
struct ErrorReport: Encodable {
    let code: String
    let message: String
    let hint: String?
    let exitCode: Int32

    private enum CodingKeys: String, CodingKey { case code, message, hint }

    init(_ error: any Error) {
        guard let error = error as? any ReportableError else {
            (code, message, hint, exitCode) = ("error", String(describing: error), nil, 1)
            return
        }
        (code, message, hint, exitCode) = (error.errorCode, error.errorMessage, error.hint, error.exitStatus)
    }
}
