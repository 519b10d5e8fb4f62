import Crypto
import Foundation
import Testing

@testable import S3Client

/// AWS's published Signature V4 test-suite vectors (credentials AKIDEXAMPLE, region
/// us-east-1, service "service", 2015-08-30T12:36:00Z) and the S3 GET-object example.
@Suite struct SigV4SignerTests {
    let suite = SigV4Signer(
        accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", region: "us-east-1", service: "service")
    let base = [("Host", "example.amazonaws.com"), ("X-Amz-Date", "20150830T123600Z")]

    @Test func getVanilla() {
        let result = suite.sign(method: "GET", encodedPath: "/", query: [], headers: base, payload: .empty)
        #expect(
            result.canonicalRequest == """
                GET
                /

                host:example.amazonaws.com
                x-amz-date:20150830T123600Z

                host;x-amz-date
                e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
                """)
        #expect(
            result.stringToSign == """
                AWS4-HMAC-SHA256
                20150830T123600Z
                20150830/us-east-1/service/aws4_request
                bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63
                """)
        #expect(result.signature == "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
        #expect(
            result.authorization
                == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        )
    }

    @Test func getVanillaQueryOrderKeyCase() {
        let result = suite.sign(method: "GET", encodedPath: "/", query: [("Param2", "value2"), ("Param1", "value1")], headers: base, payload: .empty)
        #expect(result.canonicalRequest.split(separator: "\n", omittingEmptySubsequences: false)[2] == "Param1=value1&Param2=value2")
        #expect(result.signature == "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500")
    }

    @Test func getUTF8() {
        let path = "/" + SigV4Signer.encode("ሴ")
        #expect(path == "/%E1%88%B4")
        let result = suite.sign(method: "GET", encodedPath: path, query: [], headers: base, payload: .empty)
        #expect(result.signature == "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85")
    }

    @Test func postXWWWFormURLEncoded() {
        let body = Data("Param1=value1".utf8)
        let payload = SigV4Signer.Payload.of(body)
        #expect(payload == .hashed("9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e"))
        let result = suite.sign(
            method: "POST", encodedPath: "/", query: [],
            headers: [("Content-Type", "application/x-www-form-urlencoded")] + base, payload: payload)
        #expect(result.signedHeaders == "content-type;host;x-amz-date")
        #expect(result.stringToSign.hasSuffix("\n42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281"))
        #expect(result.signature == "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a")
    }

    /// The S3 documentation's GET Object example, signed with the hash of the empty payload.
    @Test func s3GetObjectWithHashedPayload() {
        let signer = SigV4Signer(
            accessKeyId: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", region: "us-east-1")
        let result = signer.sign(
            method: "GET", encodedPath: "/test.txt", query: [],
            headers: [
                ("Host", "examplebucket.s3.amazonaws.com"), ("Range", "bytes=0-9"),
                ("x-amz-content-sha256", SigV4Signer.Payload.empty.headerValue), ("x-amz-date", "20130524T000000Z"),
            ],
            payload: .empty)
        #expect(result.signedHeaders == "host;range;x-amz-content-sha256;x-amz-date")
        #expect(result.stringToSign.hasSuffix("\n7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972"))
        #expect(result.signature == "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
    }

    /// With UNSIGNED-PAYLOAD the body is outside the signature: the canonical request ends
    /// with the literal, and changing the body does not change the signature.
    @Test func s3RequestWithUnsignedPayload() {
        let signer = SigV4Signer(
            accessKeyId: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", region: "us-east-1")
        let headers = [
            ("Host", "examplebucket.s3.amazonaws.com"), ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"), ("x-amz-date", "20130524T000000Z"),
        ]
        let unsigned = signer.sign(method: "PUT", encodedPath: "/test%24file.text", query: [], headers: headers, payload: .unsigned)
        #expect(unsigned.canonicalRequest.hasSuffix("\nhost;x-amz-content-sha256;x-amz-date\nUNSIGNED-PAYLOAD"))
        let hashed = signer.sign(
            method: "PUT", encodedPath: "/test%24file.text", query: [], headers: headers, payload: .of(Data("Welcome to Amazon S3.".utf8)))
        #expect(hashed.canonicalRequest.hasSuffix("\n44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"))
        #expect(hashed.signature != unsigned.signature)
    }

    @Test func headerValuesAreTrimmedAndRepeatedHeadersJoined() {
        let result = suite.sign(
            method: "GET", encodedPath: "/", query: [],
            headers: base + [("My-Header1", "  a   b   c  "), ("my-header2", "v2"), ("My-Header2", "v1")], payload: .empty)
        #expect(result.canonicalRequest.contains("\nmy-header1:a b c\nmy-header2:v2,v1\n"))
    }

    @Test func encodingKeepsOnlyUnreservedCharacters() {
        #expect(SigV4Signer.encode("a b+c/d~e=f") == "a%20b%2Bc%2Fd~e%3Df")
        #expect(SigV4Signer.encode("data/x y/1/raw", keepSlash: true) == "data/x%20y/1/raw")
        #expect(SigV4Signer.amzDate(Date(timeIntervalSince1970: 1_440_938_160)) == "20150830T123600Z")
    }

    /// The date is UTC, whole seconds (a fraction is dropped), four-digit years and padded fields.
    @Test func amzDateIsUTCInWholeSeconds() {
        #expect(SigV4Signer.amzDate(Date(timeIntervalSince1970: 0)) == "19700101T000000Z")
        #expect(SigV4Signer.amzDate(Date(timeIntervalSince1970: 951_782_399.999)) == "20000228T235959Z")
        #expect(SigV4Signer.amzDate(Date(timeIntervalSince1970: 951_782_400)) == "20000229T000000Z")
        #expect(SigV4Signer.amzDate(Date(timeIntervalSince1970: 1_798_761_599)) == "20261231T235959Z")
        #expect(SigV4Signer.amzDate(Date(timeIntervalSince1970: 4_102_444_800)) == "21000101T000000Z")
        // A clock out of range is clamped, never a crash.
        #expect(SigV4Signer.amzDate(Date(timeIntervalSince1970: -1)) == "19700101T000000Z")
        #expect(SigV4Signer.amzDate(Date(timeIntervalSince1970: .infinity)) == "99991231T235959Z")
        #expect(SigV4Signer.amzDate(Date(timeIntervalSince1970: .nan)) == "19700101T000000Z")
    }

    /// Values with nothing to trim are kept as they are; the others lose edge blanks and runs
    /// of spaces, whatever they contain.
    @Test func trimmingKeepsPlainValuesAndCollapsesTheRest() {
        #expect(SigV4Signer.trim("") == "")
        #expect(SigV4Signer.trim("abc") == "abc")
        #expect(SigV4Signer.trim("a b c") == "a b c")
        #expect(SigV4Signer.trim(" a") == "a")
        #expect(SigV4Signer.trim("a ") == "a")
        #expect(SigV4Signer.trim("a  b") == "a b")
        #expect(SigV4Signer.trim("\ta b\t") == "a b")
        #expect(SigV4Signer.trim("é  ü") == "é ü")
        #expect(SigV4Signer.trim("\u{00A0}x\u{00A0}") == "x")
        #expect(SigV4Signer.trim("   ") == "")
    }

    /// The derived key is kept per secret, day, region and service: another secret on the same
    /// day signs differently, and the first signs as the published vector says before and after.
    @Test func derivedKeysNeverCrossSecretsOrDays() {
        let known = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        #expect(suite.sign(method: "GET", encodedPath: "/", query: [], headers: base, payload: .empty).signature == known)
        let other = SigV4Signer(accessKeyId: "AKIDEXAMPLE", secretAccessKey: "another secret", region: "us-east-1", service: "service")
        let otherSignature = other.sign(method: "GET", encodedPath: "/", query: [], headers: base, payload: .empty).signature
        #expect(otherSignature != known)
        #expect(suite.sign(method: "GET", encodedPath: "/", query: [], headers: base, payload: .empty).signature == known)
        let nextDay = [("Host", "example.amazonaws.com"), ("X-Amz-Date", "20150831T123600Z")]
        let later = suite.sign(method: "GET", encodedPath: "/", query: [], headers: nextDay, payload: .empty)
        #expect(later.signature != known)
        #expect(later.stringToSign.contains("20150831/us-east-1/service/aws4_request"))
        // Computed afresh (no cache) the same key signs the same.
        var fresh = SymmetricKeyCheck.derive(secret: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", day: "20150831")
        #expect(fresh == SymmetricKeyCheck.bytes(suite.signingKey(day: "20150831")))
        fresh = SymmetricKeyCheck.derive(secret: "another secret", day: "20150830")
        #expect(fresh == SymmetricKeyCheck.bytes(other.signingKey(day: "20150830")))
        // Two spellings of one text ("sé" composed and decomposed) are two secrets.
        let composed = SigV4Signer(accessKeyId: "A", secretAccessKey: "s\u{E9}", region: "us-east-1", service: "service")
        let decomposed = SigV4Signer(accessKeyId: "A", secretAccessKey: "se\u{301}", region: "us-east-1", service: "service")
        #expect(SymmetricKeyCheck.bytes(composed.signingKey(day: "20150830")) == SymmetricKeyCheck.derive(secret: "s\u{E9}", day: "20150830"))
        #expect(SymmetricKeyCheck.bytes(decomposed.signingKey(day: "20150830")) == SymmetricKeyCheck.derive(secret: "se\u{301}", day: "20150830"))
    }
}

/// The SigV4 key derivation written out again, for comparison with the signer's kept keys.
private enum SymmetricKeyCheck {
    static func derive(secret: String, day: String) -> [UInt8] {
        var key = SymmetricKey(data: Data("AWS4\(secret)".utf8))
        for part in [day, "us-east-1", "service", "aws4_request"] {
            key = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Data(part.utf8), using: key)))
        }
        return bytes(key)
    }

    static func bytes(_ key: SymmetricKey) -> [UInt8] { key.withUnsafeBytes { Array($0) } }
}
