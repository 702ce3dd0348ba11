// Builders for line plots and training curves: tables (columns by name, as the script's tables
// hold them) to figures, with one series per value of a `by` column and repeated rows (seeds)
// at one x summarised as mean ± sd or ± se.

extension Figure {
    /// Lines with markers of `y` against `x`, one per value of `by`; rows sharing an x (seeds)
    /// become their mean with error bars (or a band), and the legend states n. `references`
    /// are dashed lines across the plot (the dense model's accuracy as a baseline).
    ///
    ///     try Figure.line(rows: t, x: "keep", y: "acc", by: "method", logX: true,
    ///                     references: [ReferenceLine(value: 0.926, label: "dense (0.926)")])
    public static func line(rows: [String: PlotColumn], x: String, y: String, by: String? = nil,
                            err: Dispersion = .sd, errorStyle: ErrorStyle = .bars, markers: Bool? = nil,
                            logX: Bool = false, logY: Bool = false, title: String? = nil,
                            xLabel: String? = nil, yLabel: String? = nil, references: [ReferenceLine] = []) throws -> Figure {
        var panel = try linePanel(rows: rows, x: x, y: y, by: by, err: err, errorStyle: errorStyle, markers: markers,
                                  logX: logX, logY: logY)
        panel.title = title
        if let xLabel { panel.x.label = xLabel }
        if let yLabel { panel.y.label = yLabel }
        for r in references {
            guard r.value.isFinite else { throw PlotError("the reference line '\(r.label)' is not a finite number") }
            if (r.orientation == .horizontal ? logY : logX) && r.value <= 0 {
                throw PlotError("the reference line '\(r.label)' at \(Ticks.format(r.value)) cannot be shown on a log axis")
            }
            panel.marks.append(.reference(r))
        }
        return Figure(panel)
    }

    /// Training curves: one panel per group of columns in `y` against `x` (step or epoch), side
    /// by side. Columns grouped in one panel are its series ("train" and "validation" for acc and
    /// val_acc), times each value of `by`; seeds become mean ± sd bands.
    ///
    ///     try Figure.curves(rows: history, x: "epoch", groups: [["loss"], ["acc", "val_acc"]])
    public static func curves(rows: [String: PlotColumn], x: String, groups y: [[String]], by: String? = nil,
                              err: Dispersion = .sd, logY: Bool = false, title: String? = nil,
                              xLabel: String? = nil) throws -> Figure {
        let groups = y.filter { !$0.isEmpty }
        guard !groups.isEmpty else { throw PlotError("curves needs at least one y column") }
        var panels: [Panel] = []
        var shown: [Set<String>] = []
        for group in groups {
            var p: Panel
            if group.count == 1 {
                p = try linePanel(rows: rows, x: x, y: group[0], by: by, err: err, errorStyle: .band, markers: nil,
                                  logX: false, logY: logY)
            } else {
                let long = try stacked(rows, x: x, columns: group, by: by)
                p = try linePanel(rows: long, x: x, y: "value", by: "series", err: err, errorStyle: .band, markers: nil,
                                  logX: false, logY: logY)
                p.legendTitle = by
            }
            p.x.label = xLabel ?? readableName(x)
            p.y.label = quantity(group)
            // One legend is enough for the series every panel shows.
            let labels = Set(p.legendEntries.map(\.label))
            if shown.contains(where: { labels.isSubset(of: $0) }) { p.legend = .none } else if !labels.isEmpty { shown.append(labels) }
            panels.append(p)
        }
        let cols = Swift.min(panels.count, 3)
        var fig = try grid(panels, rows: (panels.count + cols - 1) / cols, cols: cols)
        fig.title = title
        if title != nil { fig.height += 0.25 }
        return fig
    }

    /// One panel per column: `curves` with every column on its own.
    public static func curves(rows: [String: PlotColumn], x: String, y: [String], by: String? = nil,
                              err: Dispersion = .sd, logY: Bool = false, title: String? = nil,
                              xLabel: String? = nil) throws -> Figure {
        try curves(rows: rows, x: x, groups: y.map { [$0] }, by: by, err: err, logY: logY, title: title, xLabel: xLabel)
    }

    /// Names a reader understands for the columns of train's history.
    static let readableNames = ["acc": "accuracy", "val_acc": "validation accuracy", "loss": "loss",
                                "val_loss": "validation loss", "lr": "learning rate", "changed": "mask entries changed"]

    /// The column's readable name, else the column itself.
    public static func readableName(_ column: String) -> String { readableNames[column] ?? column }

