// Builders for the other plot kinds: bars over categories, overlaid histograms on shared bins,
// scatter clouds, heatmaps of matrices with a colour bar, and grids of grayscale images.

extension Figure {
    /// Bars of `y` per category in `x` (grouped side by side by `by`); repeated rows become
    /// their mean with error bars.
    ///
    ///     try Figure.bar(rows: report, x: "layer", y: "sparsity", by: "method")
    public static func bar(rows: [String: PlotColumn], x: String, y: String, by: String? = nil,
                           err: Dispersion = .sd, logY: Bool = false, title: String? = nil,
                           xLabel: String? = nil, yLabel: String? = nil) throws -> Figure {
        let n = try Stats.rowCount(rows, [x, y] + (by.map { [$0] } ?? []))
        let ys = try Stats.numbers(rows, y, count: n)
        try checkLog(logY, ys, y, "y")
        // Categories keep the table's order (layers in network order); numbers sort.
        let categories = try Stats.groups(rows, by: x, count: n)
        var category = [Int](repeating: 0, count: n)
        for (i, c) in categories.enumerated() { for r in c.rows { category[r] = i } }
        var panel = Panel(title: title)
        panel.x = Axis(label: xLabel ?? x)
        panel.x.categories = categories.map(\.label)
        panel.y = Axis(label: yLabel ?? y, scale: logY ? .log : .linear)
        var aggregated = false
        for (k, g) in try Stats.groups(rows, by: by, count: n).enumerated() {
            var perCategory = [[Double]](repeating: [], count: categories.count)
            for r in g.rows { perCategory[category[r]].append(ys[r]) }
            let summaries = perCategory.map { Summary($0) }
            guard summaries.contains(where: { $0 != nil }) else { continue }
            let points = summaries.compactMap { $0 }.map { AggregatedPoint(x: 0, summary: $0) }
            let suffix = Stats.countSuffix(points)
            var s = BarSeries(label: by == nil ? "" : g.label + suffix, values: summaries.map { $0?.mean ?? .nan }, style: k)
            if err != .none && !suffix.isEmpty {
                aggregated = true
                s.lower = summaries.map { $0.map { $0.mean - $0.spread(err) } ?? .nan }
                s.upper = summaries.map { $0.map { $0.mean + $0.spread(err) } ?? .nan }
            }
            panel.marks.append(.bar(s))
        }
        guard !panel.marks.isEmpty else { throw PlotError("column '\(y)' has no finite values to plot") }
        if let by { panel.legendTitle = aggregated ? "\(by) (mean ± \(err.rawValue))" : by }
        return Figure(panel)
    }

    /// One bar per label.
    ///
    ///     try Figure.bar(labels: ["fc1", "fc2", "fc3"], values: [0.9, 0.8, 0.5], yLabel: "sparsity")
    public static func bar(labels: [String], values: [Double], title: String? = nil,
                           xLabel: String? = nil, yLabel: String? = nil) throws -> Figure {
        guard labels.count == values.count else {
            throw PlotError("bar: \(labels.count) labels but \(values.count) values")
        }
        return try bar(rows: ["label": .strings(labels), "value": .numbers(values)], x: "label", y: "value",
                       err: .none, title: title, xLabel: xLabel ?? "", yLabel: yLabel ?? "")
    }

