import Foundation

/// The partition index parser: anything it accepts lists only safe paths of its partition,
/// in range, with no file that is also a directory.
func fuzzIndex(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let data = Data(bytes: start, count: count)
    for expected in [PartitionID.shared, PartitionID("models/command/shell/0b0e0000-0000-4000-8000-000000000000")] {
        guard let index = try? PartitionIndex.decode(data, expected: expected) else { continue }
        require(index.entries.count <= PartitionIndex.maximumEntries, "too many entries")
        let shape = TreeShape(index)
        for (path, entry) in index.entries {
            require(staysInside(path), "'\(path)' escapes the cache")
            require(PartitionID.of(path) == expected, "'\(path)' is another partition's")
            require(entry.seq <= MetaIndex.maximumSeq && entry.seq >= 0, "seq out of range")
            if !entry.isDeleted {
                require(entry.size >= 0, "negative size")
                require(!shape.clashes(path), "'\(path)' is a file and a directory")
            }
        }
        _ = try? index.encoded()
    }
    return 0
}
