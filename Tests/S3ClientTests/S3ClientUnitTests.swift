import Foundation
import Testing

@testable import S3Client

@Suite struct S3ClientUnitTests {
    @Test func pathStyleAndVirtualHostedAddresses() throws {
        var configuration = S3ClientConfiguration(bucket: "team-bucket", endpoint: URL(string: "http://127.0.0.1:9000"), forcePathStyle: true)
        let path = configuration.address(key: "data/a b/1/raw")
        #expect(path.base == "http://127.0.0.1:9000")
        #expect(path.path == "/team-bucket/data/a%20b/1/raw")
        #expect(path.host == "127.0.0.1:9000")
        configuration.forcePathStyle = false
        configuration.endpoint = nil
        configuration.region = "eu-west-1"
        let virtual = configuration.address(key: "k")
        #expect(virtual.base == "https://team-bucket.s3.eu-west-1.amazonaws.com")
        #expect(virtual.path == "/k")
        #expect(virtual.host == "team-bucket.s3.eu-west-1.amazonaws.com")
        #expect(configuration.address(key: "k", region: "ap-south-1").host == "team-bucket.s3.ap-south-1.amazonaws.com", "a learnt region")
        // An endpoint that cannot have bucket subdomains is addressed by path without being told.
        for endpoint in ["http://127.0.0.1:9000", "http://localhost:9000", "http://[::1]:9000"] {
            configuration.endpoint = URL(string: endpoint)
            #expect(configuration.usesPathStyle && configuration.address(key: "k").path == "/team-bucket/k", "\(endpoint)")
        }
        configuration.endpoint = URL(string: "https://minio.example.com")
        #expect(!configuration.usesPathStyle && configuration.address(key: "k").host == "team-bucket.minio.example.com")
    }

    @Test func aWrongRegionAnswerIsAdoptedOnceAndOnlyWhenPlausible() {
        let learnt = RegionLog()
        let region = BucketRegion("us-east-1") { learnt.append($0) }
        #expect(region.correction(status: 301, headers: ["x-amz-bucket-region": "eu-west-1"], body: Data(), signedFor: "us-east-1") == "eu-west-1")
        #expect(region.value == "eu-west-1")
        let malformed = Data("<Error><Code>AuthorizationHeaderMalformed</Code><Region>ap-south-1</Region></Error>".utf8)
        #expect(region.correction(status: 400, headers: [:], body: malformed, signedFor: "eu-west-1") == "ap-south-1")
        #expect(region.correction(status: 400, headers: [:], body: malformed, signedFor: "ap-south-1") == nil, "already signed for it")
        #expect(region.correction(status: 403, headers: ["x-amz-bucket-region": "sa-east-1"], body: Data(), signedFor: "ap-south-1") == nil)
        #expect(region.correction(status: 301, headers: ["x-amz-bucket-region": "evil.com/x"], body: Data(), signedFor: "ap-south-1") == nil)
        #expect(region.value == "ap-south-1" && learnt.all == ["eu-west-1", "ap-south-1"])
    }

    @Test func retryDelaysGrowAndAreCapped() {
        let policy = RetryPolicy(maxAttempts: 5, baseDelay: .milliseconds(100), maxDelay: .seconds(1))
        #expect(policy.delay(afterAttempt: 1, jitter: 1) == .milliseconds(100))
        #expect(policy.delay(afterAttempt: 3, jitter: 1) == .milliseconds(400))
        #expect(policy.delay(afterAttempt: 9, jitter: 1) == .seconds(1))
        #expect(policy.delay(afterAttempt: 3, jitter: 0.5) == .milliseconds(200))
        #expect(policy.delay(afterAttempt: 3, jitter: 0) == .zero)
    }

