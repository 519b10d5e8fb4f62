import Foundation
import Logging
import S3Client
import SwampContracts
import SwampSupport
import Synchronization

/// Health: the bucket reachable and the meta readable.
extension S3SyncService {
    public func verify() async throws -> DatastoreHealth {
        let started = ContinuousClock.now
        do {
            _ = try await client.headBucket()
            let meta = try await client.get(remote.metaKey)
            var details = ["bucket": settings.bucket, "prefix": remote.prefix]
            if case .found(let response) = meta { details["seq"] = String(try MetaIndex.decode(response.body).seq) }
            let elapsed = ContinuousClock.now - started
            return DatastoreHealth(
                healthy: true, message: "S3 bucket '\(settings.bucket)' is reachable", latencyMs: Self.milliseconds(elapsed), details: details)
        } catch {
            return .failed(error, details: ["bucket": settings.bucket])
        }
    }
}
