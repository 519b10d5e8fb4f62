import Foundation
import Testing

/// `swamp data get` returns exactly the bytes the command printed.
@Suite struct ByteExactnessTests {
    @Test(arguments: [
        ("empty", "true"),
        ("no-newline", "printf 'no newline'"),
        ("binary", "printf '\\000\\001\\377\\n\\r\\000end'"),
        ("all-bytes", "i=0; while [ $i -lt 256 ]; do printf \"\\\\$(printf %o $i)\"; i=$((i+1)); done"),
        ("ten-megabytes", "head -c 10485760 /dev/urandom | tee \"$SWAMP_OUT\""),
    ])
    func dataGetReturnsTheExactBytes(name: String, script: String) async throws {
        let repo = try await TemporaryRepository.make()
        defer { repo.remove() }
        let reference = "\(repo.path)/reference.bin"
        let script = script.replacingOccurrences(of: "\"$SWAMP_OUT\"", with: "'\(reference)'")
        try await repo.shellModel(name, script)
        let run = try await repo.cli.run(["model", "method", "run", name, "execute", "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let got = try await repo.cli.run(["data", "get", name, "result"])
        #expect(got.status == 0)
        // What the command printed, independently of swamp (the random one saved a copy with tee).
        let expected: Data
        if name == "ten-megabytes" {
            expected = try Data(contentsOf: URL(fileURLWithPath: reference))
            #expect(expected.count == 10_485_760)
        } else {
            expected = try await CLI.exec(["-c", script], environment: [:], cwd: repo.path, executable: "/bin/sh").stdout
        }
        // Compare outside #expect: a failing expectation would try to diff megabytes.
        let identical = got.stdout == expected
        #expect(identical, "data get returned \(got.stdout.count) bytes, the command printed \(expected.count)")
        let size = try #require((try run.json()["data"] as? [[String: Any]])?.first?["size"] as? Int)
        #expect(size == got.stdout.count)
        if name == "all-bytes" {
            let allBytes = got.stdout == Data((0..<256).map { UInt8($0) })
            #expect(allBytes)
        }
        if name == "empty" { #expect(got.stdout.isEmpty) }
    }
}
