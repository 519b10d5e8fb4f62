import Foundation
import SwampContracts
import Testing

@testable import S3Datastore

/// Inputs the fuzzers (scripts/fuzz.sh) found, and the seed corpus, replayed: each parser
/// refuses or accepts them without trapping, and what it accepts keeps its promises.
@Suite struct FuzzRegressionTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz")

    static func inputs(_ target: String) -> [String] {
        ["regressions", "corpus"].flatMap { folder -> [String] in
            let directory = root.appendingPathComponent("\(folder)/\(target)").path
            return ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).map { "\(directory)/\($0)" }
        }.sorted()
    }

    @Test func everyTargetHasInputs() {
        for target in ["path", "index", "meta", "lock"] { #expect(!Self.inputs(target).isEmpty, "no inputs for \(target)") }
    }

    @Test(arguments: inputs("meta"))
    func metaInputs(file: String) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: file))
        guard let meta = try? MetaIndex.decode(data) else { return }
        #expect(meta.seq >= 0 && meta.seq <= MetaIndex.maximumSeq)
        #expect(meta.recent.allSatisfy { $0.seq >= 1 && $0.seq <= meta.seq })
        _ = try? meta.committing([.shared])
        for seq in [0, meta.seq / 2, max(0, meta.seq - 1)] {
            let hints = meta.hints(after: seq)
            #expect(hints.values.reduce(0) { $0 + $1.count } <= MetaIndex.hintBudget)
            for (partition, files) in hints {
                for (path, entry) in files {
                    #expect(Self.staysInside(path) && PartitionID.of(path) == partition)
                    #expect(entry.size <= MetaIndex.hintMaximumBytes && !entry.isDeleted && PartitionIndex.isSHA256(entry.sha256))
                }
            }
        }
    }

    @Test(arguments: inputs("index"))
    func indexInputs(file: String) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: file))
        for expected in [PartitionID.shared, PartitionID("models/command/shell/0b0e0000-0000-4000-8000-000000000000")] {
            guard let index = try? PartitionIndex.decode(data, expected: expected) else { continue }
            for path in index.entries.keys {
                #expect(Self.staysInside(path))
                #expect(PartitionID.of(path) == expected)
            }
        }
    }

    @Test(arguments: inputs("lock"))
    func lockInputs(file: String) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: file))
        guard let info = try? JSONDecoder.lock.decode(LockInfo.self, from: data), info.isPlausible else { return }
        #expect(info.expiresAt.timeIntervalSince1970.isFinite)
    }

    @Test(arguments: inputs("path"))
    func pathInputs(file: String) throws {
        let path = String(decoding: try Data(contentsOf: URL(fileURLWithPath: file)), as: UTF8.self)
        _ = DatastorePath(path)
        guard let segments = try? PathRules.validateRelativePath(path) else { return }
        #expect(Self.staysInside(path))
        // What the file system sees (segments split on the '/' byte) is what the validator saw.
        let bytes = Array(path.utf8).split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        #expect(bytes.count == segments.count)
        #expect(!bytes.contains { $0.first == UInt8(ascii: ".") })
    }

    /// Compared on bytes, as the file system compares.
    static func staysInside(_ path: String) -> Bool {
        ("/cache/" + path as NSString).standardizingPath.utf8.starts(with: "/cache/".utf8)
    }
}
