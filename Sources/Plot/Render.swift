// Render: draws a laid-out figure on any Canvas: background, grid, marks, spines, ticks,
// labels, titles, legends and colour bars, in that order (later things stay readable on top).

enum Renderer {
    /// Lays out and draws `figure` on `canvas`, a page of figure.width × figure.height inches
    /// in points.
    static func draw(_ figure: Figure, on c: Canvas) {
        let layout = Layout.make(figure, canvas: c)
        if !figure.transparent {
            c.setColor(.white, alpha: 1)
            c.rect(Rect(x: 0, y: 0, w: layout.width, h: layout.height)); c.fill()
        }
        for p in layout.panels { panel(c, p, layout) }
        if let t = figure.title, !t.isEmpty {
            c.setColor(.ink, alpha: 1)
            c.text(t, at: Point(x: layout.width / 2, y: layout.metrics.edge), layout.fonts.suptitle, h: 0.5, v: .top)
        }
    }

    static func panel(_ c: Canvas, _ p: PanelLayout, _ layout: FigureLayout) {
        let fonts = layout.fonts, m = layout.metrics
        let heat = p.panel.marks.contains { if case .heatmap = $0 { return true } else { return false } }
        if p.panel.grid && !heat { grid(c, p) }
        c.save()
        c.clip(p.plot)
        Marks.draw(c, p)
        c.restore()
        if !p.isImage { spines(c, p, box: heat) }
        xAxis(c, p, fonts: fonts, m: m)
        yAxis(c, p, fonts: fonts, m: m)
        if let t = p.panel.title, !t.isEmpty {
            c.setColor(.ink, alpha: 1)
            let (font, x) = fitted(c, t, p.isImage ? fonts.tick : fonts.title, centre: p.plot.x + p.plot.w / 2, in: p.cell, m: m)
            c.text(t, at: Point(x: x, y: p.plot.y - (p.isImage ? m.labelPad : m.titlePad)), font, h: 0.5, v: .bottom)
        }
        if let bar = p.colorBar { colorBar(c, bar, fonts: fonts, m: m) }
        if let box = p.legend, let r = p.legendRect { box.draw(c, in: r, fonts: fonts) }
    }

    static func grid(_ c: Canvas, _ p: PanelLayout) {
        if !p.x.hidden && p.panel.x.categories.isEmpty {
            for v in p.x.major {
                let x = p.plot.x + p.x.fraction(v) * p.plot.w
                c.segment(Point(x: x, y: p.plot.y), Point(x: x, y: p.plot.maxY))
            }
        }
        if !p.y.hidden {
            for v in p.y.major {
                let y = p.plot.maxY - p.y.fraction(v) * p.plot.h
                c.segment(Point(x: p.plot.x, y: y), Point(x: p.plot.maxX, y: y))
            }
        }
        c.setColor(.grid, alpha: 1)
        c.stroke(width: 0.6)
    }

    /// Left and bottom spines (the open "despined" look of seaborn's ticks style); a full frame
    /// around heatmaps, whose cells reach every edge.
    static func spines(_ c: Canvas, _ p: PanelLayout, box: Bool) {
        let r = p.plot
        if box {
            c.rect(r)
        } else {
            if !p.y.hidden { c.segment(Point(x: r.x, y: r.y), Point(x: r.x, y: r.maxY)) }
            if !p.x.hidden { c.segment(Point(x: r.x, y: r.maxY), Point(x: r.maxX, y: r.maxY)) }
        }
        c.setColor(.ink, alpha: 1)
        c.stroke(width: 0.8)
    }

    static func xAxis(_ c: Canvas, _ p: PanelLayout, fonts: Fonts, m: Metrics) {
        guard !p.x.hidden else { return }
        let r = p.plot
        func px(_ v: Double) -> Double { r.x + p.x.fraction(v) * r.w }
        ticks(c, p.x.major.map(px).filter { $0 >= r.x - 0.5 && $0 <= r.maxX + 0.5 }, along: true, at: r.maxY, length: m.tickLength)
        ticks(c, p.x.minor.map(px), along: true, at: r.maxY, length: m.tickLength * 0.55)
        c.setColor(.ink, alpha: 1)
        let y0 = r.maxY + m.tickLength + m.tickPad
        for (v, s) in zip(p.x.major, p.x.labels) {
            if p.x.angle == 0 {
                c.text(s, at: Point(x: px(v), y: y0), fonts.tick, h: 0.5, v: .top)
            } else {
                c.text(s, at: Point(x: px(v), y: y0), fonts.tick, h: 1, v: .middle, angle: p.x.angle)
            }
        }
        if let label = p.panel.x.label, !label.isEmpty {
            let below = AxesLayout.xLabelExtent(p.x, length: r.w, canvas: c, font: fonts.tick).below
            let (font, x) = fitted(c, label, fonts.label, centre: r.x + r.w / 2, in: p.cell, m: m)
            c.text(label, at: Point(x: x, y: y0 + below + m.labelPad), font, h: 0.5, v: .top)
        }
    }