    /// Histograms of several groups of values on shared bins: overlaid and semi-transparent, or
    /// with `stack` one panel per group stacked in rows over the same x range. `density` nil
    /// chooses densities when the groups' sizes differ more than threefold (a dense layer
    /// against the 10 % a pruned one keeps), so that their shapes compare; several groups state
    /// their n in the legend.
    ///
    ///     try Figure.histogram([("before", w0), ("after", w1)], bins: 50, xLabel: "weight")
    public static func histogram(_ groups: [(label: String, values: [Double])], bins: Int? = nil,
                                 range: ClosedRange<Double>? = nil, density: Bool? = nil, stack: Bool = false,
                                 logY: Bool = false, title: String? = nil, xLabel: String? = nil,
                                 yLabel: String? = nil) throws -> Figure {
        let finite = groups.map { $0.values.filter { $0.isFinite } }
        guard let lo0 = finite.compactMap({ $0.min() }).min(), let hi0 = finite.compactMap({ $0.max() }).max() else {
            throw PlotError("histogram: no finite values to plot")
        }
        if let b = bins, b < 1 || b > 10_000 { throw PlotError("histogram: bins must be between 1 and 10000, got \(b)") }
        var lo = range?.lowerBound ?? lo0, hi = range?.upperBound ?? hi0
        guard lo.isFinite, hi.isFinite else { throw PlotError("histogram: the range must be finite") }
        if hi <= lo {
            // One value: a unit bin around it, or one relative to its size when ±0.5 is lost in
            // its rounding (1e20 ± 0.5 == 1e20).
            let pad = Swift.max(0.5, Swift.abs(lo) * 1e-6)
            lo -= pad; hi += pad
        }
        let largest = finite.map(\.count).max() ?? 1
        let count = bins ?? Swift.min(60, Swift.max(10, plotInt(Double(largest).squareRoot())))
        let width = (hi - lo) / Double(count)
        guard width.isFinite, width > 0, lo + width > lo else {
            throw PlotError("histogram: the range \(Ticks.format(lo))…\(Ticks.format(hi)) cannot be divided into \(count) bins")
        }
        let sizes = finite.map(\.count).filter { $0 > 0 }
        let uneven = (sizes.max() ?? 0) > 3 * (sizes.min() ?? 0)
        let asDensity = density ?? (groups.count > 1 && !stack && uneven)
        let edges = (0...count).map { lo + Double($0) * width }
        var panels: [Panel] = []
        for (k, values) in finite.enumerated() {
            var counts = [Double](repeating: 0, count: count)
            for v in values where v >= lo && v <= hi {
                counts[Swift.min(count - 1, plotInt((v - lo) / width))] += 1
            }
            if asDensity, !values.isEmpty { counts = counts.map { $0 / (Double(values.count) * width) } }
            let label = groups.count > 1 ? "\(groups[k].label) (n=\(Ticks.count(values.count)))" : groups[k].label
            if stack || panels.isEmpty {
                var panel = Panel(title: stack ? label : title)
                panel.x = Axis(label: xLabel ?? "value")
                panel.y = Axis(label: yLabel ?? (asDensity ? "density" : "count"), scale: logY ? .log : .linear)
                if stack { panel.legend = .none }
                panels.append(panel)
            }
            panels[panels.count - 1].marks.append(.histogram(HistogramSeries(label: stack ? "" : label, edges: edges,
                                                                              counts: counts, style: k)))
        }
        guard stack, panels.count > 1 else { return Figure(panels[0]) }
        // Rows over one x range; the x label once, under the bottom row.
        for i in panels.indices.dropLast() { panels[i].x.label = nil }
        var fig = Figure(panels: panels, rows: panels.count, cols: 1)
        fig.height = Swift.min(12, 0.6 + 1.7 * Double(panels.count))
        fig.title = title
        return fig
    }

    /// A histogram of one column, one overlaid group per value of `by`.
    public static func histogram(rows: [String: PlotColumn], x: String, by: String? = nil, bins: Int? = nil,
                                 density: Bool? = nil, logY: Bool = false, title: String? = nil,
                                 xLabel: String? = nil, yLabel: String? = nil) throws -> Figure {
        let n = try Stats.rowCount(rows, [x] + (by.map { [$0] } ?? []))
        let xs = try Stats.numbers(rows, x, count: n)
        let groups = try Stats.groups(rows, by: by, count: n).map { (label: $0.label, values: $0.rows.map { xs[$0] }) }
        var fig = try histogram(groups, bins: bins, density: density, logY: logY, title: title,
                                xLabel: xLabel ?? x, yLabel: yLabel)
        fig.panels[0].legendTitle = by
        return fig
    }

