import Foundation
import SwampContracts
import SwampSupport
import Synchronization

/// Runs one method of one model: per-model lock, scoped pull, run, write, one push.
public struct ModelRunner: Sendable {
    public let workspace: Workspace

    public init(workspace: Workspace) { self.workspace = workspace }

    /// What a run did.
    public struct Report: Sendable {
        public let model: ModelDefinition
        public let method: String
        public let outcome: MethodOutcome
        public let written: [DataMetadata]
        public let outputPath: String
        public let synced: Bool
        public let pushed: Int
        /// Versions renumbered because a teammate had committed their numbers (nothing was overwritten).
        public let resolution: ConflictResolution
        /// What the sync did during the run (files and requests), when the service counts.
        public let activity: SyncActivity?
    }

    public func run(modelName: String, method: String) async throws -> Report {
        let model = try workspace.models.get(modelName)
        guard let handler = workspace.modelTypes.handler(for: model.type) else {
            throw SwampError(.unknownModelType, "model '\(model.name)' has type '\(model.type)', which this swamp does not know")
        }
        guard handler.methods.contains(method) else {
            throw SwampError(
                .unknownMethod, "model '\(model.name)' (\(model.type)) has no method '\(method)'",
                hint: "methods: \(handler.methods.joined(separator: ", "))")
        }
        try workspace.refuseNestedWait(command: "swamp model method run \(model.name)", needsGlobal: false, models: [model.ref])
        let ran: (value: (written: [DataMetadata], outputPath: String, outcome: MethodOutcome, synced: Bool), pushed: PushOutcome)
        let activity: SyncActivity?
        let started = Mutex(false)
        do {
            (ran, activity) = try await workspace.sync.measuring {
                try await workspace.coordinator.withModelLocks([model.ref]) { session in
                    started.withLock { $0 = true }
                    let (outcome, written, outputPath) = try await execute(handler, model: model, method: method, session: session)
                    do {
                        try await session.flush()
                    } catch  where Task.isCancelled {
                        let versions = written.map { "\($0.name) v\($0.version)" }.joined(separator: ", ")
                        throw OperationInterrupted(
                            done: ["\(model.name) \(method) ran and wrote \(versions.isEmpty ? "its output record" : versions) locally"],
                            notDone: ["the push: it stays marked unpushed and goes with the next run or 'swamp datastore sync'"])
                    }
                    return (written, outputPath, outcome, session.synced)
                }
            }
        } catch  where Task.isCancelled && !started.withLock({ $0 }) {
            // Interrupted before the locks were held and the pull done: nothing ran.
            throw OperationInterrupted(
                done: [], notDone: ["\(model.name) \(method): did not start (interrupted while taking its lock or pulling); nothing was written"])
        }
        let (written, outputPath, outcome, synced) = ran.value
        let pushed = ran.pushed
        // What the run wrote, under the numbers it finally has.
        let final = written.map { metadata in
            var metadata = metadata
            // Follow the renumberings in order (a version may move twice).
            for moved in pushed.resolution.renumbered
            where moved.model == model.ref && moved.dataName == metadata.name && moved.from == metadata.version {
                metadata.version = moved.to
            }
            return metadata
        }
        return Report(
            model: model, method: method, outcome: outcome, written: final, outputPath: pushed.resolution.renamedRecords[outputPath] ?? outputPath,
            synced: synced,
            pushed: pushed.pushed, resolution: pushed.resolution, activity: activity)
    }

    /// Runs the method holding `session`'s locks and writes what it produced: its versions and
    /// its output record. A write that fails pushes what was written before it (the error wins).
    private func execute(
        _ handler: any ModelTypeHandler, model: ModelDefinition, method: String, session: ModelLockSession
    ) async throws -> (MethodOutcome, [DataMetadata], String) {
        let startedAt = Date()
        let outcome: MethodOutcome
        // Beside the datastore (its output moves in with a rename), swept if this process is killed.
        let scratchDirectory = try ScratchDirectory(in: workspace.data.layout.root)
        defer { scratchDirectory.remove() }
        let scratch = scratchDirectory.path
        do {
            let nested = NestedLocks(datastore: workspace.datastoreIdentity, models: session.models + (workspace.parentLocks?.models ?? []))
            let context = MethodContext(
                repoDir: workspace.repoDir, environment: [NestedLocks.variable: nested.encoded], scratchDirectory: scratch)
            outcome = try await handler.run(method: method, model: model, context: context)
        } catch  where Task.isCancelled {
            throw OperationInterrupted(
                done: [], notDone: ["\(model.name) \(method): stopped (its command and the processes it started were ended); nothing was written"])
        }
        var written: [DataMetadata] = []
        do {
            for produced in outcome.data {
                switch produced.body {
                case .bytes(let content):
                    written.append(
                        try workspace.data.writeVersion(
                            of: model, name: produced.name, content: content, contentType: produced.contentType, producedBy: method))
                case .file(let path):
                    written.append(
                        try workspace.data.writeVersion(
                            of: model, name: produced.name, file: path, contentType: produced.contentType, producedBy: method))
                }
            }
            let record = OutputRecord(
                modelName: model.name, modelId: model.id, modelType: model.type, method: method, startedAt: startedAt,
                finishedAt: Date(), status: outcome.succeeded ? "succeeded" : "failed", exitStatus: outcome.exitStatus,
                stderr: outcome.stderr, timedOut: outcome.timedOut, data: written.map(OutputRecord.WrittenData.init))
            return (outcome, written, try workspace.data.writeOutput(record, for: model.ref))
        } catch {
            // Push whatever was written before the failure; the error that stopped us wins.
            _ = try? await session.flush()
            throw error
        }
    }
}
