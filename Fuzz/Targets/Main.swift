import Foundation

/// The target this run fuzzes: `FUZZ_TARGET` = path, index, meta or lock.
let target = ProcessInfo.processInfo.environment["FUZZ_TARGET"] ?? "path"

/// libFuzzer's entry point: one input to the chosen target.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    guard let start else { return 0 }
    switch target {
    case "index": return fuzzIndex(start, count)
    case "meta": return fuzzMeta(start, count)
    case "lock": return fuzzLock(start, count)
    default: return fuzzPath(start, count)
    }
}
