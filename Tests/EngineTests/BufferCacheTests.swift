// Small tensor buffers are kept for reuse when their storage dies: a buffer comes back only
// after its storage is gone, never to two live tensors, and large ones are not kept.
import Testing
@testable import Engine

@Suite struct BufferCacheTests {
    @Test func aKeptBufferServesTheNextStorageOfItsSizeOnly() throws {
        var a: Tensor? = try Tensor.empty([100])
        let address = a.map { UnsafeMutableRawPointer($0.data) }
        a = nil
        // Same size class (101 floats round up to the same 512 bytes): the buffer may come back,
        // and while it is in use no other storage gets it.
        let b = try Tensor.empty([101])
        let c = try Tensor.empty([101])
        #expect(UnsafeMutableRawPointer(b.data) != UnsafeMutableRawPointer(c.data))
        #expect([UnsafeMutableRawPointer(b.data), UnsafeMutableRawPointer(c.data)].contains(address) || address == nil)
        for i in 0..<101 { b.data[i] = 1; c.data[i] = 2 }
        #expect(b.array.allSatisfy { $0 == 1 } && c.array.allSatisfy { $0 == 2 })
        // Every buffer is 64-byte aligned, kept or new.
        for t in [b, c] { #expect(Int(bitPattern: t.data) % 64 == 0) }
    }

    @Test func sizeClassesAndLimits() {
        #expect(BufferCache.allocationSize(4) == 64)
        #expect(BufferCache.allocationSize(64) == 64)
        #expect(BufferCache.allocationSize(65) == 128)
        #expect(BufferCache.allocationSize(BufferCache.maxBytes) == BufferCache.maxBytes)
        #expect(BufferCache.allocationSize(BufferCache.maxBytes + 4) == BufferCache.maxBytes + 4, "large buffers keep their size")
        #expect(BufferCache.take(bytes: BufferCache.maxBytes + 4) == nil)
    }
}