    /// Points of `y` against `x`, one colour per value of `by`; markers shrink and turn more
    /// transparent as the points grow in number, so that dense regions read as dark.
    ///
    ///     try Figure.scatter(rows: w, x: "weight", y: "score", alpha: 0.1)
    public static func scatter(rows: [String: PlotColumn], x: String, y: String, by: String? = nil,
                               logX: Bool = false, logY: Bool = false, size: Double? = nil, alpha: Double? = nil,
                               title: String? = nil, xLabel: String? = nil, yLabel: String? = nil) throws -> Figure {
        let n = try Stats.rowCount(rows, [x, y] + (by.map { [$0] } ?? []))
        let xs = try Stats.numbers(rows, x, count: n), ys = try Stats.numbers(rows, y, count: n)
        try checkLog(logX, xs, x, "x")
        try checkLog(logY, ys, y, "y")
        let shown = zip(xs, ys).filter { $0.0.isFinite && $0.1.isFinite }.count
        guard shown > 0 else { throw PlotError("scatter: no row has finite '\(x)' and '\(y)'") }
        if let a = alpha, !(a > 0 && a <= 1) { throw PlotError("scatter: alpha must be in (0, 1], got \(Ticks.format(a))") }
        if let s = size, !(s > 0 && s <= 50) { throw PlotError("scatter: size must be in (0, 50] points, got \(Ticks.format(s))") }
        let autoSize = shown <= 300 ? 4.5 : shown <= 3000 ? 3 : 1.6
        let autoAlpha = Swift.min(0.8, Swift.max(0.04, 25 / Double(shown).squareRoot()))
        var panel = Panel(title: title)
        panel.x = Axis(label: xLabel ?? x, scale: logX ? .log : .linear)
        panel.y = Axis(label: yLabel ?? y, scale: logY ? .log : .linear)
        for (k, g) in try Stats.groups(rows, by: by, count: n).enumerated() {
            panel.marks.append(.scatter(ScatterSeries(label: by == nil ? "" : g.label, x: g.rows.map { xs[$0] },
                                                      y: g.rows.map { ys[$0] }, style: k, size: size ?? autoSize,
                                                      alpha: alpha ?? autoAlpha)))
        }
        panel.legendTitle = by
        return Figure(panel)
    }

    /// Scatter of two arrays. With `kept` (a mask over the points), kept and pruned points get
    /// their own colours and counts, pruned drawn first in translucent grey; `references` are
    /// dashed lines such as the pruning threshold.
    ///
    ///     try Figure.scatter(x: w, y: scores, kept: mask, references: [ReferenceLine(value: t, label: "threshold")])
    public static func scatter(x: [Double], y: [Double], kept: [Bool]? = nil, references: [ReferenceLine] = [],
                               logX: Bool = false, logY: Bool = false, alpha: Double? = nil,
                               title: String? = nil, xLabel: String? = nil, yLabel: String? = nil) throws -> Figure {
        guard x.count == y.count else { throw PlotError("scatter: x has \(x.count) values but y has \(y.count)") }
        guard !x.isEmpty else { throw PlotError("scatter: no points to plot") }
        var fig: Figure
        if let kept {
            guard kept.count == x.count else { throw PlotError("scatter: the mask has \(kept.count) values but x has \(x.count)") }
            // Pruned rows first, so that the kept cloud is drawn on top.
            let order = kept.indices.filter { !kept[$0] } + kept.indices.filter { kept[$0] }
            let nKept = kept.filter { $0 }.count
            let names = ["pruned (n=\(Ticks.count(x.count - nKept)))", "kept (n=\(Ticks.count(nKept)))"]
            fig = try scatter(rows: ["x": .numbers(order.map { x[$0] }), "y": .numbers(order.map { y[$0] }),
                                     "status": .strings(order.map { names[kept[$0] ? 1 : 0] })],
                              x: "x", y: "y", by: "status", logX: logX, logY: logY, alpha: alpha,
                              title: title, xLabel: xLabel ?? "", yLabel: yLabel ?? "")
            fig.panels[0].legendTitle = nil
            for i in fig.panels[0].marks.indices {
                guard case .scatter(var s) = fig.panels[0].marks[i] else { continue }
                let isKept = s.label == names[1]
                s.style = isKept ? 0 : 1
                if !isKept { s.color = pruneGrey }
                // Each cloud translucent by its own size: the kept tenth would fade at the alpha
                // the whole cloud needs.
                if alpha == nil { s.alpha = Swift.min(0.8, Swift.max(0.04, 25 / Double(Swift.max(1, s.x.count)).squareRoot())) }
                fig.panels[0].marks[i] = .scatter(s)
            }
        } else {
            fig = try scatter(rows: ["x": .numbers(x), "y": .numbers(y)], x: "x", y: "y", logX: logX, logY: logY,
                              alpha: alpha, title: title, xLabel: xLabel ?? "", yLabel: yLabel ?? "")
        }
        for r in references {
            guard r.value.isFinite else { throw PlotError("scatter: the line '\(r.label)' is not at a finite value") }
            fig.panels[0].marks.append(.reference(r))
        }
        return fig
    }

    /// The grey of pruned points: even where thousands overlap, lighter than the kept colour.
    static let pruneGrey = Color(hex: 0xA0A0A0)
}
