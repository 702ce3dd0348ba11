// Builders for matrices and images: a heatmap with a colour bar (masks, weight matrices) and a
// grid of grayscale images with captions (inputs, filters, saliency maps).

extension Figure {
    /// A `rows`×`cols` matrix (row-major) as coloured cells with a colour bar; signed data gets a
    /// diverging map centred on zero unless `colormap` says otherwise. A matrix of only 0 and 1
    /// (a mask of a weight [out, in]) is drawn in two colours with a legend of kept and pruned
    /// shares instead of a colour bar, its axes named "input unit" and "output unit" (`binary`
    /// nil decides from the data, unless a colour map other than gray is asked for).
    ///
    ///     try Figure.heatmap(matrix: mask, rows: 100, cols: 300, title: "fc2 mask")
    public static func heatmap(matrix: [Float], rows: Int, cols: Int, colormap: Colormap = .auto,
                               range: ClosedRange<Double>? = nil, binary: Bool? = nil, title: String? = nil,
                               xLabel: String? = nil, yLabel: String? = nil, colorLabel: String? = nil) throws -> Figure {
        guard rows > 0, cols > 0 else { throw PlotError("heatmap: rows and cols must be positive, got \(rows)×\(cols)") }
        guard rows.multipliedReportingOverflow(by: cols).overflow == false, matrix.count == rows * cols else {
            throw PlotError("heatmap: \(matrix.count) values do not fill a \(rows)×\(cols) matrix")
        }
        let values = matrix.map(Double.init)
        let zeroOne = values.allSatisfy { $0 == 0 || $0 == 1 }
        if binary == true && !zeroOne {
            let bad = values.first { $0 != 0 && $0 != 1 } ?? .nan
            throw PlotError("heatmap: binary needs a matrix of 0 and 1 only, found \(Ticks.format(bad))")
        }
        let twoColours = binary ?? (zeroOne && (colormap == .auto || colormap == .gray || colormap == .binary))
        guard let scale = try colorRange(values, range: twoColours ? 0...1 : range, colormap: twoColours ? .binary : colormap) else {
            throw PlotError("heatmap: the matrix has no finite values")
        }
        let (lo, hi, map) = scale
        var panel = Panel(title: title)
        panel.x = Axis(label: xLabel ?? (twoColours ? "input unit" : "column"))
        panel.y = Axis(label: yLabel ?? (twoColours ? "output unit" : "row"))
        panel.x.integerTicks = true; panel.y.integerTicks = true
        panel.y.inverted = true
        panel.grid = false
        panel.legend = .none
        // Square cells unless that would squash the matrix into a sliver.
        let ratio = Double(Swift.max(rows, cols)) / Double(Swift.min(rows, cols))
        panel.equalAspect = ratio <= 3
        panel.marks = [.heatmap(HeatmapData(values: values, rows: rows, cols: cols, colormap: map, low: lo, high: hi,
                                            colorBar: !twoColours, colorLabel: colorLabel))]
        if twoColours {
            let kept = values.filter { $0 == 1 }.count
            func share(_ n: Int) -> String { Ticks.fixed(100 * Double(n) / Double(values.count), 1) + " %" }
            panel.marks.append(.key(LegendKey(label: "kept (\(share(kept)))", color: Palette.kept)))
            panel.marks.append(.key(LegendKey(label: "pruned (\(share(values.count - kept)))", color: Palette.pruned)))
            // Beside the matrix: every corner inside would hide cells.
            panel.legend = .outsideRight
        }
        return Figure(panel)
    }

    /// The value range and colour map for `values`: the given range, else symmetric about zero
    /// for signed data under a diverging map, else min…max. Nil when nothing is finite.
    static func colorRange(_ values: [Double], range: ClosedRange<Double>?, colormap: Colormap) throws
        -> (Double, Double, Colormap)? {
        if let r = range, !(r.lowerBound.isFinite && r.upperBound.isFinite) { throw PlotError("the colour range must be finite") }
        let finite = values.filter { $0.isFinite }
        guard let lo = finite.min(), let hi = finite.max() else { return nil }
        let signed = lo < 0 && hi > 0
        let map: Colormap = colormap == .auto ? (signed ? .diverging : .viridis) : colormap
        if let r = range { return (r.lowerBound, r.upperBound, map) }
        if map == .diverging {
            let m = Swift.max(abs(lo), abs(hi))
            return m > 0 ? (-m, m, map) : (-1, 1, map)
        }
        return lo < hi ? (lo, hi, map) : (lo - 0.5, hi + 0.5, map)
    }

    /// Grayscale images (each `width`×`height`, row-major) in a grid with optional captions.
    /// Values in 0…1 are shown as they are; other data is scaled from its overall min to max.
    ///
    ///     try Figure.images(samples, width: 28, height: 28, captions: ["shirt", "bag"])
    public static func images(_ images: [[Float]], width: Int, height: Int, captions: [String] = [],
                              cols: Int? = nil, range: ClosedRange<Double>? = nil, colormap: Colormap = .gray,
                              title: String? = nil) throws -> Figure {
        guard !images.isEmpty else { throw PlotError("images: no images to show") }
        guard width > 0, height > 0, width <= 10_000, height <= 10_000 else {
            throw PlotError("images: width and height must be positive, got \(width)×\(height)")
        }
        for (i, im) in images.enumerated() where im.count != width * height {
            throw PlotError("images: image \(i) has \(im.count) values, expected \(width)×\(height) = \(width * height)")
        }
        guard captions.isEmpty || captions.count == images.count else {
            throw PlotError("images: \(captions.count) captions for \(images.count) images")
        }
        if let c = cols, c < 1 { throw PlotError("images: cols must be at least 1, got \(c)") }
        let all = images.flatMap { $0.map(Double.init) }
        let finite = all.filter { $0.isFinite }
        guard let lo0 = finite.min(), let hi0 = finite.max() else { throw PlotError("images: no finite pixel values") }
        let unit = lo0 >= 0 && hi0 <= 1
        guard let scale = try colorRange(all, range: range ?? (unit ? 0...1 : nil),
                                         colormap: colormap == .auto ? .gray : colormap) else {
            throw PlotError("images: no finite pixel values")
        }
        let (lo, hi, map) = scale
        let n = images.count
        var c = Swift.min(n, cols ?? plotInt((Double(n) * 2).squareRoot().rounded(.up)))
        let r = (n + c - 1) / c
        if cols == nil { c = (n + r - 1) / r }
        let panels: [Panel] = images.enumerated().map { i, im in
            var p = Panel(title: captions.isEmpty ? nil : captions[i])
            p.x.hidden = true; p.y.hidden = true
            p.y.inverted = true
            p.grid = false; p.legend = .none; p.equalAspect = true
            p.marks = [.heatmap(HeatmapData(values: im.map(Double.init), rows: height, cols: width, colormap: map,
                                            low: lo, high: hi, colorBar: false, colorLabel: nil))]
            return p
        }
        var fig = Figure(panels: panels, rows: r, cols: c)
        // Size the page to the grid so that images fill it: cells as wide as 6.4 in allows (at
        // most 1.6 in each), as tall as the images' aspect, plus room for captions and title.
        let cellW = Swift.min(1.6, 6.4 / Double(c))
        let caption = captions.isEmpty ? 0.08 : 0.24
        fig.width = cellW * Double(c) + 0.12
        fig.height = Double(r) * (cellW * Double(height) / Double(width) + caption) + 0.12 + (title == nil ? 0 : 0.3)
        fig.title = title
        return fig
    }
}
