// Golden images: every plot kind is rendered and compared with a committed PNG under golden/,
// within a tolerance for font antialiasing. PRUNE_UPDATE_GOLDEN=1 rewrites the goldens.
import CPNG
import Foundation
import Testing
@testable import Plot

/// A PNG read back through the CPNG shim.
struct PNGFile {
    var width = 0, height = 0, channels = 0
    var dpi = 0.0
    var pixels: [UInt8] = []
    var text: [String: String] = [:]

    init(_ path: String) throws {
        var info = prune_png_info()
        var px: UnsafeMutablePointer<UInt8>?
        var keys = [UnsafeMutablePointer<CChar>?](repeating: nil, count: 16)
        var values = [UnsafeMutablePointer<CChar>?](repeating: nil, count: 16)
        var err = [CChar](repeating: 0, count: 256)
        let rc = prune_png_read(path, &info, &px, &keys, &values, 16, &err, err.count)
        guard rc == 0, let px else { throw PlotError(String(cString: err)) }
        defer { prune_png_free(px) }
        width = Int(info.width); height = Int(info.height); channels = Int(info.channels); dpi = info.dpi
        pixels = Array(UnsafeBufferPointer(start: px, count: width * height * channels))
        for i in 0..<Int(info.ntext) {
            if let k = keys[i], let v = values[i] { text[String(cString: k)] = String(cString: v) }
            prune_png_free(keys[i]); prune_png_free(values[i])
        }
    }
}

enum Golden {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("golden")
    static var updating: Bool { ProcessInfo.processInfo.environment["PRUNE_UPDATE_GOLDEN"] == "1" }
    /// Goldens are rendered at 100 dpi to keep the committed files small.
    static let dpi = 100.0

    /// A fresh empty directory for one test's files.
    static func scratch() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("plot-tests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Mean absolute difference per channel (0…255) and the fraction of pixels where some
    /// channel differs by more than 64.
    static func difference(_ a: PNGFile, _ b: PNGFile) -> (mean: Double, outliers: Double) {
        var sum = 0, outliers = 0
        let ch = a.channels
        for p in 0..<(a.width * a.height) {
            var big = false
            for c in 0..<ch {
                let d = abs(Int(a.pixels[p * ch + c]) - Int(b.pixels[p * ch + c]))
                sum += d
                if d > 64 { big = true }
            }
            if big { outliers += 1 }
        }
        let n = Double(a.width * a.height)
        return (Double(sum) / (n * Double(ch)), Double(outliers) / n)
    }
}

@Suite struct GoldenTests {
    @Test(arguments: Samples.names)
    func matchesGolden(_ name: String) throws {
        let figure = try Samples.figure(name)
        let dir = try Golden.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/\(name).png"
        try figure.write(to: path, dpi: Golden.dpi, source: "golden:\(name)", timestamp: false)
        let golden = Golden.directory.appendingPathComponent("\(name).png").path
        if Golden.updating {
            try? FileManager.default.removeItem(atPath: golden)
            try FileManager.default.copyItem(atPath: path, toPath: golden)
            return
        }
        let actual = try PNGFile(path)
        let expected = try PNGFile(golden)
        #expect(actual.width == Int((figure.width * Golden.dpi).rounded()))
        #expect(actual.height == Int((figure.height * Golden.dpi).rounded()))
        try #require(actual.width == expected.width && actual.height == expected.height && actual.channels == expected.channels,
                     "\(name): \(actual.width)×\(actual.height)×\(actual.channels) vs golden \(expected.width)×\(expected.height)×\(expected.channels)")
        let d = Golden.difference(actual, expected)
        #expect(d.mean < 1.0, "\(name): mean difference \(d.mean) per channel")
        #expect(d.outliers < 0.005, "\(name): \(d.outliers * 100) % of pixels differ by more than 64")
    }
}
