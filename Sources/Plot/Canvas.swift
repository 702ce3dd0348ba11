// Canvas: the small drawing interface every output backend implements (gnuplot's "terminal"),
// and its one implementation over a cairo context. Coordinates are points (1/72 in) with the
// origin at the top left, so layout is the same on every surface; raster surfaces scale by dpi/72.
import CCairo

struct Point: Equatable {
    var x: Double, y: Double
}

/// An axis-aligned rectangle, y growing downwards.
struct Rect: Equatable {
    var x: Double, y: Double, w: Double, h: Double
    var maxX: Double { x + w }
    var maxY: Double { y + h }
    func contains(_ p: Point) -> Bool { p.x >= x && p.x <= maxX && p.y >= y && p.y <= maxY }
    func intersects(_ r: Rect) -> Bool { r.x < maxX && r.maxX > x && r.y < maxY && r.maxY > y }
    func insetBy(_ d: Double) -> Rect { Rect(x: x + d, y: y + d, w: w - 2 * d, h: h - 2 * d) }
}

/// A font: DejaVu Sans at a size in points.
struct Font: Equatable {
    var size: Double
    var bold = false
}

/// Where a text's anchor point sits vertically: the top of capitals, their middle, the baseline
/// or the bottom of descenders.
enum VAlign { case top, middle, baseline, bottom }

/// Width and vertical metrics of a text in points.
struct TextSize {
    var width: Double
    /// Height of digits and capitals above the baseline.
    var cap: Double
    var descent: Double
    var height: Double { cap + descent }
}

/// What the renderer draws with; one implementation per drawing library, any surface.
protocol Canvas: AnyObject {
    func save()
    func restore()
    func clip(_ r: Rect)
    func setColor(_ c: Color, alpha: Double)
    func move(_ p: Point)
    func line(_ p: Point)
    func closePath()
    func rect(_ r: Rect)
    func circle(_ c: Point, radius: Double)
    func stroke(width: Double, dash: [Double])
    func fill(keepPath: Bool)
    func measure(_ text: String, _ font: Font) -> TextSize
    /// Draws `text` with its anchor at `p`: `h` 0 left, 0.5 centre, 1 right; `angle` in radians
    /// counter-clockwise.
    func text(_ text: String, at p: Point, _ font: Font, h: Double, v: VAlign, angle: Double)
    /// Draws `width`×`height` ARGB32 pixels (row 0 at the top) stretched over `r`: blocky when
    /// enlarged so that matrix cells stay sharp, filtered when reduced.
    func image(_ argb: [UInt32], width: Int, height: Int, in r: Rect)
}

extension Canvas {
    func stroke(width: Double) { stroke(width: width, dash: []) }
    func fill() { fill(keepPath: false) }
    func text(_ s: String, at p: Point, _ font: Font, h: Double = 0, v: VAlign = .baseline) {
        text(s, at: p, font, h: h, v: v, angle: 0)
    }
    func segment(_ a: Point, _ b: Point) { move(a); line(b) }
}

/// A `Canvas` over a cairo context; the context's surface decides the file format.
final class CairoCanvas: Canvas {
    let cr: OpaquePointer
    private var current: Font?
    private var capCache: [Double: Double] = [:]

