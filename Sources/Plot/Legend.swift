// Legend: its size, where it hides the least data (matplotlib's loc="best", restricted to the
// four corners, with outside-right as the fallback), and how it is drawn.

/// A measured legend box and its contents.
struct LegendBox {
    var title: String?
    var entries: [(label: String, mark: Mark)]
    var width: Double
    var height: Double
    var row: Double
    var sample: Double
    var pad: Double
    var gap: Double

    /// The legend of `panel`, or nil when no mark has a label.
    static func measure(_ panel: Panel, fonts: Fonts, canvas: Canvas) -> LegendBox? {
        let entries = panel.legendEntries
        guard !entries.isEmpty else { return nil }
        let font = fonts.legend, em = font.size
        let row = canvas.measure("Ag", font).height * 1.45
        let sample = 2.2 * em, pad = 0.6 * em, gap = 0.6 * em
        var textWidth = entries.map { canvas.measure($0.label, font).width }.max() ?? 0
        var height = 2 * pad + Double(entries.count) * row - (row - canvas.measure("Ag", font).height)
        if let t = panel.legendTitle, !t.isEmpty {
            textWidth = Swift.max(textWidth, canvas.measure(t, font).width - sample - gap)
            height += row
        }
        return LegendBox(title: panel.legendTitle, entries: entries, width: 2 * pad + sample + gap + textWidth,
                         height: height, row: row, sample: sample, pad: pad, gap: gap)
    }

    /// The box at `position` for panel `p`.
    func rect(_ p: PanelLayout, _ position: LegendPosition, metrics m: Metrics, fonts: Fonts, canvas: Canvas) -> Rect {
        let inset = m.edge
        let plot = p.plot
        switch position {
        case .upperLeft: return Rect(x: plot.x + inset, y: plot.y + inset, w: width, h: height)
        case .lowerLeft: return Rect(x: plot.x + inset, y: plot.maxY - inset - height, w: width, h: height)
        case .lowerRight: return Rect(x: plot.maxX - inset - width, y: plot.maxY - inset - height, w: width, h: height)
        case .outsideRight:
            let x = plot.maxX + Layout.colorBarWidth(p, fonts: fonts, m: m, canvas: canvas) + m.legendGap
            return Rect(x: x, y: plot.y, w: width, h: height)
        case .upperRight, .auto, .none: return Rect(x: plot.maxX - inset - width, y: plot.y + inset, w: width, h: height)
        }
    }

    /// The corner whose box covers the fewest data (ties in matplotlib's order), or outside
    /// right when every corner hides something and there is room beside the plot.
    func bestPosition(_ p: PanelLayout, metrics m: Metrics) -> LegendPosition {
        let corners: [LegendPosition] = [.upperRight, .upperLeft, .lowerLeft, .lowerRight]
        var best = LegendPosition.upperRight, fewest = Int.max
        for c in corners {
            let r = cornerRect(p, c, inset: m.edge)
            // A box bigger than the plot cannot sit inside it.
            if r.w > p.plot.w * 0.9 || r.h > p.plot.h * 0.9 { continue }
            let n = LegendBox.covered(r.insetBy(-2), p)
            if n < fewest { fewest = n; best = c }
        }
        if fewest == 0 { return best }
        // Outside, as long as the plot keeps a useful width; a narrow plot hiding nothing beats
        // a wide one with a legend over its data.
        let remaining = p.plot.w - width - m.legendGap
        return remaining >= Swift.max(0.35 * p.cell.w, 100) ? .outsideRight : best
    }

    private func cornerRect(_ p: PanelLayout, _ c: LegendPosition, inset: Double) -> Rect {
        let plot = p.plot
        let left = c == .upperLeft || c == .lowerLeft, upper = c == .upperLeft || c == .upperRight
        return Rect(x: left ? plot.x + inset : plot.maxX - inset - width,
                    y: upper ? plot.y + inset : plot.maxY - inset - height, w: width, h: height)
    }

