import Dispatch
import Foundation
import SwampCore
import SwampSupport
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// SIGINT, SIGTERM and SIGHUP for every command: the first one cancels the command, which stops
/// at a safe point (a running model's command and its children are ended, a transfer is
/// abandoned, nothing partial is written), releases its locks and says what was and was not done;
/// then `swamp` exits 130 (SIGINT), 143 (SIGTERM) or 129 (SIGHUP). A second signal quits at once,
/// still releasing the locks it can within about a second.
enum Interrupts {
    static let watched: [Int32] = [SIGINT, SIGTERM, SIGHUP]

    static func guarding(json: Bool, _ body: @escaping @Sendable () async throws -> Void) async throws {
        let watcher = SignalWatcher(watched)
        defer { watcher.stop() }
        enum Finish: Sendable {
            case done
            case signal(Int32)
        }
        try await withThrowingTaskGroup(of: Finish.self) { group in
            group.addTask {
                try await body()
                return .done
            }
            group.addTask {
                for await signal in watcher.first { return .signal(signal) }
                return .done
            }
            guard case .signal(let signal)? = try await group.next() else {
                group.cancelAll()
                return
            }
            let name = signalName(signal)
            FileHandle.standardError.write(
                Data("\ninterrupted (\(name)): stopping at a safe point and releasing locks; \(name) again quits at once\n".utf8))
            let forced = Task {
                for await again in watcher.second {
                    FileHandle.standardError.write(Data("interrupted again (\(signalName(again))): quitting now\n".utf8))
                    let left = await HeldLocks.releaseAll(within: .seconds(1))
                    if left > 0 {
                        FileHandle.standardError.write(Data("\(left) lock(s) could not be released in time; they expire by their TTL\n".utf8))
                    }
                    exit(128 + again)
                }
            }
            group.cancelAll()
            do { _ = try await group.next() } catch {}
            forced.cancel()
            let left = await HeldLocks.releaseAll(within: .seconds(1))
            let summary = left == 0 ? "every lock released" : "\(left) lock(s) not released (they expire by their TTL)"
            FileHandle.standardError.write(Data("interrupted (\(name)): \(summary)\n".utf8))
            if json {
                let document = ["error": ["code": "interrupted", "message": "interrupted by \(name); \(summary)"]]
                if let data = try? JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys]) {
                    FileHandle.standardOutput.write(data + Data("\n".utf8))
                }
            }
            throw ExitStatus(128 + signal)
        }
    }

    static func signalName(_ signal: Int32) -> String {
        switch signal {
        case SIGINT: return "SIGINT"
        case SIGTERM: return "SIGTERM"
        case SIGHUP: return "SIGHUP"
        default: return "signal \(signal)"
        }
    }
}

/// The exit status an interrupted command ends with.
struct ExitStatus: Error {
    let code: Int32
    init(_ code: Int32) { self.code = code }
}

/// Turns signals into two streams: the first signal, and every later one.
final class SignalWatcher: Sendable {
    let first: AsyncStream<Int32>
    let second: AsyncStream<Int32>
    /// The dispatch sources; only created here and cancelled in `stop()`.
    private let sources: Mutex<[any DispatchSourceSignal]>

    init(_ signals: [Int32]) {
        let (first, firstContinuation) = AsyncStream<Int32>.makeStream()
        let (second, secondContinuation) = AsyncStream<Int32>.makeStream()
        self.first = first
        self.second = second
        let seen = Mutex(0)
        var created: [any DispatchSourceSignal] = []
        for number in signals {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                let count = seen.withLock { value -> Int in
                    value += 1
                    return value
                }
                if count == 1 { firstContinuation.yield(number) } else { secondContinuation.yield(number) }
            }
            source.resume()
            created.append(source)
        }
        sources = Mutex(created)
    }

    func stop() {
        sources.withLock { sources in
            for source in sources { source.cancel() }
            sources = []
        }
    }
}