    init(_ cr: OpaquePointer) {
        self.cr = cr
        // No hinting: glyph advances must not depend on the resolution, or a layout measured at
        // one dpi would not fit at another, and PNG would differ from PDF.
        let options = cairo_font_options_create()
        cairo_font_options_set_antialias(options, CAIRO_ANTIALIAS_GRAY)
        cairo_font_options_set_hint_style(options, CAIRO_HINT_STYLE_NONE)
        cairo_font_options_set_hint_metrics(options, CAIRO_HINT_METRICS_OFF)
        cairo_set_font_options(cr, options)
        cairo_font_options_destroy(options)
        cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND)
        cairo_set_line_cap(cr, CAIRO_LINE_CAP_BUTT)
    }

    func save() { cairo_save(cr); current = nil }
    func restore() { cairo_restore(cr); current = nil }
    func clip(_ r: Rect) { cairo_rectangle(cr, r.x, r.y, r.w, r.h); cairo_clip(cr) }
    func setColor(_ c: Color, alpha: Double) { cairo_set_source_rgba(cr, c.r, c.g, c.b, alpha) }
    func move(_ p: Point) { cairo_move_to(cr, p.x, p.y) }
    func line(_ p: Point) { cairo_line_to(cr, p.x, p.y) }
    func closePath() { cairo_close_path(cr) }
    func rect(_ r: Rect) { cairo_rectangle(cr, r.x, r.y, r.w, r.h) }

    func circle(_ c: Point, radius: Double) {
        cairo_new_sub_path(cr)
        cairo_arc(cr, c.x, c.y, radius, 0, 2 * Double.pi)
        cairo_close_path(cr)
    }

    func stroke(width: Double, dash: [Double]) {
        cairo_set_line_width(cr, width)
        dash.withUnsafeBufferPointer { cairo_set_dash(cr, $0.baseAddress, Int32($0.count), 0) }
        cairo_stroke(cr)
    }

    func fill(keepPath: Bool) { if keepPath { cairo_fill_preserve(cr) } else { cairo_fill(cr) } }

    private func use(_ font: Font) {
        guard font != current else { return }
        cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL,
                               font.bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL)
        cairo_set_font_size(cr, font.size)
        current = font
    }

    func measure(_ text: String, _ font: Font) -> TextSize {
        use(font)
        var e = cairo_text_extents_t()
        cairo_text_extents(cr, text, &e)
        var f = cairo_font_extents_t()
        cairo_font_extents(cr, &f)
        return TextSize(width: e.x_advance, cap: capHeight(font), descent: f.descent)
    }

    /// The height of a digit, which centres numbers on tick marks better than the font ascent.
    private func capHeight(_ font: Font) -> Double {
        let key = font.size + (font.bold ? 1000 : 0)
        if let c = capCache[key] { return c }
        var e = cairo_text_extents_t()
        cairo_text_extents(cr, "0", &e)
        capCache[key] = -e.y_bearing
        return -e.y_bearing
    }

    func text(_ text: String, at p: Point, _ font: Font, h: Double, v: VAlign, angle: Double) {
        guard !text.isEmpty else { return }
        let size = measure(text, font)
        let dy: Double
        switch v {
        case .top: dy = size.cap
        case .middle: dy = size.cap / 2
        case .baseline: dy = 0
        case .bottom: dy = -size.descent
        }
        cairo_save(cr)
        cairo_translate(cr, p.x, p.y)
        if angle != 0 { cairo_rotate(cr, -angle) }
        cairo_move_to(cr, -h * size.width, dy)
        cairo_show_text(cr, text)
        cairo_new_path(cr)
        cairo_restore(cr)
    }

    func image(_ argb: [UInt32], width: Int, height: Int, in r: Rect) {
        guard width > 0, height > 0, argb.count == width * height,
              let surface = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, Int32(width), Int32(height)) else { return }
        defer { cairo_surface_destroy(surface) }
        guard cairo_surface_status(surface) == CAIRO_STATUS_SUCCESS, let data = cairo_image_surface_get_data(surface) else { return }
        cairo_surface_flush(surface)
        let stride = Int(cairo_image_surface_get_stride(surface))
        argb.withUnsafeBufferPointer { src in
            guard let base = src.baseAddress else { return }
            for row in 0..<height {
                let dst = UnsafeMutableRawPointer(data + row * stride).assumingMemoryBound(to: UInt32.self)
                dst.update(from: base + row * width, count: width)
            }
        }
        cairo_surface_mark_dirty(surface)
        cairo_save(cr)
        cairo_rectangle(cr, r.x, r.y, r.w, r.h)
        cairo_clip(cr)
        cairo_translate(cr, r.x, r.y)
        cairo_scale(cr, r.w / Double(width), r.h / Double(height))
        cairo_set_source_surface(cr, surface, 0, 0)
        let pattern = cairo_get_source(cr)
        // Compare the cell size with a device pixel: at 1 pt ≈ 2 px (150 dpi) a cell of 1 pt
        // still covers whole pixels, so only clearly reduced images are filtered.
        var dx = 1.0, dy = 1.0
        cairo_user_to_device_distance(cr, &dx, &dy)
        let enlarged = abs(dx) >= 1 && abs(dy) >= 1
        cairo_pattern_set_filter(pattern, enlarged ? CAIRO_FILTER_NEAREST : CAIRO_FILTER_GOOD)
        cairo_pattern_set_extend(pattern, CAIRO_EXTEND_PAD)
        cairo_rectangle(cr, 0, 0, Double(width), Double(height))
        cairo_fill(cr)
        cairo_restore(cr)
        current = nil
    }
}
