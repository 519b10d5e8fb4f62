import Foundation

/// The path validator: whatever it accepts stays inside the cache, never names local state,
/// and classifies without trapping.
func fuzzPath(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let path = String(decoding: UnsafeRawBufferPointer(start: start, count: count), as: UTF8.self)
    let partition = PartitionID.of(path)
    let classified = DatastorePath(path)
    if case .versionFile(_, _, let version, _) = classified.kind { require(version + 1 > version, "version \(version) overflows") }
    _ = PartitionID.validated(path)
    guard let segments = try? PathRules.validateRelativePath(path) else { return 0 }
    require(staysInside(path), "'\(path)' escapes the cache")
    require(!segments.contains { $0.hasPrefix(".") }, "'\(path)' has a dot segment")
    let bytes = byteSegments(path)
    require(bytes.count == segments.count, "'\(path)' has a '/' the validator did not split on")
    require(!bytes.contains { $0.first == UInt8(ascii: ".") }, "'\(path)' has a segment starting with a '.' byte")
    if (try? PartitionIndex.check(path, in: partition)) != nil {
        require(PartitionID.of(path) == partition, "ownership changed")
    }
    return 0
}
