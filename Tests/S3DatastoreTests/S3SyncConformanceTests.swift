import Foundation
import S3Client
import SwampContracts
import SwampCore
import SwampSupport
import SwampTesting
import Testing

@testable import S3Datastore

/// The S3 backend against the sync-service conformance kit (SwampTesting), like any backend.
@Suite(.enabled(if: S3TestServer.available, "needs the S3 test server (scripts/test.sh)"))
struct S3SyncConformanceTests {
    static func subject(_ bucket: S3Bucket) -> SyncServiceSubject {
        SyncServiceSubject(
            makeCache: { name in
                let cache = try bucket.cache("\(name)-\(UUID().uuidString.prefix(6))")
                return (cache.root, cache.sync)
            },
            makeLazyCache: { name in
                let cache = try bucket.cache("\(name)-\(UUID().uuidString.prefix(6))", hydration: .lazy)
                return (cache.root, cache.sync)
            },
            plantRemoteEntry: { owner, path, content in
                // A forged entry in the owner's partition index, written behind swamp's back.
                let client = try bucket.client()
                let key = "_swamp/index/models/\(owner.modelType)/\(owner.modelId).json"
                guard case .found(let response) = try await client.get(key) else { throw S3SyncError(.corruptIndex, "no partition \(key)") }
                var index = try JSONSerialization.jsonObject(with: response.body) as? [String: Any] ?? [:]
                var entries = index["entries"] as? [String: Any] ?? [:]
                entries[path] = ["size": content.count, "sha256": ContentHash.sha256(content), "seq": 1]
                index["entries"] = entries
                try await client.put(key, data: try JSONSerialization.data(withJSONObject: index))
            })
    }

    @Test(arguments: SyncServiceConformance.checks.map(\.name))
    func theS3BackendConforms(check name: String) async throws {
        let bucket = try await S3Bucket.make()
        defer { bucket.directory.remove() }
        let check = try #require(SyncServiceConformance.checks.first { $0.name == name })
        try await check.run(Self.subject(bucket))
    }
}
