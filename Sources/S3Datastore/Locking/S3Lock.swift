import Foundation
import Logging
import S3Client
import SwampContracts
import SwampSupport
import Synchronization

/// A ``DistributedLock`` on S3 conditional writes.
///
/// Created with `If-None-Match: *`, refreshed by a heartbeat `PUT` with `If-Match`
/// on the ETag it holds, released with a `DELETE` `If-Match`. Staleness is judged
/// by the server's clock: the object's `Last-Modified` against the response's `Date`.
public final class S3Lock: DistributedLock {
    public let key: LockKey
    let objectKey: String
    private let client: S3Client
    private let options: LockOptions
    private let logger: Logger
    private let state = Mutex(State())

    private struct State {
        var held: LockInfo?
        var etag: String?
        var lost: LockError?
        var heartbeat: Task<Void, Never>?
        /// The send instant of our last write of the lock that landed (see ``heldUntil``).
        var confirmed: ContinuousClock.Instant?
    }

    /// When this process first saw each version of each lock object (shared by a provider's locks).
    private let observations: LockObservations

    init(key: LockKey, objectKey: String, client: S3Client, options: LockOptions, logger: Logger, observations: LockObservations) {
        self.key = key
        self.objectKey = objectKey
        self.client = client
        self.options = options
        self.logger = logger
        self.observations = observations
    }

    deinit { state.withLock { $0.heartbeat?.cancel() } }

    public func acquire() async throws {
        guard state.withLock({ $0.held == nil }) else { return }
        var wait = LockWait(options: options)
        var lastHolder: LockInfo?
        while true {
            let info = LockInfo.forThisProcess(options: options, now: Date())
            let sent = ContinuousClock.now
            do {
                let response = try await client.put(objectKey, data: try Self.encode(info), contentType: "application/json", condition: .ifAbsent)
                startHeartbeat(info, etag: response.etag, confirmed: sent)
                return
            } catch let error as S3Error where error.code == .preconditionFailed || error.code == .conditionalRequestConflict {
                // Held (or our own create whose response was lost: then the nonce is ours).
            }
            if let (current, etag) = try await read() {
                if current.nonce == info.nonce {
                    // Our own create, whose response was lost and retried: the lock is ours.
                    startHeartbeat(info, etag: etag, confirmed: sent)
                    return
                }
                lastHolder = current
                if current.isStale(at: Date()) {
                    logger.info("taking over stale lock", metadata: ["key": "\(key)", "holder": "\(current.holderDescription)"])
                    try? await client.delete(objectKey, ifMatch: etag)
                    continue
                }
            } else {
                continue
            }
            if wait.expired { throw LockMessages.timeout(key, holder: lastHolder, waited: options.waitTimeout) }
            try await wait.pause()
        }
    }

    /// Stops the heartbeat first (so no refresh races the delete), then deletes the lock only
    /// while it carries our nonce: on `412` it reads the lock again and retries with the ETag
    /// found if the lock is still ours (a heartbeat landed meanwhile), and leaves it alone if it
    /// is someone else's.
    public func release() async throws {
        let heartbeat = state.withLock { state -> Task<Void, Never>? in
            defer { state.heartbeat = nil }
            return state.heartbeat
        }
        heartbeat?.cancel()
        await heartbeat?.value
        let (held, known) = state.withLock { state -> (LockInfo?, String?) in
            defer {
                state.held = nil
                state.etag = nil
            }
            return (state.held, state.etag)
        }
        guard let held, var etag = known else { return }
        defer { HeldLocks.unregister(self) }
        for _ in 1...5 {
            do {
                try await client.delete(objectKey, ifMatch: etag)
                return
            } catch let error as S3Error where error.code == .preconditionFailed || error.code == .noSuchKey {
                guard let (current, latest) = try await read(), current.nonce == held.nonce, let latest else { return }
                etag = latest
            }
        }
    }

    public var detectedLoss: LockError? { state.withLock { $0.lost } }

    /// Half a TTL after the send of our last write that landed. Nobody takes the lock over
    /// before a full TTL has passed, on their own monotonic clock, since they first saw the
    /// version we wrote (the two-clock rule, ``observed(_:etag:response:)``) — and they cannot
    /// see it before it was sent. The half left over covers the commit's own writes and any
    /// difference in clock rates. A heartbeat every TTL/3 keeps it ahead of the clock.
    public var heldUntil: ContinuousClock.Instant? {
        state.withLock { state in
            guard state.lost == nil, state.held != nil, let confirmed = state.confirmed else { return nil }
            return confirmed + options.ttl / 2
        }
    }

    public func inspect() async throws -> LockInfo? {
        try await read()?.info
    }

    /// The lock's content with `acquiredAt` re-expressed on this machine's clock (see ``observed(_:etag:response:)``).
    func read() async throws -> (info: LockInfo, etag: String?)? {
        let outcome: S3Client.GetOutcome
        do {
            outcome = try await client.get(objectKey, maxBytes: Self.maximumRecordBytes)
        } catch let error as S3Error where error.code == .tooLarge {
            // Not a lock record of ours: describe it by its ETag, so it can be released by that name.
            guard let head = try await client.head(objectKey) else { return nil }
            let info = LockInfo.unreadable(Data((head.etag ?? "").utf8), holder: "oversized lock object", modified: Date(), options: options)
            return (observed(info, etag: head.etag, response: head), head.etag)
        }
        guard case .found(let response) = outcome else { return nil }
        var info: LockInfo
        if let decoded = try? JSONDecoder.lock.decode(LockInfo.self, from: response.body), decoded.isPlausible {
            info = decoded
        } else {
            info = LockInfo.unreadable(response.body, holder: "unreadable lock object", modified: Date(), options: options)
        }
        return (observed(info, etag: response.etag, response: response), response.etag)
    }

