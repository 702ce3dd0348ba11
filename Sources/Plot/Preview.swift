// Preview: the first panel of a figure as Unicode text for the terminal: braille dots for lines
// and clouds with each series' marker symbol at its data points, horizontal block bars for bar
// charts, shade blocks for heatmaps; axis ranges and a legend line around it.

extension Figure {
    /// A text sketch of the first panel about `width`×`height` characters (plus labels).
    ///
    ///     print(fig.preview())
    public func preview(width: Int = 60, height: Int = 15) -> String {
        let w = Swift.max(10, Swift.min(400, width)), h = Swift.max(3, Swift.min(200, height))
        guard let panel = panels.first else { return "(empty figure)" }
        var out: [String] = []
        if let t = title ?? panel.title, !t.isEmpty { out.append(t) }
        if panel.marks.contains(where: { if case .bar = $0 { return true } else { return false } }) {
            out += TextPreview.bars(panel, width: w, height: h)
        } else if case .heatmap(let m)? = panel.marks.first {
            out += TextPreview.shades(m, width: w, height: h)
        } else {
            out += TextPreview.plot(panel, width: w, height: h)
        }
        let legend = panel.legendEntries.enumerated().map { i, e in "\(TextPreview.symbol(i)) \(e.label)" }
        if !legend.isEmpty { out.append(legend.joined(separator: "   ")) }
        if panels.count > 1 { out.append("(first of \(panels.count) panels)") }
        return out.joined(separator: "\n")
    }
}

enum TextPreview {
    static let symbols: [Character] = ["●", "■", "▲", "◆", "▼", "○", "□", "×"]
    static func symbol(_ i: Int) -> Character { symbols[i % symbols.count] }

    /// Three significant digits.
    static func short(_ v: Double) -> String {
        guard v.isFinite, v != 0 else { return Ticks.format(v) }
        let e = pow10(Double(plotInt(abs(v).log10.rounded(.down)) - 2))
        return Ticks.format((v / e).rounded() * e)
    }

    /// Lines, scatter clouds and histogram outlines on a braille grid (2×4 dots per character).
    static func plot(_ panel: Panel, width w: Int, height h: Int) -> [String] {
        let (xl, xh) = AxesLayout.range(panel, horizontal: true), (yl, yh) = AxesLayout.range(panel, horizontal: false)
        let gx = AxisGeometry(lo: xl, hi: xh, scale: panel.x.scale), gy = AxisGeometry(lo: yl, hi: yh, scale: panel.y.scale)
        let dw = w * 2, dh = h * 4
        var dots = [[Bool]](repeating: [Bool](repeating: false, count: dw), count: dh)
        var glyphs: [Int: Character] = [:]
        func dot(_ x: Double, _ y: Double) -> (Int, Int)? {
            guard x.isFinite, y.isFinite else { return nil }
            let fx = gx.fraction(x), fy = gy.fraction(y)
            guard fx >= 0, fx <= 1, fy >= 0, fy <= 1 else { return nil }
            return (Swift.min(dw - 1, plotInt(fx * Double(dw))), Swift.min(dh - 1, plotInt((1 - fy) * Double(dh))))
        }
        func set(_ p: (Int, Int)) { if p.0 >= 0, p.0 < dw, p.1 >= 0, p.1 < dh { dots[p.1][p.0] = true } }
        func segment(_ a: (Int, Int), _ b: (Int, Int)) {
            let steps = Swift.max(abs(b.0 - a.0), abs(b.1 - a.1), 1)
            for i in 0...steps {
                let t = Double(i) / Double(steps)
                set((a.0 + plotInt((Double(b.0 - a.0) * t).rounded()), a.1 + plotInt((Double(b.1 - a.1) * t).rounded())))
            }
        }
        func path(_ xs: [Double], _ ys: [Double]) {
            var previous: (Int, Int)?
            for (x, y) in zip(xs, ys) {
                let p = dot(x, y)
                if let a = previous, let b = p { segment(a, b) } else if let b = p { set(b) }
                previous = p
            }
        }
        for (i, mark) in panel.marks.enumerated() {
            switch mark {
            case .line(let s):
                path(s.x, s.y)
                if s.markers || s.x.count <= 30 {
                    for p in zip(s.x, s.y).compactMap({ dot($0.0, $0.1) }) { glyphs[(p.1 / 4) * w + p.0 / 2] = symbol(i) }
                }
            case .scatter(let s):
                for p in zip(s.x, s.y).compactMap({ dot($0.0, $0.1) }) { set(p) }
            case .histogram(let s):
                var xs: [Double] = [], ys: [Double] = []
                for (k, c) in s.counts.enumerated() where k + 1 < s.edges.count { xs += [s.edges[k], s.edges[k + 1]]; ys += [c, c] }
                path(xs, ys)
            case .reference(let r):
                if r.orientation == .horizontal { path([xl, xh], [r.value, r.value]) } else { path([r.value, r.value], [yl, yh]) }
            case .bar, .heatmap, .key: break
            }
        }
        let bits: [[UInt32]] = [[0x01, 0x08], [0x02, 0x10], [0x04, 0x20], [0x40, 0x80]]
        let top = short(gy.value(at: 1)), bottom = short(gy.value(at: 0))
        let margin = Swift.max(top.count, bottom.count)
        var lines: [String] = []
        for row in 0..<h {
            var text = ""
            for col in 0..<w {
                if let g = glyphs[row * w + col] { text.append(g); continue }
                var code: UInt32 = 0
                for dy in 0..<4 { for dx in 0..<2 where dots[row * 4 + dy][col * 2 + dx] { code |= bits[dy][dx] } }
                text.append(code == 0 ? " " : Character(Unicode.Scalar(0x2800 + code) ?? " "))
            }
            let label = row == 0 ? top : row == h - 1 ? bottom : ""
            let axis = row == 0 || row == h - 1 ? "┤" : "│"
            lines.append(String(repeating: " ", count: margin - label.count) + label + " " + axis + text)
        }
        lines.append(String(repeating: " ", count: margin + 1) + "└" + String(repeating: "─", count: w))
        let left = short(gx.value(at: 0)), right = short(gx.value(at: 1))
        let gap = Swift.max(1, w - left.count - right.count)
        lines.append(String(repeating: " ", count: margin + 2) + left + String(repeating: " ", count: gap) + right)
        if let x = panel.x.label, !x.isEmpty { lines.append(String(repeating: " ", count: margin + 2 + Swift.max(0, (w - x.count) / 2)) + x) }
        return lines
    }

