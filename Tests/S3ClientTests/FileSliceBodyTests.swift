import Crypto
import Foundation
import Synchronization
import Testing

@testable import S3Client

/// A streamed request body stays a few chunks ahead of whoever sends it: it reads the next chunk
/// only once all but ``FileSliceBody/chunksAhead`` of those it handed out were let go (written).
@Suite(.timeLimit(.minutes(1))) struct FileSliceBodyTests {
    /// A file of `chunks` chunks of random bytes, and its slice.
    static func slice(chunks: Int, in directory: String) throws -> FileSlice {
        let path = "\(directory)/file"
        var bytes = Data(count: chunks * FileSliceBody.chunkBytes)
        for index in bytes.indices { bytes[index] = UInt8.random(in: 0...255) }
        try bytes.write(to: URL(fileURLWithPath: path))
        return FileSlice(path: path, length: Int64(bytes.count), sha256: SigV4Signer.hex(SHA256.hash(data: bytes)))
    }

    static func directory(_ label: String) throws -> String {
        let path = NSTemporaryDirectory() + "swamp-\(label)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// What a consumer of the body saw: the chunks it still holds, how many it got.
    final class Consumer: Sendable {
        let kept = Mutex<[FileSliceBody.Element]>([])
        let received = Mutex(0)
        let keep = Mutex(true)
        /// Its own, not the process's: a test turns it off.
        let bound: FileSliceBody.WriteBound

        init(patience: Duration) { bound = FileSliceBody.WriteBound(patience: patience) }

        func run(_ slice: FileSlice) -> Task<Int, Error> {
            Task {
                var iterator = FileSliceBody(slice: slice, bound: bound).makeAsyncIterator()
                var bytes = 0
                while let chunk = try await iterator.next() {
                    bytes += chunk.readableBytes
                    if keep.withLock({ $0 }) { kept.withLock { $0.append(chunk) } }
                    received.withLock { $0 += 1 }
                }
                return bytes
            }
        }

        /// Waits (up to 20 s) until `count` chunks were received.
        func await(_ count: Int) async throws {
            for _ in 0..<2000 where received.withLock({ $0 }) < count { try await Task.sleep(for: .milliseconds(10)) }
        }
    }

    @Test func theNextChunkIsReadOnlyOnceAnEarlierOneIsLetGo() async throws {
        let directory = try Self.directory("ahead")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let slice = try Self.slice(chunks: 6, in: directory)
        // Patient enough that a loaded machine never turns the bound off under the test.
        let consumer = Consumer(patience: .seconds(45))
        let task = consumer.run(slice)

        try await consumer.await(FileSliceBody.chunksAhead)
        try await Task.sleep(for: .milliseconds(150))
        #expect(consumer.received.withLock { $0 } == FileSliceBody.chunksAhead, "no chunk beyond the bound while all are held")

        _ = consumer.kept.withLock { $0.removeFirst() }
        try await consumer.await(FileSliceBody.chunksAhead + 1)
        try await Task.sleep(for: .milliseconds(150))
        #expect(consumer.received.withLock { $0 } == FileSliceBody.chunksAhead + 1, "one let go, one more read")

        consumer.keep.withLock { $0 = false }
        consumer.kept.withLock { $0.removeAll() }
        #expect(try await task.value == Int(slice.length), "every byte, once the consumer lets them go")
    }

    /// A consumer that never lets a chunk go gets the whole body all the same, after one wait as
    /// long as the bound's patience; and the next body that shares the bound does not wait.
    @Test func aConsumerThatKeepsEveryChunkStillGetsTheWholeBody() async throws {
        let directory = try Self.directory("kept")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let slice = try Self.slice(chunks: 5, in: directory)
        let consumer = Consumer(patience: .milliseconds(300))
        let started = ContinuousClock.now
        #expect(try await consumer.run(slice).value == Int(slice.length))
        #expect(consumer.kept.withLock { $0.count } == 5)
        #expect(ContinuousClock.now - started >= .milliseconds(300), "it waited for the kept chunks first")
        #expect(consumer.bound.paused > 0)
        #expect(!consumer.bound.isOn, "and then turned the bound off")
        let paused = consumer.bound.paused
        #expect(try await consumer.run(slice).value == Int(slice.length))
        #expect(consumer.kept.withLock { $0.count } == 10)
        #expect(consumer.bound.paused == paused, "no second wait: the bound stays off")
    }
}
