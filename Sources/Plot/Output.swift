// Output: the backends table (PNG through cairo's image surface and FileIO's PNG encoder, SVG and PDF
// through cairo's vector surfaces), file metadata, and atomic writing of figure files.
import FileIO
import CCairo
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// File formats a figure can be written as, chosen by the file's extension.
public enum PlotFormat: String, CaseIterable, Sendable {
    case png, svg, pdf

    /// The format named by `path`'s extension (case-insensitive).
    public init(path: String) throws {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex,
              let f = PlotFormat(rawValue: String(name[name.index(after: dot)...]).lowercased()) else {
            let ext = name.lastIndex(of: ".").map { String(name[$0...]) }
            throw PlotError("cannot write figure '\(path)': " +
                (ext.map { "unknown file extension '\($0)'" } ?? "no file extension") + " (use .png, .svg or .pdf)")
        }
        self = f
    }
}

extension Figure {
    /// Writes the figure to `path` as PNG, SVG or PDF by its extension, atomically.
    ///
    /// - Parameters:
    ///   - dpi: PNG resolution (default: the figure's); the size in pixels is inches × dpi.
    ///   - source: where the figure came from (e.g. "mvp.prune:12"), stored as metadata.
    ///   - timestamp: store the creation time; false gives byte-identical files for equal figures.
    public func write(to path: String, dpi: Double? = nil, source: String? = nil, timestamp: Bool = true) throws {
        try write(to: path, dpi: dpi, source: source, timestamp: timestamp, fault: nil)
    }

    func write(to path: String, dpi: Double?, source: String?, timestamp: Bool, fault: WholeFile.Fault?) throws {
        // Every format is encoded in memory and written by one atomic writer.
        let format = try PlotFormat(path: path)
        guard !path.isEmpty else { throw PlotError("cannot write a figure to an empty path") }
        let bytes = try encoded(as: format, dpi: dpi, source: source, timestamp: timestamp)
        do {
            try bytes.withUnsafeBytes { try WholeFile.write($0, to: path, fault: fault) }
        } catch let e as FileError {
            throw PlotError(e.message)  // Plot speaks in its own errors (it does not depend on Engine)
        }
    }

    /// The bytes of the figure as a file of `format` (for embedding in documents).
    public func encoded(as format: PlotFormat, dpi: Double? = nil, source: String? = nil, timestamp: Bool = true) throws -> [UInt8] {
        try validate(dpi: dpi ?? self.dpi)
        switch format {
        case .png:
            return try rasterize(dpi: dpi ?? self.dpi).encodePNG(text: metadata(source: source, timestamp: timestamp))
        case .svg: return try vector(svg: true, source: source)
        case .pdf: return try vector(svg: false, source: source, timestamp: timestamp)
        }
    }

    /// PNG tEXt chunks: the program, the source that made the figure, the base text size (so
    /// that a document check knows how large the text shows when the image is shrunk), and the time.
    func metadata(source: String?, timestamp: Bool) -> [(String, String)] {
        var text = [("Software", "\(Figure.software) \(Figure.version)")]
        if let t = title ?? panels.first?.title, !t.isEmpty { text.append(("Title", t)) }
        text.append(("Text size", Ticks.format((textSize * 100).rounded() / 100) + " pt"))
        if let s = source, !s.isEmpty { text.append(("Source", s)) }
        if timestamp { text.append(("Creation Time", rfc1123(time(nil)))) }
        return text
    }

    /// Rejects figures no backend can draw, before any file is touched.
    func validate(dpi: Double) throws {
        guard !panels.isEmpty else { throw PlotError("the figure has no panels") }
        guard width.isFinite, height.isFinite, width > 0, height > 0, width <= 100, height <= 100 else {
            throw PlotError("figure size \(Ticks.format(width))×\(Ticks.format(height)) in is not between 0 and 100 inches")
        }
        guard dpi.isFinite, dpi >= 10, dpi <= 2400 else { throw PlotError("dpi \(Ticks.format(dpi)) is not between 10 and 2400") }
        guard width * dpi <= 30000, height * dpi <= 30000 else {
            throw PlotError("figure of \(plotInt(width * dpi))×\(plotInt(height * dpi)) pixels is too large (at most 30000 a side)")
        }
        guard rows >= 1, cols >= 1, rows * cols >= panels.count else {
            throw PlotError("a \(rows)×\(cols) grid has no room for \(panels.count) panels")
        }
        guard fontSize.isFinite, fontSize >= 4, fontSize <= 40 else { throw PlotError("font size \(Ticks.format(fontSize)) is not between 4 and 40 pt") }
    }

