import Foundation

/// The meta parser: anything it accepts can be committed on and read back without trapping.
func fuzzMeta(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    guard let meta = try? MetaIndex.decode(Data(bytes: start, count: count)) else { return 0 }
    require(meta.seq >= 0 && meta.seq <= MetaIndex.maximumSeq, "seq out of range")
    if let next = try? meta.committing([.shared]) { require(next.seq == meta.seq + 1, "commit did not advance") }
    for seq in [0, meta.seq / 2, meta.seq, max(0, meta.seq - 1)] {
        if let commits = meta.commits(after: seq) {
            for commit in commits { _ = PartitionID.validated(commit.partitions.first ?? "") }
        }
        // Hints a reader would fetch: bounded, and each a safe path of the partition it names.
        let hints = meta.hints(after: seq)
        require(hints.values.reduce(0) { $0 + $1.count } <= MetaIndex.hintBudget, "too many hints")
        for (partition, files) in hints {
            for (path, entry) in files {
                require((try? PartitionIndex.check(path, in: partition)) != nil, "unsafe hint")
                require(entry.size <= MetaIndex.hintMaximumBytes && !entry.isDeleted, "hint out of bounds")
            }
        }
    }
    return 0
}