    @Test func retriesAreBoundedInTimeAsWellAsAttempts() {
        let policy = RetryPolicy(maxAttempts: 5, maxElapsed: .seconds(30), maxElapsedUnreachable: .seconds(2))
        // Attempts first.
        #expect(policy.allowsRetry(afterAttempt: 4, elapsed: .zero, delay: .zero, unreachable: false))
        #expect(!policy.allowsRetry(afterAttempt: 5, elapsed: .zero, delay: .zero, unreachable: false))
        // A server that answers (5xx, throttling) gets 30 s, the wait before the retry included.
        #expect(policy.allowsRetry(afterAttempt: 2, elapsed: .seconds(29), delay: .seconds(1), unreachable: false))
        #expect(!policy.allowsRetry(afterAttempt: 2, elapsed: .seconds(29), delay: .milliseconds(1001), unreachable: false))
        // One that cannot be reached gets 2 s.
        #expect(policy.allowsRetry(afterAttempt: 2, elapsed: .seconds(1), delay: .milliseconds(500), unreachable: true))
        #expect(!policy.allowsRetry(afterAttempt: 2, elapsed: .seconds(1), delay: .milliseconds(1500), unreachable: true))
    }

    @Test func errorsParseAndClassify() {
        let body = Data("<?xml version=\"1.0\"?><Error><Code>SignatureDoesNotMatch</Code><Message>bad sig</Message></Error>".utf8)
        let error = S3Client.error(for: S3Client.Response(status: 403, headers: [:], body: body), operation: "GET k")
        #expect(error.code == .signatureDoesNotMatch)
        #expect(error.isAuthenticationFailure && !error.isRetryable)
        #expect(error.description.contains("check the credentials"))
        let slow = S3Client.error(for: S3Client.Response(status: 503, headers: [:], body: Data()), operation: "PUT k")
        #expect(slow.code == .slowDown && slow.isRetryable)
        #expect(S3Error(.preconditionFailed, status: 412, message: "", operation: "PUT").isRetryable == false)
    }

