import Foundation
import SwampContracts
import Synchronization

/// Every lock this process holds, so that an interrupt can release them all — also the ones a
/// cancelled operation has not reached yet — within a bounded time.
public enum HeldLocks {
    private static let held = Mutex<[ObjectIdentifier: any DistributedLock]>([:])

    /// Records that `lock` is held (lock implementations call this when they acquire).
    public static func register(_ lock: any DistributedLock) {
        held.withLock { $0[ObjectIdentifier(lock as AnyObject)] = lock }
    }

    /// Records that `lock` was released.
    public static func unregister(_ lock: any DistributedLock) {
        _ = held.withLock { $0.removeValue(forKey: ObjectIdentifier(lock as AnyObject)) }
    }

    /// How many locks are held now.
    public static var count: Int { held.withLock { $0.count } }

    /// Releases every held lock, giving up after `limit` (a lock not released by then expires by its TTL).
    /// - Returns: how many were still held when the time ran out.
    @discardableResult
    public static func releaseAll(within limit: Duration) async -> Int {
        let locks = held.withLock { Array($0.values) }
        guard !locks.isEmpty else { return 0 }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await withTaskGroup(of: Void.self) { releases in
                    for lock in locks { releases.addTask { try? await lock.release() } }
                }
            }
            group.addTask { try? await Task.sleep(for: limit) }
            _ = await group.next()
            group.cancelAll()
        }
        return count
    }
}

/// Runs `body` to completion even when the calling task is cancelled: cleanup that must not be
/// cut short, such as releasing locks after a Ctrl-C. The caller awaits it (nothing is left running).
public func uncancelled<T: Sendable>(_ body: @escaping @Sendable () async -> T) async -> T {
    await Task { await body() }.value
}
