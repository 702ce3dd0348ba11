// IDX: reads gzip-compressed IDX files (the MNIST family's format) into bytes, checking every
// length the header claims so that a damaged or foreign file is reported, never trusted.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CZlib
import Engine

/// A parsed IDX array of unsigned bytes. It keeps the whole decompressed file and the offset of
/// the payload, so that a 47 MB image file is never copied just to drop its 16-byte header.
public struct IDXArray: Sendable {
    /// The path it was read from, for error messages further along.
    public let file: String
    /// The dimensions from the header, outermost first.
    public let dims: [Int]
    /// The whole decompressed file; the payload is `bytes[offset..<offset + count]`.
    public let bytes: [UInt8]
    /// Where the payload starts (after the magic and the dimensions).
    public let offset: Int

    /// The number of payload elements (the product of `dims`).
    public var count: Int { dims.reduce(1, *) }

    /// Calls `body` with the payload bytes.
    public func withPayload<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        try bytes.withUnsafeBufferPointer { all in
            try body(UnsafeBufferPointer(rebasing: all[offset..<offset + count]))
        }
    }
}

/// Reading IDX files: `IDX.read("train-images-idx3-ubyte.gz", magic: IDX.imagesMagic)`.
public enum IDX {
    /// Unsigned bytes, three dimensions: images [n, rows, cols].
    public static let imagesMagic: UInt32 = 0x0000_0803
    /// Unsigned bytes, one dimension: labels [n].
    public static let labelsMagic: UInt32 = 0x0000_0801
    /// The largest file, compressed or not, a loader reads (256 MiB; Fashion-MNIST's biggest
    /// is 47 MB). A device, a huge file or a gzip bomb stops here instead of exhausting memory.
    public static let maxBytes = 1 << 28

    /// Reads, decompresses and parses a gzip-compressed IDX file whose magic must be `magic`.
    /// `hint` is appended to the message when the file does not exist (how to install it).
    public static func read(_ path: String, magic: UInt32, hint: String? = nil) throws -> IDXArray {
        let compressed = try readFile(path, hint: hint)
        let bytes = try gunzip(compressed, file: path)
        return try parse(bytes, magic: magic, file: path)
    }

