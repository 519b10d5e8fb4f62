import Foundation
import Synchronization

/// The region a bucket is in, as this process knows it: configured or guessed at first, then
/// corrected — once per wrong guess — from S3's own answer (`x-amz-bucket-region`, or the
/// `Region` of a `301 PermanentRedirect` / `400 AuthorizationHeaderMalformed`), and shared by
/// every client of the bucket. `onDiscover` may persist what was learnt.
public final class BucketRegion: Sendable {
    private let current: Mutex<String>
    private let onDiscover: @Sendable (String) -> Void

    public init(_ region: String, onDiscover: @escaping @Sendable (String) -> Void = { _ in }) {
        current = Mutex(region)
        self.onDiscover = onDiscover
    }

    public var value: String { current.withLock { $0 } }

    /// The region `response` says the bucket is in, when it is a wrong-region answer to a request
    /// signed for `signedFor`; adopts it (and reports it once) if it is news.
    func correction(status: Int, headers: [String: String], body: Data, signedFor: String) -> String? {
        guard [301, 307, 400].contains(status) else { return nil }
        var region = headers["x-amz-bucket-region"]
        if region == nil, !body.isEmpty { region = S3XML.text(body, at: "Error/Region") }
        guard let region, !region.isEmpty, region != signedFor, Self.plausible(region) else { return nil }
        let changed = current.withLock { value -> Bool in
            guard value != region else { return false }
            value = region
            return true
        }
        if changed { onDiscover(region) }
        return region
    }

    /// `eu-west-1`, `us-gov-west-1`, `cn-north-1`: ASCII lower-case letters, digits and dashes
    /// only — nothing that could change the host name it is put in.
    public static func plausible(_ region: String) -> Bool {
        !region.isEmpty && region.count <= 32 && region.utf8.allSatisfy { (97...122).contains($0) || (48...57).contains($0) || $0 == 45 }
    }

    /// The DNS suffix of the AWS partition a region is in (`amazonaws.com.cn` for China).
    public static func dnsSuffix(_ region: String) -> String { region.hasPrefix("cn-") ? "amazonaws.com.cn" : "amazonaws.com" }
}
