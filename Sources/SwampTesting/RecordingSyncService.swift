import Foundation
import SwampContracts
import Synchronization

/// One call a recording sync service received, with its options exactly as passed
/// (`nil` means "called with no options at all", distinct from empty options).
public enum SyncCall: Sendable, Equatable {
    case capabilities
    case pull(DatastoreSyncOptions?)
    case push(DatastoreSyncOptions?)
    case markDirty(DatastoreSyncOptions?)
    case hydrate(String)

    /// Whether this is a pull or a push (not a capabilities query or a dirty mark).
    public var isTransfer: Bool {
        switch self {
        case .pull, .push: return true
        default: return false
        }
    }
}

/// Records calls; shared by the recording test doubles.
public final class SyncCallRecorder: Sendable {
    private let storage = Mutex<[SyncCall]>([])

    public init() {}

    public func record(_ call: SyncCall) { storage.withLock { $0.append(call) } }

    /// Every call so far, in order.
    public var calls: [SyncCall] { storage.withLock { $0 } }

    /// Pulls and pushes only, in order.
    public var transfers: [SyncCall] { calls.filter(\.isTransfer) }

    /// How many times `capabilities()` was called.
    public var capabilityQueries: Int { calls.filter { $0 == .capabilities }.count }
}

/// A sync service test double that declares capabilities and records every call.
///
/// Its behaviour is configurable: what ``capabilities()`` returns or throws, and
/// hooks that run on pull and push (to write files "from the remote", or to fail).
public final class RecordingSyncService: DatastoreSyncService {
    /// What ``capabilities()`` does.
    public enum CapabilityBehaviour: Sendable {
        case returns(SyncCapabilities)
        case throwsError
    }

    public struct Failure: Error, Equatable, CustomStringConvertible {
        public let description: String
        public init(_ description: String) { self.description = description }
    }

    public let recorder: SyncCallRecorder
    private let behaviour: CapabilityBehaviour
    private let onPull: @Sendable (DatastoreSyncOptions?) async throws -> Int
    private let onPush: @Sendable (DatastoreSyncOptions?) async throws -> Int
    private let onMarkDirty: @Sendable (DatastoreSyncOptions?) throws -> Void

    public init(
        capabilities: CapabilityBehaviour, recorder: SyncCallRecorder = SyncCallRecorder(),
        onPull: @escaping @Sendable (DatastoreSyncOptions?) async throws -> Int = { _ in 0 },
        onPush: @escaping @Sendable (DatastoreSyncOptions?) async throws -> Int = { _ in 0 },
        onMarkDirty: @escaping @Sendable (DatastoreSyncOptions?) throws -> Void = { _ in }
    ) {
        behaviour = capabilities
        self.recorder = recorder
        self.onPull = onPull
        self.onPush = onPush
        self.onMarkDirty = onMarkDirty
    }

    public func capabilities() throws -> SyncCapabilities {
        recorder.record(.capabilities)
        switch behaviour {
        case .returns(let capabilities): return capabilities
        case .throwsError: throw Failure("capabilities() failed on purpose")
        }
    }

    public func pullChanged(_ options: DatastoreSyncOptions?) async throws -> Int {
        recorder.record(.pull(options))
        return try await onPull(options)
    }

    public func pushChanged(_ options: DatastoreSyncOptions?) async throws -> Int {
        recorder.record(.push(options))
        return try await onPush(options)
    }

    public func markDirty(_ options: DatastoreSyncOptions?) throws {
        recorder.record(.markDirty(options))
        try onMarkDirty(options)
    }

    public func hydrateFile(_ relPath: String) async throws -> Bool {
        recorder.record(.hydrate(relPath))
        return false
    }
}

/// A sync service test double written before capabilities existed: it does not
/// implement `capabilities()`, so it gets the protocol's default.
public final class LegacyRecordingSyncService: DatastoreSyncService {
    public let recorder: SyncCallRecorder

    public init(recorder: SyncCallRecorder = SyncCallRecorder()) { self.recorder = recorder }

    public func pullChanged(_ options: DatastoreSyncOptions?) async throws -> Int {
        recorder.record(.pull(options))
        return 0
    }

    public func pushChanged(_ options: DatastoreSyncOptions?) async throws -> Int {
        recorder.record(.push(options))
        return 0
    }

    public func markDirty(_ options: DatastoreSyncOptions?) throws {
        recorder.record(.markDirty(options))
    }
}
