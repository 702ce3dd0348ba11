// NumPy files: .npy arrays (format versions 1–3) and .npz archives of them (zip, stored or
// deflated entries), read into float32 tensors. Every length the file claims is checked.
import CZlib
import Engine

/// Reading NumPy files: `try NPY.read("x.npy")`, `try NPY.readArchive("data.npz")`.
public enum NPY {
    /// Reads one .npy file as a float32 tensor of its shape (any numeric or boolean dtype).
    public static func read(_ path: String) throws -> Tensor {
        try parse(try IDX.readFile(path), file: path)
    }

    /// Reads every array of an .npz archive, in archive order, named without ".npy".
    public static func readArchive(_ path: String) throws -> [(name: String, tensor: Tensor)] {
        let entries = try Zip.entries(try IDX.readFile(path), file: path)
        return try entries.map { e in
            let name = e.name.hasSuffix(".npy") ? String(e.name.dropLast(4)) : e.name
            return (name: name, tensor: try parse(e.bytes, file: "\(path): \(e.name)"))
        }
    }

    /// The arrays in `bytes`, an .npy file or (by its zip signature) an .npz archive.
    static func readBytes(_ bytes: [UInt8], file: String) throws -> [Tensor] {
        if bytes.count >= 4, bytes[0] == 0x50, bytes[1] == 0x4B { return try Zip.entries(bytes, file: file).map { try parse($0.bytes, file: file) } }
        return [try parse(bytes, file: file)]
    }

