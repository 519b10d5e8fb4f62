import Foundation
import SwampContracts
import Testing

@testable import SwampCore
@testable import SwampTesting

@Suite struct LockConformanceTests {
    static let checks = LockConformance.checks.map(\.name)

    @Test(arguments: checks)
    func fileLock(check name: String) async throws {
        let directory = TemporaryDirectory("filelock")
        defer { directory.remove() }
        let provider = FilesystemProvider(root: directory.path)
        let check = try #require(LockConformance.checks.first { $0.name == name })
        try await check.run { key, options in try provider.createLock(key, options: options) }
    }

    @Test(arguments: checks)
    func inMemoryLock(check name: String) async throws {
        let store = InMemoryLockStore()
        let check = try #require(LockConformance.checks.first { $0.name == name })
        try await check.run { key, options in InMemoryLock(key: key, store: store, options: options) }
    }

    @Test func filesystemVerifierConforms() async throws {
        let directory = TemporaryDirectory("verifier")
        defer { directory.remove() }
        let file = "\(directory.path)/not-a-directory"
        try Data("x".utf8).write(to: URL(fileURLWithPath: file))
        try await VerifierConformance.run(healthy: FilesystemVerifier(root: "\(directory.path)/store"), broken: FilesystemVerifier(root: file))
    }
}

@Suite struct FileLockTests {
    @Test func lockFilesLiveInTheModelDirectoryAndAtTheRoot() throws {
        let provider = FilesystemProvider(root: "/store")
        let ref = ModelRef(modelType: "aws/ec2/vpc", modelId: "0b0e0000-0000-4000-8000-000000000000")
        let model = try #require(try provider.createLock(.model(ref), options: LockOptions()) as? FileLock)
        let global = try #require(try provider.createLock(.global, options: LockOptions()) as? FileLock)
        #expect(model.path == "/store/data/aws/ec2/vpc/0b0e0000-0000-4000-8000-000000000000/.lock")
        #expect(global.path == "/store/.datastore.lock")
    }

    @Test func heartbeatRefreshesAcquiredAtSoTheLockNeverGoesStale() async throws {
        let directory = TemporaryDirectory("heartbeat")
        defer { directory.remove() }
        let lock = FileLock(key: .global, path: "\(directory.path)/.datastore.lock", options: LockOptions(ttl: .milliseconds(300)))
        try await lock.acquire()
        let first = try #require(try await lock.inspect())
        // Wait (bounded, generous for a loaded machine) for a heartbeat to rewrite the file.
        var later = first
        let deadline = ContinuousClock.now + .seconds(20)
        while later.acquiredAt <= first.acquiredAt, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
            later = try #require(try await lock.inspect())
        }
        #expect(later.acquiredAt > first.acquiredAt)
        #expect(later.nonce == first.nonce)
        try await lock.checkHeld()
        try await lock.release()
        #expect(try await lock.inspect() == nil)
    }

    @Test func timeoutNamesTheHolderAndHowToRelease() async throws {
        let directory = TemporaryDirectory("timeout")
        defer { directory.remove() }
        let provider = FilesystemProvider(root: directory.path)
        let ref = ModelRef(modelType: "command/shell", modelId: "0b0e0000-0000-4000-8000-000000000000")
        let holder = try provider.createLock(.model(ref), options: LockOptions(holder: "swamp model method run"))
        try await holder.acquire()
        let waiter = try provider.createLock(.model(ref), options: LockOptions(waitTimeout: .milliseconds(100)))
        do {
            try await waiter.acquire()
            Issue.record("acquired a held lock")
        } catch let error as LockError {
            #expect(error.code == .timeout)
            #expect(error.message.contains("swamp model method run (pid \(ProcessInfo.processInfo.processIdentifier)"))
            #expect(error.message.contains("swamp datastore lock release --force --model command/shell/0b0e0000-0000-4000-8000-000000000000"))
            #expect(error.message.contains("SWAMP_LOCK_TIMEOUT_MS"))
        }
        try await holder.release()
    }

    @Test func unreadableLockFileCanBeReleasedByItsReportedNonceAndExpires() async throws {
        let directory = TemporaryDirectory("corrupt-lock")
        defer { directory.remove() }
        let path = "\(directory.path)/.datastore.lock"
        try Data("{not json".utf8).write(to: URL(fileURLWithPath: path))
        let lock = FileLock(key: .global, path: path, options: LockOptions(waitTimeout: .milliseconds(50)))
        let info = try #require(try await lock.inspect())
        #expect(info.holder == "unreadable lock file")
        #expect(try await lock.forceRelease(expectedNonce: "wrong") == false)
        #expect(FileManager.default.fileExists(atPath: path))
        #expect(try await lock.forceRelease(expectedNonce: info.nonce))
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test func readersNeverSeeAPartialLockFile() async throws {
        let directory = TemporaryDirectory("partial")
        defer { directory.remove() }
        let path = "\(directory.path)/.datastore.lock"
        let options = LockOptions(waitTimeout: .seconds(30), pollInterval: .milliseconds(1), maxPollInterval: .milliseconds(2))
        try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<3 {
                group.addTask {
                    let lock = FileLock(key: .global, path: path, options: options)
                    for _ in 0..<15 { try await lock.withLock {} }
                    return 0
                }
            }
            group.addTask {
                // A reader polling the file must only ever see no file or complete JSON: an empty
                // file is exactly what a partial write looks like, so it counts as unreadable.
                var unreadable = 0
                var complete = 0
                for _ in 0..<400 {
                    if let data = FileManager.default.contents(atPath: path) {
                        if (try? JSONDecoder.lock.decode(LockInfo.self, from: data)) == nil { unreadable += 1 } else { complete += 1 }
                    }
                    try await Task.sleep(for: .microseconds(200))
                }
                // The reader must have seen the lock held, or it checked nothing.
                #expect(complete > 0)
                return unreadable
            }
            var unreadable = 0
            for try await count in group { unreadable += count }
            #expect(unreadable == 0)
        }
    }

    @Test func heldLocksListsGlobalAndModelLocks() async throws {
        let directory = TemporaryDirectory("held")
        defer { directory.remove() }
        let provider = FilesystemProvider(root: directory.path)
        let ref = ModelRef(modelType: "aws/ec2/vpc", modelId: "0b0e0000-0000-4000-8000-000000000000")
        let model = try provider.createLock(.model(ref), options: LockOptions())
        let global = try provider.createLock(.global, options: LockOptions())
        try await model.acquire()
        try await global.acquire()
        let held = try await provider.heldLocks().map(\.key)
        #expect(held == [.global, .model(ref)])
        try await model.release()
        try await global.release()
        #expect(try await provider.heldLocks().isEmpty)
    }
}
