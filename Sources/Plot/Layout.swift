// Layout: where each panel's plot rectangle, labels, legend and colour bar go. Margins come from
// measured text, so nothing is clipped or overlaps; panels in one grid row share top and bottom
// margins and panels in one column share the left one, so their axes line up.
import CCairo

/// Font sizes derived from the figure's base size.
struct Fonts {
    var tick: Font, label: Font, title: Font, legend: Font, suptitle: Font
    init(_ base: Double) {
        tick = Font(size: base - 1)
        label = Font(size: base)
        title = Font(size: base + 1)
        legend = Font(size: base - 1)
        suptitle = Font(size: base + 1, bold: true)
    }
}

/// Fixed distances in points, matplotlib's defaults scaled to the base font size.
struct Metrics {
    var tickLength: Double, tickPad: Double, labelPad: Double, titlePad: Double, edge: Double
    var colorBarGap: Double, colorBarWidth: Double, legendGap: Double
    init(_ base: Double) {
        let k = base / 10
        tickLength = 3.5 * k; tickPad = 3.5 * k; labelPad = 4 * k; titlePad = 6 * k; edge = 4 * k
        colorBarGap = 10 * k; colorBarWidth = 10 * k; legendGap = 8 * k
    }
}

/// A colour bar beside a heatmap: its rectangle and the axis of its values.
struct ColorBarLayout {
    var rect: Rect
    var axis: AxisGeometry
    var map: Colormap
    var label: String?
}

/// One panel as laid out.
struct PanelLayout {
    var panel: Panel
    var cell: Rect
    var plot: Rect
    var x: AxisGeometry
    var y: AxisGeometry
    var legend: LegendBox?
    var legendPosition: LegendPosition = .none
    /// Where the legend box is drawn (nil: no legend).
    var legendRect: Rect?
    var colorBar: ColorBarLayout?

    /// The position of a data point on the page.
    func point(_ vx: Double, _ vy: Double) -> Point {
        Point(x: plot.x + x.fraction(vx) * plot.w, y: plot.maxY - y.fraction(vy) * plot.h)
    }

    /// Image panels (no axes) get their caption in the tick font, close to the image.
    var isImage: Bool { x.hidden && y.hidden }
}

struct FigureLayout {
    var width: Double, height: Double
    var panels: [PanelLayout]
    var fonts: Fonts
    var metrics: Metrics
}

