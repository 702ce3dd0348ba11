// BufferCache: small tensor buffers kept for reuse. A forward pass at batch 1 allocates and frees
// a dozen small buffers; posix_memalign and free cost about as much as the arithmetic of a small
// layer. Buffers up to `maxBytes` are allocated in power-of-two sizes and, when their storage
// dies, kept (a few per size) for the next storage of that size class. Contents are not cleared:
// storage is uninitialised by contract until a kernel writes it.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

enum BufferCache {
    /// The largest buffer kept (256 KB: a batch of 128 activations of a 500-unit layer).
    static let maxBytes = 1 << 18
    /// Size classes 64 B … 256 KB, in powers of two.
    private static let minShift = 6, maxShift = 18
    /// Buffers kept per class; at most 8 × (64 B + … + 256 KB) ≈ 4 MB in all.
    private static let perClass = 8

    private final class Shelf: @unchecked Sendable {
        let lock = Mutex<Void>(())
        var buffers: [UnsafeMutableRawPointer] = []
        init() { buffers.reserveCapacity(BufferCache.perClass) }
    }
    private static let shelves: [Shelf] = (minShift...maxShift).map { _ in Shelf() }

    /// The class of a request: nil when it is too large to keep.
    @inline(__always) private static func shift(_ bytes: Int) -> Int? {
        guard bytes <= maxBytes else { return nil }
        let s = Int.bitWidth - (Swift.max(bytes, 1 << minShift) - 1).leadingZeroBitCount
        return s
    }

    /// How many bytes to allocate for a request: its class's size when it may be kept.
    static func allocationSize(_ bytes: Int) -> Int {
        guard let s = shift(bytes) else { return bytes }
        return 1 << s
    }

    /// A kept buffer of `bytes`' class, or nil.
    static func take(bytes: Int) -> UnsafeMutableRawPointer? {
        guard let s = shift(bytes) else { return nil }
        let shelf = shelves[s - minShift]
        return shelf.lock.withLock { _ in shelf.buffers.popLast() }
    }

    /// Keeps `p` (allocated by `allocationSize(bytes)`); false when it must be freed instead.
    static func give(_ p: UnsafeMutableRawPointer, bytes: Int) -> Bool {
        guard let s = shift(bytes) else { return false }
        let shelf = shelves[s - minShift]
        return shelf.lock.withLock { _ in
            guard shelf.buffers.count < perClass else { return false }
            shelf.buffers.append(p)
            return true
        }
    }
}
