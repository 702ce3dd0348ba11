// Builders for line plots and training curves: tables (columns by name, as the script's tables
// hold them) to figures, with one series per value of a `by` column and repeated rows (seeds)
// at one x summarised as mean ± sd or ± se.

extension Figure {
    /// Lines with markers of `y` against `x`, one per value of `by`; rows sharing an x (seeds)
    /// become their mean with error bars (or a band), and the legend states n.
    ///
    ///     try Figure.line(rows: t, x: "keep", y: "acc", by: "method", logX: true)
    public static func line(rows: [String: PlotColumn], x: String, y: String, by: String? = nil,
                            err: Dispersion = .sd, errorStyle: ErrorStyle = .bars, markers: Bool? = nil,
                            logX: Bool = false, logY: Bool = false, title: String? = nil,
                            xLabel: String? = nil, yLabel: String? = nil) throws -> Figure {
        var panel = try linePanel(rows: rows, x: x, y: y, by: by, err: err, errorStyle: errorStyle, markers: markers,
                                  logX: logX, logY: logY)
        panel.title = title
        if let xLabel { panel.x.label = xLabel }
        if let yLabel { panel.y.label = yLabel }
        return Figure(panel)
    }

    /// Training curves: one panel per column in `y` (loss, accuracy, …) against `x` (step or
    /// epoch), side by side, one series per value of `by`, seeds as mean ± sd bands.
    ///
    ///     try Figure.curves(rows: history, x: "epoch", y: ["loss", "acc"])
    public static func curves(rows: [String: PlotColumn], x: String, y: [String], by: String? = nil,
                              err: Dispersion = .sd, logY: Bool = false, title: String? = nil,
                              xLabel: String? = nil) throws -> Figure {
        guard !y.isEmpty else { throw PlotError("curves needs at least one y column") }
        var panels: [Panel] = []
        for (i, column) in y.enumerated() {
            var p = try linePanel(rows: rows, x: x, y: column, by: by, err: err, errorStyle: .band, markers: nil,
                                  logX: false, logY: logY)
            if let xLabel { p.x.label = xLabel }
            // One legend is enough when every panel shows the same series.
            if i > 0 { p.legend = .none }
            panels.append(p)
        }
        let cols = Swift.min(panels.count, 3)
        var fig = try grid(panels, rows: (panels.count + cols - 1) / cols, cols: cols)
        fig.title = title
        if title != nil { fig.height += 0.25 }
        return fig
    }

    /// The panel behind `line` and `curves`.
    static func linePanel(rows: [String: PlotColumn], x: String, y: String, by: String?, err: Dispersion,
                          errorStyle: ErrorStyle, markers: Bool?, logX: Bool, logY: Bool) throws -> Panel {
        let n = try Stats.rowCount(rows, [x, y] + (by.map { [$0] } ?? []))
        let xs = try Stats.numbers(rows, x, count: n), ys = try Stats.numbers(rows, y, count: n)
        try checkLog(logX, xs, x, "x")
        try checkLog(logY, ys, y, "y")
        var panel = Panel()
        panel.x = Axis(label: x, scale: logX ? .log : .linear)
        panel.y = Axis(label: y, scale: logY ? .log : .linear)
        var aggregated = false
        for (k, g) in try Stats.groups(rows, by: by, count: n).enumerated() {
            let points = Stats.aggregate(x: g.rows.map { xs[$0] }, y: g.rows.map { ys[$0] })
            guard !points.isEmpty else { continue }
            let suffix = Stats.countSuffix(points)
            var label = by == nil ? "" : g.label + suffix
            var s = LineSeries(label: label, x: points.map(\.x), y: points.map(\.summary.mean), style: k)
            if err != .none && !suffix.isEmpty {
                aggregated = true
                s.lower = points.map { $0.summary.mean - $0.summary.spread(err) }
                s.upper = points.map { $0.summary.mean + $0.summary.spread(err) }
                if by == nil { label = "mean ± \(err.rawValue)" + suffix }
            } else if by == nil && !suffix.isEmpty {
                label = "mean" + suffix
            }
            s.label = label
            s.errorStyle = errorStyle
            s.markers = markers ?? (points.count <= 30)
            panel.marks.append(.line(s))
        }
        guard !panel.marks.isEmpty else { throw PlotError("column '\(y)' has no finite values to plot against '\(x)'") }
        if let by { panel.legendTitle = aggregated ? "\(by) (mean ± \(err.rawValue))" : by }
        return panel
    }

    /// Lays panels out in a grid sized for it: 6.4 × 4.8 in for one panel, wider and shorter
    /// rows for several (two side by side are 6.8 × 3 in, as in a paper's column).
    static func grid(_ panels: [Panel], rows: Int, cols: Int) throws -> Figure {
        guard !panels.isEmpty else { throw PlotError("a figure needs at least one panel") }
        guard rows >= 1, cols >= 1, rows * cols >= panels.count else {
            throw PlotError("a \(rows)×\(cols) grid has no room for \(panels.count) panels")
        }
        var fig = Figure(panels: panels, rows: rows, cols: cols)
        if panels.count > 1 {
            fig.width = Swift.min(12.8, Swift.max(6.4, 3.4 * Double(cols)))
            fig.height = Swift.min(12, Swift.max(3.0, 2.9 * Double(rows)))
        }
        return fig
    }

    /// Several figures' panels in one figure, filled row by row.
    ///
    ///     try Figure.panels([curves, sparsity], rows: 1, cols: 2)
    /// The most panels one figure may hold.
    public static let maxPanels = 400

    public static func panels(_ figures: [Figure], rows: Int? = nil, cols: Int? = nil, title: String? = nil) throws -> Figure {
        var all: [Panel] = []
        for f in figures {
            for var p in f.panels {
                if f.panels.count == 1, p.title == nil { p.title = f.title }
                all.append(p)
            }
        }
        guard !all.isEmpty else { throw PlotError("panels needs at least one figure") }
        // Panels of panels double with each nesting; a figure past this is no longer readable.
        guard all.count <= maxPanels else { throw PlotError("panels: \(all.count) panels, more than the \(maxPanels) one figure may have") }
        if let r = rows, r < 1 { throw PlotError("rows must be at least 1, got \(r)") }
        if let c = cols, c < 1 { throw PlotError("cols must be at least 1, got \(c)") }
        let c = cols ?? rows.map { ($0 + all.count - 1) / $0 } ?? Swift.min(all.count, 3)
        let r = rows ?? (all.count + c - 1) / c
        var fig = try grid(all, rows: r, cols: c)
        fig.title = title
        if title != nil { fig.height += 0.25 }
        return fig
    }

    /// Throws unless every finite value can be shown on a log axis.
    static func checkLog(_ log: Bool, _ values: [Double], _ column: String, _ axis: String) throws {
        guard log, let bad = values.first(where: { $0.isFinite && $0 <= 0 }) else { return }
        throw PlotError("log \(axis) axis: column '\(column)' has a non-positive value (\(Ticks.format(bad)))")
    }
}