enum Layout {
    /// Lays out `figure` measuring text on a scratch cairo surface (for tests and previews that
    /// need positions without drawing).
    static func measure(_ figure: Figure) -> FigureLayout? {
        guard let surface = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 1, 1) else { return nil }
        defer { cairo_surface_destroy(surface) }
        guard let cr = cairo_create(surface) else { return nil }
        defer { cairo_destroy(cr) }
        return make(figure, canvas: CairoCanvas(cr))
    }

    /// Lays out `figure` on a page of its size in points, measuring text with `canvas`.
    static func make(_ figure: Figure, canvas: Canvas) -> FigureLayout {
        let width = figure.width * 72, height = figure.height * 72
        let base = figure.textSize
        let fonts = Fonts(base), m = Metrics(base)
        var top = m.edge
        if let t = figure.title, !t.isEmpty { top += canvas.measure(t, fonts.suptitle).height + m.titlePad }
        // rows and cols are public and may have been set to anything; never divide by zero.
        let cols = Swift.max(1, figure.cols)
        let rows = Swift.max(1, figure.rows, (figure.panels.count + cols - 1) / cols)
        let cw = (width - 2 * m.edge) / Double(cols), ch = (height - top - m.edge) / Double(rows)

        var panels: [PanelLayout] = figure.panels.enumerated().map { i, p in
            let cell = Rect(x: m.edge + Double(i % cols) * cw, y: top + Double(i / cols) * ch, w: cw, h: ch)
            let (xl, xh) = AxesLayout.range(p, horizontal: true), (yl, yh) = AxesLayout.range(p, horizontal: false)
            var layout = PanelLayout(panel: p, cell: cell, plot: cell,
                                     x: AxisGeometry(lo: xl, hi: xh, scale: p.x.scale), y: AxisGeometry(lo: yl, hi: yh, scale: p.y.scale))
            layout.legend = p.legend == .none ? nil : LegendBox.measure(p, fonts: fonts, canvas: canvas)
            layout.legendPosition = p.legend == .auto ? .upperRight : p.legend
            return layout
        }
        // A first guess; each pass measures what the labels need and refines it.
        var margins = panels.map { _ in (l: 4.5 * base, r: base, t: base, b: 3.5 * base) }
        for pass in 0..<4 {
            for i in panels.indices {
                placePlot(&panels[i], margins[i])
                let p = panels[i]
                panels[i].x = AxesLayout.ticks(p.panel.x, lo: p.x.lo, hi: p.x.hi, length: p.plot.w, horizontal: true,
                                               canvas: canvas, font: fonts.tick)
                panels[i].y = AxesLayout.ticks(p.panel.y, lo: p.y.lo, hi: p.y.hi, length: p.plot.h, horizontal: false,
                                               canvas: canvas, font: fonts.tick)
                panels[i].colorBar = colorBar(p.panel, plot: p.plot, m: m, canvas: canvas, font: fonts.tick)
                // The corners are judged once the plot has nearly its final size, and judged again
                // after neighbours' outside legends may have narrowed it; a legend only ever moves
                // outside on the second look, so the passes settle.
                if pass == 1 || pass == 2, p.panel.legend == .auto, let box = p.legend,
                   panels[i].legendPosition != .outsideRight {
                    panels[i].legendPosition = box.bestPosition(panels[i], metrics: m)
                }
                margins[i] = needed(panels[i], fonts: fonts, m: m, canvas: canvas)
            }
            // Panels in one row share top and bottom margins, and in one column the left one, so
            // that axes line up; right margins stay each panel's own, since an outside legend in
            // one panel should not squeeze the panel below it.
            let shared = margins
            for i in margins.indices {
                let r = i / cols, c = i % cols
                let row = shared.indices.filter { $0 / cols == r }, col = shared.indices.filter { $0 % cols == c }
                margins[i].t = row.map { shared[$0].t }.max() ?? margins[i].t
                margins[i].b = row.map { shared[$0].b }.max() ?? margins[i].b
                margins[i].l = col.map { shared[$0].l }.max() ?? margins[i].l
            }
        }
        for i in panels.indices {
            placePlot(&panels[i], margins[i])
            panels[i].colorBar = colorBar(panels[i].panel, plot: panels[i].plot, m: m, canvas: canvas, font: fonts.tick)
            if let box = panels[i].legend, panels[i].legendPosition != .none {
                panels[i].legendRect = box.rect(panels[i], panels[i].legendPosition, metrics: m, fonts: fonts, canvas: canvas)
            }
        }
        return FigureLayout(width: width, height: height, panels: panels, fonts: fonts, metrics: m)
    }

    /// Sets the plot rectangle from the cell and margins, keeping one data unit equally long on
    /// both axes when the panel asks for it.
    static func placePlot(_ p: inout PanelLayout, _ margin: (l: Double, r: Double, t: Double, b: Double)) {
        let c = p.cell
        var plot = Rect(x: c.x + margin.l, y: c.y + margin.t, w: c.w - margin.l - margin.r, h: c.h - margin.t - margin.b)
        plot.w = Swift.max(plot.w, 10); plot.h = Swift.max(plot.h, 10)
        if p.panel.equalAspect {
            let aspect = (p.x.hi - p.x.lo) / (p.y.hi - p.y.lo)
            if aspect.isFinite, aspect > 0 {
                if plot.w / plot.h > aspect {
                    let w = plot.h * aspect
                    plot.x += (plot.w - w) / 2; plot.w = w
                } else {
                    let h = plot.w / aspect
                    // Images hang from the top of their cell so that captions in a row line up.
                    if !p.isImage { plot.y += (plot.h - h) / 2 }
                    plot.h = h
                }
            }
        }
        p.plot = plot
    }

    /// The margins around the plot that its labels, colour bar and outside legend need.
    static func needed(_ p: PanelLayout, fonts: Fonts, m: Metrics, canvas: Canvas) -> (l: Double, r: Double, t: Double, b: Double) {
        let labelH = canvas.measure("Ag", fonts.label).height
        var l = 0.0, r = 0.0, t = 0.0, b = 0.0
        if !p.y.hidden {
            let widest = p.y.labels.map { canvas.measure($0, fonts.tick).width }.max() ?? 0
            l = m.tickLength + m.tickPad + widest
            if let s = p.panel.y.label, !s.isEmpty { l += m.labelPad + labelH }
            // The top tick label is centred on the axis end and sticks out by half its height.
            t = canvas.measure("0", fonts.tick).cap / 2 + 1
        }
        if !p.x.hidden {
            let ext = AxesLayout.xLabelExtent(p.x, length: p.plot.w, canvas: canvas, font: fonts.tick)
            b = m.tickLength + m.tickPad + ext.below
            if let s = p.panel.x.label, !s.isEmpty { b += m.labelPad + labelH }
            l = Swift.max(l, ext.left)
            r = ext.right
        }
        if let title = p.panel.title, !title.isEmpty {
            let font = p.isImage ? fonts.tick : fonts.title
            t = canvas.measure(title, font).height + (p.isImage ? m.labelPad : m.titlePad)
        }
        // Colour bar and outside legend stack to the right of the plot, beside the x labels'
        // overhang rather than after it, since those hang below the plot.
        var stack = colorBarWidth(p, fonts: fonts, m: m, canvas: canvas)
        if p.legendPosition == .outsideRight, let box = p.legend { stack += m.legendGap + box.width }
        r = Swift.max(r, stack)
        // Space at every side, so that labels of neighbouring panels never touch.
        let e = m.edge
        return (l + e, r + e, t + e, b + e)
    }

    /// The room a panel's colour bar takes right of the plot, with its ticks and label.
    static func colorBarWidth(_ p: PanelLayout, fonts: Fonts, m: Metrics, canvas: Canvas) -> Double {
        guard let bar = p.colorBar else { return 0 }
        let widest = bar.axis.labels.map { canvas.measure($0, fonts.tick).width }.max() ?? 0
        var need = m.colorBarGap + m.colorBarWidth + m.tickLength + m.tickPad + widest
        if let s = bar.label, !s.isEmpty { need += m.labelPad + canvas.measure("Ag", fonts.label).height }
        return need
    }

    /// The colour bar of a panel's heatmap, if it has one.
    static func colorBar(_ panel: Panel, plot: Rect, m: Metrics, canvas: Canvas, font: Font) -> ColorBarLayout? {
        for case .heatmap(let h) in panel.marks where h.colorBar {
            let rect = Rect(x: plot.maxX + m.colorBarGap, y: plot.y, w: m.colorBarWidth, h: plot.h)
            var axis = Axis()
            axis.integerTicks = false
            let g = AxesLayout.ticks(axis, lo: h.low, hi: h.high, length: plot.h, horizontal: false, canvas: canvas, font: font)
            let map = h.colormap == .auto ? .viridis : h.colormap
            return ColorBarLayout(rect: rect, axis: g, map: map, label: h.colorLabel)
        }
        return nil
    }
}