    /// A panel title or x label wider than its panel's cell (long titles of panels side by side)
    /// would run into the next panel or off the figure: its font shrinks to fit the cell, to no
    /// less than 80% of its size, and its centre moves so that it stays inside the cell where
    /// it fits. Text that fits is drawn as it was.
    static func fitted(_ c: Canvas, _ text: String, _ font: Font, centre: Double, in cell: Rect, m: Metrics) -> (Font, Double) {
        let room = cell.w - 2 * m.edge
        let width = c.measure(text, font).width
        guard width > room, room > 0 else {
            // Inside the cell already, or centred off it (a plot narrower than its cell).
            return (font, clamp(centre, width: width, in: cell, m: m))
        }
        var f = font
        f.size = font.size * Swift.max(0.8, room / width)
        return (f, clamp(centre, width: c.measure(text, f).width, in: cell, m: m))
    }

    private static func clamp(_ centre: Double, width: Double, in cell: Rect, m: Metrics) -> Double {
        let lo = cell.x + m.edge + width / 2, hi = cell.x + cell.w - m.edge - width / 2
        return lo <= hi ? Swift.min(Swift.max(centre, lo), hi) : cell.x + cell.w / 2
    }

    static func yAxis(_ c: Canvas, _ p: PanelLayout, fonts: Fonts, m: Metrics) {
        guard !p.y.hidden else { return }
        let r = p.plot
        func py(_ v: Double) -> Double { r.maxY - p.y.fraction(v) * r.h }
        ticks(c, p.y.major.map(py).filter { $0 >= r.y - 0.5 && $0 <= r.maxY + 0.5 }, along: false, at: r.x, length: m.tickLength)
        ticks(c, p.y.minor.map(py), along: false, at: r.x, length: m.tickLength * 0.55)
        c.setColor(.ink, alpha: 1)
        let x0 = r.x - m.tickLength - m.tickPad
        var widest = 0.0
        for (v, s) in zip(p.y.major, p.y.labels) {
            widest = Swift.max(widest, c.measure(s, fonts.tick).width)
            c.text(s, at: Point(x: x0, y: py(v)), fonts.tick, h: 1, v: .middle)
        }
        if let label = p.panel.y.label, !label.isEmpty {
            c.text(label, at: Point(x: x0 - widest - m.labelPad, y: r.y + r.h / 2), fonts.label, h: 0.5, v: .bottom,
                   angle: Double.pi / 2)
        }
    }

    /// Outward tick marks at page positions `at`, along the bottom (x) or left (y) spine.
    static func ticks(_ c: Canvas, _ positions: [Double], along horizontal: Bool, at edge: Double, length: Double) {
        guard !positions.isEmpty else { return }
        for q in positions {
            if horizontal { c.segment(Point(x: q, y: edge), Point(x: q, y: edge + length)) } else {
                c.segment(Point(x: edge, y: q), Point(x: edge - length, y: q))
            }
        }
        c.setColor(.ink, alpha: 1)
        c.stroke(width: length < 3 ? 0.6 : 0.8)
    }

    static func colorBar(_ c: Canvas, _ bar: ColorBarLayout, fonts: Fonts, m: Metrics) {
        let r = bar.rect
        // Top row is the high end of the map.
        let lut = Palette.lookupTable(bar.map)
        c.image(Array(lut.reversed()), width: 1, height: lut.count, in: r)
        c.rect(r)
        c.setColor(.ink, alpha: 1)
        c.stroke(width: 0.6)
        let ys = bar.axis.major.map { r.maxY - bar.axis.fraction($0) * r.h }
        for y in ys { c.segment(Point(x: r.maxX, y: y), Point(x: r.maxX + m.tickLength, y: y)) }
        c.stroke(width: 0.8)
        var widest = 0.0
        for (y, s) in zip(ys, bar.axis.labels) {
            widest = Swift.max(widest, c.measure(s, fonts.tick).width)
            c.text(s, at: Point(x: r.maxX + m.tickLength + m.tickPad, y: y), fonts.tick, h: 0, v: .middle)
        }
        if let label = bar.label, !label.isEmpty {
            let x = r.maxX + m.tickLength + m.tickPad + widest + m.labelPad
            c.text(label, at: Point(x: x, y: r.y + r.h / 2), fonts.label, h: 0.5, v: .top, angle: Double.pi / 2)
        }
    }
}