    /// Parses .npy bytes: the magic "\x93NUMPY", a version, the header length, a Python dict
    /// literal with 'descr', 'fortran_order' and 'shape', then the data.
    public static func parse(_ bytes: [UInt8], file: String) throws -> Tensor {
        let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else {
            throw DataError("\(file) is not a NumPy .npy file (it does not start with \\x93NUMPY)")
        }
        let major = bytes[6]
        let headerLength: Int, start: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            start = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw DataError("\(file) is truncated inside its .npy header") }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            start = 12
        default:
            throw DataError("\(file) is .npy format version \(major), which prune does not read (versions 1 to 3)")
        }
        guard bytes.count >= start + headerLength else { throw DataError("\(file) is truncated inside its .npy header") }
        let header = String(decoding: bytes[start..<start + headerLength], as: UTF8.self)
        let descr = try stringField(header, "descr", file: file)
        let fortran = try boolField(header, "fortran_order", file: file)
        let shape = try shapeField(header, file: file)
        let kind = try DType(descr, file: file)
        let count = try TensorSize.elements(shape)
        let dataStart = start + headerLength
        let (need, overflow) = count.multipliedReportingOverflow(by: kind.size)
        guard !overflow, bytes.count - dataStart >= need else {
            throw DataError("\(file) is truncated: its header declares \(describe(shape: shape)) of \(descr) (\(count) elements), but only \(bytes.count - dataStart) bytes of data follow")
        }
        var values = [Float](repeating: 0, count: count)
        bytes.withUnsafeBufferPointer { all in
            if kind.kind == .float, kind.size == 4, !kind.bigEndian, let base = all.baseAddress {
                // The common case (little-endian float32) is a plain copy.
                values.withUnsafeMutableBytes { out in
                    out.copyMemory(from: UnsafeRawBufferPointer(start: base + dataStart, count: count * 4))
                }
            } else {
                for i in 0..<count { values[i] = kind.value(all, at: dataStart + i * kind.size) }
            }
        }
        if fortran && shape.count > 1 {
            // Column-major data is the transpose read row-major: read with the shape reversed,
            // then reverse the axes.
            let reversed = try Tensor(shape: Array(shape.reversed()), data: values)
            return try reversed.permuted(Array((0..<shape.count).reversed())).copy()
        }
        return try Tensor(shape: shape, data: values)
    }

    /// A NumPy dtype string such as "<f4", "|u1", ">i8", "|b1".
    struct DType {
        enum Kind { case float, signed, unsigned, bool }
        let kind: Kind, size: Int, bigEndian: Bool

        init(_ descr: String, file: String) throws {
            let chars = Array(descr)
            guard chars.count >= 3, "<>|=".contains(chars[0]), let size = Int(String(chars[2...])) else {
                throw DataError("\(file) has dtype '\(descr)', which prune does not read (numbers and booleans: f2, f4, f8, i1–i8, u1–u8, b1)")
            }
            bigEndian = chars[0] == ">"
            switch (chars[1], size) {
            case ("f", 2), ("f", 4), ("f", 8): kind = .float
            case ("i", 1), ("i", 2), ("i", 4), ("i", 8): kind = .signed
            case ("u", 1), ("u", 2), ("u", 4), ("u", 8): kind = .unsigned
            case ("b", 1): kind = .bool
            default:
                throw DataError("\(file) has dtype '\(descr)', which prune does not read (numbers and booleans: f2, f4, f8, i1–i8, u1–u8, b1)")
            }
            self.size = size
        }

        /// The element at byte offset `at` as a Float (the caller checked the length).
        func value(_ bytes: UnsafeBufferPointer<UInt8>, at: Int) -> Float {
            var bits: UInt64 = 0
            for k in 0..<size {
                let b = UInt64(bytes[at + (bigEndian ? size - 1 - k : k)])
                bits |= b << (8 * UInt64(k))
            }
            switch kind {
            case .bool: return bits != 0 ? 1 : 0
            case .unsigned: return Float(bits)
            case .signed:
                let shift = UInt64(64 - 8 * size)
                return Float(Int64(bitPattern: bits << shift) >> Int64(shift))
            case .float:
                switch size {
                case 2: return Float(Float16(bitPattern: UInt16(bits)))
                case 4: return Float(bitPattern: UInt32(bits))
                default: return Float(Double(bitPattern: bits))
                }
            }
        }
    }

    /// The text after `'key':` in the header dict.
    private static func after(_ header: String, _ key: String, file: String) throws -> Substring {
        let chars = Array(header)
        for quote in ["'", "\""] {
            let needle = Array(quote + key + quote + ":")
            guard needle.count <= chars.count else { continue }
            for i in 0...(chars.count - needle.count) where Array(chars[i..<(i + needle.count)]) == needle {
                return Substring(String(chars[(i + needle.count)...])).drop(while: { $0 == " " })
            }
        }
        throw DataError("\(file) has a .npy header without '\(key)'")
    }

    private static func stringField(_ header: String, _ key: String, file: String) throws -> String {
        let rest = try after(header, key, file: file)
        guard let q = rest.first, q == "'" || q == "\"", let end = rest.dropFirst().firstIndex(of: q) else {
            throw DataError("\(file) has a .npy header whose '\(key)' is not a string")
        }
        return String(rest[rest.index(after: rest.startIndex)..<end])
    }

    private static func boolField(_ header: String, _ key: String, file: String) throws -> Bool {
        let rest = try after(header, key, file: file)
        if rest.hasPrefix("True") { return true }
        if rest.hasPrefix("False") { return false }
        throw DataError("\(file) has a .npy header whose '\(key)' is not True or False")
    }

    private static func shapeField(_ header: String, file: String) throws -> [Int] {
        let rest = try after(header, "shape", file: file)
        guard rest.first == "(", let end = rest.firstIndex(of: ")") else {
            throw DataError("\(file) has a .npy header whose 'shape' is not a tuple")
        }
        let inside = rest[rest.index(after: rest.startIndex)..<end]
        var dims: [Int] = []
        for part in inside.split(separator: ",") {
            let text = part.trimmingCharacters(in: " L")
            if text.isEmpty { continue }
            guard let d = Int(text), d >= 0 else { throw DataError("\(file) has a .npy header with a bad dimension '\(text)' in its shape") }
            dims.append(d)
        }
        return dims
    }
}

extension Substring {
    /// The text without leading and trailing characters from `set`.
    func trimmingCharacters(in set: String) -> String {
        String(drop(while: { set.contains($0) }).reversed().drop(while: { set.contains($0) }).reversed())
    }
}

/// The entries of a zip archive (stored or deflated), each checked against its CRC-32.
public enum Zip {
    public struct Entry { public let name: String; public let bytes: [UInt8] }

