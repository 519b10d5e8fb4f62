import ArgumentParser
import Foundation
import SwampContracts
import SwampCore

struct DatastoreLock: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lock", abstract: "Inspect and release datastore locks.", subcommands: [LockStatus.self, LockRelease.self])
}

struct LockJSON: Encodable {
    let key: String
    let model: String?
    let holder: String
    let hostname: String
    let pid: Int32
    let acquiredAt: Date
    let ttlMs: Int
    let stale: Bool
    let nonce: String

    init(key: LockKey, info: LockInfo, now: Date) {
        self.key = key.description
        model = key.model?.sortKey
        holder = info.holder
        hostname = info.hostname
        pid = info.pid
        acquiredAt = info.acquiredAt
        ttlMs = info.ttlMs
        stale = info.isStale(at: now)
        nonce = info.nonce
    }
}

struct LockStatus: SwampCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "List the global and per-model locks currently held.")

    @OptionGroup var global: GlobalOptions

    func execute(_ output: Output) async throws {
        let workspace = try openWorkspace()
        let now = Date()
        let locks = try await workspace.provider.heldLocks().map { LockJSON(key: $0.key, info: $0.info, now: now) }
        try output.document(["locks": locks])
        if locks.isEmpty { output.line("No locks held.") }
        for lock in locks {
            let age = Int(now.timeIntervalSince(lock.acquiredAt))
            output.line("\(lock.key): \(lock.holder) (pid \(lock.pid) on \(lock.hostname)), refreshed \(age)s ago\(lock.stale ? ", STALE" : "")")
        }
    }
}

struct LockRelease: SwampCommand {
    static let configuration = CommandConfiguration(
        commandName: "release", abstract: "Release a lock held by another process (e.g. one that crashed).",
        discussion: """
            Releasing a lock that a live process holds lets two writers in at once; that process will notice \
            at its next heartbeat and stop. Requires --force. Without --model, releases the global lock.

            Example: swamp datastore lock release --force --model command/shell/0b0e…
            """)

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Confirm that the lock should be released.")
    var force = false

    @Option(help: ArgumentHelp("Release this model's lock, given as type/id (as 'lock status' prints it).", valueName: "type/id"))
    var model: String?

    func validate() throws {
        guard force else {
            throw ValidationError("refusing to release a lock without --force: a live holder would lose it mid-write")
        }
        if let model, model.split(separator: "/").count < 2 {
            throw ValidationError("--model takes type/id, e.g. command/shell/<uuid>")
        }
    }

    func execute(_ output: Output) async throws {
        let workspace = try openWorkspace()
        let key: LockKey
        if let model {
            guard let slash = model.lastIndex(of: "/") else { throw ValidationError("--model takes type/id") }
            key = .model(ModelRef(modelType: try ModelType.normalize(String(model[..<slash])), modelId: String(model[model.index(after: slash)...])))
        } else {
            key = .global
        }
        let lock = try workspace.provider.createLock(key, options: workspace.lockOptions)
        guard let info = try await lock.inspect() else {
            try output.document(["released": false])
            output.line("The \(key) lock is not held.")
            return
        }
        let released = try await lock.forceRelease(expectedNonce: info.nonce)
        try output.document(["released": released])
        output.line(
            released ? "Released the \(key) lock held by \(info.holderDescription)." : "The \(key) lock changed hands meanwhile; nothing released.")
    }
}
