// Marks: drawing each kind of series inside a panel's plot rectangle (lines with error bars or
// bands, grouped bars, overlaid histograms, scatter clouds, heatmaps), their markers, and the
// small samples the legend shows.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

enum Marks {
    /// Line width, marker diameter and error-bar cap half-width, in points.
    static let lineWidth = 1.5, markerSize = 5.0, capWidth = 2.5

    static func draw(_ c: Canvas, _ p: PanelLayout) {
        // Bands first, so that no line or marker is hidden under another series' shading.
        for case .line(let s) in p.panel.marks where s.errorStyle == .band { band(c, p, s) }
        let bars = barRects(p)
        // Reference lines under the data, so that a curve on the baseline stays visible.
        for case .reference(let r) in p.panel.marks { reference(c, p, r) }
        let shift = dodges(p)
        for (i, mark) in p.panel.marks.enumerated() {
            switch mark {
            case .line(let s): line(c, p, s, dx: shift[i] ?? 0)
            case .scatter(let s): scatter(c, p, s)
            case .histogram(let h): histogram(c, p, h)
            case .heatmap(let h): heatmap(c, p, h)
            case .bar, .reference, .key: break
            }
        }
        for b in bars {
            c.setColor(Palette.color(b.style), alpha: 1)
            c.rect(b.rect); c.fill()
        }
        for b in bars {
            if let lo = b.lower, let hi = b.upper { errorBar(c, x: b.rect.x + b.rect.w / 2, lo, hi, color: .ink, width: 1) }
        }
    }

    static func band(_ c: Canvas, _ p: PanelLayout, _ s: LineSeries) {
        guard let lo = s.lower, let hi = s.upper else { return }
        let idx = s.x.indices.filter { $0 < lo.count && $0 < hi.count && s.x[$0].isFinite && lo[$0].isFinite && hi[$0].isFinite }
        guard idx.count > 1 else { return }
        c.move(p.point(s.x[idx[0]], hi[idx[0]]))
        for i in idx.dropFirst() { c.line(p.point(s.x[i], hi[i])) }
        for i in idx.reversed() { c.line(p.point(s.x[i], lo[i])) }
        c.closePath()
        c.setColor(Palette.color(s.style), alpha: 0.2)
        c.fill()
    }

    /// Page offsets (points, by mark index) that set the error bars of several series side by
    /// side at each x instead of on top of each other: the whole series moves, so that its
    /// markers stay on their bars; at most a third of the closest x spacing in all.
    static func dodges(_ p: PanelLayout) -> [Int: Double] {
        var indices: [Int] = [], xs = Set<Double>()
        for (i, m) in p.panel.marks.enumerated() {
            if case .line(let s) = m, s.errorStyle == .bars, s.lower != nil, s.upper != nil {
                indices.append(i)
                for x in s.x where x.isFinite { xs.insert(p.point(x, 0).x) }
            }
        }
        guard indices.count > 1 else { return [:] }
        let sorted = xs.sorted()
        let gap = zip(sorted, sorted.dropFirst()).map { $1 - $0 }.min() ?? p.plot.w
        let step = Swift.min(4, gap / 3 / Double(indices.count - 1))
        var out: [Int: Double] = [:]
        for (j, i) in indices.enumerated() { out[i] = (Double(j) - Double(indices.count - 1) / 2) * step }
        return out
    }

    static func line(_ c: Canvas, _ p: PanelLayout, _ s: LineSeries, dx: Double = 0) {
        let color = Palette.color(s.style)
        func at(_ x: Double, _ y: Double) -> Point {
            let q = p.point(x, y)
            return Point(x: q.x + dx, y: q.y)
        }
        if s.errorStyle == .bars, let lo = s.lower, let hi = s.upper {
            for i in s.x.indices where i < lo.count && i < hi.count && lo[i].isFinite && hi[i].isFinite && lo[i] != hi[i] {
                let a = at(s.x[i], lo[i]), b = at(s.x[i], hi[i])
                errorBar(c, x: a.x, a.y, b.y, color: color, width: 1)
            }
        }
        // NaN breaks the line rather than joining across the gap.
        var drawing = false
        for (x, y) in zip(s.x, s.y) {
            guard x.isFinite, y.isFinite else { drawing = false; continue }
            let q = at(x, y)
            if drawing { c.line(q) } else { c.move(q); drawing = true }
        }
        c.setColor(color, alpha: 1)
        c.stroke(width: lineWidth)
        if s.markers {
            for (x, y) in zip(s.x, s.y) where x.isFinite && y.isFinite {
                marker(c, Palette.marker(s.style), at: at(x, y), size: markerSize, color: color)
            }
        }
    }