    /// The raw contents of a file. A missing file gets its own message (with `hint`), since
    /// that is the one error a user is likely to meet and can fix.
    public static func readFile(_ path: String, hint: String? = nil) throws -> [UInt8] {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            let code = errno
            if code == ENOENT {
                throw DataError("\(path) not found" + (hint.map { "; \($0)" } ?? ""))
            }
            throw DataError("cannot open \(path): \(String(cString: strerror(code)))")
        }
        defer { close(fd) }
        var info = stat()
        // The size is only a capacity hint: the read loop below stops at end of file either way.
        let expected = fstat(fd, &info) == 0 ? max(Int(info.st_size), 0) : 0
        guard expected <= maxBytes else { throw tooLarge(path) }
        var result = [UInt8](repeating: 0, count: max(expected, 1 << 16))
        var length = 0
        while true {
            if length == result.count {
                guard result.count < maxBytes else { throw tooLarge(path) }
                result.append(contentsOf: repeatElement(0, count: Swift.min(result.count, maxBytes - result.count + 1)))
            }
            // The buffer is never empty (at least 64 KiB), so it always has a base address.
            let got = result.withUnsafeMutableBytes { buffer -> Int in
                guard let base = buffer.baseAddress else { return 0 }
                return systemRead(fd, base + length, buffer.count - length)
            }
            if got == 0 { break }
            if got < 0 {
                let code = errno
                if code == EINTR { continue }
                throw DataError("cannot read \(path): \(String(cString: strerror(code)))")
            }
            length += got
        }
        result.removeSubrange(length...)
        return result
    }

    /// Decompresses a whole gzip file held in memory (several concatenated members are allowed,
    /// as gzip itself allows). `file` names it in errors.
    public static func gunzip(_ compressed: [UInt8], file: String) throws -> [UInt8] {
        // zlib could be asked to pass plain data through, but a plain file here means the wrong
        // file was installed, so say so rather than guess.
        guard compressed.count >= 2, compressed[0] == 0x1F, compressed[1] == 0x8B else {
            throw DataError("\(file) is not a gzip file (it does not start with the gzip signature 1f 8b)")
        }
        var stream = z_stream()
        // 16 + MAX_WBITS: expect a gzip header and trailer, and check the trailer's CRC-32.
        guard inflateInit2_(&stream, 16 + MAX_WBITS, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw DataError("cannot decompress \(file): zlib failed to initialise")
        }
        defer { inflateEnd(&stream) }

        // The trailer's last four bytes give the uncompressed size mod 2³²; trust it only up to
        // deflate's best possible ratio (about 1032:1) and to `maxBytes`, so a corrupt trailer
        // cannot ask for 4 GB; the output then grows as it is produced, up to `maxBytes`.
        let n = compressed.count
        let stated = n >= 18 ? Int(compressed[n - 4]) | Int(compressed[n - 3]) << 8 | Int(compressed[n - 2]) << 16 | Int(compressed[n - 1]) << 24 : 0
        var output = [UInt8](repeating: 0, count: max(1 << 16, min(stated, n * 1032, 64 << 20) + 1))
        var produced = 0
        let chunk = 1 << 30  // avail_in and avail_out are 32-bit
        try compressed.withUnsafeBufferPointer { input in
            guard let base = input.baseAddress else { return }
            var fed = 0
            while true {
                if stream.avail_in == 0 && fed < n {
                    stream.next_in = UnsafeMutablePointer(mutating: base + fed)
                    let size = min(n - fed, chunk)
                    stream.avail_in = uInt(size)
                    fed += size
                }
                if produced == output.count {
                    guard output.count <= maxBytes else {
                        throw DataError("\(file) is too large: it decompresses to more than \(maxBytes >> 20) MiB")
                    }
                    output.append(contentsOf: repeatElement(0, count: Swift.min(output.count, maxBytes + 1 - output.count)))
                }
                let room = min(output.count - produced, chunk)
                let status = output.withUnsafeMutableBufferPointer { out -> Int32 in
                    guard let start = out.baseAddress else { return Z_MEM_ERROR }  // never: ≥ 64 KiB
                    stream.next_out = start + produced
                    stream.avail_out = uInt(room)
                    return inflate(&stream, Z_NO_FLUSH)
                }
                produced += room - Int(stream.avail_out)
                switch status {
                case Z_STREAM_END:
                    let rest = Int(stream.avail_in) + (n - fed)
                    let next = n - rest
                    // Another gzip member follows: keep going. Anything else is trailing junk
                    // that gzip also ignores; the IDX length checks catch a short payload.
                    if rest >= 2, base[next] == 0x1F, base[next + 1] == 0x8B {
                        inflateReset(&stream)
                        continue
                    }
                    return
                case Z_OK, Z_BUF_ERROR:
                    // zlib had room to write but stopped with all input used: the file ends
                    // in the middle of the stream.
                    if stream.avail_out > 0 && stream.avail_in == 0 && fed == n {
                        throw DataError("\(file) is a truncated gzip file (it ends before the compressed data does)")
                    }
                default:
                    let detail = stream.msg.map { String(cString: $0) } ?? "error \(status)"
                    throw DataError("\(file) is a corrupt gzip file (\(detail))")
                }
            }
        }
        output.removeSubrange(produced...)
        return output
    }

    /// Parses decompressed IDX bytes: a big-endian magic (0x00 0x00 type rank), `rank`
    /// big-endian 32-bit dimensions, then exactly the product of the dimensions in bytes.
    public static func parse(_ bytes: [UInt8], magic: UInt32, file: String) throws -> IDXArray {
        func word(_ at: Int) -> UInt32 {
            UInt32(bytes[at]) << 24 | UInt32(bytes[at + 1]) << 16 | UInt32(bytes[at + 2]) << 8 | UInt32(bytes[at + 3])
        }
        guard bytes.count >= 4 else {
            throw DataError("\(file) is truncated: \(bytes.count) bytes, too short for an IDX header")
        }
        let found = word(0)
        guard found == magic else {
            throw DataError("\(file) has bad IDX magic \(hex(found)), expected \(hex(magic)) (\(kind(magic)))")
        }
        let rank = Int(magic & 0xFF)
        let header = 4 + 4 * rank
        guard bytes.count >= header else {
            throw DataError("\(file) is truncated: \(bytes.count) bytes, but its IDX header alone needs \(header)")
        }
        let dims = (0..<rank).map { Int(word(4 + 4 * $0)) }
        var total = 1
        for d in dims {
            let (product, overflow) = total.multipliedReportingOverflow(by: d)
            guard !overflow else { throw DataError("\(file) has impossible IDX dimensions \(describe(shape: dims))") }
            total = product
        }
        let payload = bytes.count - header
        guard payload >= total else {
            throw DataError("\(file) is truncated: its header declares \(describe(shape: dims)) = \(total) bytes of data, but only \(payload) follow")
        }
        guard payload == total else {
            throw DataError("\(file) has \(payload - total) bytes after the \(total) its header declares \(describe(shape: dims))")
        }
        return IDXArray(file: file, dims: dims, bytes: bytes, offset: header)
    }

    private static func tooLarge(_ path: String) -> DataError {
        DataError("\(path) is too large: more than \(maxBytes >> 20) MiB")
    }

    /// POSIX read(2), named apart from `IDX.read`.
    private static func systemRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
        #if canImport(Glibc)
        Glibc.read(fd, buffer, count)
        #else
        Darwin.read(fd, buffer, count)
        #endif
    }

    private static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
    }

    private static func kind(_ magic: UInt32) -> String {
        switch magic {
        case imagesMagic: "unsigned-byte images [n, rows, cols]"
        case labelsMagic: "unsigned-byte labels [n]"
        default: "an IDX array of rank \(magic & 0xFF)"
        }
    }
}
