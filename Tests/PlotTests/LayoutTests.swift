// Layout: legends avoid the data, labels stay inside the page, panels line up.
import Testing
@testable import Plot

@Suite struct LayoutTests {
    func legendPosition(_ fig: Figure) throws -> LegendPosition {
        let layout = try #require(Layout.measure(fig))
        return layout.panels[0].legendPosition
    }

    /// Two series whose points fill the given quadrant of the plot.
    func clustered(upper: Bool, right: Bool) throws -> Figure {
        var x: [Double] = [], y: [Double] = [], g: [String] = []
        for s in 0..<2 {
            for i in 0..<8 {
                let t = Double(i) / 7
                x.append(right ? 0.6 + 0.4 * t : 0.4 * t)
                y.append(upper ? 0.7 + 0.3 * t - 0.1 * Double(s) : 0.3 * t + 0.1 * Double(s))
                g.append("series \(s)")
            }
        }
        // Anchor the axes to [0, 1] so the cluster sits in its corner.
        x += [0, 1]; y += [0, 1]; g += ["anchor", "anchor"]
        var fig = try Figure.line(rows: ["x": .numbers(x), "y": .numbers(y), "g": .strings(g)], x: "x", y: "y", by: "g")
        fig.panels[0].marks.removeLast()
        fig.panels[0].x.min = 0; fig.panels[0].x.max = 1
        fig.panels[0].y.min = 0; fig.panels[0].y.max = 1
        return fig
    }

    @Test func legendAvoidsDataInTheUpperRight() throws {
        let position = try legendPosition(clustered(upper: true, right: true))
        #expect(position != .upperRight && position != .none)
        #expect(try legendPosition(clustered(upper: false, right: false)) == .upperRight)
        #expect(try legendPosition(clustered(upper: true, right: false)) == .upperRight)
    }

    @Test func legendCoversNoDataInSamples() throws {
        for name in ["line", "band", "bar", "histogram", "curves"] {
            let fig = try Samples.figure(name)
            let layout = try #require(Layout.measure(fig))
            for p in layout.panels where p.legend != nil && p.legendPosition != .outsideRight {
                let box = try #require(p.legendRect)
                #expect(LegendBox.covered(box, p) == 0, "\(name): legend at \(p.legendPosition) hides data")
            }
        }
    }

    @Test func everythingFitsOnThePage() throws {
        for name in Samples.names {
            let layout = try #require(Layout.measure(try Samples.figure(name)))
            for p in layout.panels {
                #expect(p.plot.x > 0 && p.plot.y > 0, "\(name)")
                #expect(p.plot.maxX < layout.width && p.plot.maxY < layout.height, "\(name)")
                #expect(p.plot.w > 20 && p.plot.h > 20, "\(name): plot \(p.plot)")
            }
        }
    }

    @Test func axesInAGridColumnLineUp() throws {
        let layout = try #require(Layout.measure(try Samples.panels()))
        #expect(layout.panels[0].plot.x == layout.panels[2].plot.x)
        #expect(layout.panels[0].plot.y == layout.panels[1].plot.y)
    }

    @Test func longCategoryLabelsAreRotated() throws {
        let layout = try #require(Layout.measure(try Samples.bar()))
        #expect(layout.panels[0].x.angle > 0)
        let short = try Figure.bar(labels: ["a", "b", "c"], values: [1, 2, 3])
        #expect(try #require(Layout.measure(short)).panels[0].x.angle == 0)
    }
}
