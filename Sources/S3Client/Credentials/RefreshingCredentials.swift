import Foundation
import Logging
import SwampContracts
import Synchronization

/// Credentials fetched once and kept — fetched again shortly before temporary ones expire,
/// by one fetch that every concurrent request waits for.
///
/// A refresh starts when less than ``margin(lifetime:)`` remains. If it fails while the old
/// credentials are still valid, they go on being used (a warning is logged) and the next request
/// tries again; once they have expired, the failure is the request's.
public final class RefreshingCredentials: Sendable {
    private let resolve: @Sendable () async throws -> any CredentialProvider
    private let logger: Logger
    private let now: @Sendable () -> Date

    private struct State {
        var provider: (any CredentialProvider)?
        var current: S3Credentials?
        var fetchedAt: Date?
        var inFlight: Task<S3Credentials, any Error>?
        var refreshes = 0
        /// No refresh is tried before this, after one failed (the old credentials still hold).
        var retryAt: Date?
    }
    private let state = Mutex(State())

    /// - Parameter resolve: chooses the provider (at the first request, so commands that make
    ///   none never need credentials).
    public init(
        logger: Logger, now: @escaping @Sendable () -> Date = { Date() }, resolve: @escaping @Sendable () async throws -> any CredentialProvider
    ) {
        self.resolve = resolve
        self.logger = logger
        self.now = now
    }

    public convenience init(_ credentials: S3Credentials) {
        self.init(logger: Logger(label: "swamp.s3", factory: { _ in SwiftLogNoOpLogHandler() })) { StaticCredentials(credentials) }
    }

    /// How many times credentials were fetched again after the first (for tests and reports).
    public var refreshCount: Int { state.withLock { $0.refreshes } }

    /// How long before expiry a refresh starts: 5 minutes, or half the credentials' lifetime
    /// when that is shorter (credentials issued for 10 s are refreshed after 5).
    static func margin(lifetime: TimeInterval) -> TimeInterval { min(300, max(0, lifetime) / 2) }

    /// After a failed refresh while the old credentials still hold, how long they are used
    /// without trying again (a failing source must not cost every request a full fetch).
    static let retryAfterFailure: TimeInterval = 30

    /// Credentials valid now.
    ///
    /// Within the refresh margin, the first request starts the refresh and waits for it; requests
    /// that come while it runs go on with the current credentials (still valid) instead of
    /// queueing. Only when there are none, or they have expired, does every request wait.
    public func get() async throws -> S3Credentials {
        let time = now()
        enum Step {
            case use(S3Credentials)
            case wait(Task<S3Credentials, any Error>, fallback: S3Credentials?)
        }
        let step: Step = state.withLock { state in
            var fallback: S3Credentials?
            if let current = state.current {
                guard let expiration = current.expiration else { return .use(current) }
                let lifetime = expiration.timeIntervalSince(state.fetchedAt ?? time)
                if expiration.timeIntervalSince(time) > Self.margin(lifetime: lifetime) { return .use(current) }
                if expiration > time {
                    fallback = current
                    if state.inFlight != nil { return .use(current) }
                    if let retry = state.retryAt, retry > time { return .use(current) }
                }
            }
            if let task = state.inFlight { return .wait(task, fallback: fallback) }
            let refreshing = state.current != nil || state.provider != nil
            let task = Task { try await self.fetch(refreshing: refreshing) }
            state.inFlight = task
            return .wait(task, fallback: fallback)
        }
        switch step {
        case .use(let credentials):
            return credentials
        case .wait(let task, let fallback):
            do {
                return try await task.value
            } catch {
                guard let fallback else { throw error }
                let retry = now().addingTimeInterval(Self.retryAfterFailure)
                state.withLock { $0.retryAt = retry }
                logger.warning(
                    "could not refresh credentials; using the current ones until they expire",
                    metadata: ["source": "\(fallback.source)", "error": "\(error)"])
                return fallback
            }
        }
    }

    /// Forgets `used` (if still current) so that the next request fetches anew: the server said
    /// they expired (`ExpiredToken`) before this clock did. Returns whether they were temporary
    /// (fetching again can help only then).
    public func expire(_ used: S3Credentials) -> Bool {
        state.withLock { state in
            guard used.expiration != nil else { return false }
            if state.current == used { state.current = nil }
            return true
        }
    }

    /// The credentials in use, once fetched.
    public var current: S3Credentials? { state.withLock { $0.current } }

    private func fetch(refreshing: Bool) async throws -> S3Credentials {
        defer { state.withLock { $0.inFlight = nil } }
        let provider: any CredentialProvider
        if let chosen = state.withLock({ $0.provider }) {
            provider = chosen
        } else {
            provider = try await resolve()
            state.withLock { $0.provider = provider }
        }
        if refreshing {
            logger.info("refreshing credentials", metadata: ["source": "\(provider.source)"])
        }
        let credentials = try await provider.fetch()
        let fetchedAt = now()
        if let expiration = credentials.expiration, expiration <= fetchedAt {
            throw CredentialError(
                source: provider.source,
                message: "the credentials it gave had already expired (at \(UTCTime.iso8601(expiration, milliseconds: false)))",
                remedy: "check what the source returns, and this machine's clock")
        }
        state.withLock { state in
            state.current = credentials
            state.fetchedAt = fetchedAt
            state.retryAt = nil
            if refreshing { state.refreshes += 1 }
        }
        logger.debug(
            "credentials ready",
            metadata: [
                "source": "\(credentials.source)", "key": "\(credentials.maskedKeyId)",
                "expires": "\(credentials.expiration.map { UTCTime.iso8601($0, milliseconds: false) } ?? "never")",
            ])
        return credentials
    }
}
