import Foundation
import Logging
import SwampContracts
import SwampSupport
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A ``DistributedLock`` backed by one file, for filesystem datastores.
///
/// - The lock file appears complete or not at all: it is written to a temporary
///   file and `link(2)`ed into place, which fails if the lock exists (`O_EXCL`
///   semantics without a window where a reader sees partial JSON).
/// - A heartbeat rewrites it (temporary file + rename) every `ttl / 3`.
/// - A lock whose `acquiredAt + ttl` has passed is stale and is taken over
///   through ``forceRelease(expectedNonce:)``, which only removes the nonce it read.
public final class FileLock: DistributedLock {
    public let key: LockKey
    /// The lock file's path.
    public let path: String
    private let options: LockOptions
    private let now: @Sendable () -> Date
    private let logger: Logger
    private let state = Mutex(State())

    private struct State {
        var held: LockInfo?
        var lost: LockError?
        var heartbeat: Task<Void, Never>?
    }

    public init(
        key: LockKey, path: String, options: LockOptions, logger: Logger = Logger(label: "swamp.lock", factory: { _ in SwiftLogNoOpLogHandler() }),
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.key = key
        self.path = path
        self.options = options
        self.logger = logger
        self.now = now
    }

    deinit {
        state.withLock { $0.heartbeat?.cancel() }
    }

    public func acquire() async throws {
        guard state.withLock({ $0.held == nil }) else { return }
        var wait = LockWait(options: options)
        var lastHolder: LockInfo?
        while true {
            let info = LockInfo.forThisProcess(options: options, now: now())
            if try AtomicFile.createExclusively(try Self.encode(info), at: path) {
                startHeartbeat(info)
                return
            }
            if let current = try readLockFile() {
                lastHolder = current
                if current.isStale(at: now()) {
                    logger.info("taking over stale lock", metadata: ["key": "\(key)", "holder": "\(current.holderDescription)"])
                    _ = try await forceRelease(expectedNonce: current.nonce)
                    continue
                }
            } else {
                continue  // released between our attempt and the read: try again at once
            }
            if wait.expired { throw LockMessages.timeout(key, holder: lastHolder, waited: options.waitTimeout) }
            try await wait.pause()
        }
    }

    public func release() async throws {
        let (held, heartbeat) = state.withLock { state -> (LockInfo?, Task<Void, Never>?) in
            defer {
                state.held = nil
                state.heartbeat = nil
            }
            return (state.held, state.heartbeat)
        }
        heartbeat?.cancel()
        await heartbeat?.value
        guard let held else { return }
        defer { HeldLocks.unregister(self) }
        _ = try await forceRelease(expectedNonce: held.nonce)
    }

    public func inspect() async throws -> LockInfo? {
        try readLockFile()
    }

    /// The lock file's content (synchronously, for acquire and the heartbeat).
    func readLockFile() throws -> LockInfo? {
        guard let data = try AtomicFile.readIfPresent(path) else { return nil }
        if let info = try? JSONDecoder.lock.decode(LockInfo.self, from: data) { return info }
        // Unreadable (e.g. edited by hand): describe it so that it can be released by nonce and expires by mtime.
        let modified = (try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date) ?? Date(timeIntervalSince1970: 0)
        return LockInfo.unreadable(data, holder: "unreadable lock file", modified: modified, options: options)
    }

    public func forceRelease(expectedNonce: String) async throws -> Bool {
        try withMutex { try removeIfCarrying(expectedNonce) }
    }

    public var detectedLoss: LockError? { state.withLock { $0.lost } }

    /// Runs `body` holding an exclusive `flock` on `{path}.mutex`: a heartbeat's check-and-rewrite
    /// and a takeover's check-and-remove never interleave, so a holder that stalled past its TTL
    /// can never overwrite its successor's lock file.
    func withMutex<T>(_ body: () throws -> T) throws -> T {
        let mutex = "\(path).mutex"
        try AtomicFile.makeDirectories((path as NSString).deletingLastPathComponent)
        let fd = open(mutex, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw LockError(.storage, key: key, message: FileSystemError("open", path: mutex, errno: errno).description) }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 {
            if errno != EINTR { throw LockError(.storage, key: key, message: FileSystemError("lock", path: mutex, errno: errno).description) }
        }
        defer { flock(fd, LOCK_UN) }
        return try body()
    }

    private func removeIfCarrying(_ expectedNonce: String) throws -> Bool {
        guard let current = try readLockFile(), current.nonce == expectedNonce else { return false }
        // Move the file aside, then check that what we moved is what we meant to remove.
        let aside = "\(path).released-\(UInt64.random(in: 0...UInt64.max))"
        guard rename(path, aside) == 0 else {
            let code = errno
            if code == ENOENT { return false }
            throw LockError(.storage, key: key, message: FileSystemError("release lock", path: path, errno: code).description)
        }
        defer { unlink(aside) }
        let moved = (try? Data(contentsOf: URL(fileURLWithPath: aside))).flatMap { try? JSONDecoder.lock.decode(LockInfo.self, from: $0) }
        if moved?.nonce == expectedNonce || LockInfo.isUnreadableNonce(expectedNonce) && moved == nil {
            return true
        }
        // Someone else's fresh lock: put it back unless yet another holder appeared.
        _ = link(aside, path)
        return false
    }

    public func checkHeld() async throws {
        if let lost = state.withLock({ $0.lost }) { throw lost }
        guard let held = state.withLock({ $0.held }) else {
            throw LockError(.lost, key: key, message: "the \(key) lock is not held by this process")
        }
        let current = try readLockFile()
        if current?.nonce != held.nonce {
            let error = LockMessages.lost(key, now: current)
            state.withLock { $0.lost = error }
            throw error
        }
    }

    // MARK: Heartbeat

    private func startHeartbeat(_ info: LockInfo) {
        let interval = options.heartbeatInterval
        let task = Task { [weak self] in
            while !Task.isCancelled {
                do { try await Task.sleep(for: interval) } catch { return }
                guard let self, self.beat() else { return }
            }
        }
        state.withLock {
            $0.held = info
            $0.lost = nil
            $0.heartbeat = task
        }
        HeldLocks.register(self)
    }

    /// Refreshes `acquiredAt`; returns `false` (and records the loss) when the lock is no longer ours.
    private func beat() -> Bool {
        guard var held = state.withLock({ $0.held }) else { return false }
        do {
            return try withMutex {
                let current = try? readLockFile()
                guard current?.nonce == held.nonce else {
                    let error = LockMessages.lost(key, now: current)
                    logger.warning("lock lost", metadata: ["key": "\(key)"])
                    state.withLock { $0.lost = error }
                    return false
                }
                held.acquiredAt = now()
                try AtomicFile.write(try Self.encode(held), to: path)
                state.withLock { if $0.held?.nonce == held.nonce { $0.held = held } }
                return true
            }
        } catch {
            logger.warning("lock heartbeat failed", metadata: ["key": "\(key)", "error": "\(error)"])
            return true
        }
    }

    static func encode(_ info: LockInfo) throws -> Data {
        try JSONEncoder.lock.encode(info)
    }
}
