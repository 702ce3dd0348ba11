// Loaders against hostile files (issue 25): sizes a header or trailer declares are checked
// against a cap before anything that large is allocated, and CSV numbers read as written.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CZlib
import Testing
import TestSupport
import Engine
@testable import Data

/// Streams `header` and then `zeros` zero bytes through gzip (run-length strategy: fast, and
/// zeros compress about a thousandfold) into `path`, without holding the plain bytes in memory.
func writeGzipOfZeros(header: [UInt8], zeros: Int, to path: String) throws {
    var stream = z_stream()
    guard deflateInit2_(&stream, 1, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_RLE, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
        throw EngineError("deflateInit2 failed")
    }
    defer { deflateEnd(&stream) }
    guard let file = fopen(path, "wb") else { throw EngineError("fopen failed for \(path)") }
    defer { fclose(file) }
    var out = [UInt8](repeating: 0, count: 1 << 20)
    let block = [UInt8](repeating: 0, count: 1 << 22)
    func feed(_ bytes: [UInt8], finish: Bool) {
        bytes.withUnsafeBufferPointer { input in
            stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
            stream.avail_in = uInt(input.count)
            repeat {
                out.withUnsafeMutableBufferPointer { o in
                    stream.next_out = o.baseAddress
                    stream.avail_out = uInt(o.count)
                    _ = deflate(&stream, finish ? Z_FINISH : Z_NO_FLUSH)
                    fwrite(o.baseAddress, 1, o.count - Int(stream.avail_out), file)
                }
            } while stream.avail_out == 0 || (finish && stream.avail_in > 0)
        }
    }
    feed(header, finish: false)
    var left = zeros
    while left > 0 {
        let n = min(left, block.count)
        feed(Array(block[..<n]), finish: false)
        left -= n
    }
    feed([], finish: true)
}

/// The process's peak resident size so far, in bytes.
func peakResidentBytes() -> Int {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return Int(usage.ru_maxrss) * 1024
}

@Suite struct HardeningDataTests {
    @Test func idxHeaderDeclaringAHugeArrayIsRejectedBeforeAllocating() throws {
        let dir = try makeDirectory()
        defer { removeDirectory(dir) }
        try writeIDXPair(dir, n: 2)
        let images = FashionMNIST.files(.train, directory: dir).images
        // [2, 30000, 30000]: 1.8 GB of pixels (7.2 GB as floats) from a 1.7 MB file.
        try writeGzipOfZeros(header: idxBytes(magic: IDX.imagesMagic, dims: [2, 30000, 30000], payload: []),
                             zeros: 2 * 30000 * 30000, to: images)
        let before = peakResidentBytes()
        let message = errorMessage { _ = try FashionMNIST.load(.train, directory: dir) }
        #expect(message?.contains(images) == true, "\(message ?? "loaded")")
        #expect(message?.contains("too large") == true, "\(message ?? "loaded")")
        #expect(peakResidentBytes() - before < 600 << 20, "peak grew by \((peakResidentBytes() - before) >> 20) MiB")
    }

    @Test func gzipTrailerClaimingFourGigabytesIsNotTrusted() throws {
        let dir = try makeDirectory()
        defer { removeDirectory(dir) }
        let path = dir + "/big-claim.gz"
        // 4 MB of incompressible bytes, so deflate's best ratio would allow a 4 GB output.
        var state: UInt64 = 42
        let noise = (0..<(4 << 20)).map { _ -> UInt8 in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: state >> 56)
        }
        try writeGzip(noise, to: path)
        var bytes = try readRaw(path)
        for i in 1...4 { bytes[bytes.count - i] = 0xFF }  // ISIZE: 4 GB − 1
        let before = peakResidentBytes()
        let message = errorMessage { _ = try IDX.gunzip(bytes, file: path) }
        #expect(message?.contains(path) == true, "\(message ?? "no error")")
        #expect(peakResidentBytes() - before < 600 << 20, "peak grew by \((peakResidentBytes() - before) >> 20) MiB")
    }

    @Test func readsOfDevicesAreBounded() throws {
        let message = errorMessage { _ = try IDX.readFile("/dev/zero") }
        #expect(message?.contains("/dev/zero") == true, "\(message ?? "no error")")
    }

    @Test func digitsCSVReadsDecimalPoints() throws {
        let dir = try makeDirectory()
        defer { removeDirectory(dir) }
        let path = dir + "/digits.csv.gz"
        var row = Array(repeating: "0.0", count: 64)
        row[0] = "1.0"; row[1] = "16.00"; row[2] = "8"
        try writeGzip(Array((row.joined(separator: ",") + ",3.0\n").utf8), to: path)
        let d = try Digits.load(path: path, size: 8)
        #expect(d.labels == [3])
        #expect(Array(d.images.array.prefix(3)) == [1.0 / 16, 1, 0.5], "\(Array(d.images.array.prefix(3)))")
        for bad in ["1.5", "1..0", "."] {
            var r = Array(repeating: "0", count: 64)
            r[5] = bad
            try writeGzip(Array((r.joined(separator: ",") + ",3\n").utf8), to: path)
            let message = errorMessage { _ = try Digits.load(path: path, size: 8) }
            #expect(message?.contains(":1:") == true, "\(bad): \(message ?? "loaded")")
        }
    }
}
