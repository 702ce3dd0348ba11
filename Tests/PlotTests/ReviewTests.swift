// Figures a reviewer accepts: baselines, ticks at the data, error bars side by side, shared y
// axes, histograms of unequal groups, masks in two colours, kept/pruned scatter clouds with the
// threshold, training curves in words, and text readable when a wide figure is shrunk.
import Testing
import CCairo
@testable import Plot

@Suite struct ReviewTests {
    func layout(_ fig: Figure) throws -> FigureLayout { try #require(Layout.measure(fig)) }

    func sweep(keeps: [Double] = [0.5, 0.1, 0.03, 0.01], methods: Int = 3) -> [String: PlotColumn] {
        var keep: [Double] = [], acc: [Double] = [], method: [String] = []
        for m in 0..<methods { for k in keeps { for s in 0..<3 {
            keep.append(k); method.append("m\(m)"); acc.append(0.8 + k / 10 + Double(s) / 100 + Double(m) / 50)
        } } }
        return ["keep": .numbers(keep), "acc": .numbers(acc), "method": .strings(method)]
    }

    @Test func baselineIsADashedLineInTheLegendAndTheRange() throws {
        let fig = try Figure.line(rows: sweep(), x: "keep", y: "acc", by: "method", logX: true,
                                  references: [ReferenceLine(value: 0.99, label: "dense (0.99)")])
        let p = try layout(fig).panels[0]
        // 0.99 is above every mean; the axis grows to show it.
        #expect(p.y.hi > 0.99)
        #expect(p.panel.legendEntries.map(\.label).last == "dense (0.99)")
        // Drawn: the row of the baseline is dark across the plot.
        let svg = String(decoding: try fig.encoded(as: .svg, timestamp: false), as: UTF8.self)
        #expect(svg.contains("stroke-dasharray"))
        #expect(throws: PlotError.self) {
            try Figure.line(rows: sweep(), x: "keep", y: "acc", logY: true, references: [ReferenceLine(value: -1, label: "b")])
        }
        #expect(throws: PlotError.self) {
            try Figure.line(rows: sweep(), x: "keep", y: "acc", references: [ReferenceLine(value: .nan, label: "b")])
        }
    }

    @Test func fewXValuesGetTicksAtTheData() throws {
        let p = try layout(try Figure.line(rows: sweep(), x: "keep", y: "acc", by: "method", logX: true)).panels[0]
        #expect(p.x.major == [0.01, 0.03, 0.1, 0.5])
        #expect(p.x.labels == ["0.01", "0.03", "0.1", "0.5"])
        // Many x values: automatic ticks, not one per value.
        let many = (1...30).map { Double($0) / 31 }
        let q = try layout(try Figure.line(rows: ["x": .numbers(many), "y": .numbers(many)], x: "x", y: "y")).panels[0]
        #expect(q.x.major.count < 30)
        #expect(q.panel.x.ticks.isEmpty)
    }

    @Test func wholeNumberXGetsWholeNumberTicks() throws {
        for n in [3, 12, 40] {
            let e = (1...n).map(Double.init)
            let p = try layout(try Figure.line(rows: ["epoch": .numbers(e), "loss": .numbers(e.map { 1 / $0 })],
                                               x: "epoch", y: "loss")).panels[0]
            #expect(p.x.major.allSatisfy { $0 == $0.rounded() }, "\(n) epochs: \(p.x.major)")
            #expect(!p.x.labels.contains { $0.contains(".") })
        }
    }

    @Test func errorBarsOfSeveralSeriesSitSideBySide() throws {
        let p = try layout(try Figure.line(rows: sweep(), x: "keep", y: "acc", by: "method", logX: true)).panels[0]
        let d = Marks.dodges(p)
        #expect(d.count == 3)
        let offsets = d.keys.sorted().compactMap { d[$0] }
        #expect(Set(offsets).count == 3)
        #expect(abs(offsets.reduce(0, +)) < 1e-9)
        // No overlap: neighbouring bars at least a cap apart, all within a third of the x spacing.
        #expect(zip(offsets, offsets.dropFirst()).allSatisfy { $1 - $0 >= 2 * Marks.capWidth - 1e-9 || $1 - $0 >= 1 })
        let gap = p.point(0.03, 0).x - p.point(0.01, 0).x
        #expect((offsets.max() ?? 0) - (offsets.min() ?? 0) <= gap / 3 + 1e-9)
        // One series, or bands: nothing moves.
        #expect(Marks.dodges(try layout(try Figure.line(rows: sweep(methods: 1), x: "keep", y: "acc", by: "method")).panels[0]).isEmpty)
        #expect(Marks.dodges(try layout(try Figure.line(rows: sweep(), x: "keep", y: "acc", by: "method", errorStyle: .band)).panels[0]).isEmpty)
    }

    @Test func panelsShareYOnRequest() throws {
        let low = try Figure.line(rows: ["x": .numbers([1, 2]), "y": .numbers([0.1, 0.2])], x: "x", y: "y")
        let high = try Figure.line(rows: ["x": .numbers([1, 2]), "y": .numbers([0.8, 0.9])], x: "x", y: "y")
        let apart = try layout(try Figure.panels([low, high])).panels
        #expect(apart[0].y.hi < apart[1].y.lo)
        let shared = try layout(try Figure.panels([low, high], sharey: true)).panels
        #expect(shared[0].y.lo == shared[1].y.lo && shared[0].y.hi == shared[1].y.hi)
        #expect(shared[0].y.lo < 0.1 && shared[0].y.hi > 0.9)
        let mask = try Figure.heatmap(matrix: [0, 1, 1, 0], rows: 2, cols: 2)
        #expect(throws: PlotError("sharey: panel 2 is a matrix or image, whose y axis is rows, not values")) {
            try Figure.panels([low, mask], sharey: true)
        }
        let logged = try Figure.line(rows: ["x": .numbers([1, 2]), "y": .numbers([0.1, 0.2])], x: "x", y: "y", logY: true)
        #expect(throws: PlotError.self) { try Figure.panels([low, logged], sharey: true) }
    }

    @Test func unevenGroupsBecomeDensitiesOrRows() throws {
        let big = (0..<1000).map { Double($0 % 100) / 100 }, small = (0..<50).map { Double($0) / 50 }
        let auto = try Figure.histogram([("dense", big), ("kept", small)], bins: 10)
        #expect(auto.panels[0].y.label == "density")
        #expect(auto.panels[0].legendEntries.map(\.label) == ["dense (n=1,000)", "kept (n=50)"])
        for case .histogram(let h) in auto.panels[0].marks {
            let area = zip(h.counts, zip(h.edges, h.edges.dropFirst())).reduce(0) { $0 + $1.0 * ($1.1.1 - $1.1.0) }
            #expect(abs(area - 1) < 1e-9)
        }
        #expect(try Figure.histogram([("dense", big), ("kept", small)], density: false).panels[0].y.label == "count")
        #expect(try Figure.histogram([("a", big), ("b", big)]).panels[0].y.label == "count")
        let rows = try Figure.histogram([("dense", big), ("kept", small)], bins: 10, stack: true, xLabel: "weight")
        #expect(rows.panels.count == 2 && rows.rows == 2 && rows.cols == 1)
        #expect(rows.panels.map(\.title) == ["dense (n=1,000)", "kept (n=50)"])
        #expect(rows.panels.map(\.x.label) == [nil, "weight"])
        let l = try layout(rows).panels
        #expect(l[0].x.lo == l[1].x.lo && l[0].x.hi == l[1].x.hi)
    }

    @Test func binaryMaskHasTwoColoursAndNamedUnits() throws {
        var m = [Float](repeating: 0, count: 20 * 30)
        for i in Swift.stride(from: 0, to: m.count, by: 10) { m[i] = 1 }
        let fig = try Figure.heatmap(matrix: m, rows: 20, cols: 30, title: "mask")
        let p = try layout(fig).panels[0]
        #expect(p.colorBar == nil)
        #expect(p.panel.legendEntries.map(\.label) == ["kept (10.0 %)", "pruned (90.0 %)"])
        #expect(p.panel.x.label == "input unit" && p.panel.y.label == "output unit")
        #expect(p.legendRect != nil)
        let png = try Golden.scratch() + "/mask.png"
        try fig.write(to: png, dpi: 60, timestamp: false)
        let image = try PNGFile(png)
        func count(_ c: Color) -> Int {
            let want = [c.r, c.g, c.b].map { UInt8(($0 * 255).rounded()) }
            return (0..<(image.width * image.height)).filter { i in (0..<3).allSatisfy { image.pixels[i * image.channels + $0] == want[$0] } }.count
        }
        #expect(count(Palette.kept) > 20 && count(Palette.pruned) > 200)
        // Other data, or another colour map asked for, keeps the colour bar.
        #expect(try layout(try Figure.heatmap(matrix: m.map { $0 * 2 }, rows: 20, cols: 30)).panels[0].colorBar != nil)
        #expect(try layout(try Figure.heatmap(matrix: m, rows: 20, cols: 30, colormap: .viridis)).panels[0].colorBar != nil)
        #expect(throws: PlotError("heatmap: binary needs a matrix of 0 and 1 only, found 2")) {
            try Figure.heatmap(matrix: [0, 2], rows: 1, cols: 2, binary: true)
        }
    }

    @Test func scatterSplitsKeptAndPrunedAndDrawsTheThreshold() throws {
        let fig = try Samples.scatterMask()
        let marks = fig.panels[0].marks
        let clouds = marks.compactMap { m -> ScatterSeries? in if case .scatter(let s) = m { return s } else { return nil } }
        #expect(clouds.map(\.label) == ["pruned (n=2,700)", "kept (n=300)"])
        #expect(clouds.map(\.color) == [Figure.pruneGrey, nil] && clouds[1].style == 0)
        #expect(clouds[1].alpha > clouds[0].alpha)
        #expect(marks.contains { if case .reference(let r) = $0 { return r.label == "threshold" } else { return false } })
        #expect(throws: PlotError("scatter: the mask has 2 values but x has 3")) {
            try Figure.scatter(x: [1, 2, 3], y: [1, 2, 3], kept: [true, false])
        }
    }

    @Test func curvesPutTrainAndValidationTogetherInWords() throws {
        let e: [Double] = [1, 2, 3, 4, 5]
        let rows: [String: PlotColumn] = ["epoch": .numbers(e), "loss": .numbers([1, 0.6, 0.4, 0.3, 0.25]),
                                          "acc": .numbers([0.6, 0.7, 0.8, 0.85, 0.9]), "val_acc": .numbers([0.55, 0.65, 0.7, 0.72, 0.71])]
        let fig = try Figure.curves(rows: rows, x: "epoch", groups: [["loss"], ["acc", "val_acc"]])
        #expect(fig.panels.count == 2)
        #expect(fig.panels.map(\.y.label) == ["loss", "accuracy"])
        #expect(fig.panels[1].legendEntries.map(\.label) == ["train", "validation"])
        let l = try layout(fig)
        #expect(l.panels[1].x.major == e)
        #expect(l.panels[1].legend != nil)
        // With by, each run's train and validation curves.
        var long = rows
        long["epoch"] = .numbers(e + e); long["loss"] = .numbers([1, 0.6, 0.4, 0.3, 0.25] + [1, 0.6, 0.4, 0.3, 0.25])
        long["acc"] = .numbers([0.6, 0.7, 0.8, 0.85, 0.9] + [0.6, 0.7, 0.8, 0.85, 0.9])
        long["val_acc"] = .numbers([0.55, 0.65, 0.7, 0.72, 0.71] + [0.55, 0.65, 0.7, 0.72, 0.71])
        long["opt"] = .strings(Array(repeating: "sgd", count: 5) + Array(repeating: "adam", count: 5))
        let by = try Figure.curves(rows: long, x: "epoch", groups: [["acc", "val_acc"]], by: "opt")
        #expect(by.panels[0].legendEntries.map(\.label) == ["sgd · train", "adam · train", "sgd · validation", "adam · validation"])
    }

    @Test func wideFiguresDrawLargerText() throws {
        var narrow = try Figure.line(rows: sweep(), x: "keep", y: "acc")
        #expect(try layout(narrow).fonts.tick.size == 9)
        narrow.width = 12
        let wide = try layout(narrow).fonts.tick.size
        // Shrunk to an 8-inch column, the wide figure's tick labels are as large as a 9 pt label.
        #expect(abs(wide * Figure.readableWidth / 12 - 9) < 0.6)
        narrow.width = 60
        #expect(try layout(narrow).fonts.label.size == 20)
    }

    /// A panel title or x label longer than its panel's cell (two panels side by side) shrinks,
    /// to 80% at the least, and moves to stay inside the cell; text that fits is left alone.
    @Test func longPanelTextStaysInsideItsCell() throws {
        let surface = try #require(cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 1, 1))
        defer { cairo_surface_destroy(surface) }
        let cr = try #require(cairo_create(surface))
        defer { cairo_destroy(cr) }
        let canvas = CairoCanvas(cr)
        let m = Metrics(10), font = Font(size: 11)
        let cell = Rect(x: 0, y: 0, w: 200, h: 150)
        let long = "MiniLM, 408 labels, no distillation (dense 0.763, probe 0.735)"
        // The plot's centre sits right of the cell's (room for the y axis on the left).
        let (f, x) = Renderer.fitted(canvas, long, font, centre: 120, in: cell, m: m)
        let width = canvas.measure(long, f).width
        #expect(f.size < font.size && f.size >= 0.8 * font.size)
        #expect(x - width / 2 >= cell.x + m.edge - 1e-9 || width > cell.w - 2 * m.edge)
        #expect(x + width / 2 <= cell.x + cell.w - m.edge + 1e-9 || width > cell.w - 2 * m.edge)
        let (g, y) = Renderer.fitted(canvas, "keep", font, centre: 120, in: cell, m: m)
        #expect(g == font && y == 120)
        // Short enough to fit, but centred so that it would stick out: only moved.
        let mid = "fraction of the weights kept"
        let (h, z) = Renderer.fitted(canvas, mid, font, centre: 190, in: cell, m: m)
        #expect(h == font)
        #expect(z + canvas.measure(mid, font).width / 2 <= cell.x + cell.w - m.edge + 1e-9)
    }
}