    /// The figure drawn on a white (or transparent) raster of inches × dpi pixels.
    func rasterize(dpi: Double) throws -> RasterImage {
        let w = Swift.max(1, plotInt((width * dpi).rounded())), h = Swift.max(1, plotInt((height * dpi).rounded()))
        guard let surface = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, Int32(w), Int32(h)) else {
            throw PlotError("cannot create a \(w)×\(h) image")
        }
        defer { cairo_surface_destroy(surface) }
        try check(cairo_surface_status(surface), "cannot create a \(w)×\(h) image")
        guard let cr = cairo_create(surface) else { throw PlotError("cannot create a cairo context") }
        // Scale exactly to the pixel grid, so that the page edges fall on pixel edges.
        cairo_scale(cr, Double(w) / (width * 72), Double(h) / (height * 72))
        Renderer.draw(self, on: CairoCanvas(cr))
        let status = cairo_status(cr)
        cairo_destroy(cr)
        try check(status, "drawing failed")
        cairo_surface_flush(surface)
        guard let data = cairo_image_surface_get_data(surface) else { throw PlotError("cannot read the rendered image") }
        return RasterImage(argb: UnsafeRawPointer(data), width: w, height: h,
                           stride: Int(cairo_image_surface_get_stride(surface)), alpha: transparent, dpi: dpi)
    }

    /// The figure as SVG or PDF bytes, from cairo's vector surfaces.
    func vector(svg: Bool, source: String?, timestamp: Bool = true) throws -> [UInt8] {
        let sink = ByteSink()
        let closure = Unmanaged.passUnretained(sink).toOpaque()
        let w = width * 72, h = height * 72
        let created = svg ? cairo_svg_surface_create_for_stream(collect, closure, w, h)
                          : cairo_pdf_surface_create_for_stream(collect, closure, w, h)
        guard let surface = created else { throw PlotError("cannot create a vector surface") }
        defer { cairo_surface_destroy(surface) }
        try check(cairo_surface_status(surface), "cannot create a vector surface")
        if svg {
            cairo_svg_surface_set_document_unit(surface, CAIRO_SVG_UNIT_PT)
        } else {
            cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_CREATOR, "\(Figure.software) \(Figure.version)")
            if let t = title ?? panels.first?.title, !t.isEmpty { cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_TITLE, t) }
            if let s = source, !s.isEmpty { cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_SUBJECT, s) }
            if !timestamp { cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_CREATE_DATE, "") }
        }
        guard let cr = cairo_create(surface) else { throw PlotError("cannot create a cairo context") }
        Renderer.draw(self, on: CairoCanvas(cr))
        let status = cairo_status(cr)
        cairo_destroy(cr)
        try check(status, "drawing failed")
        cairo_surface_finish(surface)
        try check(cairo_surface_status(surface), "encoding failed")
        guard svg else { return sink.bytes }
        return Figure.annotateSVG(sink.bytes, software: "\(Figure.software) \(Figure.version)", source: source)
    }

    /// Adds a comment naming the program and source after the XML declaration (SVG has no
    /// standard metadata fields cairo fills in).
    static func annotateSVG(_ bytes: [UInt8], software: String, source: String?) -> [UInt8] {
        guard let end = bytes.firstIndex(of: UInt8(ascii: "\n")) else { return bytes }
        let note = "<!-- " + commentSafe(software + (source.map { ", source: " + $0 } ?? "")) + " -->"
        return Array(bytes[...end]) + Array((note + "\n").utf8) + Array(bytes[(end + 1)...])
    }
}

/// Collects what a cairo stream surface writes.
final class ByteSink {
    var bytes: [UInt8] = []
}

/// cairo's write callback: appends to the ByteSink passed as the closure pointer.
private let collect: cairo_write_func_t = { closure, data, length in
    guard let closure, let data else { return CAIRO_STATUS_WRITE_ERROR }
    let sink = Unmanaged<ByteSink>.fromOpaque(closure).takeUnretainedValue()
    sink.bytes.append(contentsOf: UnsafeBufferPointer(start: data, count: Int(length)))
    return CAIRO_STATUS_SUCCESS
}

private func check(_ status: cairo_status_t, _ what: String) throws {
    guard status != CAIRO_STATUS_SUCCESS else { return }
    throw PlotError("\(what): \(String(cString: cairo_status_to_string(status)))")
}

/// "Tue, 15 Nov 1994 08:12:31 GMT" (RFC 1123, as the PNG specification recommends), in
/// English whatever the locale.
func rfc1123(_ t: time_t) -> String {
    var copy = t, tm = tm()
    gmtime_r(&copy, &tm)
    let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
    return "\(days[Int(tm.tm_wday) % 7]), \(two(tm.tm_mday)) \(months[Int(tm.tm_mon) % 12]) \(1900 + tm.tm_year) " +
        "\(two(tm.tm_hour)):\(two(tm.tm_min)):\(two(tm.tm_sec)) GMT"
}

/// `text` with "--" (not allowed inside an XML comment) broken up by spaces.
func commentSafe(_ text: String) -> String {
    var out = ""
    for ch in text {
        if ch == "-" && out.last == "-" { out.append(" ") }
        out.append(ch)
    }
    return out
}
