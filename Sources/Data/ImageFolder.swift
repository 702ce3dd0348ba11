// Image folders: one sub-folder per class holding PNG files (read through libpng), as grey or
// RGB samples scaled to [0, 1] and resized to one size, the layout torchvision's ImageFolder reads.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CPNG
import Engine
import FileIO

/// An 8-bit image read from a PNG file, rows top to bottom, channels interleaved.
public struct PNGImage {
    public let width: Int, height: Int
    /// 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA (palettes are expanded to RGB).
    public let channels: Int
    public let pixels: [UInt8]

    /// The largest image read (pixels × channels), so that a forged header cannot ask for gigabytes.
    public static let maxBytes = 1 << 28

    /// Reads `path` through libpng (16-bit samples are reduced to 8, palettes expanded).
    public static func read(_ path: String) throws -> PNGImage {
        var info = prune_png_info()
        var pixels: UnsafeMutablePointer<UInt8>?
        var err = [CChar](repeating: 0, count: 512)
        let rc = prune_png_read(path, &info, &pixels, nil, nil, 0, &err, err.count)
        guard rc == 0, let pixels else {
            throw DataError("\(path): cannot read the PNG image (\(String(cString: err)))")
        }
        defer { prune_png_free(pixels) }
        let count = Int(info.width) * Int(info.height) * Int(info.channels)
        return PNGImage(width: Int(info.width), height: Int(info.height), channels: Int(info.channels),
                        pixels: Array(UnsafeBufferPointer(start: pixels, count: count)))
    }

    /// Writes a tensor [1 or 3, height, width] or [height, width] of values in [0, 1] (clamped)
    /// as an 8-bit grey or RGB PNG, the layout `load` and image folders read back.
    public static func write(_ tensor: Tensor, to path: String) throws {
        let s = tensor.shape
        guard (s.count == 2 || (s.count == 3 && (s[0] == 1 || s[0] == 3))), s.allSatisfy({ $0 > 0 }) else {
            throw DataError("an image is a tensor [1 or 3, height, width] or [height, width]; got \(describe(shape: s))")
        }
        let channels = s.count == 3 ? s[0] : 1
        let height = s[s.count - 2], width = s[s.count - 1]
        guard height <= 1 << 15, width <= 1 << 15, tensor.count <= maxBytes else {
            throw DataError("an image of \(describe(shape: s)) is larger than a PNG prune writes (32,768 pixels a side)")
        }
        var pixels = [UInt8](repeating: 0, count: tensor.count)
        for c in 0..<channels {
            for i in 0..<(height * width) {
                let v = tensor.data[c * height * width + i]
                pixels[i * channels + c] = v.isNaN ? 0 : UInt8((min(max(v, 0), 1) * 255).rounded())
            }
        }
        let bytes: [UInt8]
        do { bytes = try PNG.encode(pixels, width: width, height: height, channels: channels) } catch let e as FileError {
            throw DataError("\(path): \(e.message)")
        }
        try WholeFile.write(bytes, to: path)
    }

    /// Whether the image has colour (RGB or RGBA).
    public var isColour: Bool { channels >= 3 }

    /// The image as `outChannels` (1 or 3) planes of `size.h × size.w` floats in [0, 1], resized
    /// by bilinear sampling of pixel centres (an exact copy when the size is unchanged). Alpha is
    /// dropped; grey from colour is the ITU-R BT.601 luma.
    public func planes(channels outChannels: Int, height outH: Int, width outW: Int) -> [Float] {
        // One float plane per output channel at the source size.
        var source = [[Float]](repeating: [Float](repeating: 0, count: width * height), count: outChannels)
        for i in 0..<(width * height) {
            let p = i * channels
            if outChannels == 1 {
                source[0][i] = channels >= 3
                    ? (0.299 * Float(pixels[p]) + 0.587 * Float(pixels[p + 1]) + 0.114 * Float(pixels[p + 2])) / 255
                    : Float(pixels[p]) / 255
            } else {
                for c in 0..<3 { source[c][i] = Float(pixels[channels >= 3 ? p + c : p]) / 255 }
            }
        }
        if outH == height && outW == width { return source.flatMap { $0 } }
        var out = [Float](repeating: 0, count: outChannels * outH * outW)
        let sy = Float(height) / Float(outH), sx = Float(width) / Float(outW)
        for c in 0..<outChannels {
            let plane = source[c]
            for y in 0..<outH {
                let fy = max(0, (Float(y) + 0.5) * sy - 0.5)
                let y0 = min(Int(fy), height - 1), y1 = min(y0 + 1, height - 1), wy = fy - Float(y0)
                for x in 0..<outW {
                    let fx = max(0, (Float(x) + 0.5) * sx - 0.5)
                    let x0 = min(Int(fx), width - 1), x1 = min(x0 + 1, width - 1), wx = fx - Float(x0)
                    let top = plane[y0 * width + x0] * (1 - wx) + plane[y0 * width + x1] * wx
                    let bottom = plane[y1 * width + x0] * (1 - wx) + plane[y1 * width + x1] * wx
                    out[(c * outH + y) * outW + x] = top * (1 - wy) + bottom * wy
                }
            }
        }
        return out
    }
}