    @Test func listPagesParse() throws {
        let xml = """
            <?xml version="1.0" encoding="UTF-8"?>
            <ListBucketResult><Name>b</Name><IsTruncated>true</IsTruncated>
            <Contents><Key>_swamp/index/a.json</Key><Size>12</Size><ETag>"e1"</ETag></Contents>
            <Contents><Key>_swamp/index/b &amp; c.json</Key><Size>3</Size><ETag>"e2"</ETag></Contents>
            <NextContinuationToken>tok</NextContinuationToken></ListBucketResult>
            """
        let page = try #require(S3XML.listPage(Data(xml.utf8)))
        #expect(
            page.objects == [
                S3ObjectSummary(key: "_swamp/index/a.json", size: 12, etag: "\"e1\""),
                S3ObjectSummary(key: "_swamp/index/b & c.json", size: 3, etag: "\"e2\""),
            ])
        #expect(page.nextToken == "tok")
    }

    /// Our XML reader against what S3, STS and S3-compatible servers send, and against what a
    /// hostile or broken server might: each refused document reads as `nil` (the caller reports
    /// an invalid response), never as a partial reading.
    @Test func theXMLReaderReadsWhatServersSendAndRefusesTheRest() throws {
        func read(_ xml: String) -> [String]? { S3XML.Reader.read(Data(xml.utf8))?.map { "\($0.path)=\($0.text)" } }
        // A declaration, a namespace attribute, a comment, references, CDATA, an empty element,
        // a quoted `>` in an attribute, a byte order mark, CR LF line ends, multi-byte UTF-8.
        let document =
            "\u{FEFF}<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<!-- listing -->\r\n"
            + "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
            + "<Contents><Key>a &amp; b &lt;c&gt; &quot;d&quot; &apos;e&apos; &#38;&#x26;&#x1F600;</Key>"
            + "<Key><![CDATA[x &amp; <y>]]></Key><Size/><Owner id='>'>o</Owner><Key>é\r\nz</Key></Contents>"
            + "</ListBucketResult>\n<?done?>"
        #expect(
            read(document) == [
                "ListBucketResult/Contents/Key=a & b <c> \"d\" 'e' &&😀", "ListBucketResult/Contents/Key=x &amp; <y>",
                "ListBucketResult/Contents/Size=", "ListBucketResult/Contents/Owner=o", "ListBucketResult/Contents/Key=é\nz",
                "ListBucketResult/Contents=", "ListBucketResult=",
            ])
        // A parent's text is what follows its last child, as XMLParser's delegate saw it.
        #expect(read("<a>x<b>y</b>z</a>") == ["a/b=y", "a=z"])
        #expect(read("<a:Error xmlns:a='u'><a:Code>C</a:Code></a:Error>") == ["a:Error/a:Code=C", "a:Error="])
        let refused = [
            "", "   ", "text", "<a>", "<a></b>", "<a><b></a></b>", "</a>", "<a></a><b></b>", "<a></a>trailing",
            "<!DOCTYPE a [<!ENTITY e \"boom\">]><a>&e;</a>", "<a>&e;</a>", "<a>&amp</a>", "<a>&#xD800;</a>",
            "<a>&#0;</a>", "<a>&#x110000;</a>", "<a>&#+38;</a>", "<a>&#x;</a>", "<a><!-- unclosed</a>",
            "<a><![CDATA[unclosed</a>", "<![CDATA[x]]><a></a>", "<a b='1></a>", "<a <b></a>", "<></>", "<a><?pi</a>",
            String(repeating: "<a>", count: 65) + String(repeating: "</a>", count: 65),
        ]
        for xml in refused { #expect(read(xml) == nil, "\(xml.prefix(40))") }
        #expect(read(String(repeating: "<a>", count: 64) + String(repeating: "</a>", count: 64))?.count == 64)
        // A comment opened by `<!--` and closed by the next `-->` after it (not one overlapping it).
        #expect(read("<a><!--><b>x</b>--></a>") == ["a="])
        // A name of 1 KiB at most, read whole under many children (this checks the reading, not
        // the memory: paths built once per element are what keep the latter linear).
        let long = String(repeating: "N", count: 1024)
        let many = try #require(read("<\(long)>" + String(repeating: "<b/>", count: 20000) + "</\(long)>"))
        #expect(many.count == 20001 && many[0] == "\(long)/b=")
        #expect(read("<\(long)N></\(long)N>") == nil)
        // Bytes that are not UTF-8, in text (kept or not), a comment or a name.
        #expect(S3XML.Reader.read(Data([0x3C, 0x61, 0x3E, 0xFF, 0x3C, 0x62, 0x2F, 0x3E, 0x3C, 0x2F, 0x61, 0x3E])) == nil)
        #expect(S3XML.Reader.read(Data("<a><!--".utf8) + Data([0xFF]) + Data("--></a>".utf8)) == nil)
        #expect(S3XML.Reader.read(Data([0x3C, 0x61, 0x3E, 0xFF, 0x3C, 0x2F, 0x61, 0x3E])) == nil)
        #expect(S3XML.Reader.read(Data([0x3C, 0xC3, 0x3E, 0x3C, 0x2F, 0xC3, 0x3E])) == nil)
        // A listing is read only from a listing, and a truncated page must say where to go on.
        #expect(S3XML.listPage(Data("<Error><Code>InternalError</Code></Error>".utf8)) == nil)
        #expect(S3XML.listPage(Data("<html><body/></html>".utf8)) == nil)
        #expect(S3XML.listPage(Data("<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>".utf8)) == nil)
        let last = try #require(S3XML.listPage(Data("<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>".utf8)))
        #expect(last.objects.isEmpty && last.nextToken == nil)
        #expect(S3XML.uploadsPage(Data("<Error><Code>InternalError</Code></Error>".utf8)) == nil)
        #expect(
            S3XML.uploadsPage(Data("<ListMultipartUploadsResult><IsTruncated>true</IsTruncated></ListMultipartUploadsResult>".utf8)) == nil)
        let uploads = try #require(
            S3XML.uploadsPage(
                Data(
                    ("<ListMultipartUploadsResult><Upload><Key>k</Key><UploadId>u</UploadId></Upload><IsTruncated>true</IsTruncated>"
                        + "<NextKeyMarker>k</NextKeyMarker><NextUploadIdMarker>u</NextUploadIdMarker></ListMultipartUploadsResult>").utf8)))
        #expect(uploads.uploads.map(\.uploadId) == ["u"] && uploads.next?.key == "k" && uploads.next?.uploadId == "u")
        // What the readers built on it make of an S3 error and a multipart answer.
        let failure = try #require(S3XML.error(Data("<Error><Code>NoSuchKey</Code><Message>m &amp; n</Message></Error>".utf8)))
        #expect(failure.code == "NoSuchKey" && failure.message == "m & n")
        #expect(
            S3XML.text(
                Data("<InitiateMultipartUploadResult><UploadId>u1</UploadId></InitiateMultipartUploadResult>".utf8),
                at: "InitiateMultipartUploadResult/UploadId") == "u1")
    }

    /// The chain's provider for `variables`, fetched (IMDS off: no test may reach it).
    static func chain(_ variables: [String: String]) async throws -> S3Credentials {
        var variables = variables
        variables["AWS_EC2_METADATA_DISABLED"] = "true"
        variables["HOME"] = variables["HOME"] ?? "/nonexistent"
        return try await CredentialChain.provider(try AWSEnvironment(variables: variables)).fetch()
    }

    @Test func credentialsComeFromTheEnvironmentThenTheProfileAndNeverPrintTheSecret() async throws {
        let env = try await Self.chain(["AWS_ACCESS_KEY_ID": "AKIAENV", "AWS_SECRET_ACCESS_KEY": "s3cr3t", "AWS_SESSION_TOKEN": "tok"])
        #expect(env.accessKeyId == "AKIAENV" && env.sessionToken == "tok" && env.source == "environment")
        #expect(!env.description.contains("s3cr3t") && !"\(env)".contains("tok"))

        let file = FileManager.default.temporaryDirectory.appendingPathComponent("creds-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        try """
        [default]
        aws_access_key_id = AKIADEFAULT
        aws_secret_access_key = d
        # comment
        [team]
        aws_access_key_id=AKIATEAM
        aws_secret_access_key=t
        """.write(toFile: file, atomically: true, encoding: .utf8)
        let team = try await Self.chain(["AWS_PROFILE": "team", "AWS_SHARED_CREDENTIALS_FILE": file])
        #expect(team.accessKeyId == "AKIATEAM" && team.source == "profile team")
        #expect(try await Self.chain(["AWS_SHARED_CREDENTIALS_FILE": file]).accessKeyId == "AKIADEFAULT")
        await #expect(throws: CredentialError.self) { try await Self.chain(["AWS_PROFILE": "nope", "AWS_SHARED_CREDENTIALS_FILE": file]) }
        await #expect(throws: CredentialError.self) { try await Self.chain(["AWS_ACCESS_KEY_ID": "x"]) }
        await #expect(throws: CredentialError.self) { try await Self.chain([:]) }
    }

    @Test func everyCodeHasItsOwnReportCode() {
        let expected: [(S3Error.Code, Int, String)] = [
            (.noSuchBucket, 404, "no_such_bucket"), (.noSuchKey, 404, "no_such_key"), (.accessDenied, 403, "access_denied"),
            (.signatureDoesNotMatch, 403, "signature_mismatch"), (.invalidAccessKeyId, 403, "invalid_access_key"),
            (.preconditionFailed, 412, "precondition_failed"), (.conditionalRequestConflict, 409, "conditional_request_conflict"),
            (.slowDown, 503, "throttled"), (.internalError, 500, "server_error"), (.serviceUnavailable, 503, "server_error"),
            (.connectionFailed, 0, "connection_failed"), (.timeout, 0, "timeout"), (.invalidResponse, 200, "invalid_response"),
            (.missingCredentials, 0, "missing_credentials"), (.tooLarge, 200, "response_too_large"),
            (.requestTimeTooSkewed, 403, "clock_skew"), (S3Error.Code("NoSuchUpload"), 404, "s3_no_such_upload"),
            (S3Error.Code("AllAccessDisabled"), 403, "access_denied"),
        ]
        for (code, status, report) in expected {
            let error = S3Error(code, status: status, message: "m", operation: "GET k")
            #expect(error.errorCode == report, "\(code)")
            #expect(error.errorMessage == "S3 GET k failed: \(code)\(status > 0 ? " (HTTP \(status))" : ""): m")
        }
        for code: S3Error.Code in [.noSuchBucket, .accessDenied, .missingCredentials, .connectionFailed, .timeout, .slowDown, .tooLarge] {
            #expect(S3Error(code, status: 0, message: "m", operation: "GET k").hint != nil, "\(code) has no hint")
        }
    }
}

/// Regions reported by a ``BucketRegion``, in order.
final class RegionLog: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [String] = []
    func append(_ region: String) { lock.withLock { stored.append(region) } }
    var all: [String] { lock.withLock { stored } }
}
