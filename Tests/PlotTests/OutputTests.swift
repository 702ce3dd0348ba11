// Output: PNG size, resolution and metadata read back through CPNG; SVG parses as XML; PDF is
// framed as PDF; failed writes throw a PlotError naming the path and leave no file behind.
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
import FileIO
@testable import Plot

@Suite struct OutputTests {
    /// Names in `dir`, hidden temporaries included.
    func contents(_ dir: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted()
    }

    @Test func pngSizeResolutionAndMetadata() throws {
        let dir = try Golden.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var fig = try Samples.line()
        fig.width = 4; fig.height = 3
        try fig.write(to: dir + "/a.png", dpi: 120, source: "script.prune:12", timestamp: true)
        let png = try PNGFile(dir + "/a.png")
        #expect(png.width == 480 && png.height == 360)
        #expect(png.channels == 3)
        #expect(abs(png.dpi - 120) < 0.05)
        #expect(png.text["Software"] == "prune \(Figure.version)")
        #expect(png.text["Source"] == "script.prune:12")
        #expect(png.text["Text size"] == "10 pt")
        let time = try #require(png.text["Creation Time"])
        #expect(time.hasSuffix(" GMT") && time.count == 29, "RFC 1123: \(time)")
        // The default resolution is the figure's own: 6.4 × 4.8 in at 150 dpi.
        try Samples.line().write(to: dir + "/b.PNG", timestamp: false)
        let b = try PNGFile(dir + "/b.PNG")
        #expect(b.width == 960 && b.height == 720 && abs(b.dpi - 150) < 0.05)
        #expect(b.text["Creation Time"] == nil && b.text["Source"] == nil)
        // A wide figure states the larger text it draws.
        var wide = try Samples.line()
        wide.width = 12
        try wide.write(to: dir + "/c.png", dpi: 20, timestamp: false)
        #expect(try PNGFile(dir + "/c.png").text["Text size"] == "15 pt")
        try? FileManager.default.removeItem(atPath: dir + "/c.png")
        #expect(contents(dir) == ["a.png", "b.PNG"])
    }

    @Test func withoutTimestampOutputIsByteIdentical() throws {
        let dir = try Golden.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for ext in ["png", "pdf"] {
            try Samples.band().write(to: dir + "/1.\(ext)", dpi: 72, source: "s", timestamp: false)
            try Samples.band().write(to: dir + "/2.\(ext)", dpi: 72, source: "s", timestamp: false)
            let one = try Data(contentsOf: URL(fileURLWithPath: dir + "/1.\(ext)"))
            let two = try Data(contentsOf: URL(fileURLWithPath: dir + "/2.\(ext)"))
            #expect(one == two, "\(ext) output differs between two renders")
        }
    }

    @Test func pdfCreationDateFollowsTimestamp() throws {
        let fig = try Samples.mask()
        let with = String(decoding: try fig.encoded(as: .pdf, timestamp: true), as: UTF8.self)
        let without = String(decoding: try fig.encoded(as: .pdf, timestamp: false), as: UTF8.self)
        #expect(with.contains("/CreationDate"))
        #expect(!without.contains("/CreationDate"))
    }

    @Test func transparentFiguresAreRGBA() throws {
        var fig = try Samples.mask()
        fig.transparent = true
        let dir = try Golden.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try fig.write(to: dir + "/t.png", dpi: 30, timestamp: false)
        let png = try PNGFile(dir + "/t.png")
        #expect(png.channels == 4)
        #expect(png.pixels[3] == 0, "the corner is transparent")
    }

    @Test func svgParsesAsXML() throws {
        let dir = try Golden.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for name in ["line", "heatmap", "images"] {
            let fig = try Samples.figure(name)
            try fig.write(to: dir + "/\(name).svg", source: "x--y.prune:3")
            let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/\(name).svg"))
            let parser = XMLParser(data: data)
            #expect(parser.parse(), "\(name).svg: \(String(describing: parser.parserError))")
            let text = String(decoding: data, as: UTF8.self)
            // Sized in points, so that the figure keeps its size in inches.
            #expect(text.contains("<svg") && text.contains("width=\"\(Ticks.format(fig.width * 72))pt\""), "\(text.prefix(400))")
            #expect(text.contains("prune \(Figure.version), source: x- -y.prune:3"))
        }
    }

    @Test func pdfIsFramedAsPDF() throws {
        let dir = try Golden.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Samples.curves().write(to: dir + "/c.pdf", source: "c.prune:1")
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/c.pdf")))
        #expect(bytes.starts(with: Array("%PDF-".utf8)))
        var end = bytes[...]
        while let last = end.last, last == 10 || last == 13 { end = end.dropLast() }
        #expect(end.suffix(5).elementsEqual("%%EOF".utf8))
        #expect(String(decoding: bytes, as: UTF8.self).contains("prune \(Figure.version)"))
    }

