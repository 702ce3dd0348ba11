// Storage: the 64-byte aligned float buffer behind every tensor.
#if canImport(Glibc)
import Glibc
import CBLAS
#elseif canImport(Darwin)
import Darwin
#endif

/// A contiguous, 64-byte aligned buffer of `Float`s, shared by tensors that view the same data
/// (a reshape shares its input's storage).
public final class Storage: @unchecked Sendable {
    public let data: UnsafeMutablePointer<Float>
    public let count: Int

    /// Uninitialised storage for `count` floats. Callers pass a count that passed
    /// `TensorSize.elements` (or that of storage that already exists).
    init(count: Int) {
        Storage.configureAllocator
        self.count = count
        var raw: UnsafeMutableRawPointer?
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        if posix_memalign(&raw, 64, bytes) != 0 || raw == nil {
            // Out of memory is not something a user can fix from a script; report and stop.
            fatalError("prune: out of memory allocating \(bytes) bytes")
        }
        data = raw!.bindMemory(to: Float.self, capacity: max(count, 1))
        #if canImport(Glibc)
        // A dataset read in random batches takes a TLB miss per sample on 4 KB pages; ask for
        // 2 MB pages on the whole 2 MB blocks of a large buffer (before its first touch).
        if bytes >= 8 << 20, let raw {
            let huge = 2 << 20
            let start = (Int(bitPattern: raw) + huge - 1) & ~(huge - 1)
            let end = (Int(bitPattern: raw) + bytes) & ~(huge - 1)
            if end > start { _ = madvise(UnsafeMutableRawPointer(bitPattern: start), end - start, MADV_HUGEPAGE) }
        }
        #endif
    }

    /// Storage filled with `value`.
    convenience init(count: Int, repeating value: Float) {
        self.init(count: count)
        data.initialize(repeating: value, count: count)
    }

    deinit { free(data) }

    public var buffer: UnsafeMutableBufferPointer<Float> { .init(start: data, count: count) }

    /// Large buffers would otherwise come from mmap and be returned on free, so every training
    /// step would pay page faults for its activations; keep them in the heap for reuse.
    private static let configureAllocator: Void = {
        #if canImport(Glibc)
        _ = mallopt(M_MMAP_THRESHOLD, 1 << 30)
        _ = mallopt(M_TRIM_THRESHOLD, 1 << 30)
        #endif
    }()
}
