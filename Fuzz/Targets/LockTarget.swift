import Foundation

/// The lock record parser: a record accepted as plausible has a finite expiry and bounded fields.
func fuzzLock(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    guard let info = try? JSONDecoder.lock.decode(LockInfo.self, from: Data(bytes: start, count: count)) else { return 0 }
    guard info.isPlausible else { return 0 }
    require(info.expiresAt.timeIntervalSince1970.isFinite, "expiry not finite")
    _ = info.isStale(at: Date())
    _ = info.holderDescription
    _ = try? JSONEncoder.lock.encode(info)
    return 0
}