    @Test func encodedBytesMatchTheFile() throws {
        let dir = try Golden.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let fig = try Samples.bar()
        try fig.write(to: dir + "/x.png", dpi: 50, timestamp: false)
        let file = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/x.png")))
        #expect(try fig.encoded(as: .png, dpi: 50, timestamp: false) == file)
        #expect(String(decoding: try fig.encoded(as: .svg), as: UTF8.self).hasPrefix("<?xml"))
    }

    @Test func overwritingReplacesTheFileWhole() throws {
        let dir = try Golden.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/f.png"
        try Array(repeating: UInt8(7), count: 1_000_000).withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: path)) }
        try Samples.mask().write(to: path, dpi: 40, timestamp: false)
        #expect(try PNGFile(path).width == 256)
        #expect(contents(dir) == ["f.png"])
    }

    @Test(arguments: ["/proc/prune-plot-test.png", "/nonexistent-dir-for-plot/x.png", "/tmp/no/such/dir/x.svg"])
    func unwritablePathsThrowAndLeaveNothing(_ path: String) throws {
        let error = #expect(throws: PlotError.self) { try Samples.mask().write(to: path, dpi: 40, timestamp: false) }
        #expect(error?.message.contains(path) == true, "\(error?.message ?? "")")
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test func aFullDeviceReportsTheReason() throws {
        guard FileManager.default.fileExists(atPath: "/dev/full") else { return }
        for ext in ["png", "svg"] {
            // /dev/full is a device, written in place, where every write fails with ENOSPC.
            let link = try Golden.scratch()
            defer { try? FileManager.default.removeItem(atPath: link) }
            try FileManager.default.createSymbolicLink(atPath: link + "/full.\(ext)", withDestinationPath: "/dev/full")
            let error = #expect(throws: PlotError.self) { try Samples.mask().write(to: link + "/full.\(ext)", dpi: 40) }
            #expect(error?.message.contains("No space left on device") == true, "\(error?.message ?? "")")
        }
    }

    @Test func readOnlyDirectoryThrowsAndLeavesNothing() throws {
        // Root may write anywhere; the permission check only means something for other users.
        guard getuid() != 0 else { return }
        let dir = try Golden.scratch()
        defer { chmod(dir, 0o755); try? FileManager.default.removeItem(atPath: dir) }
        chmod(dir, 0o555)
        #expect(throws: PlotError.self) { try Samples.mask().write(to: dir + "/x.png", dpi: 40) }
        #expect(contents(dir).isEmpty)
    }

    @Test(arguments: [WholeFile.Fault.shortWrite, .rename])
    func aFailureMidWriteLeavesNoPartialFile(_ fault: WholeFile.Fault) throws {
        let dir = try Golden.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for ext in ["png", "pdf"] {
            let path = dir + "/x.\(ext)"
            let error = #expect(throws: PlotError.self) {
                try Samples.mask().write(to: path, dpi: 40, source: nil, timestamp: false, fault: fault)
            }
            #expect(error?.message.contains(path) == true)
            #expect(contents(dir).isEmpty, "left behind: \(contents(dir))")
        }
        // An existing file survives a failed replacement untouched.
        let path = dir + "/keep.png"
        try Samples.mask().write(to: path, dpi: 40, timestamp: false)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(throws: PlotError.self) { try Samples.line().write(to: path, dpi: 40, source: nil, timestamp: false, fault: fault) }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        #expect(contents(dir) == ["keep.png"])
    }

    @Test func unknownExtensionsAndDirectoriesAreRejected() throws {
        let dir = try Golden.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for path in [dir + "/x.jpg", dir + "/noext", dir + "/.png"] {
            let error = #expect(throws: PlotError.self) { try Samples.mask().write(to: path) }
            #expect(error?.message.contains("use .png, .svg or .pdf") == true, "\(error?.message ?? "")")
        }
        try FileManager.default.createDirectory(atPath: dir + "/d.png", withIntermediateDirectories: false)
        let error = #expect(throws: PlotError.self) { try Samples.mask().write(to: dir + "/d.png", dpi: 40) }
        #expect(error?.message.contains("is a directory") == true)
        #expect(throws: PlotError.self) { try Samples.mask().write(to: "", dpi: 40) }
        #expect(contents(dir) == ["d.png"])
    }

    @Test func badSizesAndResolutionsAreErrors() throws {
        var fig = try Samples.mask()
        #expect(throws: PlotError.self) { try fig.encoded(as: .png, dpi: 0) }
        #expect(throws: PlotError.self) { try fig.encoded(as: .png, dpi: .nan) }
        #expect(throws: PlotError.self) { try fig.encoded(as: .png, dpi: 100_000) }
        fig.width = -1
        #expect(throws: PlotError.self) { try fig.encoded(as: .svg) }
        #expect(throws: PlotError.self) { try Figure(panels: []).encoded(as: .pdf) }
    }
}
