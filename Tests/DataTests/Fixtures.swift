// Shared test fixtures: temporary directories, IDX byte builders, gzip writers (through zlib,
// as the real files are made) and a small synthetic dataset with known labels.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CZlib
import Engine
@testable import Data

/// Whether Fashion-MNIST is installed where `FashionMNIST.load` will look.
let fashionMNISTAvailable: Bool = {
    let (images, labels) = FashionMNIST.files(.train, directory: FashionMNIST.resolveDirectory())
    return access(images, R_OK) == 0 && access(labels, R_OK) == 0
}()

/// Deletes one file.
func unlinkFile(_ path: String) { unlink(path) }

/// Big-endian IDX header and payload.
func idxBytes(magic: UInt32, dims: [Int], payload: [UInt8]) -> [UInt8] {
    func word(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
    return word(magic) + dims.flatMap { word(UInt32($0)) } + payload
}

/// Writes `bytes` gzip-compressed with zlib's gz* interface.
func writeGzip(_ bytes: [UInt8], to path: String) throws {
    guard let file = gzopen(path, "wb") else { throw EngineError("gzopen failed for \(path)") }
    let written = bytes.withUnsafeBytes { gzwrite(file, $0.baseAddress, UInt32($0.count)) }
    guard gzclose(file) == Z_OK, Int(written) == bytes.count else { throw EngineError("gzwrite failed for \(path)") }
}

/// Writes `bytes` as they are.
func writeRaw(_ bytes: [UInt8], to path: String) throws {
    guard let file = fopen(path, "wb") else { throw EngineError("fopen failed for \(path)") }
    let written = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
    fclose(file)
    guard written == bytes.count else { throw EngineError("fwrite failed for \(path)") }
}

/// The bytes of a file.
func readRaw(_ path: String) throws -> [UInt8] { try IDX.readFile(path) }

/// Writes a well-formed Fashion-MNIST-named pair for `split` into `dir`: `n` images of
/// rows×cols with pixel (i, j) of image s equal to (s + i + j) % 256, and label s % 10.
func writeIDXPair(_ dir: String, split: FashionMNIST.Split = .train, n: Int, rows: Int = 4, cols: Int = 3,
                  labelCount: Int? = nil) throws {
    let (images, labels) = FashionMNIST.files(split, directory: dir)
    var pixels: [UInt8] = []
    for s in 0..<n { for i in 0..<rows { for j in 0..<cols { pixels.append(UInt8((s + i + j) % 256)) } } }
    let m = labelCount ?? n
    try writeGzip(idxBytes(magic: IDX.imagesMagic, dims: [n, rows, cols], payload: pixels), to: images)
    try writeGzip(idxBytes(magic: IDX.labelsMagic, dims: [m], payload: (0..<m).map { UInt8($0 % 10) }), to: labels)
}

/// A synthetic dataset of `perClass` samples for each of `classes` classes, interleaved
/// (sample s has label s % classes), each sample [channels, 2, 2] filled with the value s so
/// a sample's origin can be read back from its pixels.
func syntheticDataset(classes: Int = 4, perClass: Int = 25, channels: Int = 1) throws -> Dataset {
    let n = classes * perClass, size = channels * 4
    let x = try Tensor.empty([n, channels, 2, 2])
    for s in 0..<n { for i in 0..<size { x.data[s * size + i] = Float(s) } }
    return try Dataset(name: "synthetic", images: x, labels: (0..<n).map { $0 % classes },
                       classes: classes, classNames: (0..<classes).map { "c\($0)" })
}

/// The sample ids (the value its pixels were filled with) of each sample of `d`.
func sampleIDs(_ d: Dataset) -> [Int] {
    (0..<d.count).map { Int(d.images.data[$0 * d.sampleSize]) }
}

