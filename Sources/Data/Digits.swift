// UCI handwritten digits (the 8×8 set scikit-learn ships), upscaled to 28×28 so that the
// models built for Fashion-MNIST apply unchanged.
#if canImport(Glibc)
import FileIO
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Engine
import NN

public enum Digits {
    /// Where Debian's python3-sklearn installs the file.
    public static let defaultPath = "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz"
    /// The environment variable that overrides `defaultPath`.
    public static let environmentVariable = "PRUNE_DIGITS"
    static let installHint = "it comes with Debian's python3-sklearn (apt-get install python3-sklearn), or set \(environmentVariable) to a copy of digits.csv.gz"

    /// The file to read: `path`, else $PRUNE_DIGITS, else the Debian location.
    public static func resolvePath(_ path: String? = nil) -> String {
        if let path, !path.isEmpty { return path }
        if let env = getenv(environmentVariable).map({ String(cString: $0) }), !env.isEmpty { return env }
        return defaultPath
    }

    /// Whether the digits file is where `load()` looks.
    public static var installed: Bool { access(resolvePath(), R_OK) == 0 }

    /// All 1797 digits as [N, 1, size, size] floats in [0, 1] (the 0…16 intensities divided by
    /// 16, then resampled bilinearly from 8×8), labels 0…9. `size` 8 keeps the original grid.
    public static func load(path: String? = nil, size: Int = 28) throws -> Dataset {
        let file = resolvePath(path)
        guard size >= 1, size <= 1024 else { throw DataError("digits: size must be in 1…1024, got \(size)") }
        let bytes = try IDX.gunzip(try IDX.readFile(file, hint: installHint), file: file)
        InputFiles.read(file)
        let (pixels, labels) = try parse(bytes, file: file)
        let n = labels.count
        let x = try Tensor.empty([n, 1, size, size])
        for s in 0..<n {
            resample(pixels, from: s * 64, into: x.data + s * size * size, size: size)
        }
        return try Dataset(name: "digits", images: x, labels: labels, classes: 10, classNames: (0...9).map(String.init),
                           valueRange: ValueRange(unit: 1))
    }

    /// The CSV rows: 64 intensities in 0…16 and a label in 0…9 per line. Errors name the line.
    static func parse(_ bytes: [UInt8], file: String) throws -> (pixels: [Float], labels: [Int]) {
        var pixels: [Float] = [], labels: [Int] = []
        pixels.reserveCapacity(1797 * 64)
        // A field is whole digits, optionally followed by a point and zeros ("16.0"): pixels
        // and labels are whole numbers.
        var line = 1, field: [Int] = [], value = 0, digits = 0, inFraction = false
        func endField() throws {
            guard digits > 0 else { throw DataError("\(file):\(line): empty or non-numeric field \(field.count + 1)") }
            field.append(value); value = 0; digits = 0; inFraction = false
        }
        func endLine() throws {
            guard field.count == 65 else {
                throw DataError("\(file):\(line): expected 65 comma-separated numbers (64 pixels and a label), got \(field.count)")
            }
            if let bad = field.prefix(64).firstIndex(where: { $0 > 16 }) {
                throw DataError("\(file):\(line): pixel \(bad + 1) is \(field[bad]), outside 0…16")
            }
            guard field[64] <= 9 else { throw DataError("\(file):\(line): label \(field[64]) is outside 0…9") }
            pixels += field.prefix(64).map { Float($0) / 16 }
            labels.append(field[64])
            field.removeAll(keepingCapacity: true)
        }
        for b in bytes {
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                if inFraction {
                    guard b == UInt8(ascii: "0") else {
                        throw DataError("\(file):\(line): field \(field.count + 1) is not a whole number")
                    }
                    continue
                }
                value = value * 10 + Int(b - UInt8(ascii: "0")); digits += 1
                if digits > 6 { throw DataError("\(file):\(line): number too long") }
            case UInt8(ascii: "."):
                guard digits > 0, !inFraction else {
                    throw DataError("\(file):\(line): field \(field.count + 1) is not a number")
                }
                inFraction = true
            case UInt8(ascii: ","):
                try endField()
            case UInt8(ascii: "\n"):
                if digits > 0 || !field.isEmpty { try endField(); try endLine() }
                line += 1
            case UInt8(ascii: "\r"), UInt8(ascii: " "):
                continue
            default:
                throw DataError("\(file):\(line): unexpected character \(b < 128 ? "'\(Character(UnicodeScalar(b)))'" : "byte \(b)") in a digits CSV")
            }
        }
        if digits > 0 || !field.isEmpty { try endField(); try endLine() }
        guard !labels.isEmpty else { throw DataError("\(file): no samples") }
        return (pixels, labels)
    }

    /// Bilinear resampling of one 8×8 image (pixel centres aligned, edges clamped).
    static func resample(_ src: [Float], from base: Int, into dst: UnsafeMutablePointer<Float>, size: Int) {
        let scale = 8.0 / Float(size)
        for r in 0..<size {
            let fy = min(max((Float(r) + 0.5) * scale - 0.5, 0), 7)
            let y0 = Int(fy), y1 = min(y0 + 1, 7), wy = fy - Float(y0)
            for c in 0..<size {
                let fx = min(max((Float(c) + 0.5) * scale - 0.5, 0), 7)
                let x0 = Int(fx), x1 = min(x0 + 1, 7), wx = fx - Float(x0)
                let a = src[base + y0 * 8 + x0], b = src[base + y0 * 8 + x1]
                let cc = src[base + y1 * 8 + x0], d = src[base + y1 * 8 + x1]
                let top = a + (b - a) * wx, bottom = cc + (d - cc) * wx
                dst[r * size + c] = top + (bottom - top) * wy
            }
        }
    }
}
