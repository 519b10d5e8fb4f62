import Foundation
import SwampTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The S3 test server reports a request it leaves unanswered (twice, in CI, a request got no
/// answer and nothing said why): what it was, where it stood, every thread's stack.
@Suite struct TestServerWatchdogTests {
    @Test func aRequestLeftUnansweredIsReportedWithWhereItStood() async throws {
        let server = try await ScriptServer.start(script: "s3-server.py", environment: ["SWAMP_S3_SERVER_STALL_SECONDS": "1"])
        defer { server.stop(reportingStalls: false) }
        let port = try #require(server.info["port"].flatMap { UInt16($0) })
        // A PUT whose body never finishes: 10 of its 100 bytes, then nothing.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #expect(fd >= 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        #expect(connected == 0)
        let request = Array("PUT /stalled-bucket HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n0123456789".utf8)
        #expect(request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) } == request.count)
        // Reported after three times the limit while the body is still coming (3 s here).
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline, !server.said().contains("s3-server watchdog:") {
            try await Task.sleep(for: .milliseconds(200))
        }
        let said = server.said()
        #expect(said.contains("s3-server watchdog: PUT /stalled-bucket unanswered after"), "\(said)")
        #expect(said.contains("reading its body"), "\(said)")
        // Every thread's stack, the stalled one's included.
        #expect(said.contains("in _body"), "\(said)")
        #expect(said.contains("in serve_forever"), "\(said)")
        // Once, however long it stays stalled.
        try await Task.sleep(for: .seconds(2))
        #expect(server.said().components(separatedBy: "s3-server watchdog:").count == 2)
    }
}