    /// Dash patterns of reference lines, in points.
    static let referenceDashes: [[Double]] = [[5, 3], [1.5, 2], [6, 2, 1.5, 2]]
    static func referenceDash(_ r: ReferenceLine) -> [Double] { referenceDashes[((r.dash % 3) + 3) % 3] }

    static func reference(_ c: Canvas, _ p: PanelLayout, _ r: ReferenceLine) {
        guard r.value.isFinite else { return }
        if r.orientation == .horizontal {
            let y = p.point(0, r.value).y
            c.segment(Point(x: p.plot.x, y: y), Point(x: p.plot.maxX, y: y))
        } else {
            let x = p.point(r.value, 0).x
            c.segment(Point(x: x, y: p.plot.y), Point(x: x, y: p.plot.maxY))
        }
        c.setColor(r.style.map(Palette.color) ?? .ink, alpha: 0.85)
        c.stroke(width: 1.2, dash: referenceDash(r))
    }

    static func errorBar(_ c: Canvas, x: Double, _ y0: Double, _ y1: Double, color: Color, width: Double) {
        c.segment(Point(x: x, y: y0), Point(x: x, y: y1))
        c.segment(Point(x: x - capWidth, y: y0), Point(x: x + capWidth, y: y0))
        c.segment(Point(x: x - capWidth, y: y1), Point(x: x + capWidth, y: y1))
        c.setColor(color, alpha: 1)
        c.stroke(width: width)
    }

    static func scatter(_ c: Canvas, _ p: PanelLayout, _ s: ScatterSeries) {
        // Each point is filled on its own so that overlapping translucent points darken: the
        // density of a cloud is what a scatter of many weights is for.
        c.setColor(s.color ?? Palette.color(s.style), alpha: s.alpha)
        let r = s.size / 2
        for (x, y) in zip(s.x, s.y) where x.isFinite && y.isFinite {
            let q = p.point(x, y)
            if r < 1.2 { c.rect(Rect(x: q.x - r, y: q.y - r, w: 2 * r, h: 2 * r)) } else { c.circle(q, radius: r) }
            c.fill()
        }
    }

    static func histogram(_ c: Canvas, _ p: PanelLayout, _ h: HistogramSeries) {
        guard h.edges.count == h.counts.count + 1, !h.counts.isEmpty else { return }
        let color = Palette.color(h.style)
        let base = p.y.scale == .log ? p.y.lo : 0
        c.move(p.point(h.edges[0], base))
        for i in h.counts.indices {
            let v = p.y.scale == .log && h.counts[i] <= 0 ? base : h.counts[i]
            c.line(p.point(h.edges[i], v)); c.line(p.point(h.edges[i + 1], v))
        }
        c.line(p.point(h.edges[h.counts.count], base))
        c.closePath()
        c.setColor(color, alpha: 0.35)
        c.fill(keepPath: true)
        c.setColor(color, alpha: 1)
        c.stroke(width: 1.2)
    }

    static func heatmap(_ c: Canvas, _ p: PanelLayout, _ h: HeatmapData) {
        guard h.rows > 0, h.cols > 0, h.values.count == h.rows * h.cols else { return }
        let map = h.colormap == .auto ? Colormap.viridis : h.colormap
        let lut = Palette.lookupTable(map)
        let span = h.high - h.low
        let pixels: [UInt32] = h.values.map { v in
            guard v.isFinite else { return 0 }
            let t = span > 0 ? (v - h.low) / span : 0.5
            return lut[plotInt((Swift.min(1, Swift.max(0, t)) * 255).rounded())]
        }
        let a = p.point(-0.5, -0.5), b = p.point(Double(h.cols) - 0.5, Double(h.rows) - 0.5)
        c.image(pixels, width: h.cols, height: h.rows,
                in: Rect(x: Swift.min(a.x, b.x), y: Swift.min(a.y, b.y), w: abs(b.x - a.x), h: abs(b.y - a.y)))
    }

    /// Bar rectangles of a panel, grouped side by side within each category.
    static func barRects(_ p: PanelLayout) -> [(rect: Rect, style: Int, lower: Double?, upper: Double?)] {
        let series = p.panel.marks.compactMap { m -> BarSeries? in if case .bar(let b) = m { return b } else { return nil } }
        guard !series.isEmpty else { return [] }
        let group = 0.8, width = group / Double(series.count)
        let base = p.y.scale == .log ? p.y.lo : 0
        var out: [(Rect, Int, Double?, Double?)] = []
        for (j, s) in series.enumerated() {
            for (i, v) in s.values.enumerated() where v.isFinite && (p.y.scale == .linear || v > 0) {
                let x0 = Double(i) - group / 2 + Double(j) * width
                let a = p.point(x0, v), b = p.point(x0 + width, base)
                let rect = Rect(x: a.x, y: Swift.min(a.y, b.y), w: b.x - a.x, h: abs(b.y - a.y))
                let lo = s.lower.flatMap { i < $0.count ? $0[i] : nil }, hi = s.upper.flatMap { i < $0.count ? $0[i] : nil }
                let yl = lo.map { p.point(x0, $0).y }, yh = hi.map { p.point(x0, $0).y }
                out.append((rect, s.style, lo == hi ? nil : yl, lo == hi ? nil : yh))
            }
        }
        return out
    }

