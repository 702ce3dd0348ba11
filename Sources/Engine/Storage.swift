// Storage: the 64-byte aligned float buffer behind every tensor.
#if canImport(Glibc)
import Glibc
import CBLAS
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a storage's floats start and how many there are.
public struct StorageHeader {
    public let data: UnsafeMutablePointer<Float>
    public let count: Int
}

/// A contiguous, 64-byte aligned buffer of `Float`s, shared by tensors that view the same data
/// (a reshape shares its input's storage). The floats live in the object's own allocation, after
/// its header: one malloc per tensor instead of an object and an aligned buffer (at batch 1 a
/// small layer's allocations cost more than its arithmetic; posix_memalign alone split chunks).
/// Not `Sendable` (no ManagedBuffer is); `Tensor`, which is declared so, carries it.
public final class Storage: ManagedBuffer<StorageHeader, Float> {
    @inline(__always) public var data: UnsafeMutablePointer<Float> { header.data }
    @inline(__always) public var count: Int { header.count }

    /// Floats of padding that let the data start on a 64-byte boundary inside the allocation.
    private static let alignmentPadding = 64 / MemoryLayout<Float>.stride - 1

    /// Uninitialised storage for `count` floats. Callers pass a count that passed
    /// `TensorSize.elements` (or that of storage that already exists).
    static func make(count: Int) -> Storage {
        Storage.configureAllocator
        let made = Storage.create(minimumCapacity: max(count, 1) + alignmentPadding) { buffer in
            buffer.withUnsafeMutablePointerToElements { first in
                let misalignment = Int(bitPattern: first) & 63
                let skip = misalignment == 0 ? 0 : (64 - misalignment) / MemoryLayout<Float>.stride
                return StorageHeader(data: first + skip, count: count)
            }
        }
        let storage = unsafeDowncast(made, to: Storage.self)
        #if canImport(Glibc)
        // A dataset read in random batches takes a TLB miss per sample on 4 KB pages; ask for
        // 2 MB pages on the whole 2 MB blocks of a large buffer (before its first touch).
        let bytes = count * MemoryLayout<Float>.stride
        if bytes >= 8 << 20 {
            let huge = 2 << 20, raw = Int(bitPattern: storage.data)
            let start = (raw + huge - 1) & ~(huge - 1)
            let end = (raw + bytes) & ~(huge - 1)
            if end > start { _ = madvise(UnsafeMutableRawPointer(bitPattern: start), end - start, MADV_HUGEPAGE) }
        }
        #endif
        return storage
    }

    /// Storage filled with `value`.
    static func make(count: Int, repeating value: Float) -> Storage {
        let storage = make(count: count)
        storage.data.initialize(repeating: value, count: count)
        return storage
    }

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