    /// Every file of the archive held in `data`, in central-directory order.
    public static func entries(_ data: [UInt8], file: String) throws -> [Entry] {
        func u16(_ at: Int) -> Int { Int(data[at]) | Int(data[at + 1]) << 8 }
        func u32(_ at: Int) -> Int { u16(at) | u16(at + 2) << 16 }
        func u64(_ at: Int) -> Int { u32(at) | u32(at + 4) << 32 }
        func corrupt(_ what: String) -> DataError { DataError("\(file) is not a valid zip (.npz) archive: \(what)") }
        // The end-of-central-directory record is in the last 22 + 65535 bytes.
        guard data.count >= 22 else { throw corrupt("too short") }
        var eocd = -1
        var at = data.count - 22
        while at >= max(0, data.count - 22 - 65535) {
            if u32(at) == 0x0605_4B50 { eocd = at; break }
            at -= 1
        }
        guard eocd >= 0 else { throw corrupt("no end-of-central-directory record") }
        var count = u16(eocd + 10)
        var offset = u32(eocd + 16)
        // A zip64 end record (its locator sits just before the classic one) holds the real values.
        if eocd >= 20, u32(eocd - 20) == 0x0706_4B50 {
            let z = u64(eocd - 12)
            guard z >= 0, z <= data.count - 56, u32(z) == 0x0606_4B50 else { throw corrupt("bad zip64 end record") }
            count = u64(z + 32)
            offset = u64(z + 48)
        }
        guard count >= 0, count <= data.count / 46 else { throw corrupt("impossible entry count \(count)") }
        var entries: [Entry] = []
        var p = offset
        for _ in 0..<count {
            guard p >= 0, p <= data.count - 46, u32(p) == 0x0201_4B50 else { throw corrupt("bad central directory entry") }
            let method = u16(p + 10)
            let crc = UInt32(u32(p + 16))
            var compressed = u32(p + 20), size = u32(p + 24)
            let nameLength = u16(p + 28), extraLength = u16(p + 30), commentLength = u16(p + 32)
            var local = u32(p + 42)
            guard p + 46 + nameLength + extraLength <= data.count else { throw corrupt("central directory entry runs past the end") }
            let name = String(decoding: data[(p + 46)..<(p + 46 + nameLength)], as: UTF8.self)
            // Zip64 extra field: the 64-bit values of whichever fields are 0xFFFFFFFF, in order.
            var e = p + 46 + nameLength
            let extraEnd = e + extraLength
            while e + 4 <= extraEnd {
                let id = u16(e), length = u16(e + 2)
                if id == 0x0001 {
                    var q = e + 4
                    for field in [0, 1, 2] {
                        let value = [size, compressed, local][field]
                        guard value == 0xFFFF_FFFF, q + 8 <= Swift.min(e + 4 + length, extraEnd) else { continue }
                        let wide = u64(q)
                        q += 8
                        switch field { case 0: size = wide; case 1: compressed = wide; default: local = wide }
                    }
                }
                e += 4 + length
            }
            p = extraEnd + commentLength
            guard local >= 0, local <= data.count - 30, u32(local) == 0x0403_4B50 else { throw corrupt("bad local header for '\(name)'") }
            let start = local + 30 + u16(local + 26) + u16(local + 28)
            guard compressed >= 0, size >= 0, start <= data.count, compressed <= data.count - start else { throw corrupt("'\(name)' runs past the end of the file") }
            guard size <= IDX.maxBytes else { throw DataError("\(file): '\(name)' is too large: more than \(IDX.maxBytes >> 20) MiB") }
            let raw = Array(data[start..<(start + compressed)])
            let bytes: [UInt8]
            switch method {
            case 0:
                guard compressed == size else { throw corrupt("stored entry '\(name)' has two different sizes") }
                bytes = raw
            case 8: bytes = try inflateRaw(raw, size: size, file: "\(file): \(name)")
            default:
                throw DataError("\(file): '\(name)' uses zip compression method \(method); prune reads stored (0) and deflated (8) entries")
            }
            let check = bytes.withUnsafeBufferPointer { b in
                UInt32(crc32(0, b.baseAddress, uInt(b.count)))
            }
            guard check == crc else { throw corrupt("'\(name)' fails its CRC-32 check") }
            entries.append(Entry(name: name, bytes: bytes))
        }
        return entries
    }

    /// Inflates a raw deflate stream that must produce exactly `size` bytes.
    static func inflateRaw(_ input: [UInt8], size: Int, file: String) throws -> [UInt8] {
        var stream = z_stream()
        guard inflateInit2_(&stream, -MAX_WBITS, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw DataError("cannot decompress \(file): zlib failed to initialise")
        }
        defer { inflateEnd(&stream) }
        // One spare byte, so a stream longer than stated is noticed.
        var output = [UInt8](repeating: 0, count: size + 1)
        var input = input
        if input.isEmpty { input = [0] }
        let status = input.withUnsafeMutableBufferPointer { inp -> Int32 in
            output.withUnsafeMutableBufferPointer { out -> Int32 in
                stream.next_in = inp.baseAddress
                stream.avail_in = uInt(inp.count)
                stream.next_out = out.baseAddress
                stream.avail_out = uInt(out.count)
                return inflate(&stream, Z_FINISH)
            }
        }
        guard status == Z_STREAM_END, Int(stream.total_out) == size else {
            throw DataError("\(file) is a corrupt deflate stream (it does not decompress to the \(size) bytes its header states)")
        }
        output.removeLast()
        return output
    }
}