    /// What a panel of several columns shows on y: their shared quantity (acc and val_acc are
    /// both "accuracy"), else the columns' names.
    static func quantity(_ columns: [String]) -> String {
        if columns.count == 1 { return readableName(columns[0]) }
        let bare = columns.map { $0.hasPrefix("val_") ? String($0.dropFirst(4)) : $0 }
        if Set(bare).count == 1 { return readableName(bare[0]) }
        return columns.map(readableName).joined(separator: ", ")
    }

    /// The name of one column's series in a panel of several: "validation" for val_X, "train"
    /// for X when val_X is beside it, else its readable name; prefixed by the `by` value.
    static func role(_ column: String, among columns: [String]) -> String {
        if column.hasPrefix("val_"), columns.contains(String(column.dropFirst(4))) { return "validation" }
        if columns.contains("val_" + column) { return "train" }
        return readableName(column)
    }

    /// The columns of one panel in long form: x, value and series (role, or "by value · role").
    static func stacked(_ rows: [String: PlotColumn], x: String, columns: [String], by: String?) throws -> [String: PlotColumn] {
        let n = try Stats.rowCount(rows, [x] + columns + (by.map { [$0] } ?? []))
        let xs = try Stats.numbers(rows, x, count: n)
        var outX: [Double] = [], values: [Double] = [], series: [String] = []
        var groupOf = [String](repeating: "", count: n)
        for g in try Stats.groups(rows, by: by, count: n) { for r in g.rows { groupOf[r] = g.label } }
        for column in columns {
            let ys = try Stats.numbers(rows, column, count: n)
            let name = role(column, among: columns)
            for r in 0..<n where ys[r].isFinite {
                outX.append(xs[r]); values.append(ys[r])
                series.append(by == nil ? name : "\(groupOf[r]) · \(name)")
            }
        }
        return [x: .numbers(outX), "value": .numbers(values), "series": .strings(series)]
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
        // A few x values (keep fractions of a sweep, epochs) get a tick each, so that a reader
        // sees where the runs are; whole numbers (epochs, steps) never get fractional ticks.
        let distinct = Set(xs.filter { $0.isFinite && (!logX || $0 > 0) }).sorted()
        if distinct.count >= 2 && distinct.count <= maxDataTicks { panel.x.ticks = distinct }
        if !logX, !distinct.isEmpty, distinct.allSatisfy({ $0 == $0.rounded() }) { panel.x.integerTicks = true }
        return panel
    }

    /// At most this many distinct x values get ticks at the values themselves.
    public static let maxDataTicks = 8

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

    /// With `sharey`, every panel shows the same y range (the union of theirs), so that heights
    /// compare across panels.
    public static func panels(_ figures: [Figure], rows: Int? = nil, cols: Int? = nil, title: String? = nil,
                              sharey: Bool = false) throws -> Figure {
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
        if sharey { try shareY(&all) }
        let c = cols ?? rows.map { ($0 + all.count - 1) / $0 } ?? Swift.min(all.count, 3)
        let r = rows ?? (all.count + c - 1) / c
        var fig = try grid(all, rows: r, cols: c)
        fig.title = title
        if title != nil { fig.height += 0.25 }
        return fig
    }

    /// Sets every panel's y limits to the union of their ranges; panels must have numeric y axes
    /// of one scale (matrices and images have rows, not values).
    static func shareY(_ panels: inout [Panel]) throws {
        var lo = Double.infinity, hi = -Double.infinity
        for (i, p) in panels.enumerated() {
            if p.marks.contains(where: { if case .heatmap = $0 { return true } else { return false } }) {
                throw PlotError("sharey: panel \(i + 1) is a matrix or image, whose y axis is rows, not values")
            }
            if p.y.scale != panels[0].y.scale {
                throw PlotError("sharey: panel \(i + 1) has a \(p.y.scale.rawValue) y axis but panel 1 a \(panels[0].y.scale.rawValue) one")
            }
            let (a, b) = AxesLayout.range(p, horizontal: false)
            lo = Swift.min(lo, a); hi = Swift.max(hi, b)
        }
        for i in panels.indices { panels[i].y.min = lo; panels[i].y.max = hi }
    }

    /// Throws unless every finite value can be shown on a log axis.
    static func checkLog(_ log: Bool, _ values: [Double], _ column: String, _ axis: String) throws {
        guard log, let bad = values.first(where: { $0.isFinite && $0 <= 0 }) else { return }
        throw PlotError("log \(axis) axis: column '\(column)' has a non-positive value (\(Ticks.format(bad)))")
    }
}
