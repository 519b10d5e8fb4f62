import Foundation
import Testing

/// A model's command that runs `swamp` itself: read-only commands go on at once; a command that
/// would wait on the running model's own locks fails at once with a clear error.
@Suite struct NestedCommandTests {
    @Test func aModelThatReadsOtherDataFinishesAtOnce() async throws {
        let repo = try await TemporaryRepository.make()
        defer { repo.remove() }
        try await repo.shellModel("source", "echo from-source")
        #expect(try await repo.cli.run(["model", "method", "run", "source", "execute"]).status == 0)
        try await repo.shellModel("reader", "\"$SWAMP_TEST_BIN\" data get source result && \"$SWAMP_TEST_BIN\" data list >/dev/null")
        let started = ContinuousClock.now
        let run = try await repo.cli.run(["model", "method", "run", "reader", "execute"], environment: ["SWAMP_TEST_BIN": CLI.binary])
        #expect(run.status == 0, "\(run.stderr)")
        // Well under a second alone on this machine; the bound leaves room for a loaded CI runner
        // while still catching a wait on a lock (the lock timeout is 60 s).
        print("a model run whose command runs 'swamp data get' and 'swamp data list': \(ContinuousClock.now - started)")
        #expect(ContinuousClock.now - started < .seconds(10), "took \(ContinuousClock.now - started)")
        #expect(try await repo.cli.run(["data", "get", "reader", "result"]).stdout == Data("from-source\n".utf8))
    }

    @Test func aModelThatRunsAStructuralCommandGetsAClearErrorAtOnce() async throws {
        let repo = try await TemporaryRepository.make()
        defer { repo.remove() }
        try await repo.shellModel("collector", "\"$SWAMP_TEST_BIN\" data gc --keep 1")
        try await repo.shellModel("again", "\"$SWAMP_TEST_BIN\" model method run again execute")
        for model in ["collector", "again"] {
            let started = ContinuousClock.now
            let run = try await repo.cli.run(["model", "method", "run", model, "execute"], environment: ["SWAMP_TEST_BIN": CLI.binary])
            #expect(run.status != 0)
            #expect(run.stderr.contains("cannot run inside the model run that started it"), "\(run.stderr)")
            #expect(ContinuousClock.now - started < .seconds(5), "waited \(ContinuousClock.now - started)")
        }
        // Outside a model run, the same command works.
        #expect(try await repo.cli.run(["data", "gc", "--keep", "1"]).status == 0)
    }
}
