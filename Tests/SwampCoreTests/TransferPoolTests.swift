import Foundation
import SwampSupport
import Testing

@testable import SwampCore

@Suite struct TransferPoolTests {
    @Test func transferPoolKeepsAtMostLimitInFlightAndPreservesOrder() async throws {
        let counter = InFlight()
        let results = try await forEachConcurrently(Array(0..<20), limit: 3) { item -> Int in
            await counter.enter()
            try await Task.sleep(for: .milliseconds(Int.random(in: 1...5)))
            await counter.leave()
            return item * 2
        }
        #expect(results == (0..<20).map { $0 * 2 })
        #expect(await counter.maximum == 3)
    }
}

@Suite struct TransferWindowTests {
    /// Three operations at once, one window of 4: never more than 4 in flight in all, every
    /// operation completes, each with its results in order.
    @Test func oneWindowBoundsEverythingDrawnFromIt() async throws {
        let window = TransferWindow(width: 4)
        let counter = InFlight()
        let results = try await withThrowingTaskGroup(of: [Int].self) { group in
            for batch in 0..<3 {
                group.addTask {
                    try await window.forEach(Array(0..<15)) { item -> Int in
                        await counter.enter()
                        try await Task.sleep(for: .milliseconds(Int.random(in: 1...4)))
                        await counter.leave()
                        return batch * 100 + item
                    }
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(Set(results) == Set((0..<3).map { batch in (0..<15).map { batch * 100 + $0 } }))
        #expect(await counter.maximum == 4)
    }

    /// A slot is handed back when its body throws, so a failure never shrinks the window.
    @Test func aFailingBodyGivesItsSlotBack() async throws {
        let window = TransferWindow(width: 1)
        struct Boom: Error {}
        await #expect(throws: Boom.self) { try await window.withSlot { throw Boom() } }
        #expect(try await window.withSlot { 7 } == 7)
    }

    /// Work done only while the window is idle takes a slot only when more than `reserve` are
    /// free and nobody waits, never waits itself, and gives the slot back.
    @Test func aSlotIfFreeNeverWaitsAndLeavesTheReserve() async throws {
        let window = TransferWindow(width: 3)
        #expect(try await window.withSlotIfFree(reserving: 1) { 1 } == 1)
        let inner = try await window.withSlot {
            // Two free: one more may go, keeping one in reserve; then none.
            try await window.withSlotIfFree(reserving: 1) { try await window.withSlotIfFree(reserving: 1) { 2 } ?? 0 }
        }
        #expect(inner == 0)
        // Nothing held: every slot is free again.
        let all = try await window.withSlot { try await window.withSlot { try await window.withSlotIfFree(reserving: 0) { 3 } } }
        #expect(all == 3)
        // One of two slots held by another task: the other is the reserve, or free to take.
        let single = TransferWindow(width: 2)
        let (held, release) = AsyncStream.makeStream(of: Void.self)
        let (started, began) = AsyncStream.makeStream(of: Void.self)
        let holder = Task {
            try await single.withSlot {
                began.yield()
                for await _ in held { break }
            }
        }
        for await _ in started { break }
        #expect(try await single.withSlotIfFree(reserving: 1) { 4 } == nil, "one free slot is the reserve")
        #expect(try await single.withSlotIfFree(reserving: 0) { 5 } == 5)
        release.yield()
        try await holder.value
    }
}

@Suite struct EmptyDirectoryTests {
    /// Pulls of several partitions at once share parent directories: removing the ones a pull
    /// emptied must never take a file another pull just wrote with it.
    @Test func onlyEmptyDirectoriesAreRemovedAndNeverTheRoot() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("swamp-dirs-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        try AtomicFile.makeDirectories("\(root)/data/t/a/item/1")
        try AtomicFile.write(Data("kept".utf8), to: "\(root)/data/t/b/item/1/raw")
        AtomicFile.removeEmptyDirectories(from: "\(root)/data/t/a/item/1", upTo: root)
        #expect(!FileManager.default.fileExists(atPath: "\(root)/data/t/a"), "a's emptied directories are gone")
        #expect(FileManager.default.fileExists(atPath: "\(root)/data/t/b/item/1/raw"), "b's file and its parents stay")
        AtomicFile.removeEmptyDirectories(from: "\(root)/data/t/b/item/1", upTo: root)
        #expect(FileManager.default.fileExists(atPath: "\(root)/data/t/b/item/1/raw"), "a directory holding a file is not removed")
        try AtomicFile.remove("\(root)/data/t/b/item/1/raw")
        AtomicFile.removeEmptyDirectories(from: "\(root)/data/t/b/item/1", upTo: root)
        #expect(!FileManager.default.fileExists(atPath: "\(root)/data"))
        #expect(FileManager.default.fileExists(atPath: root), "the root stays")
    }

    /// A write and a removal racing on the same parents: every write lands.
    @Test func writesRacingRemovalsAllLand() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("swamp-race-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        try AtomicFile.makeDirectories(root)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<200 {
                group.addTask { try AtomicFile.write(Data("\(index)".utf8), to: "\(root)/data/t/m\(index % 7)/item/\(index)/raw") }
                group.addTask { AtomicFile.removeEmptyDirectories(from: "\(root)/data/t/m\((index + 3) % 7)/item", upTo: root) }
            }
            try await group.waitForAll()
        }
        for index in 0..<200 {
            #expect(try AtomicFile.readIfPresent("\(root)/data/t/m\(index % 7)/item/\(index)/raw") == Data("\(index)".utf8))
        }
    }
}

actor InFlight {
    private var current = 0
    private(set) var maximum = 0
    func enter() {
        current += 1
        maximum = max(maximum, current)
    }
    func leave() { current -= 1 }
}

@Suite struct PathPartsTests {
    /// The hot-path split of a path agrees with NSString's on every shape this project builds,
    /// and on the odd ones (trailing and doubled slashes, the root, bare names, non-ASCII).
    @Test func parentAndNameAgreeWithNSString() {
        let paths = [
            "/tmp/cache/data/command/shell/abc/result/1/raw", "/tmp/cache/data/x/", "/tmp//cache//raw", "/raw", "/", "raw", "",
            "a/b", "a//b/", "/a/b//", "//a", "/tmp/caché/données/1/raw", "/tmp/with space/.hidden", "///",
        ]
        for path in paths {
            #expect(AtomicFile.parent(of: path) == (path as NSString).deletingLastPathComponent, "parent of '\(path)'")
            #expect(AtomicFile.name(of: path) == (path as NSString).lastPathComponent, "name of '\(path)'")
        }
    }
}