    /// A filled marker with a thin white edge, which keeps overlapping markers apart.
    static func marker(_ c: Canvas, _ m: Marker, at q: Point, size: Double, color: Color) {
        let r = size / 2
        func polygon(_ n: Int, radius: Double, rotation: Double) {
            for k in 0..<n {
                let a = rotation + 2 * Double.pi * Double(k) / Double(n)
                let v = Point(x: q.x + radius * sin(a), y: q.y - radius * cos(a))
                if k == 0 { c.move(v) } else { c.line(v) }
            }
            c.closePath()
        }
        switch m {
        case .circle: c.circle(q, radius: r)
        case .square: c.rect(Rect(x: q.x - r * 0.88, y: q.y - r * 0.88, w: r * 1.76, h: r * 1.76))
        case .triangle: polygon(3, radius: r * 1.25, rotation: 0)
        case .triangleDown: polygon(3, radius: r * 1.25, rotation: Double.pi)
        case .diamond:
            c.move(Point(x: q.x, y: q.y - r * 1.25)); c.line(Point(x: q.x + r * 0.9, y: q.y))
            c.line(Point(x: q.x, y: q.y + r * 1.25)); c.line(Point(x: q.x - r * 0.9, y: q.y)); c.closePath()
        case .pentagon: polygon(5, radius: r * 1.1, rotation: 0)
        case .hexagon: polygon(6, radius: r * 1.05, rotation: 0)
        case .cross:
            let d = r * 0.95
            c.segment(Point(x: q.x - d, y: q.y - d), Point(x: q.x + d, y: q.y + d))
            c.segment(Point(x: q.x - d, y: q.y + d), Point(x: q.x + d, y: q.y - d))
            c.setColor(color, alpha: 1)
            c.stroke(width: 1.6)
            return
        }
        c.setColor(color, alpha: 1)
        c.fill(keepPath: true)
        c.setColor(.white, alpha: 1)
        c.stroke(width: 0.5)
    }

    /// The small picture before a legend label: a line with its marker, or a patch of colour.
    static func legendSample(_ c: Canvas, _ mark: Mark, from a: Point, width: Double) {
        let mid = Point(x: a.x + width / 2, y: a.y)
        let patch = Rect(x: a.x + width * 0.2, y: a.y - width * 0.2, w: width * 0.6, h: width * 0.4)
        switch mark {
        case .line(let s):
            let color = Palette.color(s.style)
            if s.errorStyle == .band, s.lower != nil {
                c.setColor(color, alpha: 0.2)
                c.rect(Rect(x: a.x, y: a.y - width * 0.18, w: width, h: width * 0.36)); c.fill()
            }
            c.segment(a, Point(x: a.x + width, y: a.y))
            c.setColor(color, alpha: 1)
            c.stroke(width: lineWidth)
            if s.markers { marker(c, Palette.marker(s.style), at: mid, size: markerSize, color: color) }
        case .scatter(let s):
            c.circle(mid, radius: Swift.max(2, s.size / 2))
            c.setColor(s.color ?? Palette.color(s.style), alpha: Swift.max(0.6, s.alpha)); c.fill()
        case .bar(let s):
            c.rect(patch); c.setColor(Palette.color(s.style), alpha: 1); c.fill()
        case .histogram(let h):
            c.rect(patch); c.setColor(Palette.color(h.style), alpha: 0.35); c.fill(keepPath: true)
            c.setColor(Palette.color(h.style), alpha: 1); c.stroke(width: 1.2)
        case .reference(let r):
            c.segment(a, Point(x: a.x + width, y: a.y))
            c.setColor(r.style.map(Palette.color) ?? .ink, alpha: 0.85)
            c.stroke(width: 1.2, dash: referenceDash(r))
        case .key(let k):
            c.rect(patch); c.setColor(k.color, alpha: 1); c.fill(keepPath: true)
            c.setColor(.legendEdge, alpha: 1); c.stroke(width: 0.6)
        case .heatmap: break
        }
    }
}