    /// Horizontal bars, one row per category and series, with eighth-block precision.
    static func bars(_ panel: Panel, width w: Int, height h: Int) -> [String] {
        let series = panel.marks.compactMap { m -> BarSeries? in if case .bar(let b) = m { return b } else { return nil } }
        let names = panel.x.categories.map { $0.count > 18 ? String($0.prefix(17)) + "…" : $0 }
        let pad = names.map(\.count).max() ?? 0
        let top = series.flatMap(\.values).filter { $0.isFinite }.map(abs).max() ?? 1
        let eighths: [Character] = ["▏", "▎", "▍", "▌", "▋", "▊", "▉"]
        var lines: [String] = []
        outer: for (c, name) in names.enumerated() {
            for (k, s) in series.enumerated() {
                if lines.count >= h { lines.append("…"); break outer }
                let v = c < s.values.count ? s.values[c] : .nan
                let label = k == 0 ? name : ""
                var bar = ""
                if v.isFinite && top > 0 {
                    let units = plotInt((abs(v) / top * Double(w - 12) * 8).rounded())
                    bar = String(repeating: "█", count: units / 8) + (units % 8 > 0 ? String(eighths[units % 8 - 1]) : "")
                }
                let mark = series.count > 1 ? "\(symbol(k)) " : ""
                lines.append(String(repeating: " ", count: pad - label.count) + label + " │" + mark + bar + " " + short(v))
            }
        }
        return lines
    }

    /// A matrix as shade blocks, averaged down to fit.
    static func shades(_ m: HeatmapData, width w: Int, height h: Int) -> [String] {
        guard m.rows > 0, m.cols > 0, m.values.count == m.rows * m.cols else { return ["(malformed matrix)"] }
        // A character is about twice as tall as wide.
        let cols = Swift.min(w, m.cols), rows = Swift.max(1, Swift.min(h, plotInt((Double(m.rows) * Double(cols) / Double(m.cols) / 2).rounded())))
        let shades: [Character] = [" ", "░", "▒", "▓", "█"]
        var lines: [String] = []
        for r in 0..<rows {
            var text = ""
            for c in 0..<cols {
                var sum = 0.0, n = 0.0
                for i in (r * m.rows / rows)..<Swift.max(r * m.rows / rows + 1, (r + 1) * m.rows / rows) {
                    for j in (c * m.cols / cols)..<Swift.max(c * m.cols / cols + 1, (c + 1) * m.cols / cols) {
                        let v = m.values[i * m.cols + j]
                        if v.isFinite { sum += v; n += 1 }
                    }
                }
                let t = n > 0 && m.high > m.low ? (sum / n - m.low) / (m.high - m.low) : 0
                text.append(shades[Swift.min(4, Swift.max(0, plotInt(t * 4.999)))])
            }
            lines.append("│" + text + "│")
        }
        lines.append("\(short(m.low)) " + String(shades) + " \(short(m.high))")
        return lines
    }
}