    /// How many points, segments, error bars and bars of the panel touch `box`.
    static func covered(_ box: Rect, _ p: PanelLayout) -> Int {
        var n = 0
        func path(_ xs: [Double], _ ys: [Double]) {
            var previous: Point?
            for (a, b) in zip(xs, ys) where a.isFinite && b.isFinite {
                let q = p.point(a, b)
                if box.contains(q) { n += 1 }
                if let s = previous, segmentHits(s, q, box) { n += 1 }
                previous = q
            }
        }
        func bar(_ r: Rect) { if box.intersects(r) { n += 1 } }
        for mark in p.panel.marks {
            switch mark {
            case .line(let s):
                path(s.x, s.y)
                if let lo = s.lower, let hi = s.upper {
                    if s.errorStyle == .band { path(s.x, lo); path(s.x, hi) }
                    for i in s.x.indices where i < lo.count && i < hi.count {
                        if segmentHits(p.point(s.x[i], lo[i]), p.point(s.x[i], hi[i]), box) { n += 1 }
                    }
                }
            case .scatter(let s):
                for (a, b) in zip(s.x, s.y) where box.contains(p.point(a, b)) { n += 1 }
            case .bar:
                for r in Marks.barRects(p) { bar(r.rect) }
            case .histogram(let h):
                for i in h.counts.indices where h.counts[i] > 0 && i + 1 < h.edges.count {
                    let a = p.point(h.edges[i], h.counts[i]), b = p.point(h.edges[i + 1], 0)
                    bar(Rect(x: a.x, y: a.y, w: b.x - a.x, h: b.y - a.y))
                }
            case .heatmap:
                n += 1
            case .reference(let r):
                let a = r.orientation == .horizontal ? Point(x: p.plot.x, y: p.point(0, r.value).y) : Point(x: p.point(r.value, 0).x, y: p.plot.y)
                let b = r.orientation == .horizontal ? Point(x: p.plot.maxX, y: a.y) : Point(x: a.x, y: p.plot.maxY)
                if segmentHits(a, b, box) { n += 1 }
            case .key:
                break
            }
        }
        return n
    }

    /// Whether segment a–b crosses or lies in `r` (Liang–Barsky clipping).
    static func segmentHits(_ a: Point, _ b: Point, _ r: Rect) -> Bool {
        var t0 = 0.0, t1 = 1.0
        let dx = b.x - a.x, dy = b.y - a.y
        for (pk, qk) in [(-dx, a.x - r.x), (dx, r.maxX - a.x), (-dy, a.y - r.y), (dy, r.maxY - a.y)] {
            if pk == 0 {
                if qk < 0 { return false }
            } else {
                let t = qk / pk
                if pk < 0 { t0 = Swift.max(t0, t) } else { t1 = Swift.min(t1, t) }
                if t0 > t1 { return false }
            }
        }
        return true
    }

    /// Draws the legend in `r`: a translucent white box with a light edge, then one row per entry.
    func draw(_ c: Canvas, in r: Rect, fonts: Fonts) {
        c.setColor(.white, alpha: 0.85)
        c.rect(r); c.fill(keepPath: true)
        c.setColor(.legendEdge, alpha: 1)
        c.stroke(width: 0.6)
        var y = r.y + pad
        let textHeight = c.measure("Ag", fonts.legend).height
        c.setColor(.ink, alpha: 1)
        if let t = title, !t.isEmpty {
            c.text(t, at: Point(x: r.x + pad, y: y + textHeight / 2), fonts.legend, h: 0, v: .middle)
            y += row
        }
        for (label, mark) in entries {
            let mid = y + textHeight / 2
            Marks.legendSample(c, mark, from: Point(x: r.x + pad, y: mid), width: sample)
            c.setColor(.ink, alpha: 1)
            c.text(label, at: Point(x: r.x + pad + sample + gap, y: mid), fonts.legend, h: 0, v: .middle)
            y += row
        }
    }
}
