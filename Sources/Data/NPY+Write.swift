// Writing NumPy files: a tensor as a version-1.0 .npy array of little-endian float32 in C order,
// and named tensors as an .npz archive (a zip of stored .npy entries), as numpy.save and
// numpy.savez write them. Files are written to a temporary name and renamed.
import CZlib
import Engine
import FileIO

extension NPY {
    /// The .npy bytes of `tensor`: magic, version 1.0, a header dict padded so the data starts
    /// at a multiple of 64 bytes, then the values.
    public static func encode(_ tensor: Tensor) -> [UInt8] {
        let shape = tensor.shape.count == 1 ? "(\(tensor.shape[0]),)" : "(" + tensor.shape.map(String.init).joined(separator: ", ") + ")"
        var header = Array("{'descr': '<f4', 'fortran_order': False, 'shape': \(shape), }".utf8)
        let unpadded = 10 + header.count + 1
        header += [UInt8](repeating: 0x20, count: (64 - unpadded % 64) % 64)
        header.append(0x0A)
        var out: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.count & 0xFF), UInt8(header.count >> 8)]
        out += header
        out.reserveCapacity(out.count + tensor.count * 4)
        #if _endian(little)
        out.append(contentsOf: UnsafeRawBufferPointer(start: tensor.data, count: tensor.count * MemoryLayout<Float>.size))
        #else
        for i in 0..<tensor.count { appendLE(tensor.data[i].bitPattern, 4, to: &out) }
        #endif
        return out
    }

    /// Writes `tensor` to `path` as an .npy file (numpy.load reads it).
    public static func write(_ tensor: Tensor, to path: String) throws {
        try WholeFile.write(encode(tensor), to: path)
    }

    /// Writes named tensors to `path` as an .npz archive: each as `name.npy`, stored
    /// uncompressed; numpy.load gives them back under their names.
    public static func writeArchive(_ tensors: [(name: String, tensor: Tensor)], to path: String) throws {
        var seen = Set<String>()
        for (name, _) in tensors {
            guard !name.isEmpty, seen.insert(name).inserted else {
                throw DataError(name.isEmpty ? "an .npz entry needs a name" : "two arrays named '\(name)' in one .npz archive")
            }
        }
        var out: [UInt8] = []
        var central: [UInt8] = []
        for (name, tensor) in tensors {
            let data = encode(tensor)
            let entry = Array((name + ".npy").utf8)
            // No zip64: every size and offset must fit in 32 bits (and names in 16).
            guard data.count < 0xFFFF_FFFF, out.count < 0xFFFF_FFFF - data.count - entry.count - 30, entry.count <= 0xFFFF else {
                throw DataError("'\(name)' does not fit in an .npz archive without zip64 (4 GiB per file); save it as .safetensors")
            }
            let crc = data.withUnsafeBufferPointer { UInt32(crc32(0, $0.baseAddress, uInt($0.count))) }
            let offset = out.count
            // Local file header.
            appendLE(0x0403_4B50, 4, to: &out)
            appendCommon(crc: crc, size: data.count, name: entry.count, to: &out)
            out += entry
            out += data
            // Central directory record.
            appendLE(0x0201_4B50, 4, to: &central)
            appendLE(20, 2, to: &central)  // made by: version 2.0
            appendCommon(crc: crc, size: data.count, name: entry.count, to: &central)
            appendLE(0, 2, to: &central)   // comment length
            appendLE(0, 2, to: &central)   // disk number
            appendLE(0, 2, to: &central)   // internal attributes
            appendLE(0, 4, to: &central)   // external attributes
            appendLE(UInt32(offset), 4, to: &central)
            central += entry
        }
        guard tensors.count <= 0xFFFF, out.count + central.count < 0xFFFF_FFFF else {
            throw DataError("the arrays do not fit in an .npz archive without zip64; save them as .safetensors")
        }
        let directoryOffset = out.count
        out += central
        appendLE(0x0605_4B50, 4, to: &out)
        appendLE(0, 2, to: &out)
        appendLE(0, 2, to: &out)
        appendLE(UInt32(tensors.count), 2, to: &out)
        appendLE(UInt32(tensors.count), 2, to: &out)
        appendLE(UInt32(central.count), 4, to: &out)
        appendLE(UInt32(directoryOffset), 4, to: &out)
        appendLE(0, 2, to: &out)
        try WholeFile.write(out, to: path)
    }

    /// The fields a local header and a central record share, from "version needed" to
    /// "extra field length": a stored entry dated 1980-01-01.
    private static func appendCommon(crc: UInt32, size: Int, name: Int, to out: inout [UInt8]) {
        appendLE(20, 2, to: &out)        // version needed: 2.0
        appendLE(0, 2, to: &out)         // flags
        appendLE(0, 2, to: &out)         // method: stored
        appendLE(0, 2, to: &out)         // time
        appendLE(0x21, 2, to: &out)      // date: 1980-01-01
        appendLE(crc, 4, to: &out)
        appendLE(UInt32(size), 4, to: &out)
        appendLE(UInt32(size), 4, to: &out)
        appendLE(UInt32(name), 2, to: &out)
        appendLE(0, 2, to: &out)         // extra field length
    }

    private static func appendLE(_ v: UInt32, _ bytes: Int, to out: inout [UInt8]) {
        for i in 0..<bytes { out.append(UInt8((v >> (8 * UInt32(i))) & 0xFF)) }
    }
}