    /// The largest lock record read (a bigger object is not one of ours).
    static let maximumRecordBytes = 64 * 1024

    /// `info` with `acquiredAt` re-expressed on this machine's clock so that staleness needs the
    /// TTL to have passed by *both* clocks: the server's (its `Date` against the object's
    /// `Last-Modified`) and this process's monotonic clock since it first saw this very version
    /// of the object (same ETag; a live holder's heartbeat changes it every `ttl/3`). One skewed
    /// `Date` cannot make a live lock look stale; an abandoned lock is taken over one TTL after
    /// it was first seen, at most.
    func observed(_ info: LockInfo, etag: String?, response: S3Client.Response) -> LockInfo {
        Self.observed(
            info, serverDate: response.serverDate, lastModified: response.lastModified,
            localAge: observations.age(of: "\(objectKey)#\(etag ?? info.nonce)"), now: Date())
    }

    /// The rule of ``observed(_:etag:response:)`` with every clock given: the record's age is the
    /// smaller of the server's (`serverDate - lastModified`, or `now - acquiredAt` without those
    /// headers) and `localAge` (how long this process has seen this version unchanged).
    static func observed(_ info: LockInfo, serverDate: Date?, lastModified: Date?, localAge: TimeInterval, now: Date) -> LockInfo {
        var info = info
        let serverAge: TimeInterval
        if let serverDate, let lastModified {
            serverAge = max(0, serverDate.timeIntervalSince(lastModified))
        } else {
            serverAge = max(0, now.timeIntervalSince(info.acquiredAt))
        }
        info.acquiredAt = now.addingTimeInterval(-min(serverAge, localAge))
        return info
    }

    public func forceRelease(expectedNonce: String) async throws -> Bool {
        guard let (current, etag) = try await read(), current.nonce == expectedNonce else { return false }
        do {
            try await client.delete(objectKey, ifMatch: etag)
            return true
        } catch let error as S3Error where error.code == .preconditionFailed || error.code == .noSuchKey {
            return false
        }
    }

    public func checkHeld() async throws {
        if let lost = state.withLock({ $0.lost }) { throw lost }
        guard let held = state.withLock({ $0.held }) else {
            throw LockError(.lost, key: key, message: "the \(key) lock is not held by this process")
        }
        let current = try await read()?.info
        if current?.nonce != held.nonce {
            let error = LockMessages.lost(key, now: current)
            state.withLock { $0.lost = error }
            throw error
        }
    }

    // MARK: Heartbeat

    private func startHeartbeat(_ info: LockInfo, etag: String?, confirmed: ContinuousClock.Instant) {
        let interval = options.heartbeatInterval
        let task = Task { [weak self] in
            while !Task.isCancelled {
                do { try await Task.sleep(for: interval) } catch { return }
                guard let self, await self.beat() else { return }
            }
        }
        state.withLock {
            $0.held = info
            $0.etag = etag
            $0.lost = nil
            $0.heartbeat = task
            $0.confirmed = confirmed
        }
        HeldLocks.register(self)
    }

    /// Rewrites the lock with `If-Match`; a 412 means it was taken over: record the loss.
    private func beat() async -> Bool {
        guard var held = state.withLock({ $0.held }), let etag = state.withLock({ $0.etag }) else { return false }
        held.acquiredAt = Date()
        let sent = ContinuousClock.now
        do {
            let body = try Self.encode(held)
            let response = try await client.put(objectKey, data: body, contentType: "application/json", condition: .ifMatch(etag))
            state.withLock {
                if $0.held?.nonce == held.nonce {
                    $0.etag = response.etag
                    $0.confirmed = sent
                }
            }
            return true
        } catch let error as S3Error where error.code == .preconditionFailed || error.code == .noSuchKey {
            let current = try? await read()
            if let current, current.info.nonce == held.nonce, let etag = current.etag {
                // Still ours: a write of ours landed whose response we did not get — this beat's
                // first attempt, or an earlier beat's (the nonce is the same for every beat). Which
                // one, and so when it was sent, is unknown: the lease is not moved on (only a beat
                // whose own response came back does that), so the fence reads the lock sooner.
                state.withLock { if $0.held?.nonce == held.nonce { $0.etag = etag } }
                return true
            }
            let lost = LockMessages.lost(key, now: current?.info)
            logger.warning("lock lost", metadata: ["key": "\(key)"])
            state.withLock { $0.lost = lost }
            return false
        } catch {
            logger.warning("lock heartbeat failed", metadata: ["key": "\(key)", "error": "\(error)"])
            return true
        }
    }

    static func encode(_ info: LockInfo) throws -> Data { try JSONEncoder.lock.encode(info) }
}

/// When this process first saw each version (ETag) of each lock object, on the monotonic clock.
final class LockObservations: Sendable {
    private let seen = Mutex<[String: ContinuousClock.Instant]>([:])
    private let now: @Sendable () -> ContinuousClock.Instant

    /// - Parameter now: the monotonic clock (a test's manual one).
    init(now: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }) { self.now = now }

    /// Seconds since `version` was first seen (0 the first time).
    func age(of version: String) -> TimeInterval {
        let now = self.now()
        let first = seen.withLock { seen -> ContinuousClock.Instant in
            if let first = seen[version] { return first }
            if seen.count >= 4096 { seen.removeAll() }  // bounded; forgetting only delays a takeover
            seen[version] = now
            return now
        }
        let elapsed = now - first
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }
}
