import Foundation
import SwampContracts
import Testing

@Suite struct SyncContractTests {
    @Test func absentCapabilitiesDecodeAsNilAndMeanFalse() throws {
        let decoded = try JSONDecoder().decode(SyncCapabilities.self, from: Data(#"{"scopedSync":true}"#.utf8))
        #expect(decoded.scopedSync == true)
        #expect(decoded.lazyHydration == nil)
        #expect(decoded.supportsScopedSync)
        #expect(!decoded.supportsLazyHydration)
        #expect(!SyncCapabilities.none.supportsScopedSync)
        #expect(!SyncCapabilities(scopedSync: false).supportsScopedSync)
    }

    @Test func scopedOptionsCarryOnlyTheModels() {
        let ref = ModelRef(modelType: "t", modelId: "1")
        let options = DatastoreSyncOptions.scoped(to: [ref])
        #expect(options.context?.models == [ref])
        #expect(options.relPath == nil && options.namespace == nil && options.metadataOnly == nil)
        #expect(options != DatastoreSyncOptions())
    }

    @Test func lockInfoIsStaleExactlyAfterItsTTL() {
        let start = Date(timeIntervalSince1970: 1_000)
        let info = LockInfo(holder: "h", hostname: "x", pid: 1, acquiredAt: start, ttlMs: 30_000, nonce: "n")
        #expect(!info.isStale(at: start.addingTimeInterval(29.999)))
        #expect(info.isStale(at: start.addingTimeInterval(30)))
    }

    @Test func lockOptionsHeartbeatIsAThirdOfTheTTLUnlessOverridden() {
        #expect(LockOptions(ttl: .seconds(30)).heartbeatInterval == .seconds(10))
        #expect(LockOptions(ttl: .seconds(30), heartbeatOverride: .seconds(99)).heartbeatInterval == .seconds(99))
        #expect(LockOptions(ttl: .milliseconds(1500)).ttlMilliseconds == 1500)
    }

    @Test func registryNamesKnownTypesForAnUnknownOne() {
        var registry = DatastoreTypeRegistry()
        registry.register("filesystem") { _, _ in throw ContractError(.invalidPath, "unused") }
        registry.register("s3") { _, _ in throw ContractError(.invalidPath, "unused") }
        do {
            _ = try registry.makeProvider(DatastoreSpec(type: "ftp"), environment: DatastoreEnvironment(repoDir: "/r", repoId: "i", variables: [:]))
            Issue.record("unknown type accepted")
        } catch let error as ContractError {
            #expect(error.code == .unknownDatastoreType)
            #expect(error.message.contains("'ftp'"))
            #expect(error.message.contains("filesystem, s3"))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }
}