/// A dataset from a folder with one sub-folder per class of PNG files.
public enum ImageFolder {
    public enum Colour: String, CaseIterable { case auto, grey, rgb }

    /// Reads `root`/<class>/*.png. Classes are the sub-folders in sorted order (labels 0, 1, …);
    /// files are read in sorted order. `size` (height, width) resizes every image; without it all
    /// images must share one size. `colour` .auto gives RGB when any image has colour, else grey.
    public static func load(_ root: String, size: (height: Int, width: Int)? = nil, colour: Colour = .auto,
                            maxSamples: Int = 1_000_000) throws -> Dataset {
        let folder = root.hasSuffix("/") && root.count > 1 ? String(root.dropLast()) : root
        let classes = try listing(folder).filter { Directories.isDirectory(folder + "/" + $0) }
        guard !classes.isEmpty else {
            throw DataError("\(folder) has no sub-folders: an image folder holds one sub-folder of PNG files per class")
        }
        var files: [(path: String, label: Int)] = []
        for (label, name) in classes.enumerated() {
            let pngs = try listing(folder + "/" + name).filter { $0.lowercased().hasSuffix(".png") }
            guard !pngs.isEmpty else { throw DataError("\(folder)/\(name) holds no .png files (every class folder needs at least one)") }
            files += pngs.map { (path: folder + "/" + name + "/" + $0, label: label) }
            guard files.count <= maxSamples else { throw DataError("\(folder) holds more than \(maxSamples) images") }
        }
        var images: [PNGImage] = []
        for f in files {
            if Interrupt.requested { throw Interrupt.stopped }
            let image = try PNGImage.read(f.path)
            if size == nil, let first = images.first, first.width != image.width || first.height != image.height {
                throw DataError("\(f.path) is \(image.width)×\(image.height) but \(files[0].path) is \(first.width)×\(first.height); give a size to resize them all")
            }
            images.append(image)
        }
        let h = size?.height ?? images[0].height, w = size?.width ?? images[0].width
        let channels: Int
        switch colour {
        case .grey: channels = 1
        case .rgb: channels = 3
        case .auto: channels = images.contains(where: \.isColour) ? 3 : 1
        }
        let shape = [images.count, channels, h, w]
        let x = try Tensor.empty(shape)
        let per = channels * h * w
        for (i, image) in images.enumerated() {
            let planes = image.planes(channels: channels, height: h, width: w)
            planes.withUnsafeBufferPointer { p in
                if let base = p.baseAddress { (x.data + i * per).update(from: base, count: per) }
            }
        }
        let base = folder.split(separator: "/").last.map(String.init) ?? folder
        return try Dataset(name: base, images: x, labels: files.map(\.label), classNames: classes)
    }

    /// The visible entries of a directory, sorted.
    static func listing(_ path: String) throws -> [String] {
        guard let dir = opendir(path) else {
            let code = errno
            throw DataError(code == ENOENT ? "\(path) not found" : "cannot read the folder \(path): \(String(cString: strerror(code)))")
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = Directories.entryName(entry)
            if !name.hasPrefix(".") { names.append(name) }
        }
        return names.sorted()
    }
}
